//! Tests of the case transfer state machine, on the shipped example directory.

use super::*;
use crate::case::{Case, EventName, Rejection};
use crate::directory::Agency;
use crate::document::{Document, DocumentKind, Party};
use crate::fixtures::{World, at, doc, world};
use crate::ids::CaseId;
use crate::notice::Role;
use crate::personal::PersonalData;

const CASE: &str = "0190b8a2-4f6e-7c3d-9a1b-2c3d4e5f6a7c";
const SENT: &str = "2026-03-02T10:00:00+08:00";

fn sending(w: &World) -> Sending {
    Sending {
        case_id: CaseId::parse(CASE).unwrap(),
        receiver: w.environment.code.clone(),
        suspected_violation: "无证排放污水".to_owned(),
        summary: "检查中发现某厂向河道排放污水".to_owned(),
        jurisdiction_grounds: "水污染防治法第八十三条，属生态环境部门职责".to_owned(),
        urgent: false,
        documents: vec![
            doc(DocumentKind::TransferLetter, "案件移送函"),
            doc(DocumentKind::Evidence, "现场检查笔录"),
        ],
        parties: vec![Party {
            name: PersonalData::new("某化工厂"),
            id_number: None,
        }],
        case_officer: "王五".to_owned(),
        case_officer_phone: PersonalData::new("0591-11111111"),
        previous: None,
    }
}

fn run(
    w: &World,
    current: Option<&Transfer>,
    command: TransferCommand,
    actor: &Agency,
    now: &str,
) -> Result<Decision, Rejection> {
    decide(current, None, &command, actor, &w.directory, at(now))
}

fn sent(w: &World) -> Transfer {
    run(w, None, TransferCommand::Send(sending(w)), &w.market, SENT)
        .unwrap()
        .case
}

/// A transfer from the market bureau that the environment bureau objected to.
fn objected(w: &World) -> Transfer {
    let object = TransferCommand::Object {
        reasons: "不属本局管辖".to_owned(),
    };
    run(w, Some(&sent(w)), object, &w.environment, SENT)
        .unwrap()
        .case
}

fn designation(w: &World, designated: &Agency) -> TransferCommand {
    TransferCommand::Restart {
        dispute: CaseId::parse("0190b8a2-4f6e-7c3d-9a1b-2c3d4e5f6a7d").unwrap(),
        between: vec![w.environment.code.clone(), w.market.code.clone()],
        designated: designated.code.clone(),
        office: Some(w.government.code.clone()),
        decision: "指定由生态环境局管辖".to_owned(),
    }
}

#[test]
fn a_transfer_is_sent_received_accepted_and_its_outcome_reported_back() {
    let w = world();
    let d = run(
        &w,
        None,
        TransferCommand::Send(sending(&w)),
        &w.market,
        SENT,
    )
    .unwrap();
    let t = d.case.clone();
    assert_eq!(t.status, TransferStatus::Sent);
    assert_eq!(t.version, 1);
    assert_eq!(d.events.len(), 1);
    assert_eq!(d.events[0].kind.name(), "sent");
    assert_eq!(
        d.events[0].recipients,
        std::slice::from_ref(&w.environment.code)
    );

    let d = run(
        &w,
        Some(&t),
        TransferCommand::SignReceipt,
        &w.environment,
        SENT,
    )
    .unwrap();
    let t = d.case;
    assert_eq!(t.status, TransferStatus::Received);
    assert_eq!(d.events[0].recipients, std::slice::from_ref(&w.market.code));

    let accept = TransferCommand::Accept {
        case_number: "榕环罚立〔2026〕12号".to_owned(),
        note: String::new(),
    };
    let d = run(
        &w,
        Some(&t),
        accept,
        &w.environment,
        "2026-03-03T10:00:00+08:00",
    )
    .unwrap();
    let t = d.case;
    assert_eq!(t.status, TransferStatus::Accepted);
    assert_eq!(t.case_number.as_deref(), Some("榕环罚立〔2026〕12号"));

    let report = TransferCommand::ReportOutcome {
        outcome: "已作出罚款二十万元的行政处罚".to_owned(),
        documents: vec![doc(DocumentKind::PenaltyDecision, "行政处罚决定书")],
    };
    let d = run(
        &w,
        Some(&t),
        report,
        &w.environment,
        "2026-04-01T10:00:00+08:00",
    )
    .unwrap();
    assert_eq!(d.case.status, TransferStatus::OutcomeReported);
    assert_eq!(d.case.documents.len(), 3);
    assert_eq!(d.events[0].kind.name(), "outcome_reported");
    assert_eq!(d.case.history.len(), 4);
}

#[test]
fn an_urgent_transfer_says_so_in_its_event_for_the_two_hour_receipt_rule() {
    let w = world();
    let mut s = sending(&w);
    s.urgent = true;
    let d = run(&w, None, TransferCommand::Send(s), &w.market, SENT).unwrap();
    let detail = serde_json::to_value(&d.events[0].kind).unwrap();
    assert_eq!(detail["urgent"], serde_json::Value::Bool(true));
    assert_eq!(detail["event"], "sent");
}

#[test]
fn a_transfer_needs_its_letter_the_grounds_and_an_administrative_receiver() {
    let w = world();
    let mut s = sending(&w);
    s.documents
        .retain(|d| d.kind != DocumentKind::TransferLetter);
    let err = run(&w, None, TransferCommand::Send(s), &w.market, SENT).unwrap_err();
    assert_eq!(
        err,
        Rejection::MissingDocument {
            kinds: vec![DocumentKind::TransferLetter],
            rule: "F1"
        }
    );

    let mut s = sending(&w);
    s.jurisdiction_grounds = " ".to_owned();
    let err = run(&w, None, TransferCommand::Send(s), &w.market, SENT).unwrap_err();
    assert_eq!(err.field(), Some("jurisdiction_grounds"));

    let mut s = sending(&w);
    s.receiver = w.police.code.clone();
    let err = run(&w, None, TransferCommand::Send(s), &w.market, SENT).unwrap_err();
    assert!(matches!(
        err,
        Rejection::WrongRecipientKind {
            field: "receiver",
            ..
        }
    ));

    let mut s = sending(&w);
    s.receiver = w.market.code.clone();
    let err = run(&w, None, TransferCommand::Send(s), &w.market, SENT).unwrap_err();
    assert_eq!(err.field(), Some("receiver"));
}

#[test]
fn only_an_administrative_agency_sends_and_only_the_receiver_answers() {
    let w = world();
    let err = run(
        &w,
        None,
        TransferCommand::Send(sending(&w)),
        &w.police,
        SENT,
    )
    .unwrap_err();
    assert_eq!(err.rule(), "AUTH-ROLE");

    let t = sent(&w);
    let err = run(&w, Some(&t), TransferCommand::SignReceipt, &w.market, SENT).unwrap_err();
    assert!(matches!(
        err,
        Rejection::NotAddressee {
            step: "sign_receipt",
            role: Role::Recipient,
            ..
        }
    ));
    let err = run(
        &w,
        Some(&t),
        TransferCommand::SignReceipt,
        &w.emergency,
        SENT,
    )
    .unwrap_err();
    assert_eq!(
        err,
        Rejection::NotAParty {
            step: "sign_receipt"
        }
    );
}

#[test]
fn an_outcome_cannot_be_reported_before_the_case_is_opened() {
    let w = world();
    let t = sent(&w);
    let report = TransferCommand::ReportOutcome {
        outcome: "x".to_owned(),
        documents: Vec::new(),
    };
    let err = run(&w, Some(&t), report, &w.environment, SENT).unwrap_err();
    assert_eq!(
        err,
        Rejection::WrongState {
            step: "report_outcome",
            status: "sent",
            allowed: &["accepted"],
        }
    );
}

#[test]
fn an_objection_names_both_parties_and_the_objector_cannot_pass_the_case_on() {
    let w = world();
    let t = sent(&w);
    let object = TransferCommand::Object {
        reasons: "排污口位于城市管理范围，不属本局管辖".to_owned(),
    };
    let d = run(&w, Some(&t), object, &w.environment, SENT).unwrap();
    let t = d.case;
    assert_eq!(t.status, TransferStatus::Objected);
    match &d.events[0].kind {
        TransferEventKind::Objected {
            sender, receiver, ..
        } => {
            assert_eq!(sender, &w.market.code);
            assert_eq!(receiver, &w.environment.code);
        }
        other => panic!("unexpected event {other:?}"),
    }

    // F2: the objecting receiver tries to send the case on to a third agency.
    let mut onward = sending(&w);
    onward.case_id = CaseId::generate();
    onward.receiver = w.emergency.code.clone();
    onward.previous = Some(t.id);
    let err = decide(
        None,
        Some(&t),
        &TransferCommand::Send(onward.clone()),
        &w.environment,
        &w.directory,
        at(SENT),
    )
    .unwrap_err();
    assert_eq!(err.rule(), "F2");
    assert_eq!(err.field(), Some("previous"));

    // A continuation naming a transfer that does not exist is refused too.
    let err = decide(
        None,
        None,
        &TransferCommand::Send(onward),
        &w.environment,
        &w.directory,
        at(SENT),
    )
    .unwrap_err();
    assert!(matches!(
        err,
        Rejection::UnknownCase {
            field: "previous",
            ..
        }
    ));
}

#[test]
fn a_dispute_between_other_agencies_cannot_restart_the_transfer() {
    // Issue 12, D1: X and Y dispute, naming a transfer from the market bureau to the
    // environment bureau, and agree that X is competent. The transfer stays as it is.
    let w = world();
    let t = objected(&w);
    for between in [
        vec![w.emergency.code.clone(), w.government.code.clone()],
        vec![w.emergency.code.clone(), w.environment.code.clone()],
        vec![w.market.code.clone()],
        Vec::new(),
    ] {
        let takeover = TransferCommand::Restart {
            dispute: CaseId::parse("0190b8a2-4f6e-7c3d-9a1b-2c3d4e5f6a7e").unwrap(),
            between: between.clone(),
            designated: w.emergency.code.clone(),
            office: None,
            decision: "应急管理局管辖".to_owned(),
        };
        let err = run(&w, Some(&t), takeover, &w.emergency, SENT).unwrap_err();
        assert_eq!(err.rule(), "SAMR-16", "{between:?}: {err}");
        assert!(err.to_string().contains("not between"), "{err}");
    }
}

#[test]
fn a_designation_restarts_the_transfer_to_the_designated_agency_which_cannot_object() {
    let w = world();
    let t = objected(&w);

    // The office designates the emergency bureau: the transfer moves to it.
    let d = run(
        &w,
        Some(&t),
        designation(&w, &w.emergency),
        &w.government,
        SENT,
    )
    .unwrap();
    let moved = d.case;
    assert_eq!(moved.status, TransferStatus::Sent);
    assert_eq!(moved.receiver, w.emergency.code);
    assert_eq!(
        moved.former_receivers,
        std::slice::from_ref(&w.environment.code)
    );
    assert!(moved.parties().contains(&w.environment.code));
    assert_eq!(
        moved.parties().get(Role::Coordination),
        Some(&w.government.code)
    );
    assert_eq!(d.events[0].kind.name(), "sent");

    // The designated receiver is bound (S4 Art 16).
    let object = TransferCommand::Object {
        reasons: "也不属本局管辖".to_owned(),
    };
    let err = run(&w, Some(&moved), object, &w.emergency, SENT).unwrap_err();
    assert_eq!(err.rule(), "SAMR-16");
    let accept = TransferCommand::Accept {
        case_number: String::new(),
        note: String::new(),
    };
    assert!(run(&w, Some(&moved), accept, &w.emergency, SENT).is_ok());
}

#[test]
fn a_designation_of_the_objecting_receiver_sends_it_back_to_the_same_agency() {
    let w = world();
    let t = objected(&w);
    let d = run(
        &w,
        Some(&t),
        designation(&w, &w.environment),
        &w.government,
        SENT,
    )
    .unwrap();
    assert_eq!(d.case.status, TransferStatus::Sent);
    assert_eq!(d.case.receiver, w.environment.code);
    assert!(d.case.former_receivers.is_empty());
}

#[test]
fn a_designation_of_the_sender_ends_the_transfer_with_the_sender_competent() {
    let w = world();
    let t = objected(&w);
    let d = run(
        &w,
        Some(&t),
        designation(&w, &w.market),
        &w.government,
        SENT,
    )
    .unwrap();
    assert_eq!(d.case.status, TransferStatus::OutcomeReported);
    assert!(
        d.case
            .outcome
            .unwrap()
            .contains("sender was found competent")
    );
}

#[test]
fn a_restart_is_refused_unless_the_transfer_was_objected() {
    let w = world();
    let t = sent(&w);
    let err = run(
        &w,
        Some(&t),
        designation(&w, &w.emergency),
        &w.government,
        SENT,
    )
    .unwrap_err();
    assert!(matches!(
        err,
        Rejection::WrongState {
            step: "restart",
            ..
        }
    ));
}

#[test]
fn a_referral_handed_back_by_the_police_arrives_as_a_transfer_from_the_police() {
    let w = world();
    let handed = HandedBack {
        case_id: CaseId::generate(),
        referral: CaseId::parse(CASE).unwrap(),
        receiver: w.market.code.clone(),
        suspected_offence: "销售伪劣产品罪".to_owned(),
        summary: "货值未达立案标准".to_owned(),
        reasons: "不构成犯罪，应予行政处罚".to_owned(),
        documents: vec![doc(DocumentKind::Decision, "不予立案决定书")],
        parties: Vec::new(),
    };
    let d = run(
        &w,
        None,
        TransferCommand::HandBack(handed.clone()),
        &w.police,
        SENT,
    )
    .unwrap();
    assert_eq!(d.case.sender, w.police.code);
    assert_eq!(d.case.receiver, w.market.code);
    assert_eq!(d.case.from_referral, Some(handed.referral));
    assert_eq!(d.events[0].recipients, std::slice::from_ref(&w.market.code));

    // Only the police hand back.
    let err = run(
        &w,
        None,
        TransferCommand::HandBack(handed),
        &w.environment,
        SENT,
    )
    .unwrap_err();
    assert_eq!(err.rule(), "AUTH-ROLE");
}

/// A transfer the environment bureau received and declined to open a case on.
fn declined(w: &World) -> Transfer {
    let decline = TransferCommand::Decline {
        reasons: "违法行为轻微并及时改正，没有造成危害后果".to_owned(),
    };
    run(w, Some(&sent(w)), decline, &w.environment, SENT)
        .unwrap()
        .case
}

#[test]
fn a_receiver_declines_to_open_a_case_and_its_reasons_go_back_to_the_sender() {
    let w = world();
    let t = sent(&w);
    // S4 Art 20: the reasons are required, like every other reasons field.
    let blank = TransferCommand::Decline {
        reasons: " ".to_owned(),
    };
    let err = run(&w, Some(&t), blank, &w.environment, SENT).unwrap_err();
    assert_eq!(err.field(), Some("reasons"));
    // Only the receiver decides.
    let decline = TransferCommand::Decline {
        reasons: "违法行为轻微并及时改正，没有造成危害后果".to_owned(),
    };
    let err = run(&w, Some(&t), decline.clone(), &w.market, SENT).unwrap_err();
    assert!(matches!(
        err,
        Rejection::NotAddressee {
            step: "decline",
            role: Role::Recipient,
            ..
        }
    ));

    let d = run(&w, Some(&t), decline, &w.environment, SENT).unwrap();
    assert_eq!(d.case.status, TransferStatus::Declined);
    assert_eq!(
        d.case.decline.as_deref(),
        Some("违法行为轻微并及时改正，没有造成危害后果")
    );
    // The sender hears of it, with the reasons (notices/003: 办理情况反馈).
    assert_eq!(d.events[0].kind.name(), "declined");
    assert_eq!(d.events[0].recipients, std::slice::from_ref(&w.market.code));
    let detail = serde_json::to_value(&d.events[0].kind).unwrap();
    assert_eq!(
        detail["reasons"],
        "违法行为轻微并及时改正，没有造成危害后果"
    );
    assert_eq!(d.case.history.last().unwrap().note, detail["reasons"]);

    // A declined transfer is not opened or objected to afterwards.
    let accept = TransferCommand::Accept {
        case_number: String::new(),
        note: String::new(),
    };
    let err = run(&w, Some(&d.case), accept, &w.environment, SENT).unwrap_err();
    assert!(matches!(
        err,
        Rejection::WrongState {
            step: "accept",
            status: "declined",
            ..
        }
    ));
}

#[test]
fn the_sender_contests_a_decline_and_the_dispute_that_follows_names_both_sides() {
    let w = world();
    let t = declined(&w);
    let contest = TransferCommand::ContestDecline {
        reasons: "当事人多次违法，不属轻微".to_owned(),
    };
    // The receiver cannot contest its own decision; an outsider is no party.
    let err = run(&w, Some(&t), contest.clone(), &w.environment, SENT).unwrap_err();
    assert!(matches!(
        err,
        Rejection::NotAddressee {
            step: "contest_decline",
            role: Role::Sender,
            ..
        }
    ));
    let err = run(&w, Some(&t), contest.clone(), &w.emergency, SENT).unwrap_err();
    assert_eq!(
        err,
        Rejection::NotAParty {
            step: "contest_decline"
        }
    );
    let blank = TransferCommand::ContestDecline {
        reasons: String::new(),
    };
    let err = run(&w, Some(&t), blank, &w.market, SENT).unwrap_err();
    assert_eq!(err.field(), Some("reasons"));
    // Only a decline can be contested.
    let err = run(&w, Some(&sent(&w)), contest.clone(), &w.market, SENT).unwrap_err();
    assert!(matches!(
        err,
        Rejection::WrongState {
            step: "contest_decline",
            status: "sent",
            ..
        }
    ));

    let d = run(&w, Some(&t), contest, &w.market, SENT).unwrap();
    assert_eq!(d.case.status, TransferStatus::DeclineContested);
    assert_eq!(
        d.case.decline_contest.as_deref(),
        Some("当事人多次违法，不属轻微")
    );
    assert_eq!(
        d.events[0].recipients,
        std::slice::from_ref(&w.environment.code)
    );
    match &d.events[0].kind {
        TransferEventKind::DeclineContested {
            sender,
            receiver,
            reasons,
            decline_reasons,
            ..
        } => {
            assert_eq!(sender, &w.market.code);
            assert_eq!(receiver, &w.environment.code);
            assert_eq!(reasons, "当事人多次违法，不属轻微");
            assert_eq!(decline_reasons, "违法行为轻微并及时改正，没有造成危害后果");
        }
        other => panic!("unexpected event {other:?}"),
    }
}

#[test]
fn a_designation_after_a_contested_decline_binds_the_receiver_to_open_the_case() {
    let w = world();
    let contest = TransferCommand::ContestDecline {
        reasons: "当事人多次违法，不属轻微".to_owned(),
    };
    let contested = run(&w, Some(&declined(&w)), contest, &w.market, SENT)
        .unwrap()
        .case;
    // A restart is refused on a mere decline: only the sender's contest leads to a dispute.
    let err = run(
        &w,
        Some(&declined(&w)),
        designation(&w, &w.environment),
        &w.government,
        SENT,
    )
    .unwrap_err();
    assert!(matches!(
        err,
        Rejection::WrongState {
            step: "restart",
            ..
        }
    ));

    let d = run(
        &w,
        Some(&contested),
        designation(&w, &w.environment),
        &w.government,
        SENT,
    )
    .unwrap();
    let restarted = d.case;
    assert_eq!(restarted.status, TransferStatus::Sent);
    assert_eq!(restarted.receiver, w.environment.code);
    assert!(restarted.designated_by.is_some());
    assert_eq!(d.events[0].kind.name(), "sent");
    for step in [
        TransferCommand::Decline {
            reasons: "仍不予立案".to_owned(),
        },
        TransferCommand::Object {
            reasons: "不属本局管辖".to_owned(),
        },
    ] {
        let err = run(&w, Some(&restarted), step, &w.environment, SENT).unwrap_err();
        assert_eq!(err.rule(), "SAMR-16", "{err}");
    }
    let accept = TransferCommand::Accept {
        case_number: "榕环罚立〔2026〕13号".to_owned(),
        note: String::new(),
    };
    assert!(run(&w, Some(&restarted), accept, &w.environment, SENT).is_ok());

    // The office may find the sender competent instead: the case is the sender's again.
    let d = run(
        &w,
        Some(&contested),
        designation(&w, &w.market),
        &w.government,
        SENT,
    )
    .unwrap();
    assert_eq!(d.case.status, TransferStatus::OutcomeReported);
}

/// The transfer, opened by the environment bureau.
fn accepted(w: &World) -> Transfer {
    let accept = TransferCommand::Accept {
        case_number: "榕环罚立〔2026〕12号".to_owned(),
        note: String::new(),
    };
    run(w, Some(&sent(w)), accept, &w.environment, SENT)
        .unwrap()
        .case
}

fn suspension(reason: &str, approval: Option<Document>) -> TransferCommand {
    TransferCommand::Suspend {
        reason: reason.to_owned(),
        approval,
    }
}

#[test]
fn an_opened_case_is_suspended_with_its_reason_and_approval_and_resumed() {
    let w = world();
    let approval = || Some(doc(DocumentKind::Decision, "中止审批表"));
    // Before 立案 there is no case to suspend (S4 Art 18 stops SAMR-18 for testing only).
    let err = run(
        &w,
        Some(&sent(&w)),
        suspension("当事人下落不明", approval()),
        &w.environment,
        SENT,
    )
    .unwrap_err();
    assert!(matches!(
        err,
        Rejection::WrongState {
            step: "suspend",
            status: "sent",
            allowed: &["accepted"],
        }
    ));
    let t = accepted(&w);
    for (command, field) in [
        (suspension("当事人下落不明", None), "approval"),
        (suspension(" ", approval()), "reason"),
        (
            suspension("当事人下落不明", Some(doc(DocumentKind::Decision, ""))),
            "approval.title",
        ),
    ] {
        let err = run(&w, Some(&t), command, &w.environment, SENT).unwrap_err();
        assert_eq!(err.field(), Some(field), "{err}");
    }
    let err = run(
        &w,
        Some(&t),
        suspension("当事人下落不明", approval()),
        &w.market,
        SENT,
    )
    .unwrap_err();
    assert!(matches!(err, Rejection::NotAddressee { .. }), "{err}");

    let d = run(
        &w,
        Some(&t),
        suspension("当事人下落不明", approval()),
        &w.environment,
        "2026-03-10T10:00:00+08:00",
    )
    .unwrap();
    let suspended = d.case;
    assert_eq!(suspended.status, TransferStatus::Suspended);
    let on_record = suspended.suspension.clone().unwrap();
    assert_eq!(on_record.reason, "当事人下落不明");
    assert_eq!(on_record.approval.title, "中止审批表");
    assert_eq!(on_record.since, at("2026-03-10T10:00:00+08:00"));
    assert_eq!(suspended.documents.len(), t.documents.len() + 1);
    let entry = suspended.history.last().unwrap();
    assert_eq!(entry.note, "当事人下落不明");
    assert_eq!(entry.documents[0].title, "中止审批表");
    assert_eq!(d.events[0].kind.name(), "suspended");
    assert_eq!(d.events[0].recipients, std::slice::from_ref(&w.market.code));

    // Nothing is decided while suspended; the receiver resumes first.
    let report = TransferCommand::ReportOutcome {
        outcome: "已处罚".to_owned(),
        documents: Vec::new(),
    };
    let err = run(&w, Some(&suspended), report.clone(), &w.environment, SENT).unwrap_err();
    assert!(matches!(
        err,
        Rejection::WrongState {
            step: "report_outcome",
            status: "suspended",
            ..
        }
    ));
    let resume = TransferCommand::Resume {
        note: "当事人已到案".to_owned(),
    };
    let d = run(
        &w,
        Some(&suspended),
        resume,
        &w.environment,
        "2026-03-20T10:00:00+08:00",
    )
    .unwrap();
    assert_eq!(d.case.status, TransferStatus::Accepted);
    assert_eq!(d.case.suspension, None);
    assert_eq!(d.events[0].kind.name(), "resumed");
    assert!(run(&w, Some(&d.case), report, &w.environment, SENT).is_ok());
    // A resume needs a suspension.
    let err = run(
        &w,
        Some(&t),
        TransferCommand::Resume {
            note: String::new(),
        },
        &w.environment,
        SENT,
    )
    .unwrap_err();
    assert!(matches!(
        err,
        Rejection::WrongState {
            step: "resume",
            status: "accepted",
            ..
        }
    ));
}
