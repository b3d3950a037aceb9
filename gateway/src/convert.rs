//! Wire ⇄ domain conversion. Prost types stop here: inbound messages become domain commands
//! or a list of field violations; domain values become outbound messages.
//!
//! Every inbound message is destructured exhaustively, so adding a field to the contract
//! breaks the build until it is handled here. This module holds what every family shares;
//! each family's messages are in a submodule, and the monitor's in `monitor`.

pub mod disputes;
pub mod evidence;
pub mod leads;
pub mod monitor;
pub mod opinions;
pub mod penalties;
pub mod rectifications;
pub mod referrals;
pub mod transfers;

use casebridge_core::case::{HistoryEntry, StepName, item_path};
use casebridge_core::document::{Document, DocumentKind, Party};
use casebridge_core::ids::{AgencyCode, CaseId, RequestId, Sha256Digest};
use casebridge_core::notice::Role;
use casebridge_core::personal::PersonalData;
use casebridge_core::refusal::Refusal;
use casebridge_core::time::Timestamp;
use casebridge_inbox::api::Entry;
pub use casebridge_platform::cases::api::CaseStep;
use casebridge_platform::cases::api::{CaseSummary, ListPosition, ListQuery};
use casebridge_proto::v1 as pb;

/// The first and last years a time in a request may fall in: from the referral regulation
/// (S1, 2001) to the end of the statutory holiday table.
const EARLIEST_YEAR: i32 = 2001;
const LATEST_YEAR: i32 = 2099;

/// What converting one call found: the input that failed, one violation per offending field
/// in wire naming, and on the way the attachments the documents name, which the gateway
/// checks before the step goes to its service. Conversion fails when `list` is not empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Violations {
    /// (field, description), in the order found.
    pub list: Vec<(String, String)>,
    /// (wire path, digest) of every attachment named so far.
    attachments: Vec<(String, Sha256Digest)>,
}

/// A call converted into a step on a case of any family: the step as its service takes it,
/// and what the gateway checks before sending it.
#[derive(Debug, Clone)]
pub struct Converted<C> {
    pub step: CaseStep<C>,
    /// Every attachment the step's documents name, with its wire path (`documents[2].sha256`):
    /// each must be a file the caller uploaded or may read.
    pub attachments: Vec<(String, Sha256Digest)>,
}

impl Violations {
    /// Violations from a list of (field, description).
    pub fn of(list: Vec<(String, String)>) -> Violations {
        Violations {
            list,
            attachments: Vec::new(),
        }
    }

    /// The attachments named so far.
    fn take_attachments(&mut self) -> Vec<(String, Sha256Digest)> {
        std::mem::take(&mut self.attachments)
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

    pub(crate) fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.list.push((field.into(), description.into()));
    }

    /// `value` if nothing was wrong, else the violations.
    pub(crate) fn finish<T>(self, value: Option<T>) -> Result<T, Violations> {
        match value {
            Some(value) if self.list.is_empty() => Ok(value),
            _ => Err(self),
        }
    }

    /// Free text checked as the state machines check theirs ([`casebridge_core::case::text`]):
    /// no control character but line breaks, at most `max` characters, not blank when
    /// `required`.
    pub(crate) fn text(&mut self, field: &'static str, raw: &str, max: usize, required: bool) {
        if let Err(rejection) = casebridge_core::case::text(field, raw, max, required) {
            self.add(field, rejection.to_string());
        }
    }

    /// A rule id of the rule table (`S1-8`, `SAMR-45`): 1 to 32 ASCII letters, digits and
    /// hyphens. Whether the table has it is for the deadlines service to say.
    pub(crate) fn rule_id(&mut self, field: &'static str, raw: &str) {
        let well_formed = (1..=32).contains(&raw.len())
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !well_formed {
            self.add(
                field,
                format!(
                    "{field} must be a rule id such as S1-8 or SAMR-45: 1 to 32 letters, digits \
                     and hyphens"
                ),
            );
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

    /// An optional case id: `None` when empty, a violation when malformed.
    fn optional_case_id(&mut self, field: &str, raw: &str) -> Option<Option<CaseId>> {
        if raw.is_empty() {
            Some(None)
        } else {
            self.case_id(field, raw).map(Some)
        }
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

    /// An optional agency code: `None` when empty, a violation when malformed.
    fn optional_agency(&mut self, field: &str, raw: &str) -> Option<Option<AgencyCode>> {
        if raw.is_empty() {
            Some(None)
        } else {
            self.agency(field, raw).map(Some)
        }
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
            Some(Ok(t)) if (0..1_000_000_000).contains(&ts.nanos) => {
                // A time an agency reports lies within the years the law and the calendar
                // cover (issue 12, D8: a decision dated in year 0001 moved a filed referral).
                let year = chrono::Datelike::year(&t.to_cst());
                if (EARLIEST_YEAR..=LATEST_YEAR).contains(&year) {
                    Some(t)
                } else {
                    self.add(
                        field,
                        format!(
                            "{field} is in {year}; times are accepted from {EARLIEST_YEAR} (S1, \
                             国务院令第310号, 2001) to {LATEST_YEAR}"
                        ),
                    );
                    None
                }
            }
            _ => {
                self.add(field, format!("{field} is out of range"));
                None
            }
        }
    }

    fn document_kind(&mut self, field: &str, raw: i32) -> Option<DocumentKind> {
        use pb::DocumentKind as W;
        let kind = match W::try_from(raw) {
            Ok(W::ReferralLetter) => DocumentKind::ReferralLetter,
            Ok(W::InvestigationReport) => DocumentKind::InvestigationReport,
            Ok(W::SeizedItemsList) => DocumentKind::SeizedItemsList,
            Ok(W::TestReport) => DocumentKind::TestReport,
            Ok(W::PenaltyDecision) => DocumentKind::PenaltyDecision,
            Ok(W::Other) => DocumentKind::Other,
            Ok(W::TransferLetter) => DocumentKind::TransferLetter,
            Ok(W::Evidence) => DocumentKind::Evidence,
            Ok(W::Decision) => DocumentKind::Decision,
            Ok(W::Minutes) => DocumentKind::Minutes,
            Ok(W::Designation) => DocumentKind::Designation,
            Ok(W::Opinion) => DocumentKind::Opinion,
            Ok(W::HandoverList) => DocumentKind::HandoverList,
            Ok(W::Unspecified) | Err(_) => {
                self.add(field, format!("{field} must be a known document kind"));
                return None;
            }
        };
        Some(kind)
    }

    /// One document in a message field of its own (`approval`): `None` when absent, which the
    /// state machine refuses where the document is required; a violation on `field.kind` or
    /// `field.sha256` when malformed.
    fn document(&mut self, field: &str, raw: Option<pb::Document>) -> Option<Option<Document>> {
        let Some(pb::Document {
            kind,
            title,
            sha256,
        }) = raw
        else {
            return Some(None);
        };
        let kind = self.document_kind(&format!("{field}.kind"), kind);
        let path = format!("{field}.sha256");
        let sha256 = if sha256.is_empty() {
            Some(None)
        } else {
            match Sha256Digest::parse(&sha256) {
                Ok(d) => {
                    self.attachments.push((path, d));
                    Some(Some(d))
                }
                Err(e) => {
                    self.add(path, format!("sha256 {e}"));
                    None
                }
            }
        };
        Some(Some(Document {
            kind: kind?,
            title,
            sha256: sha256?,
        }))
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
                    let path = format!("{field}[{i}].sha256");
                    let sha256 = if sha256.is_empty() {
                        None
                    } else {
                        match Sha256Digest::parse(&sha256) {
                            Ok(d) => {
                                self.attachments.push((path, d));
                                Some(d)
                            }
                            Err(e) => {
                                self.add(path, format!("sha256 {e}"));
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

/// The parties a case names, from the wire. Names and numbers are personal data.
fn parties(raw: Vec<pb::Party>) -> Vec<Party> {
    raw.into_iter()
        .map(|pb::Party { name, id_number }| Party {
            name: PersonalData::new(name),
            id_number: (!id_number.is_empty()).then(|| PersonalData::new(id_number)),
        })
        .collect()
}

/// A step on an existing case: the request id, the case id field, and the command.
fn step<C>(
    mut v: Violations,
    request_id: &str,
    id_field: &str,
    case_id: &str,
    command: Option<C>,
) -> Result<Converted<C>, Violations> {
    let request_id = v.request_id(request_id);
    let case_id = v.case_id(id_field, case_id);
    let attachments = v.take_attachments();
    let step = (|| {
        Some(Converted {
            step: CaseStep {
                request_id: request_id?,
                case_id: case_id?,
                command: command?,
            },
            attachments,
        })
    })();
    v.finish(step)
}

/// The wire names of a family's command fields, where the wire names a field otherwise than
/// the state machine does: a refusal's field is renamed here, so services never know the
/// protobuf names.
pub trait WireNames {
    /// The wire name of `field`, as this command's state machine named it.
    fn wire_field<'a>(&self, field: &'a str) -> &'a str;
}

/// A case family's refusal of `command`, with its field in wire naming and the offending item
/// placed in it (`documents.title`, item 2 → `documents[2].title`).
pub fn wire_refusal<C: WireNames>(mut refusal: Refusal, command: &C) -> Refusal {
    let item = refusal.item.take();
    if let Some(field) = refusal.field.take() {
        refusal.field = Some(wire_item_path(command.wire_field(&field), &field, item));
    }
    refusal
}

/// [`item_path`] for a field its family renamed on the wire: the index goes after the list's own
/// name wherever the wire puts it (`documents.title` renamed `opinion.documents.title`, item 1 →
/// `opinion.documents[1].title`).
fn wire_item_path(wire: &str, field: &str, item: Option<usize>) -> String {
    let Some(i) = item else {
        return wire.to_owned();
    };
    let list = field.split('.').next().unwrap_or(field);
    let mut segments: Vec<String> = wire.split('.').map(str::to_owned).collect();
    match segments.iter_mut().find(|segment| *segment == list) {
        Some(segment) => {
            segment.push_str(&format!("[{i}]"));
            segments.join(".")
        }
        None => item_path(wire, Some(i)),
    }
}

/// `raw`, or `None` when it is empty (proto3's "not set" for strings).
pub(crate) fn optional(raw: &str) -> Option<&str> {
    (!raw.is_empty()).then_some(raw)
}

/// A case id read from `field`.
pub fn case_id(field: &str, raw: &str) -> Result<CaseId, Violations> {
    let mut v = Violations::default();
    let id = v.case_id(field, raw);
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
    use pb::DocumentKind as W;
    match kind {
        DocumentKind::ReferralLetter => W::ReferralLetter,
        DocumentKind::InvestigationReport => W::InvestigationReport,
        DocumentKind::SeizedItemsList => W::SeizedItemsList,
        DocumentKind::TestReport => W::TestReport,
        DocumentKind::PenaltyDecision => W::PenaltyDecision,
        DocumentKind::Other => W::Other,
        DocumentKind::TransferLetter => W::TransferLetter,
        DocumentKind::Evidence => W::Evidence,
        DocumentKind::Decision => W::Decision,
        DocumentKind::Minutes => W::Minutes,
        DocumentKind::Designation => W::Designation,
        DocumentKind::Opinion => W::Opinion,
        DocumentKind::HandoverList => W::HandoverList,
    }
}

pub fn document(d: &Document) -> pb::Document {
    pb::Document {
        kind: document_kind(d.kind).into(),
        title: d.title.clone(),
        sha256: d.sha256.map(|s| s.to_hex()).unwrap_or_default(),
    }
}

pub fn documents(ds: &[Document]) -> Vec<pb::Document> {
    ds.iter().map(document).collect()
}

/// Parties for one of the case's parties. Personal data is exposed here on purpose: the
/// caller has been authenticated as a party, and the channel is mutual TLS.
fn wire_parties(ps: &[Party]) -> Vec<pb::Party> {
    ps.iter()
        .map(|p| pb::Party {
            name: p.name.expose().to_owned(),
            id_number: p
                .id_number
                .as_ref()
                .map(|n| n.expose().to_owned())
                .unwrap_or_default(),
        })
        .collect()
}

pub fn history<S: StepName>(h: &HistoryEntry<S>) -> pb::HistoryEntry {
    pb::HistoryEntry {
        step: h.step.name().to_owned(),
        actor: h.actor.to_string(),
        at: Some(timestamp(h.at)),
        note: h.note.clone(),
        documents: documents(&h.documents),
    }
}

fn opt_code(code: Option<&AgencyCode>) -> String {
    code.map(ToString::to_string).unwrap_or_default()
}

fn opt_id(id: Option<CaseId>) -> String {
    id.map(|i| i.to_string()).unwrap_or_default()
}

pub fn role(role: Option<Role>) -> pb::PartyRole {
    match role {
        None => pb::PartyRole::Unspecified,
        Some(Role::Sender) => pb::PartyRole::Sender,
        Some(Role::Recipient) => pb::PartyRole::Recipient,
        Some(Role::Procuratorate) => pb::PartyRole::Procuratorate,
        Some(Role::Coordination) => pb::PartyRole::Coordination,
        Some(Role::Expert) => pb::PartyRole::Expert,
        Some(Role::SuperiorProcuratorate) => pb::PartyRole::SuperiorProcuratorate,
    }
}

/// A receipt for the wire.
pub fn receipt(r: &casebridge_core::ledger::Receipt) -> pb::Receipt {
    pb::Receipt {
        service: r.service.clone(),
        case_id: r.case_id.to_string(),
        step: r.step.clone(),
        actor: r.actor.to_string(),
        request_id: r.request_id.to_string(),
        content_digest: r.content_digest.to_hex(),
        accepted_at: Some(timestamp(r.accepted_at)),
        first_seq: r.first_seq,
        last_seq: r.last_seq,
        chain_hash: r.chain_hash.to_hex(),
        key_id: r.key_id.clone(),
        signature: r.signature.clone(),
    }
}

/// A listing request as a query.
pub fn list_query(req: pb::ListCasesRequest) -> Result<ListQuery, Violations> {
    let pb::ListCasesRequest {
        status,
        role,
        page_size,
        page_token,
    } = req;
    let mut v = Violations::default();
    let role = match pb::PartyRole::try_from(role) {
        Ok(pb::PartyRole::Unspecified) => None,
        Ok(pb::PartyRole::Sender) => Some(Role::Sender),
        Ok(pb::PartyRole::Recipient) => Some(Role::Recipient),
        Ok(pb::PartyRole::Procuratorate) => Some(Role::Procuratorate),
        Ok(pb::PartyRole::Coordination) => Some(Role::Coordination),
        Ok(pb::PartyRole::Expert) => Some(Role::Expert),
        Ok(pb::PartyRole::SuperiorProcuratorate) => Some(Role::SuperiorProcuratorate),
        Err(_) => {
            v.add("role", "role must be a known party role");
            None
        }
    };
    if status.len() > 64 || !status.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
        v.add(
            "status",
            "status is a snake_case status name such as received, at most 64 characters",
        );
    }
    if page_size > casebridge_platform::cases::api::MAX_PAGE {
        v.add(
            "page_size",
            format!(
                "page_size must be at most {}",
                casebridge_platform::cases::api::MAX_PAGE
            ),
        );
    }
    let after = optional(&page_token).and_then(|raw| {
        raw.split_once(':')
            .and_then(|(at, id)| {
                Some(ListPosition {
                    updated_at: Timestamp::from_millis(at.parse().ok()?),
                    case_id: CaseId::parse(id).ok()?,
                })
            })
            .or_else(|| {
                v.add(
                    "page_token",
                    "page_token is not one this server issued; pass next_page_token unchanged",
                );
                None
            })
    });
    let query = ListQuery {
        status: optional(&status).map(str::to_owned),
        role,
        limit: if page_size == 0 { 50 } else { page_size },
        after,
    };
    v.finish(Some(query))
}

/// A listing page for the wire.
pub fn list_response(cases: Vec<CaseSummary>, next: Option<ListPosition>) -> pb::ListCasesResponse {
    pb::ListCasesResponse {
        cases: cases
            .into_iter()
            .map(|c| pb::CaseSummary {
                case_id: c.case_id.to_string(),
                status: c.status,
                version: c.version,
                updated_at: Some(timestamp(c.updated_at)),
                roles: c.roles.into_iter().map(|r| role(Some(r)).into()).collect(),
                headline: c.headline,
                opened_by: c.opened_by.map(|a| a.to_string()).unwrap_or_default(),
                opened_at: c.opened_at.map(timestamp),
                summary: c.summary,
            })
            .collect(),
        next_page_token: next
            .map(|n| format!("{}:{}", n.updated_at.as_millis(), n.case_id))
            .unwrap_or_default(),
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

    #[test]
    fn a_list_items_index_goes_after_the_lists_own_name_on_the_wire() {
        assert_eq!(
            wire_item_path("opinion.documents.title", "documents.title", Some(1)),
            "opinion.documents[1].title"
        );
        assert_eq!(
            wire_item_path("documents.title", "documents.title", Some(2)),
            "documents[2].title"
        );
        assert_eq!(wire_item_path("to_police", "to", None), "to_police");
    }

    #[test]
    fn timestamps_survive_the_round_trip_to_the_wire() {
        let t = Timestamp::from_millis(1_771_000_123_456);
        let mut v = Violations::default();
        assert_eq!(v.timestamp("t", Some(timestamp(t))), Some(t));
        // The first instant of the window, with its milliseconds.
        let first = Timestamp::parse_rfc3339("2001-01-01T00:00:00.500+08:00").expect("time");
        assert_eq!(v.timestamp("t", Some(timestamp(first))), Some(first));
        assert!(v.list.is_empty(), "{:?}", v.list);
        // Outside the years the law and the calendar cover: refused on the field.
        let before_epoch = Timestamp::from_millis(-1_500);
        assert_eq!(v.timestamp("t", Some(timestamp(before_epoch))), None);
        assert!(
            v.list[0].1.contains("times are accepted from 2001"),
            "{:?}",
            v.list
        );
    }

    #[test]
    fn every_document_kind_round_trips_through_the_wire() {
        for kind in DocumentKind::ALL {
            let mut v = Violations::default();
            assert_eq!(
                v.document_kind("kind", document_kind(kind).into()),
                Some(kind)
            );
        }
    }

    #[test]
    fn a_listing_page_token_round_trips_and_a_forged_one_is_refused() {
        let position = ListPosition {
            updated_at: Timestamp::from_millis(1_771_000_000_000),
            case_id: CaseId::generate(),
        };
        let token = list_response(Vec::new(), Some(position.clone())).next_page_token;
        let query = list_query(pb::ListCasesRequest {
            page_token: token,
            ..Default::default()
        })
        .unwrap_or_else(|v| panic!("{v:?}"));
        assert_eq!(query.after, Some(position));
        assert_eq!(query.limit, 50);
        let v = list_query(pb::ListCasesRequest {
            page_token: "x".into(),
            status: "Bad Status".into(),
            ..Default::default()
        })
        .expect_err("forged");
        let fields: Vec<&str> = v.list.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["status", "page_token"]);
    }
}
