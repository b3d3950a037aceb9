//! `casebridge opinion …`: expert-opinion and assistance requests (认定、检验、鉴定 / 协助调查).

use casebridge_proto::v1 as pb;
use clap::Subcommand;

use crate::client::{self, Connection, enum_name};

/// Options every step takes.
#[derive(Debug, Clone, clap::Args)]
pub struct On {
    #[command(flatten)]
    pub connection: Connection,
    /// The opinion request's id.
    pub opinion_id: String,
    /// Idempotency key; default a new random one. Reuse it to retry safely.
    #[arg(long)]
    pub request_id: Option<String>,
}

/// What is asked.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Kind {
    /// 认定
    Determination,
    /// 检验
    Test,
    /// 鉴定
    Forensic,
    /// 协助调查
    Assistance,
}

/// What the opinion concludes.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum FindingArg {
    /// 是 / 属于 / 符合
    Affirmative,
    /// 否 / 不属于 / 不符合
    Negative,
    /// A measured or assessed quantity.
    Quantified,
    /// The assistance was given (assistance requests only).
    AssistanceGiven,
}

#[derive(Debug, Subcommand)]
pub enum OpinionCommand {
    /// Ask a department for a determination, test, forensic opinion or assistance.
    Request {
        #[command(flatten)]
        connection: Connection,
        /// Agency code of the department asked.
        #[arg(long)]
        expert: String,
        #[arg(long, value_enum)]
        kind: Kind,
        #[arg(long)]
        question: String,
        #[arg(long = "document", value_name = "KIND:TITLE[:SHA256]")]
        documents: Vec<String>,
        /// Your case the opinion is needed for (its clock stops meanwhile).
        #[arg(long, default_value = "")]
        under_case: String,
        #[arg(long)]
        request_id: Option<String>,
    },
    /// Show a request (parties only).
    Show {
        #[command(flatten)]
        connection: Connection,
        opinion_id: String,
    },
    /// List your requests.
    List {
        #[command(flatten)]
        connection: Connection,
        #[command(flatten)]
        paging: client::Paging,
    },
    /// Accept the request (the department asked).
    Accept {
        #[command(flatten)]
        on: On,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Refuse the request, with reasons (the department asked).
    Refuse {
        #[command(flatten)]
        on: On,
        #[arg(long)]
        reasons: String,
    },
    /// Ask for more material; your clock stops (the department asked).
    AskMaterial {
        #[command(flatten)]
        on: On,
        #[arg(long)]
        needed: String,
    },
    /// Supply the material asked for (the requester).
    Supply {
        #[command(flatten)]
        on: On,
        #[arg(long = "document", value_name = "KIND:TITLE[:SHA256]")]
        documents: Vec<String>,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Deliver the written opinion; it must state a conclusion (the department asked).
    Deliver {
        #[command(flatten)]
        on: On,
        #[arg(long, value_enum)]
        finding: FindingArg,
        /// The conclusion (认定结论).
        #[arg(long)]
        conclusion: String,
        /// What was examined and how.
        #[arg(long, default_value = "")]
        basis: String,
        #[arg(long = "document", value_name = "KIND:TITLE[:SHA256]")]
        documents: Vec<String>,
    },
}

fn rid(given: Option<String>) -> String {
    given.unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// A one-screen description of a request.
pub fn describe(r: &pb::OpinionRequest) -> String {
    let status = pb::OpinionStatus::try_from(r.status)
        .map(|s| enum_name(s.as_str_name(), "OPINION_STATUS_"))
        .unwrap_or_else(|_| "unknown".into());
    let kind = pb::OpinionKind::try_from(r.kind)
        .map(|s| enum_name(s.as_str_name(), "OPINION_KIND_"))
        .unwrap_or_else(|_| "unknown".into());
    let mut text = format!(
        "opinion request {}\n  status:    {status} (version {})\n  kind:      {kind}\n  requester: {}\n  expert:    {}\n  question:  {}\n",
        r.id, r.version, r.requester, r.expert, r.question
    );
    if !r.under_case_id.is_empty() {
        text.push_str(&format!("  under case {}\n", r.under_case_id));
    }
    if let Some(o) = &r.opinion {
        text.push_str(&format!("  conclusion: {}\n", o.conclusion));
    }
    text.push_str(&client::history(&r.history));
    text
}

pub async fn run(command: OpinionCommand) -> anyhow::Result<()> {
    let fail = crate::client::rpc;
    let result = match command {
        OpinionCommand::Show {
            connection,
            opinion_id,
        } => {
            let r = connection
                .connect()
                .await?
                .opinions
                .get_opinion(pb::GetOpinionRequest { opinion_id })
                .await
                .map_err(fail)?
                .into_inner();
            return crate::output::show(&r, describe);
        }
        OpinionCommand::List { connection, paging } => {
            let service = connection.connect().await?.opinions;
            let page = paging
                .fetch(|request| {
                    let mut service = service.clone();
                    async move { service.list_opinions(request).await }
                })
                .await?;
            return crate::output::show(&page, client::listing);
        }
        OpinionCommand::Request {
            connection,
            expert,
            kind,
            question,
            documents,
            under_case,
            request_id,
        } => {
            let kind = match kind {
                Kind::Determination => pb::OpinionKind::Determination,
                Kind::Test => pb::OpinionKind::Test,
                Kind::Forensic => pb::OpinionKind::Forensic,
                Kind::Assistance => pb::OpinionKind::Assistance,
            };
            let documents = client::documents(&documents)?;
            let mut c = connection.connect().await?;
            c.opinions
                .request_opinion(pb::RequestOpinionRequest {
                    request_id: rid(request_id),
                    expert,
                    kind: kind.into(),
                    question,
                    documents,
                    under_case_id: under_case,
                })
                .await
        }
        OpinionCommand::Accept { on, note } => {
            let mut c = on.connection.connect().await?;
            c.opinions
                .accept_opinion_request(pb::AcceptOpinionRequestRequest {
                    request_id: rid(on.request_id),
                    opinion_id: on.opinion_id,
                    note,
                })
                .await
        }
        OpinionCommand::Refuse { on, reasons } => {
            let mut c = on.connection.connect().await?;
            c.opinions
                .refuse_opinion_request(pb::RefuseOpinionRequestRequest {
                    request_id: rid(on.request_id),
                    opinion_id: on.opinion_id,
                    reasons,
                })
                .await
        }
        OpinionCommand::AskMaterial { on, needed } => {
            let mut c = on.connection.connect().await?;
            c.opinions
                .request_material(pb::RequestMaterialRequest {
                    request_id: rid(on.request_id),
                    opinion_id: on.opinion_id,
                    needed,
                })
                .await
        }
        OpinionCommand::Supply {
            on,
            documents,
            note,
        } => {
            let documents = client::documents(&documents)?;
            let mut c = on.connection.connect().await?;
            c.opinions
                .supply_material(pb::SupplyMaterialRequest {
                    request_id: rid(on.request_id),
                    opinion_id: on.opinion_id,
                    documents,
                    note,
                })
                .await
        }
        OpinionCommand::Deliver {
            on,
            finding,
            conclusion,
            basis,
            documents,
        } => {
            let finding = match finding {
                FindingArg::Affirmative => pb::OpinionFinding::Affirmative,
                FindingArg::Negative => pb::OpinionFinding::Negative,
                FindingArg::Quantified => pb::OpinionFinding::Quantified,
                FindingArg::AssistanceGiven => pb::OpinionFinding::AssistanceGiven,
            };
            let documents = client::documents(&documents)?;
            let mut c = on.connection.connect().await?;
            c.opinions
                .deliver_opinion(pb::DeliverOpinionRequest {
                    request_id: rid(on.request_id),
                    opinion_id: on.opinion_id,
                    opinion: Some(pb::Opinion {
                        finding: finding.into(),
                        conclusion,
                        basis,
                        documents,
                    }),
                })
                .await
        }
    };
    let result = result.map_err(fail)?.into_inner();
    client::replayed(result.replayed);
    client::receipt(result.receipt.as_ref())?;
    crate::output::show(&result, |r| {
        r.opinion.as_ref().map(describe).unwrap_or_default()
    })
}
