//! The lead family on the case engine: the core state machine and how its events read.

use std::sync::Arc;

use casebridge_core::case::{CaseEvent, Decision, Rejection};
use casebridge_core::directory::{Agency, Directory};
use casebridge_core::document::digests;
use casebridge_core::ids::Sha256Digest;
use casebridge_core::lead::{self, Answer, Lead, LeadCommand, LeadEventKind};
use casebridge_core::notice::Family as FamilyName;
use casebridge_core::time::Timestamp;
use casebridge_platform::cases::Family;

/// The lead family: what the engine needs to run the leads service.
#[derive(Debug, Clone)]
pub struct Leads {
    directory: Arc<Directory>,
}

impl Leads {
    pub fn new(directory: Arc<Directory>) -> Leads {
        Leads { directory }
    }
}

impl Family for Leads {
    type Case = Lead;
    type Command = LeadCommand;
    type Event = LeadEventKind;

    const SERVICE: &'static str = crate::SERVICE;
    const FAMILY: FamilyName = FamilyName::Lead;

    fn step(command: &LeadCommand) -> &'static str {
        command.step().as_str()
    }

    fn decide(
        &self,
        current: Option<&Lead>,
        _related: Option<&Lead>,
        command: &LeadCommand,
        actor: &Agency,
        now: Timestamp,
    ) -> Result<Decision<Lead, LeadEventKind>, Rejection> {
        lead::decide(current, command, actor, &self.directory, now)
    }

    fn directory(&self) -> &Directory {
        &self.directory
    }

    /// Names the agencies and the step only: a lead's subject and description may name the
    /// business or person concerned, so they stay in the case, never in a notice's line.
    fn summary(&self, event: &CaseEvent<LeadEventKind>, l: &Lead) -> String {
        let what = match &event.kind {
            LeadEventKind::Sent => format!("told {} of a lead (线索互告)", self.name(&l.recipient)),
            LeadEventKind::Acknowledged => "acknowledged the lead (签收)".to_owned(),
            LeadEventKind::Answered { answer } => match answer {
                Answer::TransferOpened { transfer } => {
                    format!("answered the lead: taken up in case transfer {transfer}")
                }
                Answer::ReferralMade { referral } => {
                    format!("answered the lead: referred to the police in referral {referral}")
                }
                Answer::NoAction { .. } => {
                    "answered the lead: no action (不予处理), with reasons".to_owned()
                }
            },
        };
        format!(
            "{} {what} — lead {}",
            self.name(&event.actor),
            event.case_id
        )
    }

    fn attachments(event: &LeadEventKind, l: &Lead) -> Vec<Sha256Digest> {
        match event {
            LeadEventKind::Sent => digests(&l.documents),
            _ => Vec::new(),
        }
    }
}
