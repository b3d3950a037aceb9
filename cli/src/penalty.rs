//! `casebridge penalty …` and `casebridge warning …`: penalty-case records (行政处罚案件信息录入),
//! their screening, and the early warning (移送预警) the procuratorate acts on
//! (docs/screening.md).

use casebridge_proto::v1 as pb;
use clap::Subcommand;

use crate::client::{self, Connection, enum_name};

/// The case as recorded: every field of a version.
#[derive(Debug, Clone, clap::Args)]
pub struct CaseArgs {
    /// The agency's case number (案件编号).
    #[arg(long)]
    pub case_number: String,
    /// The violation code of the threshold table, e.g. fake_or_substandard_product.
    #[arg(long)]
    pub violation: String,
    /// The legal basis of the penalty (处罚依据).
    #[arg(long)]
    pub legal_basis: String,
    /// A party penalised (当事人), as NAME or NAME:ID_NUMBER; repeat for each.
    #[arg(long = "party", value_name = "NAME[:ID_NUMBER]", required = true)]
    pub parties: Vec<String>,
    /// 销售金额 in yuan, e.g. 60000 or 60000.50.
    #[arg(long)]
    pub sales_amount: Option<String>,
    /// 货值金额 of the goods not yet sold, in yuan.
    #[arg(long)]
    pub goods_value: Option<String>,
    /// 违法所得 in yuan.
    #[arg(long)]
    pub illegal_gains: Option<String>,
    /// A quantity, as UNIT:VALUE (e.g. 千克:12.5); repeat for each unit.
    #[arg(long = "quantity", value_name = "UNIT:VALUE")]
    pub quantities: Vec<String>,
    /// The penalty decision's number (行政处罚决定书文号).
    #[arg(long)]
    pub decision_number: String,
    /// The decision's date, YYYY-MM-DD (China Standard Time).
    #[arg(long)]
    pub decided_on: String,
    /// What was imposed, in words (警告、罚款、没收违法所得 …).
    #[arg(long)]
    pub penalty: String,
    /// The fine in yuan, if one was imposed.
    #[arg(long)]
    pub fine: Option<String>,
    /// The SHA-256 of an evidence file uploaded with `casebridge evidence upload`; repeat.
    #[arg(long = "evidence", value_name = "SHA256")]
    pub evidence: Vec<String>,
}

impl CaseArgs {
    fn into_wire(self) -> anyhow::Result<pb::PenaltyCase> {
        let money = |yuan: Option<String>| yuan.map(|yuan| pb::Money { yuan });
        let quantities = self
            .quantities
            .iter()
            .map(|spec| {
                let (unit, value) = spec.split_once(':').ok_or_else(|| {
                    anyhow::anyhow!("--quantity {spec:?} must be UNIT:VALUE, e.g. 千克:12.5")
                })?;
                Ok(pb::Quantity {
                    unit: unit.to_owned(),
                    value: value.to_owned(),
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let parties = self
            .parties
            .iter()
            .map(|spec| {
                let (name, id_number) = spec.split_once(':').unwrap_or((spec, ""));
                pb::Party {
                    name: name.to_owned(),
                    id_number: id_number.to_owned(),
                }
            })
            .collect();
        Ok(pb::PenaltyCase {
            case_number: self.case_number,
            violation: self.violation,
            legal_basis: self.legal_basis,
            parties,
            measures: Some(pb::Measures {
                sales_amount: money(self.sales_amount),
                goods_value: money(self.goods_value),
                illegal_gains: money(self.illegal_gains),
                quantities,
            }),
            decision: Some(pb::PenaltyDecision {
                number: self.decision_number,
                decided_on: self.decided_on,
                penalty: self.penalty,
                fine: money(self.fine),
            }),
            evidence: self.evidence,
        })
    }
}

/// Options every step on a record takes.
#[derive(Debug, Clone, clap::Args)]
pub struct On {
    #[command(flatten)]
    pub connection: Connection,
    /// The record's id.
    pub record_id: String,
    /// Idempotency key; default a new random one. Reuse it to retry safely.
    #[arg(long)]
    pub request_id: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum PenaltyCommand {
    /// Record a case your agency closed with a penalty; it is screened against the thresholds.
    Record {
        #[command(flatten)]
        connection: Connection,
        #[command(flatten)]
        case: CaseArgs,
        /// The criminal referral you already made for the same matter: no warning opens.
        #[arg(long, default_value = "")]
        referral: String,
        #[arg(long)]
        request_id: Option<String>,
    },
    /// Correct a record with a new version (the earlier ones stay readable).
    Correct {
        #[command(flatten)]
        on: On,
        #[command(flatten)]
        case: CaseArgs,
        /// Why it is corrected (更正理由).
        #[arg(long)]
        reason: String,
    },
    /// Show a record with its versions, hits and warnings (parties only).
    Show {
        #[command(flatten)]
        connection: Connection,
        record_id: String,
    },
    /// List your records (for a procuratorate: the warnings raised to it).
    List {
        #[command(flatten)]
        connection: Connection,
        #[command(flatten)]
        paging: client::Paging,
    },
    /// Name the criminal referral you made for the same matter; it ends an open warning.
    LinkReferral {
        #[command(flatten)]
        on: On,
        #[arg(long)]
        referral: String,
    },
    /// Explain in writing why you do not refer, naming your recorded decision not to refer
    /// (`casebridge referral record-non-referral`).
    Explain {
        #[command(flatten)]
        on: On,
        #[arg(long)]
        non_referral: String,
        #[arg(long)]
        explanation: String,
        #[arg(long = "document", value_name = "KIND:TITLE[:SHA256]")]
        documents: Vec<String>,
    },
}

/// The grounds of 高检发释字〔2001〕4号 item 12.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Ground {
    /// （一）检察机关发现应当移送而不移送
    FoundNotReferred,
    /// （二）举报应当移送而不移送
    ReportedNotReferred,
    /// （三）隐匿、销毁涉案物品或者私分涉案财物
    ItemsConcealed,
    /// （四）以行政处罚代替刑事追究而不移送
    PenaltyInsteadOfProsecution,
}

#[derive(Debug, Subcommand)]
pub enum WarningCommand {
    /// The warnings raised to your procuratorate, or your agency's, newest change first.
    List {
        #[command(flatten)]
        connection: Connection,
        #[command(flatten)]
        paging: client::Paging,
    },
    /// The procuratorate's opinion that the case be referred (检察意见 / 建议移送).
    Suggest {
        #[command(flatten)]
        on: On,
        #[arg(long, value_enum, default_value = "penalty-instead-of-prosecution")]
        ground: Ground,
        #[arg(long)]
        reasons: String,
        #[arg(long = "document", value_name = "KIND:TITLE[:SHA256]")]
        documents: Vec<String>,
    },
    /// The procuratorate closes a raised warning, with its reasons.
    Close {
        #[command(flatten)]
        on: On,
        #[arg(long)]
        reasons: String,
    },
}

fn rid(given: Option<String>) -> String {
    given.unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// The threshold table a version was last screened under: its version line and the start of
/// its digest (`2026-12 (sha256 0123456789ab)`), or `None` when not recorded.
pub fn screened_under(v: &pb::PenaltyVersion) -> Option<String> {
    let short = v
        .screened_under_digest
        .get(..12)
        .unwrap_or(&v.screened_under_digest);
    match (v.screened_under.as_str(), short) {
        ("", "") => None,
        ("", short) => Some(format!("sha256 {short}")),
        (version, "") => Some(version.to_owned()),
        (version, short) => Some(format!("{version} (sha256 {short})")),
    }
}

/// A one-screen description of a record.
pub fn describe(r: &pb::PenaltyRecord) -> String {
    let status = pb::PenaltyStatus::try_from(r.status)
        .map(|s| enum_name(s.as_str_name(), "PENALTY_STATUS_"))
        .unwrap_or_else(|_| "unknown".into());
    let mut text = format!(
        "penalty record {}\n  status:  {status} (version {})\n  agency:  {}\n",
        r.id, r.version, r.agency
    );
    if let Some(current) = r.versions.last().and_then(|v| v.case.as_ref()) {
        text.push_str(&format!(
            "  case:    {} ({})\n  versions: {}, the last in force\n",
            current.case_number,
            current.violation,
            r.versions.len()
        ));
    }
    if r.hits.is_empty() {
        text.push_str("  screening: no threshold met\n");
    }
    for hit in &r.hits {
        text.push_str(&format!("  meets:   {}\n", hit.description));
    }
    if let Some(table) = r.versions.last().and_then(screened_under) {
        text.push_str(&format!("  screened under: threshold table {table}\n"));
    }
    if !r.referral_id.is_empty() {
        text.push_str(&format!("  referral: {}\n", r.referral_id));
    }
    if let Some(w) = r.warnings.last() {
        text.push_str(&format!("  warning to {}", w.procuratorate));
        if let Some(due) = &w.answer_due {
            text.push_str(&format!("; answer due {}", crate::monitor::time_text(due)));
        }
        text.push('\n');
    }
    text.push_str(&client::history(&r.history));
    text
}

/// Shows the outcome of an accepted step.
fn accepted(result: pb::PenaltyResult) -> anyhow::Result<()> {
    client::replayed(result.replayed);
    client::receipt(result.receipt.as_ref())?;
    crate::output::show(&result, |r| {
        r.record.as_ref().map(describe).unwrap_or_default()
    })
}

async fn list(connection: Connection, paging: client::Paging) -> anyhow::Result<()> {
    let service = connection.connect().await?.penalties;
    let page = paging
        .fetch(|request| {
            let mut service = service.clone();
            async move { service.list_penalty_records(request).await }
        })
        .await?;
    crate::output::show(&page, client::listing)
}

pub async fn run(command: PenaltyCommand) -> anyhow::Result<()> {
    let fail = crate::client::rpc;
    let result = match command {
        PenaltyCommand::Show {
            connection,
            record_id,
        } => {
            let r = connection
                .connect()
                .await?
                .penalties
                .get_penalty_record(pb::GetPenaltyRecordRequest { record_id })
                .await
                .map_err(fail)?
                .into_inner();
            return crate::output::show(&r, describe);
        }
        PenaltyCommand::List { connection, paging } => return list(connection, paging).await,
        PenaltyCommand::Record {
            connection,
            case,
            referral,
            request_id,
        } => {
            let case = case.into_wire()?;
            let mut c = connection.connect().await?;
            c.penalties
                .record_penalty(pb::RecordPenaltyRequest {
                    request_id: rid(request_id),
                    case: Some(case),
                    referral_id: referral,
                })
                .await
        }
        PenaltyCommand::Correct { on, case, reason } => {
            let case = case.into_wire()?;
            let mut c = on.connection.connect().await?;
            c.penalties
                .correct_penalty(pb::CorrectPenaltyRequest {
                    request_id: rid(on.request_id),
                    record_id: on.record_id,
                    case: Some(case),
                    reason,
                })
                .await
        }
        PenaltyCommand::LinkReferral { on, referral } => {
            let mut c = on.connection.connect().await?;
            c.penalties
                .link_referral(pb::LinkReferralRequest {
                    request_id: rid(on.request_id),
                    record_id: on.record_id,
                    referral_id: referral,
                })
                .await
        }
        PenaltyCommand::Explain {
            on,
            non_referral,
            explanation,
            documents,
        } => {
            let documents = client::documents(&documents)?;
            let mut c = on.connection.connect().await?;
            c.penalties
                .explain_non_referral(pb::ExplainNonReferralRequest {
                    request_id: rid(on.request_id),
                    record_id: on.record_id,
                    non_referral_id: non_referral,
                    explanation,
                    documents,
                })
                .await
        }
    };
    accepted(result.map_err(fail)?.into_inner())
}

pub async fn run_warning(command: WarningCommand) -> anyhow::Result<()> {
    let fail = crate::client::rpc;
    let result = match command {
        WarningCommand::List { connection, paging } => return list(connection, paging).await,
        WarningCommand::Suggest {
            on,
            ground,
            reasons,
            documents,
        } => {
            let ground = match ground {
                Ground::FoundNotReferred => pb::ReferralGround::FoundNotReferred,
                Ground::ReportedNotReferred => pb::ReferralGround::ReportedNotReferred,
                Ground::ItemsConcealed => pb::ReferralGround::ItemsConcealed,
                Ground::PenaltyInsteadOfProsecution => {
                    pb::ReferralGround::PenaltyInsteadOfProsecution
                }
            };
            let documents = client::documents(&documents)?;
            let mut c = on.connection.connect().await?;
            c.penalties
                .suggest_referral(pb::SuggestReferralRequest {
                    request_id: rid(on.request_id),
                    record_id: on.record_id,
                    ground: ground.into(),
                    reasons,
                    documents,
                })
                .await
        }
        WarningCommand::Close { on, reasons } => {
            let mut c = on.connection.connect().await?;
            c.penalties
                .close_warning(pb::CloseWarningRequest {
                    request_id: rid(on.request_id),
                    record_id: on.record_id,
                    reasons,
                })
                .await
        }
    };
    accepted(result.map_err(fail)?.into_inner())
}
