//! Tests of the rectification state machine (整改通知 / 整改报告), on the shipped example
//! directory: every transition, the return loop, a late report, and every refusal (who may ask,
//! wrong party, stranger, wrong state, missing input).

use super::*;
use crate::document::DocumentKind;
use crate::fixtures::{World, at, doc, world};

const NOW: &str = "2026-10-09T10:00:00+08:00";

fn run(
    w: &World,
    current: Option<&Rectification>,
    command: RectificationCommand,
    actor: &Agency,
) -> Result<Decision, Rejection> {
    decide(current, &command, actor, &w.directory, at(NOW))
}

fn requesting(to: &Agency) -> Requesting {
    Requesting {
        case_id: CaseId::generate(),
        to: to.code.clone(),
        findings: "第三季度行政处罚案卷中，三件未依法告知陈述申辩权利".to_owned(),
        basis: Basis {
            period: Some("2026-Q3".to_owned()),
            cases: vec![CaseId::generate()],
        },
        documents: vec![doc(DocumentKind::Decision, "整改通知书")],
        due_by: None,
    }
}

fn report(measures: &str) -> RectificationCommand {
    RectificationCommand::Report(Reporting {
        measures: measures.to_owned(),
        documents: vec![doc(DocumentKind::Other, "整改报告")],
    })
}

fn returning(reasons: &str) -> RectificationCommand {
    RectificationCommand::Return {
        reasons: reasons.to_owned(),
    }
}

/// A request from the justice bureau (the coordination office) to the market bureau.
fn requested(w: &World) -> Rectification {
    run(
        w,
        None,
        RectificationCommand::Request(requesting(&w.market)),
        &w.justice,
    )
    .unwrap()
    .case
}

fn reported(w: &World) -> Rectification {
    let c = requested(w);
    run(w, Some(&c), report("已补正告知程序并组织培训"), &w.market)
        .unwrap()
        .case
}

#[test]
fn a_request_is_reported_returned_reported_again_and_accepted() {
    let w = world();
    let out = run(
        &w,
        None,
        RectificationCommand::Request(requesting(&w.market)),
        &w.justice,
    )
    .unwrap();
    let c = out.case;
    assert_eq!(c.status, RectificationStatus::Requested);
    assert_eq!(c.requester, w.justice.code);
    assert_eq!(c.agency, w.market.code);
    // The market bureau's superior, the city government, is a party in the role coordination.
    assert_eq!(c.superior.as_ref(), Some(&w.government.code));
    assert_eq!(
        c.parties().get(Role::Coordination),
        Some(&w.government.code)
    );
    assert_eq!(out.events[0].kind, RectificationEventKind::Requested);
    assert_eq!(
        out.events[0].recipients,
        [w.market.code.clone(), w.government.code.clone()]
    );

    let out = run(&w, Some(&c), report("已补正告知程序"), &w.market).unwrap();
    let c = out.case;
    assert_eq!(c.status, RectificationStatus::Reported);
    assert_eq!(
        out.events[0].kind,
        RectificationEventKind::Reported { late: false }
    );
    assert!(out.events[0].recipients.contains(&w.justice.code));
    assert_eq!(c.reports.len(), 1);

    let out = run(&w, Some(&c), returning("未附培训记录"), &w.justice).unwrap();
    let c = out.case;
    assert_eq!(c.status, RectificationStatus::Returned);
    assert_eq!(out.events[0].kind, RectificationEventKind::Returned);
    assert_eq!(c.reports[0].returned.as_deref(), Some("未附培训记录"));

    let c = run(&w, Some(&c), report("补充培训签到表"), &w.market)
        .unwrap()
        .case;
    assert_eq!(c.status, RectificationStatus::Reported);
    assert_eq!(c.reports.len(), 2);
    assert_eq!(c.reports[1].returned, None);

    let out = run(
        &w,
        Some(&c),
        RectificationCommand::Accept {
            note: "复查合格".to_owned(),
        },
        &w.justice,
    )
    .unwrap();
    assert_eq!(out.case.status, RectificationStatus::Accepted);
    assert_eq!(out.events[0].kind, RectificationEventKind::Accepted);
    let steps: Vec<Step> = out.case.history.iter().map(|h| h.step).collect();
    assert_eq!(
        steps,
        [
            Step::Request,
            Step::Report,
            Step::Return,
            Step::Report,
            Step::Accept
        ]
    );
    assert_eq!(out.case.version, 5);
}

#[test]
fn a_procuratorate_and_the_agencys_superior_may_ask() {
    let w = world();
    for requester in [&w.procuratorate, &w.government] {
        let c = run(
            &w,
            None,
            RectificationCommand::Request(requesting(&w.environment)),
            requester,
        )
        .unwrap()
        .case;
        assert_eq!(c.requester, requester.code);
    }
}

#[test]
fn a_police_organ_or_an_agency_that_is_not_the_superior_is_refused_on_to() {
    let w = world();
    for requester in [&w.police, &w.environment, &w.lab] {
        let refused = run(
            &w,
            None,
            RectificationCommand::Request(requesting(&w.market)),
            requester,
        )
        .unwrap_err();
        assert_eq!(refused.rule(), "RECT-WHO", "{refused}");
        assert_eq!(refused.field(), Some("to"), "{refused}");
    }
}

#[test]
fn only_another_administrative_agency_is_asked() {
    let w = world();
    let refused = run(
        &w,
        None,
        RectificationCommand::Request(requesting(&w.police)),
        &w.justice,
    )
    .unwrap_err();
    assert!(
        matches!(refused, Rejection::WrongRecipientKind { field: "to", .. }),
        "{refused}"
    );
    let refused = run(
        &w,
        None,
        RectificationCommand::Request(requesting(&w.government)),
        &w.government,
    )
    .unwrap_err();
    assert_eq!(refused.field(), Some("to"));
}

#[test]
fn findings_and_a_basis_are_required_and_the_period_is_a_year_quarter_or_month() {
    let w = world();
    let ask = |r: Requesting| run(&w, None, RectificationCommand::Request(r), &w.justice);
    let mut r = requesting(&w.market);
    r.findings = "  ".to_owned();
    assert_eq!(ask(r).unwrap_err().field(), Some("findings"));

    let mut r = requesting(&w.market);
    r.basis = Basis::default();
    assert_eq!(ask(r).unwrap_err().field(), Some("basis"));

    for bad in ["2026-Q5", "2026-13", "26-Q1", "2026Q3", "2026-00", "2026-Q"] {
        let mut r = requesting(&w.market);
        r.basis.period = Some(bad.to_owned());
        assert_eq!(ask(r).unwrap_err().field(), Some("basis.period"), "{bad}");
    }
    for good in ["2026", "2026-Q1", "2026-Q4", "2026-01", "2026-12"] {
        let mut r = requesting(&w.market);
        r.basis.period = Some(good.to_owned());
        r.basis.cases.clear();
        assert!(ask(r).is_ok(), "{good}");
    }

    let mut r = requesting(&w.market);
    let named = r.basis.cases[0];
    r.basis.cases.push(named);
    let refused = ask(r).unwrap_err();
    assert_eq!(refused.field(), Some("basis.case_ids"));
    assert_eq!(refused.item(), Some(1));

    let mut r = requesting(&w.market);
    r.basis.cases = vec![r.case_id];
    assert_eq!(ask(r).unwrap_err().field(), Some("basis.case_ids"));

    let mut r = requesting(&w.market);
    r.due_by = Some(at(NOW));
    assert_eq!(ask(r).unwrap_err().field(), Some("due_by"));
    let mut r = requesting(&w.market);
    r.due_by = Some(at("2026-11-30T17:00:00+08:00"));
    assert_eq!(
        ask(r).unwrap().case.due_by,
        Some(at("2026-11-30T17:00:00+08:00"))
    );
}

#[test]
fn a_missed_report_is_recorded_once_and_the_late_report_is_taken_and_marked_late() {
    let w = world();
    let c = requested(&w);
    // The reaction is taken in the owing agency's name.
    let out = run(&w, Some(&c), RectificationCommand::MarkOverdue, &w.market).unwrap();
    let c = out.case;
    assert!(c.overdue);
    assert_eq!(c.status, RectificationStatus::Requested);
    assert_eq!(out.events[0].kind, RectificationEventKind::ReportOverdue);
    assert!(out.events[0].recipients.contains(&w.justice.code));
    assert!(out.events[0].recipients.contains(&w.government.code));
    let again = run(&w, Some(&c), RectificationCommand::MarkOverdue, &w.market).unwrap_err();
    assert_eq!(again.rule(), REPORT_RULE);

    let out = run(&w, Some(&c), report("逾期报送整改情况"), &w.market).unwrap();
    assert_eq!(
        out.events[0].kind,
        RectificationEventKind::Reported { late: true }
    );
    assert!(out.case.reports[0].late);
    assert!(!out.case.overdue);

    // Returned, the next report is owed afresh: on time unless that one is missed too.
    let c = run(&w, Some(&out.case), returning("措施未落实"), &w.justice)
        .unwrap()
        .case;
    let c = run(&w, Some(&c), report("已落实"), &w.market).unwrap().case;
    assert!(!c.reports[1].late);
}

#[test]
fn no_overdue_mark_once_reported_or_accepted() {
    let w = world();
    let c = reported(&w);
    let refused = run(&w, Some(&c), RectificationCommand::MarkOverdue, &w.market).unwrap_err();
    assert!(matches!(refused, Rejection::WrongState { .. }), "{refused}");
}

#[test]
fn each_step_is_for_its_party_in_its_state() {
    let w = world();
    let c = requested(&w);
    // The requester cannot report; the agency cannot accept or return; strangers nothing.
    let refused = run(&w, Some(&c), report("x"), &w.justice).unwrap_err();
    assert!(
        matches!(refused, Rejection::NotAddressee { .. }),
        "{refused}"
    );
    let refused = run(
        &w,
        Some(&c),
        RectificationCommand::Accept {
            note: String::new(),
        },
        &w.market,
    )
    .unwrap_err();
    assert!(
        matches!(refused, Rejection::NotAddressee { .. }),
        "{refused}"
    );
    let refused = run(&w, Some(&c), report("x"), &w.environment).unwrap_err();
    assert!(matches!(refused, Rejection::NotAParty { .. }), "{refused}");
    // The superior hears of the request but does not review it.
    let refused = run(&w, Some(&c), returning("x"), &w.government).unwrap_err();
    assert!(
        matches!(refused, Rejection::NotAddressee { .. }),
        "{refused}"
    );
    // Nothing to accept or return before a report.
    let refused = run(&w, Some(&c), returning("x"), &w.justice).unwrap_err();
    assert!(matches!(refused, Rejection::WrongState { .. }), "{refused}");
    // No second report while one awaits review; nothing after acceptance.
    let c = reported(&w);
    let refused = run(&w, Some(&c), report("again"), &w.market).unwrap_err();
    assert!(matches!(refused, Rejection::WrongState { .. }), "{refused}");
    let c = run(
        &w,
        Some(&c),
        RectificationCommand::Accept {
            note: String::new(),
        },
        &w.justice,
    )
    .unwrap()
    .case;
    for command in [report("x"), returning("x")] {
        let actor = if command.step() == Step::Report {
            &w.market
        } else {
            &w.justice
        };
        let refused = run(&w, Some(&c), command, actor).unwrap_err();
        assert!(matches!(refused, Rejection::WrongState { .. }), "{refused}");
    }
}

#[test]
fn a_report_needs_its_measures_and_a_return_its_reasons() {
    let w = world();
    let c = requested(&w);
    let refused = run(&w, Some(&c), report(""), &w.market).unwrap_err();
    assert_eq!(refused.field(), Some("measures"));
    let c = reported(&w);
    let refused = run(&w, Some(&c), returning(" "), &w.justice).unwrap_err();
    assert_eq!(refused.field(), Some("reasons"));
}

#[test]
fn a_request_exists_once_and_a_step_needs_one() {
    let w = world();
    let c = requested(&w);
    let mut again = requesting(&w.market);
    again.case_id = c.id;
    let refused = run(
        &w,
        Some(&c),
        RectificationCommand::Request(again),
        &w.justice,
    )
    .unwrap_err();
    assert!(
        matches!(refused, Rejection::AlreadyExists { .. }),
        "{refused}"
    );
    let refused = run(&w, None, report("x"), &w.market).unwrap_err();
    assert!(matches!(refused, Rejection::NotFound { .. }), "{refused}");
}

#[test]
fn an_agency_without_a_superior_has_no_coordination_party() {
    let w = world();
    let province = w
        .directory
        .agencies()
        .find(|a| a.name == "福建省人民政府")
        .cloned()
        .unwrap();
    let c = run(
        &w,
        None,
        RectificationCommand::Request(requesting(&province)),
        &w.procuratorate,
    )
    .unwrap()
    .case;
    assert_eq!(c.superior, None);
    assert_eq!(c.parties().get(Role::Coordination), None);
}

#[test]
fn events_serialise_with_the_names_the_rule_table_uses() {
    for (kind, name) in [
        (RectificationEventKind::Requested, "requested"),
        (RectificationEventKind::Reported { late: true }, "reported"),
        (RectificationEventKind::Accepted, "accepted"),
        (RectificationEventKind::Returned, "returned"),
        (RectificationEventKind::ReportOverdue, "report_overdue"),
    ] {
        assert_eq!(kind.name(), name);
        assert_eq!(serde_json::to_value(&kind).unwrap()["event"], name);
    }
}
