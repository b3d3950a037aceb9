//! Jurisdiction dispute messages (disputes.proto).

use casebridge_core::dispute::{
    DirectDesignation, Dispute, DisputeCommand, DisputeStatus, Raising,
};
use casebridge_core::ids::CaseId;
use casebridge_platform::cases::Accepted;
use casebridge_proto::v1 as pb;

use super::{
    CaseStep, Converted, Violations, WireNames, documents, history, opt_code, opt_id, step,
    timestamp,
};

/// A step on a dispute, ready for the disputes service.
pub type DisputeStep = Converted<DisputeCommand>;

/// The wire names a dispute's fields as its state machine does.
impl WireNames for DisputeCommand {
    fn wire_field<'a>(&self, field: &'a str) -> &'a str {
        field
    }
}

const ID: &str = "dispute_id";

pub fn raise(req: pb::RaiseDisputeRequest) -> Result<DisputeStep, Violations> {
    let pb::RaiseDisputeRequest {
        request_id,
        respondent,
        question,
        position,
        transfer_id,
        documents,
    } = req;
    let mut v = Violations::default();
    let request_id = v.request_id(&request_id);
    let respondent = v.agency("respondent", &respondent);
    let transfer = v.optional_case_id("transfer_id", &transfer_id);
    let documents = v.documents("documents", documents);
    let case_id = CaseId::generate();
    let attachments = v.take_attachments();
    let step = (|| {
        Some(DisputeStep {
            step: CaseStep {
                request_id: request_id?,
                case_id,
                command: DisputeCommand::Raise(Raising {
                    case_id,
                    respondent: respondent?,
                    question,
                    position,
                    transfer: transfer?,
                    documents,
                }),
            },
            attachments,
        })
    })();
    v.finish(step)
}

pub fn designate_directly(req: pb::DesignateDirectlyRequest) -> Result<DisputeStep, Violations> {
    let pb::DesignateDirectlyRequest {
        request_id,
        parties,
        question,
        designated,
        decision,
        transfer_id,
        documents,
    } = req;
    let mut v = Violations::default();
    let request_id = v.request_id(&request_id);
    let pair = match parties.as_slice() {
        [a, b] => {
            let a = v.agency("parties[0]", a);
            let b = v.agency("parties[1]", b);
            a.zip(b).map(|(a, b)| [a, b])
        }
        _ => {
            v.add(
                "parties",
                format!(
                    "parties must name exactly two agencies, it names {}",
                    parties.len()
                ),
            );
            None
        }
    };
    let designated = v.agency("designated", &designated);
    let transfer = v.optional_case_id("transfer_id", &transfer_id);
    let documents = v.documents("documents", documents);
    let case_id = CaseId::generate();
    let attachments = v.take_attachments();
    let step = (|| {
        Some(DisputeStep {
            step: CaseStep {
                request_id: request_id?,
                case_id,
                command: DisputeCommand::DesignateDirectly(DirectDesignation {
                    case_id,
                    parties: pair?,
                    question,
                    designated: designated?,
                    decision,
                    transfer: transfer?,
                    documents,
                }),
            },
            attachments,
        })
    })();
    v.finish(step)
}

pub fn record_minutes(req: pb::RecordMinutesRequest) -> Result<DisputeStep, Violations> {
    let pb::RecordMinutesRequest {
        request_id,
        dispute_id,
        competent,
        minutes,
        documents,
    } = req;
    let mut v = Violations::default();
    let competent = v.agency("competent", &competent);
    let documents = v.documents("documents", documents);
    let command = competent.map(|competent| DisputeCommand::RecordMinutes {
        competent,
        minutes,
        documents,
    });
    step(v, &request_id, ID, &dispute_id, command)
}

pub fn refer(req: pb::ReferDisputeRequest) -> Result<DisputeStep, Violations> {
    let pb::ReferDisputeRequest {
        request_id,
        dispute_id,
        note,
    } = req;
    let command = Some(DisputeCommand::Refer { note });
    step(Violations::default(), &request_id, ID, &dispute_id, command)
}

pub fn accept(req: pb::AcceptDisputeRequest) -> Result<DisputeStep, Violations> {
    let pb::AcceptDisputeRequest {
        request_id,
        dispute_id,
        note,
    } = req;
    let command = Some(DisputeCommand::Accept { note });
    step(Violations::default(), &request_id, ID, &dispute_id, command)
}

pub fn reply(req: pb::ReplyToDisputeRequest) -> Result<DisputeStep, Violations> {
    let pb::ReplyToDisputeRequest {
        request_id,
        dispute_id,
        position,
        documents,
    } = req;
    let mut v = Violations::default();
    let documents = v.documents("documents", documents);
    let command = Some(DisputeCommand::Reply {
        position,
        documents,
    });
    step(v, &request_id, ID, &dispute_id, command)
}

pub fn designate(req: pb::DesignateAgencyRequest) -> Result<DisputeStep, Violations> {
    let pb::DesignateAgencyRequest {
        request_id,
        dispute_id,
        designated,
        decision,
        documents,
    } = req;
    let mut v = Violations::default();
    let designated = v.agency("designated", &designated);
    let documents = v.documents("documents", documents);
    let command = designated.map(|designated| DisputeCommand::Designate {
        designated,
        decision,
        documents,
    });
    step(v, &request_id, ID, &dispute_id, command)
}

fn status(s: DisputeStatus) -> pb::DisputeStatus {
    use pb::DisputeStatus as W;
    match s {
        DisputeStatus::Negotiating => W::Negotiating,
        DisputeStatus::Agreed => W::Agreed,
        DisputeStatus::Referred => W::Referred,
        DisputeStatus::Accepted => W::Accepted,
        DisputeStatus::Replied => W::Replied,
        DisputeStatus::Designated => W::Designated,
    }
}

/// A dispute for one of its parties.
pub fn dispute(d: &Dispute) -> pb::Dispute {
    pb::Dispute {
        id: d.id.to_string(),
        raised_by: d.raised_by.to_string(),
        sender: d.sender.to_string(),
        respondent: d.respondent.to_string(),
        office: opt_code(d.office.as_ref()),
        status: status(d.status).into(),
        question: d.question.clone(),
        transfer_id: opt_id(d.transfer),
        positions: d
            .positions
            .iter()
            .map(|p| pb::DisputePosition {
                agency: p.agency.to_string(),
                text: p.text.clone(),
                at: Some(timestamp(p.at)),
            })
            .collect(),
        documents: documents(&d.documents),
        minutes: d.minutes.clone().unwrap_or_default(),
        competent: opt_code(d.competent.as_ref()),
        decision: d.decision.clone().unwrap_or_default(),
        history: d.history.iter().map(history).collect(),
        version: d.version,
    }
}

/// The wire result of an accepted dispute step.
pub fn result(accepted: Accepted<Dispute>) -> pb::DisputeResult {
    pb::DisputeResult {
        dispute: Some(dispute(&accepted.case)),
        replayed: accepted.replayed,
        accepted_at: Some(timestamp(accepted.accepted_at)),
        receipt: Some(super::receipt(&accepted.receipt)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_direct_designation_names_exactly_two_parties() {
        let v = designate_directly(pb::DesignateDirectlyRequest {
            request_id: "r".into(),
            parties: vec!["11350100MB0100002P".into()],
            designated: "11350100MB0100002P".into(),
            ..Default::default()
        })
        .expect_err("one party");
        assert_eq!(v.list[0].0, "parties");
    }
}
