//! The rectification family on the case engine: the core state machine, how its events read,
//! and the reaction to a missed report that records it as overdue.

use std::sync::Arc;

use casebridge_core::case::{CaseEvent, Decision, Rejection};
use casebridge_core::directory::{Agency, Directory};
use casebridge_core::document::digests;
use casebridge_core::ids::Sha256Digest;
use casebridge_core::notice::{Family as FamilyName, Notice};
use casebridge_core::rectification::{
    self, REPORT_RULE, Rectification, RectificationCommand, RectificationEventKind,
};
use casebridge_core::time::Timestamp;
use casebridge_platform::cases::{Family, Reaction};
use serde::Deserialize;

/// The rectification family: what the engine needs to run the rectifications service.
#[derive(Debug, Clone)]
pub struct Rectifications {
    directory: Arc<Directory>,
}

impl Rectifications {
    pub fn new(directory: Arc<Directory>) -> Rectifications {
        Rectifications { directory }
    }
}

/// The part of a `rectification.deadline_missed` notice the family reads.
#[derive(Debug, Deserialize)]
struct MissedDetail {
    rule: String,
}

impl Family for Rectifications {
    type Case = Rectification;
    type Command = RectificationCommand;
    type Event = RectificationEventKind;

    const SERVICE: &'static str = crate::SERVICE;
    const FAMILY: FamilyName = FamilyName::Rectification;
    const REACTS_TO: &'static [&'static str] = &["rectification.deadline_missed"];

    fn step(command: &RectificationCommand) -> &'static str {
        command.step().as_str()
    }

    fn decide(
        &self,
        current: Option<&Rectification>,
        _related: Option<&Rectification>,
        command: &RectificationCommand,
        actor: &Agency,
        now: Timestamp,
    ) -> Result<Decision<Rectification, RectificationEventKind>, Rejection> {
        rectification::decide(current, command, actor, &self.directory, now)
    }

    fn directory(&self) -> &Directory {
        &self.directory
    }

    /// A missed `RECT-REPORT` records the report as overdue, in the agency's name (the notice's
    /// actor is the agency that owed it), so every party hears of it, the requester included.
    fn reaction(&self, notice: &Notice) -> Option<Reaction<RectificationCommand>> {
        let missed: MissedDetail = serde_json::from_value(notice.detail.clone()).ok()?;
        if missed.rule != REPORT_RULE {
            return None;
        }
        Some(Reaction {
            case_id: notice.case_id,
            actor: notice.actor.clone(),
            command: RectificationCommand::MarkOverdue,
        })
    }

    /// Names the agencies and the step only: the findings and measures may name the people
    /// concerned, so they stay in the case, never in a notice's line.
    fn summary(&self, event: &CaseEvent<RectificationEventKind>, c: &Rectification) -> String {
        let what = match &event.kind {
            RectificationEventKind::Requested => {
                format!("asked {} to rectify (整改通知)", self.name(&c.agency))
            }
            RectificationEventKind::Reported { late: false } => {
                "reported its rectification (整改报告)".to_owned()
            }
            RectificationEventKind::Reported { late: true } => {
                "reported its rectification (整改报告), late".to_owned()
            }
            RectificationEventKind::Accepted => {
                "accepted the rectification report (复查合格)".to_owned()
            }
            RectificationEventKind::Returned => {
                "returned the rectification report with reasons (复查不合格): a new report is owed"
                    .to_owned()
            }
            RectificationEventKind::ReportOverdue => {
                format!("is overdue with its rectification report ({REPORT_RULE})")
            }
        };
        format!(
            "{} {what} — rectification {}",
            self.name(&event.actor),
            event.case_id
        )
    }

    fn attachments(event: &RectificationEventKind, c: &Rectification) -> Vec<Sha256Digest> {
        match event {
            RectificationEventKind::Requested => digests(&c.documents),
            RectificationEventKind::Reported { .. } => c
                .reports
                .last()
                .map(|r| digests(&r.documents))
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }
}
