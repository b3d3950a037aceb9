//! Statistics: per-agency figures with a chart, and the monthly, quarterly and annual reports
//! as files to save.

use axum::extract::Query;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use casebridge_proto::v1 as pb;
use casebridge_proto::v1::monitor_service_server::MonitorService as _;
use serde::Deserialize;

use super::parts::{Look, failed, status_text};
use crate::console::html::{Markup, markup, notice, page};
use crate::console::viewer::Viewer;

#[derive(Debug, Default, Deserialize)]
pub(super) struct StatsQuery {
    /// First day, YYYY-MM-DD (CST); default: the first of this month.
    #[serde(default)]
    from: String,
    /// Last day, YYYY-MM-DD (CST), included; default: today.
    #[serde(default)]
    to: String,
}

/// A day's start in China Standard Time, as a wire timestamp.
fn day_start(day: chrono::NaiveDate) -> prost_types::Timestamp {
    let seconds = day
        .and_hms_opt(0, 0, 0)
        .map_or(0, |t| t.and_utc().timestamp())
        - 8 * 3600;
    prost_types::Timestamp { seconds, nanos: 0 }
}

/// Per-agency figures with charts, and the monthly, quarterly and annual reports as files.
pub(super) async fn stats(viewer: Viewer, Query(q): Query<StatsQuery>) -> Response {
    use chrono::Datelike as _;
    let lang = viewer.lang;
    let today = viewer.state.ctx.clock.now().to_cst().date_naive();
    let first_of_month = today.with_day(1).unwrap_or(today);
    let parse =
        |s: &str, default| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or(default);
    let (from, to) = (parse(&q.from, first_of_month), parse(&q.to, today));
    let mut body = markup!(
        "<form class=\"filters\" method=\"get\" action=\"/stats\"><label>{}<input type=\"date\" name=\"from\" value=\"{from}\"></label>\
         <label>{}<input type=\"date\" name=\"to\" value=\"{to}\"></label><button>{}</button></form>",
        lang.t("起", "From"),
        lang.t("止（含）", "To (included)"),
        lang.t("统计", "Show"),
        from = from,
        to = to,
    );
    let request = pb::GetStatisticsRequest {
        from: Some(day_start(from)),
        to: Some(day_start(to + chrono::Duration::days(1))),
        agency: String::new(),
    };
    match viewer
        .state
        .monitor
        .get_statistics(viewer.request(request))
        .await
    {
        Ok(r) => body.push(statistics(&Look::of(&viewer), &r.into_inner().agencies)),
        Err(status) => body.push(notice("error", &status_text(viewer.lang, &status))),
    }
    let (year, month) = (today.year(), today.month());
    let quarter = (month - 1) / 3 + 1;
    markup_into!(
        body,
        "<h2>{}</h2><ul id=\"reports\">\
         <li><a href=\"/reports?kind=monthly&amp;year={year}&amp;month={month}&amp;format=csv\">{} {year}-{month:02} (CSV)</a> · \
         <a href=\"/reports?kind=monthly&amp;year={year}&amp;month={month}&amp;format=json\">JSON</a></li>\
         <li><a href=\"/reports?kind=quarterly&amp;year={year}&amp;quarter={quarter}&amp;format=csv\">{} {year} Q{quarter} (CSV)</a> · \
         <a href=\"/reports?kind=quarterly&amp;year={year}&amp;quarter={quarter}&amp;format=json\">JSON</a></li>\
         <li><a href=\"/reports?kind=annual&amp;year={year}&amp;format=csv\">{} {year} (CSV)</a> · \
         <a href=\"/reports?kind=annual&amp;year={year}&amp;format=json\">JSON</a></li></ul>",
        lang.t("报表下载", "Reports"),
        lang.t("月提示", "Monthly reminder"),
        lang.t("季通报", "Quarterly report"),
        lang.t("年度统计", "Annual statistics"),
        year = year,
        month = month,
        quarter = quarter,
    );
    Html(page(&viewer.frame("/stats"), lang.t("统计", "Statistics"), &body).into_string())
        .into_response()
}

/// The period's figures: case counts per agency and family (案件, one per case), the on-time
/// chart and the deadline counts per agency (期限, one per obligation), each table saying what
/// it counts.
pub(super) fn statistics(look: &Look, rows: &[pb::AgencyStatistics]) -> Markup {
    let lang = look.lang;
    if rows.is_empty() {
        return markup!(
            "<p class=\"muted\">{}</p>",
            lang.t(
                "该期间没有案件或期限记录。",
                "No cases or deadlines in this period."
            )
        );
    }
    let mut out = case_cards(look, rows);
    out.push(case_table(look, rows));
    out.push(on_time_chart(look, rows));
    out.push(deadline_table(look, rows));
    out
}

/// Totals of the cases received in the period: answered on time, late, open, overdue.
fn case_cards(look: &Look, rows: &[pb::AgencyStatistics]) -> Markup {
    let lang = look.lang;
    let sum = |f: fn(&pb::FamilyCaseCounts) -> u64| {
        rows.iter().flat_map(|r| r.cases.iter()).map(f).sum::<u64>()
    };
    let mut out = markup!(
        "<h2>{}</h2><div class=\"cards\" id=\"case-totals\">",
        lang.t("案件（每案计一次）", "Cases (each counted once)")
    );
    for (label, value) in [
        (
            lang.t("收到案件", "Cases received"),
            sum(|c| c.cases_received),
        ),
        (
            lang.t("按时办结", "Answered on time"),
            sum(|c| c.answered_on_time),
        ),
        (
            lang.t("逾期办结", "Answered late"),
            sum(|c| c.answered_late),
        ),
        (lang.t("未办结", "Still open"), sum(|c| c.open)),
        (lang.t("逾期未办", "Overdue"), sum(|c| c.overdue)),
    ] {
        markup_into!(out, "<div class=\"card\">{}<b>{}</b></div>", label, value);
    }
    out.push(markup!("</div>"));
    out
}

/// One row per agency and family: cases sent, received, and how the received ones stand.
fn case_table(look: &Look, rows: &[pb::AgencyStatistics]) -> Markup {
    let lang = look.lang;
    let mut out = markup!(
        "<table id=\"cases\"><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        lang.t("机关", "Agency"),
        lang.t("类别", "Family"),
        lang.t("发出案件", "Cases sent"),
        lang.t("收到案件", "Cases received"),
        lang.t("按时办结", "Answered on time"),
        lang.t("逾期办结", "Answered late"),
        lang.t("未办结", "Open"),
        lang.t("逾期未办", "Overdue"),
    );
    for r in rows {
        for c in &r.cases {
            markup_into!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"overdue\">{}</td></tr>",
                r.name,
                crate::console::html::family(lang, &c.family),
                c.cases_sent,
                c.cases_received,
                c.answered_on_time,
                c.answered_late,
                c.open,
                c.overdue,
            );
        }
    }
    out.push(markup!("</table>"));
    out
}

/// One bar per agency: the share of the deadlines it met that were met on time.
fn on_time_chart(look: &Look, rows: &[pb::AgencyStatistics]) -> Markup {
    let lang = look.lang;
    let mut out = markup!(
        "<h2>{}</h2>",
        lang.t("期限按时办结率", "On-time rate of deadlines")
    );
    let height = 24 * rows.len() + 10;
    markup_into!(
        out,
        "<svg id=\"on-time-chart\" width=\"720\" height=\"{height}\" role=\"img\">",
        height = height
    );
    for (i, r) in rows.iter().enumerate() {
        let answered = r.answered_on_time + r.answered_late;
        let rate = if answered == 0 {
            0.0
        } else {
            r.answered_on_time as f64 / answered as f64
        };
        let y = 24 * i + 5;
        markup_into!(
            out,
            "<text x=\"0\" y=\"{ty}\">{name}</text><rect x=\"260\" y=\"{y}\" width=\"{w:.0}\" height=\"16\" fill=\"#2e7d32\"></rect>\
             <rect x=\"{x2:.0}\" y=\"{y}\" width=\"{w2:.0}\" height=\"16\" fill=\"#e0e0e0\"></rect><text x=\"670\" y=\"{ty}\">{pct:.0}%</text>",
            y = y,
            ty = y + 13,
            name = r.name,
            w = 400.0 * rate,
            x2 = 260.0 + 400.0 * rate,
            w2 = 400.0 * (1.0 - rate),
            pct = rate * 100.0,
        );
    }
    out.push(markup!("</svg>"));
    out
}

/// One row per agency: the deadlines (one per step) owed to it and by it, how those it owed
/// stand, its 立案率 and its 移送率.
fn deadline_table(look: &Look, rows: &[pb::AgencyStatistics]) -> Markup {
    let lang = look.lang;
    let mut out = markup!(
        "<h2>{}</h2><table id=\"statistics\"><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        lang.t(
            "期限（每个步骤计一次）",
            "Deadlines (each step counted once)"
        ),
        lang.t("机关", "Agency"),
        lang.t("他方应办期限", "Deadlines owed to it"),
        lang.t("本机关应办期限", "Deadlines it owed"),
        lang.t("按时办结期限", "Met on time"),
        lang.t("逾期办结期限", "Met late"),
        lang.t("未办结期限", "Open"),
        lang.t("逾期未办期限", "Overdue"),
        lang.t("响应时间中位数（小时）", "Median response (h)"),
        lang.t("立案率", "Filing rate"),
        lang.t("移送率", "Referral rate"),
    );
    for r in rows {
        let filing = if r.filing_decisions == 0 {
            "—".to_owned()
        } else {
            format!(
                "{:.0}% ({}/{})",
                r.filing_rate * 100.0,
                r.filed,
                r.filing_decisions
            )
        };
        // 移送率: penalty records over a threshold that were referred; none over, no rate.
        let referral = r.referral_rate.map_or_else(
            || "—".to_owned(),
            |rate| {
                format!(
                    "{:.0}% ({}/{})",
                    rate * 100.0,
                    r.penalty_referred,
                    r.penalty_over_threshold
                )
            },
        );
        markup_into!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"overdue\">{}</td><td>{:.1}</td><td>{}</td><td>{}</td></tr>",
            r.name,
            r.sent,
            r.received,
            r.answered_on_time,
            r.answered_late,
            r.still_open,
            r.overdue,
            r.median_response_hours,
            filing,
            referral,
        );
    }
    out.push(markup!("</table>"));
    out
}

#[derive(Debug, Deserialize)]
pub(super) struct ReportQuery {
    kind: String,
    year: i32,
    #[serde(default)]
    month: u32,
    #[serde(default)]
    quarter: u32,
    #[serde(default)]
    format: String,
}

/// A report as a file to save.
pub(super) async fn report(viewer: Viewer, Query(q): Query<ReportQuery>) -> Response {
    let kind = match q.kind.as_str() {
        "monthly" => pb::ReportKind::Monthly,
        "quarterly" => pb::ReportKind::Quarterly,
        "annual" => pb::ReportKind::Annual,
        _ => pb::ReportKind::Unspecified,
    };
    let format = if q.format == "json" {
        pb::ReportFormat::Json
    } else {
        pb::ReportFormat::Csv
    };
    let request = pb::GetReportRequest {
        kind: kind as i32,
        year: q.year,
        month: q.month,
        quarter: q.quarter,
        format: format as i32,
    };
    match viewer
        .state
        .monitor
        .get_report(viewer.request(request))
        .await
    {
        Ok(r) => {
            let r = r.into_inner();
            // The service names the file from its own figures (kind and period): safe to quote.
            let disposition = format!("attachment; filename=\"{}\"", r.file_name.replace('"', ""));
            let content_type = if r.content_type.is_empty() {
                "application/octet-stream".to_owned()
            } else {
                r.content_type
            };
            (
                [
                    (header::CONTENT_TYPE, content_type),
                    (header::CONTENT_DISPOSITION, disposition),
                ],
                r.content,
            )
                .into_response()
        }
        Err(status) => failed(&viewer, "/stats", &status),
    }
}
