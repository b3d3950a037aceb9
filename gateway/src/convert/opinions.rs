//! Expert-opinion request messages (opinions.proto).

use casebridge_core::ids::CaseId;
use casebridge_core::opinion::{
    Finding, Opinion, OpinionCommand, OpinionKind, OpinionRequest, OpinionStatus, Requesting,
};
use casebridge_platform::cases::Accepted;
use casebridge_proto::v1 as pb;

use super::{
    CaseStep, Converted, Violations, WireNames, documents, history, opt_id, step, timestamp,
};

/// A step on an opinion request, ready for the opinions service.
pub type OpinionStep = Converted<OpinionCommand>;

impl WireNames for OpinionCommand {
    fn wire_field<'a>(&self, field: &'a str) -> &'a str {
        // The delivered opinion is a message of its own on the wire (DeliverOpinionRequest.opinion).
        match (self, field) {
            (OpinionCommand::Deliver(_), "conclusion") => "opinion.conclusion",
            (OpinionCommand::Deliver(_), "basis") => "opinion.basis",
            (OpinionCommand::Deliver(_), "finding") => "opinion.finding",
            (OpinionCommand::Deliver(_), "documents") => "opinion.documents",
            (OpinionCommand::Deliver(_), "documents.title") => "opinion.documents.title",
            (_, f) => f,
        }
    }
}

const ID: &str = "opinion_id";

pub fn request(req: pb::RequestOpinionRequest) -> Result<OpinionStep, Violations> {
    let pb::RequestOpinionRequest {
        request_id,
        expert,
        kind,
        question,
        documents,
        under_case_id,
    } = req;
    let mut v = Violations::default();
    let request_id = v.request_id(&request_id);
    let expert = v.agency("expert", &expert);
    let kind = match pb::OpinionKind::try_from(kind) {
        Ok(pb::OpinionKind::Determination) => Some(OpinionKind::Determination),
        Ok(pb::OpinionKind::Test) => Some(OpinionKind::Test),
        Ok(pb::OpinionKind::Forensic) => Some(OpinionKind::Forensic),
        Ok(pb::OpinionKind::Assistance) => Some(OpinionKind::Assistance),
        _ => {
            v.add(
                "kind",
                "kind is required: OPINION_KIND_DETERMINATION, _TEST, _FORENSIC or _ASSISTANCE",
            );
            None
        }
    };
    let documents = v.documents("documents", documents);
    let under_case = v.optional_case_id("under_case_id", &under_case_id);
    let case_id = CaseId::generate();
    let attachments = v.take_attachments();
    let step = (|| {
        Some(OpinionStep {
            step: CaseStep {
                request_id: request_id?,
                case_id,
                command: OpinionCommand::Request(Requesting {
                    case_id,
                    expert: expert?,
                    kind: kind?,
                    question,
                    documents,
                    under_case: under_case?,
                }),
            },
            attachments,
        })
    })();
    v.finish(step)
}

pub fn accept(req: pb::AcceptOpinionRequestRequest) -> Result<OpinionStep, Violations> {
    let pb::AcceptOpinionRequestRequest {
        request_id,
        opinion_id,
        note,
    } = req;
    let command = Some(OpinionCommand::Accept { note });
    step(Violations::default(), &request_id, ID, &opinion_id, command)
}

pub fn refuse(req: pb::RefuseOpinionRequestRequest) -> Result<OpinionStep, Violations> {
    let pb::RefuseOpinionRequestRequest {
        request_id,
        opinion_id,
        reasons,
    } = req;
    let command = Some(OpinionCommand::Refuse { reasons });
    step(Violations::default(), &request_id, ID, &opinion_id, command)
}

pub fn request_material(req: pb::RequestMaterialRequest) -> Result<OpinionStep, Violations> {
    let pb::RequestMaterialRequest {
        request_id,
        opinion_id,
        needed,
    } = req;
    let command = Some(OpinionCommand::RequestMaterial { needed });
    step(Violations::default(), &request_id, ID, &opinion_id, command)
}

pub fn supply_material(req: pb::SupplyMaterialRequest) -> Result<OpinionStep, Violations> {
    let pb::SupplyMaterialRequest {
        request_id,
        opinion_id,
        documents,
        note,
    } = req;
    let mut v = Violations::default();
    let documents = v.documents("documents", documents);
    let command = Some(OpinionCommand::SupplyMaterial { documents, note });
    step(v, &request_id, ID, &opinion_id, command)
}

pub fn deliver(req: pb::DeliverOpinionRequest) -> Result<OpinionStep, Violations> {
    let pb::DeliverOpinionRequest {
        request_id,
        opinion_id,
        opinion,
    } = req;
    let mut v = Violations::default();
    let command = match opinion {
        None => {
            v.add("opinion", "opinion is required");
            None
        }
        Some(pb::Opinion {
            finding,
            conclusion,
            basis,
            documents,
        }) => {
            // An unspecified finding is passed on as `None`: the state machine refuses it with
            // the rule that explains why (H-CONCLUSION), not as a mere missing field.
            let finding = match pb::OpinionFinding::try_from(finding) {
                Ok(pb::OpinionFinding::Affirmative) => Some(Finding::Affirmative),
                Ok(pb::OpinionFinding::Negative) => Some(Finding::Negative),
                Ok(pb::OpinionFinding::Quantified) => Some(Finding::Quantified),
                Ok(pb::OpinionFinding::AssistanceGiven) => Some(Finding::AssistanceGiven),
                Ok(pb::OpinionFinding::Unspecified) => None,
                Err(_) => {
                    v.add("opinion.finding", "opinion.finding must be a known finding");
                    None
                }
            };
            let documents = v.documents("opinion.documents", documents);
            Some(OpinionCommand::Deliver(Opinion {
                finding,
                conclusion,
                basis,
                documents,
            }))
        }
    };
    step(v, &request_id, ID, &opinion_id, command)
}

fn kind(k: OpinionKind) -> pb::OpinionKind {
    match k {
        OpinionKind::Determination => pb::OpinionKind::Determination,
        OpinionKind::Test => pb::OpinionKind::Test,
        OpinionKind::Forensic => pb::OpinionKind::Forensic,
        OpinionKind::Assistance => pb::OpinionKind::Assistance,
    }
}

fn status(s: OpinionStatus) -> pb::OpinionStatus {
    use pb::OpinionStatus as W;
    match s {
        OpinionStatus::Requested => W::Requested,
        OpinionStatus::Accepted => W::Accepted,
        OpinionStatus::Refused => W::Refused,
        OpinionStatus::AwaitingMaterial => W::AwaitingMaterial,
        OpinionStatus::Delivered => W::Delivered,
    }
}

fn finding(f: Option<Finding>) -> pb::OpinionFinding {
    match f {
        None => pb::OpinionFinding::Unspecified,
        Some(Finding::Affirmative) => pb::OpinionFinding::Affirmative,
        Some(Finding::Negative) => pb::OpinionFinding::Negative,
        Some(Finding::Quantified) => pb::OpinionFinding::Quantified,
        Some(Finding::AssistanceGiven) => pb::OpinionFinding::AssistanceGiven,
    }
}

/// A request for one of its parties.
pub fn opinion_request(r: &OpinionRequest) -> pb::OpinionRequest {
    pb::OpinionRequest {
        id: r.id.to_string(),
        requester: r.requester.to_string(),
        expert: r.expert.to_string(),
        kind: kind(r.kind).into(),
        question: r.question.clone(),
        status: status(r.status).into(),
        under_case_id: opt_id(r.under_case),
        documents: documents(&r.documents),
        requested_at: Some(timestamp(r.requested_at)),
        refusal: r.refusal.clone().unwrap_or_default(),
        opinion: r.opinion.as_ref().map(|o| pb::Opinion {
            finding: finding(o.finding).into(),
            conclusion: o.conclusion.clone(),
            basis: o.basis.clone(),
            documents: documents(&o.documents),
        }),
        history: r.history.iter().map(history).collect(),
        version: r.version,
    }
}

/// The wire result of an accepted opinion step.
pub fn result(accepted: Accepted<OpinionRequest>) -> pb::OpinionResult {
    pb::OpinionResult {
        opinion: Some(opinion_request(&accepted.case)),
        replayed: accepted.replayed,
        accepted_at: Some(timestamp(accepted.accepted_at)),
        receipt: Some(super::receipt(&accepted.receipt)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unspecified_finding_reaches_the_state_machine_to_be_refused_with_its_rule() {
        let step = deliver(pb::DeliverOpinionRequest {
            request_id: "r".into(),
            opinion_id: CaseId::generate().to_string(),
            opinion: Some(pb::Opinion {
                finding: 0,
                conclusion: String::new(),
                basis: "现场有排污口".into(),
                documents: Vec::new(),
            }),
        })
        .expect("converts");
        let OpinionCommand::Deliver(o) = step.step.command else {
            panic!("not a delivery")
        };
        assert_eq!(o.finding, None);
    }

    #[test]
    fn a_request_needs_a_kind() {
        let v = request(pb::RequestOpinionRequest {
            request_id: "r".into(),
            expert: "12350100MB0100010F".into(),
            kind: 0,
            question: "q".into(),
            ..Default::default()
        })
        .expect_err("no kind");
        assert_eq!(v.list[0].0, "kind");
    }
}
