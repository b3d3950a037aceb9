//! `casebridge monitor`: overdue and due-soon boards, statistics, and the supervisors' reports
//! (月提示 monthly reminders, 季通报 quarterly reports, annual statistics) as JSON or CSV files
//! made by the deadlines service; `casebridge deadline`: a case's deadlines, and extending one's
//! own deadline.

use std::path::PathBuf;

use anyhow::Context as _;
use casebridge_proto::v1 as pb;
use chrono::TimeZone;

use crate::client::{Clients, Connection, wire_time};

/// Output format of reports and lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned lines for people.
    Text,
    /// The response in protobuf's JSON mapping, as the global `--json` prints it.
    Json,
    /// One row per obligation (or agency), for spreadsheets.
    Csv,
}

/// Filters shared by the lists.
#[derive(Debug, Clone, clap::Args)]
pub struct Filters {
    /// Take the view as it stood at this RFC 3339 time (default now).
    #[arg(long)]
    pub as_of: Option<String>,
    /// Only obligations owed by this agency.
    #[arg(long)]
    pub agency: Option<String>,
    /// Only this family: referral, transfer, dispute or opinion.
    #[arg(long)]
    pub family: Option<String>,
    /// Only this rule id, e.g. S1-8.
    #[arg(long)]
    pub rule: Option<String>,
    /// Only agencies of this 6-digit region code.
    #[arg(long)]
    pub region: Option<String>,
    /// Only this case.
    #[arg(long)]
    pub case: Option<String>,
    /// Print each obligation's due-date explanation.
    #[arg(long)]
    pub explain: bool,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(Debug, clap::Subcommand)]
pub enum MonitorCommand {
    /// Obligations past their due time and not fulfilled (逾期).
    Overdue {
        #[command(flatten)]
        connection: Connection,
        #[command(flatten)]
        filters: Filters,
    },
    /// Obligations falling due within the next hours (即将到期).
    DueSoon {
        #[command(flatten)]
        connection: Connection,
        #[command(flatten)]
        filters: Filters,
        /// How far ahead to look, in hours.
        #[arg(long, default_value_t = 24)]
        hours: u32,
    },
    /// Every obligation of one case, fulfilled or not.
    Case {
        #[command(flatten)]
        connection: Connection,
        case_id: String,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Per-agency statistics for a period.
    Stats {
        #[command(flatten)]
        connection: Connection,
        /// Start (RFC 3339, inclusive).
        #[arg(long)]
        from: String,
        /// End (RFC 3339, exclusive).
        #[arg(long)]
        to: String,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// A supervisor's report, made by the deadlines service: --month 2026-02 (月提示),
    /// --quarter 2026-Q1 (季通报) or --year 2026 (annual statistics), as JSON or CSV.
    Report {
        #[command(flatten)]
        connection: Connection,
        #[arg(long, conflicts_with_all = ["quarter", "year"])]
        month: Option<String>,
        #[arg(long, conflicts_with = "year")]
        quarter: Option<String>,
        #[arg(long)]
        year: Option<i32>,
        #[arg(long, value_enum, default_value = "json")]
        format: ReportFormat,
        /// Write the report to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Encoding of a report file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Json,
    Csv,
}

#[derive(Debug, clap::Subcommand)]
pub enum DeadlineCommand {
    /// Every deadline of one case with its ledger (parties to the case only).
    Show {
        #[command(flatten)]
        connection: Connection,
        case_id: String,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Extend your own deadline before it passes, with the approval reference (延长, S4 Art 45):
    /// to one of the rule's tiers (--tier, see `deadline show`) or to an announced last day
    /// (--until, as an expert announces a new date).
    Extend {
        #[command(flatten)]
        connection: Connection,
        case_id: String,
        /// The rule whose deadline is extended, e.g. S1-8 or SAMR-45.
        #[arg(long)]
        rule: String,
        /// The extension tier to reach (1 = the rule's first tier).
        #[arg(long, conflicts_with = "until", required_unless_present = "until")]
        tier: Option<u32>,
        /// The new last day, YYYY-MM-DD (China Standard Time).
        #[arg(long)]
        until: Option<String>,
        /// The approval document's reference (审批文号).
        #[arg(long)]
        approval: String,
        /// Why the deadline is extended.
        #[arg(long)]
        reason: String,
        /// Idempotency key; default a new random one. Reuse it to retry safely.
        #[arg(long)]
        request_id: Option<String>,
    },
}

pub async fn run_deadline(command: DeadlineCommand) -> anyhow::Result<()> {
    match command {
        DeadlineCommand::Show {
            connection,
            case_id,
            format,
        } => show_case(&connection, case_id, format).await,
        DeadlineCommand::Extend {
            connection,
            case_id,
            rule,
            tier,
            until,
            approval,
            reason,
            request_id,
        } => {
            use pb::extend_deadline_request::Target;
            let target = match (tier, until) {
                (Some(tier), None) => Target::Tier(tier),
                (None, Some(until)) => Target::Until(until),
                _ => anyhow::bail!("give exactly one of --tier N or --until YYYY-MM-DD"),
            };
            let extended = connection
                .connect()
                .await?
                .deadlines
                .extend_deadline(pb::ExtendDeadlineRequest {
                    request_id: request_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
                    case_id,
                    rule,
                    target: Some(target),
                    approval_reference: approval,
                    reason,
                })
                .await
                .map_err(crate::client::rpc)?
                .into_inner();
            crate::client::replayed(extended.replayed);
            crate::client::receipt(extended.receipt.as_ref())?;
            crate::output::show(&extended, |e| {
                obligations_text(e.obligation.as_slice(), true)
            })
        }
    }
}

async fn show_case(connection: &Connection, case_id: String, format: Format) -> anyhow::Result<()> {
    let deadlines = connection
        .connect()
        .await?
        .deadlines
        .list_case_deadlines(pb::ListCaseDeadlinesRequest { case_id })
        .await
        .map_err(crate::client::rpc)?
        .into_inner();
    print_as(format, &deadlines, |d| &d.obligations, true)
}

pub async fn run(command: MonitorCommand) -> anyhow::Result<()> {
    match command {
        MonitorCommand::Overdue {
            connection,
            filters,
        } => list(&connection, &filters, pb::ObligationView::Overdue, 0).await,
        MonitorCommand::DueSoon {
            connection,
            filters,
            hours,
        } => list(&connection, &filters, pb::ObligationView::DueSoon, hours).await,
        MonitorCommand::Case {
            connection,
            case_id,
            format,
        } => show_case(&connection, case_id, format).await,
        MonitorCommand::Stats {
            connection,
            from,
            to,
            format,
        } => {
            let mut clients = connection.connect().await?;
            let stats =
                statistics(&mut clients, wire_time(Some(&from))?, wire_time(Some(&to))?).await?;
            print_statistics(&stats, format)
        }
        MonitorCommand::Report {
            connection,
            month,
            quarter,
            year,
            format,
            out,
        } => {
            let mut request = report_request(month.as_deref(), quarter.as_deref(), year)?;
            request.format = match format {
                ReportFormat::Json => pb::ReportFormat::Json,
                ReportFormat::Csv => pb::ReportFormat::Csv,
            }
            .into();
            let report = connection
                .connect()
                .await?
                .monitor
                .get_report(request)
                .await
                .map_err(crate::client::rpc)?
                .into_inner();
            match out {
                Some(path) => {
                    std::fs::write(&path, &report.content)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    eprintln!(
                        "{} ({}, {} bytes) written to {}",
                        report.file_name,
                        report.content_type,
                        report.content.len(),
                        path.display()
                    );
                }
                None => {
                    use std::io::Write as _;
                    std::io::stdout().write_all(&report.content)?;
                }
            }
            Ok(())
        }
    }
}

/// Every page of a listing, as one response (the first page's `as_of`).
async fn fetch(
    clients: &mut Clients,
    mut request: pb::ListObligationsRequest,
) -> anyhow::Result<pb::ListObligationsResponse> {
    let mut all = pb::ListObligationsResponse::default();
    loop {
        let page = clients
            .monitor
            .list_obligations(request.clone())
            .await
            .map_err(crate::client::rpc)?
            .into_inner();
        all.obligations.extend(page.obligations);
        all.as_of = all.as_of.or(page.as_of);
        if page.next_page_token.is_empty() {
            return Ok(all);
        }
        request.page_token = page.next_page_token;
    }
}

/// Prints a response holding obligations in `format` (JSON with `--json` whatever `format`).
fn print_as<M: prost::Message + prost::Name>(
    format: Format,
    response: &M,
    obligations: impl Fn(&M) -> &Vec<pb::Obligation>,
    explain: bool,
) -> anyhow::Result<()> {
    match format {
        Format::Csv if !crate::output::json() => {
            print!("{}", obligations_csv(obligations(response)));
            Ok(())
        }
        Format::Json => {
            crate::output::use_json();
            crate::output::show(response, |_| String::new())
        }
        _ => crate::output::show(response, |r| obligations_text(obligations(r), explain)),
    }
}

fn request(
    filters: &Filters,
    view: pb::ObligationView,
    hours: u32,
) -> anyhow::Result<pb::ListObligationsRequest> {
    Ok(pb::ListObligationsRequest {
        view: view.into(),
        as_of: filters
            .as_of
            .as_deref()
            .map(|t| wire_time(Some(t)))
            .transpose()?,
        due_within_hours: hours,
        agency: filters.agency.clone().unwrap_or_default(),
        family: filters.family.clone().unwrap_or_default(),
        rule: filters.rule.clone().unwrap_or_default(),
        region: filters.region.clone().unwrap_or_default(),
        case_id: filters.case.clone().unwrap_or_default(),
        page_size: 500,
        page_token: String::new(),
    })
}

async fn list(
    connection: &Connection,
    filters: &Filters,
    view: pb::ObligationView,
    hours: u32,
) -> anyhow::Result<()> {
    let mut clients = connection.connect().await?;
    let listed = fetch(&mut clients, request(filters, view, hours)?).await?;
    print_as(filters.format, &listed, |l| &l.obligations, filters.explain)
}

/// Aligned lines for people, each with its explanation when `explain`.
fn obligations_text(obligations: &[pb::Obligation], explain: bool) -> String {
    use std::fmt::Write as _;
    let mut text = String::new();
    if obligations.is_empty() {
        text.push_str("nothing to show\n");
    }
    for o in obligations {
        let _ = writeln!(
            text,
            "{:<9} {:<8} {:<8} due {:<25} {:>12}  {} owes: {}  ({} {})",
            o.stage,
            o.family,
            o.rule,
            o.due_at.as_ref().map_or("—".into(), |t| if o.provisional {
                format!("{} (provisional)", due_text(t))
            } else {
                due_text(t)
            }),
            ageing(o),
            o.owed_by_name,
            o.step,
            o.family,
            o.case_id
        );
        if explain {
            for line in &o.explanation {
                let _ = writeln!(text, "            {line}");
            }
            if !o.extension_tiers.is_empty() {
                let tiers: Vec<String> = o
                    .extension_tiers
                    .iter()
                    .enumerate()
                    .map(|(i, t)| format!("--tier {}: {t}", i + 1))
                    .collect();
                let _ = writeln!(text, "            extension tiers: {}", tiers.join(", "));
            }
        }
    }
    text
}

/// How long an obligation is overdue, for people: nothing once it is closed or while it is not.
fn ageing(o: &pb::Obligation) -> String {
    if o.closed_at.is_some() || o.overdue_hours <= 0.0 {
        String::new()
    } else {
        format!("{:.1} h over", o.overdue_hours)
    }
}

/// A due time as the law counts it: a period that ends at midnight ends at 24:00 of its last
/// day, as the explanations say (issue 15: "12-08 00:00" here, "12-07 24:00" there).
fn due_text(t: &prost_types::Timestamp) -> String {
    t.seconds
        .checked_mul(1000)
        .and_then(|ms| casebridge_core::time::Timestamp::try_from_millis(ms).ok())
        .map_or_else(String::new, |at| {
            format!("{} CST", casebridge_core::calendar::law_minute(at))
        })
}

/// A moment in China Standard Time, to the minute.
pub(crate) fn time_text(t: &prost_types::Timestamp) -> String {
    chrono::FixedOffset::east_opt(8 * 3600)
        .and_then(|cst| cst.timestamp_opt(t.seconds, 0).single())
        .map_or_else(String::new, |d| d.format("%Y-%m-%d %H:%M CST").to_string())
}

/// One CSV line, by the statistics' own writer.
fn csv_line(fields: &[String]) -> String {
    let mut line = String::new();
    casebridge_deadlines::csv::line(&mut line, fields);
    line
}

fn obligations_csv(obligations: &[pb::Obligation]) -> String {
    let mut out = csv_line(
        &[
            "case_id",
            "family",
            "rule",
            "step",
            "owed_by",
            "owed_by_name",
            "supervisor",
            "region",
            "stage",
            "due_at",
            "overdue_hours",
            "late",
        ]
        .map(String::from),
    );
    for o in obligations {
        out.push_str(&csv_line(&[
            o.case_id.clone(),
            o.family.clone(),
            o.rule.clone(),
            o.step.clone(),
            o.owed_by.clone(),
            o.owed_by_name.clone(),
            o.supervisor.clone(),
            o.region.clone(),
            o.stage.clone(),
            o.due_at.as_ref().map(time_text).unwrap_or_default(),
            format!("{:.1}", o.overdue_hours),
            o.late.to_string(),
        ]));
    }
    out
}

async fn statistics(
    clients: &mut Clients,
    from: prost_types::Timestamp,
    to: prost_types::Timestamp,
) -> anyhow::Result<pb::GetStatisticsResponse> {
    Ok(clients
        .monitor
        .get_statistics(pb::GetStatisticsRequest {
            from: Some(from),
            to: Some(to),
            agency: String::new(),
        })
        .await
        .map_err(crate::client::rpc)?
        .into_inner())
}

/// The statistics as the reports' two tables (without their `section` column): the deadline
/// counts (期限, one per obligation), a blank line, then the case counts per family (案件).
fn statistics_csv(stats: &[pb::AgencyStatistics]) -> String {
    use casebridge_deadlines::csv::{CASE_COLUMNS, STATISTICS_COLUMNS, case_fields, line};
    let mut out = String::new();
    line(&mut out, &STATISTICS_COLUMNS);
    for s in stats {
        line(
            &mut out,
            &casebridge_deadlines::csv::statistics_fields(&deadline_counts(s), &s.name),
        );
    }
    out.push_str("\r\n");
    line(&mut out, &CASE_COLUMNS);
    for s in stats {
        for c in s.cases.iter().filter_map(case_counts) {
            line(&mut out, &case_fields(&s.agency, &s.name, &c));
        }
    }
    out
}

/// The deadline counts of a wire row, as the CSV writer takes them.
fn deadline_counts(s: &pb::AgencyStatistics) -> casebridge_deadlines::api::AgencyStatistics {
    casebridge_deadlines::api::AgencyStatistics {
        agency: s.agency.clone(),
        sent: s.sent,
        received: s.received,
        answered_on_time: s.answered_on_time,
        answered_late: s.answered_late,
        still_open: s.still_open,
        overdue: s.overdue,
        median_response_hours: s.median_response_hours,
        filing_decisions: s.filing_decisions,
        filed: s.filed,
        filing_rate: s.filing_rate,
        penalty_over_threshold: s.penalty_over_threshold,
        penalty_referred: s.penalty_referred,
        referral_rate: s.referral_rate,
        cases: Vec::new(),
    }
}

/// The case counts of a wire row, as the CSV writer takes them; `None` for a family this CLI
/// does not know (a newer gateway's), which is left out.
fn case_counts(c: &pb::FamilyCaseCounts) -> Option<casebridge_deadlines::api::FamilyCaseCounts> {
    let family = serde_json::from_value(serde_json::Value::String(c.family.clone())).ok()?;
    Some(casebridge_deadlines::api::FamilyCaseCounts {
        family,
        cases_sent: c.cases_sent,
        cases_received: c.cases_received,
        answered_on_time: c.answered_on_time,
        answered_late: c.answered_late,
        open: c.open,
        overdue: c.overdue,
    })
}

fn print_statistics(stats: &pb::GetStatisticsResponse, format: Format) -> anyhow::Result<()> {
    match format {
        Format::Csv if !crate::output::json() => {
            print!("{}", statistics_csv(&stats.agencies));
            Ok(())
        }
        Format::Json => {
            crate::output::use_json();
            crate::output::show(stats, |_| String::new())
        }
        _ => crate::output::show(stats, |stats| statistics_text(&stats.agencies)),
    }
}

/// The statistics as text: the case counts per agency and family, then the deadline counts.
fn statistics_text(stats: &[pb::AgencyStatistics]) -> String {
    let mut text = cases_text(stats);
    text.push('\n');
    text.push_str(&deadlines_text(stats));
    text
}

/// Cases (案件), each counted once per agency, family and column.
fn cases_text(stats: &[pb::AgencyStatistics]) -> String {
    use std::fmt::Write as _;
    let mut text = String::from(
        "cases (案件, each counted once: 发出案件 sent, 收到案件 received, 按时办结 on-time, \
         逾期办结 late, 未办结 open, 逾期未办 overdue)\n",
    );
    let _ = writeln!(
        text,
        "{:<19} {:<8} {:>5} {:>8} {:>7} {:>4} {:>4} {:>7}  name",
        "agency", "family", "sent", "received", "on-time", "late", "open", "overdue"
    );
    for s in stats {
        for c in &s.cases {
            let _ = writeln!(
                text,
                "{:<19} {:<8} {:>5} {:>8} {:>7} {:>4} {:>4} {:>7}  {}",
                s.agency,
                c.family,
                c.cases_sent,
                c.cases_received,
                c.answered_on_time,
                c.answered_late,
                c.open,
                c.overdue,
                s.name
            );
        }
    }
    text
}

/// Deadlines (期限), each step owed counted once: those owed to the agency and those it owed.
fn deadlines_text(stats: &[pb::AgencyStatistics]) -> String {
    use std::fmt::Write as _;
    let mut text = String::from(
        "deadlines (期限, each step counted once: owed-to = steps owed to the agency, \
         owed = steps it owed, and how those stand; referral-rate = 移送率, penalty records \
         over a threshold that were referred)\n",
    );
    let _ = writeln!(
        text,
        "{:<19} {:>8} {:>8} {:>7} {:>4} {:>4} {:>7} {:>8} {:>11} {:>13}  name",
        "agency",
        "owed-to",
        "owed",
        "on-time",
        "late",
        "open",
        "overdue",
        "median-h",
        "filing-rate",
        "referral-rate"
    );
    for s in stats {
        let _ = writeln!(
            text,
            "{:<19} {:>8} {:>8} {:>7} {:>4} {:>4} {:>7} {:>8.1} {:>11} {:>13}  {}",
            s.agency,
            s.sent,
            s.received,
            s.answered_on_time,
            s.answered_late,
            s.still_open,
            s.overdue,
            s.median_response_hours,
            if s.filing_decisions > 0 {
                format!("{:.0}%", s.filing_rate * 100.0)
            } else {
                "—".into()
            },
            referral_rate(s),
            s.name
        );
    }
    text
}

/// 移送率 as text: `50% (1/2)`, or `—` when no penalty record met a threshold.
fn referral_rate(s: &pb::AgencyStatistics) -> String {
    s.referral_rate.map_or_else(
        || "—".into(),
        |rate| {
            format!(
                "{:.0}% ({}/{})",
                rate * 100.0,
                s.penalty_referred,
                s.penalty_over_threshold
            )
        },
    )
}

/// The report named by --month 2026-02, --quarter 2026-Q1 or --year 2026 (format unset).
pub fn report_request(
    month: Option<&str>,
    quarter: Option<&str>,
    year: Option<i32>,
) -> anyhow::Result<pb::GetReportRequest> {
    let mut request = pb::GetReportRequest::default();
    if let Some(month) = month {
        let (y, m) = month
            .split_once('-')
            .and_then(|(y, m)| Some((y.parse().ok()?, m.parse().ok()?)))
            .filter(|(_, m)| (1..=12).contains(m))
            .with_context(|| format!("--month {month:?} must look like 2026-02"))?;
        request.kind = pb::ReportKind::Monthly.into();
        (request.year, request.month) = (y, m);
    } else if let Some(quarter) = quarter {
        let (y, q) = quarter
            .split_once("-Q")
            .and_then(|(y, q)| Some((y.parse().ok()?, q.parse().ok()?)))
            .filter(|(_, q)| (1..=4).contains(q))
            .with_context(|| format!("--quarter {quarter:?} must look like 2026-Q1"))?;
        request.kind = pb::ReportKind::Quarterly.into();
        (request.year, request.quarter) = (y, q);
    } else {
        request.year = year.context("choose --month, --quarter or --year")?;
        request.kind = pb::ReportKind::Annual.into();
    }
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, clap::Parser)]
    struct Probe {
        #[command(subcommand)]
        command: MonitorCommand,
    }

    #[test]
    fn due_times_read_as_the_law_counts_them_and_closed_ones_are_not_overdue() {
        let at = |s: &str| prost_types::Timestamp {
            seconds: chrono::DateTime::parse_from_rfc3339(s)
                .expect("time")
                .timestamp(),
            nanos: 0,
        };
        assert_eq!(
            due_text(&at("2026-12-08T00:00:00+08:00")),
            "2026-12-07 24:00 CST"
        );
        assert_eq!(
            due_text(&at("2026-12-08T10:30:00+08:00")),
            "2026-12-08 10:30 CST"
        );
        let mut o = pb::Obligation {
            overdue_hours: 5.0,
            ..pb::Obligation::default()
        };
        assert_eq!(ageing(&o), "5.0 h over");
        o.closed_at = Some(at("2026-12-08T10:30:00+08:00"));
        assert_eq!(ageing(&o), "");
        o.closed_at = None;
        o.overdue_hours = 0.0;
        assert_eq!(ageing(&o), "");
    }

    #[test]
    fn the_agency_filter_is_not_the_agency_signed_in_as() {
        use clap::Parser as _;
        let probe = Probe::try_parse_from([
            "monitor",
            "overdue",
            "--as",
            "11350100MB0100008A",
            "--agency",
            "11350100MB01000064",
        ])
        .expect("--as and --agency together");
        let MonitorCommand::Overdue {
            connection,
            filters,
        } = probe.command
        else {
            panic!("overdue");
        };
        assert_eq!(connection.agency.as_deref(), Some("11350100MB0100008A"));
        assert_eq!(filters.agency.as_deref(), Some("11350100MB01000064"));
    }

    #[test]
    fn report_periods_are_read_from_the_flags() {
        let q = report_request(None, Some("2026-Q4"), None).unwrap();
        assert_eq!(
            (q.kind, q.year, q.quarter),
            (pb::ReportKind::Quarterly as i32, 2026, 4)
        );
        let m = report_request(Some("2026-02"), None, None).unwrap();
        assert_eq!(
            (m.kind, m.year, m.month),
            (pb::ReportKind::Monthly as i32, 2026, 2)
        );
        let y = report_request(None, None, Some(2025)).unwrap();
        assert_eq!((y.kind, y.year), (pb::ReportKind::Annual as i32, 2025));
        assert!(report_request(None, Some("2026-Q5"), None).is_err());
        assert!(report_request(Some("2026-13"), None, None).is_err());
        assert!(report_request(Some("Feb"), None, None).is_err());
        assert!(report_request(None, None, None).is_err());
    }

    #[test]
    fn the_statistics_say_cases_and_deadlines_apart() {
        let row = pb::AgencyStatistics {
            agency: "11350100MB0100002P".into(),
            name: "福州市市场监督管理局".into(),
            sent: 13,
            received: 1,
            answered_late: 1,
            penalty_over_threshold: 2,
            penalty_referred: 1,
            referral_rate: Some(0.5),
            cases: vec![
                pb::FamilyCaseCounts {
                    family: "referral".into(),
                    cases_sent: 3,
                    ..Default::default()
                },
                pb::FamilyCaseCounts {
                    family: "unknown".into(),
                    cases_sent: 9,
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let text = statistics_text(std::slice::from_ref(&row));
        assert!(text.starts_with("cases (案件"), "{text}");
        assert!(text.contains("\ndeadlines (期限"), "{text}");
        assert!(
            text.contains("11350100MB0100002P  referral     3        0"),
            "{text}"
        );
        let csv = statistics_csv(std::slice::from_ref(&row));
        let mut tables = csv.split("\r\n\r\n");
        let deadlines = tables.next().unwrap_or_default();
        assert!(deadlines.starts_with("agency,name,sent,received,"), "{csv}");
        assert!(deadlines.contains(",13,1,0,1,0,0,"), "{csv}");
        assert!(
            deadlines
                .contains(",filing_rate,penalty_over_threshold,penalty_referred,referral_rate\r\n"),
            "{csv}"
        );
        assert!(deadlines.ends_with(",0.000,2,1,0.500"), "{csv}");
        assert!(text.contains("50% (1/2)"), "移送率 in the text: {text}");
        let cases = tables.next().unwrap_or_default();
        assert_eq!(
            cases,
            "agency,name,family,cases_sent,cases_received,answered_on_time,answered_late,open,\
             overdue\r\n11350100MB0100002P,福州市市场监督管理局,referral,3,0,0,0,0,0\r\n",
            "an unknown family is left out"
        );
    }
}
