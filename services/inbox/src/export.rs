//! The export feed for a supervision platform (行政执法监督平台): which events it carries, as
//! which record kind, and the JSON line each one becomes (docs/export.md).
//!
//! Every event the inbox consumes is [`classify`]d: exported as one of four [`Kind`]s, or
//! deliberately not exported. An event this table does not know (a new event of a family) is not
//! exported either, but a test over the core state machines' event names fails until someone
//! decides, so a new event is a decision, not an accident.
//!
//! A line is built by [`render`] from the notice's envelope and a whitelist of its detail:
//! agency codes, roles, case ids, rule ids, versions and times. Nothing a party typed (reasons,
//! explanations) and nothing about persons (names, identity numbers: [`casebridge_core::PersonalData`])
//! is ever copied onto the feed.

use std::fmt;

use casebridge_core::ids::{AgencyCode, CaseId, MessageId};
use casebridge_core::notice::{Family, Notice, Role};
use casebridge_core::time::Timestamp;
use serde::{Deserialize, Serialize};

/// The kinds of record on the feed, each with its own schema (`docs/export/<kind>.v1.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A penalty-case record (行政处罚案件信息) recorded or corrected.
    Record,
    /// A criminal referral sent (涉嫌犯罪案件移送).
    Referral,
    /// A step of an early warning (移送预警): opened, cleared, raised, suggested, answered,
    /// escalated, closed.
    Warning,
    /// What became of a case: a filing decision, a return, a transfer accepted or its outcome,
    /// a dispute settled, an opinion delivered, a lead answered.
    Outcome,
}

impl Kind {
    /// Every kind, in the order documents list them.
    pub const ALL: [Kind; 4] = [Kind::Record, Kind::Referral, Kind::Warning, Kind::Outcome];

    /// The kind's name on the wire and in `kind` of each line.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Record => "record",
            Kind::Referral => "referral",
            Kind::Warning => "warning",
            Kind::Outcome => "outcome",
        }
    }

    /// The kind named `name`, if any.
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The versioned schema id every line of this kind carries in `schema`.
    pub fn schema(self) -> &'static str {
        match self {
            Kind::Record => "casebridge.export.record.v1",
            Kind::Referral => "casebridge.export.referral.v1",
            Kind::Warning => "casebridge.export.warning.v1",
            Kind::Outcome => "casebridge.export.outcome.v1",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the feed does with one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Export {
    /// Exported as a line of `kind`; `code` is the warning's `step` or the case's `outcome`
    /// (for records and referrals, the event name).
    Line { kind: Kind, code: &'static str },
    /// Decided not to export: a procedural step a supervisor reads elsewhere (the monitor's
    /// deadlines, the case timeline).
    No,
}

const fn line(kind: Kind, code: &'static str) -> Option<Export> {
    Some(Export::Line { kind, code })
}

/// How the feed exports `event` of `family`; `None` for an event this table does not know,
/// which is not exported (and which the test over the core's event names catches first).
pub fn classify(family: Family, event: &str) -> Option<Export> {
    use Kind::{Outcome, Record, Referral, Warning};
    const NO: Option<Export> = Some(Export::No);
    // The deadlines service's own events (deadline_warning, deadline_missed, …) on any family:
    // the monitor and its reports are where supervisors read deadlines.
    if event.starts_with("deadline_") {
        return NO;
    }
    match (family, event) {
        (Family::Referral, "submitted") => line(Referral, "submitted"),
        (Family::Referral, "filed") => line(Outcome, "filed"),
        (Family::Referral, "declined") => line(Outcome, "not_filed"),
        (Family::Referral, "returned_not_police_matter") => line(Outcome, "returned"),
        (Family::Referral, "reconsideration_decided") => line(Outcome, "reconsideration_decided"),
        (Family::Referral, "case_transferred") => line(Outcome, "transferred_elsewhere"),
        (Family::Referral, "case_withdrawn") => line(Outcome, "withdrawn"),
        (Family::Referral, "handed_back") => line(Outcome, "handed_back"),
        (Family::Referral, "not_referred_recorded") => line(Outcome, "not_referred"),
        (
            Family::Referral,
            "receipt_signed"
            | "supplement_requested"
            | "supplemented"
            | "forwarded"
            | "items_handed_over"
            | "reconsideration_requested"
            | "supervision_suggested"
            | "reasons_requested"
            | "reasons_given"
            | "agency_told"
            | "filing_notified"
            | "review_overdue"
            | "explanation_demanded"
            | "explanation_given"
            | "correction_notice_issued"
            | "reported_to_superior",
        ) => NO,
        (Family::Transfer, "accepted") => line(Outcome, "transfer_accepted"),
        (Family::Transfer, "declined") => line(Outcome, "transfer_declined"),
        (Family::Transfer, "outcome_reported") => line(Outcome, "transfer_outcome_reported"),
        (
            Family::Transfer,
            "sent" | "receipt_signed" | "objected" | "decline_contested" | "suspended" | "resumed"
            | "restarted",
        ) => NO,
        (Family::Dispute, "minutes_agreed") => line(Outcome, "dispute_agreed"),
        (Family::Dispute, "designated") => line(Outcome, "dispute_designated"),
        (Family::Dispute, "raised" | "referred" | "accepted" | "replied") => NO,
        (Family::Opinion, "delivered") => line(Outcome, "opinion_delivered"),
        (Family::Opinion, "refused") => line(Outcome, "opinion_refused"),
        (
            Family::Opinion,
            "requested" | "accepted" | "material_requested" | "material_supplied" | "extended",
        ) => NO,
        (Family::Penalty, "recorded") => line(Record, "recorded"),
        (Family::Penalty, "corrected") => line(Record, "corrected"),
        // The record's hits changed under a new threshold table (re-screening at start).
        (Family::Penalty, "rescreened") => line(Record, "rescreened"),
        (Family::Penalty, "agency_warned") => line(Warning, "opened"),
        (Family::Penalty, "cleared") => line(Warning, "cleared"),
        (Family::Penalty, "raised") => line(Warning, "raised"),
        (Family::Penalty, "referral_suggested") => line(Warning, "suggested"),
        (Family::Penalty, "referral_linked" | "non_referral_explained") => {
            line(Warning, "answered")
        }
        (Family::Penalty, "escalated") => line(Warning, "escalated"),
        (Family::Penalty, "closed") => line(Warning, "closed"),
        (Family::Lead, "answered") => line(Outcome, "lead_answered"),
        (Family::Lead, "sent" | "acknowledged") => NO,
        // A rectification (整改) is the supervisor's own case: the platform learns that the
        // problems were put right; the request, the reports and returns it reads as a party.
        (Family::Rectification, "accepted") => line(Outcome, "rectification_accepted"),
        (Family::Rectification, "requested" | "reported" | "returned" | "report_overdue") => NO,
        _ => None,
    }
}

/// The kind `notice` is exported as, if it is exported.
pub fn kind_of(notice: &Notice) -> Option<Kind> {
    match classify(notice.family, &notice.event) {
        Some(Export::Line { kind, .. }) => Some(kind),
        Some(Export::No) => None,
        None => {
            tracing::warn!(
                family = %notice.family,
                event = %notice.event,
                "an event the export feed does not classify is not exported"
            );
            None
        }
    }
}

/// The opaque cursor of the line at position `seq`: `e1-` and the position in hexadecimal.
/// Consumers store it and send it back; they never compute with it.
pub fn cursor(seq: u64) -> String {
    format!("e1-{seq:x}")
}

/// The position a cursor names; the empty cursor is the start of the feed (0). `None` for a
/// string that is no cursor of this feed.
pub fn parse_cursor(raw: &str) -> Option<u64> {
    if raw.is_empty() {
        return Some(0);
    }
    let hex = raw.strip_prefix("e1-")?;
    if hex.is_empty() || hex.len() > 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(hex, 16)
        .ok()
        .filter(|seq| i64::try_from(*seq).is_ok())
}

/// One agency's part in a case, as the feed shows it: a role and an agency code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartyLine {
    pub role: Role,
    pub agency: AgencyCode,
}

/// Every line's envelope (`docs/export.md`, "Fields every line has").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// `casebridge.export.<kind>.v1`.
    pub schema: String,
    /// Stable id of the line: the event's message id, the same however often it is delivered.
    pub id: MessageId,
    /// The line's cursor: export after it to resume just past this line.
    pub cursor: String,
    pub kind: Kind,
    pub family: Family,
    /// The family's event name, e.g. `filed`.
    pub event: String,
    pub case_id: CaseId,
    /// Agency code of the agency that took the step.
    pub actor: AgencyCode,
    /// When the step was accepted, RFC 3339 in China Standard Time (`+08:00`).
    pub occurred_at: String,
    /// The case's parties after the step, by role.
    pub parties: Vec<PartyLine>,
    /// The notice's one-line summary, which names agencies and steps, never persons.
    pub summary: String,
}

/// What a line of each kind adds to the envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
enum Body {
    Record {
        version: Option<u64>,
        supersedes: Option<u64>,
        thresholds_met: Vec<String>,
        referral_id: Option<String>,
        late_since: Option<String>,
    },
    Referral {},
    Warning {
        step: &'static str,
        answer: Option<&'static str>,
        record_version: Option<u64>,
        thresholds_met: Vec<String>,
        due_at: Option<String>,
        referral_id: Option<String>,
        late_since: Option<String>,
    },
    Outcome {
        outcome: &'static str,
    },
}

#[derive(Serialize)]
struct Line<'a> {
    #[serde(flatten)]
    envelope: &'a Envelope,
    #[serde(flatten)]
    body: Body,
}

/// The line `notice` (carried by message `id`) becomes at position `seq`, or `None` when it is
/// not exported. Only whitelisted detail fields are read, so nothing personal reaches the line.
pub fn render(seq: u64, id: MessageId, notice: &Notice) -> Option<(Kind, String)> {
    let Some(Export::Line { kind, code }) = classify(notice.family, &notice.event) else {
        return None;
    };
    let detail = &notice.detail;
    let body = match kind {
        Kind::Record => Body::Record {
            version: number(detail, "version"),
            supersedes: number(detail, "supersedes"),
            thresholds_met: rules(detail),
            referral_id: case_id(detail, "referral"),
            late_since: time(detail, "late_since"),
        },
        Kind::Referral => Body::Referral {},
        Kind::Warning => Body::Warning {
            step: code,
            answer: match notice.event.as_str() {
                "referral_linked" => Some("referred"),
                "non_referral_explained" => Some("explained"),
                _ => None,
            },
            record_version: number(detail, "record_version"),
            thresholds_met: rules(detail),
            due_at: time(detail, "raise_due")
                .or_else(|| time(detail, "answer_due"))
                .or_else(|| time(detail, "due")),
            referral_id: case_id(detail, "referral"),
            late_since: time(detail, "late_since"),
        },
        Kind::Outcome => Body::Outcome { outcome: code },
    };
    let envelope = Envelope {
        schema: kind.schema().to_owned(),
        id,
        cursor: cursor(seq),
        kind,
        family: notice.family,
        event: notice.event.clone(),
        case_id: notice.case_id,
        actor: notice.actor.clone(),
        occurred_at: notice.at.to_rfc3339(),
        parties: notice
            .parties
            .iter()
            .map(|(role, agency)| PartyLine {
                role: *role,
                agency: agency.clone(),
            })
            .collect(),
        summary: notice.summary.clone(),
    };
    let text = serde_json::to_string(&Line {
        envelope: &envelope,
        body,
    })
    .ok()?;
    Some((kind, text))
}

/// Everyone the line is for besides supervisors: the actor, the recipients and the parties.
pub fn readers(notice: &Notice) -> Vec<&AgencyCode> {
    let mut all: Vec<&AgencyCode> = std::iter::once(&notice.actor)
        .chain(&notice.recipients)
        .chain(notice.parties.values())
        .collect();
    all.sort();
    all.dedup();
    all
}

fn number(detail: &serde_json::Value, key: &str) -> Option<u64> {
    detail.get(key).and_then(serde_json::Value::as_u64)
}

fn case_id(detail: &serde_json::Value, key: &str) -> Option<String> {
    detail
        .get(key)
        .and_then(serde_json::Value::as_str)
        .and_then(|raw| CaseId::parse(raw).ok())
        .map(|id| id.to_string())
}

fn time(detail: &serde_json::Value, key: &str) -> Option<String> {
    detail
        .get(key)
        .and_then(serde_json::Value::as_i64)
        .and_then(|ms| Timestamp::try_from_millis(ms).ok())
        .map(Timestamp::to_rfc3339)
}

/// The rule ids of the thresholds met (`hits[].rule`), which are codes of the threshold table.
fn rules(detail: &serde_json::Value) -> Vec<String> {
    detail
        .get("hits")
        .and_then(serde_json::Value::as_array)
        .map(|hits| {
            hits.iter()
                .filter_map(|h| h.get("rule").and_then(serde_json::Value::as_str))
                .filter(|r| {
                    r.len() <= 64
                        && r.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
                })
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may panic on broken fixtures
mod tests {
    use super::*;

    /// Every event name the core state machines give (`fn name` of each `EventName` impl), as
    /// read from their sources: each must be classified, exported or not, on purpose.
    #[test]
    fn every_event_of_the_core_state_machines_is_classified() {
        let sources = [
            (
                Family::Referral,
                include_str!("../../core/src/referral/events.rs"),
            ),
            (
                Family::Transfer,
                include_str!("../../core/src/transfer/events.rs"),
            ),
            (Family::Dispute, include_str!("../../core/src/dispute.rs")),
            (Family::Opinion, include_str!("../../core/src/opinion.rs")),
            (Family::Lead, include_str!("../../core/src/lead.rs")),
            (
                Family::Penalty,
                include_str!("../../core/src/screening/file.rs"),
            ),
            (
                Family::Penalty,
                include_str!("../../core/src/screening/warning/events.rs"),
            ),
            (
                Family::Rectification,
                include_str!("../../core/src/rectification.rs"),
            ),
        ];
        let mut seen = 0;
        let mut unclassified = Vec::new();
        for (family, source) in sources {
            for line in source.lines() {
                let line = line.trim();
                if !line.contains("EventKind::") {
                    continue;
                }
                let Some((_, name)) = line.split_once("=> \"") else {
                    continue;
                };
                let Some(name) = name.split('"').next() else {
                    continue;
                };
                seen += 1;
                if classify(family, name).is_none() {
                    unclassified.push(format!("{family}.{name}"));
                }
            }
        }
        assert!(seen >= 50, "read only {seen} event names");
        assert!(unclassified.is_empty(), "not classified: {unclassified:?}");
        assert_eq!(classify(Family::Referral, "brand_new"), None);
        assert_eq!(
            classify(Family::Penalty, "deadline_missed"),
            Some(Export::No)
        );
    }

    #[test]
    fn cursors_read_back_and_nothing_else_is_a_cursor() {
        for seq in [0, 1, 255, 1 << 40, i64::MAX as u64] {
            assert_eq!(parse_cursor(&cursor(seq)), Some(seq));
        }
        assert_eq!(parse_cursor(""), Some(0));
        for bad in [
            "12",
            "e1-",
            "e1-xyz",
            "e2-1",
            "e1-ffffffffffffffff",
            " e1-1",
        ] {
            assert_eq!(parse_cursor(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn every_kind_reads_back_from_its_name() {
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
            assert!(kind.schema().contains(kind.as_str()));
        }
        assert_eq!(Kind::parse("Record"), None);
    }

    #[test]
    fn a_line_copies_only_whitelisted_fields() {
        let agency = AgencyCode::parse("11350100MB0100002P").unwrap();
        let notice = Notice {
            case_id: CaseId::generate(),
            family: Family::Penalty,
            event: "recorded".into(),
            actor: agency.clone(),
            at: Timestamp::from_millis(1_772_000_000_000),
            recipients: Vec::new(),
            summary: "recorded".into(),
            detail: serde_json::json!({
                "event": "recorded", "version": 1, "hits": [{"rule": "CL-140", "note": "张三"}],
                "referral": null, "late_since": null, "parties": [{"name": "张三"}],
            }),
            parties: [(Role::Sender, agency)].into_iter().collect(),
            attachments: Vec::new(),
        };
        let (kind, text) = render(7, MessageId::generate(), &notice).unwrap();
        assert_eq!(kind, Kind::Record);
        assert!(!text.contains("张三"), "{text}");
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["schema"], "casebridge.export.record.v1");
        assert_eq!(value["cursor"], "e1-7");
        assert_eq!(value["thresholds_met"], serde_json::json!(["CL-140"]));
        assert_eq!(value["parties"][0]["role"], "sender");
        assert_eq!(value["occurred_at"], "2026-02-25T14:13:20+08:00");
    }
}
