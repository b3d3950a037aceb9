//! Tests of the lead state machine (线索互告), on the shipped example directory: every transition
//! and every refusal (wrong kind, wrong party, stranger, wrong state, missing input).

use super::*;
use crate::document::DocumentKind;
use crate::fixtures::{World, at, doc, world};

const NOW: &str = "2026-03-02T10:00:00+08:00";

fn run(
    w: &World,
    current: Option<&Lead>,
    command: LeadCommand,
    actor: &Agency,
) -> Result<Decision, Rejection> {
    decide(current, &command, actor, &w.directory, at(NOW))
}

fn sending(to: &Agency) -> Sending {
    Sending {
        case_id: CaseId::generate(),
        to: to.code.clone(),
        subject: "疑似向河道排放污水".to_owned(),
        description: "检查某食品厂时发现厂区排污口直通河道".to_owned(),
        documents: vec![doc(DocumentKind::Evidence, "现场照片")],
    }
}

/// A lead from the market bureau to the environment bureau.
fn sent(w: &World) -> Lead {
    run(
        w,
        None,
        LeadCommand::Send(sending(&w.environment)),
        &w.market,
    )
    .unwrap()
    .case
}

fn acknowledged(w: &World) -> Lead {
    let lead = sent(w);
    run(
        w,
        Some(&lead),
        LeadCommand::Acknowledge {
            note: "已签收".to_owned(),
        },
        &w.environment,
    )
    .unwrap()
    .case
}

fn no_action(reasons: &str) -> LeadCommand {
    LeadCommand::Answer(Answer::NoAction {
        reasons: reasons.to_owned(),
    })
}

#[test]
fn a_lead_is_sent_acknowledged_and_answered_with_a_transfer() {
    let w = world();
    let out = run(
        &w,
        None,
        LeadCommand::Send(sending(&w.environment)),
        &w.market,
    )
    .unwrap();
    assert_eq!(out.case.status, LeadStatus::Sent);
    assert_eq!(out.case.sender, w.market.code);
    assert_eq!(out.case.recipient, w.environment.code);
    assert_eq!(out.events[0].kind, LeadEventKind::Sent);
    assert_eq!(
        out.events[0].recipients,
        std::slice::from_ref(&w.environment.code)
    );
    let lead = out.case;

    let out = run(
        &w,
        Some(&lead),
        LeadCommand::Acknowledge {
            note: String::new(),
        },
        &w.environment,
    )
    .unwrap();
    assert_eq!(out.case.status, LeadStatus::Acknowledged);
    assert_eq!(out.events[0].kind, LeadEventKind::Acknowledged);
    assert_eq!(
        out.events[0].recipients,
        std::slice::from_ref(&w.market.code)
    );
    let lead = out.case;

    let transfer = CaseId::generate();
    let answer = Answer::TransferOpened { transfer };
    let out = run(
        &w,
        Some(&lead),
        LeadCommand::Answer(answer.clone()),
        &w.environment,
    )
    .unwrap();
    assert_eq!(out.case.status, LeadStatus::Answered);
    assert_eq!(out.case.answer, Some(answer.clone()));
    assert_eq!(out.events[0].kind, LeadEventKind::Answered { answer });
    assert_eq!(out.case.history.len(), 3);
    assert_eq!(out.case.version, 3);
}

#[test]
fn a_lead_may_be_answered_without_acknowledgement_with_a_referral_or_no_action() {
    let w = world();
    let referral = CaseId::generate();
    let out = run(
        &w,
        Some(&sent(&w)),
        LeadCommand::Answer(Answer::ReferralMade { referral }),
        &w.environment,
    )
    .unwrap();
    assert_eq!(out.case.status, LeadStatus::Answered);
    assert_eq!(out.case.answer, Some(Answer::ReferralMade { referral }));

    let out = run(
        &w,
        Some(&acknowledged(&w)),
        no_action("经核查，该厂已取得排污许可"),
        &w.environment,
    )
    .unwrap();
    assert_eq!(out.case.status, LeadStatus::Answered);
    assert_eq!(out.case.history[2].note, "经核查，该厂已取得排污许可");
}

#[test]
fn no_action_states_its_reasons() {
    let w = world();
    let lead = acknowledged(&w);
    for reasons in ["", "   "] {
        let err = run(&w, Some(&lead), no_action(reasons), &w.environment).unwrap_err();
        assert_eq!(err.rule(), "INPUT");
        assert_eq!(err.field(), Some("reasons"));
    }
}

#[test]
fn an_answer_cannot_name_the_lead_itself() {
    let w = world();
    let lead = sent(&w);
    let err = run(
        &w,
        Some(&lead),
        LeadCommand::Answer(Answer::TransferOpened { transfer: lead.id }),
        &w.environment,
    )
    .unwrap_err();
    assert_eq!(err.field(), Some("transfer"));
    let err = run(
        &w,
        Some(&lead),
        LeadCommand::Answer(Answer::ReferralMade { referral: lead.id }),
        &w.environment,
    )
    .unwrap_err();
    assert_eq!(err.field(), Some("referral"));
}

#[test]
fn only_the_receiver_acknowledges_and_answers() {
    let w = world();
    let lead = sent(&w);
    let acknowledge = || LeadCommand::Acknowledge {
        note: String::new(),
    };
    // The sender is a party in another role: told whose step it is.
    let err = run(&w, Some(&lead), acknowledge(), &w.market).unwrap_err();
    assert!(
        matches!(
            err,
            Rejection::NotAddressee {
                role: Role::Recipient,
                ..
            }
        ),
        "{err:?}"
    );
    let err = run(&w, Some(&lead), no_action("无需处理"), &w.market).unwrap_err();
    assert!(matches!(err, Rejection::NotAddressee { .. }), "{err:?}");
    // A stranger of a permitted kind, and one of another kind, learn only that they are not
    // parties.
    for stranger in [&w.emergency, &w.police, &w.procuratorate, &w.lab] {
        let err = run(&w, Some(&lead), acknowledge(), stranger).unwrap_err();
        assert!(matches!(err, Rejection::NotAParty { .. }), "{err:?}");
        let err = run(&w, Some(&lead), no_action("无需处理"), stranger).unwrap_err();
        assert!(matches!(err, Rejection::NotAParty { .. }), "{err:?}");
    }
}

#[test]
fn steps_out_of_order_are_refused_with_the_state() {
    let w = world();
    let lead = acknowledged(&w);
    let err = run(
        &w,
        Some(&lead),
        LeadCommand::Acknowledge {
            note: String::new(),
        },
        &w.environment,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Rejection::WrongState {
                status: "acknowledged",
                ..
            }
        ),
        "{err:?}"
    );
    let answered = run(&w, Some(&lead), no_action("不属本局职责"), &w.environment)
        .unwrap()
        .case;
    let err = run(&w, Some(&answered), no_action("再次答复"), &w.environment).unwrap_err();
    assert!(
        matches!(
            err,
            Rejection::WrongState {
                status: "answered",
                ..
            }
        ),
        "{err:?}"
    );
    let err = run(
        &w,
        Some(&answered),
        LeadCommand::Acknowledge {
            note: String::new(),
        },
        &w.environment,
    )
    .unwrap_err();
    assert!(matches!(err, Rejection::WrongState { .. }), "{err:?}");
    // Sending again on an existing lead, and answering a lead that does not exist.
    let err = run(
        &w,
        Some(&answered),
        LeadCommand::Send(sending(&w.environment)),
        &w.market,
    )
    .unwrap_err();
    assert!(matches!(err, Rejection::AlreadyExists { .. }), "{err:?}");
    let err = run(&w, None, no_action("无"), &w.environment).unwrap_err();
    assert!(matches!(err, Rejection::NotFound { .. }), "{err:?}");
}

#[test]
fn a_lead_goes_from_an_enforcement_agency_to_another_enforcement_agency() {
    let w = world();
    // The police may send a lead, and receive one.
    let out = run(&w, None, LeadCommand::Send(sending(&w.market)), &w.police).unwrap();
    assert_eq!(out.case.recipient, w.market.code);
    run(&w, None, LeadCommand::Send(sending(&w.police)), &w.market).unwrap();
    // Not to a procuratorate, a coordination body or a testing body.
    for to in [&w.procuratorate, &w.lab] {
        let err = run(&w, None, LeadCommand::Send(sending(to)), &w.market).unwrap_err();
        assert!(
            matches!(err, Rejection::WrongRecipientKind { field: "to", .. }),
            "{err:?}"
        );
    }
    // Not to itself.
    let err = run(&w, None, LeadCommand::Send(sending(&w.market)), &w.market).unwrap_err();
    assert_eq!(err.field(), Some("to"));
    // A procuratorate or a testing body does not send leads.
    for sender in [&w.procuratorate, &w.lab] {
        let err = run(&w, None, LeadCommand::Send(sending(&w.environment)), sender).unwrap_err();
        assert!(matches!(err, Rejection::WrongRole { .. }), "{err:?}");
    }
}

#[test]
fn a_lead_names_its_subject_and_description() {
    let w = world();
    let mut s = sending(&w.environment);
    s.subject = " ".to_owned();
    let err = run(&w, None, LeadCommand::Send(s), &w.market).unwrap_err();
    assert_eq!(err.field(), Some("subject"));
    let mut s = sending(&w.environment);
    s.description = String::new();
    let err = run(&w, None, LeadCommand::Send(s), &w.market).unwrap_err();
    assert_eq!(err.field(), Some("description"));
    let mut s = sending(&w.environment);
    s.documents = vec![doc(DocumentKind::Evidence, "")];
    let err = run(&w, None, LeadCommand::Send(s), &w.market).unwrap_err();
    assert_eq!(err.field(), Some("documents.title"));
}

#[test]
fn statuses_and_answers_serialise_as_their_names() {
    for s in LeadStatus::ALL {
        assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
    }
    let answer = Answer::NoAction {
        reasons: "r".to_owned(),
    };
    assert_eq!(
        serde_json::to_value(&answer).unwrap()["outcome"],
        answer.as_str()
    );
}
