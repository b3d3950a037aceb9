//! The dispute family on the case engine: the core state machine, how its events read, and the
//! objection to a transfer that opens a dispute.

use std::sync::Arc;

use casebridge_core::case::{CaseEvent, Decision, Rejection};
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

impl Family for Disputes {
    type Case = Dispute;
    type Command = DisputeCommand;
    type Event = DisputeEventKind;

    const SERVICE: &'static str = crate::SERVICE;
    const FAMILY: FamilyName = FamilyName::Dispute;
    const REACTS_TO: &'static [&'static str] = &["transfer.objected"];

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
        if notice.routing_key() != "transfer.objected" {
            return None;
        }
        let d: ObjectedDetail = serde_json::from_value(notice.detail.clone())
            .map_err(|error| tracing::warn!(%error, "objection detail does not match"))
            .ok()?;
        let case_id = CaseId::generate();
        // The objecting receiver raises the dispute against the sender (S4 Art 14, F2).
        Some(Reaction {
            case_id,
            actor: notice.actor.clone(),
            command: DisputeCommand::RaiseFromObjection(FromObjection {
                case_id,
                transfer: notice.case_id,
                respondent: d.sender,
                question: format!(
                    "which agency has jurisdiction over transfer {}: {}",
                    notice.case_id, d.suspected_violation
                ),
                position: d.reasons,
            }),
        })
    }
}
