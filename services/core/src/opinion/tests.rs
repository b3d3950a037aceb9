//! Tests of the expert-opinion request state machine, on the shipped example directory.

use super::*;
use crate::document::DocumentKind;
use crate::fixtures::{World, at, doc, world};

const NOW: &str = "2026-03-02T10:00:00+08:00";

fn run(
    w: &World,
    current: Option<&OpinionRequest>,
    command: OpinionCommand,
    actor: &Agency,
) -> Result<Decision, Rejection> {
    decide(current, &command, actor, &w.directory, at(NOW))
}

fn requesting(w: &World, kind: OpinionKind) -> Requesting {
    Requesting {
        case_id: CaseId::generate(),
        expert: w.lab.code.clone(),
        kind,
        question: "涉案电线是否符合国家标准".to_owned(),
        documents: vec![doc(DocumentKind::Evidence, "抽样单")],
        under_case: Some(CaseId::generate()),
    }
}

fn accepted(w: &World, kind: OpinionKind) -> OpinionRequest {
    let r = run(
        w,
        None,
        OpinionCommand::Request(requesting(w, kind)),
        &w.market,
    )
    .unwrap()
    .case;
    run(
        w,
        Some(&r),
        OpinionCommand::Accept {
            note: String::new(),
        },
        &w.lab,
    )
    .unwrap()
    .case
}

fn opinion(finding: Option<Finding>, conclusion: &str) -> OpinionCommand {
    OpinionCommand::Deliver(Opinion {
        finding,
        conclusion: conclusion.to_owned(),
        basis: "经检测，导体电阻超标".to_owned(),
        documents: vec![doc(DocumentKind::Opinion, "检验报告")],
    })
}

#[test]
fn a_request_is_accepted_supplemented_and_answered_with_a_conclusion() {
    let w = world();
    let out = run(
        &w,
        None,
        OpinionCommand::Request(requesting(&w, OpinionKind::Test)),
        &w.market,
    )
    .unwrap();
    assert_eq!(out.case.status, OpinionStatus::Requested);
    assert_eq!(out.events[0].recipients, std::slice::from_ref(&w.lab.code));
    let r = out.case;

    let r = run(
        &w,
        Some(&r),
        OpinionCommand::Accept {
            note: String::new(),
        },
        &w.lab,
    )
    .unwrap()
    .case;
    let r = run(
        &w,
        Some(&r),
        OpinionCommand::RequestMaterial {
            needed: "请补充同批次样品两件".to_owned(),
        },
        &w.lab,
    )
    .unwrap()
    .case;
    assert_eq!(r.status, OpinionStatus::AwaitingMaterial);
    let r = run(
        &w,
        Some(&r),
        OpinionCommand::SupplyMaterial {
            documents: vec![doc(DocumentKind::Evidence, "补充样品清单")],
            note: String::new(),
        },
        &w.market,
    )
    .unwrap()
    .case;
    assert_eq!(r.status, OpinionStatus::Accepted);

    let out = run(
        &w,
        Some(&r),
        opinion(Some(Finding::Negative), "不符合GB/T 5023标准"),
        &w.lab,
    )
    .unwrap();
    assert_eq!(out.case.status, OpinionStatus::Delivered);
    assert_eq!(
        out.case.opinion.as_ref().unwrap().finding,
        Some(Finding::Negative)
    );
    assert_eq!(
        out.events[0].recipients,
        std::slice::from_ref(&w.market.code)
    );
    assert_eq!(out.case.history.len(), 5);
}

#[test]
fn a_description_of_the_current_state_is_not_an_opinion() {
    let w = world();
    let r = accepted(&w, OpinionKind::Determination);
    let err = run(&w, Some(&r), opinion(None, "现场有排污口一个"), &w.lab).unwrap_err();
    assert_eq!(err.rule(), "H-CONCLUSION");
    assert_eq!(err.field(), Some("finding"));
    assert!(err.to_string().contains("description of the current state"));

    let err = run(
        &w,
        Some(&r),
        opinion(Some(Finding::Affirmative), "  "),
        &w.lab,
    )
    .unwrap_err();
    assert_eq!(err.field(), Some("conclusion"));

    let err = run(
        &w,
        Some(&r),
        opinion(Some(Finding::AssistanceGiven), "已协助"),
        &w.lab,
    )
    .unwrap_err();
    assert_eq!(err.rule(), "H-CONCLUSION");
}

#[test]
fn an_assistance_request_may_conclude_that_assistance_was_given() {
    let w = world();
    let r = accepted(&w, OpinionKind::Assistance);
    let out = run(
        &w,
        Some(&r),
        opinion(Some(Finding::AssistanceGiven), "已调取企业登记信息"),
        &w.lab,
    )
    .unwrap();
    assert_eq!(out.case.status, OpinionStatus::Delivered);
}

#[test]
fn a_refusal_states_its_reasons() {
    let w = world();
    let r = run(
        &w,
        None,
        OpinionCommand::Request(requesting(&w, OpinionKind::Forensic)),
        &w.market,
    )
    .unwrap()
    .case;
    let err = run(
        &w,
        Some(&r),
        OpinionCommand::Refuse {
            reasons: String::new(),
        },
        &w.lab,
    )
    .unwrap_err();
    assert_eq!(err.field(), Some("reasons"));
    let out = run(
        &w,
        Some(&r),
        OpinionCommand::Refuse {
            reasons: "超出本院检验能力范围".to_owned(),
        },
        &w.lab,
    )
    .unwrap();
    assert_eq!(out.case.status, OpinionStatus::Refused);
}

#[test]
fn the_expert_must_be_a_department_that_can_give_an_opinion() {
    let w = world();
    let mut r = requesting(&w, OpinionKind::Determination);
    r.expert = w.police.code.clone();
    let err = run(&w, None, OpinionCommand::Request(r), &w.market).unwrap_err();
    assert!(matches!(
        err,
        Rejection::WrongRecipientKind {
            field: "expert",
            ..
        }
    ));
    // An administrative department may be asked for a determination.
    let mut r = requesting(&w, OpinionKind::Determination);
    r.expert = w.environment.code.clone();
    assert!(run(&w, None, OpinionCommand::Request(r), &w.market).is_ok());
}

#[test]
fn only_the_asked_department_answers_and_only_after_accepting() {
    let w = world();
    let r = run(
        &w,
        None,
        OpinionCommand::Request(requesting(&w, OpinionKind::Test)),
        &w.market,
    )
    .unwrap()
    .case;
    let err = run(
        &w,
        Some(&r),
        OpinionCommand::Accept {
            note: String::new(),
        },
        &w.market,
    )
    .unwrap_err();
    assert!(matches!(
        err,
        Rejection::NotAddressee {
            role: Role::Expert,
            ..
        }
    ));
    let err = run(
        &w,
        Some(&r),
        OpinionCommand::Accept {
            note: String::new(),
        },
        &w.environment,
    )
    .unwrap_err();
    assert_eq!(err.rule(), "AUTH-PARTY");
    let err = run(
        &w,
        Some(&r),
        opinion(Some(Finding::Affirmative), "符合"),
        &w.lab,
    )
    .unwrap_err();
    assert!(matches!(
        err,
        Rejection::WrongState {
            step: "deliver",
            ..
        }
    ));
}

#[test]
fn the_procuratorate_cannot_ask_for_an_opinion() {
    let w = world();
    let err = run(
        &w,
        None,
        OpinionCommand::Request(requesting(&w, OpinionKind::Test)),
        &w.procuratorate,
    )
    .unwrap_err();
    assert_eq!(err.rule(), "AUTH-ROLE");
}
