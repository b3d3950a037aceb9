//! `casebridge lead …`: leads between agencies (线索互告): a notice to another agency of a
//! possible violation in its remit, acknowledged and answered with a transfer, a referral or no
//! action.

use casebridge_proto::v1 as pb;
use clap::Subcommand;

use crate::client::{self, Connection, enum_name};

/// Options every step on a lead takes.
#[derive(Debug, Clone, clap::Args)]
pub struct On {
    #[command(flatten)]
    pub connection: Connection,
    /// The lead's id.
    pub lead_id: String,
    /// Idempotency key; default a new random one. Reuse it to retry safely.
    #[arg(long)]
    pub request_id: Option<String>,
}

/// How the receiver answers a lead: exactly one.
#[derive(Debug, Clone, clap::Args)]
#[group(required = true, multiple = false)]
pub struct Outcome {
    /// It became a case transfer you are a party to (its id).
    #[arg(long)]
    pub transfer: Option<String>,
    /// It became a criminal referral you sent (its id).
    #[arg(long)]
    pub referral: Option<String>,
    /// No action (不予处理), with the reasons.
    #[arg(long)]
    pub no_action: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum LeadCommand {
    /// Tell another agency of a possible violation in its remit (线索移送).
    Send {
        #[command(flatten)]
        connection: Connection,
        /// Agency code of the agency told.
        #[arg(long)]
        to: String,
        /// The possible violation, in a line.
        #[arg(long)]
        subject: String,
        #[arg(long)]
        description: String,
        #[arg(long = "document", value_name = "KIND:TITLE[:SHA256]")]
        documents: Vec<String>,
        #[arg(long)]
        request_id: Option<String>,
    },
    /// Show a lead (parties only).
    Show {
        #[command(flatten)]
        connection: Connection,
        lead_id: String,
    },
    /// List your leads, sent and received.
    List {
        #[command(flatten)]
        connection: Connection,
        #[command(flatten)]
        paging: client::Paging,
    },
    /// Acknowledge a lead you received (签收).
    Acknowledge {
        #[command(flatten)]
        on: On,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Answer a lead you received: the transfer or referral it became, or no action.
    Answer {
        #[command(flatten)]
        on: On,
        #[command(flatten)]
        outcome: Outcome,
    },
}

fn rid(given: Option<String>) -> String {
    given.unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// A one-screen description of a lead.
pub fn describe(l: &pb::Lead) -> String {
    let status = pb::LeadStatus::try_from(l.status)
        .map(|s| enum_name(s.as_str_name(), "LEAD_STATUS_"))
        .unwrap_or_else(|_| "unknown".into());
    let mut text = format!(
        "lead {}\n  status:    {status} (version {})\n  from:      {}\n  to:        {}\n  subject:   {}\n",
        l.id, l.version, l.sender, l.recipient, l.subject
    );
    use pb::lead_answer::Outcome as O;
    match l.answer.as_ref().and_then(|a| a.outcome.as_ref()) {
        Some(O::TransferOpened(t)) => {
            text.push_str(&format!("  answer:    transfer {}\n", t.transfer_id))
        }
        Some(O::ReferralMade(r)) => {
            text.push_str(&format!("  answer:    referral {}\n", r.referral_id))
        }
        Some(O::NoAction(n)) => text.push_str(&format!("  answer:    no action: {}\n", n.reasons)),
        None => {}
    }
    text.push_str(&client::history(&l.history));
    text
}

pub async fn run(command: LeadCommand) -> anyhow::Result<()> {
    let fail = crate::client::rpc;
    let result = match command {
        LeadCommand::Show {
            connection,
            lead_id,
        } => {
            let l = connection
                .connect()
                .await?
                .leads
                .get_lead(pb::GetLeadRequest { lead_id })
                .await
                .map_err(fail)?
                .into_inner();
            return crate::output::show(&l, describe);
        }
        LeadCommand::List { connection, paging } => {
            let service = connection.connect().await?.leads;
            let page = paging
                .fetch(|request| {
                    let mut service = service.clone();
                    async move { service.list_leads(request).await }
                })
                .await?;
            return crate::output::show(&page, client::listing);
        }
        LeadCommand::Send {
            connection,
            to,
            subject,
            description,
            documents,
            request_id,
        } => {
            let documents = client::documents(&documents)?;
            let mut c = connection.connect().await?;
            c.leads
                .send_lead(pb::SendLeadRequest {
                    request_id: rid(request_id),
                    to,
                    subject,
                    description,
                    documents,
                })
                .await
        }
        LeadCommand::Acknowledge { on, note } => {
            let mut c = on.connection.connect().await?;
            c.leads
                .acknowledge_lead(pb::AcknowledgeLeadRequest {
                    request_id: rid(on.request_id),
                    lead_id: on.lead_id,
                    note,
                })
                .await
        }
        LeadCommand::Answer { on, outcome } => {
            use pb::answer_lead_request::Outcome as O;
            let outcome = match outcome {
                Outcome {
                    transfer: Some(transfer_id),
                    ..
                } => O::TransferOpened(pb::LeadTransferOpened { transfer_id }),
                Outcome {
                    referral: Some(referral_id),
                    ..
                } => O::ReferralMade(pb::LeadReferralMade { referral_id }),
                Outcome { no_action, .. } => O::NoAction(pb::LeadNoAction {
                    reasons: no_action.unwrap_or_default(),
                }),
            };
            let mut c = on.connection.connect().await?;
            c.leads
                .answer_lead(pb::AnswerLeadRequest {
                    request_id: rid(on.request_id),
                    lead_id: on.lead_id,
                    outcome: Some(outcome),
                })
                .await
        }
    };
    let result = result.map_err(fail)?.into_inner();
    client::replayed(result.replayed);
    client::receipt(result.receipt.as_ref())?;
    crate::output::show(&result, |r| {
        r.lead.as_ref().map(describe).unwrap_or_default()
    })
}
