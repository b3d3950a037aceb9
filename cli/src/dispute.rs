//! `casebridge dispute …`: jurisdiction disputes (管辖争议) and designation (指定管辖).

use casebridge_proto::v1 as pb;
use clap::Subcommand;

use crate::client::{self, Connection, enum_name};

/// Options every step takes.
#[derive(Debug, Clone, clap::Args)]
pub struct On {
    #[command(flatten)]
    pub connection: Connection,
    /// The dispute's id.
    pub dispute_id: String,
    /// Idempotency key; default a new random one. Reuse it to retry safely.
    #[arg(long)]
    pub request_id: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum DisputeCommand {
    /// Raise a dispute with another agency over who must handle a case.
    Raise {
        #[command(flatten)]
        connection: Connection,
        /// Agency code of the other agency.
        #[arg(long)]
        with: String,
        #[arg(long)]
        question: String,
        /// Your position.
        #[arg(long)]
        position: String,
        /// The transfer it is about.
        #[arg(long, default_value = "")]
        transfer: String,
        #[arg(long)]
        request_id: Option<String>,
    },
    /// Designate the competent agency without a dispute (the coordination office).
    DesignateDirectly {
        #[command(flatten)]
        connection: Connection,
        /// The two agencies concerned; give twice.
        #[arg(long = "party", num_args = 1)]
        parties: Vec<String>,
        #[arg(long)]
        question: String,
        #[arg(long)]
        designated: String,
        #[arg(long)]
        decision: String,
        #[arg(long, default_value = "")]
        transfer: String,
        #[arg(long)]
        request_id: Option<String>,
    },
    /// Show a dispute with the parties' positions (parties only).
    Show {
        #[command(flatten)]
        connection: Connection,
        dispute_id: String,
    },
    /// List your disputes: the dispute desk.
    List {
        #[command(flatten)]
        connection: Connection,
        #[command(flatten)]
        paging: client::Paging,
    },
    /// Record the agreement reached (协商纪要) (either party).
    Minutes {
        #[command(flatten)]
        on: On,
        /// The party both agree is competent.
        #[arg(long)]
        competent: String,
        #[arg(long)]
        minutes: String,
    },
    /// Refer the dispute to the coordination office (either party).
    Refer {
        #[command(flatten)]
        on: On,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Accept the referral (the coordination office).
    Accept {
        #[command(flatten)]
        on: On,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// State your position to the office (the other side).
    Reply {
        #[command(flatten)]
        on: On,
        #[arg(long)]
        position: String,
    },
    /// Designate the competent agency (指定管辖) (the coordination office).
    Designate {
        #[command(flatten)]
        on: On,
        #[arg(long)]
        designated: String,
        #[arg(long)]
        decision: String,
        #[arg(long = "document", value_name = "KIND:TITLE[:SHA256]")]
        documents: Vec<String>,
    },
}

fn rid(given: Option<String>) -> String {
    given.unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// A one-screen description of a dispute.
pub fn describe(d: &pb::Dispute) -> String {
    let status = pb::DisputeStatus::try_from(d.status)
        .map(|s| enum_name(s.as_str_name(), "DISPUTE_STATUS_"))
        .unwrap_or_else(|_| "unknown".into());
    let mut text = format!(
        "dispute {}\n  status:     {status} (version {})\n  question:   {}\n  sender:     {}\n  respondent: {}\n  office:     {}\n",
        d.id,
        d.version,
        d.question,
        d.sender,
        d.respondent,
        if d.office.is_empty() {
            "(not referred)"
        } else {
            &d.office
        }
    );
    for p in &d.positions {
        text.push_str(&format!("  position of {}: {}\n", p.agency, p.text));
    }
    if !d.competent.is_empty() {
        text.push_str(&format!("  competent:  {}\n", d.competent));
    }
    text.push_str(&client::history(&d.history));
    text
}

pub async fn run(command: DisputeCommand) -> anyhow::Result<()> {
    let fail = crate::client::rpc;
    let result = match command {
        DisputeCommand::Show {
            connection,
            dispute_id,
        } => {
            let d = connection
                .connect()
                .await?
                .disputes
                .get_dispute(pb::GetDisputeRequest { dispute_id })
                .await
                .map_err(fail)?
                .into_inner();
            return crate::output::show(&d, describe);
        }
        DisputeCommand::List { connection, paging } => {
            let service = connection.connect().await?.disputes;
            let page = paging
                .fetch(|request| {
                    let mut service = service.clone();
                    async move { service.list_disputes(request).await }
                })
                .await?;
            return crate::output::show(&page, client::listing);
        }
        DisputeCommand::Raise {
            connection,
            with,
            question,
            position,
            transfer,
            request_id,
        } => {
            let mut c = connection.connect().await?;
            c.disputes
                .raise_dispute(pb::RaiseDisputeRequest {
                    request_id: rid(request_id),
                    respondent: with,
                    question,
                    position,
                    transfer_id: transfer,
                    documents: Vec::new(),
                })
                .await
        }
        DisputeCommand::DesignateDirectly {
            connection,
            parties,
            question,
            designated,
            decision,
            transfer,
            request_id,
        } => {
            let mut c = connection.connect().await?;
            c.disputes
                .designate_directly(pb::DesignateDirectlyRequest {
                    request_id: rid(request_id),
                    parties,
                    question,
                    designated,
                    decision,
                    transfer_id: transfer,
                    documents: Vec::new(),
                })
                .await
        }
        DisputeCommand::Minutes {
            on,
            competent,
            minutes,
        } => {
            let mut c = on.connection.connect().await?;
            c.disputes
                .record_minutes(pb::RecordMinutesRequest {
                    request_id: rid(on.request_id),
                    dispute_id: on.dispute_id,
                    competent,
                    minutes,
                    documents: Vec::new(),
                })
                .await
        }
        DisputeCommand::Refer { on, note } => {
            let mut c = on.connection.connect().await?;
            c.disputes
                .refer_dispute(pb::ReferDisputeRequest {
                    request_id: rid(on.request_id),
                    dispute_id: on.dispute_id,
                    note,
                })
                .await
        }
        DisputeCommand::Accept { on, note } => {
            let mut c = on.connection.connect().await?;
            c.disputes
                .accept_dispute(pb::AcceptDisputeRequest {
                    request_id: rid(on.request_id),
                    dispute_id: on.dispute_id,
                    note,
                })
                .await
        }
        DisputeCommand::Reply { on, position } => {
            let mut c = on.connection.connect().await?;
            c.disputes
                .reply_to_dispute(pb::ReplyToDisputeRequest {
                    request_id: rid(on.request_id),
                    dispute_id: on.dispute_id,
                    position,
                    documents: Vec::new(),
                })
                .await
        }
        DisputeCommand::Designate {
            on,
            designated,
            decision,
            documents,
        } => {
            let documents = client::documents(&documents)?;
            let mut c = on.connection.connect().await?;
            c.disputes
                .designate_agency(pb::DesignateAgencyRequest {
                    request_id: rid(on.request_id),
                    dispute_id: on.dispute_id,
                    designated,
                    decision,
                    documents,
                })
                .await
        }
    };
    let result = result.map_err(fail)?.into_inner();
    client::replayed(result.replayed);
    client::receipt(result.receipt.as_ref())?;
    crate::output::show(&result, |r| {
        r.dispute.as_ref().map(describe).unwrap_or_default()
    })
}
