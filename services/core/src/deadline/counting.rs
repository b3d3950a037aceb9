//! Counting a period on the legal calendar: [`compute_due`] and a rule's [`rule_due`], and the
//! day counts obligations share.

use chrono::{Datelike as _, Days, NaiveDate};
use serde::{Deserialize, Serialize};

use super::{Due, Line, Period, Rule, Unit, cst_minute, cst_minute_zh};
use crate::calendar::{
    self, Calendar, CalendarError, DayKind, describe, describe_zh, end_of_day, holiday_name_zh,
};
use crate::time::Timestamp;

pub(super) const HOUR_MS: i64 = 3_600_000;

/// Computes when `period` from `start` ends, per docs/law.md §2.
pub fn compute_due(
    calendar: &Calendar,
    start: Timestamp,
    period: Period,
) -> Result<Due, CalendarError> {
    let due = match period.unit {
        Unit::Hours => Due::explained(
            Timestamp::from_millis(
                start
                    .as_millis()
                    .saturating_add(i64::from(period.amount) * HOUR_MS),
            ),
            None,
            vec![start_line(period, start)],
        ),
        _ => {
            let start_day = calendar::cst_date(start);
            let mut explanation = vec![start_line(period, start)];
            let last = count_days(
                calendar,
                start_day,
                period.amount,
                period.unit,
                &mut explanation,
            )?;
            Due::explained(end_of_day(last), Some(last), explanation)
                .counted_from(calendar, start_day)
        }
    };
    Ok(due.concluded())
}

/// The first line of a count: the period, from when, and how it is counted.
pub(super) fn start_line(period: Period, start: Timestamp) -> Line {
    let day = calendar::cst_date(start);
    let zh = period.zh();
    match period.unit {
        Unit::Hours => Line::new(
            format!(
                "{period} from {}, counted as clock time (no holiday extension)",
                cst_minute(start)
            ),
            format!(
                "自{}起{zh}，按实际时间连续计算（不因节假日顺延）",
                cst_minute_zh(start)
            ),
        ),
        Unit::WorkingDays => Line::new(
            format!(
                "{period} from {}, counting working days from the next day",
                describe(day)
            ),
            format!("自{}起{zh}，从次日起按工作日计算", describe_zh(day)),
        ),
        Unit::CalendarDays => Line::new(
            format!(
                "{period} from {} (the start day is not counted)",
                describe(day)
            ),
            format!("自{}起{zh}（开始当日不计入）", describe_zh(day)),
        ),
    }
}

/// The last day of `amount` days of `unit` counted after `anchor` (the anchor day itself is not
/// counted), explaining each rule applied. A last calendar day that is not a working day rolls to
/// the next working day; a count of zero ends on the first working day from the anchor on.
pub(super) fn count_days(
    calendar: &Calendar,
    anchor: NaiveDate,
    amount: u32,
    unit: Unit,
    explanation: &mut Vec<Line>,
) -> Result<NaiveDate, CalendarError> {
    if amount == 0 {
        let last = calendar.working_day_on_or_after(anchor)?;
        explanation.push(Line::new(
            format!("no day left: due on {}", describe(last)),
            format!("期限已无剩余：于{}届满", describe_zh(last)),
        ));
        return Ok(last);
    }
    if unit != Unit::WorkingDays {
        return count_calendar_days(calendar, anchor, amount, explanation);
    }
    let mut day = anchor;
    let mut counted = 0;
    let mut makeup = Vec::new();
    let mut blocks: Vec<(String, NaiveDate, NaiveDate)> = Vec::new();
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
                let block = (name, first, last);
                if !blocks.contains(&block) {
                    blocks.push(block);
                }
            }
        }
    }
    if !makeup.is_empty() {
        explanation.push(Line::new(
            format!("make-up working days counted: {}", makeup.join(", ")),
            format!("计入调休上班日：{}", makeup.join("、")),
        ));
    }
    if !blocks.is_empty() {
        explanation.push(holidays_line(&blocks));
    }
    if weekend_days > 0 {
        explanation.push(Line::new(
            format!("weekend days skipped: {weekend_days}"),
            format!("不计周末休息日：{weekend_days}日"),
        ));
    }
    explanation.push(Line::new(
        format!("working day {amount} is {}", describe(day)),
        format!("第{amount}个工作日为{}", describe_zh(day)),
    ));
    Ok(day)
}

/// The last day of `amount` calendar days after `anchor`, rolled to the next working day when it
/// is not one.
fn count_calendar_days(
    calendar: &Calendar,
    anchor: NaiveDate,
    amount: u32,
    explanation: &mut Vec<Line>,
) -> Result<NaiveDate, CalendarError> {
    // A count past the last date chrono holds lands in no year a schedule covers: it fails
    // like any year outside the table, and never ends on the anchor day.
    let nominal = anchor
        .checked_add_days(Days::new(u64::from(amount)))
        .ok_or(CalendarError::YearNotLoaded {
            year: NaiveDate::MAX.year(),
        })?;
    let kind = calendar.day_kind(nominal)?;
    if kind.is_working() {
        explanation.push(Line::new(
            format!("day {amount} is {}", describe(nominal)),
            format!("第{amount}日为{}", describe_zh(nominal)),
        ));
        return Ok(nominal);
    }
    let rolled = calendar.working_day_on_or_after(nominal)?;
    explanation.push(Line::new(
        format!(
            "day {amount} is {}, {kind}; rolled to the next working day {}",
            describe(nominal),
            describe(rolled)
        ),
        format!(
            "第{amount}日为{}，{}；顺延至下一个工作日{}",
            describe_zh(nominal),
            kind.zh(),
            describe_zh(rolled)
        ),
    ));
    Ok(rolled)
}

/// `holidays skipped: 春节 Spring Festival (2026-02-15..2026-02-23)`, and in Chinese.
fn holidays_line(blocks: &[(String, NaiveDate, NaiveDate)]) -> Line {
    let en: Vec<String> = blocks
        .iter()
        .map(|(name, first, last)| format!("{name} ({first}..{last})"))
        .collect();
    let zh: Vec<String> = blocks
        .iter()
        .map(|(name, first, last)| format!("{}（{first}至{last}）", holiday_name_zh(name)))
        .collect();
    Line::new(
        format!("holidays skipped: {}", en.join("; ")),
        format!("不计节假日：{}", zh.join("；")),
    )
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
    due.push_front(rule.headline_line());
    let other_reading = match rule.other_reading {
        Some(unit) => {
            let other = compute_due(calendar, start, Period::new(period.amount, unit))?;
            (other.at > due.at).then(|| {
                due.push(other_reading_line(unit, &other));
                (unit, other)
            })
        }
        None => None,
    };
    Ok(Some(RuleDue { due, other_reading }))
}

/// The ⚠ line: when the period would end counted in the rule's other unit.
pub(super) fn other_reading_line(unit: Unit, other: &Due) -> Line {
    Line::new(
        format!(
            "⚠ read as {}, the period would end {}",
            unit.as_str(),
            other.display_at()
        ),
        format!(
            "⚠ 如{}计算，期限将于{}届满",
            unit.counted_zh(),
            other.display_at_zh()
        ),
    )
}
