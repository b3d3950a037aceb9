//! Legal deadlines: counting periods on the legal calendar, the rule table, and obligations
//! with their pauses and extensions (DOMAIN.md §2 and the rule ids of §3).
//!
//! Counting [V S7 Art 105; S8 Art 85; S9 Arts 200–204; S4 Arts 80, 84]:
//! - **hours** are clock time from the trigger, never extended over holidays (DOMAIN §4 q4: the
//!   default, unverified);
//! - **calendar days**: the start day is not counted; a last day that is not a working day
//!   moves to the next working day; the period ends at 24:00 China Standard Time;
//! - **working days** (工作日): only working days count, from the day after the trigger.
//!
//! Every [`Due`] carries an explanation a person can check, line by line.

mod rules;

use std::fmt;

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::calendar::{self, Calendar, CalendarError, DayKind, describe, end_of_day};
use crate::time::Timestamp;

pub use rules::{Rule, RuleError, RuleKind, RuleTable, Supervisor};

/// How a period is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Hours,
    CalendarDays,
    WorkingDays,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Hours => "hours",
            Unit::CalendarDays => "calendar days",
            Unit::WorkingDays => "working days",
        }
    }
}

/// An amount of time in one unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Period {
    pub amount: u32,
    pub unit: Unit,
}

impl Period {
    pub fn new(amount: u32, unit: Unit) -> Period {
        Period { amount, unit }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.unit.as_str())
    }
}

/// When a period ends, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Due {
    /// The instant the period ends (for day periods, 24:00 CST of `last_day`).
    pub at: Timestamp,
    /// The last day of a day period; `None` for hours.
    pub last_day: Option<NaiveDate>,
    /// The ledger: one line per step of the computation.
    pub explanation: Vec<String>,
}

impl Due {
    /// The due time as people write it: `2026-02-24 24:00 CST`.
    pub fn display_at(&self) -> String {
        match self.last_day {
            Some(day) => format!("{day} 24:00 CST"),
            None => cst_minute(self.at),
        }
    }

    fn concluded(mut self) -> Due {
        self.explanation.push(format!("due {}", self.display_at()));
        self
    }
}

fn cst_minute(at: Timestamp) -> String {
    let text = at.to_rfc3339();
    // `2026-09-30T10:00:00.000+08:00` → `2026-09-30 10:00 CST`
    format!(
        "{} {} CST",
        text.get(..10).unwrap_or(&text),
        text.get(11..16).unwrap_or("")
    )
}

/// Computes when `period` from `start` ends, per DOMAIN.md §2.
pub fn compute_due(
    calendar: &Calendar,
    start: Timestamp,
    period: Period,
) -> Result<Due, CalendarError> {
    let start_day = calendar::cst_date(start);
    Ok(match period.unit {
        Unit::Hours => {
            let at =
                Timestamp::from_millis(start.as_millis() + i64::from(period.amount) * 3_600_000);
            Due {
                at,
                last_day: None,
                explanation: vec![format!(
                    "{period} from {}, counted as clock time (no holiday extension)",
                    cst_minute(start)
                )],
            }
        }
        Unit::CalendarDays => {
            let mut explanation = vec![format!(
                "{period} from {} (the start day is not counted)",
                describe(start_day)
            )];
            let nominal = start_day
                .checked_add_days(Days::new(u64::from(period.amount)))
                .unwrap_or(start_day);
            let kind = calendar.day_kind(nominal)?;
            let last = if kind.is_working() {
                explanation.push(format!("day {} is {}", period.amount, describe(nominal)));
                nominal
            } else {
                let rolled = calendar.working_day_on_or_after(nominal)?;
                explanation.push(format!(
                    "day {} is {}, {kind}; rolled to the next working day {}",
                    period.amount,
                    describe(nominal),
                    describe(rolled)
                ));
                rolled
            };
            Due {
                at: end_of_day(last),
                last_day: Some(last),
                explanation,
            }
        }
        Unit::WorkingDays => {
            let mut explanation = vec![format!(
                "{period} from {}, counting working days from the next day",
                describe(start_day)
            )];
            let mut day = start_day;
            let mut counted = 0;
            let mut makeup = Vec::new();
            let mut blocks: Vec<String> = Vec::new();
            let mut weekend_days = 0;
            while counted < period.amount {
                day = calendar::next_day(day);
                match calendar.day_kind(day)? {
                    DayKind::Working => counted += 1,
                    DayKind::MakeUpWorkingDay => {
                        counted += 1;
                        makeup.push(day.to_string());
                    }
                    DayKind::Weekend => weekend_days += 1,
                    DayKind::Holiday { name, first, last } => {
                        let block = format!("{name} ({first}..{last})");
                        if !blocks.contains(&block) {
                            blocks.push(block);
                        }
                    }
                }
            }
            if !makeup.is_empty() {
                explanation.push(format!(
                    "make-up working days counted: {}",
                    makeup.join(", ")
                ));
            }
            if !blocks.is_empty() {
                explanation.push(format!("holidays skipped: {}", blocks.join("; ")));
            }
            if weekend_days > 0 {
                explanation.push(format!("weekend days skipped: {weekend_days}"));
            }
            explanation.push(format!(
                "working day {} is {}",
                period.amount,
                describe(day)
            ));
            Due {
                at: end_of_day(day),
                last_day: Some(day),
                explanation,
            }
        }
    }
    .concluded())
}

/// A due time under a rule, with the other reading of a ⚠ rule when it ends later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleDue {
    pub due: Due,
    /// The same amount counted in the rule's other unit, shown only when it is later.
    pub other_reading: Option<(Unit, Due)>,
}

/// Computes `rule`'s due time from `start`; `None` for rules without a period.
pub fn rule_due(
    calendar: &Calendar,
    rule: &Rule,
    start: Timestamp,
) -> Result<Option<RuleDue>, CalendarError> {
    let Some(period) = rule.period else {
        return Ok(None);
    };
    let mut due = compute_due(calendar, start, period)?;
    due.explanation.insert(
        0,
        format!("rule {} ({}): {}", rule.id, rule.basis, rule.step),
    );
    let other_reading = match rule.other_reading {
        Some(unit) => {
            let other = compute_due(calendar, start, Period::new(period.amount, unit))?;
            (other.at > due.at).then(|| {
                due.explanation.push(format!(
                    "⚠ read as {}, the period would end {}",
                    unit.as_str(),
                    other.display_at()
                ));
                (unit, other)
            })
        }
        None => None,
    };
    Ok(Some(RuleDue { due, other_reading }))
}

/// A stop of the clock: time for testing, forensic examination or supplementing material does
/// not count [V S4 Arts 18, 64; S15 Art 28].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    pub from: Timestamp,
    /// `None` while the clock is still stopped.
    pub until: Option<Timestamp>,
    /// The agency whose step stopped the clock.
    pub by: String,
    pub why: String,
}

/// An extension announced by the party that owes the step, before the deadline
/// [V S4 Art 45].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extension {
    /// Added after the current due time, counted in its own unit.
    pub by_period: Period,
    pub by: String,
    pub why: String,
    /// The approval document's reference (审批文号).
    pub reference: String,
    pub made_at: Timestamp,
}

/// Why a change to an obligation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ObligationError {
    #[error("the clock is already stopped since {since}")]
    AlreadyPaused { since: Timestamp },
    #[error("the clock is not stopped")]
    NotPaused,
    #[error("an extension must be announced before the deadline ({due}); it was made at {made_at}")]
    ExtensionTooLate { due: String, made_at: Timestamp },
    #[error("the clock is stopped since {since}; no due time until it restarts")]
    Paused { since: Timestamp },
    #[error(transparent)]
    Calendar(#[from] CalendarError),
}

/// One step owed by one party, as a pure value: its rule, start, pauses and extensions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Obligation {
    pub rule: String,
    pub period: Period,
    pub started_at: Timestamp,
    #[serde(default)]
    pub pauses: Vec<Pause>,
    #[serde(default)]
    pub extensions: Vec<Extension>,
}

impl Obligation {
    pub fn new(rule: impl Into<String>, period: Period, started_at: Timestamp) -> Obligation {
        Obligation {
            rule: rule.into(),
            period,
            started_at,
            pauses: Vec::new(),
            extensions: Vec::new(),
        }
    }

    /// Since when the clock is stopped, if it is.
    pub fn paused_since(&self) -> Option<Timestamp> {
        self.pauses
            .last()
            .filter(|p| p.until.is_none())
            .map(|p| p.from)
    }

    pub fn pause(&mut self, at: Timestamp, by: &str, why: &str) -> Result<(), ObligationError> {
        if let Some(since) = self.paused_since() {
            return Err(ObligationError::AlreadyPaused { since });
        }
        self.pauses.push(Pause {
            from: at,
            until: None,
            by: by.to_owned(),
            why: why.to_owned(),
        });
        Ok(())
    }

    pub fn resume(&mut self, at: Timestamp) -> Result<(), ObligationError> {
        match self.pauses.last_mut() {
            Some(p) if p.until.is_none() => {
                p.until = Some(at.max(p.from));
                Ok(())
            }
            _ => Err(ObligationError::NotPaused),
        }
    }

    /// Adds an extension, refused unless it is made before the current due time.
    pub fn extend(
        &mut self,
        calendar: &Calendar,
        extension: Extension,
    ) -> Result<(), ObligationError> {
        let due = self.due(calendar)?;
        if extension.made_at >= due.at {
            return Err(ObligationError::ExtensionTooLate {
                due: due.display_at(),
                made_at: extension.made_at,
            });
        }
        self.extensions.push(extension);
        Ok(())
    }

    /// The current due time with its full ledger.
    ///
    /// A finished pause moves the due time by the time stopped, as clock time; for a day
    /// period the result is then taken to 24:00 of its day and rolled to a working day, so a
    /// pause never ends a period on a holiday. An extension counts its own period on from the
    /// due time it extends (for days, from the old last day, not counted).
    pub fn due(&self, calendar: &Calendar) -> Result<Due, ObligationError> {
        if let Some(since) = self.paused_since() {
            return Err(ObligationError::Paused { since });
        }
        let mut due = compute_due(calendar, self.started_at, self.period)?;
        let stopped: i64 = self
            .pauses
            .iter()
            .filter_map(|p| p.until.map(|u| u.as_millis() - p.from.as_millis()))
            .sum();
        for p in &self.pauses {
            due.explanation.push(format!(
                "clock stopped {} → {} by {}: {}",
                cst_minute(p.from),
                p.until.map(cst_minute).unwrap_or_default(),
                p.by,
                p.why
            ));
        }
        if stopped > 0 {
            let moved = Timestamp::from_millis(due.at.as_millis() + stopped);
            due = match due.last_day {
                None => Due {
                    at: moved,
                    last_day: None,
                    explanation: due.explanation,
                },
                Some(_) => {
                    let day = calendar::cst_date(Timestamp::from_millis(moved.as_millis() - 1));
                    let last = calendar.working_day_on_or_after(day)?;
                    Due {
                        at: end_of_day(last),
                        last_day: Some(last),
                        explanation: due.explanation,
                    }
                }
            };
            due.explanation.push(format!(
                "{} h stopped in all; due moves to {}",
                stopped / 3_600_000,
                due.display_at()
            ));
        }
        for e in &self.extensions {
            let from = match e.by_period.unit {
                Unit::Hours => due.at,
                _ => Timestamp::from_millis(due.at.as_millis() - 1),
            };
            let extended = compute_due(calendar, from, e.by_period)?;
            let mut explanation = due.explanation;
            explanation.push(format!(
                "extended by {} on {} by {} ({}; approval {}): due {}",
                e.by_period,
                cst_minute(e.made_at),
                e.by,
                e.why,
                e.reference,
                extended.display_at()
            ));
            due = Due {
                at: extended.at,
                last_day: extended.last_day,
                explanation,
            };
        }
        Ok(due)
    }

    /// When to warn the owing party: `before` ahead of the due time (for working days, at the
    /// start of the last `before` working days), never before the obligation started. For a
    /// period in hours, a lead in days is taken as 24 hours a day.
    pub fn warn_at(
        &self,
        calendar: &Calendar,
        before: Period,
    ) -> Result<Timestamp, ObligationError> {
        let due = self.due(calendar)?;
        let at = match (before.unit, due.last_day) {
            (Unit::Hours, _) => {
                Timestamp::from_millis(due.at.as_millis() - i64::from(before.amount) * 3_600_000)
            }
            (_, None) => Timestamp::from_millis(
                due.at.as_millis() - i64::from(before.amount) * 24 * 3_600_000,
            ),
            (Unit::CalendarDays, Some(last)) => end_of_day(
                last.checked_sub_days(Days::new(u64::from(before.amount)))
                    .unwrap_or(last),
            ),
            (Unit::WorkingDays, Some(last)) => {
                let mut day = last;
                for _ in 0..before.amount {
                    day = calendar.working_day_before(day)?;
                }
                end_of_day(day)
            }
        };
        Ok(at.max(self.started_at))
    }

    /// Whether a step taken at `at` is late.
    pub fn is_late(&self, calendar: &Calendar, at: Timestamp) -> Result<bool, ObligationError> {
        Ok(at > self.due(calendar)?.at)
    }
}

#[cfg(test)]
mod tests;
