//! `casebridge rectification …`: rectification requests (整改通知): a coordination office, a
//! procuratorate or an agency's superior asks an administrative agency to rectify the problems it
//! found; the agency reports (整改报告); the requester accepts the report or returns it
//! (复查不合格).

use casebridge_proto::v1 as pb;
use clap::Subcommand;

use crate::client::{self, Connection, enum_name};

/// Options every step on a rectification request takes.
#[derive(Debug, Clone, clap::Args)]
pub struct On {
    #[command(flatten)]
    pub connection: Connection,
    /// The request's id.
    pub rectification_id: String,
    /// Idempotency key; default a new random one. Reuse it to retry safely.
    #[arg(long)]
    pub request_id: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum RectificationCommand {
    /// Ask an administrative agency to rectify the problems found (督促整改); the agency then owes
    /// a report (RECT-REPORT, 30 days by default: a setting).
    Request {
        #[command(flatten)]
        connection: Connection,
        /// Agency code of the administrative agency asked.
        #[arg(long)]
        to: String,
        /// The problems found.
        #[arg(long)]
        findings: String,
        /// The report period they were found in: 2026, 2026-Q3 or 2026-07.
        #[arg(long)]
        period: Option<String>,
        /// A case they were found in, one you are a party to; repeat for several.
        #[arg(long = "case", value_name = "CASE_ID")]
        cases: Vec<String>,
        /// The date the notice states for the report (整改期限), RFC 3339; shown to the agency.
        #[arg(long, value_name = "TIME")]
        due_by: Option<String>,
        #[arg(long = "document", value_name = "KIND:TITLE[:SHA256]")]
        documents: Vec<String>,
        #[arg(long)]
        request_id: Option<String>,
    },
    /// Show a rectification request (parties only).
    Show {
        #[command(flatten)]
        connection: Connection,
        rectification_id: String,
    },
    /// List your rectification requests: made, received, or supervised as the superior.
    List {
        #[command(flatten)]
        connection: Connection,
        #[command(flatten)]
        paging: client::Paging,
    },
    /// Report what your agency did (整改报告); a late report is taken and marked late.
    Report {
        #[command(flatten)]
        on: On,
        /// The measures taken.
        #[arg(long)]
        measures: String,
        #[arg(long = "document", value_name = "KIND:TITLE[:SHA256]")]
        documents: Vec<String>,
    },
    /// Accept the agency's report, closing the request (复查合格).
    Accept {
        #[command(flatten)]
        on: On,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Return the agency's report with reasons (复查不合格): a new report is owed.
    Return {
        #[command(flatten)]
        on: On,
        #[arg(long)]
        reasons: String,
    },
}

fn rid(given: Option<String>) -> String {
    given.unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// A one-screen description of a rectification request.
pub fn describe(c: &pb::Rectification) -> String {
    let status = pb::RectificationStatus::try_from(c.status)
        .map(|s| enum_name(s.as_str_name(), "RECTIFICATION_STATUS_"))
        .unwrap_or_else(|_| "unknown".into());
    let overdue = if c.overdue { ", report overdue" } else { "" };
    let mut text = format!(
        "rectification {}\n  status:    {status}{overdue} (version {})\n  from:      {}\n  to:        {}\n",
        c.id, c.version, c.requester, c.agency
    );
    if !c.superior.is_empty() {
        text.push_str(&format!("  superior:  {}\n", c.superior));
    }
    text.push_str(&format!("  findings:  {}\n", c.findings));
    if let Some(basis) = &c.basis {
        if !basis.period.is_empty() {
            text.push_str(&format!("  period:    {}\n", basis.period));
        }
        for case in &basis.case_ids {
            text.push_str(&format!("  case:      {case}\n"));
        }
    }
    for (i, r) in c.reports.iter().enumerate() {
        let late = if r.late { " (late)" } else { "" };
        text.push_str(&format!("  report {}{late}: {}\n", i + 1, r.measures));
        if !r.returned_reasons.is_empty() {
            text.push_str(&format!("    returned: {}\n", r.returned_reasons));
        }
    }
    text.push_str(&client::history(&c.history));
    text
}

pub async fn run(command: RectificationCommand) -> anyhow::Result<()> {
    let fail = crate::client::rpc;
    let result = match command {
        RectificationCommand::Show {
            connection,
            rectification_id,
        } => {
            let c = connection
                .connect()
                .await?
                .rectifications
                .get_rectification(pb::GetRectificationRequest { rectification_id })
                .await
                .map_err(fail)?
                .into_inner();
            return crate::output::show(&c, describe);
        }
        RectificationCommand::List { connection, paging } => {
            let service = connection.connect().await?.rectifications;
            let page = paging
                .fetch(|request| {
                    let mut service = service.clone();
                    async move { service.list_rectifications(request).await }
                })
                .await?;
            return crate::output::show(&page, client::listing);
        }
        RectificationCommand::Request {
            connection,
            to,
            findings,
            period,
            cases,
            due_by,
            documents,
            request_id,
        } => {
            let documents = client::documents(&documents)?;
            let due_by = due_by
                .as_deref()
                .map(|t| client::wire_time(Some(t)))
                .transpose()?;
            let mut c = connection.connect().await?;
            c.rectifications
                .request_rectification(pb::RequestRectificationRequest {
                    request_id: rid(request_id),
                    to,
                    findings,
                    basis: Some(pb::RectificationBasis {
                        period: period.unwrap_or_default(),
                        case_ids: cases,
                    }),
                    documents,
                    due_by,
                })
                .await
        }
        RectificationCommand::Report {
            on,
            measures,
            documents,
        } => {
            let documents = client::documents(&documents)?;
            let mut c = on.connection.connect().await?;
            c.rectifications
                .report_rectification(pb::ReportRectificationRequest {
                    request_id: rid(on.request_id),
                    rectification_id: on.rectification_id,
                    measures,
                    documents,
                })
                .await
        }
        RectificationCommand::Accept { on, note } => {
            let mut c = on.connection.connect().await?;
            c.rectifications
                .accept_rectification(pb::AcceptRectificationRequest {
                    request_id: rid(on.request_id),
                    rectification_id: on.rectification_id,
                    note,
                })
                .await
        }
        RectificationCommand::Return { on, reasons } => {
            let mut c = on.connection.connect().await?;
            c.rectifications
                .return_rectification(pb::ReturnRectificationRequest {
                    request_id: rid(on.request_id),
                    rectification_id: on.rectification_id,
                    reasons,
                })
                .await
        }
    };
    let result = result.map_err(fail)?.into_inner();
    client::replayed(result.replayed);
    client::receipt(result.receipt.as_ref())?;
    crate::output::show(&result, |r| {
        r.rectification.as_ref().map(describe).unwrap_or_default()
    })
}
