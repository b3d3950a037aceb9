//! The penalty file (行政处罚案件信息及其预警): one case of the `penalty` family. It holds the
//! agency's versioned [`PenaltyRecord`], what screening found in its current version, the
//! referral made for the same matter if any, and the early warnings opened on it.
//!
//! Recording or correcting screens the new version against the threshold table in force
//! ([`screen`]). A version that meets a threshold, on a file that names no referral, opens an
//! early warning ([`warning::decide`]); a corrected version that meets nothing clears a warning
//! the procuratorate has not yet received. Every later step of the warning is a
//! [`PenaltyCommand::Warning`], decided by the warning's own state machine, so the file adds only
//! what is about the record.
//!
//! Status: the current warning's status, or `recorded` while the file has none open (no
//! threshold met, or a referral named). A warning that ended stays in the file; a later
//! correction that meets a threshold again opens a new one.
//!
//! ```text
//! record → recorded                       (no hit, or a referral named)
//! record → agency_warned → …              (a hit and no referral: the warning's flow)
//! correct → screens again: open a warning, clear one, or leave it to the procuratorate
//! ```

use serde::{Deserialize, Serialize};

use super::warning::{self, EarlyWarning, Opening, WarningCommand, WarningEventKind};
use super::{Hit, PenaltyCase, PenaltyRecord, ScreeningPolicy, ThresholdTable, screen};
use crate::calendar::Calendar;
use crate::case::{
    self, Case, CaseEvent, Decision, EventName, HistoryEntry, Parties, Rejection, StepName,
    TimelineEntry,
};
use crate::directory::{Agency, Directory};
use crate::ids::{AgencyCode, CaseId};
use crate::notice::{Family, Role};
use crate::time::Timestamp;

/// What [`decide`] consults besides the file.
#[derive(Debug, Clone, Copy)]
pub struct FileContext<'a> {
    pub directory: &'a Directory,
    pub calendar: &'a Calendar,
    pub policy: &'a ScreeningPolicy,
    /// The threshold table in force.
    pub table: &'a ThresholdTable,
}

impl<'a> FileContext<'a> {
    fn warning(&self) -> warning::Context<'a> {
        warning::Context {
            directory: self.directory,
            calendar: self.calendar,
            policy: self.policy,
        }
    }
}

/// A step on a penalty file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PenaltyCommand {
    /// Records a case closed with a penalty (行政处罚案件信息录入).
    Record {
        case_id: CaseId,
        case: PenaltyCase,
        /// The criminal referral already made for the same matter: the record is screened, but
        /// no warning opens.
        referral: Option<CaseId>,
    },
    /// A corrected version, superseding the current one.
    Correct { case: PenaltyCase, reason: String },
    /// A step on the file's current warning.
    Warning(WarningCommand),
}

/// The steps a file records itself; the warnings record theirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileStep {
    Record,
    Correct,
    /// A referral named with no warning open (with one open, the warning records it).
    LinkReferral,
}

impl StepName for FileStep {
    const FAMILY: Family = Family::Penalty;

    fn name(self) -> &'static str {
        match self {
            FileStep::Record => "record",
            FileStep::Correct => "correct",
            FileStep::LinkReferral => "link_referral",
        }
    }
}

impl PenaltyCommand {
    /// The step's name, as refusals and logs show it.
    pub fn step(&self) -> &'static str {
        match self {
            PenaltyCommand::Record { .. } => FileStep::Record.name(),
            PenaltyCommand::Correct { .. } => FileStep::Correct.name(),
            PenaltyCommand::Warning(command) => command.step().as_str(),
        }
    }
}

/// What happened on a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum PenaltyEventKind {
    /// A record's first version, with what screening found.
    Recorded {
        version: u32,
        hits: Vec<Hit>,
        referral: Option<CaseId>,
        /// Set when an entry period is configured and was missed.
        late_since: Option<Timestamp>,
    },
    /// A corrected version, screened again.
    Corrected {
        version: u32,
        supersedes: u32,
        hits: Vec<Hit>,
    },
    /// A step of the warning; serialised as the warning's own event.
    #[serde(untagged)]
    Warning(WarningEventKind),
}

impl EventName for PenaltyEventKind {
    fn name(&self) -> &'static str {
        match self {
            PenaltyEventKind::Recorded { .. } => "recorded",
            PenaltyEventKind::Corrected { .. } => "corrected",
            PenaltyEventKind::Warning(kind) => kind.name(),
        }
    }
}

/// A penalty record with its screening and warnings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PenaltyFile {
    pub record: PenaltyRecord,
    /// What screening found in the current version, against the table in force then.
    pub hits: Vec<Hit>,
    /// The criminal referral made for the same matter, if the agency named one.
    #[serde(default)]
    pub referral: Option<CaseId>,
    /// Every warning opened on the file, oldest first; the last is the current one.
    #[serde(default)]
    pub warnings: Vec<EarlyWarning>,
    /// The file's own steps (record, correct); the warnings keep theirs.
    pub history: Vec<HistoryEntry<FileStep>>,
    pub version: u64,
}

impl PenaltyFile {
    /// The current warning, if one was ever opened.
    pub fn warning(&self) -> Option<&EarlyWarning> {
        self.warnings.last()
    }

    /// The current warning while it is open.
    pub fn open_warning(&self) -> Option<&EarlyWarning> {
        self.warning().filter(|w| !w.status.is_terminal())
    }
}

impl Case for PenaltyFile {
    fn id(&self) -> CaseId {
        self.record.id
    }

    fn version(&self) -> u64 {
        self.version
    }

    fn status_name(&self) -> &'static str {
        match self.warning() {
            Some(w) => w.status.as_str(),
            None => "recorded",
        }
    }

    /// The recording agency; the procuratorate of a warning once it was raised to it. The
    /// procuratorate of a warning that was never raised does not read the file.
    fn parties(&self) -> Parties {
        let mut parties = Parties::of([(Role::Sender, self.record.agency.clone())]);
        if let Some(raised) = self.warnings.iter().rev().find(|w| w.is_raised()) {
            parties
                .by_role
                .insert(Role::Procuratorate, raised.procuratorate.clone());
        }
        parties
    }

    fn timeline(&self) -> Vec<TimelineEntry> {
        let mut entries: Vec<TimelineEntry> =
            self.history.iter().map(HistoryEntry::to_timeline).collect();
        for w in &self.warnings {
            entries.extend(w.timeline());
        }
        // Stable: a record and the warning it opened share a time, record first.
        entries.sort_by_key(|e| e.at);
        entries
    }

    /// The offences the current version meets (else its violation code) and the agency's case
    /// number: data in the language of the record, with no words of the interface.
    fn headline(&self) -> String {
        let current = &self.record.current().case;
        let mut offences: Vec<&str> = Vec::new();
        for hit in &self.hits {
            if !offences.contains(&hit.offence.name_zh.as_str()) {
                offences.push(&hit.offence.name_zh);
            }
        }
        let what = if offences.is_empty() {
            current.violation.to_string()
        } else {
            offences.join("、")
        };
        format!("{what} · {}", current.case_number)
    }

    fn opened(&self) -> Option<(&AgencyCode, Timestamp)> {
        case::opened_by(&self.history)
    }

    /// The hits described, or nothing: a record names persons only among its parties.
    fn summary(&self) -> &str {
        self.warning().map_or("", |w| w.summary.as_str())
    }
}

/// Decides one step on a file (`None` before it is recorded).
pub fn decide(
    current: Option<&PenaltyFile>,
    command: &PenaltyCommand,
    actor: &Agency,
    ctx: &FileContext<'_>,
    now: Timestamp,
) -> Result<Decision<PenaltyFile, PenaltyEventKind>, Rejection> {
    let actor = case::known_actor(ctx.directory, actor)?;
    match (current, command) {
        (
            None,
            PenaltyCommand::Record {
                case_id,
                case,
                referral,
            },
        ) => record(*case_id, case, *referral, actor, ctx, now),
        (Some(file), PenaltyCommand::Record { .. }) => {
            Err(Rejection::AlreadyExists { case_id: file.id() })
        }
        (Some(file), PenaltyCommand::Correct { case, reason }) => {
            correct(file, case, reason, actor, ctx, now)
        }
        (Some(file), PenaltyCommand::Warning(step)) => on_warning(file, step, actor, ctx, now),
        (None, other) => Err(Rejection::NotFound { step: other.step() }),
    }
}

/// The file after a step of its own, with the step's event for the agency.
fn stepped(
    mut file: PenaltyFile,
    step: FileStep,
    note: String,
    actor: &Agency,
    now: Timestamp,
    kind: PenaltyEventKind,
) -> Decision<PenaltyFile, PenaltyEventKind> {
    file.version += 1;
    file.history.push(HistoryEntry {
        step,
        actor: actor.code.clone(),
        at: now,
        note,
        documents: Vec::new(),
    });
    let event = CaseEvent {
        case_id: file.id(),
        kind,
        actor: actor.code.clone(),
        at: now,
        recipients: vec![file.record.agency.clone()],
    };
    Decision {
        case: file,
        events: vec![event],
    }
}

/// Appends the warning's decision to `decision`: its warning replaces the current one (or is
/// added, for an opening) and its events follow the file's.
fn with_warning(
    mut decision: Decision<PenaltyFile, PenaltyEventKind>,
    warned: warning::Decision,
    opening: bool,
) -> Decision<PenaltyFile, PenaltyEventKind> {
    let file = &mut decision.case;
    if opening {
        file.warnings.push(warned.case);
    } else if let Some(last) = file.warnings.last_mut() {
        *last = warned.case;
    }
    decision
        .events
        .extend(warned.events.into_iter().map(|e| CaseEvent {
            case_id: file.record.id,
            kind: PenaltyEventKind::Warning(e.kind),
            actor: e.actor,
            at: e.at,
            recipients: e.recipients,
        }));
    decision
}

/// Opens a warning on the file's current version (the warning's id is the file's).
fn open_warning(
    decision: Decision<PenaltyFile, PenaltyEventKind>,
    actor: &Agency,
    ctx: &FileContext<'_>,
    now: Timestamp,
) -> Result<Decision<PenaltyFile, PenaltyEventKind>, Rejection> {
    let file = &decision.case;
    let opening = WarningCommand::Open(Opening {
        warning_id: file.record.id,
        record: file.record.id,
        record_version: file.record.current().number,
        hits: file.hits.clone(),
    });
    let warned = warning::decide(None, &opening, actor, &ctx.warning(), now)?;
    Ok(with_warning(decision, warned, true))
}

fn record(
    case_id: CaseId,
    case: &PenaltyCase,
    referral: Option<CaseId>,
    actor: &Agency,
    ctx: &FileContext<'_>,
    now: Timestamp,
) -> Result<Decision<PenaltyFile, PenaltyEventKind>, Rejection> {
    let record = PenaltyRecord::open(case_id, case.clone(), actor, ctx.policy, ctx.calendar, now)?;
    let hits = screen(case, ctx.table);
    let late_since = record.current().late_since;
    let file = PenaltyFile {
        record,
        hits: hits.clone(),
        referral,
        warnings: Vec::new(),
        history: Vec::new(),
        version: 0,
    };
    let note = hits
        .iter()
        .map(Hit::describe)
        .collect::<Vec<_>>()
        .join("; ");
    let kind = PenaltyEventKind::Recorded {
        version: 1,
        hits,
        referral,
        late_since,
    };
    let decision = stepped(file, FileStep::Record, note, actor, now, kind);
    if decision.case.hits.is_empty() || referral.is_some() {
        return Ok(decision);
    }
    open_warning(decision, actor, ctx, now)
}

fn correct(
    file: &PenaltyFile,
    case: &PenaltyCase,
    reason: &str,
    actor: &Agency,
    ctx: &FileContext<'_>,
    now: Timestamp,
) -> Result<Decision<PenaltyFile, PenaltyEventKind>, Rejection> {
    let record = file.record.correct(case.clone(), reason, actor, now)?;
    let hits = screen(case, ctx.table);
    let current = record.current();
    let kind = PenaltyEventKind::Corrected {
        version: current.number,
        supersedes: current.number - 1,
        hits: hits.clone(),
    };
    let mut next = file.clone();
    next.record = record;
    next.hits = hits;
    let decision = stepped(next, FileStep::Correct, reason.to_owned(), actor, now, kind);
    let file = &decision.case;
    match file.open_warning() {
        // The agency alone was warned and the corrected figures meet nothing: cleared.
        Some(w) if file.hits.is_empty() && w.status == warning::WarningStatus::AgencyWarned => {
            let clear = WarningCommand::Clear {
                record_version: file.record.current().number,
                hits: Vec::new(),
            };
            let warned = warning::decide(Some(w), &clear, actor, &ctx.warning(), now)?;
            Ok(with_warning(decision, warned, false))
        }
        // A warning is open: it stands, and the procuratorate judges a figure lowered after it.
        Some(_) => Ok(decision),
        None if file.hits.is_empty() || file.referral.is_some() => Ok(decision),
        None => open_warning(decision, actor, ctx, now),
    }
}

/// A step of the current warning. Linking a referral with no warning open records it on the
/// file, so a later correction opens none.
fn on_warning(
    file: &PenaltyFile,
    step: &WarningCommand,
    actor: &Agency,
    ctx: &FileContext<'_>,
    now: Timestamp,
) -> Result<Decision<PenaltyFile, PenaltyEventKind>, Rejection> {
    if matches!(step, WarningCommand::Open(_) | WarningCommand::Clear { .. }) {
        // Opened and cleared by recording and correcting only.
        return Err(Rejection::Forbidden {
            rule: "WARN-HIT",
            field: None,
            reason: "a warning opens and clears only when a version is recorded and screened"
                .into(),
        });
    }
    let mut next = file.clone();
    next.version += 1;
    if let WarningCommand::LinkReferral { referral } = step {
        next.referral = Some(*referral);
    }
    let Some(current) = file.open_warning() else {
        if let WarningCommand::LinkReferral { referral } = step {
            if file.record.agency != actor.code {
                return Err(Rejection::NotAParty {
                    step: step.step().as_str(),
                });
            }
            let kind = PenaltyEventKind::Warning(WarningEventKind::ReferralLinked {
                referral: *referral,
                late_since: None,
            });
            next.version -= 1;
            return Ok(stepped(
                next,
                FileStep::LinkReferral,
                format!("referral {referral}"),
                actor,
                now,
                kind,
            ));
        }
        return Err(Rejection::NotFound {
            step: step.step().as_str(),
        });
    };
    let warned = warning::decide(Some(current), step, actor, &ctx.warning(), now)?;
    Ok(with_warning(
        Decision {
            case: next,
            events: Vec::new(),
        },
        warned,
        false,
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
