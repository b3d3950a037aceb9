//! The dispute family on the case engine: the core state machine, how its events read, and the
//! transfer events that open a dispute: an objection to jurisdiction, and a sender contesting a
//! receiver's decision not to open a case.

use std::sync::Arc;

use casebridge_core::case::{CaseEvent, Decision, Rejection, TEXT_MAX_CHARS};
use casebridge_core::directory::{Agency, Directory};
use casebridge_core::dispute::{
    self, Context, Dispute, DisputeCommand, DisputeEventKind, DisputePolicy, FromObjection,
};
use casebridge_core::document::digests;
use casebridge_core::ids::{AgencyCode, CaseId, Sha256Digest};
use casebridge_core::notice::{Family as FamilyName, Notice};
use casebridge_core::time::Timestamp;
use casebridge_platform::cases::{Family, Reaction};
use serde::Deserialize;

/// The jurisdiction dispute family: what the engine needs to run the disputes service.
#[derive(Debug, Clone)]
pub struct Disputes {
    directory: Arc<Directory>,
    policy: DisputePolicy,
}

impl Disputes {
    pub fn new(directory: Arc<Directory>, policy: DisputePolicy) -> Disputes {
        Disputes { directory, policy }
    }
}

/// The part of a `transfer.objected` event a dispute is opened from.
#[derive(Debug, Deserialize)]
struct ObjectedDetail {
    sender: AgencyCode,
    reasons: String,
    suspected_violation: String,
}

/// The part of a `transfer.decline_contested` event a dispute is opened from.
#[derive(Debug, Deserialize)]
struct DeclineContestedDetail {
    receiver: AgencyCode,
    reasons: String,
    suspected_violation: String,
}

impl Family for Disputes {
    type Case = Dispute;
    type Command = DisputeCommand;
    type Event = DisputeEventKind;

    const SERVICE: &'static str = crate::SERVICE;
    const FAMILY: FamilyName = FamilyName::Dispute;
    const REACTS_TO: &'static [&'static str] = &["transfer.objected", "transfer.decline_contested"];

    fn step(command: &DisputeCommand) -> &'static str {
        command.step().as_str()
    }

    fn decide(
        &self,
        current: Option<&Dispute>,
        _related: Option<&Dispute>,
        command: &DisputeCommand,
        actor: &Agency,
        now: Timestamp,
    ) -> Result<Decision<Dispute, DisputeEventKind>, Rejection> {
        let ctx = Context {
            directory: &self.directory,
            policy: &self.policy,
        };
        dispute::decide(current, command, actor, &ctx, now)
    }

    fn directory(&self) -> &Directory {
        &self.directory
    }

    fn summary(&self, event: &CaseEvent<DisputeEventKind>, d: &Dispute) -> String {
        let what = match &event.kind {
            DisputeEventKind::Raised { transfer: Some(t) } => format!(
                "raised a jurisdiction dispute with {} over transfer {t} (管辖争议)",
                self.name(&d.respondent)
            ),
            DisputeEventKind::Raised { transfer: None } => format!(
                "raised a jurisdiction dispute with {} (管辖争议)",
                self.name(&d.respondent)
            ),
            DisputeEventKind::MinutesAgreed { competent, .. } => format!(
                "recorded the agreement (协商纪要): {} is competent",
                self.name(competent)
            ),
            DisputeEventKind::Referred { office } => format!(
                "referred the dispute to {} for designation (报请指定管辖)",
                self.name(office)
            ),
            DisputeEventKind::Accepted => "accepted the dispute (受理)".to_owned(),
            DisputeEventKind::Replied => "replied to the coordination office (答复)".to_owned(),
            DisputeEventKind::Designated { designated, .. } => format!(
                "designated {} as the competent agency (指定管辖)",
                self.name(designated)
            ),
        };
        format!(
            "{} {what} — dispute {}",
            self.name(&event.actor),
            event.case_id
        )
    }

    fn attachments(event: &DisputeEventKind, d: &Dispute) -> Vec<Sha256Digest> {
        match event {
            DisputeEventKind::Raised { .. } => digests(&d.documents),
            DisputeEventKind::Designated { documents, .. } => digests(documents),
            _ => Vec::new(),
        }
    }

    fn reaction(&self, notice: &Notice) -> Option<Reaction<DisputeCommand>> {
        let case_id = CaseId::generate();
        let transfer = notice.case_id;
        let opened = match notice.routing_key().as_str() {
            // The objecting receiver raises the dispute against the sender (S4 Art 14, F2).
            "transfer.objected" => {
                let d: ObjectedDetail = parse(notice)?;
                FromObjection {
                    case_id,
                    transfer,
                    respondent: d.sender,
                    // In the parties' language: the question heads the dispute on every desk.
                    question: question(format!(
                        "移送案件 {transfer} 应由哪个机关管辖：{}",
                        d.suspected_violation
                    )),
                    position: d.reasons,
                }
            }
            // The sender that contests a decision not to open a case raises it against the
            // receiver, for the coordination office to rule on (notices/003; S3 Art 25).
            "transfer.decline_contested" => {
                let d: DeclineContestedDetail = parse(notice)?;
                FromObjection {
                    case_id,
                    transfer,
                    respondent: d.receiver,
                    question: question(format!(
                        "移送案件 {transfer} 的接收机关是否应当立案而不得不予立案，或应由哪个机关办理：{}",
                        d.suspected_violation
                    )),
                    position: d.reasons,
                }
            }
            _ => return None,
        };
        Some(Reaction {
            case_id,
            actor: notice.actor.clone(),
            command: DisputeCommand::RaiseFromObjection(opened),
        })
    }
}

/// Decodes a transfer event's detail; a malformed one is logged and opens no dispute.
fn parse<T: for<'de> Deserialize<'de>>(notice: &Notice) -> Option<T> {
    serde_json::from_value(notice.detail.clone())
        .map_err(|error| tracing::warn!(%error, "transfer event detail does not match"))
        .ok()
}

/// A dispute's question, cut to the length a question may have: the suspected violation it
/// quotes may itself be that long, and an over-long question would open no dispute at all.
fn question(text: String) -> String {
    if text.chars().count() <= TEXT_MAX_CHARS {
        return text;
    }
    let mut cut: String = text.chars().take(TEXT_MAX_CHARS - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use casebridge_core::ids::AgencyCode;
    use casebridge_core::notice::Role;
    use casebridge_core::time::Timestamp;

    use super::*;

    const MARKET: &str = "11350100MB0100002P";
    const ECOLOGY: &str = "11350100MB0100003T";

    fn disputes() -> Disputes {
        let directory =
            Directory::from_toml_str(include_str!("../../../deploy/directory.toml")).unwrap();
        Disputes::new(Arc::new(directory), DisputePolicy::default())
    }

    /// A transfer event from the market bureau's transfer to the ecology bureau, by `actor`.
    fn transfer_event(event: &str, actor: &str, detail: serde_json::Value) -> Notice {
        let code = |c: &str| AgencyCode::parse(c).unwrap();
        Notice {
            case_id: CaseId::generate(),
            family: FamilyName::Transfer,
            event: event.into(),
            actor: code(actor),
            at: Timestamp::parse_rfc3339("2026-03-02T10:00:00+08:00").unwrap(),
            recipients: Vec::new(),
            summary: event.into(),
            detail,
            parties: [
                (Role::Sender, code(MARKET)),
                (Role::Recipient, code(ECOLOGY)),
            ]
            .into(),
            attachments: Vec::new(),
        }
    }

    #[test]
    fn a_contested_decline_opens_a_dispute_raised_by_the_sender_against_the_receiver() {
        let notice = transfer_event(
            "decline_contested",
            MARKET,
            serde_json::json!({
                "event": "decline_contested",
                "sender": MARKET,
                "receiver": ECOLOGY,
                "reasons": "当事人多次违法，不属轻微",
                "decline_reasons": "违法行为轻微",
                "suspected_violation": "无证排放污水",
            }),
        );
        let reaction = disputes().reaction(&notice).unwrap();
        assert_eq!(reaction.actor.as_str(), MARKET);
        let DisputeCommand::RaiseFromObjection(opened) = reaction.command else {
            panic!("a dispute raised from the transfer");
        };
        assert_eq!(opened.case_id, reaction.case_id);
        assert_eq!(opened.transfer, notice.case_id);
        assert_eq!(opened.respondent.as_str(), ECOLOGY);
        assert_eq!(opened.position, "当事人多次违法，不属轻微");
        assert!(opened.question.contains("不予立案"), "{}", opened.question);
        assert!(opened.question.contains("无证排放污水"));
        assert!(opened.question.contains(&notice.case_id.to_string()));
    }

    #[test]
    fn an_objection_still_opens_a_dispute_raised_by_the_receiver_against_the_sender() {
        let notice = transfer_event(
            "objected",
            ECOLOGY,
            serde_json::json!({
                "event": "objected",
                "sender": MARKET,
                "receiver": ECOLOGY,
                "reasons": "不属本局管辖",
                "suspected_violation": "无证排放污水",
                "jurisdiction_grounds": "水污染防治法",
            }),
        );
        let reaction = disputes().reaction(&notice).unwrap();
        assert_eq!(reaction.actor.as_str(), ECOLOGY);
        let DisputeCommand::RaiseFromObjection(opened) = reaction.command else {
            panic!("a dispute raised from the transfer");
        };
        assert_eq!(opened.respondent.as_str(), MARKET);
        assert!(
            opened.question.contains("应由哪个机关管辖"),
            "{}",
            opened.question
        );
        // Other transfer events open nothing.
        let declined = transfer_event("declined", ECOLOGY, serde_json::json!({}));
        assert!(disputes().reaction(&declined).is_none());
    }

    #[test]
    fn a_question_quoting_a_long_violation_still_fits() {
        let long = "违".repeat(TEXT_MAX_CHARS);
        let q = question(format!("which agency has jurisdiction: {long}"));
        assert_eq!(q.chars().count(), TEXT_MAX_CHARS);
        assert!(q.ends_with('…'));
        assert_eq!(question("short".to_owned()), "short");
    }
}
