//! `casebridge monitor`: overdue and due-soon boards, statistics, and the supervisors' reports
//! (月提示 monthly reminders, 季通报 quarterly reports, annual statistics) as text, JSON or CSV.

use anyhow::Context as _;
use casebridge_proto::v1 as pb;
use chrono::{NaiveDate, TimeZone};

use crate::client::{Clients, Connection, explain, wire_time};

/// Output format of reports and lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned lines for people.
    Text,
    Json,
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
    /// A supervisor's report: --month 2026-02 (月提示), --quarter 2026-Q1 (季通报) or --year 2026.
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
        format: Format,
    },
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
        } => {
            let filters = Filters {
                as_of: None,
                agency: None,
                family: None,
                rule: None,
                region: None,
                case: Some(case_id),
                explain: true,
                format,
            };
            list(&connection, &filters, pb::ObligationView::All, 0).await
        }
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
        } => {
            let period = Period::parse(month.as_deref(), quarter.as_deref(), year)?;
            let mut clients = connection.connect().await?;
            report(&mut clients, &period, format).await
        }
    }
}

async fn fetch(
    clients: &mut Clients,
    mut request: pb::ListObligationsRequest,
) -> anyhow::Result<Vec<pb::Obligation>> {
    let mut all = Vec::new();
    loop {
        let page = clients
            .monitor
            .list_obligations(request.clone())
            .await
            .map_err(|s| anyhow::anyhow!(explain(&s)))?
            .into_inner();
        all.extend(page.obligations);
        if page.next_page_token.is_empty() {
            return Ok(all);
        }
        request.page_token = page.next_page_token;
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
    let obligations = fetch(&mut clients, request(filters, view, hours)?).await?;
    match filters.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&obligations_json(&obligations))?
        ),
        Format::Csv => print!("{}", obligations_csv(&obligations)),
        Format::Text => {
            if obligations.is_empty() {
                println!("nothing to show");
            }
            for o in &obligations {
                println!(
                    "{:<9} {:<8} {:<8} due {:<25} {:>7.1} h over  {} owes: {}  ({} {})",
                    o.stage,
                    o.family,
                    o.rule,
                    o.due_at.as_ref().map_or("—".into(), time_text),
                    o.overdue_hours,
                    o.owed_by_name,
                    o.step,
                    o.family,
                    o.case_id
                );
                if filters.explain {
                    for line in &o.explanation {
                        println!("            {line}");
                    }
                }
            }
        }
    }
    Ok(())
}

fn time_text(t: &prost_types::Timestamp) -> String {
    chrono::FixedOffset::east_opt(8 * 3600)
        .and_then(|cst| cst.timestamp_opt(t.seconds, 0).single())
        .map_or_else(String::new, |d| d.format("%Y-%m-%d %H:%M CST").to_string())
}

fn obligations_json(obligations: &[pb::Obligation]) -> serde_json::Value {
    serde_json::Value::Array(
        obligations
            .iter()
            .map(|o| {
                serde_json::json!({
                    "case_id": o.case_id, "family": o.family, "rule": o.rule, "step": o.step,
                    "owed_by": o.owed_by, "owed_by_name": o.owed_by_name, "owed_to": o.owed_to,
                    "supervisor": o.supervisor, "region": o.region, "stage": o.stage,
                    "started_at": o.started_at.as_ref().map(time_text),
                    "due_at": o.due_at.as_ref().map(time_text),
                    "closed_at": o.closed_at.as_ref().map(time_text),
                    "late": o.late, "overdue_hours": o.overdue_hours,
                    "explanation": o.explanation,
                })
            })
            .collect(),
    )
}

/// Quotes a CSV field when it needs it (RFC 4180).
fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

fn csv_line(fields: &[String]) -> String {
    let mut line = fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",");
    line.push('\n');
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
) -> anyhow::Result<Vec<pb::AgencyStatistics>> {
    Ok(clients
        .monitor
        .get_statistics(pb::GetStatisticsRequest {
            from: Some(from),
            to: Some(to),
            agency: String::new(),
        })
        .await
        .map_err(|s| anyhow::anyhow!(explain(&s)))?
        .into_inner()
        .agencies)
}

fn statistics_json(stats: &[pb::AgencyStatistics]) -> serde_json::Value {
    serde_json::Value::Array(
        stats
            .iter()
            .map(|s| {
                serde_json::json!({
                    "agency": s.agency, "name": s.name, "sent": s.sent, "received": s.received,
                    "answered_on_time": s.answered_on_time, "answered_late": s.answered_late,
                    "still_open": s.still_open, "overdue": s.overdue,
                    "median_response_hours": s.median_response_hours,
                    "filing_decisions": s.filing_decisions, "filed": s.filed,
                    "filing_rate": s.filing_rate,
                })
            })
            .collect(),
    )
}

fn statistics_csv(stats: &[pb::AgencyStatistics]) -> String {
    let mut out = csv_line(
        &[
            "agency",
            "name",
            "sent",
            "received",
            "answered_on_time",
            "answered_late",
            "still_open",
            "overdue",
            "median_response_hours",
            "filing_decisions",
            "filed",
            "filing_rate",
        ]
        .map(String::from),
    );
    for s in stats {
        out.push_str(&csv_line(&[
            s.agency.clone(),
            s.name.clone(),
            s.sent.to_string(),
            s.received.to_string(),
            s.answered_on_time.to_string(),
            s.answered_late.to_string(),
            s.still_open.to_string(),
            s.overdue.to_string(),
            format!("{:.1}", s.median_response_hours),
            s.filing_decisions.to_string(),
            s.filed.to_string(),
            format!("{:.3}", s.filing_rate),
        ]));
    }
    out
}

fn print_statistics(stats: &[pb::AgencyStatistics], format: Format) -> anyhow::Result<()> {
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&statistics_json(stats))?),
        Format::Csv => print!("{}", statistics_csv(stats)),
        Format::Text => {
            println!(
                "agency              received on-time late open overdue median-h filing-rate  name"
            );
            for s in stats {
                println!(
                    "{:<19} {:>8} {:>7} {:>4} {:>4} {:>7} {:>8.1} {:>11}  {}",
                    s.agency,
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
                    s.name
                );
            }
        }
    }
    Ok(())
}

/// A report period, in China Standard Time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    /// `monthly_reminder`, `quarterly_report` or `annual_statistics`.
    pub kind: &'static str,
    pub label: String,
    pub first: NaiveDate,
    /// The first day after the period.
    pub end: NaiveDate,
}

impl Period {
    pub fn parse(
        month: Option<&str>,
        quarter: Option<&str>,
        year: Option<i32>,
    ) -> anyhow::Result<Period> {
        let date = |y: i32, m: u32| {
            NaiveDate::from_ymd_opt(y, m, 1).with_context(|| format!("no month {y}-{m:02}"))
        };
        let next = |y: i32, m: u32| {
            if m == 12 {
                date(y + 1, 1)
            } else {
                date(y, m + 1)
            }
        };
        if let Some(month) = month {
            let (y, m) = month
                .split_once('-')
                .and_then(|(y, m)| Some((y.parse().ok()?, m.parse().ok()?)))
                .with_context(|| format!("--month {month:?} must look like 2026-02"))?;
            return Ok(Period {
                kind: "monthly_reminder",
                label: month.to_owned(),
                first: date(y, m)?,
                end: next(y, m)?,
            });
        }
        if let Some(quarter) = quarter {
            let (y, q) = quarter
                .split_once("-Q")
                .and_then(|(y, q)| Some((y.parse::<i32>().ok()?, q.parse::<u32>().ok()?)))
                .filter(|(_, q)| (1..=4).contains(q))
                .with_context(|| format!("--quarter {quarter:?} must look like 2026-Q1"))?;
            return Ok(Period {
                kind: "quarterly_report",
                label: quarter.to_owned(),
                first: date(y, q * 3 - 2)?,
                end: next(y, q * 3)?,
            });
        }
        let year = year.context("choose --month, --quarter or --year")?;
        Ok(Period {
            kind: "annual_statistics",
            label: year.to_string(),
            first: date(year, 1)?,
            end: date(year + 1, 1)?,
        })
    }

    fn bound(date: NaiveDate) -> anyhow::Result<prost_types::Timestamp> {
        wire_time(Some(&format!("{date}T00:00:00+08:00")))
    }
}

/// Statistics of the period, and for monthly and quarterly reports the overdue and due-soon
/// lists as the period ends.
async fn report(clients: &mut Clients, period: &Period, format: Format) -> anyhow::Result<()> {
    let (from, to) = (Period::bound(period.first)?, Period::bound(period.end)?);
    let stats = statistics(clients, from, to).await?;
    let lists = period.kind != "annual_statistics";
    let (overdue, due_soon) = if lists {
        let at = |view: pb::ObligationView| pb::ListObligationsRequest {
            view: view.into(),
            as_of: Some(to),
            due_within_hours: 7 * 24,
            page_size: 500,
            ..pb::ListObligationsRequest::default()
        };
        (
            fetch(clients, at(pb::ObligationView::Overdue)).await?,
            fetch(clients, at(pb::ObligationView::DueSoon)).await?,
        )
    } else {
        (Vec::new(), Vec::new())
    };
    match format {
        Format::Json => {
            let mut value = serde_json::json!({
                "kind": period.kind,
                "period": period.label,
                "from": format!("{} 00:00 CST", period.first),
                "to": format!("{} 00:00 CST", period.end),
                "statistics": statistics_json(&stats),
            });
            if lists {
                value["overdue"] = obligations_json(&overdue);
                value["due_within_7_days"] = obligations_json(&due_soon);
            }
            println!("{}", serde_json::to_string_pretty(&value)?);
        }
        // One table per CSV: the statistics; the lists are in the JSON form and `monitor overdue`.
        Format::Csv => print!("{}", statistics_csv(&stats)),
        Format::Text => {
            println!(
                "{} {} ({} .. {})",
                period.kind, period.label, period.first, period.end
            );
            print_statistics(&stats, Format::Text)?;
            if lists {
                println!("\noverdue at the end of the period: {}", overdue.len());
                println!("falling due in the following 7 days: {}", due_soon.len());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::Datelike;

    use super::*;

    #[test]
    fn periods_cover_whole_months_quarters_and_years() {
        let q = Period::parse(None, Some("2026-Q4"), None).unwrap();
        assert_eq!(
            (q.first.to_string(), q.end.to_string()),
            ("2026-10-01".into(), "2027-01-01".into())
        );
        let m = Period::parse(Some("2026-02"), None, None).unwrap();
        assert_eq!((m.first.month(), m.end.month()), (2, 3));
        let y = Period::parse(None, None, Some(2025)).unwrap();
        assert_eq!(y.kind, "annual_statistics");
        assert!(Period::parse(None, Some("2026-Q5"), None).is_err());
        assert!(Period::parse(Some("Feb"), None, None).is_err());
        assert!(Period::parse(None, None, None).is_err());
    }

    #[test]
    fn csv_fields_with_commas_or_quotes_are_quoted() {
        assert_eq!(
            csv_line(&["a".into(), "b,c".into(), "say \"hi\"".into()]),
            "a,\"b,c\",\"say \"\"hi\"\"\"\n"
        );
    }
}
