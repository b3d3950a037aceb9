//! The penalty family on the case engine: the core state machine, how its events read, and the
//! two reactions to missed deadlines that move a warning on.

use std::sync::Arc;

use casebridge_core::case::{CaseEvent, Decision, Rejection};
use casebridge_core::deadline::Period;
use casebridge_core::directory::{Agency, Directory};
use casebridge_core::ids::Sha256Digest;
use casebridge_core::law::Law;
use casebridge_core::notice::{Family as FamilyName, Notice};
use casebridge_core::screening::file::{
    self, FileContext, PenaltyCommand, PenaltyEventKind, PenaltyFile,
};
use casebridge_core::screening::warning::{WarningCommand, WarningEventKind};
use casebridge_core::screening::{ANSWER_RULE, Hit, RAISE_RULE, ScreeningPolicy, ThresholdTable};
use casebridge_core::time::Timestamp;
use casebridge_platform::cases::{Family, Reaction};
use serde::Deserialize;

/// The penalty family: what the engine needs to run the penalties service.
#[derive(Debug, Clone)]
pub struct Penalties {
    directory: Arc<Directory>,
    law: Arc<Law>,
    thresholds: Arc<ThresholdTable>,
    policy: ScreeningPolicy,
}

impl Penalties {
    /// The family with the threshold table in force; the warning's periods are those of the
    /// law's rules `WARN-RAISE` and `WARN-ANSWER`, the entry period a setting.
    pub fn new(
        directory: Arc<Directory>,
        law: Arc<Law>,
        thresholds: Arc<ThresholdTable>,
        entry_within: Option<Period>,
    ) -> Penalties {
        let policy = ScreeningPolicy::from_rules(&law.rules, entry_within);
        Penalties {
            directory,
            law,
            thresholds,
            policy,
        }
    }

    /// The periods in force.
    pub fn policy(&self) -> &ScreeningPolicy {
        &self.policy
    }

    /// The threshold table in force (loaded at start).
    pub fn thresholds(&self) -> &ThresholdTable {
        &self.thresholds
    }
}

/// The part of a `penalty.deadline_missed` notice the family reads.
#[derive(Debug, Deserialize)]
struct MissedDetail {
    rule: String,
}

fn described(hits: &[Hit]) -> String {
    if hits.is_empty() {
        return "met no threshold".to_owned();
    }
    let rules: Vec<&str> = hits.iter().map(|h| h.rule.as_str()).collect();
    format!("met {}", rules.join(", "))
}

impl Family for Penalties {
    type Case = PenaltyFile;
    type Command = PenaltyCommand;
    type Event = PenaltyEventKind;

    const SERVICE: &'static str = crate::SERVICE;
    const FAMILY: FamilyName = FamilyName::Penalty;
    const REACTS_TO: &'static [&'static str] = &["penalty.deadline_missed"];

    fn step(command: &PenaltyCommand) -> &'static str {
        command.step()
    }

    fn decide(
        &self,
        current: Option<&PenaltyFile>,
        _related: Option<&PenaltyFile>,
        command: &PenaltyCommand,
        actor: &Agency,
        now: Timestamp,
    ) -> Result<Decision<PenaltyFile, PenaltyEventKind>, Rejection> {
        let calendar = self.law.calendar.current();
        let ctx = FileContext {
            directory: &self.directory,
            calendar: &calendar,
            policy: &self.policy,
            table: &self.thresholds,
        };
        file::decide(current, command, actor, &ctx, now)
    }

    fn directory(&self) -> &Directory {
        &self.directory
    }

    /// A missed `WARN-RAISE` raises the warning to the procuratorate; a missed `WARN-ANSWER`
    /// records the agency's answer as overdue. Both are taken in the agency's name (the
    /// notice's actor is the agency that owed the step).
    fn reaction(&self, notice: &Notice) -> Option<Reaction<PenaltyCommand>> {
        let missed: MissedDetail = serde_json::from_value(notice.detail.clone()).ok()?;
        let step = match missed.rule.as_str() {
            RAISE_RULE => WarningCommand::Raise,
            ANSWER_RULE => WarningCommand::MarkOverdue,
            _ => return None,
        };
        Some(Reaction {
            case_id: notice.case_id,
            actor: notice.actor.clone(),
            command: PenaltyCommand::Warning(step),
        })
    }

    fn summary(&self, event: &CaseEvent<PenaltyEventKind>, f: &PenaltyFile) -> String {
        let what = match &event.kind {
            PenaltyEventKind::Recorded { hits, referral, .. } => format!(
                "recorded a penalty case (行政处罚案件信息录入) that {}{}",
                described(hits),
                referral.map_or_else(String::new, |r| format!(", referred as {r}"))
            ),
            PenaltyEventKind::Corrected {
                version,
                supersedes,
                hits,
            } => format!(
                "corrected the record (version {version} supersedes {supersedes}); it {}",
                described(hits)
            ),
            PenaltyEventKind::Rescreened { version, hits, .. } => format!(
                "had version {version} of the record screened again under the changed threshold \
                 table (阈值表调整后重新筛查); it {}",
                described(hits)
            ),
            PenaltyEventKind::Warning(kind) => match kind {
                WarningEventKind::AgencyWarned { .. } => format!(
                    "is warned that the case meets a criminal threshold and has not been \
                     referred: {}",
                    f.warning().map_or("", |w| w.summary.as_str())
                ),
                WarningEventKind::Cleared { table: None, .. } => {
                    "corrected its record, which now meets no threshold: the warning is cleared"
                        .to_owned()
                }
                WarningEventKind::Cleared {
                    table: Some(table), ..
                } => format!(
                    "has a record that meets no threshold of the changed threshold table {table}: \
                     the warning is withdrawn"
                ),
                WarningEventKind::Raised { .. } => format!(
                    "did not refer in time: early warning (移送预警) to {}",
                    f.warning()
                        .map_or_else(String::new, |w| self.name(&w.procuratorate))
                ),
                WarningEventKind::ReferralSuggested { .. } => {
                    "gave its opinion that the case be referred (检察意见)".to_owned()
                }
                WarningEventKind::Closed { .. } => "closed the warning, with reasons".to_owned(),
                WarningEventKind::ReferralLinked { referral, .. } => {
                    format!("referred the case ({referral})")
                }
                WarningEventKind::NonReferralExplained { .. } => {
                    "explained in writing why it does not refer".to_owned()
                }
                WarningEventKind::Escalated { .. } => {
                    "did not answer the procuratorate's opinion in time: escalated".to_owned()
                }
            },
        };
        format!(
            "{} {what} — penalty record {}",
            self.name(&event.actor),
            event.case_id
        )
    }

    fn attachments(event: &PenaltyEventKind, f: &PenaltyFile) -> Vec<Sha256Digest> {
        match event {
            PenaltyEventKind::Recorded { .. } | PenaltyEventKind::Corrected { .. } => {
                f.record.current().case.evidence.clone()
            }
            PenaltyEventKind::Rescreened { .. } => Vec::new(),
            PenaltyEventKind::Warning(_) => f
                .warning()
                .map(|w| casebridge_core::document::digests(&w.documents))
                .unwrap_or_default(),
        }
    }
}
