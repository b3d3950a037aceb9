//! Rectification messages (rectifications.proto): rectification requests (整改通知) and reports
//! (整改报告).

use casebridge_core::ids::CaseId;
use casebridge_core::rectification::{
    Basis, FiledReport, Rectification, RectificationCommand, RectificationStatus, Reporting,
    Requesting,
};
use casebridge_platform::cases::Accepted;
use casebridge_proto::v1 as pb;

use super::{CaseStep, Converted, Violations, WireNames, documents, history, step, timestamp};

/// A step on a rectification request, ready for the rectifications service.
pub type RectificationStep = Converted<RectificationCommand>;

/// The wire path of the basis's case ids.
pub const CASE_IDS: &str = "basis.case_ids";

impl WireNames for RectificationCommand {
    /// The state machine names its fields as the wire does (`basis.period`, `basis.case_ids`).
    fn wire_field<'a>(&self, field: &'a str) -> &'a str {
        field
    }
}

const ID: &str = "rectification_id";

/// The basis from the wire: an empty period is none; every case id must parse.
fn basis(v: &mut Violations, raw: Option<pb::RectificationBasis>) -> Basis {
    let raw = raw.unwrap_or_default();
    let mut cases = Vec::with_capacity(raw.case_ids.len());
    for (i, id) in raw.case_ids.iter().enumerate() {
        if let Some(id) = v.case_id(&format!("{CASE_IDS}[{i}]"), id) {
            cases.push(id);
        }
    }
    Basis {
        period: (!raw.period.is_empty()).then_some(raw.period),
        cases,
    }
}

pub fn request(req: pb::RequestRectificationRequest) -> Result<RectificationStep, Violations> {
    let pb::RequestRectificationRequest {
        request_id,
        to,
        findings,
        basis: raw_basis,
        documents,
        due_by,
    } = req;
    let mut v = Violations::default();
    let request_id = v.request_id(&request_id);
    let to = v.agency("to", &to);
    let basis = basis(&mut v, raw_basis);
    let documents = v.documents("documents", documents);
    let due_by = match due_by {
        None => Some(None),
        Some(t) => v.timestamp("due_by", Some(t)).map(Some),
    };
    let case_id = CaseId::generate();
    let attachments = v.take_attachments();
    let step = (|| {
        Some(RectificationStep {
            step: CaseStep {
                request_id: request_id?,
                case_id,
                command: RectificationCommand::Request(Requesting {
                    case_id,
                    to: to?,
                    findings,
                    basis,
                    documents,
                    due_by: due_by?,
                }),
            },
            attachments,
        })
    })();
    v.finish(step)
}

pub fn report(req: pb::ReportRectificationRequest) -> Result<RectificationStep, Violations> {
    let pb::ReportRectificationRequest {
        request_id,
        rectification_id,
        measures,
        documents,
    } = req;
    let mut v = Violations::default();
    let documents = v.documents("documents", documents);
    let command = Some(RectificationCommand::Report(Reporting {
        measures,
        documents,
    }));
    step(v, &request_id, ID, &rectification_id, command)
}

pub fn accept(req: pb::AcceptRectificationRequest) -> Result<RectificationStep, Violations> {
    let pb::AcceptRectificationRequest {
        request_id,
        rectification_id,
        note,
    } = req;
    let command = Some(RectificationCommand::Accept { note });
    step(
        Violations::default(),
        &request_id,
        ID,
        &rectification_id,
        command,
    )
}

pub fn give_back(req: pb::ReturnRectificationRequest) -> Result<RectificationStep, Violations> {
    let pb::ReturnRectificationRequest {
        request_id,
        rectification_id,
        reasons,
    } = req;
    let command = Some(RectificationCommand::Return { reasons });
    step(
        Violations::default(),
        &request_id,
        ID,
        &rectification_id,
        command,
    )
}

fn status(s: RectificationStatus) -> pb::RectificationStatus {
    match s {
        RectificationStatus::Requested => pb::RectificationStatus::Requested,
        RectificationStatus::Reported => pb::RectificationStatus::Reported,
        RectificationStatus::Returned => pb::RectificationStatus::Returned,
        RectificationStatus::Accepted => pb::RectificationStatus::Accepted,
    }
}

fn basis_out(b: &Basis) -> pb::RectificationBasis {
    pb::RectificationBasis {
        period: b.period.clone().unwrap_or_default(),
        case_ids: b.cases.iter().map(ToString::to_string).collect(),
    }
}

fn report_out(r: &FiledReport) -> pb::RectificationReport {
    pb::RectificationReport {
        measures: r.measures.clone(),
        documents: documents(&r.documents),
        at: Some(timestamp(r.at)),
        late: r.late,
        returned_reasons: r.returned.clone().unwrap_or_default(),
    }
}

/// A rectification request for one of its parties.
pub fn rectification(c: &Rectification) -> pb::Rectification {
    pb::Rectification {
        id: c.id.to_string(),
        requester: c.requester.to_string(),
        agency: c.agency.to_string(),
        superior: c
            .superior
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        findings: c.findings.clone(),
        basis: Some(basis_out(&c.basis)),
        documents: documents(&c.documents),
        due_by: c.due_by.map(timestamp),
        status: status(c.status).into(),
        requested_at: Some(timestamp(c.requested_at)),
        overdue: c.overdue,
        reports: c.reports.iter().map(report_out).collect(),
        history: c.history.iter().map(history).collect(),
        version: c.version,
    }
}

/// The wire result of an accepted rectification step.
pub fn result(accepted: Accepted<Rectification>) -> pb::RectificationResult {
    pb::RectificationResult {
        rectification: Some(rectification(&accepted.case)),
        replayed: accepted.replayed,
        accepted_at: Some(timestamp(accepted.accepted_at)),
        receipt: Some(super::receipt(&accepted.receipt)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MARKET_BUREAU: &str = "11350100MB0100002P";

    fn requesting(case_ids: Vec<String>) -> pb::RequestRectificationRequest {
        pb::RequestRectificationRequest {
            request_id: "r".into(),
            to: MARKET_BUREAU.into(),
            findings: "未依法告知陈述申辩权利".into(),
            basis: Some(pb::RectificationBasis {
                period: "2026-Q3".into(),
                case_ids,
            }),
            documents: Vec::new(),
            due_by: None,
        }
    }

    #[test]
    fn a_request_converts_with_its_basis() {
        let named = CaseId::generate();
        let step = request(requesting(vec![named.to_string()])).expect("converts");
        let RectificationCommand::Request(r) = step.step.command else {
            panic!("not a request")
        };
        assert_eq!(r.case_id, step.step.case_id);
        assert_eq!(r.basis.period.as_deref(), Some("2026-Q3"));
        assert_eq!(r.basis.cases, [named]);
        assert_eq!(r.due_by, None);
    }

    #[test]
    fn a_bad_case_id_is_named_by_its_place_and_every_bad_field_at_once() {
        let mut bad = requesting(vec![CaseId::generate().to_string(), "x".into()]);
        bad.request_id = String::new();
        bad.to = "not a code".into();
        let v = request(bad).expect_err("bad fields");
        let fields: Vec<&str> = v.list.iter().map(|(f, _)| f.as_str()).collect();
        assert!(fields.contains(&"request_id"), "{fields:?}");
        assert!(fields.contains(&"to"), "{fields:?}");
        assert!(fields.contains(&"basis.case_ids[1]"), "{fields:?}");
    }

    #[test]
    fn steps_convert_and_keep_their_field_names() {
        let id = CaseId::generate().to_string();
        let step = give_back(pb::ReturnRectificationRequest {
            request_id: "r".into(),
            rectification_id: id.clone(),
            reasons: "未附培训记录".into(),
        })
        .expect("converts");
        assert_eq!(
            step.step.command,
            RectificationCommand::Return {
                reasons: "未附培训记录".into()
            }
        );
        assert_eq!(step.step.command.wire_field("reasons"), "reasons");
        let v = report(pb::ReportRectificationRequest {
            request_id: "r".into(),
            rectification_id: "nope".into(),
            measures: "m".into(),
            documents: Vec::new(),
        })
        .expect_err("bad id");
        assert_eq!(v.list[0].0, ID);
        assert!(
            accept(pb::AcceptRectificationRequest {
                request_id: "r".into(),
                rectification_id: id,
                note: String::new(),
            })
            .is_ok()
        );
    }
}
