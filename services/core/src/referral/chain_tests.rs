//! Tests of the referral chain after the first decision: hand-over of seized items,
//! reconsideration, the procuratorate's filing supervision, transfer and withdrawal after
//! filing, and hand-back for administrative handling.

use super::*;
use crate::case::{Case, Rejection};
use crate::directory::Agency;
use crate::fixtures::{World, at, doc, world};
use crate::ids::CaseId;
use crate::notice::Role;
use crate::personal::PersonalData;

const SENT: &str = "2026-03-02T09:00:00+08:00";

fn run(
    w: &World,
    current: Option<&Referral>,
    command: ReferralCommand,
    actor: &Agency,
    now: &str,
) -> Result<Decision, Rejection> {
    let context = Context {
        directory: &w.directory,
        law: &w.law,
        policy: &ReferralPolicy::default(),
    };
    decide(current, &command, actor, &context, at(now))
}

fn step(w: &World, r: &Referral, command: ReferralCommand, actor: &Agency, now: &str) -> Referral {
    run(w, Some(r), command, actor, now).unwrap().case
}

fn received(w: &World) -> Referral {
    let submission = Submission {
        case_id: CaseId::generate(),
        police: w.police.code.clone(),
        suspected_offence: "污染环境罪".to_owned(),
        summary: "某厂通过暗管排放含重金属废水".to_owned(),
        report_received_at: at("2026-03-01T09:00:00+08:00"),
        approved_at: at("2026-03-02T08:00:00+08:00"),
        items_tested: false,
        penalty_imposed: false,
        documents: vec![
            doc(DocumentKind::ReferralLetter, "涉嫌犯罪案件移送书"),
            doc(DocumentKind::InvestigationReport, "调查报告"),
            doc(DocumentKind::SeizedItemsList, "涉案物品清单"),
        ],
        parties: Vec::new(),
        case_officer: "赵六".to_owned(),
        case_officer_phone: PersonalData::new("0591-22222222"),
    };
    let r = run(
        w,
        None,
        ReferralCommand::Submit(submission),
        &w.environment,
        SENT,
    )
    .unwrap()
    .case;
    step(w, &r, ReferralCommand::SignReceipt, &w.police, SENT)
}

fn declined(w: &World, now: &str) -> Referral {
    let r = received(w);
    step(
        w,
        &r,
        ReferralCommand::Decline {
            reasons: "现有证据不足以证明达到追诉标准".to_owned(),
        },
        &w.police,
        now,
    )
}

#[test]
fn after_filing_the_agency_hands_over_the_seized_items_once() {
    let w = world();
    let r = received(&w);
    let r = step(
        &w,
        &r,
        ReferralCommand::File {
            note: "榕公立字〔2026〕1号".to_owned(),
        },
        &w.police,
        SENT,
    );
    let hand_over = || ReferralCommand::HandOverItems {
        documents: vec![doc(DocumentKind::HandoverList, "移交清单")],
        note: String::new(),
    };
    // Other papers are no hand-over list (issue 12, D8).
    let without_list = ReferralCommand::HandOverItems {
        documents: vec![doc(DocumentKind::Other, "扣押物品照片")],
        note: String::new(),
    };
    let err = run(&w, Some(&r), without_list, &w.environment, SENT).unwrap_err();
    assert_eq!(err.rule(), "S1-12");
    assert!(err.to_string().contains("移交清单"), "{err}");
    let out = run(
        &w,
        Some(&r),
        hand_over(),
        &w.environment,
        "2026-03-03T09:00:00+08:00",
    )
    .unwrap();
    assert_eq!(out.events[0].kind.name(), "items_handed_over");
    assert_eq!(
        out.events[0].recipients,
        [w.police.code.clone(), w.procuratorate.code.clone()]
    );
    let r = out.case;
    assert!(r.items_handed_over_at.is_some());
    let err = run(&w, Some(&r), hand_over(), &w.environment, SENT).unwrap_err();
    assert_eq!(err.rule(), "S1-12");
    // The police cannot hand items to themselves.
    let err = run(&w, Some(&r), hand_over(), &w.police, SENT).unwrap_err();
    assert_eq!(err.rule(), "AUTH-ADDRESSEE");
}

#[test]
fn non_filing_is_reconsidered_once_then_supervised_until_the_police_file() {
    let w = world();
    let r = declined(&w, "2026-03-03T09:00:00+08:00");

    let r = step(
        &w,
        &r,
        ReferralCommand::RequestReconsideration {
            reasons: "鉴定意见证明已达追诉标准".to_owned(),
        },
        &w.environment,
        "2026-03-04T09:00:00+08:00",
    );
    assert_eq!(r.status, ReferralStatus::ReconsiderationRequested);
    assert!(r.flags.is_empty(), "on time: {:?}", r.flags);

    let out = run(
        &w,
        Some(&r),
        ReferralCommand::DecideReconsideration {
            outcome: ReconsiderationOutcome::Uphold,
            reasons: "维持原决定".to_owned(),
        },
        &w.police,
        "2026-03-05T09:00:00+08:00",
    )
    .unwrap();
    let r = out.case;
    assert_eq!(r.status, ReferralStatus::Declined);
    assert!(r.reconsidered);

    // Reconsideration is asked once (S1 Art 9); supervision remains.
    let err = run(
        &w,
        Some(&r),
        ReferralCommand::RequestReconsideration {
            reasons: "再次申请".to_owned(),
        },
        &w.environment,
        "2026-03-05T10:00:00+08:00",
    )
    .unwrap_err();
    assert_eq!(err.rule(), "S1-9a");

    let r = step(
        &w,
        &r,
        ReferralCommand::SuggestSupervision {
            reasons: "建议检察院进行立案监督".to_owned(),
        },
        &w.environment,
        "2026-03-06T09:00:00+08:00",
    );
    assert_eq!(r.status, ReferralStatus::SupervisionSuggested);

    // Only the copied procuratorate asks for reasons.
    let err = run(
        &w,
        Some(&r),
        ReferralCommand::RequestReasons {
            note: String::new(),
        },
        &w.police,
        SENT,
    )
    .unwrap_err();
    assert_eq!(err.rule(), "AUTH-ADDRESSEE");
    let r = step(
        &w,
        &r,
        ReferralCommand::RequestReasons {
            note: "请说明不立案理由".to_owned(),
        },
        &w.procuratorate,
        "2026-03-07T09:00:00+08:00",
    );
    let r = step(
        &w,
        &r,
        ReferralCommand::GiveReasons {
            reasons: "证据不足".to_owned(),
        },
        &w.police,
        "2026-03-10T09:00:00+08:00",
    );
    assert_eq!(r.status, ReferralStatus::ReasonsGiven);
    let out = run(
        &w,
        Some(&r),
        ReferralCommand::NotifyFiling {
            reasons: "理由不成立".to_owned(),
        },
        &w.procuratorate,
        "2026-03-12T09:00:00+08:00",
    )
    .unwrap();
    assert_eq!(out.events[0].kind.name(), "filing_notified");
    let r = out.case;
    assert_eq!(r.status, ReferralStatus::FilingNotified);

    // On the procuratorate's notice the police must file: declining is not open to them.
    let err = run(
        &w,
        Some(&r),
        ReferralCommand::Decline {
            reasons: "仍不立案".to_owned(),
        },
        &w.police,
        SENT,
    )
    .unwrap_err();
    assert!(matches!(
        err,
        Rejection::WrongState {
            step: "decline",
            ..
        }
    ));
    let out = run(
        &w,
        Some(&r),
        ReferralCommand::File {
            note: String::new(),
        },
        &w.police,
        "2026-03-20T09:00:00+08:00",
    )
    .unwrap();
    assert_eq!(out.case.status, ReferralStatus::Filed);
    assert_eq!(out.events[0].kind.name(), "filed");
}

#[test]
fn a_reconsideration_that_files_the_case_emits_the_filing_too() {
    let w = world();
    let r = declined(&w, "2026-03-03T09:00:00+08:00");
    let r = step(
        &w,
        &r,
        ReferralCommand::RequestReconsideration {
            reasons: "x".to_owned(),
        },
        &w.environment,
        "2026-03-04T09:00:00+08:00",
    );
    let out = run(
        &w,
        Some(&r),
        ReferralCommand::DecideReconsideration {
            outcome: ReconsiderationOutcome::File,
            reasons: "经复议决定立案".to_owned(),
        },
        &w.police,
        "2026-03-05T09:00:00+08:00",
    )
    .unwrap();
    assert_eq!(out.case.status, ReferralStatus::Filed);
    let names: Vec<&str> = out.events.iter().map(|e| e.kind.name()).collect();
    assert_eq!(names, ["reconsideration_decided", "filed"]);
}

#[test]
fn a_late_reconsideration_request_is_accepted_and_flagged_on_the_legal_calendar() {
    // Declined Thu 2026-04-02: three calendar days end Sun 04-05, inside Qingming (04-04..04-06),
    // so the limit rolls to Tue 04-07 24:00. Wed 04-08 is late.
    let w = world();
    let r = declined(&w, "2026-04-02T09:00:00+08:00");
    let on_time = run(
        &w,
        Some(&r),
        ReferralCommand::RequestReconsideration {
            reasons: "x".to_owned(),
        },
        &w.environment,
        "2026-04-07T20:00:00+08:00",
    )
    .unwrap();
    assert!(on_time.case.flags.is_empty());
    let late = run(
        &w,
        Some(&r),
        ReferralCommand::RequestReconsideration {
            reasons: "x".to_owned(),
        },
        &w.environment,
        "2026-04-08T09:00:00+08:00",
    )
    .unwrap();
    assert_eq!(
        late.case.flags,
        [Flag::StepLate {
            step: Step::RequestReconsideration,
            rule: "S1-9a".to_owned(),
            due_at: at("2026-04-08T00:00:00+08:00"),
            at: at("2026-04-08T09:00:00+08:00"),
        }]
    );
}

#[test]
fn reasons_that_stand_close_supervision_and_the_police_may_hand_the_case_back() {
    let w = world();
    let r = declined(&w, "2026-03-03T09:00:00+08:00");
    // The procuratorate may supervise on its own initiative.
    let r = step(
        &w,
        &r,
        ReferralCommand::RequestReasons {
            note: String::new(),
        },
        &w.procuratorate,
        "2026-03-04T09:00:00+08:00",
    );
    let r = step(
        &w,
        &r,
        ReferralCommand::GiveReasons {
            reasons: "情节显著轻微".to_owned(),
        },
        &w.police,
        "2026-03-05T09:00:00+08:00",
    );
    let r = step(
        &w,
        &r,
        ReferralCommand::TellAgency {
            note: "不立案理由成立".to_owned(),
        },
        &w.procuratorate,
        "2026-03-06T09:00:00+08:00",
    );
    assert_eq!(r.status, ReferralStatus::SupervisionClosed);

    let out = run(
        &w,
        Some(&r),
        ReferralCommand::HandBack {
            to: None,
            reasons: "不构成犯罪但应予行政处罚".to_owned(),
            documents: vec![doc(DocumentKind::Decision, "移送案件通知书")],
        },
        &w.police,
        "2026-03-07T09:00:00+08:00",
    )
    .unwrap();
    assert_eq!(out.case.status, ReferralStatus::HandedBack);
    assert!(out.case.status.is_terminal());
    match &out.events[0].kind {
        ReferralEventKind::HandedBack { to, documents, .. } => {
            assert_eq!(to, &w.environment.code);
            assert_eq!(documents.len(), 4, "the package and the police's notice");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn a_filed_case_can_be_withdrawn_and_handed_to_another_agency_but_not_to_the_police() {
    let w = world();
    let r = received(&w);
    let r = step(
        &w,
        &r,
        ReferralCommand::File {
            note: String::new(),
        },
        &w.police,
        SENT,
    );
    let r = step(
        &w,
        &r,
        ReferralCommand::WithdrawCase {
            reasons: "犯罪事实显著轻微".to_owned(),
            decided_at: at("2026-03-10T09:00:00+08:00"),
        },
        &w.police,
        "2026-03-11T09:00:00+08:00",
    );
    assert_eq!(r.status, ReferralStatus::Withdrawn);
    assert!(r.flags.is_empty());
    let err = run(
        &w,
        Some(&r),
        ReferralCommand::HandBack {
            to: Some(w.branch.code.clone()),
            reasons: "x".to_owned(),
            documents: Vec::new(),
        },
        &w.police,
        SENT,
    )
    .unwrap_err();
    assert_eq!(err.field(), Some("to"));
    let out = run(
        &w,
        Some(&r),
        ReferralCommand::HandBack {
            to: Some(w.market.code.clone()),
            reasons: "属市场监管部门管辖的违法行为".to_owned(),
            documents: Vec::new(),
        },
        &w.police,
        "2026-03-12T09:00:00+08:00",
    )
    .unwrap();
    assert_eq!(out.case.handed_to.as_deref(), Some(w.market.code.as_str()));
}

#[test]
fn a_transfer_after_filing_told_late_is_flagged_p184() {
    let w = world();
    let r = received(&w);
    let r = step(
        &w,
        &r,
        ReferralCommand::File {
            note: String::new(),
        },
        &w.police,
        SENT,
    );
    let out = run(
        &w,
        Some(&r),
        ReferralCommand::TransferCase {
            to_authority: "福建省公安厅".to_owned(),
            reason: "案件重大，由上级管辖".to_owned(),
            decided_at: at("2026-03-10T09:00:00+08:00"),
        },
        &w.police,
        "2026-03-16T09:00:00+08:00",
    )
    .unwrap();
    assert_eq!(out.case.status, ReferralStatus::TransferredElsewhere);
    assert_eq!(out.case.flags.len(), 1);
    assert_eq!(out.case.flags[0].rule(), "P184");
    // A decision dated in the future is refused.
    let err = run(
        &w,
        Some(&r),
        ReferralCommand::TransferCase {
            to_authority: "x".to_owned(),
            reason: "x".to_owned(),
            decided_at: at("2026-04-10T09:00:00+08:00"),
        },
        &w.police,
        "2026-03-16T09:00:00+08:00",
    )
    .unwrap_err();
    assert_eq!(err.field(), Some("decided_at"));
}

#[test]
fn the_procuratorate_demands_an_explanation_once_until_the_police_explain() {
    let w = world();
    let r = received(&w);
    let err = run(
        &w,
        Some(&r),
        ReferralCommand::Explain {
            explanation: "x".to_owned(),
        },
        &w.police,
        SENT,
    )
    .unwrap_err();
    assert_eq!(err.rule(), "R562");
    let r = overdue(&w, &r);
    let r = step(
        &w,
        &r,
        ReferralCommand::DemandExplanation {
            note: "逾期未作出立案决定".to_owned(),
        },
        &w.procuratorate,
        "2026-03-09T09:00:00+08:00",
    );
    let err = run(
        &w,
        Some(&r),
        ReferralCommand::DemandExplanation {
            note: String::new(),
        },
        &w.procuratorate,
        SENT,
    )
    .unwrap_err();
    assert_eq!(err.rule(), "R562");
    let out = run(
        &w,
        Some(&r),
        ReferralCommand::Explain {
            explanation: "等待鉴定意见".to_owned(),
        },
        &w.police,
        "2026-03-10T09:00:00+08:00",
    )
    .unwrap();
    assert_eq!(out.case.explanation_demanded_at, None);
    assert_eq!(out.case.status, ReferralStatus::Received);
    assert_eq!(out.events[0].kind.name(), "explanation_given");
}

#[test]
fn a_forward_keeps_the_former_police_organ_as_a_reader() {
    let w = world();
    let r = received(&w);
    let r = step(
        &w,
        &r,
        ReferralCommand::Forward {
            to: w.branch.code.clone(),
            reason: "属鼓楼分局管辖".to_owned(),
        },
        &w.police,
        SENT,
    );
    let parties = r.parties();
    assert_eq!(parties.get(Role::Recipient), Some(&w.branch.code));
    assert!(parties.contains(&w.police.code));
    assert_eq!(parties.roles_of(&w.police.code), Vec::<Role>::new());
}

/// The deadlines service's miss of S1-8 on `r`, received at [`SENT`]: due at the end of the
/// third day (Thu 2026-03-05).
fn overdue(w: &World, r: &Referral) -> Referral {
    step(
        w,
        r,
        ReferralCommand::MarkReviewOverdue {
            started_at: at(SENT),
            due_at: at("2026-03-06T00:00:00+08:00"),
        },
        &w.police,
        "2026-03-06T00:00:01+08:00",
    )
}

#[test]
fn an_explanation_may_be_demanded_only_once_the_review_has_run_out() {
    let w = world();
    let r = received(&w);
    // Before S1-8 runs out the procuratorate forwards the matter to the police (S5 Art 562).
    let err = run(
        &w,
        Some(&r),
        ReferralCommand::DemandExplanation {
            note: String::new(),
        },
        &w.procuratorate,
        "2026-03-04T09:00:00+08:00",
    )
    .unwrap_err();
    assert_eq!(err.rule(), "R562");
    assert!(err.to_string().contains("has not run out"), "{err}");

    // A miss of a review that began before the current receipt is stale.
    let stale = run(
        &w,
        Some(&r),
        ReferralCommand::MarkReviewOverdue {
            started_at: at("2026-03-01T09:00:00+08:00"),
            due_at: at("2026-03-05T00:00:00+08:00"),
        },
        &w.police,
        "2026-03-06T00:00:01+08:00",
    )
    .unwrap_err();
    assert_eq!(stale.rule(), "S1-8");

    let out = run(
        &w,
        Some(&r),
        ReferralCommand::MarkReviewOverdue {
            started_at: at(SENT),
            due_at: at("2026-03-06T00:00:00+08:00"),
        },
        &w.police,
        "2026-03-06T00:00:01+08:00",
    )
    .unwrap();
    assert_eq!(out.events[0].kind.name(), "review_overdue");
    assert_eq!(
        out.case.review_overdue_at,
        Some(at("2026-03-06T00:00:00+08:00"))
    );
    assert_eq!(out.case.status, ReferralStatus::Received);
    // Recorded once: a second delivery of the miss changes nothing.
    let again = run(
        &w,
        Some(&out.case),
        ReferralCommand::MarkReviewOverdue {
            started_at: at(SENT),
            due_at: at("2026-03-06T00:00:00+08:00"),
        },
        &w.police,
        "2026-03-06T00:00:02+08:00",
    )
    .unwrap_err();
    assert_eq!(again.rule(), "S1-8");

    let demanded = step(
        &w,
        &out.case,
        ReferralCommand::DemandExplanation {
            note: "逾期未作出立案决定".to_owned(),
        },
        &w.procuratorate,
        "2026-03-06T09:00:00+08:00",
    );
    assert!(demanded.explanation_demanded_at.is_some());

    // Forwarding starts the competent organ's own review: nothing is overdue there yet.
    let forwarded = step(
        &w,
        &out.case,
        ReferralCommand::Forward {
            to: w.branch.code.clone(),
            reason: "属鼓楼分局管辖".to_owned(),
        },
        &w.police,
        "2026-03-06T10:00:00+08:00",
    );
    assert_eq!(forwarded.review_overdue_at, None);
}

/// Declined at `SENT`, reasons asked and given, and the police notified to file on Fri
/// 2026-09-18: R563's 15 days end on Sat 10-03, inside the National Day holiday (10-01..10-07),
/// so the last day rolls to Thu 10-08.
fn notified_to_file(w: &World) -> Referral {
    let r = declined(w, SENT);
    let r = step(
        w,
        &r,
        ReferralCommand::RequestReasons {
            note: String::new(),
        },
        &w.procuratorate,
        "2026-09-01T09:00:00+08:00",
    );
    let r = step(
        w,
        &r,
        ReferralCommand::GiveReasons {
            reasons: "证据不足".to_owned(),
        },
        &w.police,
        "2026-09-07T09:00:00+08:00",
    );
    step(
        w,
        &r,
        ReferralCommand::NotifyFiling {
            reasons: "理由不成立".to_owned(),
        },
        &w.procuratorate,
        "2026-09-18T10:00:00+08:00",
    )
}

#[test]
fn a_correction_notice_follows_only_once_the_period_to_file_has_run_out_across_a_holiday() {
    let w = world();
    let r = notified_to_file(&w);
    assert_eq!(
        w.law.due("R563", at("2026-09-18T10:00:00+08:00")),
        Some(at("2026-10-09T00:00:00+08:00"))
    );
    let correct = |now: &str| {
        run(
            &w,
            Some(&r),
            ReferralCommand::IssueCorrectionNotice {
                reasons: "通知立案后逾期未立案".to_owned(),
            },
            &w.procuratorate,
            now,
        )
    };
    // Sat 10-03 is the 15th day; the holiday carries it to the end of Thu 10-08.
    let early = correct("2026-10-08T23:00:00+08:00").unwrap_err();
    assert_eq!(early.rule(), "R564");
    assert!(
        early.to_string().contains("2026-10-09T00:00:00+08:00"),
        "names the end of the period: {early}"
    );
    // The report needs the notice first.
    let report = run(
        &w,
        Some(&r),
        ReferralCommand::ReportToSuperior {
            note: String::new(),
        },
        &w.procuratorate,
        "2026-10-09T09:00:00+08:00",
    )
    .unwrap_err();
    assert_eq!(report.rule(), "R564");

    let out = correct("2026-10-09T09:00:00+08:00").unwrap();
    assert_eq!(out.events[0].kind.name(), "correction_notice_issued");
    assert_eq!(out.case.status, ReferralStatus::FilingNotified);
    let r = out.case;
    let twice = run(
        &w,
        Some(&r),
        ReferralCommand::IssueCorrectionNotice {
            reasons: "再次".to_owned(),
        },
        &w.procuratorate,
        "2026-10-10T09:00:00+08:00",
    )
    .unwrap_err();
    assert_eq!(twice.rule(), "R564");

    // The police still do not correct: the next-level procuratorate takes it up, and becomes a
    // party that hears of every later step.
    let out = run(
        &w,
        Some(&r),
        ReferralCommand::ReportToSuperior {
            note: "仍不纠正".to_owned(),
        },
        &w.procuratorate,
        "2026-10-20T09:00:00+08:00",
    )
    .unwrap();
    let superior = w
        .directory
        .agencies()
        .find(|a| a.name == "福建省人民检察院")
        .unwrap()
        .code
        .clone();
    assert_eq!(out.case.reported_to, Some(superior.clone()));
    assert_eq!(
        out.case.parties().get(Role::SuperiorProcuratorate),
        Some(&superior)
    );
    assert!(out.events[0].recipients.contains(&superior));
    let r = out.case;
    let filed = run(
        &w,
        Some(&r),
        ReferralCommand::File {
            note: String::new(),
        },
        &w.police,
        "2026-10-21T09:00:00+08:00",
    )
    .unwrap();
    assert_eq!(filed.case.status, ReferralStatus::Filed);
    assert!(filed.events[0].recipients.contains(&superior));
}
