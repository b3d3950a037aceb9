//! Legal deadlines: counting periods on the legal calendar, the rule table, and obligations
//! with their pauses and extensions (docs/law.md §2 and the rule ids of §3).
//!
//! Counting [V S7 Art 105; S8 Art 85; S9 Arts 200–204; S4 Arts 80, 84]:
//! - **hours** are clock time from the trigger, never extended over holidays (docs/law.md §4 q4:
//!   the default, unverified);
//! - **calendar days**: the start day is not counted; a last day that is not a working day
//!   moves to the next working day; the period ends at 24:00 China Standard Time;
//! - **working days** (工作日): only working days count, from the day after the trigger.
//!
//! Pauses keep the time used [V S4 Arts 18, 64; S15 Art 28]: the days counted before the clock
//! stopped stay used, and the rest is counted on from the day it restarts, in the period's own
//! unit. Extensions lengthen the period [V S4 Arts 45, 64; V2 S16, S17]: the whole lengthened
//! period is counted from the start, so a holiday roll of the old last day is not compounded.
//!
//! Every [`Due`] carries an explanation a person can check, line by line.

mod rules;
mod supervision;

use std::fmt;

use chrono::{Datelike as _, Days, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::calendar::{
    self, Calendar, CalendarError, DayKind, describe, end_of_day, provisional_line,
};
use crate::time::Timestamp;

pub use rules::{Rule, RuleError, RuleKind, RuleTable, Supervisor, Timing};
pub use supervision::{
    SupervisionError, SupervisionGap, Unresolved, check_supervision, owing_kinds,
    require_supervisors, resolve_supervisor, supervisor_for,
};

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
        let unit = self.unit.as_str();
        // "1 working day", "3 working days".
        let unit = if self.amount == 1 {
            unit.strip_suffix('s').unwrap_or(unit)
        } else {
            unit
        };
        write!(f, "{} {unit}", self.amount)
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
    /// The years without an official schedule the count walked through, counted on the
    /// statutory holidays (docs/law.md §2): such a due time is provisional, and is recomputed when
    /// the official schedule is installed. Empty for hours and for official years.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provisional_years: Vec<i32>,
}

impl Due {
    /// The due time as people write it: `2026-02-24 24:00 CST`.
    pub fn display_at(&self) -> String {
        match self.last_day {
            Some(day) => format!("{day} 24:00 CST"),
            None => cst_minute(self.at),
        }
    }

    /// Whether the due time was counted on a provisional year.
    pub fn is_provisional(&self) -> bool {
        !self.provisional_years.is_empty()
    }

    /// Notes the provisional years a day count from `from` to the last day walked through.
    fn counted_from(mut self, calendar: &Calendar, from: NaiveDate) -> Due {
        if let Some(last) = self.last_day {
            self.provisional_years = calendar.provisional_years_between(from, last);
            let lines = self.provisional_years.iter().map(|y| provisional_line(*y));
            self.explanation.extend(lines);
        }
        self
    }

    fn concluded(mut self) -> Due {
        self.explanation.push(format!("due {}", self.display_at()));
        self
    }
}

/// `2026-09-30 10:00 CST`.
pub fn cst_minute(at: Timestamp) -> String {
    at.to_cst().format("%Y-%m-%d %H:%M CST").to_string()
}

const HOUR_MS: i64 = 3_600_000;

/// Computes when `period` from `start` ends, per docs/law.md §2.
pub fn compute_due(
    calendar: &Calendar,
    start: Timestamp,
    period: Period,
) -> Result<Due, CalendarError> {
    let due = match period.unit {
        Unit::Hours => Due {
            at: Timestamp::from_millis(
                start
                    .as_millis()
                    .saturating_add(i64::from(period.amount) * HOUR_MS),
            ),
            last_day: None,
            explanation: vec![format!(
                "{period} from {}, counted as clock time (no holiday extension)",
                cst_minute(start)
            )],
            provisional_years: Vec::new(),
        },
        unit => {
            let start_day = calendar::cst_date(start);
            let mut explanation = vec![match unit {
                Unit::WorkingDays => format!(
                    "{period} from {}, counting working days from the next day",
                    describe(start_day)
                ),
                _ => format!(
                    "{period} from {} (the start day is not counted)",
                    describe(start_day)
                ),
            }];
            let last = count_days(calendar, start_day, period.amount, unit, &mut explanation)?;
            Due {
                at: end_of_day(last),
                last_day: Some(last),
                explanation,
                provisional_years: Vec::new(),
            }
            .counted_from(calendar, start_day)
        }
    };
    Ok(due.concluded())
}

/// The last day of `amount` days of `unit` counted after `anchor` (the anchor day itself is not
/// counted), explaining each rule applied. A last calendar day that is not a working day rolls to
/// the next working day; a count of zero ends on the first working day from the anchor on.
fn count_days(
    calendar: &Calendar,
    anchor: NaiveDate,
    amount: u32,
    unit: Unit,
    explanation: &mut Vec<String>,
) -> Result<NaiveDate, CalendarError> {
    if amount == 0 {
        let last = calendar.working_day_on_or_after(anchor)?;
        explanation.push(format!("no day left: due on {}", describe(last)));
        return Ok(last);
    }
    if unit != Unit::WorkingDays {
        // A count past the last date chrono holds lands in no year a schedule covers: it fails
        // like any year outside the table, and never ends on the anchor day.
        let nominal = anchor
            .checked_add_days(Days::new(u64::from(amount)))
            .ok_or(CalendarError::YearNotLoaded {
                year: NaiveDate::MAX.year(),
            })?;
        let kind = calendar.day_kind(nominal)?;
        return Ok(if kind.is_working() {
            explanation.push(format!("day {amount} is {}", describe(nominal)));
            nominal
        } else {
            let rolled = calendar.working_day_on_or_after(nominal)?;
            explanation.push(format!(
                "day {amount} is {}, {kind}; rolled to the next working day {}",
                describe(nominal),
                describe(rolled)
            ));
            rolled
        });
    }
    let mut day = anchor;
    let mut counted = 0;
    let mut makeup = Vec::new();
    let mut blocks: Vec<String> = Vec::new();
    let mut weekend_days = 0;
    while counted < amount {
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
    explanation.push(format!("working day {amount} is {}", describe(day)));
    Ok(day)
}

/// Days of `unit` in `(after, upto]`: calendar days, or working days only.
fn days_between(
    calendar: &Calendar,
    unit: Unit,
    after: NaiveDate,
    upto: NaiveDate,
) -> Result<u32, CalendarError> {
    if upto <= after {
        return Ok(0);
    }
    if unit != Unit::WorkingDays {
        return Ok(u32::try_from((upto - after).num_days()).unwrap_or(u32::MAX));
    }
    let mut day = after;
    let mut n = 0;
    while day < upto {
        day = calendar::next_day(day);
        if calendar.is_working_day(day)? {
            n += 1;
        }
    }
    Ok(n)
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
    due.explanation.insert(0, rule.headline());
    let other_reading = match rule.other_reading {
        Some(unit) => {
            let other = compute_due(calendar, start, Period::new(period.amount, unit))?;
            (other.at > due.at).then(|| {
                due.explanation.push(other_reading_line(unit, &other));
                (unit, other)
            })
        }
        None => None,
    };
    Ok(Some(RuleDue { due, other_reading }))
}

fn other_reading_line(unit: Unit, other: &Due) -> String {
    format!(
        "⚠ read as {}, the period would end {}",
        unit.as_str(),
        other.display_at()
    )
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

/// An extension made by the party that owes the step, before the deadline, with its approval
/// [V S4 Art 45; V2 S16, S17]. It lengthens the whole period, counted from the start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extension {
    /// The whole period after the extension, counted from the obligation's start.
    pub period: Period,
    /// The rule's tier it reaches (1 = the first entry of the rule's `extensions`), when the
    /// owing party named a tier.
    #[serde(default)]
    pub tier: Option<u32>,
    /// The new last day the owing party announced (SAMR-45x), when it named a date.
    #[serde(default)]
    pub until: Option<NaiveDate>,
    /// The agency that extended.
    pub by: String,
    pub why: String,
    /// The approval document's reference (审批文号).
    pub reference: String,
    pub made_at: Timestamp,
}

/// What the owing party asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExtensionTarget {
    /// Tier `n` of the rule's `extensions` (1-based): the period becomes that tier's period.
    Tier(u32),
    /// A new last day (an expert announcing a date, SAMR-45x), within what the tiers allow.
    Until(NaiveDate),
}

/// Why an extension was refused; each names the rule. The service maps each to a status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtensionRefusal {
    /// The rule's table entry has no `extensions`.
    #[error("rule {rule} allows no extension")]
    NotExtensible { rule: String },
    /// The tier number is not one of the rule's tiers.
    #[error("rule {rule} has {tiers} extension tier(s); there is no tier {tier}")]
    NoSuchTier {
        rule: String,
        tier: u32,
        tiers: usize,
    },
    /// The tier would not lengthen the period in force.
    #[error(
        "tier {tier} of rule {rule} ({tier_period}) does not lengthen the period in force \
         ({current}); the tiers are {tiers}"
    )]
    TierNotLonger {
        rule: String,
        tier: u32,
        tier_period: Period,
        current: Period,
        tiers: String,
    },
    /// An announced date that is not after the current due date.
    #[error("{until} is not after the current due date of rule {rule} ({due})")]
    NotLater {
        rule: String,
        until: NaiveDate,
        due: String,
    },
    /// An announced date beyond the longest tier.
    #[error(
        "{until} is after the latest due date rule {rule}'s extensions allow ({latest}, with \
         {longest})"
    )]
    BeyondTiers {
        rule: String,
        until: NaiveDate,
        latest: String,
        longest: Period,
    },
    /// Hour periods take tiers, not dates.
    #[error("rule {rule} counts hours: name a tier, not a date")]
    DateForHours { rule: String },
    /// Made at or after the due time [V S4 Art 45: before expiry].
    #[error(
        "an extension of rule {rule} must be made before its due time {due} (S4 Art 45); it \
         was made at {made_at}"
    )]
    TooLate {
        rule: String,
        due: String,
        made_at: Timestamp,
    },
    /// The clock is stopped: there is no running due time to extend.
    #[error("the clock of rule {rule} is stopped since {since}; extend it once the clock restarts")]
    Paused { rule: String, since: Timestamp },
    #[error(transparent)]
    Calendar(#[from] CalendarError),
}

/// Why a change to an obligation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ObligationError {
    #[error("the clock is already stopped since {since}")]
    AlreadyPaused { since: Timestamp },
    #[error("the clock is not stopped")]
    NotPaused,
    #[error("the clock is stopped since {since}; no due time until it restarts")]
    Paused { since: Timestamp },
    #[error(transparent)]
    Calendar(#[from] CalendarError),
}

/// One step owed by one party, as a pure value: its rule, start, pauses and extensions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Obligation {
    pub rule: String,
    /// The period the rule gave when the obligation opened.
    pub period: Period,
    pub started_at: Timestamp,
    /// The ⚠ rules' other unit: shown in the explanation when it ends later.
    #[serde(default)]
    pub other_reading: Option<Unit>,
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
            other_reading: None,
            pauses: Vec::new(),
            extensions: Vec::new(),
        }
    }

    /// The obligation `rule` opens at `started_at`; `None` for a rule without a period.
    pub fn under(rule: &Rule, started_at: Timestamp) -> Option<Obligation> {
        let mut obligation = Obligation::new(rule.id.clone(), rule.period?, started_at);
        obligation.other_reading = rule.other_reading;
        Some(obligation)
    }

    /// The period in force: the rule's, or the latest extension's.
    pub fn period_in_force(&self) -> Period {
        self.extensions.last().map_or(self.period, |e| e.period)
    }

    /// Since when the clock is stopped, if it is.
    pub fn paused_since(&self) -> Option<Timestamp> {
        self.pauses
            .last()
            .filter(|p| p.until.is_none())
            .map(|p| p.from)
    }

    /// Stops the clock. A stop after the due time is recorded but changes nothing: it cannot
    /// revive a missed deadline.
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

    /// The current due time with its full ledger.
    pub fn due(&self, calendar: &Calendar) -> Result<Due, ObligationError> {
        let period = self.period_in_force();
        let mut due = self.due_with(calendar, period, true)?;
        if let Some(unit) = self.other_reading.filter(|u| *u != period.unit) {
            let other = self.due_with(calendar, Period::new(period.amount, unit), false)?;
            if other.at > due.at {
                due.explanation.push(other_reading_line(unit, &other));
            }
        }
        Ok(due)
    }

    /// The ledger for people: the due time's explanation, or, when there is none yet, the
    /// stops and extensions so far and why no due time can be given (never a guess).
    pub fn explain(&self, calendar: &Calendar) -> Vec<String> {
        self.explain_due(self.due(calendar))
    }

    /// [`Obligation::explain`] for a due time already computed (`self.due(calendar)`), so a
    /// caller that needs the due time as well counts it once.
    pub fn explain_due(&self, due: Result<Due, ObligationError>) -> Vec<String> {
        match due {
            Ok(due) => due.explanation,
            Err(error) => {
                let mut lines = vec![format!(
                    "{} from {}",
                    self.period_in_force(),
                    cst_minute(self.started_at)
                )];
                lines.extend(self.pauses.iter().map(|p| self.stop_line(p)));
                lines.push(format!("no due time: {error}"));
                lines
            }
        }
    }

    /// The due time of `period` from the start with this obligation's pauses, explained.
    fn due_with(
        &self,
        calendar: &Calendar,
        period: Period,
        explain: bool,
    ) -> Result<Due, ObligationError> {
        let mut lines = Vec::new();
        if explain {
            lines.push(match period.unit {
                Unit::Hours => format!(
                    "{period} from {}, counted as clock time (no holiday extension)",
                    cst_minute(self.started_at)
                ),
                Unit::WorkingDays => format!(
                    "{period} from {}, counting working days from the next day",
                    describe(calendar::cst_date(self.started_at))
                ),
                Unit::CalendarDays => format!(
                    "{period} from {} (the start day is not counted)",
                    describe(calendar::cst_date(self.started_at))
                ),
            });
            for e in &self.extensions {
                let what = match (e.tier, e.until) {
                    (_, Some(until)) => format!("a new last day {until} announced"),
                    (Some(tier), None) => format!("tier {tier}"),
                    (None, None) => "extended".to_owned(),
                };
                lines.push(format!(
                    "extended on {} by {} to {} ({what}; approval {}): {}",
                    cst_minute(e.made_at),
                    e.by,
                    e.period,
                    e.reference,
                    e.why
                ));
            }
        }
        let due = if period.unit == Unit::Hours {
            self.hours_due(period, &mut lines, explain)?
        } else {
            self.days_due(calendar, period, &mut lines, explain)?
        };
        let mut due = Due {
            at: due.0,
            last_day: due.1,
            explanation: lines,
            provisional_years: Vec::new(),
        }
        .counted_from(calendar, calendar::cst_date(self.started_at));
        if explain {
            due = due.concluded();
        }
        Ok(due)
    }

    /// Hours: each stop that began before the running due time moves it by its length.
    fn hours_due(
        &self,
        period: Period,
        lines: &mut Vec<String>,
        explain: bool,
    ) -> Result<(Timestamp, Option<NaiveDate>), ObligationError> {
        let mut at = self
            .started_at
            .as_millis()
            .saturating_add(i64::from(period.amount) * HOUR_MS);
        for p in &self.pauses {
            if p.from.as_millis() >= at {
                if explain {
                    lines.push(self.late_stop_line(p));
                }
                continue;
            }
            let Some(until) = p.until else {
                return Err(ObligationError::Paused { since: p.from });
            };
            let stopped = until.as_millis() - p.from.as_millis();
            at = at.saturating_add(stopped);
            if explain {
                lines.push(format!(
                    "{}: {:.1} h stopped, due moves to {}",
                    self.stop_line(p),
                    stopped as f64 / HOUR_MS as f64,
                    cst_minute(Timestamp::from_millis(at))
                ));
            }
        }
        Ok((Timestamp::from_millis(at), None))
    }

    /// Days: the days counted up to and including the day the clock stopped stay used; the rest
    /// is counted on from the day it restarts (itself not counted, like a start day).
    fn days_due(
        &self,
        calendar: &Calendar,
        period: Period,
        lines: &mut Vec<String>,
        explain: bool,
    ) -> Result<(Timestamp, Option<NaiveDate>), ObligationError> {
        let mut anchor = calendar::cst_date(self.started_at);
        let mut remaining = period.amount;
        let mut scratch = Vec::new();
        for p in &self.pauses {
            let running = count_days(calendar, anchor, remaining, period.unit, &mut scratch)?;
            if p.from >= end_of_day(running) {
                if explain {
                    lines.push(self.late_stop_line(p));
                }
                continue;
            }
            let Some(until) = p.until else {
                return Err(ObligationError::Paused { since: p.from });
            };
            let stopped_day = calendar::cst_date(p.from);
            let used = days_between(calendar, period.unit, anchor, stopped_day)?.min(remaining);
            remaining -= used;
            anchor = calendar::cst_date(until).max(anchor);
            if explain {
                lines.push(format!(
                    "{}: {used} {} used before it, {remaining} left, counted on from {} \
                     (not counted)",
                    self.stop_line(p),
                    period.unit.as_str(),
                    describe(anchor)
                ));
            }
        }
        let mut counting = Vec::new();
        let last = count_days(calendar, anchor, remaining, period.unit, &mut counting)?;
        if explain {
            lines.extend(counting);
        }
        Ok((end_of_day(last), Some(last)))
    }

    fn stop_line(&self, p: &Pause) -> String {
        format!(
            "clock stopped {} → {} by {}: {}",
            cst_minute(p.from),
            p.until.map(cst_minute).unwrap_or_default(),
            p.by,
            p.why
        )
    }

    fn late_stop_line(&self, p: &Pause) -> String {
        format!(
            "clock stop at {} by {} ({}) came after the period had ended: no effect",
            cst_minute(p.from),
            p.by,
            p.why
        )
    }

    /// Extends the obligation to `target`, made by `by` at `made_at`, refused unless it is made
    /// before the current due time [V S4 Art 45] and lengthens the period within the rule's
    /// `tiers` (the whole periods, counted from the start, each tier allows). Returns the new
    /// due time.
    #[allow(clippy::too_many_arguments)] // one argument per fact the law asks of an extension
    pub fn extend(
        &mut self,
        calendar: &Calendar,
        tiers: &[Period],
        target: ExtensionTarget,
        by: &str,
        why: &str,
        reference: &str,
        made_at: Timestamp,
    ) -> Result<Due, ExtensionRefusal> {
        let uncapped = false;
        self.extend_with(
            calendar, tiers, uncapped, target, by, why, reference, made_at,
        )
    }

    /// Like [`Obligation::extend`], for a rule under which the owing party may announce any
    /// later date (S4 Art 45: "告知…延长的期限", with no upper limit): an announced date is
    /// capped by `tiers` only when the rule table gives some (a setting, off by default); tiers
    /// themselves are still taken as tiers.
    #[allow(clippy::too_many_arguments)] // one argument per fact the law asks of an extension
    pub fn announce(
        &mut self,
        calendar: &Calendar,
        tiers: &[Period],
        target: ExtensionTarget,
        by: &str,
        why: &str,
        reference: &str,
        made_at: Timestamp,
    ) -> Result<Due, ExtensionRefusal> {
        let uncapped = tiers.is_empty();
        self.extend_with(
            calendar, tiers, uncapped, target, by, why, reference, made_at,
        )
    }

    /// [`Obligation::extend`] with announced dates `uncapped` (beyond the longest tier).
    #[allow(clippy::too_many_arguments)] // one argument per fact the law asks of an extension
    fn extend_with(
        &mut self,
        calendar: &Calendar,
        tiers: &[Period],
        uncapped: bool,
        target: ExtensionTarget,
        by: &str,
        why: &str,
        reference: &str,
        made_at: Timestamp,
    ) -> Result<Due, ExtensionRefusal> {
        let rule = self.rule.clone();
        let announcing = matches!(target, ExtensionTarget::Until(_));
        if tiers.is_empty() && !(uncapped && announcing) {
            return Err(ExtensionRefusal::NotExtensible { rule });
        }
        let due = self.due(calendar).map_err(|e| refused(&rule, e))?;
        if made_at >= due.at {
            return Err(ExtensionRefusal::TooLate {
                rule,
                due: due.display_at(),
                made_at,
            });
        }
        let current = self.period_in_force();
        let (period, tier, until) = match target {
            ExtensionTarget::Tier(n) => {
                let Some(tier_period) = n
                    .checked_sub(1)
                    .and_then(|i| tiers.get(usize::try_from(i).ok()?))
                    .copied()
                else {
                    return Err(ExtensionRefusal::NoSuchTier {
                        rule,
                        tier: n,
                        tiers: tiers.len(),
                    });
                };
                if tier_period.unit != current.unit || tier_period.amount <= current.amount {
                    return Err(ExtensionRefusal::TierNotLonger {
                        rule,
                        tier: n,
                        tier_period,
                        current,
                        tiers: describe_tiers(tiers),
                    });
                }
                (tier_period, Some(n), None)
            }
            ExtensionTarget::Until(date) => {
                if current.unit == Unit::Hours {
                    return Err(ExtensionRefusal::DateForHours { rule });
                }
                if due.last_day.is_some_and(|last| date <= last) {
                    return Err(ExtensionRefusal::NotLater {
                        rule,
                        until: date,
                        due: due.display_at(),
                    });
                }
                let longest = if uncapped {
                    Period::new(UNCAPPED_SEARCH_LIMIT, current.unit)
                } else {
                    tiers
                        .iter()
                        .filter(|t| t.unit == current.unit)
                        .max_by_key(|t| t.amount)
                        .copied()
                        .unwrap_or(current)
                };
                // The announced day itself must be on a loaded calendar: it becomes the due date.
                calendar
                    .working_day_on_or_after(date)
                    .map_err(ExtensionRefusal::Calendar)?;
                // The last day of `amount` days, or `None` when it falls in a later year that
                // has no calendar yet: such a period ends after the announced date whatever
                // that calendar says (counting walks forward through the announced day's
                // year, which is loaded). So in December an expert may announce a date in
                // December although the longest tier ends in a year not yet published.
                let last_day =
                    |amount: u32| -> Result<Option<NaiveDate>, ExtensionRefusal> {
                        match self.due_with(calendar, Period::new(amount, current.unit), false) {
                            Ok(d) => Ok(Some(d.last_day.unwrap_or(date))),
                            Err(ObligationError::Calendar(CalendarError::YearNotLoaded {
                                year,
                            })) if year > date.year() => Ok(None),
                            Err(e) => Err(refused(&rule, e)),
                        }
                    };
                let reaches = |amount: u32| -> Result<bool, ExtensionRefusal> {
                    Ok(last_day(amount)?.is_none_or(|last| last >= date))
                };
                if longest.amount <= current.amount || !reaches(longest.amount)? {
                    let latest = last_day(longest.amount)?
                        .map_or_else(|| "a later year".to_owned(), |l| format!("{l} 24:00 CST"));
                    return Err(ExtensionRefusal::BeyondTiers {
                        rule,
                        until: date,
                        latest,
                        longest,
                    });
                }
                // The shortest period whose last day reaches the announced date: a due date is
                // monotonic in the amount, so search between the period in force and the longest.
                let (mut low, mut high) = (current.amount, longest.amount);
                while high - low > 1 {
                    let mid = low + (high - low) / 2;
                    if reaches(mid)? {
                        high = mid;
                    } else {
                        low = mid;
                    }
                }
                (Period::new(high, current.unit), None, Some(date))
            }
        };
        self.extensions.push(Extension {
            period,
            tier,
            until,
            by: by.to_owned(),
            why: why.to_owned(),
            reference: reference.to_owned(),
            made_at,
        });
        self.due(calendar).map_err(|e| refused(&self.rule, e))
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
                Timestamp::from_millis(due.at.as_millis() - i64::from(before.amount) * HOUR_MS)
            }
            (_, None) => {
                Timestamp::from_millis(due.at.as_millis() - i64::from(before.amount) * 24 * HOUR_MS)
            }
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

/// How far an uncapped announced date may be searched, in the period's unit: ten years of
/// calendar days, more of working days; a date beyond is refused as beyond any reading.
const UNCAPPED_SEARCH_LIMIT: u32 = 3653;

/// An obligation error met while extending: only a stopped clock or a missing calendar year can
/// keep [`Obligation::due`] from answering.
fn refused(rule: &str, error: ObligationError) -> ExtensionRefusal {
    match error {
        ObligationError::Calendar(c) => ExtensionRefusal::Calendar(c),
        ObligationError::Paused { since } | ObligationError::AlreadyPaused { since } => {
            ExtensionRefusal::Paused {
                rule: rule.to_owned(),
                since,
            }
        }
        ObligationError::NotPaused => ExtensionRefusal::NotExtensible {
            rule: rule.to_owned(),
        },
    }
}

/// `tier 1: 7 calendar days, tier 2: 30 calendar days`.
pub fn describe_tiers(tiers: &[Period]) -> String {
    tiers
        .iter()
        .enumerate()
        .map(|(i, t)| format!("tier {}: {t}", i + 1))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod docs_tests;
