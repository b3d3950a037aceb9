//! Lead messages (leads.proto): leads between agencies (线索互告).

use casebridge_core::ids::CaseId;
use casebridge_core::lead::{Answer, Lead, LeadCommand, LeadStatus, Sending};
use casebridge_platform::cases::Accepted;
use casebridge_proto::v1 as pb;

use super::{CaseStep, Converted, Violations, WireNames, documents, history, step, timestamp};

/// A step on a lead, ready for the leads service.
pub type LeadStep = Converted<LeadCommand>;

/// The wire path of the answer's transfer id.
pub const TRANSFER_ID: &str = "transfer_opened.transfer_id";
/// The wire path of the answer's referral id.
pub const REFERRAL_ID: &str = "referral_made.referral_id";

impl WireNames for LeadCommand {
    fn wire_field<'a>(&self, field: &'a str) -> &'a str {
        // The answer's outcome is a oneof of messages on the wire (AnswerLeadRequest.outcome).
        match (self, field) {
            (LeadCommand::Answer(_), "reasons") => "no_action.reasons",
            (LeadCommand::Answer(_), "transfer") => TRANSFER_ID,
            (LeadCommand::Answer(_), "referral") => REFERRAL_ID,
            (_, f) => f,
        }
    }
}

const ID: &str = "lead_id";

pub fn send(req: pb::SendLeadRequest) -> Result<LeadStep, Violations> {
    let pb::SendLeadRequest {
        request_id,
        to,
        subject,
        description,
        documents,
    } = req;
    let mut v = Violations::default();
    let request_id = v.request_id(&request_id);
    let to = v.agency("to", &to);
    let documents = v.documents("documents", documents);
    let case_id = CaseId::generate();
    let attachments = v.take_attachments();
    let step = (|| {
        Some(LeadStep {
            step: CaseStep {
                request_id: request_id?,
                case_id,
                command: LeadCommand::Send(Sending {
                    case_id,
                    to: to?,
                    subject,
                    description,
                    documents,
                }),
            },
            attachments,
        })
    })();
    v.finish(step)
}

pub fn acknowledge(req: pb::AcknowledgeLeadRequest) -> Result<LeadStep, Violations> {
    let pb::AcknowledgeLeadRequest {
        request_id,
        lead_id,
        note,
    } = req;
    let command = Some(LeadCommand::Acknowledge { note });
    step(Violations::default(), &request_id, ID, &lead_id, command)
}

pub fn answer(req: pb::AnswerLeadRequest) -> Result<LeadStep, Violations> {
    use pb::answer_lead_request::Outcome;
    let pb::AnswerLeadRequest {
        request_id,
        lead_id,
        outcome,
    } = req;
    let mut v = Violations::default();
    let answer = match outcome {
        None => {
            v.add(
                "outcome",
                "outcome is required: transfer_opened, referral_made or no_action",
            );
            None
        }
        Some(Outcome::TransferOpened(pb::LeadTransferOpened { transfer_id })) => v
            .case_id(TRANSFER_ID, &transfer_id)
            .map(|transfer| Answer::TransferOpened { transfer }),
        Some(Outcome::ReferralMade(pb::LeadReferralMade { referral_id })) => v
            .case_id(REFERRAL_ID, &referral_id)
            .map(|referral| Answer::ReferralMade { referral }),
        // Empty reasons reach the state machine, which refuses them with its rule.
        Some(Outcome::NoAction(pb::LeadNoAction { reasons })) => Some(Answer::NoAction { reasons }),
    };
    step(
        v,
        &request_id,
        ID,
        &lead_id,
        answer.map(LeadCommand::Answer),
    )
}

fn status(s: LeadStatus) -> pb::LeadStatus {
    match s {
        LeadStatus::Sent => pb::LeadStatus::Sent,
        LeadStatus::Acknowledged => pb::LeadStatus::Acknowledged,
        LeadStatus::Answered => pb::LeadStatus::Answered,
    }
}

fn answer_out(a: &Answer) -> pb::LeadAnswer {
    use pb::lead_answer::Outcome;
    let outcome = match a {
        Answer::TransferOpened { transfer } => Outcome::TransferOpened(pb::LeadTransferOpened {
            transfer_id: transfer.to_string(),
        }),
        Answer::ReferralMade { referral } => Outcome::ReferralMade(pb::LeadReferralMade {
            referral_id: referral.to_string(),
        }),
        Answer::NoAction { reasons } => Outcome::NoAction(pb::LeadNoAction {
            reasons: reasons.clone(),
        }),
    };
    pb::LeadAnswer {
        outcome: Some(outcome),
    }
}

/// A lead for one of its parties.
pub fn lead(l: &Lead) -> pb::Lead {
    pb::Lead {
        id: l.id.to_string(),
        sender: l.sender.to_string(),
        recipient: l.recipient.to_string(),
        subject: l.subject.clone(),
        description: l.description.clone(),
        status: status(l.status).into(),
        documents: documents(&l.documents),
        sent_at: Some(timestamp(l.sent_at)),
        answer: l.answer.as_ref().map(answer_out),
        history: l.history.iter().map(history).collect(),
        version: l.version,
    }
}

/// The wire result of an accepted lead step.
pub fn result(accepted: Accepted<Lead>) -> pb::LeadResult {
    pb::LeadResult {
        lead: Some(lead(&accepted.case)),
        replayed: accepted.replayed,
        accepted_at: Some(timestamp(accepted.accepted_at)),
        receipt: Some(super::receipt(&accepted.receipt)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use pb::answer_lead_request::Outcome;

    const ENVIRONMENT_BUREAU: &str = "11350100MB0100003T";

    fn answering(outcome: Option<Outcome>) -> pb::AnswerLeadRequest {
        pb::AnswerLeadRequest {
            request_id: "r".into(),
            lead_id: CaseId::generate().to_string(),
            outcome,
        }
    }

    #[test]
    fn a_lead_converts_with_its_fields() {
        let step = send(pb::SendLeadRequest {
            request_id: "r".into(),
            to: ENVIRONMENT_BUREAU.into(),
            subject: "疑似向河道排放污水".into(),
            description: "排污口直通河道".into(),
            documents: vec![pb::Document {
                kind: pb::DocumentKind::Evidence.into(),
                title: "现场照片".into(),
                sha256: String::new(),
            }],
        })
        .expect("converts");
        let LeadCommand::Send(s) = step.step.command else {
            panic!("not a sending")
        };
        assert_eq!(s.case_id, step.step.case_id);
        assert_eq!(s.to.to_string(), ENVIRONMENT_BUREAU);
        assert_eq!(s.documents.len(), 1);
    }

    #[test]
    fn a_lead_names_every_bad_field_at_once() {
        let v = send(pb::SendLeadRequest {
            request_id: String::new(),
            to: "not a code".into(),
            ..Default::default()
        })
        .expect_err("bad fields");
        let fields: Vec<&str> = v.list.iter().map(|(f, _)| f.as_str()).collect();
        assert!(fields.contains(&"request_id"), "{fields:?}");
        assert!(fields.contains(&"to"), "{fields:?}");
    }

    #[test]
    fn an_answer_needs_an_outcome() {
        let v = answer(answering(None)).expect_err("no outcome");
        assert_eq!(v.list[0].0, "outcome");
    }

    #[test]
    fn each_outcome_converts_and_a_bad_linked_id_is_named_by_its_wire_path() {
        let transfer = CaseId::generate();
        let step = answer(answering(Some(Outcome::TransferOpened(
            pb::LeadTransferOpened {
                transfer_id: transfer.to_string(),
            },
        ))))
        .expect("converts");
        assert_eq!(
            step.step.command,
            LeadCommand::Answer(Answer::TransferOpened { transfer })
        );

        let referral = CaseId::generate();
        let step = answer(answering(Some(Outcome::ReferralMade(
            pb::LeadReferralMade {
                referral_id: referral.to_string(),
            },
        ))))
        .expect("converts");
        assert_eq!(
            step.step.command,
            LeadCommand::Answer(Answer::ReferralMade { referral })
        );

        for (outcome, field) in [
            (
                Outcome::TransferOpened(pb::LeadTransferOpened {
                    transfer_id: "x".into(),
                }),
                TRANSFER_ID,
            ),
            (
                Outcome::ReferralMade(pb::LeadReferralMade {
                    referral_id: String::new(),
                }),
                REFERRAL_ID,
            ),
        ] {
            let v = answer(answering(Some(outcome))).expect_err("bad id");
            assert_eq!(v.list[0].0, field);
        }
    }

    #[test]
    fn empty_reasons_reach_the_state_machine_whose_refusal_names_the_wire_field() {
        let step = answer(answering(Some(Outcome::NoAction(pb::LeadNoAction {
            reasons: String::new(),
        }))))
        .expect("converts");
        assert_eq!(step.step.command.wire_field("reasons"), "no_action.reasons");
        assert_eq!(step.step.command.wire_field("transfer"), TRANSFER_ID);
        let ack = LeadCommand::Acknowledge {
            note: String::new(),
        };
        assert_eq!(ack.wire_field("note"), "note");
    }

    #[test]
    fn a_lead_reads_back_with_its_answer() {
        let referral = CaseId::generate();
        let l = Lead {
            id: CaseId::generate(),
            sender: casebridge_core::ids::AgencyCode::parse("11350100MB0100002P").expect("code"),
            recipient: casebridge_core::ids::AgencyCode::parse(ENVIRONMENT_BUREAU).expect("code"),
            subject: "s".into(),
            description: "d".into(),
            status: LeadStatus::Answered,
            documents: Vec::new(),
            sent_at: casebridge_core::time::Timestamp::from_millis(0),
            answer: Some(Answer::ReferralMade { referral }),
            history: Vec::new(),
            version: 2,
        };
        let wire = lead(&l);
        assert_eq!(wire.status, i32::from(pb::LeadStatus::Answered));
        let Some(pb::lead_answer::Outcome::ReferralMade(made)) =
            wire.answer.and_then(|a| a.outcome)
        else {
            panic!("no referral answer")
        };
        assert_eq!(made.referral_id, referral.to_string());
    }
}
