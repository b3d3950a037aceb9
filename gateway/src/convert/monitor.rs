//! Monitor and deadline messages (monitor.proto): obligation lists, statistics and report
//! requests, deadline extensions, and obligations and agency statistics for the wire.

use casebridge_core::case::TEXT_MAX_CHARS;
use casebridge_core::deadline::ExtensionTarget;
use casebridge_core::directory::Directory;
use casebridge_core::ids::{AgencyCode, RegionCode, Sha256Digest};
use casebridge_core::notice::Family;
use casebridge_core::time::Timestamp;
use casebridge_deadlines::api::{
    AgencyStatistics, ExtendRequest, FamilyCaseCounts, Listed, MAX_PAGE, ObligationQuery,
    ReportFormat, ReportPeriod, View,
};
use casebridge_proto::v1 as pb;

use super::{Violations, optional, timestamp};

/// A monitor list request as a query at `now` (when `as_of` is unset).
pub fn obligation_query(
    req: pb::ListObligationsRequest,
    now: Timestamp,
) -> Result<ObligationQuery, Violations> {
    let pb::ListObligationsRequest {
        view,
        as_of,
        due_within_hours,
        agency,
        family,
        rule,
        region,
        case_id,
        page_size,
        page_token,
    } = req;
    let mut v = Violations::default();
    let view = match pb::ObligationView::try_from(view) {
        Ok(pb::ObligationView::Overdue) => Some(View::Overdue),
        Ok(pb::ObligationView::DueSoon) => Some(View::DueSoon),
        Ok(pb::ObligationView::Open) => Some(View::Open),
        Ok(pb::ObligationView::All) => Some(View::All),
        _ => {
            v.add(
                "view",
                "view is required: OBLIGATION_VIEW_OVERDUE, _DUE_SOON, _OPEN or _ALL",
            );
            None
        }
    };
    let as_of = match as_of {
        None => Some(now),
        some => v.timestamp("as_of", some),
    };
    let agency = optional(&agency).and_then(|raw| v.agency("agency", raw));
    let family = optional(&family).and_then(|raw| family_of(&mut v, raw));
    let region = optional(&region).and_then(|raw| {
        RegionCode::parse(raw)
            .map(|r| r.as_str().to_owned())
            .map_err(|e| v.add("region", format!("region {e}")))
            .ok()
    });
    let case_id = optional(&case_id).and_then(|raw| v.case_id("case_id", raw));
    if let Some(raw) = optional(&rule) {
        v.rule_id("rule", raw);
    }
    if page_size > MAX_PAGE {
        v.add("page_size", format!("page_size must be at most {MAX_PAGE}"));
    }
    let after = optional(&page_token).and_then(|raw| {
        raw.split_once(':')
            .and_then(|(due, id)| Some((due.parse::<i64>().ok()?, id.parse::<i64>().ok()?)))
            .or_else(|| {
                v.add(
                    "page_token",
                    "page_token is not one this server issued; pass next_page_token unchanged",
                );
                None
            })
    });
    let hours = if due_within_hours == 0 {
        24
    } else {
        i64::from(due_within_hours)
    };
    let query = match (view, as_of) {
        (Some(view), Some(as_of)) => Some(ObligationQuery {
            view,
            as_of,
            due_within_ms: hours * 3_600_000,
            agency,
            family,
            rule: optional(&rule).map(str::to_owned),
            region,
            case_id,
            limit: if page_size == 0 { 50 } else { page_size },
            after,
        }),
        _ => None,
    };
    v.finish(query)
}

fn family_of(v: &mut Violations, raw: &str) -> Option<Family> {
    serde_json::from_value::<Family>(serde_json::Value::String(raw.to_owned()))
        .map_err(|_| {
            v.add(
                "family",
                format!("family {raw:?} is not one of referral, transfer, dispute, opinion"),
            )
        })
        .ok()
}

/// The page token for the next page.
pub fn page_token(next: Option<(i64, i64)>) -> String {
    next.map(|(due, id)| format!("{due}:{id}"))
        .unwrap_or_default()
}

/// An obligation for the wire, with its ageing at `as_of`.
pub fn obligation(listed: Listed, as_of: Timestamp, directory: &Directory) -> pb::Obligation {
    let Listed {
        obligation: o,
        step,
        step_zh,
        explanation,
        explanation_zh,
        extension_tiers,
        extension_tiers_zh,
        provisional_years,
    } = listed;
    let overdue_hours = match (o.due_at, o.closed_at) {
        (Some(due), None) if due < as_of => (as_of.as_millis() - due.as_millis()) as f64 / 3.6e6,
        _ => 0.0,
    };
    pb::Obligation {
        id: o.id.to_string(),
        case_id: o.case_id.to_string(),
        family: o.family.as_str().to_owned(),
        rule: o.rule,
        step,
        step_zh,
        owed_by_name: directory
            .get(&o.owed_by)
            .map(|a| a.name.clone())
            .unwrap_or_default(),
        owed_by: o.owed_by.to_string(),
        owed_to: o.owed_to.map(|a| a.to_string()).unwrap_or_default(),
        supervisor: o.supervisor.map(|a| a.to_string()).unwrap_or_default(),
        region: o.region,
        started_at: Some(timestamp(o.started_at)),
        due_at: o.due_at.map(timestamp),
        warn_at: o.warn_at.map(timestamp),
        closed_at: o.closed_at.map(timestamp),
        stage: o.stage.as_str().to_owned(),
        late: o.late,
        overdue_hours,
        explanation,
        explanation_zh,
        clock_stops: o
            .changes
            .pauses
            .into_iter()
            .map(|p| pb::ClockStop {
                from: Some(timestamp(p.from)),
                until: p.until.map(timestamp),
                by: p.by,
                reason: p.why,
            })
            .collect(),
        extensions: o
            .changes
            .extensions
            .into_iter()
            .map(|e| pb::DeadlineExtension {
                period: e.period.to_string(),
                tier: e.tier.unwrap_or(0),
                until: e.until.map(|d| d.to_string()).unwrap_or_default(),
                by: e.by,
                reason: e.why,
                approval_reference: e.reference,
                made_at: Some(timestamp(e.made_at)),
            })
            .collect(),
        extension_tiers,
        extension_tiers_zh,
        period: o.period.to_string(),
        period_zh: o.period.zh(),
        provisional: !provisional_years.is_empty(),
        provisional_years,
    }
}

/// A statistics request as a period.
pub fn statistics_period(
    req: pb::GetStatisticsRequest,
) -> Result<(Timestamp, Timestamp, Option<AgencyCode>), Violations> {
    let pb::GetStatisticsRequest { from, to, agency } = req;
    let mut v = Violations::default();
    let from = v.timestamp("from", from);
    let to = v.timestamp("to", to);
    let agency = optional(&agency).and_then(|raw| v.agency("agency", raw));
    if let (Some(from), Some(to)) = (from, to)
        && from >= to
    {
        v.add("to", "to must be after from");
    }
    let period = from.zip(to).map(|(from, to)| (from, to, agency));
    v.finish(period)
}

/// One agency's statistics for the wire.
pub fn agency_statistics(s: AgencyStatistics, directory: &Directory) -> pb::AgencyStatistics {
    let AgencyStatistics {
        agency,
        sent,
        received,
        answered_on_time,
        answered_late,
        still_open,
        overdue,
        median_response_hours,
        filing_decisions,
        filed,
        filing_rate,
        penalty_over_threshold,
        penalty_referred,
        referral_rate,
        cases,
    } = s;
    let name = AgencyCode::parse(&agency)
        .ok()
        .and_then(|code| directory.get(&code).map(|a| a.name.clone()))
        .unwrap_or_default();
    pb::AgencyStatistics {
        agency,
        name,
        sent,
        received,
        answered_on_time,
        answered_late,
        still_open,
        overdue,
        median_response_hours,
        filing_decisions,
        filed,
        filing_rate,
        cases: cases.into_iter().map(family_case_counts).collect(),
        penalty_over_threshold,
        penalty_referred,
        referral_rate,
    }
}

/// One agency's case counts of one family for the wire.
fn family_case_counts(c: FamilyCaseCounts) -> pb::FamilyCaseCounts {
    let FamilyCaseCounts {
        family,
        cases_sent,
        cases_received,
        answered_on_time,
        answered_late,
        open,
        overdue,
    } = c;
    pb::FamilyCaseCounts {
        family: family.as_str().to_owned(),
        cases_sent,
        cases_received,
        answered_on_time,
        answered_late,
        open,
        overdue,
    }
}

/// A report request as a period and a format.
pub fn report(req: pb::GetReportRequest) -> Result<(ReportPeriod, ReportFormat), Violations> {
    let pb::GetReportRequest {
        kind,
        year,
        month,
        quarter,
        format,
    } = req;
    let mut v = Violations::default();
    if !(2000..3000).contains(&year) {
        v.add("year", format!("year {year} is outside 2000 to 2999"));
    }
    let period = match pb::ReportKind::try_from(kind) {
        Ok(pb::ReportKind::Monthly) => {
            if !(1..=12).contains(&month) {
                v.add("month", "month is required for a monthly report: 1 to 12");
            }
            Some(ReportPeriod::Month { year, month })
        }
        Ok(pb::ReportKind::Quarterly) => {
            if !(1..=4).contains(&quarter) {
                v.add(
                    "quarter",
                    "quarter is required for a quarterly report: 1 to 4",
                );
            }
            Some(ReportPeriod::Quarter { year, quarter })
        }
        Ok(pb::ReportKind::Annual) => Some(ReportPeriod::Year { year }),
        _ => {
            v.add(
                "kind",
                "kind is required: REPORT_KIND_MONTHLY, _QUARTERLY or _ANNUAL",
            );
            None
        }
    };
    let format = match pb::ReportFormat::try_from(format) {
        Ok(pb::ReportFormat::Json) => Some(ReportFormat::Json),
        Ok(pb::ReportFormat::Csv) => Some(ReportFormat::Csv),
        _ => {
            v.add("format", "format is required: REPORT_FORMAT_JSON or _CSV");
            None
        }
    };
    let report = period.zip(format);
    v.finish(report)
}

/// An extension request as a command of `actor`.
pub fn extension(
    req: pb::ExtendDeadlineRequest,
    actor: AgencyCode,
    content_digest: Sha256Digest,
) -> Result<ExtendRequest, Violations> {
    let pb::ExtendDeadlineRequest {
        request_id,
        case_id,
        rule,
        target,
        approval_reference,
        reason,
    } = req;
    let mut v = Violations::default();
    let request_id = v.request_id(&request_id);
    let case_id = v.case_id("case_id", &case_id);
    v.rule_id("rule", &rule);
    let target = match target {
        Some(pb::extend_deadline_request::Target::Tier(0)) | None => {
            v.add(
                "target",
                "name a tier (1 = the rule's first extension tier) or an until date",
            );
            None
        }
        Some(pb::extend_deadline_request::Target::Tier(tier)) => Some(ExtensionTarget::Tier(tier)),
        Some(pb::extend_deadline_request::Target::Until(date)) => {
            chrono::NaiveDate::parse_from_str(&date, "%Y-%m-%d")
                .map(ExtensionTarget::Until)
                .map_err(|_| v.add("until", format!("until {date:?} is not a YYYY-MM-DD date")))
                .ok()
        }
    };
    // The approval document's reference (审批文号) and the reason for the extension.
    v.text(
        "approval_reference",
        &approval_reference,
        TEXT_MAX_CHARS,
        true,
    );
    v.text("reason", &reason, TEXT_MAX_CHARS, true);
    let extend = match (request_id, case_id, target) {
        (Some(request_id), Some(case_id), Some(target)) => Some(ExtendRequest {
            actor,
            request_id,
            content_digest,
            case_id,
            rule,
            target,
            approval_reference,
            reason,
        }),
        _ => None,
    };
    v.finish(extend)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor() -> AgencyCode {
        AgencyCode::parse("11350100MB01000064").expect("agency")
    }

    #[test]
    fn an_extension_without_target_reference_or_reason_names_each_field() {
        let violations = extension(
            pb::ExtendDeadlineRequest {
                request_id: String::new(),
                case_id: "nope".into(),
                rule: String::new(),
                target: None,
                approval_reference: " ".into(),
                reason: String::new(),
            },
            actor(),
            Sha256Digest::of(b"x"),
        )
        .expect_err("invalid");
        let fields: Vec<&str> = violations.list.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "request_id",
                "case_id",
                "rule",
                "target",
                "approval_reference",
                "reason"
            ]
        );
    }

    #[test]
    fn an_until_date_must_be_a_calendar_date() {
        let violations = extension(
            pb::ExtendDeadlineRequest {
                request_id: "r1".into(),
                case_id: casebridge_core::ids::CaseId::generate().to_string(),
                rule: "SAMR-45".into(),
                target: Some(pb::extend_deadline_request::Target::Until(
                    "2026-02-30".into(),
                )),
                approval_reference: "鉴延〔2026〕3号".into(),
                reason: "second test".into(),
            },
            actor(),
            Sha256Digest::of(b"x"),
        )
        .expect_err("invalid");
        assert_eq!(violations.list[0].0, "until");
    }

    #[test]
    fn a_report_needs_its_kind_period_and_format() {
        let violations = report(pb::GetReportRequest {
            kind: pb::ReportKind::Quarterly.into(),
            year: 1999,
            month: 0,
            quarter: 5,
            format: 0,
        })
        .expect_err("invalid");
        let fields: Vec<&str> = violations.list.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["year", "quarter", "format"]);
        assert_eq!(
            report(pb::GetReportRequest {
                kind: pb::ReportKind::Monthly.into(),
                year: 2026,
                month: 2,
                quarter: 0,
                format: pb::ReportFormat::Csv.into(),
            }),
            Ok((
                ReportPeriod::Month {
                    year: 2026,
                    month: 2
                },
                ReportFormat::Csv
            ))
        );
    }

    #[test]
    fn an_obligation_carries_its_step_ledger_period_and_tiers_in_chinese() {
        use casebridge_core::deadline::{Period, Unit};
        use casebridge_deadlines::store::{Changes, ObligationRow, Stage};
        let started = Timestamp::parse_rfc3339("2026-03-02T09:00:00+08:00").expect("time");
        let listed = Listed {
            obligation: ObligationRow {
                id: 7,
                case_id: casebridge_core::ids::CaseId::generate(),
                family: Family::Referral,
                rule: "S1-8".into(),
                owed_by: actor(),
                owed_to: None,
                supervisor: None,
                region: "350100".into(),
                started_at: started,
                due_at: None,
                warn_at: None,
                stage: Stage::Open,
                closed_at: None,
                closed_event: None,
                late: false,
                period: Period::new(3, Unit::CalendarDays),
                changes: Changes::default(),
                sender: None,
            },
            step: "decide to file (立案) or not to file (不予立案) from acceptance".into(),
            step_zh: "自接受移送之日起对案件进行审查，决定立案或者不予立案".into(),
            explanation: vec!["due 2026-03-05 24:00 CST".into()],
            explanation_zh: vec!["期限届满：2026-03-05 24:00（北京时间）".into()],
            extension_tiers: vec!["7 calendar days".into(), "30 calendar days".into()],
            extension_tiers_zh: vec!["7日".into(), "30日".into()],
            provisional_years: Vec::new(),
        };
        let directory = Directory::from_toml_str("").expect("directory");
        let wire = obligation(listed, started, &directory);
        assert_eq!(
            wire.step,
            "decide to file (立案) or not to file (不予立案) from acceptance"
        );
        assert_eq!(
            wire.step_zh,
            "自接受移送之日起对案件进行审查，决定立案或者不予立案"
        );
        assert_eq!(wire.explanation, ["due 2026-03-05 24:00 CST"]);
        assert_eq!(
            wire.explanation_zh,
            ["期限届满：2026-03-05 24:00（北京时间）"]
        );
        assert_eq!(wire.period, "3 calendar days");
        assert_eq!(wire.period_zh, "3日");
        assert_eq!(
            wire.extension_tiers,
            ["7 calendar days", "30 calendar days"]
        );
        assert_eq!(wire.extension_tiers_zh, ["7日", "30日"]);
    }
}
