//! Wire ⇄ domain conversion. Prost types stop here: inbound messages become domain commands
//! or a list of field violations; domain values become outbound messages.
//!
//! Every inbound message is destructured exhaustively, so adding a field to the contract
//! breaks the build until it is handled here.

use casebridge_core::directory::Directory;
use casebridge_core::ids::{AgencyCode, CaseId, RegionCode, RequestId, Sha256Digest};
use casebridge_core::notice::Family;
use casebridge_core::personal::PersonalData;
use casebridge_core::referral::{
    Document, DocumentKind, Flag, HistoryEntry, Party, Referral, ReferralCommand, ReferralStatus,
    Submission,
};
use casebridge_core::time::Timestamp;
use casebridge_deadlines::api::{AgencyStatistics, Listed, MAX_PAGE, ObligationQuery, View};
use casebridge_evidence::api::Attachment;
use casebridge_inbox::api::Entry;
use casebridge_proto::v1 as pb;

/// Input that failed conversion: one violation per offending field, in wire naming.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Violations(pub Vec<(String, String)>);

impl Violations {
    fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push((field.into(), description.into()));
    }

    /// `value` if nothing was wrong, else the violations.
    fn finish<T>(self, value: Option<T>) -> Result<T, Violations> {
        match value {
            Some(value) if self.0.is_empty() => Ok(value),
            _ => Err(self),
        }
    }

    fn request_id(&mut self, raw: &str) -> Option<RequestId> {
        RequestId::parse(raw)
            .map_err(|e| self.add("request_id", format!("request_id {e}")))
            .ok()
    }

    fn sha256(&mut self, field: &str, raw: &str) -> Option<Sha256Digest> {
        if raw.is_empty() {
            self.add(
                field,
                format!("{field} is required: 64 lowercase hexadecimal characters"),
            );
            return None;
        }
        Sha256Digest::parse(raw)
            .map_err(|e| self.add(field, format!("{field} {e}")))
            .ok()
    }

    fn case_id(&mut self, field: &str, raw: &str) -> Option<CaseId> {
        if raw.is_empty() {
            self.add(field, format!("{field} is required"));
            return None;
        }
        CaseId::parse(raw)
            .map_err(|e| self.add(field, format!("{field} {e}")))
            .ok()
    }

    fn agency(&mut self, field: &str, raw: &str) -> Option<AgencyCode> {
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

    fn timestamp(&mut self, field: &str, raw: Option<prost_types::Timestamp>) -> Option<Timestamp> {
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

/// The attachments a referral step names, with the wire path of each: `documents[i].sha256`.
/// A converted step has one document per wire document, in order, so the paths are the
/// caller's.
pub fn referral_attachments(command: &ReferralCommand) -> Vec<(String, Sha256Digest)> {
    let documents = match command {
        ReferralCommand::Submit(submission) => &submission.documents,
        ReferralCommand::Supplement { documents, .. } => documents,
        _ => return Vec::new(),
    };
    documents
        .iter()
        .enumerate()
        .filter_map(|(i, d)| Some((format!("documents[{i}].sha256"), d.sha256?)))
        .collect()
}

/// The longest file name an upload may give.
pub const MAX_FILE_NAME: usize = 255;
/// The longest media type an upload may give.
pub const MAX_CONTENT_TYPE: usize = 127;
/// The media type of an upload that gives none.
pub const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

/// What an uploader declares about its file, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadMetadata {
    pub file_name: String,
    pub content_type: String,
    /// The exact number of bytes the stream will hold.
    pub size: u64,
    /// The digest the uploader expects, if it said.
    pub sha256: Option<Sha256Digest>,
}

/// An upload's first message. A size above `max_size` is refused here, before any byte is
/// read: INVALID_ARGUMENT on `metadata.size` naming the limit (not RESOURCE_EXHAUSTED: the limit
/// is a fixed property of the deployment, so a retry never succeeds).
pub fn upload_metadata(
    metadata: pb::EvidenceMetadata,
    max_size: u64,
) -> Result<UploadMetadata, Violations> {
    let pb::EvidenceMetadata {
        file_name,
        content_type,
        size,
        sha256,
    } = metadata;
    let mut v = Violations::default();
    if file_name.chars().count() > MAX_FILE_NAME
        || file_name
            .chars()
            .any(|c| c.is_control() || c == '/' || c == '\\')
    {
        v.add(
            "metadata.file_name",
            format!(
                "metadata.file_name must be at most {MAX_FILE_NAME} characters, without path \
                 separators or control characters"
            ),
        );
    }
    if content_type.len() > MAX_CONTENT_TYPE || !content_type.chars().all(|c| c.is_ascii_graphic())
    {
        v.add(
            "metadata.content_type",
            format!(
                "metadata.content_type must be a media type such as image/jpeg: at most \
                 {MAX_CONTENT_TYPE} printable ASCII characters without spaces"
            ),
        );
    }
    if size > max_size {
        v.add(
            "metadata.size",
            format!(
                "metadata.size is {size} bytes, more than this gateway's limit of {max_size} \
                 bytes ({}, setting evidence.max_size)",
                casebridge_platform::settings::format_size(max_size)
            ),
        );
    }
    let sha256 = optional(&sha256).and_then(|raw| v.sha256("metadata.sha256", raw));
    let content_type = if content_type.is_empty() {
        DEFAULT_CONTENT_TYPE.to_owned()
    } else {
        content_type
    };
    v.finish(Some(UploadMetadata {
        file_name,
        content_type,
        size,
        sha256,
    }))
}

/// A required digest field, e.g. `sha256` of GetEvidenceRequest.
pub fn digest(field: &str, raw: &str) -> Result<Sha256Digest, Violations> {
    let mut v = Violations::default();
    let digest = v.sha256(field, raw);
    v.finish(digest)
}

/// A stored file for a reader.
pub fn evidence(a: &Attachment) -> pb::Evidence {
    pb::Evidence {
        sha256: a.digest.to_hex(),
        size: a.size,
        content_type: a.content_type.clone(),
        file_name: a.file_name.clone(),
        first_uploaded_at: Some(timestamp(a.first_uploaded_at)),
    }
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

/// A monitor list request as a query at `now` (when `as_of` is unset).
pub fn obligation_query(
    req: pb::ListObligationsRequest,
    now: Timestamp,
) -> Result<ObligationQuery, Violations> {
    let mut v = Violations::default();
    let view = match pb::ObligationView::try_from(req.view) {
        Ok(pb::ObligationView::Overdue) => Some(View::Overdue),
        Ok(pb::ObligationView::DueSoon) => Some(View::DueSoon),
        Ok(pb::ObligationView::Open) => Some(View::Open),
        Ok(pb::ObligationView::All) => Some(View::All),
        _ => {
            v.add(
                "view",
                "view is required: OBLIGATION_VIEW_OVERDUE, _DUE_SOON, _OPEN or _ALL",
            );
            None
        }
    };
    let as_of = match req.as_of {
        None => Some(now),
        some => v.timestamp("as_of", some),
    };
    let agency = optional(&req.agency).and_then(|raw| v.agency("agency", raw));
    let family = optional(&req.family).and_then(|raw| {
        serde_json::from_value::<Family>(serde_json::Value::String(raw.to_owned()))
            .map_err(|_| {
                v.add(
                    "family",
                    format!("family {raw:?} is not one of referral, transfer, dispute, opinion"),
                )
            })
            .ok()
    });
    let region = optional(&req.region).and_then(|raw| {
        RegionCode::parse(raw)
            .map(|r| r.as_str().to_owned())
            .map_err(|e| v.add("region", format!("region {e}")))
            .ok()
    });
    let case_id = optional(&req.case_id).and_then(|raw| v.case_id("case_id", raw));
    if req.rule.chars().count() > 32 {
        v.add(
            "rule",
            "rule is a rule id such as S1-8, at most 32 characters",
        );
    }
    if req.page_size > MAX_PAGE {
        v.add("page_size", format!("page_size must be at most {MAX_PAGE}"));
    }
    let after = optional(&req.page_token).and_then(|raw| {
        raw.split_once(':')
            .and_then(|(due, id)| Some((due.parse::<i64>().ok()?, id.to_owned())))
            .or_else(|| {
                v.add(
                    "page_token",
                    "page_token is not one this server issued; pass next_page_token unchanged",
                );
                None
            })
    });
    let hours = if req.due_within_hours == 0 {
        24
    } else {
        i64::from(req.due_within_hours)
    };
    let query = match (view, as_of) {
        (Some(view), Some(as_of)) => Some(ObligationQuery {
            view,
            as_of,
            due_within_ms: hours * 3_600_000,
            agency,
            family,
            rule: optional(&req.rule).map(str::to_owned),
            region,
            case_id,
            limit: if req.page_size == 0 {
                50
            } else {
                req.page_size
            },
            after,
        }),
        _ => None,
    };
    v.finish(query)
}

/// `raw`, or `None` when it is empty (proto3's "not set" for strings).
fn optional(raw: &str) -> Option<&str> {
    (!raw.is_empty()).then_some(raw)
}

/// The page token for the next page.
pub fn page_token(next: Option<(i64, String)>) -> String {
    next.map(|(due, id)| format!("{due}:{id}"))
        .unwrap_or_default()
}

/// An obligation for the wire, with its ageing at `as_of`.
pub fn obligation(listed: Listed, as_of: Timestamp, directory: &Directory) -> pb::Obligation {
    let Listed {
        obligation: o,
        step,
    } = listed;
    let overdue_hours = match (o.due_at, o.closed_at) {
        (Some(due), None) if due < as_of => (as_of.as_millis() - due.as_millis()) as f64 / 3.6e6,
        _ => 0.0,
    };
    pb::Obligation {
        id: o.id,
        case_id: o.case_id.to_string(),
        family: o.family.as_str().to_owned(),
        rule: o.rule,
        step,
        owed_by_name: directory
            .get(&o.owed_by)
            .map(|a| a.name.clone())
            .unwrap_or_default(),
        owed_by: o.owed_by.to_string(),
        owed_to: o.owed_to.map(|a| a.to_string()).unwrap_or_default(),
        supervisor: o.supervisor.map(|a| a.to_string()).unwrap_or_default(),
        region: o.region,
        started_at: Some(timestamp(o.started_at)),
        due_at: o.due_at.map(timestamp),
        warn_at: o.warn_at.map(timestamp),
        closed_at: o.closed_at.map(timestamp),
        stage: o.stage.as_str().to_owned(),
        late: o.late,
        overdue_hours,
        explanation: o.explanation.lines().map(str::to_owned).collect(),
    }
}

/// A statistics request as a period.
pub fn statistics_period(
    req: &pb::GetStatisticsRequest,
) -> Result<(Timestamp, Timestamp, Option<AgencyCode>), Violations> {
    let mut v = Violations::default();
    let from = v.timestamp("from", req.from);
    let to = v.timestamp("to", req.to);
    let agency = (!req.agency.is_empty())
        .then(|| v.agency("agency", &req.agency))
        .flatten();
    if let (Some(from), Some(to)) = (from, to)
        && from >= to
    {
        v.add("to", "to must be after from");
    }
    let period = from.zip(to).map(|(from, to)| (from, to, agency));
    v.finish(period)
}

/// One agency's statistics for the wire.
pub fn agency_statistics(s: AgencyStatistics, directory: &Directory) -> pb::AgencyStatistics {
    let name = AgencyCode::parse(&s.agency)
        .ok()
        .and_then(|code| directory.get(&code).map(|a| a.name.clone()))
        .unwrap_or_default();
    pb::AgencyStatistics {
        agency: s.agency,
        name,
        sent: s.sent,
        received: s.received,
        answered_on_time: s.answered_on_time,
        answered_late: s.answered_late,
        still_open: s.still_open,
        overdue: s.overdue,
        median_response_hours: s.median_response_hours,
        filing_decisions: s.filing_decisions,
        filed: s.filed,
        filing_rate: s.filing_rate,
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
    fn the_attachments_of_a_submission_keep_their_wire_paths() {
        let mut req = valid_submit();
        let report = pb::Document {
            kind: pb::DocumentKind::InvestigationReport.into(),
            title: "调查报告".into(),
            sha256: "ab".repeat(32),
        };
        req.documents.push(report);
        let step = submit(req).expect("valid");
        let references = referral_attachments(&step.command);
        assert_eq!(
            references,
            vec![(
                "documents[1].sha256".to_owned(),
                Sha256Digest::parse(&"ab".repeat(32)).expect("digest")
            )]
        );
    }

    #[test]
    fn upload_metadata_over_the_limit_is_refused_naming_the_limit() {
        let metadata = pb::EvidenceMetadata {
            file_name: "现场视频.mp4".into(),
            content_type: String::new(),
            size: 3 << 30,
            sha256: String::new(),
        };
        let violations = upload_metadata(metadata.clone(), 2 << 30).expect_err("too large");
        assert_eq!(violations.0[0].0, "metadata.size");
        assert!(
            violations.0[0].1.contains("2147483648 bytes (2GiB"),
            "{}",
            violations.0[0].1
        );
        let fine = upload_metadata(metadata, 4 << 30).expect("within the limit");
        assert_eq!(fine.content_type, DEFAULT_CONTENT_TYPE);
        assert_eq!(fine.sha256, None);
    }

    #[test]
    fn upload_metadata_names_each_malformed_field() {
        let violations = upload_metadata(
            pb::EvidenceMetadata {
                file_name: "../etc/passwd".into(),
                content_type: "image jpeg".into(),
                size: 1,
                sha256: "ABC".into(),
            },
            10,
        )
        .expect_err("malformed");
        let fields: Vec<&str> = violations.0.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "metadata.file_name",
                "metadata.content_type",
                "metadata.sha256"
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
