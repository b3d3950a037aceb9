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
//! Re-screening ([`PenaltyCommand::Rescreen`]): when the threshold table changes, the penalties
//! service screens the current version of each file not yet closed again, at start-up, in the
//! recording agency's name. A file whose hits do not change takes no step; one that now meets a
//! threshold is warned as on arrival; one that meets none has its hits cleared, and a warning
//! only the agency has is withdrawn, while one raised to the procuratorate stands (it is the
//! procuratorate's to end) and the step on the file says the table no longer meets it.
//!
//! Status: the current warning's status, or `recorded` while the file has none open (no
//! threshold met, or a referral named). A warning that ended stays in the file; a later
//! correction that meets a threshold again opens a new one.
//!
//! ```text
//! record → recorded                       (no hit, or a referral named)
//! record → agency_warned → …              (a hit and no referral: the warning's flow)
//! correct → screens again: open a warning, clear one, or leave it to the procuratorate
//! rescreen → the same version under a changed table: the same three outcomes, or no step
//! ```

use serde::{Deserialize, Serialize};

use super::warning::{self, EarlyWarning, Opening, WarningCommand, WarningEventKind};
use super::{Hit, PenaltyCase, PenaltyRecord, ScreeningPolicy, TableStamp, ThresholdTable, screen};
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
    /// Screens the current version again under the threshold table in force (重新筛查), when
    /// that finds other hits than the file has. Taken by the penalties service at start-up,
    /// after the table changed, in the recording agency's name; never by a caller.
    Rescreen,
}

/// The steps a file records itself; the warnings record theirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileStep {
    Record,
    Correct,
    /// A referral named with no warning open (with one open, the warning records it).
    LinkReferral,
    /// The current version screened again under a changed threshold table.
    Rescreen,
}

impl StepName for FileStep {
    const FAMILY: Family = Family::Penalty;

    fn name(self) -> &'static str {
        match self {
            FileStep::Record => "record",
            FileStep::Correct => "correct",
            FileStep::LinkReferral => "link_referral",
            FileStep::Rescreen => "rescreen",
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
            PenaltyCommand::Rescreen => FileStep::Rescreen.name(),
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
    /// The current version screened again under a changed threshold table found other hits:
    /// `hits` now, the rules it met before (`was`), and the table.
    Rescreened {
        version: u32,
        hits: Vec<Hit>,
        was: Vec<String>,
        table: TableStamp,
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
            PenaltyEventKind::Rescreened { .. } => "rescreened",
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
    /// The file's own steps (record, correct, rescreen); the warnings keep theirs.
    pub history: Vec<HistoryEntry<FileStep>>,
    /// For each version, the threshold table it was last screened under; empty for a file
    /// recorded before tables were stamped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub screenings: Vec<Screening>,
    pub version: u64,
}

/// The threshold table one version of a record was last screened under, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Screening {
    /// The record version.
    pub version: u32,
    /// The table's digest and version line.
    pub table: TableStamp,
    /// When the version was screened under it (recorded, corrected or re-screened).
    pub at: Timestamp,
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

    /// The threshold table record version `version` was last screened under, if known.
    pub fn screened_under(&self, version: u32) -> Option<&Screening> {
        self.screenings.iter().find(|s| s.version == version)
    }

    /// Why the file is closed to re-screening, or `None` while it is open to it: a referral
    /// was made for the same matter, or its warning was ended by a referral, an explanation or
    /// the procuratorate. A warning cleared because the figures met nothing leaves it open: a
    /// changed table may make them meet a threshold again.
    pub fn closed_to_rescreening(&self) -> Option<String> {
        if let Some(referral) = self.referral {
            return Some(format!(
                "a referral ({referral}) was made for the same matter"
            ));
        }
        match self.warning() {
            Some(w)
                if w.status.is_terminal() && w.status != warning::WarningStatus::WarningCleared =>
            {
                Some(format!("its warning ended ({})", w.status))
            }
            _ => None,
        }
    }

    /// Whether re-screening the current version under `table` would take a step: the file is
    /// open to it and the table finds other hits than the file has.
    pub fn needs_rescreening(&self, table: &ThresholdTable) -> bool {
        self.closed_to_rescreening().is_none()
            && screen(&self.record.current().case, table) != self.hits
    }

    /// Records that the current version was screened under `table` at `now`.
    fn stamp(&mut self, table: &ThresholdTable, now: Timestamp) {
        let version = self.record.current().number;
        self.screenings.retain(|s| s.version != version);
        self.screenings.push(Screening {
            version,
            table: table.stamp().clone(),
            at: now,
        });
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
        (Some(file), PenaltyCommand::Rescreen) => rescreen(file, actor, ctx, now),
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
    let mut file = PenaltyFile {
        record,
        hits: hits.clone(),
        referral,
        warnings: Vec::new(),
        history: Vec::new(),
        screenings: Vec::new(),
        version: 0,
    };
    file.stamp(ctx.table, now);
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
    next.stamp(ctx.table, now);
    let decision = stepped(next, FileStep::Correct, reason.to_owned(), actor, now, kind);
    let file = &decision.case;
    match file.open_warning() {
        // The agency alone was warned and the corrected figures meet nothing: cleared.
        Some(w) if file.hits.is_empty() && w.status == warning::WarningStatus::AgencyWarned => {
            let clear = WarningCommand::Clear {
                record_version: file.record.current().number,
                hits: Vec::new(),
                table: None,
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

/// The rule that refuses a re-screening that would change nothing, or of a closed file.
const RESCREEN_RULE: &str = "WARN-RESCREEN";

/// The current version screened again under the table in force (`ctx.table`), after it
/// changed. Refused when the file is closed to it or the hits are the same: no step, so a
/// table that changes nothing for a file leaves nothing on its record. Otherwise the hits are
/// replaced and:
/// - hits where the file had no open warning and names no referral: the agency is warned, as
///   on arrival (the warning opens on the current version);
/// - hits with a warning open: the warning stays as it was opened, not reopened or duplicated;
/// - no hits, with a warning only the agency has: it is withdrawn (cleared), the table named;
/// - no hits, with a warning raised to the procuratorate: it stands, since the procuratorate
///   already acts on it and only it ends it; the step says so and the procuratorate and the
///   supervisor hear of it.
fn rescreen(
    file: &PenaltyFile,
    actor: &Agency,
    ctx: &FileContext<'_>,
    now: Timestamp,
) -> Result<Decision<PenaltyFile, PenaltyEventKind>, Rejection> {
    if file.record.agency != actor.code {
        return Err(Rejection::NotAParty {
            step: FileStep::Rescreen.name(),
        });
    }
    let table = ctx.table.stamp();
    if let Some(why) = file.closed_to_rescreening() {
        return Err(Rejection::Forbidden {
            rule: RESCREEN_RULE,
            field: None,
            reason: format!("the record is not screened again: {why}"),
        });
    }
    let current = file.record.current().number;
    let hits = screen(&file.record.current().case, ctx.table);
    if hits == file.hits {
        return Err(Rejection::Forbidden {
            rule: RESCREEN_RULE,
            field: None,
            reason: format!(
                "version {current} {} under the threshold table {table} as before: nothing \
                 changes",
                if hits.is_empty() {
                    "meets no threshold"
                } else {
                    "meets the same thresholds"
                }
            ),
        });
    }
    let was: Vec<String> = file.hits.iter().map(|h| h.rule.clone()).collect();
    let mut next = file.clone();
    next.hits = hits.clone();
    next.stamp(ctx.table, now);
    let now_met = if hits.is_empty() {
        "meets no threshold".to_owned()
    } else {
        format!(
            "meets {}",
            hits.iter()
                .map(Hit::describe)
                .collect::<Vec<_>>()
                .join("; ")
        )
    };
    let before = if was.is_empty() {
        "none".to_owned()
    } else {
        was.join(", ")
    };
    let raised = file.open_warning().filter(|w| w.is_raised());
    let mut note = format!(
        "re-screened under the threshold table {table}: version {current} {now_met} (met before: \
         {before})"
    );
    if raised.is_some() && hits.is_empty() {
        note.push_str(
            "; the warning raised to the procuratorate stands: it is for the procuratorate to \
             judge, and to close it",
        );
    }
    let kind = PenaltyEventKind::Rescreened {
        version: current,
        hits,
        was,
        table: table.clone(),
    };
    let mut decision = stepped(next, FileStep::Rescreen, note, actor, now, kind);
    if let Some(w) = raised {
        // The procuratorate acts on the warning: it and the supervisor hear what changed.
        let recipients = &mut decision.events[0].recipients;
        for code in std::iter::once(&w.procuratorate).chain(w.supervisor.as_ref()) {
            if !recipients.contains(code) {
                recipients.push(code.clone());
            }
        }
    }
    let file = &decision.case;
    match file.open_warning() {
        Some(w) if file.hits.is_empty() && w.status == warning::WarningStatus::AgencyWarned => {
            let clear = WarningCommand::Clear {
                record_version: current,
                hits: Vec::new(),
                table: Some(table.clone()),
            };
            let warned = warning::decide(Some(w), &clear, actor, &ctx.warning(), now)?;
            Ok(with_warning(decision, warned, false))
        }
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
