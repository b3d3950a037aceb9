//! `casebridge referral …`: criminal referrals (涉嫌犯罪案件移送), every step of the chain.

use casebridge_proto::v1 as pb;
use clap::Subcommand;

use crate::client::{self, Connection, describe};

/// Options every step takes.
#[derive(Debug, Clone, clap::Args)]
pub struct On {
    #[command(flatten)]
    pub connection: Connection,
    /// The referral's id.
    pub referral_id: String,
    /// Idempotency key; default a new random one. Reuse it to retry safely.
    #[arg(long)]
    pub request_id: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ReferralCommand {
    /// Refer a suspected crime to the police (administrative agencies).
    Submit {
        #[command(flatten)]
        connection: Connection,
        /// Agency code of the receiving police organ.
        #[arg(long)]
        police: String,
        /// Suspected offence (涉嫌罪名).
        #[arg(long)]
        offence: String,
        /// Summary of the facts.
        #[arg(long)]
        summary: String,
        /// A document as KIND:TITLE or KIND:TITLE:SHA256; repeat. Items 1–3 (referral_letter,
        /// investigation_report, seized_items_list) are required.
        #[arg(long = "document", value_name = "KIND:TITLE[:SHA256]")]
        documents: Vec<String>,
        /// When the head of the agency approved the referral (RFC 3339); default now.
        #[arg(long)]
        approved_at: Option<String>,
        /// When the investigation report was received (RFC 3339); default the approval time.
        #[arg(long)]
        report_received_at: Option<String>,
        /// Items were tested, so a test report is included.
        #[arg(long)]
        items_tested: bool,
        /// A penalty was already imposed, so its decision is included.
        #[arg(long)]
        penalty_imposed: bool,
        /// Case officer's name.
        #[arg(long, default_value = "")]
        officer: String,
        /// Case officer's phone.
        #[arg(long, default_value = "")]
        phone: String,
        /// Idempotency key; default a new random one. Reuse it to retry safely.
        #[arg(long)]
        request_id: Option<String>,
    },
    /// Record the head's decision NOT to refer a suspected crime, with the approver and the
    /// reasons (不批准移送，记录在案, S1 Art 5); the procuratorate of your region sees it.
    RecordNonReferral {
        #[command(flatten)]
        connection: Connection,
        /// Suspected offence (涉嫌罪名) the investigators' report named.
        #[arg(long)]
        offence: String,
        /// Summary of the facts.
        #[arg(long)]
        summary: String,
        /// Who decided: the head (正职负责人) or the deputy presiding (主持工作的负责人), by name
        /// and title.
        #[arg(long)]
        approver: String,
        /// Why the referral was not approved (不予批准的理由).
        #[arg(long)]
        reasons: String,
        /// When the head decided (RFC 3339); default now.
        #[arg(long)]
        decided_at: Option<String>,
        /// When the investigation report was received (RFC 3339); default the decision time.
        #[arg(long)]
        report_received_at: Option<String>,
        /// A document as KIND:TITLE or KIND:TITLE:SHA256; repeat; optional.
        #[arg(long = "document", value_name = "KIND:TITLE[:SHA256]")]
        documents: Vec<String>,
        /// Idempotency key; default a new random one. Reuse it to retry safely.
        #[arg(long)]
        request_id: Option<String>,
    },
    /// Show a referral (parties only).
    Show {
        #[command(flatten)]
        connection: Connection,
        referral_id: String,
    },
    /// List your referrals, newest change first.
    List {
        #[command(flatten)]
        connection: Connection,
        #[command(flatten)]
        paging: client::Paging,
    },
    /// Sign the receipt (回执) as the receiving police organ.
    Receipt(On),
    /// Ask the agency for missing materials (police).
    RequestSupplement {
        #[command(flatten)]
        on: On,
        /// Missing document kind; repeat.
        #[arg(long = "missing")]
        missing: Vec<String>,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Supply missing materials (the referring agency).
    Supplement {
        #[command(flatten)]
        on: On,
        #[arg(long = "document", value_name = "KIND:TITLE[:SHA256]")]
        documents: Vec<String>,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Forward to the competent police organ (police).
    Forward {
        #[command(flatten)]
        on: On,
        #[arg(long)]
        to: String,
        #[arg(long)]
        reason: String,
    },
    /// Return as outside police remit, with reasons (police).
    Return {
        #[command(flatten)]
        on: On,
        #[arg(long)]
        reasons: String,
    },
    /// Decide: file (立案) or decline (不予立案, reasons required) (police).
    Decide {
        #[command(flatten)]
        on: On,
        /// File the case.
        #[arg(long, conflicts_with = "decline")]
        file: bool,
        /// Decline to file, with these reasons.
        #[arg(long, value_name = "REASONS")]
        decline: Option<String>,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Hand over the seized items after filing (the referring agency).
    HandOver {
        #[command(flatten)]
        on: On,
        /// The hand-over list and materials as KIND:TITLE; repeat.
        #[arg(long = "document", value_name = "KIND:TITLE[:SHA256]")]
        documents: Vec<String>,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Ask the police to reconsider non-filing (复议) (the referring agency).
    Reconsider {
        #[command(flatten)]
        on: On,
        #[arg(long)]
        reasons: String,
    },
    /// Decide a reconsideration: --file or --uphold (police).
    DecideReconsideration {
        #[command(flatten)]
        on: On,
        #[arg(long, conflicts_with = "uphold")]
        file: bool,
        #[arg(long)]
        uphold: bool,
        #[arg(long)]
        reasons: String,
    },
    /// Suggest filing supervision to the procuratorate (the referring agency).
    SuggestSupervision {
        #[command(flatten)]
        on: On,
        #[arg(long)]
        reasons: String,
    },
    /// Ask the police for their reasons for not filing (procuratorate).
    RequestReasons {
        #[command(flatten)]
        on: On,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Give the reasons for not filing (police).
    GiveReasons {
        #[command(flatten)]
        on: On,
        #[arg(long)]
        reasons: String,
    },
    /// Tell the agency the police's reasons stand (procuratorate).
    TellAgency {
        #[command(flatten)]
        on: On,
        #[arg(long)]
        note: String,
    },
    /// Notify the police to file (通知立案) (procuratorate).
    NotifyFiling {
        #[command(flatten)]
        on: On,
        #[arg(long)]
        reasons: String,
    },
    /// Demand an explanation of a missing filing decision (procuratorate).
    DemandExplanation {
        #[command(flatten)]
        on: On,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Explain a missing filing decision (police).
    Explain {
        #[command(flatten)]
        on: On,
        #[arg(long)]
        explanation: String,
    },
    /// Issue a correction notice (纠正违法通知书) once the police have not filed 15 days after
    /// the notice to file (procuratorate, S5 Art 564).
    CorrectionNotice {
        #[command(flatten)]
        on: On,
        #[arg(long)]
        reasons: String,
    },
    /// Report the police's failure to correct to the next-level procuratorate (procuratorate,
    /// S5 Art 564).
    ReportToSuperior {
        #[command(flatten)]
        on: On,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// After filing, tell the agency the case went to another authority (police).
    TransferCase {
        #[command(flatten)]
        on: On,
        #[arg(long)]
        to_authority: String,
        #[arg(long)]
        reason: String,
        /// When the transfer was decided (RFC 3339); default now.
        #[arg(long)]
        decided_at: Option<String>,
    },
    /// After filing, withdraw the case (撤案) and tell the agency (police).
    Withdraw {
        #[command(flatten)]
        on: On,
        #[arg(long)]
        reasons: String,
        /// When the withdrawal was decided (RFC 3339); default now.
        #[arg(long)]
        decided_at: Option<String>,
    },
    /// Hand the case back for administrative handling (反向衔接) (police).
    HandBack {
        #[command(flatten)]
        on: On,
        /// The administrative agency to hand it to; default the referring agency.
        #[arg(long, default_value = "")]
        to: String,
        #[arg(long)]
        reasons: String,
        #[arg(long = "document", value_name = "KIND:TITLE[:SHA256]")]
        documents: Vec<String>,
    },
}

fn rid(given: Option<String>) -> String {
    given.unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

pub async fn run(command: ReferralCommand) -> anyhow::Result<()> {
    let fail = crate::client::rpc;
    let result = match command {
        ReferralCommand::Show {
            connection,
            referral_id,
        } => {
            let referral = connection
                .connect()
                .await?
                .referrals
                .get_referral(pb::GetReferralRequest { referral_id })
                .await
                .map_err(fail)?
                .into_inner();
            return crate::output::show(&referral, describe);
        }
        ReferralCommand::List { connection, paging } => {
            let service = connection.connect().await?.referrals;
            let page = paging
                .fetch(|request| {
                    let mut service = service.clone();
                    async move { service.list_referrals(request).await }
                })
                .await?;
            return crate::output::show(&page, client::listing);
        }
        ReferralCommand::Submit {
            connection,
            police,
            offence,
            summary,
            documents,
            approved_at,
            report_received_at,
            items_tested,
            penalty_imposed,
            officer,
            phone,
            request_id,
        } => {
            let approved = client::time_or_now(
                approved_at.as_deref(),
                "--approved-at",
                request_id.as_deref(),
            )?;
            let received = match report_received_at {
                Some(t) => client::wire_time(Some(&t))?,
                None => approved,
            };
            connection
                .connect()
                .await?
                .referrals
                .submit_referral(pb::SubmitReferralRequest {
                    request_id: rid(request_id),
                    police,
                    suspected_offence: offence,
                    summary,
                    report_received_at: Some(received),
                    approved_at: Some(approved),
                    items_tested,
                    penalty_imposed,
                    documents: client::documents(&documents)?,
                    parties: Vec::new(),
                    case_officer: officer,
                    case_officer_phone: phone,
                })
                .await
        }
        ReferralCommand::RecordNonReferral {
            connection,
            offence,
            summary,
            approver,
            reasons,
            decided_at,
            report_received_at,
            documents,
            request_id,
        } => {
            let decided =
                client::time_or_now(decided_at.as_deref(), "--decided-at", request_id.as_deref())?;
            let received = match report_received_at {
                Some(t) => client::wire_time(Some(&t))?,
                None => decided,
            };
            connection
                .connect()
                .await?
                .referrals
                .record_non_referral(pb::RecordNonReferralRequest {
                    request_id: rid(request_id),
                    suspected_offence: offence,
                    summary,
                    report_received_at: Some(received),
                    decided_at: Some(decided),
                    approver,
                    reasons,
                    documents: client::documents(&documents)?,
                    parties: Vec::new(),
                })
                .await
        }
        ReferralCommand::Receipt(on) => {
            let mut c = on.connection.connect().await?;
            c.referrals
                .sign_receipt(pb::SignReceiptRequest {
                    request_id: rid(on.request_id),
                    referral_id: on.referral_id,
                })
                .await
        }
        ReferralCommand::RequestSupplement { on, missing, note } => {
            let missing = missing
                .iter()
                .map(|m| client::document_kind(m))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let mut c = on.connection.connect().await?;
            c.referrals
                .request_supplement(pb::RequestSupplementRequest {
                    request_id: rid(on.request_id),
                    referral_id: on.referral_id,
                    missing,
                    note,
                })
                .await
        }
        ReferralCommand::Supplement {
            on,
            documents,
            note,
        } => {
            let documents = client::documents(&documents)?;
            let mut c = on.connection.connect().await?;
            c.referrals
                .supplement_referral(pb::SupplementReferralRequest {
                    request_id: rid(on.request_id),
                    referral_id: on.referral_id,
                    documents,
                    note,
                })
                .await
        }
        ReferralCommand::Forward { on, to, reason } => {
            let mut c = on.connection.connect().await?;
            c.referrals
                .forward_referral(pb::ForwardReferralRequest {
                    request_id: rid(on.request_id),
                    referral_id: on.referral_id,
                    to_police: to,
                    reason,
                })
                .await
        }
        ReferralCommand::Return { on, reasons } => {
            let mut c = on.connection.connect().await?;
            c.referrals
                .return_referral(pb::ReturnReferralRequest {
                    request_id: rid(on.request_id),
                    referral_id: on.referral_id,
                    reasons,
                })
                .await
        }
        ReferralCommand::Decide {
            on,
            file,
            decline,
            note,
        } => {
            use pb::decide_filing_request::Decision;
            let decision = match (file, decline) {
                (true, None) => Decision::File(pb::FileCase { note }),
                (false, Some(reasons)) => Decision::Decline(pb::DeclineToFile { reasons }),
                _ => anyhow::bail!("give exactly one of --file or --decline REASONS"),
            };
            let mut c = on.connection.connect().await?;
            c.referrals
                .decide_filing(pb::DecideFilingRequest {
                    request_id: rid(on.request_id),
                    referral_id: on.referral_id,
                    decision: Some(decision),
                })
                .await
        }
        ReferralCommand::HandOver {
            on,
            documents,
            note,
        } => {
            let documents = client::documents(&documents)?;
            let mut c = on.connection.connect().await?;
            c.referrals
                .hand_over_items(pb::HandOverItemsRequest {
                    request_id: rid(on.request_id),
                    referral_id: on.referral_id,
                    documents,
                    note,
                })
                .await
        }
        ReferralCommand::Reconsider { on, reasons } => {
            let mut c = on.connection.connect().await?;
            c.referrals
                .request_reconsideration(pb::RequestReconsiderationRequest {
                    request_id: rid(on.request_id),
                    referral_id: on.referral_id,
                    reasons,
                })
                .await
        }
        ReferralCommand::DecideReconsideration {
            on,
            file,
            uphold,
            reasons,
        } => {
            let outcome = match (file, uphold) {
                (true, false) => pb::ReconsiderationOutcome::File,
                (false, true) => pb::ReconsiderationOutcome::Uphold,
                _ => anyhow::bail!("give exactly one of --file or --uphold"),
            };
            let mut c = on.connection.connect().await?;
            c.referrals
                .decide_reconsideration(pb::DecideReconsiderationRequest {
                    request_id: rid(on.request_id),
                    referral_id: on.referral_id,
                    outcome: outcome.into(),
                    reasons,
                })
                .await
        }
        ReferralCommand::SuggestSupervision { on, reasons } => {
            let mut c = on.connection.connect().await?;
            c.referrals
                .suggest_supervision(pb::SuggestSupervisionRequest {
                    request_id: rid(on.request_id),
                    referral_id: on.referral_id,
                    reasons,
                })
                .await
        }
        ReferralCommand::RequestReasons { on, note } => {
            let mut c = on.connection.connect().await?;
            c.referrals
                .request_reasons(pb::RequestReasonsRequest {
                    request_id: rid(on.request_id),
                    referral_id: on.referral_id,
                    note,
                })
                .await
        }
        ReferralCommand::GiveReasons { on, reasons } => {
            let mut c = on.connection.connect().await?;
            c.referrals
                .give_reasons(pb::GiveReasonsRequest {
                    request_id: rid(on.request_id),
                    referral_id: on.referral_id,
                    reasons,
                })
                .await
        }
        ReferralCommand::TellAgency { on, note } => {
            let mut c = on.connection.connect().await?;
            c.referrals
                .tell_agency(pb::TellAgencyRequest {
                    request_id: rid(on.request_id),
                    referral_id: on.referral_id,
                    note,
                })
                .await
        }
        ReferralCommand::NotifyFiling { on, reasons } => {
            let mut c = on.connection.connect().await?;
            c.referrals
                .notify_filing(pb::NotifyFilingRequest {
                    request_id: rid(on.request_id),
                    referral_id: on.referral_id,
                    reasons,
                })
                .await
        }
        ReferralCommand::DemandExplanation { on, note } => {
            let mut c = on.connection.connect().await?;
            c.referrals
                .demand_explanation(pb::DemandExplanationRequest {
                    request_id: rid(on.request_id),
                    referral_id: on.referral_id,
                    note,
                })
                .await
        }
        ReferralCommand::CorrectionNotice { on, reasons } => {
            let mut c = on.connection.connect().await?;
            c.referrals
                .issue_correction_notice(pb::IssueCorrectionNoticeRequest {
                    request_id: rid(on.request_id),
                    referral_id: on.referral_id,
                    reasons,
                })
                .await
        }
        ReferralCommand::ReportToSuperior { on, note } => {
            let mut c = on.connection.connect().await?;
            c.referrals
                .report_to_superior(pb::ReportToSuperiorRequest {
                    request_id: rid(on.request_id),
                    referral_id: on.referral_id,
                    note,
                })
                .await
        }
        ReferralCommand::Explain { on, explanation } => {
            let mut c = on.connection.connect().await?;
            c.referrals
                .explain(pb::ExplainRequest {
                    request_id: rid(on.request_id),
                    referral_id: on.referral_id,
                    explanation,
                })
                .await
        }
        ReferralCommand::TransferCase {
            on,
            to_authority,
            reason,
            decided_at,
        } => {
            let decided_at = Some(client::time_or_now(
                decided_at.as_deref(),
                "--decided-at",
                on.request_id.as_deref(),
            )?);
            let mut c = on.connection.connect().await?;
            c.referrals
                .transfer_case(pb::TransferCaseRequest {
                    request_id: rid(on.request_id),
                    referral_id: on.referral_id,
                    to_authority,
                    reason,
                    decided_at,
                })
                .await
        }
        ReferralCommand::Withdraw {
            on,
            reasons,
            decided_at,
        } => {
            let decided_at = Some(client::time_or_now(
                decided_at.as_deref(),
                "--decided-at",
                on.request_id.as_deref(),
            )?);
            let mut c = on.connection.connect().await?;
            c.referrals
                .withdraw_case(pb::WithdrawCaseRequest {
                    request_id: rid(on.request_id),
                    referral_id: on.referral_id,
                    reasons,
                    decided_at,
                })
                .await
        }
        ReferralCommand::HandBack {
            on,
            to,
            reasons,
            documents,
        } => {
            let documents = client::documents(&documents)?;
            let mut c = on.connection.connect().await?;
            c.referrals
                .hand_back_referral(pb::HandBackReferralRequest {
                    request_id: rid(on.request_id),
                    referral_id: on.referral_id,
                    to_agency: to,
                    reasons,
                    documents,
                })
                .await
        }
    };
    let result = result.map_err(fail)?.into_inner();
    client::replayed(result.replayed);
    client::receipt(result.receipt.as_ref())?;
    crate::output::show(&result, |r| {
        r.referral.as_ref().map(describe).unwrap_or_default()
    })
}
