//! The legal calendar: which China Standard Time dates are working days (DOMAIN.md §2).
//!
//! A working day is Monday to Friday outside an official holiday block, or a listed make-up
//! working day (调休上班日). The schedule is published by the State Council each November, so it
//! is data (`deploy/calendars/<year>.toml`), never code. A date in a year without data is an
//! error ([`CalendarError::YearNotLoaded`]): the engine warns rather than guesses.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{Datelike, Days, NaiveDate, NaiveTime, Weekday};
use serde::Deserialize;

use crate::time::Timestamp;

/// China Standard Time (UTC+08:00), in which legal days begin and end, in milliseconds.
const CST_OFFSET_MS: i64 = 8 * 3_600_000;

/// Why a calendar could not be loaded or answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// No schedule is loaded for the year; no working day can be known.
    #[error(
        "no holiday calendar is loaded for {year}: add deploy/calendars/{year}.toml from the \
         State Council's notice; no due date is computed in {year} until then"
    )]
    YearNotLoaded { year: i32 },
    /// A calendar file is malformed.
    #[error("calendar {file}: {reason}")]
    Invalid { file: String, reason: String },
}

/// What a date is, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DayKind {
    /// Monday to Friday outside any holiday block.
    Working,
    /// A weekend day the schedule makes a working day (调休上班日).
    MakeUpWorkingDay,
    /// Saturday or Sunday.
    Weekend,
    /// Inside an official holiday block.
    Holiday {
        /// The block's name, e.g. `春节 Spring Festival`.
        name: String,
        first: NaiveDate,
        last: NaiveDate,
    },
}

impl DayKind {
    pub fn is_working(&self) -> bool {
        matches!(self, DayKind::Working | DayKind::MakeUpWorkingDay)
    }
}

impl fmt::Display for DayKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DayKind::Working => f.write_str("a working day"),
            DayKind::MakeUpWorkingDay => f.write_str("a make-up working day (调休上班日)"),
            DayKind::Weekend => f.write_str("a weekend day"),
            DayKind::Holiday { name, first, last } => write!(f, "in {name} ({first}..{last})"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Holiday {
    name: String,
    first: NaiveDate,
    last: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Year {
    source: String,
    holidays: Vec<Holiday>,
    makeup: BTreeSet<NaiveDate>,
}

/// The loaded years of the official schedule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calendar {
    years: BTreeMap<i32, Year>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct YearFile {
    year: i32,
    source: String,
    #[serde(default)]
    makeup_working_days: Vec<String>,
    #[serde(default)]
    holiday: Vec<HolidayFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HolidayFile {
    name: String,
    first: String,
    last: String,
}

impl Calendar {
    /// An empty calendar: every date is [`CalendarError::YearNotLoaded`].
    pub fn new() -> Calendar {
        Calendar::default()
    }

    /// Loads several year files; `files` pairs a name for error messages with the TOML text.
    pub fn from_toml_files<'a>(
        files: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Calendar, CalendarError> {
        let mut calendar = Calendar::new();
        for (name, text) in files {
            calendar.add_year_toml(name, text)?;
        }
        Ok(calendar)
    }

    /// Adds one year's schedule, validated: dates in the declared year, each block's first day
    /// not after its last, no overlapping blocks, no make-up day inside a block, no year twice.
    pub fn add_year_toml(&mut self, file: &str, text: &str) -> Result<i32, CalendarError> {
        let invalid = |reason: String| CalendarError::Invalid {
            file: file.to_owned(),
            reason,
        };
        let raw: YearFile = toml::from_str(text).map_err(|e| invalid(e.message().to_owned()))?;
        let year = raw.year;
        if self.years.contains_key(&year) {
            return Err(invalid(format!("year {year} is already loaded")));
        }
        let date = |field: &str, text: &str| -> Result<NaiveDate, CalendarError> {
            let date = NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map_err(|e| invalid(format!("{field} {text:?} is not a YYYY-MM-DD date: {e}")))?;
            if date.year() != year {
                return Err(invalid(format!("{field} {text} is not in {year}")));
            }
            Ok(date)
        };
        let mut holidays = Vec::new();
        for h in &raw.holiday {
            let first = date(&format!("holiday {:?} first", h.name), &h.first)?;
            let last = date(&format!("holiday {:?} last", h.name), &h.last)?;
            if first > last {
                return Err(invalid(format!(
                    "holiday {:?} ends ({last}) before it begins ({first})",
                    h.name
                )));
            }
            if let Some(other) = holidays
                .iter()
                .find(|o: &&Holiday| o.first <= last && first <= o.last)
            {
                return Err(invalid(format!(
                    "holiday {:?} overlaps {:?}",
                    h.name, other.name
                )));
            }
            holidays.push(Holiday {
                name: h.name.clone(),
                first,
                last,
            });
        }
        let mut makeup = BTreeSet::new();
        for text in &raw.makeup_working_days {
            let day = date("make-up working day", text)?;
            if let Some(h) = holidays.iter().find(|h| h.first <= day && day <= h.last) {
                return Err(invalid(format!(
                    "make-up working day {day} is inside holiday {:?}",
                    h.name
                )));
            }
            makeup.insert(day);
        }
        self.years.insert(
            year,
            Year {
                source: raw.source,
                holidays,
                makeup,
            },
        );
        Ok(year)
    }

    /// The years with a schedule, ascending.
    pub fn loaded_years(&self) -> Vec<i32> {
        self.years.keys().copied().collect()
    }

    /// The notice a year's schedule comes from.
    pub fn source(&self, year: i32) -> Option<&str> {
        self.years.get(&year).map(|y| y.source.as_str())
    }

    /// What `date` is.
    pub fn day_kind(&self, date: NaiveDate) -> Result<DayKind, CalendarError> {
        let year = self
            .years
            .get(&date.year())
            .ok_or(CalendarError::YearNotLoaded { year: date.year() })?;
        if let Some(h) = year
            .holidays
            .iter()
            .find(|h| h.first <= date && date <= h.last)
        {
            return Ok(DayKind::Holiday {
                name: h.name.clone(),
                first: h.first,
                last: h.last,
            });
        }
        if year.makeup.contains(&date) {
            return Ok(DayKind::MakeUpWorkingDay);
        }
        Ok(match date.weekday() {
            Weekday::Sat | Weekday::Sun => DayKind::Weekend,
            _ => DayKind::Working,
        })
    }

    pub fn is_working_day(&self, date: NaiveDate) -> Result<bool, CalendarError> {
        Ok(self.day_kind(date)?.is_working())
    }

    /// `date` itself if it is a working day, else the next working day.
    pub fn working_day_on_or_after(&self, date: NaiveDate) -> Result<NaiveDate, CalendarError> {
        let mut day = date;
        while !self.is_working_day(day)? {
            day = next_day(day);
        }
        Ok(day)
    }

    /// The working day before `date`.
    pub fn working_day_before(&self, date: NaiveDate) -> Result<NaiveDate, CalendarError> {
        let mut day = previous_day(date);
        while !self.is_working_day(day)? {
            day = previous_day(day);
        }
        Ok(day)
    }
}

pub(crate) fn next_day(date: NaiveDate) -> NaiveDate {
    date.checked_add_days(Days::new(1)).unwrap_or(date)
}

pub(crate) fn previous_day(date: NaiveDate) -> NaiveDate {
    date.checked_sub_days(Days::new(1)).unwrap_or(date)
}

/// The China Standard Time date of an instant.
pub fn cst_date(at: Timestamp) -> NaiveDate {
    at.to_cst().date_naive()
}

/// 24:00 China Standard Time at the end of `date`: the instant a period ending that day ends.
pub fn end_of_day(date: NaiveDate) -> Timestamp {
    let midnight = next_day(date).and_time(NaiveTime::MIN).and_utc();
    Timestamp::from_millis(midnight.timestamp_millis() - CST_OFFSET_MS)
}

/// 00:00 China Standard Time at the start of `date`.
pub fn start_of_day(date: NaiveDate) -> Timestamp {
    let midnight = date.and_time(NaiveTime::MIN).and_utc();
    Timestamp::from_millis(midnight.timestamp_millis() - CST_OFFSET_MS)
}

/// `date` as written in an explanation: `2026-02-24 (Tue)`.
pub fn describe(date: NaiveDate) -> String {
    date.format("%Y-%m-%d (%a)").to_string()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const Y2025: &str = include_str!("../../../deploy/calendars/2025.toml");
    pub(crate) const Y2026: &str = include_str!("../../../deploy/calendars/2026.toml");

    pub(crate) fn official() -> Calendar {
        Calendar::from_toml_files([("2025.toml", Y2025), ("2026.toml", Y2026)])
            .expect("shipped calendars load")
    }

    pub(crate) fn d(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date")
    }

    #[test]
    fn the_shipped_years_load() {
        assert_eq!(official().loaded_years(), vec![2025, 2026]);
    }

    #[test]
    fn days_are_classified_as_the_schedule_says() {
        let c = official();
        assert_eq!(c.day_kind(d("2026-02-13")), Ok(DayKind::Working));
        assert_eq!(c.day_kind(d("2026-02-14")), Ok(DayKind::MakeUpWorkingDay));
        assert!(matches!(
            c.day_kind(d("2026-02-16")),
            Ok(DayKind::Holiday { ref name, .. }) if name.contains("春节")
        ));
        assert_eq!(c.day_kind(d("2026-03-07")), Ok(DayKind::Weekend));
        assert_eq!(c.day_kind(d("2025-10-11")), Ok(DayKind::MakeUpWorkingDay));
        assert!(!c.is_working_day(d("2025-10-08")).unwrap());
    }

    #[test]
    fn a_year_without_data_is_an_error_naming_the_year() {
        let err = official().day_kind(d("2027-01-04")).unwrap_err();
        assert_eq!(err, CalendarError::YearNotLoaded { year: 2027 });
        assert!(err.to_string().contains("2027.toml"), "{err}");
    }

    #[test]
    fn next_and_previous_working_days_skip_blocks() {
        let c = official();
        assert_eq!(
            c.working_day_on_or_after(d("2026-02-15")),
            Ok(d("2026-02-24"))
        );
        assert_eq!(c.working_day_before(d("2026-02-24")), Ok(d("2026-02-14")));
    }

    #[test]
    fn end_of_day_is_midnight_cst() {
        let end = end_of_day(d("2026-02-24"));
        assert_eq!(end.to_rfc3339(), "2026-02-25T00:00:00+08:00");
        assert_eq!(
            cst_date(Timestamp::from_millis(end.as_millis() - 1)),
            d("2026-02-24")
        );
    }

    fn load(text: &str) -> CalendarError {
        Calendar::from_toml_files([("bad.toml", text)]).unwrap_err()
    }

    #[test]
    fn malformed_files_are_refused_with_the_reason() {
        let base = "year = 2026\nsource = \"x\"\n";
        let cases = [
            (
                format!("{base}makeup_working_days = [\"2025-01-26\"]"),
                "not in 2026",
            ),
            (
                format!(
                    "{base}[[holiday]]\nname = \"a\"\nfirst = \"2026-02-10\"\nlast = \"2026-02-01\""
                ),
                "ends (2026-02-01) before it begins",
            ),
            (
                format!(
                    "{base}makeup_working_days = [\"2026-02-16\"]\n[[holiday]]\nname = \"春节\"\nfirst = \"2026-02-15\"\nlast = \"2026-02-23\""
                ),
                "inside holiday",
            ),
            (
                format!("{base}makeup_working_days = [\"2026-13-01\"]"),
                "not a YYYY-MM-DD date",
            ),
            (
                format!(
                    "{base}[[holiday]]\nname = \"a\"\nfirst = \"2026-02-10\"\nlast = \"2026-02-12\"\n[[holiday]]\nname = \"b\"\nfirst = \"2026-02-12\"\nlast = \"2026-02-13\""
                ),
                "overlaps",
            ),
        ];
        for (text, expected) in cases {
            let err = load(&text).to_string();
            assert!(err.contains(expected), "{err} should say {expected}");
            assert!(err.contains("bad.toml"), "{err}");
        }
        let twice = Calendar::from_toml_files([("a", Y2026), ("b", Y2026)]).unwrap_err();
        assert!(twice.to_string().contains("already loaded"));
    }
}
