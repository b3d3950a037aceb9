//! The opinion family on the case engine: the core state machine and how its events read.

use std::sync::Arc;

use casebridge_core::case::{CaseEvent, Decision, Rejection};
use casebridge_core::directory::{Agency, Directory};
use casebridge_core::document::digests;
use casebridge_core::ids::Sha256Digest;
use casebridge_core::notice::Family as FamilyName;
use casebridge_core::opinion::{
    self, Finding, OpinionCommand, OpinionEventKind, OpinionKind, OpinionRequest,
};
use casebridge_core::time::Timestamp;
use casebridge_platform::cases::Family;

/// The expert-opinion family: what the engine needs to run the opinions service.
#[derive(Debug, Clone)]
pub struct Opinions {
    directory: Arc<Directory>,
}

impl Opinions {
    pub fn new(directory: Arc<Directory>) -> Opinions {
        Opinions { directory }
    }
}

impl Family for Opinions {
    type Case = OpinionRequest;
    type Command = OpinionCommand;
    type Event = OpinionEventKind;

    const SERVICE: &'static str = crate::SERVICE;
    const FAMILY: FamilyName = FamilyName::Opinion;

    fn step(command: &OpinionCommand) -> &'static str {
        command.step().as_str()
    }

    fn decide(
        &self,
        current: Option<&OpinionRequest>,
        _related: Option<&OpinionRequest>,
        command: &OpinionCommand,
        actor: &Agency,
        now: Timestamp,
    ) -> Result<Decision<OpinionRequest, OpinionEventKind>, Rejection> {
        opinion::decide(current, command, actor, &self.directory, now)
    }

    fn directory(&self) -> &Directory {
        &self.directory
    }

    fn summary(&self, event: &CaseEvent<OpinionEventKind>, r: &OpinionRequest) -> String {
        let what = match &event.kind {
            OpinionEventKind::Requested { kind } => format!(
                "asked {} for {} ({})",
                self.name(&r.expert),
                match kind {
                    OpinionKind::Determination => "a determination",
                    OpinionKind::Test => "a test",
                    OpinionKind::Forensic => "a forensic opinion",
                    OpinionKind::Assistance => "assistance",
                },
                kind.label_zh()
            ),
            OpinionEventKind::Accepted => "accepted the request (受理)".to_owned(),
            OpinionEventKind::Refused { .. } => "refused the request, with reasons".to_owned(),
            OpinionEventKind::MaterialRequested { .. } => {
                "asked for more material (补充材料); its clock is stopped".to_owned()
            }
            OpinionEventKind::MaterialSupplied { documents } => {
                format!("supplied {} document(s)", documents.len())
            }
            OpinionEventKind::Delivered { opinion } => format!(
                "delivered the written opinion ({})",
                match opinion.finding {
                    Some(Finding::Affirmative) => "affirmative",
                    Some(Finding::Negative) => "negative",
                    Some(Finding::Quantified) => "quantified",
                    Some(Finding::AssistanceGiven) => "assistance given",
                    None => "no finding",
                }
            ),
        };
        format!(
            "{} {what} — opinion request {}",
            self.name(&event.actor),
            event.case_id
        )
    }

    fn attachments(event: &OpinionEventKind, r: &OpinionRequest) -> Vec<Sha256Digest> {
        match event {
            OpinionEventKind::Requested { .. } => digests(&r.documents),
            OpinionEventKind::MaterialSupplied { documents } => digests(documents),
            OpinionEventKind::Delivered { opinion } => digests(&opinion.documents),
            _ => Vec::new(),
        }
    }

    /// Every event carries the case the request was made under (`under_case`: the deadlines
    /// service stops and restarts that case's clock) and whether it is a forensic opinion
    /// (`forensic`: the rule table picks SJ-28 over SAMR-45).
    fn detail(&self, event: &CaseEvent<OpinionEventKind>, r: &OpinionRequest) -> serde_json::Value {
        let mut detail = serde_json::to_value(&event.kind).unwrap_or(serde_json::Value::Null);
        if let Some(map) = detail.as_object_mut() {
            map.insert(
                "under_case".into(),
                serde_json::to_value(r.under_case).unwrap_or_default(),
            );
            map.insert(
                "forensic".into(),
                serde_json::Value::Bool(r.kind == OpinionKind::Forensic),
            );
            // Testing (检测、检验、检疫) and forensic examination (鉴定) stop the clocks of the case
            // the request is made under (S4 Arts 18, 64); a determination or an assistance
            // request (协助调查) does not.
            map.insert(
                "testing".into(),
                serde_json::Value::Bool(matches!(
                    r.kind,
                    OpinionKind::Test | OpinionKind::Forensic
                )),
            );
        }
        detail
    }
}
