//! Tests of the jurisdiction dispute state machine, on the shipped example directory, where the
//! city bureaus' common superior is the city government and the justice bureau coordinates.

use super::*;
use crate::document::DocumentKind;
use crate::fixtures::{World, at, doc, world};

const NOW: &str = "2026-03-02T10:00:00+08:00";

fn run_with(
    w: &World,
    policy: &DisputePolicy,
    current: Option<&Dispute>,
    command: DisputeCommand,
    actor: &Agency,
) -> Result<Decision, Rejection> {
    let ctx = Context {
        directory: &w.directory,
        policy,
    };
    decide(current, &command, actor, &ctx, at(NOW))
}

fn run(
    w: &World,
    current: Option<&Dispute>,
    command: DisputeCommand,
    actor: &Agency,
) -> Result<Decision, Rejection> {
    run_with(w, &DisputePolicy::default(), current, command, actor)
}

fn raising(w: &World) -> Raising {
    Raising {
        case_id: CaseId::generate(),
        respondent: w.environment.code.clone(),
        question: "河道排污案由哪个部门管辖".to_owned(),
        position: "排污属生态环境部门职责".to_owned(),
        transfer: Some(CaseId::generate()),
        documents: Vec::new(),
    }
}

fn raised(w: &World) -> Dispute {
    run(w, None, DisputeCommand::Raise(raising(w)), &w.market)
        .unwrap()
        .case
}

fn referred(w: &World, by: &Agency) -> Dispute {
    let d = raised(w);
    run(
        w,
        Some(&d),
        DisputeCommand::Refer {
            note: "协商未果".to_owned(),
        },
        by,
    )
    .unwrap()
    .case
}

#[test]
fn a_dispute_is_referred_accepted_answered_and_designated_by_the_common_superior() {
    let w = world();
    let d = raised(&w);
    assert_eq!(d.status, DisputeStatus::Negotiating);
    assert_eq!(d.positions.len(), 1);

    let d = referred(&w, &w.market);
    assert_eq!(d.status, DisputeStatus::Referred);
    assert_eq!(d.office, Some(w.government.code.clone()));

    let accept = DisputeCommand::Accept {
        note: String::new(),
    };
    let out = run(&w, Some(&d), accept, &w.government).unwrap();
    let d = out.case;
    assert_eq!(d.status, DisputeStatus::Accepted);
    assert_eq!(
        out.events[0].recipients,
        [w.market.code.clone(), w.environment.code.clone()]
    );

    let reply = DisputeCommand::Reply {
        position: "排污口位于城市管理范围".to_owned(),
        documents: Vec::new(),
    };
    let d = run(&w, Some(&d), reply, &w.environment).unwrap().case;
    assert_eq!(d.status, DisputeStatus::Replied);
    assert_eq!(d.positions.len(), 2);

    let designate = DisputeCommand::Designate {
        designated: w.environment.code.clone(),
        decision: "指定由生态环境局管辖".to_owned(),
        documents: vec![doc(DocumentKind::Designation, "指定管辖决定书")],
    };
    let out = run(&w, Some(&d), designate, &w.government).unwrap();
    assert_eq!(out.case.status, DisputeStatus::Designated);
    assert_eq!(out.case.competent, Some(w.environment.code.clone()));
    match &out.events[0].kind {
        DisputeEventKind::Designated {
            designated,
            transfer,
            office,
            ..
        } => {
            assert_eq!(designated, &w.environment.code);
            assert_eq!(*transfer, d.transfer);
            assert_eq!(office, &w.government.code);
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn the_office_can_be_the_justice_bureau_by_policy() {
    let w = world();
    let policy = DisputePolicy {
        office: OfficeRule::JusticeBureauFirst,
    };
    let d = run_with(
        &w,
        &policy,
        None,
        DisputeCommand::Raise(raising(&w)),
        &w.market,
    )
    .unwrap()
    .case;
    let refer = DisputeCommand::Refer {
        note: String::new(),
    };
    let d = run_with(&w, &policy, Some(&d), refer, &w.environment)
        .unwrap()
        .case;
    assert_eq!(d.office, Some(w.justice.code.clone()));
}

#[test]
fn when_the_respondent_refers_the_raiser_becomes_the_side_that_replies() {
    let w = world();
    let d = referred(&w, &w.environment);
    assert_eq!(d.sender, w.environment.code);
    assert_eq!(d.respondent, w.market.code);
    assert_eq!(d.raised_by, w.market.code);
    let accept = DisputeCommand::Accept {
        note: String::new(),
    };
    let d = run(&w, Some(&d), accept, &w.government).unwrap().case;
    let reply = || DisputeCommand::Reply {
        position: "x".to_owned(),
        documents: Vec::new(),
    };
    let err = run(&w, Some(&d), reply(), &w.environment).unwrap_err();
    assert_eq!(err.rule(), "AUTH-ADDRESSEE");
    assert!(run(&w, Some(&d), reply(), &w.market).is_ok());
}

#[test]
fn agreed_minutes_close_the_dispute_naming_one_of_the_parties() {
    let w = world();
    let d = raised(&w);
    let outside = DisputeCommand::RecordMinutes {
        competent: w.emergency.code.clone(),
        minutes: "协商一致".to_owned(),
        documents: Vec::new(),
    };
    let err = run(&w, Some(&d), outside, &w.environment).unwrap_err();
    assert_eq!(err.field(), Some("competent"));

    let minutes = DisputeCommand::RecordMinutes {
        competent: w.environment.code.clone(),
        minutes: "协商一致由生态环境局办理".to_owned(),
        documents: vec![doc(DocumentKind::Minutes, "协商纪要")],
    };
    let out = run(&w, Some(&d), minutes, &w.environment).unwrap();
    assert_eq!(out.case.status, DisputeStatus::Agreed);
    assert_eq!(out.events[0].kind.name(), "minutes_agreed");
    assert_eq!(
        out.events[0].recipients,
        std::slice::from_ref(&w.market.code)
    );
}

#[test]
fn only_the_office_accepts_and_designates() {
    let w = world();
    let d = referred(&w, &w.market);
    let accept = || DisputeCommand::Accept {
        note: String::new(),
    };
    let err = run(&w, Some(&d), accept(), &w.market).unwrap_err();
    assert!(matches!(
        err,
        Rejection::NotAddressee {
            role: Role::Coordination,
            ..
        }
    ));
    let err = run(&w, Some(&d), accept(), &w.justice).unwrap_err();
    assert_eq!(err, Rejection::NotAParty { step: "accept" });
    let designate = DisputeCommand::Designate {
        designated: w.environment.code.clone(),
        decision: "x".to_owned(),
        documents: Vec::new(),
    };
    let err = run(&w, Some(&d), designate, &w.government).unwrap_err();
    assert!(matches!(
        err,
        Rejection::WrongState {
            step: "designate",
            ..
        }
    ));
}

#[test]
fn a_dispute_cannot_be_referred_twice_or_designated_to_the_police() {
    let w = world();
    let d = referred(&w, &w.market);
    let refer = DisputeCommand::Refer {
        note: String::new(),
    };
    let err = run(&w, Some(&d), refer, &w.environment).unwrap_err();
    assert!(matches!(err, Rejection::WrongState { step: "refer", .. }));

    let accept = DisputeCommand::Accept {
        note: String::new(),
    };
    let d = run(&w, Some(&d), accept, &w.government).unwrap().case;
    let designate = DisputeCommand::Designate {
        designated: w.police.code.clone(),
        decision: "x".to_owned(),
        documents: Vec::new(),
    };
    let err = run(&w, Some(&d), designate, &w.government).unwrap_err();
    assert!(matches!(
        err,
        Rejection::WrongRecipientKind {
            field: "designated",
            ..
        }
    ));
}

#[test]
fn the_common_superior_may_designate_directly_and_no_one_else_may() {
    let w = world();
    let direct = DirectDesignation {
        case_id: CaseId::generate(),
        parties: [w.market.code.clone(), w.environment.code.clone()],
        question: "河道排污案由哪个部门管辖".to_owned(),
        designated: w.environment.code.clone(),
        decision: "直接指定由生态环境局管辖".to_owned(),
        transfer: None,
        documents: Vec::new(),
    };
    let err = run(
        &w,
        None,
        DisputeCommand::DesignateDirectly(direct.clone()),
        &w.justice,
    )
    .unwrap_err();
    assert_eq!(err.rule(), "S3 Art 25");
    let out = run(
        &w,
        None,
        DisputeCommand::DesignateDirectly(direct),
        &w.government,
    )
    .unwrap();
    assert_eq!(out.case.status, DisputeStatus::Designated);
    assert_eq!(
        out.events[0].recipients,
        [w.market.code.clone(), w.environment.code.clone()]
    );
}

#[test]
fn an_objection_opens_a_dispute_between_the_objector_and_the_sender() {
    let w = world();
    let transfer = CaseId::generate();
    let from = FromObjection {
        case_id: CaseId::generate(),
        transfer,
        respondent: w.market.code.clone(),
        question: "无证排放污水".to_owned(),
        position: "不属本局管辖".to_owned(),
    };
    let out = run(
        &w,
        None,
        DisputeCommand::RaiseFromObjection(from),
        &w.environment,
    )
    .unwrap();
    assert_eq!(out.case.sender, w.environment.code);
    assert_eq!(out.case.respondent, w.market.code);
    assert_eq!(out.case.transfer, Some(transfer));
    assert_eq!(out.events[0].kind.name(), "raised");
}

#[test]
fn a_dispute_with_oneself_or_a_non_administrative_agency_is_refused() {
    let w = world();
    let mut r = raising(&w);
    r.respondent = w.market.code.clone();
    let err = run(&w, None, DisputeCommand::Raise(r), &w.market).unwrap_err();
    assert_eq!(err.field(), Some("respondent"));
    let mut r = raising(&w);
    r.respondent = w.police.code.clone();
    let err = run(&w, None, DisputeCommand::Raise(r), &w.market).unwrap_err();
    assert_eq!(err.rule(), "DIR");
    let mut r = raising(&w);
    r.question = String::new();
    let err = run(&w, None, DisputeCommand::Raise(r), &w.market).unwrap_err();
    assert_eq!(err.field(), Some("question"));
}
