//! An [`Obligation`]: one step owed by one party, with its clock stops ([`Pause`]) and
//! [`Extension`]s, its due time and when to warn.

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};

use super::counting::{HOUR_MS, count_days, days_between, other_reading_line, start_line};
use super::{Due, Line, Period, Rule, Unit, cst_minute, cst_minute_zh};
use crate::calendar::{self, Calendar, CalendarError, describe, describe_zh, end_of_day};
use crate::time::Timestamp;

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

impl ObligationError {
    /// The error in Chinese, for a Chinese explanation.
    pub fn zh(&self) -> String {
        match self {
            ObligationError::AlreadyPaused { since } => {
                format!("期限已自{}起中止", cst_minute_zh(*since))
            }
            ObligationError::NotPaused => "期限未中止".to_owned(),
            ObligationError::Paused { since } => {
                format!(
                    "期限自{}起中止，恢复计算前无届满时间",
                    cst_minute_zh(*since)
                )
            }
            ObligationError::Calendar(error) => error.zh(),
        }
    }
}

/// The ledger line of an extension: when, by whom, to what period, under which approval, why.
fn extension_line(e: &Extension) -> Line {
    let (what, what_zh) = match (e.tier, e.until) {
        (_, Some(until)) => (
            format!("a new last day {until} announced"),
            format!("告知新的最后一日{until}"),
        ),
        (Some(tier), None) => (format!("tier {tier}"), format!("第{tier}档")),
        (None, None) => ("extended".to_owned(), "延长".to_owned()),
    };
    Line::new(
        format!(
            "extended on {} by {} to {} ({what}; approval {}): {}",
            cst_minute(e.made_at),
            e.by,
            e.period,
            e.reference,
            e.why
        ),
        format!(
            "{}由{}延长至{}（{what_zh}；审批文号{}）：{}",
            cst_minute_zh(e.made_at),
            e.by,
            e.period.zh(),
            e.reference,
            e.why
        ),
    )
}

impl Obligation {
    /// An obligation of `period` under `rule` from `started_at`, without stops or extensions.
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
                due.push(other_reading_line(unit, &other));
            }
        }
        Ok(due)
    }

    /// The ledger for people, in English: the due time's explanation, or, when there is none
    /// yet, the stops and extensions so far and why no due time can be given (never a guess).
    pub fn explain(&self, calendar: &Calendar) -> Vec<String> {
        Line::split(self.explain_lines(calendar)).0
    }

    /// [`Obligation::explain`] in both languages, line for line.
    pub fn explain_lines(&self, calendar: &Calendar) -> Vec<Line> {
        self.explain_due(self.due(calendar))
    }

    /// [`Obligation::explain_lines`] for a due time already computed (`self.due(calendar)`), so
    /// a caller that needs the due time as well counts it once.
    pub fn explain_due(&self, due: Result<Due, ObligationError>) -> Vec<Line> {
        match due {
            Ok(due) => due.lines(),
            Err(error) => {
                let period = self.period_in_force();
                let mut lines = vec![Line::new(
                    format!("{period} from {}", cst_minute(self.started_at)),
                    format!("自{}起{}", cst_minute_zh(self.started_at), period.zh()),
                )];
                lines.extend(self.pauses.iter().map(|p| self.stop_line(p)));
                lines.push(Line::new(
                    format!("no due time: {error}"),
                    format!("暂无届满时间：{}", error.zh()),
                ));
                lines
            }
        }
    }

    /// The due time of `period` from the start with this obligation's pauses, explained.
    pub(super) fn due_with(
        &self,
        calendar: &Calendar,
        period: Period,
        explain: bool,
    ) -> Result<Due, ObligationError> {
        let mut lines = Vec::new();
        if explain {
            lines.push(start_line(period, self.started_at));
            lines.extend(self.extensions.iter().map(extension_line));
        }
        let due = if period.unit == Unit::Hours {
            self.hours_due(period, &mut lines, explain)?
        } else {
            self.days_due(calendar, period, &mut lines, explain)?
        };
        let mut due = Due::explained(due.0, due.1, lines)
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
        lines: &mut Vec<Line>,
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
                let stop = self.stop_line(p);
                let hours = stopped as f64 / HOUR_MS as f64;
                let moved = Timestamp::from_millis(at);
                lines.push(Line::new(
                    format!(
                        "{}: {hours:.1} h stopped, due moves to {}",
                        stop.en,
                        cst_minute(moved)
                    ),
                    format!(
                        "{}：停止计时{hours:.1}小时，届满时间顺延至{}",
                        stop.zh,
                        cst_minute_zh(moved)
                    ),
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
        lines: &mut Vec<Line>,
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
                let stop = self.stop_line(p);
                lines.push(Line::new(
                    format!(
                        "{}: {used} {} used before it, {remaining} left, counted on from {} \
                         (not counted)",
                        stop.en,
                        period.unit.as_str(),
                        describe(anchor)
                    ),
                    format!(
                        "{}：此前已用{}，剩余{}，自{}起继续计算（当日不计入）",
                        stop.zh,
                        Period::new(used, period.unit).zh(),
                        Period::new(remaining, period.unit).zh(),
                        describe_zh(anchor)
                    ),
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

    fn stop_line(&self, p: &Pause) -> Line {
        Line::new(
            format!(
                "clock stopped {} → {} by {}: {}",
                cst_minute(p.from),
                p.until.map(cst_minute).unwrap_or_default(),
                p.by,
                p.why
            ),
            match p.until {
                Some(until) => format!(
                    "{}至{}期限中止（{}：{}）",
                    cst_minute_zh(p.from),
                    cst_minute_zh(until),
                    p.by,
                    super::events::pause_reason_zh(&p.why)
                ),
                None => format!(
                    "自{}起期限中止（{}：{}）",
                    cst_minute_zh(p.from),
                    p.by,
                    super::events::pause_reason_zh(&p.why)
                ),
            },
        )
    }

    fn late_stop_line(&self, p: &Pause) -> Line {
        Line::new(
            format!(
                "clock stop at {} by {} ({}) came after the period had ended: no effect",
                cst_minute(p.from),
                p.by,
                p.why
            ),
            format!(
                "{}由{}中止计时（{}），发生在期限届满之后：不产生效力",
                cst_minute_zh(p.from),
                p.by,
                super::events::pause_reason_zh(&p.why)
            ),
        )
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
