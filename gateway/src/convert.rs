//! Wire ⇄ domain conversion. Prost types stop here: inbound messages become domain commands
//! or a list of field violations; domain values become outbound messages.
//!
//! Every inbound message is destructured exhaustively, so adding a field to the contract
//! breaks the build until it is handled here.

use casebridge_core::ids::{AgencyCode, CaseId, RequestId};
use casebridge_core::personal::PersonalData;
use casebridge_core::referral::{
    Document, DocumentKind, Flag, HistoryEntry, Party, Referral, ReferralCommand, ReferralStatus,
    Submission,
};
use casebridge_core::time::Timestamp;
use casebridge_inbox::api::Entry;
use casebridge_proto::v1 as pb;

/// Input that failed conversion: one violation per offending field, in wire naming.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Violations(pub Vec<(String, String)>);

impl Violations {
    pub(crate) fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push((field.into(), description.into()));
    }

    /// `value` if nothing was wrong, else the violations.
    pub(crate) fn finish<T>(self, value: Option<T>) -> Result<T, Violations> {
        match value {
            Some(value) if self.0.is_empty() => Ok(value),
            _ => Err(self),
        }
    }

    pub(crate) fn request_id(&mut self, raw: &str) -> Option<RequestId> {
        RequestId::parse(raw)
            .map_err(|e| self.add("request_id", format!("request_id {e}")))
            .ok()
    }

    pub(crate) fn case_id(&mut self, field: &str, raw: &str) -> Option<CaseId> {
        if raw.is_empty() {
            self.add(field, format!("{field} is required"));
            return None;
        }
        CaseId::parse(raw)
            .map_err(|e| self.add(field, format!("{field} {e}")))
            .ok()
    }

    pub(crate) fn agency(&mut self, field: &str, raw: &str) -> Option<AgencyCode> {
        if raw.is_empty() {
            self.add(
                field,
                format!("{field} is required: the 18-character agency code"),
            );
            return None;
        }
        AgencyCode::parse(raw)
            .map_err(|e| self.add(field, format!("{field} is not a valid agency code: {e}")))
            .ok()
    }

    pub(crate) fn timestamp(
        &mut self,
        field: &str,
        raw: Option<prost_types::Timestamp>,
    ) -> Option<Timestamp> {
        let Some(ts) = raw else {
            self.add(field, format!("{field} is required"));
            return None;
        };
        let millis = ts
            .seconds
            .checked_mul(1000)
            .and_then(|ms| ms.checked_add(i64::from(ts.nanos) / 1_000_000));
        match millis.map(Timestamp::try_from_millis) {
            Some(Ok(t)) if (0..1_000_000_000).contains(&ts.nanos) => Some(t),
            _ => {
                self.add(field, format!("{field} is out of range"));
                None
            }
        }
    }

    fn document_kind(&mut self, field: &str, raw: i32) -> Option<DocumentKind> {
        match pb::DocumentKind::try_from(raw) {
            Ok(pb::DocumentKind::ReferralLetter) => Some(DocumentKind::ReferralLetter),
            Ok(pb::DocumentKind::InvestigationReport) => Some(DocumentKind::InvestigationReport),
            Ok(pb::DocumentKind::SeizedItemsList) => Some(DocumentKind::SeizedItemsList),
            Ok(pb::DocumentKind::TestReport) => Some(DocumentKind::TestReport),
            Ok(pb::DocumentKind::PenaltyDecision) => Some(DocumentKind::PenaltyDecision),
            Ok(pb::DocumentKind::Other) => Some(DocumentKind::Other),
            Ok(pb::DocumentKind::Unspecified) | Err(_) => {
                self.add(field, format!("{field} must be a known document kind"));
                None
            }
        }
    }

    fn documents(&mut self, field: &str, raw: Vec<pb::Document>) -> Vec<Document> {
        raw.into_iter()
            .enumerate()
            .filter_map(
                |(
                    i,
                    pb::Document {
                        kind,
                        title,
                        sha256,
                    },
                )| {
                    let kind = self.document_kind(&format!("{field}[{i}].kind"), kind);
                    let sha256 = if sha256.is_empty() {
                        None
                    } else {
                        match casebridge_core::ids::Sha256Digest::parse(&sha256) {
                            Ok(d) => Some(d),
                            Err(e) => {
                                self.add(format!("{field}[{i}].sha256"), format!("sha256 {e}"));
                                None
                            }
                        }
                    };
                    Some(Document {
                        kind: kind?,
                        title,
                        sha256,
                    })
                },
            )
            .collect()
    }
}

/// A step on a referral, ready for the referrals service.
#[derive(Debug, Clone)]
pub struct ReferralStep {
    pub request_id: RequestId,
    pub case_id: CaseId,
    pub command: ReferralCommand,
}

pub fn submit(req: pb::SubmitReferralRequest) -> Result<ReferralStep, Violations> {
    let pb::SubmitReferralRequest {
        request_id,
        police,
        suspected_offence,
        summary,
        report_received_at,
        approved_at,
        items_tested,
        penalty_imposed,
        documents,
        parties,
        case_officer,
        case_officer_phone,
    } = req;
    let mut v = Violations::default();
    let request_id = v.request_id(&request_id);
    let police = v.agency("police", &police);
    let report_received_at = v.timestamp("report_received_at", report_received_at);
    let approved_at = v.timestamp("approved_at", approved_at);
    let documents = v.documents("documents", documents);
    let parties = parties
        .into_iter()
        .map(|pb::Party { name, id_number }| Party {
            name: PersonalData::new(name),
            id_number: (!id_number.is_empty()).then(|| PersonalData::new(id_number)),
        })
        .collect();
    let case_id = CaseId::generate();
    let step = (|| {
        Some(ReferralStep {
            request_id: request_id?,
            case_id,
            command: ReferralCommand::Submit(Submission {
                case_id,
                police: police?,
                suspected_offence,
                summary,
                report_received_at: report_received_at?,
                approved_at: approved_at?,
                items_tested,
                penalty_imposed,
                documents,
                parties,
                case_officer,
                case_officer_phone: PersonalData::new(case_officer_phone),
            }),
        })
    })();
    v.finish(step)
}

fn step(
    mut v: Violations,
    request_id: &str,
    referral_id: &str,
    command: Option<ReferralCommand>,
) -> Result<ReferralStep, Violations> {
    let request_id = v.request_id(request_id);
    let case_id = v.case_id("referral_id", referral_id);
    let step = (|| {
        Some(ReferralStep {
            request_id: request_id?,
            case_id: case_id?,
            command: command?,
        })
    })();
    v.finish(step)
}

pub fn sign_receipt(req: pb::SignReceiptRequest) -> Result<ReferralStep, Violations> {
    let pb::SignReceiptRequest {
        request_id,
        referral_id,
    } = req;
    step(
        Violations::default(),
        &request_id,
        &referral_id,
        Some(ReferralCommand::SignReceipt),
    )
}

pub fn request_supplement(req: pb::RequestSupplementRequest) -> Result<ReferralStep, Violations> {
    let pb::RequestSupplementRequest {
        request_id,
        referral_id,
        missing,
        note,
    } = req;
    let mut v = Violations::default();
    let missing: Option<Vec<DocumentKind>> = missing
        .into_iter()
        .enumerate()
        .map(|(i, k)| v.document_kind(&format!("missing[{i}]"), k))
        .collect();
    let command = missing.map(|missing| ReferralCommand::RequestSupplement { missing, note });
    step(v, &request_id, &referral_id, command)
}

pub fn supplement(req: pb::SupplementReferralRequest) -> Result<ReferralStep, Violations> {
    let pb::SupplementReferralRequest {
        request_id,
        referral_id,
        documents,
        note,
    } = req;
    let mut v = Violations::default();
    let documents = v.documents("documents", documents);
    let command = Some(ReferralCommand::Supplement { documents, note });
    step(v, &request_id, &referral_id, command)
}

pub fn forward(req: pb::ForwardReferralRequest) -> Result<ReferralStep, Violations> {
    let pb::ForwardReferralRequest {
        request_id,
        referral_id,
        to_police,
        reason,
    } = req;
    let mut v = Violations::default();
    let command = v
        .agency("to_police", &to_police)
        .map(|to| ReferralCommand::Forward { to, reason });
    step(v, &request_id, &referral_id, command)
}

pub fn return_referral(req: pb::ReturnReferralRequest) -> Result<ReferralStep, Violations> {
    let pb::ReturnReferralRequest {
        request_id,
        referral_id,
        reasons,
    } = req;
    let command = Some(ReferralCommand::ReturnNotPoliceMatter { reasons });
    step(Violations::default(), &request_id, &referral_id, command)
}

pub fn decide_filing(req: pb::DecideFilingRequest) -> Result<ReferralStep, Violations> {
    let pb::DecideFilingRequest {
        request_id,
        referral_id,
        decision,
    } = req;
    let mut v = Violations::default();
    let command = match decision {
        Some(pb::decide_filing_request::Decision::File(pb::FileCase { note })) => {
            Some(ReferralCommand::File { note })
        }
        Some(pb::decide_filing_request::Decision::Decline(pb::DeclineToFile { reasons })) => {
            Some(ReferralCommand::Decline { reasons })
        }
        None => {
            v.add("decision", "decision is required: either file or decline");
            None
        }
    };
    step(v, &request_id, &referral_id, command)
}

pub fn referral_id(raw: &str) -> Result<CaseId, Violations> {
    let mut v = Violations::default();
    let id = v.case_id("referral_id", raw);
    v.finish(id)
}

pub fn timestamp(t: Timestamp) -> prost_types::Timestamp {
    let ms = t.as_millis();
    prost_types::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: i32::try_from(ms.rem_euclid(1000) * 1_000_000).unwrap_or(0),
    }
}

fn document_kind(kind: DocumentKind) -> pb::DocumentKind {
    match kind {
        DocumentKind::ReferralLetter => pb::DocumentKind::ReferralLetter,
        DocumentKind::InvestigationReport => pb::DocumentKind::InvestigationReport,
        DocumentKind::SeizedItemsList => pb::DocumentKind::SeizedItemsList,
        DocumentKind::TestReport => pb::DocumentKind::TestReport,
        DocumentKind::PenaltyDecision => pb::DocumentKind::PenaltyDecision,
        DocumentKind::Other => pb::DocumentKind::Other,
    }
}

fn document(d: &Document) -> pb::Document {
    pb::Document {
        kind: document_kind(d.kind).into(),
        title: d.title.clone(),
        sha256: d.sha256.map(|s| s.to_hex()).unwrap_or_default(),
    }
}

fn status(s: ReferralStatus) -> pb::ReferralStatus {
    match s {
        ReferralStatus::Submitted => pb::ReferralStatus::Submitted,
        ReferralStatus::Received => pb::ReferralStatus::Received,
        ReferralStatus::AwaitingSupplement => pb::ReferralStatus::AwaitingSupplement,
        ReferralStatus::Filed => pb::ReferralStatus::Filed,
        ReferralStatus::Declined => pb::ReferralStatus::Declined,
        ReferralStatus::ReturnedNotPoliceMatter => pb::ReferralStatus::ReturnedNotPoliceMatter,
    }
}

fn flag(f: &Flag) -> pb::ReferralFlag {
    use pb::referral_flag::Flag as F;
    let flag = match f {
        Flag::SubmittedLate {
            hours_after_approval,
        } => F::SubmittedLate(pb::SubmittedLate {
            hours_after_approval: *hours_after_approval,
        }),
        Flag::ApprovalLate { days_after_report } => F::ApprovalLate(pb::ApprovalLate {
            days_after_report: *days_after_report,
        }),
        Flag::NoProcuratorateInRegion => F::NoProcuratorateInRegion(pb::NoProcuratorateInRegion {}),
    };
    pb::ReferralFlag { flag: Some(flag) }
}

fn history(h: &HistoryEntry) -> pb::HistoryEntry {
    pb::HistoryEntry {
        step: h.step.as_str().to_owned(),
        actor: h.actor.to_string(),
        at: Some(timestamp(h.at)),
        note: h.note.clone(),
    }
}

/// A referral for one of its parties. Personal data is exposed here on purpose: the caller
/// has been authenticated as a party, and the channel is mutual TLS.
pub fn referral(r: &Referral) -> pb::Referral {
    pb::Referral {
        id: r.id.to_string(),
        sender: r.sender.to_string(),
        police: r.police.to_string(),
        procuratorate: r
            .procuratorate
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        status: status(r.status).into(),
        suspected_offence: r.suspected_offence.clone(),
        summary: r.summary.clone(),
        report_received_at: Some(timestamp(r.report_received_at)),
        approved_at: Some(timestamp(r.approved_at)),
        submitted_at: Some(timestamp(r.submitted_at)),
        items_tested: r.items_tested,
        penalty_imposed: r.penalty_imposed,
        documents: r.documents.iter().map(document).collect(),
        parties: r
            .parties
            .iter()
            .map(|p| pb::Party {
                name: p.name.expose().to_owned(),
                id_number: p
                    .id_number
                    .as_ref()
                    .map(|n| n.expose().to_owned())
                    .unwrap_or_default(),
            })
            .collect(),
        case_officer: r.case_officer.clone(),
        case_officer_phone: r.case_officer_phone.expose().to_owned(),
        flags: r.flags.iter().map(flag).collect(),
        history: r.history.iter().map(history).collect(),
        version: r.version,
    }
}

pub fn inbox_entry(e: &Entry) -> pb::InboxEntry {
    pb::InboxEntry {
        cursor: e.cursor,
        message_id: e.message_id.to_string(),
        case_id: e.case_id.to_string(),
        family: e.family.as_str().to_owned(),
        event: e.event.clone(),
        actor: e.actor.to_string(),
        occurred_at: Some(timestamp(e.occurred_at)),
        summary: e.summary.clone(),
    }
}

pub fn agency(a: &casebridge_core::directory::Agency) -> pb::Agency {
    use casebridge_core::directory::AgencyKind as K;
    let kind = match a.kind {
        K::Administrative => pb::AgencyKind::Administrative,
        K::Police => pb::AgencyKind::Police,
        K::Procuratorate => pb::AgencyKind::Procuratorate,
        K::Coordination => pb::AgencyKind::Coordination,
        K::Expert => pb::AgencyKind::Expert,
    };
    pb::Agency {
        code: a.code.to_string(),
        name: a.name.clone(),
        kind: kind.into(),
        region: a.region.to_string(),
        superior: a
            .superior
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        domains: a.domains.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid_submit() -> pb::SubmitReferralRequest {
        pb::SubmitReferralRequest {
            request_id: "req-1".into(),
            police: "11350100MB01000064".into(),
            suspected_offence: "销售伪劣产品罪".into(),
            summary: "summary".into(),
            report_received_at: Some(prost_types::Timestamp {
                seconds: 1_700_000_000,
                nanos: 0,
            }),
            approved_at: Some(prost_types::Timestamp {
                seconds: 1_700_003_600,
                nanos: 0,
            }),
            items_tested: false,
            penalty_imposed: false,
            documents: vec![pb::Document {
                kind: pb::DocumentKind::ReferralLetter.into(),
                title: "移送书".into(),
                sha256: String::new(),
            }],
            parties: vec![],
            case_officer: "officer".into(),
            case_officer_phone: "13800000000".into(),
        }
    }

    #[test]
    fn a_valid_submission_converts_with_its_times() {
        let step = submit(valid_submit()).expect("valid");
        let ReferralCommand::Submit(s) = step.command else {
            panic!("not a submission")
        };
        assert_eq!(s.approved_at.as_millis(), 1_700_003_600_000);
        assert_eq!(s.case_id, step.case_id);
    }

    #[test]
    fn every_malformed_field_is_named_at_once() {
        let mut req = valid_submit();
        req.request_id = String::new();
        req.police = "not-a-code".into();
        req.approved_at = None;
        req.documents[0].kind = 0;
        req.documents[0].sha256 = "xyz".into();
        let violations = submit(req).expect_err("invalid");
        let fields: Vec<&str> = violations.0.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "request_id",
                "police",
                "approved_at",
                "documents[0].kind",
                "documents[0].sha256"
            ]
        );
    }

    #[test]
    fn a_decision_needs_one_of_file_or_decline() {
        let violations = decide_filing(pb::DecideFilingRequest {
            request_id: "r".into(),
            referral_id: CaseId::generate().to_string(),
            decision: None,
        })
        .expect_err("no decision");
        assert_eq!(violations.0[0].0, "decision");
    }

    #[test]
    fn timestamps_survive_the_round_trip_to_the_wire() {
        let t = Timestamp::from_millis(1_771_000_123_456);
        let mut v = Violations::default();
        assert_eq!(v.timestamp("t", Some(timestamp(t))), Some(t));
        let before_epoch = Timestamp::from_millis(-1_500);
        assert_eq!(
            v.timestamp("t", Some(timestamp(before_epoch))),
            Some(before_epoch)
        );
    }
}
