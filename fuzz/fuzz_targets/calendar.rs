//! Target `calendar`: the legal calendar's arithmetic (`deadline::compute_due`, the working-day
//! searches of `calendar::Calendar`) from any instant of 2000–2101, for any amount in each unit,
//! on the shipped calendar (official 2025 and 2026, provisional after) or on one with no official
//! year at all.
//!
//! Invariants:
//! - no panic; a count fails only on a year outside the statutory table (2025–2099);
//! - hours are clock time: the due time is the start plus the hours, never extended (up to the
//!   last instant a `Timestamp` holds);
//! - a day count ends at 24:00 CST of its last day, which is a working day: the first working day
//!   from the start day for 0 days; for calendar days the first working day from day N (every
//!   day skipped is not a working day); for working days the Nth working day after the start day;
//! - counting more, or from later, never ends earlier; a count that fails fails for more too;
//! - a due time is never before its start, and after it for any positive amount;
//! - the provisional years are exactly those without an official schedule the count walks
//!   through, and the explanation ends with the due time it explains;
//! - the working day on or after a date, and the one before it, are working days with only
//!   non-working days between them and the date.
#![no_main]

use std::sync::LazyLock;

use arbitrary::{Result, Unstructured};
use casebridge_core::calendar::{self, Calendar, CalendarError};
use casebridge_core::deadline::{Due, Period, Unit, compute_due};
use casebridge_core::law::SHIPPED_CALENDARS;
use casebridge_core::time::Timestamp;
use chrono::{Datelike, Days, NaiveDate};
use libfuzzer_sys::fuzz_target;

static SHIPPED: LazyLock<Calendar> = LazyLock::new(|| {
    Calendar::from_toml_files(SHIPPED_CALENDARS.iter().copied()).expect("shipped calendars load")
});
static PROVISIONAL: LazyLock<Calendar> = LazyLock::new(Calendar::new);

/// The years the statutory table covers: outside them no day can be known.
const TABLE: std::ops::RangeInclusive<i32> = 2025..=2099;
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// 2000-01-01 00:00 CST, and the days to 2101-12-31.
const FIRST_MS: i64 = 946_656_000_000;
const SPAN_DAYS: u32 = 37_255;

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let calendar: &Calendar = if u.arbitrary()? {
        &SHIPPED
    } else {
        &PROVISIONAL
    };
    let start = instant(u)?;
    let unit = *u.choose(&[Unit::Hours, Unit::CalendarDays, Unit::WorkingDays])?;
    let amount = amount(u, unit)?;
    let more = amount.saturating_add(amount_step(u, unit)?);
    let later = Timestamp::from_millis(
        start.as_millis() + i64::from(u.int_in_range(0..=400 * 24u32)?) * HOUR_MS,
    );

    let start_year = calendar::cst_date(start).year();
    let due = checked(calendar, start, Period::new(amount, unit));
    let due_more = checked(calendar, start, Period::new(more, unit));
    let due_later = checked(calendar, later, Period::new(amount, unit));
    for (what, other) in [("more days", &due_more), ("a later start", &due_later)] {
        match (&due, other) {
            (Ok(a), Ok(b)) => assert!(
                a.at <= b.at,
                "{amount} {unit:?} from {start} ends {}, but {what} ends earlier, {}",
                a.at,
                b.at
            ),
            // From a start day inside the table, a count that fails on a missing year fails
            // for any longer count too (before it, a longer calendar count may land inside).
            (Err(_), Ok(b)) if what == "more days" && TABLE.contains(&start_year) => panic!(
                "{amount} {unit:?} from {start} fails, but {more} end {}",
                b.at
            ),
            _ => {}
        }
    }

    let day = date(u)?;
    working_days_around(calendar, day);
    Ok(())
}

/// An instant from 2000 to 2101, to the millisecond.
fn instant(u: &mut Unstructured<'_>) -> Result<Timestamp> {
    let day = i64::from(u.int_in_range(0..=SPAN_DAYS)?);
    let within = i64::from(u.int_in_range(0..=(DAY_MS - 1) as u32)?);
    Ok(Timestamp::from_millis(FIRST_MS + day * DAY_MS + within))
}

fn date(u: &mut Unstructured<'_>) -> Result<NaiveDate> {
    let first = NaiveDate::from_ymd_opt(2000, 1, 1).expect("a date");
    Ok(first + Days::new(u64::from(u.int_in_range(0..=SPAN_DAYS)?)))
}

/// Mostly the amounts rules use; now and then anything a `u32` holds.
fn amount(u: &mut Unstructured<'_>, unit: Unit) -> Result<u32> {
    if u.ratio(1, 32)? {
        return u.arbitrary();
    }
    match unit {
        Unit::WorkingDays => u.int_in_range(0..=400),
        _ => u.int_in_range(0..=4000),
    }
}

fn amount_step(u: &mut Unstructured<'_>, unit: Unit) -> Result<u32> {
    match unit {
        Unit::WorkingDays => u.int_in_range(0..=100),
        _ => u.int_in_range(0..=1000),
    }
}

/// `compute_due`, with every invariant of a single count checked.
fn checked(calendar: &Calendar, start: Timestamp, period: Period) -> Result<Due, CalendarError> {
    let result = compute_due(calendar, start, period);
    let Period { amount, unit } = period;
    let due = match result {
        Ok(due) => due,
        Err(CalendarError::YearNotLoaded { year }) => {
            assert!(
                !TABLE.contains(&year),
                "{period} from {start} fails on {year}, which the table covers"
            );
            return Err(CalendarError::YearNotLoaded { year });
        }
        Err(other) => panic!("{period} from {start}: {other}"),
    };
    assert_eq!(
        due.explanation.last(),
        Some(&format!("due {}", due.display_at())),
        "the explanation does not end with the due time"
    );
    assert!(
        due.at >= start,
        "{period} from {start} ends before it, {}",
        due.at
    );
    if unit == Unit::Hours {
        // Clock time, up to the last instant a `Timestamp` holds (9999-12-31, as documented).
        let expected = Timestamp::from_millis(
            start
                .as_millis()
                .saturating_add(i64::from(amount) * HOUR_MS),
        );
        assert_eq!(due.at, expected, "{period} from {start}");
        assert_eq!(due.last_day, None);
        assert!(due.provisional_years.is_empty());
        return Ok(due);
    }
    assert!(due.at > start, "{period} from {start} ends at once");
    let last = due.last_day.expect("a day count has a last day");
    assert_eq!(
        due.at,
        calendar::end_of_day(last),
        "{period} does not end at 24:00 CST"
    );
    assert_eq!(
        working(calendar, last),
        Some(true),
        "{period} from {start} ends on {last}"
    );
    let start_day = calendar::cst_date(start);
    match (amount, unit) {
        (0, _) => assert_eq!(
            Ok(last),
            calendar.working_day_on_or_after(start_day),
            "0 days from {start_day}"
        ),
        (n, Unit::CalendarDays) => {
            let Some(nominal) = start_day.checked_add_days(Days::new(u64::from(n))) else {
                panic!("{period} from {start_day} is past any date, yet ends on {last}");
            };
            assert!(last >= nominal, "{period} from {start_day} ends on {last}");
            let skipped = nominal.iter_days().take_while(|d| *d < last);
            for d in skipped {
                assert_eq!(
                    working(calendar, d),
                    Some(false),
                    "{period} from {start_day} skips {d}"
                );
            }
        }
        (n, _) => {
            let counted = start_day
                .iter_days()
                .skip(1)
                .take_while(|d| *d <= last)
                .filter(|d| working(calendar, *d) == Some(true))
                .count();
            assert_eq!(
                counted, n as usize,
                "{period} from {start_day} ends on {last}"
            );
        }
    }
    let walked: Vec<i32> = (start_day.year()..=last.year())
        .filter(|y| calendar.is_provisional(*y))
        .collect();
    assert_eq!(
        due.provisional_years, walked,
        "{period} from {start_day} to {last}"
    );
    Ok(due)
}

/// Whether `day` is a working day; `None` outside the table.
fn working(calendar: &Calendar, day: NaiveDate) -> Option<bool> {
    calendar.is_working_day(day).ok()
}

fn working_days_around(calendar: &Calendar, day: NaiveDate) {
    match calendar.working_day_on_or_after(day) {
        Ok(next) => {
            assert!(
                next >= day && working(calendar, next) == Some(true),
                "{day} → {next}"
            );
            for d in day.iter_days().take_while(|d| *d < next) {
                assert_eq!(
                    working(calendar, d),
                    Some(false),
                    "{day} → {next} skips {d}"
                );
            }
        }
        Err(CalendarError::YearNotLoaded { year }) => assert!(!TABLE.contains(&year), "{day}"),
        Err(other) => panic!("{day}: {other}"),
    }
    match calendar.working_day_before(day) {
        Ok(before) => {
            assert!(
                before < day && working(calendar, before) == Some(true),
                "{day} ← {before}"
            );
            for d in before.iter_days().skip(1).take_while(|d| *d < day) {
                assert_eq!(
                    working(calendar, d),
                    Some(false),
                    "{before} ← {day} skips {d}"
                );
            }
        }
        Err(CalendarError::YearNotLoaded { year }) => assert!(!TABLE.contains(&year), "{day}"),
        Err(other) => panic!("{day}: {other}"),
    }
}
