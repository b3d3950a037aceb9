//! `casebridge transfer …`: case transfers between administrative agencies (行政执法案件移送).

use casebridge_proto::v1 as pb;
use clap::Subcommand;

use crate::client::{self, Connection, enum_name};

/// Options every step takes.
#[derive(Debug, Clone, clap::Args)]
pub struct On {
    #[command(flatten)]
    pub connection: Connection,
    /// The transfer's id.
    pub transfer_id: String,
    /// Idempotency key; default a new random one. Reuse it to retry safely.
    #[arg(long)]
    pub request_id: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum TransferCommand {
    /// Transfer a case to the agency with jurisdiction.
    Send {
        #[command(flatten)]
        connection: Connection,
        /// Agency code of the receiving administrative agency.
        #[arg(long)]
        to: String,
        /// The suspected violation (涉嫌违法行为).
        #[arg(long)]
        violation: String,
        #[arg(long)]
        summary: String,
        /// Why the receiver has jurisdiction (管辖依据).
        #[arg(long)]
        grounds: String,
        /// The receiver must act at once (receipt within 2 hours).
        #[arg(long)]
        urgent: bool,
        /// A document as KIND:TITLE[:SHA256]; repeat. A transfer_letter is required.
        #[arg(long = "document", value_name = "KIND:TITLE[:SHA256]")]
        documents: Vec<String>,
        /// An earlier transfer this one continues.
        #[arg(long, default_value = "")]
        previous: String,
        #[arg(long)]
        request_id: Option<String>,
    },
    /// Show a transfer (parties only).
    Show {
        #[command(flatten)]
        connection: Connection,
        transfer_id: String,
    },
    /// List your transfers.
    List {
        #[command(flatten)]
        connection: Connection,
        #[command(flatten)]
        paging: client::Paging,
    },
    /// Acknowledge receipt (回执) (receiver).
    Receipt(On),
    /// Open a case on it (立案) (receiver).
    Accept {
        #[command(flatten)]
        on: On,
        /// Your case number (立案编号).
        #[arg(long, default_value = "")]
        case_number: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Object to jurisdiction; a jurisdiction dispute opens (receiver).
    Object {
        #[command(flatten)]
        on: On,
        #[arg(long)]
        reasons: String,
    },
    /// Report the outcome back to the sender (办理情况反馈) (receiver).
    Report {
        #[command(flatten)]
        on: On,
        #[arg(long)]
        outcome: String,
        #[arg(long = "document", value_name = "KIND:TITLE[:SHA256]")]
        documents: Vec<String>,
    },
    /// Decide not to open a case (不予立案); the reasons go back to the sender (receiver).
    Decline {
        #[command(flatten)]
        on: On,
        #[arg(long)]
        reasons: String,
    },
    /// Contest the receiver's decision not to open a case; a jurisdiction dispute opens (sender).
    ContestDecline {
        #[command(flatten)]
        on: On,
        #[arg(long)]
        reasons: String,
    },
    /// Suspend the opened case (中止) with its approval; the outcome clock stops (receiver).
    Suspend {
        #[command(flatten)]
        on: On,
        #[arg(long)]
        reason: String,
        /// The approving document (中止审批表) as KIND:TITLE[:SHA256], e.g.
        /// decision:中止审批表.
        #[arg(long, value_name = "KIND:TITLE[:SHA256]")]
        approval: String,
    },
    /// Resume the suspended case (恢复); the outcome clock runs on (receiver).
    Resume {
        #[command(flatten)]
        on: On,
        #[arg(long, default_value = "")]
        note: String,
    },
}

fn rid(given: Option<String>) -> String {
    given.unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// A one-screen description of a transfer.
pub fn describe(t: &pb::Transfer) -> String {
    let status = pb::TransferStatus::try_from(t.status)
        .map(|s| enum_name(s.as_str_name(), "TRANSFER_STATUS_"))
        .unwrap_or_else(|_| "unknown".into());
    let mut text = format!(
        "transfer {}{}\n  status:    {status} (version {})\n  from:      {}\n  to:        {}\n  violation: {}\n  grounds:   {}\n",
        t.id,
        if t.urgent { " (urgent)" } else { "" },
        t.version,
        t.sender,
        t.receiver,
        t.suspected_violation,
        t.jurisdiction_grounds
    );
    if !t.designated_by.is_empty() {
        text.push_str(&format!("  designated by dispute {}\n", t.designated_by));
    }
    if !t.decline_reasons.is_empty() {
        text.push_str(&format!("  declined:  {}\n", t.decline_reasons));
    }
    if !t.decline_contest.is_empty() {
        text.push_str(&format!("  contested: {}\n", t.decline_contest));
    }
    if let Some(s) = &t.suspension {
        let approval = s.approval.as_ref().map_or("", |a| a.title.as_str());
        text.push_str(&format!(
            "  suspended: {} (approval: {approval})\n",
            s.reason
        ));
    }
    if !t.outcome.is_empty() {
        text.push_str(&format!("  outcome:   {}\n", t.outcome));
    }
    text.push_str(&client::history(&t.history));
    text
}

pub async fn run(command: TransferCommand) -> anyhow::Result<()> {
    let fail = crate::client::rpc;
    let result = match command {
        TransferCommand::Show {
            connection,
            transfer_id,
        } => {
            let t = connection
                .connect()
                .await?
                .transfers
                .get_transfer(pb::GetTransferRequest { transfer_id })
                .await
                .map_err(fail)?
                .into_inner();
            return crate::output::show(&t, describe);
        }
        TransferCommand::List { connection, paging } => {
            let service = connection.connect().await?.transfers;
            let page = paging
                .fetch(|request| {
                    let mut service = service.clone();
                    async move { service.list_transfers(request).await }
                })
                .await?;
            return crate::output::show(&page, client::listing);
        }
        TransferCommand::Send {
            connection,
            to,
            violation,
            summary,
            grounds,
            urgent,
            documents,
            previous,
            request_id,
        } => {
            let documents = client::documents(&documents)?;
            let mut c = connection.connect().await?;
            c.transfers
                .send_transfer(pb::SendTransferRequest {
                    request_id: rid(request_id),
                    receiver: to,
                    suspected_violation: violation,
                    summary,
                    jurisdiction_grounds: grounds,
                    urgent,
                    documents,
                    parties: Vec::new(),
                    case_officer: String::new(),
                    case_officer_phone: String::new(),
                    previous_transfer_id: previous,
                })
                .await
        }
        TransferCommand::Receipt(on) => {
            let mut c = on.connection.connect().await?;
            c.transfers
                .sign_transfer_receipt(pb::SignTransferReceiptRequest {
                    request_id: rid(on.request_id),
                    transfer_id: on.transfer_id,
                })
                .await
        }
        TransferCommand::Accept {
            on,
            case_number,
            note,
        } => {
            let mut c = on.connection.connect().await?;
            c.transfers
                .accept_transfer(pb::AcceptTransferRequest {
                    request_id: rid(on.request_id),
                    transfer_id: on.transfer_id,
                    case_number,
                    note,
                })
                .await
        }
        TransferCommand::Object { on, reasons } => {
            let mut c = on.connection.connect().await?;
            c.transfers
                .object_to_transfer(pb::ObjectToTransferRequest {
                    request_id: rid(on.request_id),
                    transfer_id: on.transfer_id,
                    reasons,
                })
                .await
        }
        TransferCommand::Report {
            on,
            outcome,
            documents,
        } => {
            let documents = client::documents(&documents)?;
            let mut c = on.connection.connect().await?;
            c.transfers
                .report_outcome(pb::ReportOutcomeRequest {
                    request_id: rid(on.request_id),
                    transfer_id: on.transfer_id,
                    outcome,
                    documents,
                })
                .await
        }
        TransferCommand::Decline { on, reasons } => {
            let mut c = on.connection.connect().await?;
            c.transfers
                .decline_transfer(pb::DeclineTransferRequest {
                    request_id: rid(on.request_id),
                    transfer_id: on.transfer_id,
                    reasons,
                })
                .await
        }
        TransferCommand::ContestDecline { on, reasons } => {
            let mut c = on.connection.connect().await?;
            c.transfers
                .contest_decline(pb::ContestDeclineRequest {
                    request_id: rid(on.request_id),
                    transfer_id: on.transfer_id,
                    reasons,
                })
                .await
        }
        TransferCommand::Suspend {
            on,
            reason,
            approval,
        } => {
            let approval = client::document(&approval)?;
            let mut c = on.connection.connect().await?;
            c.transfers
                .suspend_transfer(pb::SuspendTransferRequest {
                    request_id: rid(on.request_id),
                    transfer_id: on.transfer_id,
                    reason,
                    approval: Some(approval),
                })
                .await
        }
        TransferCommand::Resume { on, note } => {
            let mut c = on.connection.connect().await?;
            c.transfers
                .resume_transfer(pb::ResumeTransferRequest {
                    request_id: rid(on.request_id),
                    transfer_id: on.transfer_id,
                    note,
                })
                .await
        }
    };
    let result = result.map_err(fail)?.into_inner();
    client::replayed(result.replayed);
    client::receipt(result.receipt.as_ref())?;
    crate::output::show(&result, |r| {
        r.transfer.as_ref().map(describe).unwrap_or_default()
    })
}
