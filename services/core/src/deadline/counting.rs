//! Counting a period on the legal calendar: [`compute_due`] and a rule's [`rule_due`], and the
//! day counts obligations share.

use chrono::{Datelike as _, Days, NaiveDate};
use serde::{Deserialize, Serialize};

use super::{Due, Period, Rule, Unit, cst_minute};
use crate::calendar::{self, Calendar, CalendarError, DayKind, describe, end_of_day};
use crate::time::Timestamp;

pub(super) const HOUR_MS: i64 = 3_600_000;

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
pub(super) fn count_days(
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
pub(super) fn days_between(
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

pub(super) fn other_reading_line(unit: Unit, other: &Due) -> String {
    format!(
        "⚠ read as {}, the period would end {}",
        unit.as_str(),
        other.display_at()
    )
}
