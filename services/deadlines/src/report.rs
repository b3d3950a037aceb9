//! Supervisors' reports: the monthly reminder (月提示), the quarterly report (季通报) and the
//! statistics for the annual report (due by 31 January) [notices/003: 行政执法监督"月提示+季通报"
//! 制度; docs/law.md §3 cross-cutting], as JSON or CSV.
//!
//! A report covers obligations started in the period, judged at its end (or now, for a period
//! not yet over): per-agency deadline counts (期限, one per obligation), per-agency case counts
//! per family (案件, one per case opened in the period; see
//! [`monitor::statistics_with_rules`]), per-rule deadline totals, and for the monthly and quarterly
//! reports the viewer's overdue board at the end of the period (the monthly one also what falls
//! due in the following seven days). Supervisors (procuratorates, coordination offices) see every
//! agency; any other agency sees its own row, the rows of the agencies whose superior it is (the
//! directory's `superior`, to which their annual statistics are sent), and the obligations it is
//! party to. The statistics rows also carry 移送率 (penalty records over a threshold, and those
//! referred).

use casebridge_core::calendar;
use casebridge_core::deadline::cst_minute;
use casebridge_core::ids::AgencyCode;
use casebridge_core::refusal::{Refusal, RefusalKind};
use casebridge_core::time::Timestamp;
use casebridge_platform::store::StoreError;
use chrono::{Datelike, NaiveDate};
use serde_json::json;

use crate::api::{AgencyStatistics, ObligationQuery, Reply, ReportFormat, ReportPeriod, View};
use crate::csv::{
    CASE_COLUMNS, STATISTICS_COLUMNS, case_fields, line as csv_line, statistics_fields,
};
use crate::monitor::{self, RuleStatistics};
use crate::store::ObligationRow;

/// The most obligations a report lists; the board (`monitor overdue`) pages through the rest.
pub const LIST_LIMIT: usize = 1_000;

/// A report period resolved to its bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// `monthly_reminder`, `quarterly_report` or `annual_statistics`.
    pub kind: &'static str,
    /// `月提示 monthly reminder`, …
    pub title: &'static str,
    /// `2026-03`, `2026-Q1`, `2026`.
    pub label: String,
    pub first: NaiveDate,
    /// The first day after the period.
    pub end: NaiveDate,
}

impl Span {
    pub fn from(&self) -> Timestamp {
        calendar::start_of_day(self.first)
    }

    pub fn to(&self) -> Timestamp {
        calendar::start_of_day(self.end)
    }
}

/// Why a period cannot be reported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error("month {0} is not 1 to 12")]
    Month(u32),
    #[error("quarter {0} is not 1 to 4")]
    Quarter(u32),
    #[error("year {0} is outside 2000 to 2999")]
    Year(i32),
}

fn first_of(year: i32, month: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, month, 1)
}

fn first_after(year: i32, month: u32) -> Option<NaiveDate> {
    if month == 12 {
        first_of(year + 1, 1)
    } else {
        first_of(year, month + 1)
    }
}

/// The bounds of a report period.
pub fn span(period: ReportPeriod) -> Result<Span, PeriodError> {
    let year = match period {
        ReportPeriod::Month { year, .. }
        | ReportPeriod::Quarter { year, .. }
        | ReportPeriod::Year { year } => year,
    };
    if !(2000..3000).contains(&year) {
        return Err(PeriodError::Year(year));
    }
    let (kind, title, label, first_month, last_month) = match period {
        ReportPeriod::Month { month, .. } => {
            if !(1..=12).contains(&month) {
                return Err(PeriodError::Month(month));
            }
            (
                "monthly_reminder",
                "月提示 monthly reminder",
                format!("{year}-{month:02}"),
                month,
                month,
            )
        }
        ReportPeriod::Quarter { quarter, .. } => {
            if !(1..=4).contains(&quarter) {
                return Err(PeriodError::Quarter(quarter));
            }
            (
                "quarterly_report",
                "季通报 quarterly report",
                format!("{year}-Q{quarter}"),
                quarter * 3 - 2,
                quarter * 3,
            )
        }
        ReportPeriod::Year { .. } => (
            "annual_statistics",
            "年度统计 annual statistics",
            year.to_string(),
            1,
            12,
        ),
    };
    // Both always exist: the year and months were checked above.
    let first = first_of(year, first_month).ok_or(PeriodError::Month(first_month))?;
    let end = first_after(year, last_month).ok_or(PeriodError::Month(last_month))?;
    Ok(Span {
        kind,
        title,
        label,
        first,
        end,
    })
}

/// The monthly reminder due at `now`: the label of the month just ended (`2026-02`) and the
/// moment it is judged at, 00:00 CST on the first day of the current month.
pub fn reminder_month(now: Timestamp) -> (String, Timestamp) {
    let today = calendar::cst_date(now);
    let first = today.with_day(1).unwrap_or(today);
    let ended = first.pred_opt().unwrap_or(first);
    (
        format!("{}-{:02}", ended.year(), ended.month()),
        calendar::start_of_day(first),
    )
}

/// The quarterly bulletin (季通报) due at `now`: the quarter just ended (`ReportPeriod::Quarter`)
/// and the moment it is judged at, 00:00 CST on the first day of the current quarter (1 January,
/// 1 April, 1 July or 1 October).
pub fn bulletin_quarter(now: Timestamp) -> (ReportPeriod, Timestamp) {
    let today = calendar::cst_date(now);
    let first_month = (today.month0() / 3) * 3 + 1;
    let first = first_of(today.year(), first_month).unwrap_or(today);
    let ended = first.pred_opt().unwrap_or(first);
    (
        ReportPeriod::Quarter {
            year: ended.year(),
            quarter: ended.month0() / 3 + 1,
        },
        calendar::start_of_day(first),
    )
}

/// The annual statistics due at `now`: the year just ended, the moment it is judged at (00:00
/// CST on 1 January of the current year), and the due date of the annual report (31 January:
/// statistics sent on or after 00:00 CST on 1 February are late).
pub fn statistics_year(now: Timestamp) -> (i32, Timestamp, NaiveDate) {
    let year = calendar::cst_date(now).year();
    let first = first_of(year, 1).unwrap_or_else(|| calendar::cst_date(now));
    let due_by = NaiveDate::from_ymd_opt(year, 1, 31).unwrap_or(first);
    (year - 1, calendar::start_of_day(first), due_by)
}

/// What a report reads: the store, the moment it is made, the directory and the rule table.
/// The deadlines service hands over its own; the report never reaches back into the service.
#[derive(Debug, Clone, Copy)]
pub struct Sources<'a> {
    pub db: &'a casebridge_platform::store::Db,
    pub now: casebridge_core::time::Timestamp,
    pub directory: &'a casebridge_core::directory::Directory,
    pub rules: &'a casebridge_core::deadline::RuleTable,
}

impl Sources<'_> {
    fn db(&self) -> &casebridge_platform::store::Db {
        self.db
    }

    fn directory(&self) -> &casebridge_core::directory::Directory {
        self.directory
    }

    fn rules(&self) -> &casebridge_core::deadline::RuleTable {
        self.rules
    }
}

/// Builds the report `viewer` asked for.
pub async fn build(
    deadlines: &Sources<'_>,
    viewer: &AgencyCode,
    period: ReportPeriod,
    format: ReportFormat,
) -> Result<Reply, StoreError> {
    let span = match span(period) {
        Ok(span) => span,
        Err(e) => {
            return Ok(Reply::Refused {
                refusal: Refusal::new(
                    RefusalKind::InvalidArgument,
                    "MONITOR",
                    Some("period"),
                    e.to_string(),
                ),
            });
        }
    };
    let db = deadlines.db();
    let judged_at = span.to().min(deadlines.now);
    let sees_all = monitor::sees_all(deadlines.directory(), viewer);
    let scope = (!sees_all).then_some(viewer);
    let stats =
        monitor::statistics_with_rules(db, span.from(), span.to(), judged_at, scope).await?;
    let agencies: Vec<AgencyStatistics> = stats
        .agencies
        .into_iter()
        .filter(|s| monitor::sees_row(deadlines.directory(), viewer, &s.agency))
        .collect();
    let board = |view: View, within_ms: i64| ObligationQuery {
        view,
        as_of: judged_at,
        due_within_ms: within_ms,
        agency: None,
        family: None,
        rule: None,
        region: None,
        case_id: None,
        limit: crate::api::MAX_PAGE,
        after: None,
    };
    let (overdue, overdue_truncated) = if span.kind == "annual_statistics" {
        (Vec::new(), false)
    } else {
        list(deadlines, viewer, board(View::Overdue, 0)).await?
    };
    let (due_soon, due_soon_truncated) = if span.kind == "monthly_reminder" {
        list(deadlines, viewer, board(View::DueSoon, 7 * 86_400_000)).await?
    } else {
        (Vec::new(), false)
    };
    let report = Report {
        span: &span,
        viewer,
        judged_at,
        sees_all,
        agencies: &agencies,
        rules: &stats.rules,
        overdue: &overdue,
        overdue_truncated,
        due_soon: &due_soon,
        due_soon_truncated,
    };
    let file = format!("casebridge-{}-{}", span.kind, span.label);
    Ok(match format {
        ReportFormat::Json => Reply::Report {
            content_type: "application/json".into(),
            file_name: format!("{file}.json"),
            content: serde_json::to_vec_pretty(&report.json(deadlines))
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        },
        ReportFormat::Csv => Reply::Report {
            content_type: "text/csv; charset=utf-8".into(),
            file_name: format!("{file}.csv"),
            content: report.csv(deadlines).into_bytes(),
        },
    })
}

/// Up to [`LIST_LIMIT`] obligations of a board, and whether there were more.
async fn list(
    deadlines: &Sources<'_>,
    viewer: &AgencyCode,
    mut query: ObligationQuery,
) -> Result<(Vec<ObligationRow>, bool), StoreError> {
    let mut all = Vec::new();
    loop {
        // A supervisor's report lists the obligations without a supervisor too, as its board.
        let sees_unsupervised = monitor::sees_all(deadlines.directory(), viewer);
        let (rows, next) =
            monitor::obligations(deadlines.db(), viewer, sees_unsupervised, &query).await?;
        all.extend(rows);
        match next {
            Some(after) if all.len() < LIST_LIMIT => query.after = Some(after),
            Some(_) => return Ok((all, true)),
            None => return Ok((all, false)),
        }
    }
}

/// Everything a report says, before encoding.
struct Report<'a> {
    span: &'a Span,
    viewer: &'a AgencyCode,
    judged_at: Timestamp,
    sees_all: bool,
    agencies: &'a [AgencyStatistics],
    rules: &'a [RuleStatistics],
    overdue: &'a [ObligationRow],
    overdue_truncated: bool,
    due_soon: &'a [ObligationRow],
    due_soon_truncated: bool,
}

fn hours_over(o: &ObligationRow, at: Timestamp) -> f64 {
    match o.due_at {
        Some(due) if due < at => (at.as_millis() - due.as_millis()) as f64 / 3.6e6,
        _ => 0.0,
    }
}

const OBLIGATION_COLUMNS: [&str; 12] = [
    "section",
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
];

impl Report<'_> {
    /// The `cases` section: one row per agency and family with a case.
    fn cases_csv(&self, deadlines: &Sources<'_>, out: &mut String) {
        out.push_str("\r\n");
        let mut columns = vec!["section"];
        columns.extend(CASE_COLUMNS);
        csv_line(out, &columns);
        for a in self.agencies {
            let name = self.name(deadlines, &a.agency);
            for c in &a.cases {
                let mut fields = vec!["cases".to_owned()];
                fields.extend(case_fields(&a.agency, &name, c));
                csv_line(out, &fields);
            }
        }
    }

    fn name(&self, deadlines: &Sources<'_>, code: &str) -> String {
        AgencyCode::parse(code)
            .ok()
            .and_then(|c| deadlines.directory().get(&c).map(|a| a.name.clone()))
            .unwrap_or_default()
    }

    fn obligation_json(&self, deadlines: &Sources<'_>, o: &ObligationRow) -> serde_json::Value {
        json!({
            "case_id": o.case_id.to_string(),
            "family": o.family.as_str(),
            "rule": o.rule,
            "step": deadlines.rules().get(&o.rule).map(|r| r.step.clone()),
            "owed_by": o.owed_by.as_str(),
            "owed_by_name": self.name(deadlines, o.owed_by.as_str()),
            "owed_to": o.owed_to.as_ref().map(AgencyCode::as_str),
            "supervisor": o.supervisor.as_ref().map(AgencyCode::as_str),
            "region": o.region,
            "stage": o.stage.as_str(),
            "started_at": cst_minute(o.started_at),
            "due_at": o.due_at.map(cst_minute),
            "overdue_hours": (hours_over(o, self.judged_at) * 10.0).round() / 10.0,
        })
    }

    fn json(&self, deadlines: &Sources<'_>) -> serde_json::Value {
        let mut value = json!({
            "report": self.span.kind,
            "title": format!("{} {}", self.span.title, self.span.label),
            "period": self.span.label,
            "from": cst_minute(self.span.from()),
            "to": cst_minute(self.span.to()),
            "judged_at": cst_minute(self.judged_at),
            "viewer": self.viewer.as_str(),
            "viewer_name": self.name(deadlines, self.viewer.as_str()),
            "scope": if self.sees_all {
                "every agency"
            } else {
                "the viewer's own obligations, and the rows of the agencies whose superior it is"
            },
            "statistics": self.agencies.iter().map(|s| json!({
                "agency": s.agency,
                "name": self.name(deadlines, &s.agency),
                "sent": s.sent,
                "received": s.received,
                "answered_on_time": s.answered_on_time,
                "answered_late": s.answered_late,
                "still_open": s.still_open,
                "overdue": s.overdue,
                "median_response_hours": (s.median_response_hours * 10.0).round() / 10.0,
                "filing_decisions": s.filing_decisions,
                "filed": s.filed,
                "filing_rate": s.filing_rate,
                "penalty_over_threshold": s.penalty_over_threshold,
                "penalty_referred": s.penalty_referred,
                "referral_rate": s.referral_rate,
                "cases": s.cases.iter().map(|c| json!({
                    "family": c.family.as_str(),
                    "cases_sent": c.cases_sent,
                    "cases_received": c.cases_received,
                    "answered_on_time": c.answered_on_time,
                    "answered_late": c.answered_late,
                    "open": c.open,
                    "overdue": c.overdue,
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "by_rule": self.rules.iter().map(|r| json!({
                "rule": r.rule,
                "family": r.family,
                "step": deadlines.rules().get(&r.rule).map(|x| x.step.clone()),
                "opened": r.opened,
                "answered_on_time": r.answered_on_time,
                "answered_late": r.answered_late,
                "still_open": r.still_open,
                "overdue": r.overdue,
            })).collect::<Vec<_>>(),
        });
        if self.span.kind != "annual_statistics" {
            value["overdue"] = self
                .overdue
                .iter()
                .map(|o| self.obligation_json(deadlines, o))
                .collect();
            value["overdue_truncated"] = self.overdue_truncated.into();
        }
        if self.span.kind == "monthly_reminder" {
            value["due_within_7_days"] = self
                .due_soon
                .iter()
                .map(|o| self.obligation_json(deadlines, o))
                .collect();
            value["due_within_7_days_truncated"] = self.due_soon_truncated.into();
        }
        value
    }

    /// One CSV file: a header row naming the report, then one table per section, each row
    /// starting with its section name (`statistics` counting deadlines, `cases` counting cases,
    /// `by_rule`, `overdue`, `due_soon`) and each table with its own header row.
    fn csv(&self, deadlines: &Sources<'_>) -> String {
        let mut out = String::new();
        let s = |v: &str| v.to_owned();
        csv_line(
            &mut out,
            &[
                s("report"),
                s("period"),
                s("from"),
                s("to"),
                s("judged_at"),
                s("viewer"),
            ],
        );
        csv_line(
            &mut out,
            &[
                s(self.span.kind),
                self.span.label.clone(),
                cst_minute(self.span.from()),
                cst_minute(self.span.to()),
                cst_minute(self.judged_at),
                s(self.viewer.as_str()),
            ],
        );
        out.push_str("\r\n");
        let mut columns = vec!["section"];
        columns.extend(STATISTICS_COLUMNS);
        csv_line(&mut out, &columns);
        for a in self.agencies {
            let mut fields = vec![s("statistics")];
            fields.extend(statistics_fields(a, &self.name(deadlines, &a.agency)));
            csv_line(&mut out, &fields);
        }
        self.cases_csv(deadlines, &mut out);
        out.push_str("\r\n");
        csv_line(
            &mut out,
            &[
                "section",
                "rule",
                "family",
                "step",
                "opened",
                "answered_on_time",
                "answered_late",
                "still_open",
                "overdue",
            ]
            .map(String::from),
        );
        for r in self.rules {
            csv_line(
                &mut out,
                &[
                    s("by_rule"),
                    r.rule.clone(),
                    r.family.clone(),
                    deadlines
                        .rules()
                        .get(&r.rule)
                        .map_or_else(String::new, |x| x.step.clone()),
                    r.opened.to_string(),
                    r.answered_on_time.to_string(),
                    r.answered_late.to_string(),
                    r.still_open.to_string(),
                    r.overdue.to_string(),
                ],
            );
        }
        let mut table = |section: &str, rows: &[ObligationRow]| {
            out.push_str("\r\n");
            csv_line(&mut out, &OBLIGATION_COLUMNS.map(String::from));
            for o in rows {
                csv_line(
                    &mut out,
                    &[
                        s(section),
                        o.case_id.to_string(),
                        s(o.family.as_str()),
                        o.rule.clone(),
                        deadlines
                            .rules()
                            .get(&o.rule)
                            .map_or_else(String::new, |x| x.step.clone()),
                        s(o.owed_by.as_str()),
                        self.name(deadlines, o.owed_by.as_str()),
                        o.supervisor
                            .as_ref()
                            .map_or_else(String::new, |a| a.to_string()),
                        o.region.clone(),
                        s(o.stage.as_str()),
                        o.due_at.map(cst_minute).unwrap_or_default(),
                        format!("{:.1}", hours_over(o, self.judged_at)),
                    ],
                );
            }
        };
        if self.span.kind != "annual_statistics" {
            table("overdue", self.overdue);
        }
        if self.span.kind == "monthly_reminder" {
            table("due_soon", self.due_soon);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).expect("time")
    }

    #[test]
    fn periods_cover_whole_months_quarters_and_years_in_china_standard_time() {
        let q = span(ReportPeriod::Quarter {
            year: 2026,
            quarter: 4,
        })
        .unwrap();
        assert_eq!((q.label.as_str(), q.kind), ("2026-Q4", "quarterly_report"));
        assert_eq!(q.from(), at("2026-10-01T00:00:00+08:00"));
        assert_eq!(q.to(), at("2027-01-01T00:00:00+08:00"));
        let m = span(ReportPeriod::Month {
            year: 2026,
            month: 2,
        })
        .unwrap();
        assert_eq!(m.to(), at("2026-03-01T00:00:00+08:00"));
        let y = span(ReportPeriod::Year { year: 2025 }).unwrap();
        assert_eq!(
            (y.from(), y.to()),
            (
                at("2025-01-01T00:00:00+08:00"),
                at("2026-01-01T00:00:00+08:00")
            )
        );
        assert_eq!(
            span(ReportPeriod::Quarter {
                year: 2026,
                quarter: 5
            }),
            Err(PeriodError::Quarter(5))
        );
        assert_eq!(
            span(ReportPeriod::Month {
                year: 2026,
                month: 0
            }),
            Err(PeriodError::Month(0))
        );
    }

    #[test]
    fn the_bulletin_and_the_annual_statistics_are_of_the_period_just_ended_in_china() {
        // 2027-01-01 00:00 CST is 2026-12-31T16:00Z: the quarter and the year are China's.
        assert_eq!(
            bulletin_quarter(at("2026-12-31T16:00:00Z")),
            (
                ReportPeriod::Quarter {
                    year: 2026,
                    quarter: 4
                },
                at("2027-01-01T00:00:00+08:00")
            )
        );
        assert_eq!(
            bulletin_quarter(at("2026-12-31T15:59:59Z")).0,
            ReportPeriod::Quarter {
                year: 2026,
                quarter: 3
            }
        );
        assert_eq!(
            bulletin_quarter(at("2026-05-20T12:00:00+08:00")),
            (
                ReportPeriod::Quarter {
                    year: 2026,
                    quarter: 1
                },
                at("2026-04-01T00:00:00+08:00")
            )
        );
        let (year, as_of, due_by) = statistics_year(at("2026-12-31T16:00:00Z"));
        assert_eq!((year, as_of), (2026, at("2027-01-01T00:00:00+08:00")));
        assert_eq!(due_by, NaiveDate::from_ymd_opt(2027, 1, 31).unwrap());
    }

    #[test]
    fn the_reminder_of_a_month_is_judged_at_the_first_moment_of_the_next() {
        // 2026-03-01 00:30 CST is still 2026-02-28 in UTC: the month is China's.
        assert_eq!(
            reminder_month(at("2026-03-01T00:30:00+08:00")),
            ("2026-02".to_owned(), at("2026-03-01T00:00:00+08:00"))
        );
        assert_eq!(
            reminder_month(at("2026-01-15T12:00:00+08:00")),
            ("2025-12".to_owned(), at("2026-01-01T00:00:00+08:00"))
        );
    }
}
