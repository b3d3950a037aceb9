//! The legal calendar: which China Standard Time dates are working days (docs/law.md §2).
//!
//! A working day is Monday to Friday outside an official holiday block, or a listed make-up
//! working day (调休上班日). The schedule is published by the State Council each autumn, so it
//! is data (`deploy/calendars/<year>.toml`, plus the files an operator installs), never code.
//!
//! A year without an official schedule is never left without due dates: it is counted on a
//! **provisional** schedule built from the statutory holidays ([`statutory`]), and every due
//! time that consults such a year says so ([`Calendar::provisional_years_between`]). Installing
//! the official schedule replaces the provisional year; the deadlines service then recomputes
//! the obligations that fall in it, on the record. Only a year outside the statutory table
//! (before 2025 or after 2099) is an error ([`CalendarError::YearNotLoaded`]).
//!
//! A running process holds the calendar in a [`LiveCalendar`], which an installation replaces
//! without a restart.

pub mod statutory;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use chrono::{Datelike, Days, NaiveDate, NaiveTime, Weekday};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::time::Timestamp;

/// China Standard Time (UTC+08:00), in which legal days begin and end, in milliseconds.
const CST_OFFSET_MS: i64 = 8 * 3_600_000;

/// Why a calendar could not be loaded or answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// No schedule, official or provisional, is known for the year (it is outside the statutory
    /// table of 2025–2099); no working day can be known.
    #[error(
        "no holiday calendar is known for {year}: install the State Council's schedule with \
         `casebridge calendar install {year}.toml`; no due date is computed in {year} until then"
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
    /// Whether work is done that day: a working day or a make-up working day.
    pub fn is_working(&self) -> bool {
        matches!(self, DayKind::Working | DayKind::MakeUpWorkingDay)
    }

    /// What the day is, in Chinese, as an explanation says it after the date: `为工作日`,
    /// `逢周末休息日`, `逢春节假期（2026-02-15至2026-02-23）`.
    pub fn zh(&self) -> String {
        match self {
            DayKind::Working => "为工作日".to_owned(),
            DayKind::MakeUpWorkingDay => "为调休上班日".to_owned(),
            DayKind::Weekend => "逢周末休息日".to_owned(),
            DayKind::Holiday { name, first, last } => {
                format!("逢{}假期（{first}至{last}）", holiday_name_zh(name))
            }
        }
    }
}

/// A holiday block's name in Chinese, as the calendar file names it: the Chinese words of each
/// holiday of the block (`春节 Spring Festival` → `春节`; `中秋节 Mid-Autumn Festival、国庆节
/// National Day` → `中秋节、国庆节`). A holiday named without Chinese keeps its name.
pub fn holiday_name_zh(name: &str) -> String {
    name.split('、')
        .map(|holiday| {
            let chinese: Vec<&str> = holiday
                .split_whitespace()
                .filter(|word| !word.is_ascii())
                .collect();
            if chinese.is_empty() {
                holiday.trim().to_owned()
            } else {
                chinese.join(" ")
            }
        })
        .collect::<Vec<_>>()
        .join("、")
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
pub(crate) struct Holiday {
    name: String,
    first: NaiveDate,
    last: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Year {
    source: String,
    holidays: Vec<Holiday>,
    makeup: BTreeSet<NaiveDate>,
    /// Built from the statutory holidays, not from an official notice.
    provisional: bool,
}

/// Where a year's schedule comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum YearStatus {
    /// The State Council's schedule, from the notice named.
    Official { source: String },
    /// The statutory holidays only, without make-up working days, until the notice is installed.
    Provisional,
    /// Outside the statutory table: no due date can be computed.
    Unknown,
}

/// The line every due time counted on a provisional year carries, in Chinese.
pub fn provisional_line_zh(year: i32) -> String {
    format!("{year}年节假日安排尚未公布，暂按法定节假日计算，不计调休上班日")
}

/// The explanation line of a due time counted through provisional `year`, in English.
pub fn provisional_line(year: i32) -> String {
    format!(
        "{year} calendar not yet published; counted on the statutory holidays, without make-up \
         working days"
    )
}

/// The legal calendar: the official years loaded, and a provisional schedule for every other
/// year of the statutory table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    years: BTreeMap<i32, Year>,
}

impl Default for Calendar {
    fn default() -> Calendar {
        Calendar::new()
    }
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
    /// No official year yet: every year of the statutory table (2025–2099) is provisional.
    pub fn new() -> Calendar {
        let years = (statutory::FIRST_YEAR..=statutory::LAST_YEAR)
            .filter_map(|year| {
                let holidays = statutory::provisional_blocks(year)?;
                Some((
                    year,
                    Year {
                        source: "全国年节及纪念日放假办法 (2024), provisional".to_owned(),
                        holidays,
                        makeup: BTreeSet::new(),
                        provisional: true,
                    },
                ))
            })
            .collect();
        Calendar { years }
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

    /// Adds one year's official schedule in place of its provisional one, validated: the notice
    /// it comes from (naming the year), dates in the declared year, each block's first day not
    /// after its last, no overlapping blocks, every statutory holiday inside a block (a whole
    /// year), each make-up working day a weekend day outside the blocks (a 调休 swap), and no
    /// official year twice.
    pub fn add_year_toml(&mut self, file: &str, text: &str) -> Result<i32, CalendarError> {
        let invalid = |reason: String| CalendarError::Invalid {
            file: file.to_owned(),
            reason,
        };
        let raw: YearFile = toml::from_str(text).map_err(|e| invalid(e.message().to_owned()))?;
        let year = raw.year;
        if self.years.get(&year).is_some_and(|y| !y.provisional) {
            return Err(invalid(format!("year {year} is already loaded")));
        }
        if !raw.source.contains(&year.to_string()) {
            return Err(invalid(format!(
                "source {:?} must name the notice the schedule comes from, with its year {year} \
                 (e.g. 国务院办公厅关于{year}年部分节假日安排的通知)",
                raw.source
            )));
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
            if !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
                return Err(invalid(format!(
                    "make-up working day {day} is a {}: a make-up working day (调休上班日) is a \
                     weekend day made a working day",
                    day.weekday()
                )));
            }
            makeup.insert(day);
        }
        for h in statutory::holidays(year).unwrap_or_default() {
            if let Some(day) = h
                .days
                .iter()
                .find(|day| !holidays.iter().any(|b| b.first <= **day && **day <= b.last))
            {
                return Err(invalid(format!(
                    "{} ({day}) is in no holiday block: a year's schedule must cover every \
                     statutory holiday of 全国年节及纪念日放假办法",
                    h.name
                )));
            }
        }
        self.years.insert(
            year,
            Year {
                source: raw.source,
                holidays,
                makeup,
                provisional: false,
            },
        );
        Ok(year)
    }

    /// The years with an official schedule, ascending.
    pub fn official_years(&self) -> Vec<i32> {
        self.years
            .iter()
            .filter(|(_, y)| !y.provisional)
            .map(|(year, _)| *year)
            .collect()
    }

    /// Where `year`'s schedule comes from.
    pub fn status(&self, year: i32) -> YearStatus {
        match self.years.get(&year) {
            Some(y) if y.provisional => YearStatus::Provisional,
            Some(y) => YearStatus::Official {
                source: y.source.clone(),
            },
            None => YearStatus::Unknown,
        }
    }

    pub fn is_provisional(&self, year: i32) -> bool {
        self.years.get(&year).is_some_and(|y| y.provisional)
    }

    /// The provisional years a count from `from` to `to` (inclusive) walks through.
    pub fn provisional_years_between(&self, from: NaiveDate, to: NaiveDate) -> Vec<i32> {
        (from.year().min(to.year())..=to.year().max(from.year()))
            .filter(|year| self.is_provisional(*year))
            .collect()
    }

    /// The years an operator must install now, seen on `today`: this year when it has no
    /// official schedule, and from 1 October the next year too (the notice comes each autumn).
    pub fn missing_official(&self, today: NaiveDate) -> Vec<i32> {
        let mut years = vec![today.year()];
        if today.month() >= 10 {
            years.push(today.year() + 1);
        }
        years.retain(|year| !matches!(self.status(*year), YearStatus::Official { .. }));
        years
    }

    /// How many days after `today` the official schedules reach without a gap: 0 when this
    /// year has none, else up to the 31 December of the last official year in an unbroken run
    /// from this one. Readiness and the `casebridge_calendar_reach_seconds` metric report it.
    pub fn official_days_ahead(&self, today: NaiveDate) -> i64 {
        let official = |year| matches!(self.status(year), YearStatus::Official { .. });
        let mut last = today.year();
        if !official(last) {
            return 0;
        }
        while official(last + 1) {
            last += 1;
        }
        NaiveDate::from_ymd_opt(last, 12, 31).map_or(0, |end| (end - today).num_days())
    }

    /// A digest of `year`'s schedule, provisional or official: stored due times counted on a
    /// year whose digest changed are recomputed.
    pub fn fingerprint(&self, year: i32) -> Option<String> {
        let y = self.years.get(&year)?;
        let digest = Sha256::digest(format!("{y:?}").as_bytes());
        Some(format!(
            "{}:{}",
            if y.provisional {
                "provisional"
            } else {
                "official"
            },
            hex::encode(&digest[..8])
        ))
    }

    /// Every year with a schedule, ascending.
    pub fn years(&self) -> Vec<i32> {
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

/// The calendar a running process counts on, shared by its components and replaced when an
/// official year is installed, without a restart. Clones share the same calendar.
#[derive(Debug, Clone)]
pub struct LiveCalendar {
    current: Arc<RwLock<Arc<Calendar>>>,
    generation: Arc<AtomicU64>,
}

impl LiveCalendar {
    pub fn new(calendar: Calendar) -> LiveCalendar {
        LiveCalendar {
            current: Arc::new(RwLock::new(Arc::new(calendar))),
            generation: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The calendar in force now; hold it for one computation so it cannot change midway.
    pub fn current(&self) -> Arc<Calendar> {
        // A poisoned lock still holds a whole calendar (replace swaps one pointer).
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Puts `calendar` in force; returns the years whose schedule changed.
    pub fn replace(&self, calendar: Calendar) -> Vec<i32> {
        let mut slot = self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let changed: Vec<i32> = slot
            .years()
            .into_iter()
            .chain(calendar.years())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .filter(|year| slot.fingerprint(*year) != calendar.fingerprint(*year))
            .collect();
        if !changed.is_empty() {
            *slot = Arc::new(calendar);
            self.generation.fetch_add(1, Ordering::SeqCst);
        }
        changed
    }

    /// Counts replacements that changed something: a component compares it with the one it saw.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }
}

impl From<Calendar> for LiveCalendar {
    fn from(calendar: Calendar) -> LiveCalendar {
        LiveCalendar::new(calendar)
    }
}

impl From<Arc<Calendar>> for LiveCalendar {
    fn from(calendar: Arc<Calendar>) -> LiveCalendar {
        LiveCalendar::new(Arc::unwrap_or_clone(calendar))
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

/// An instant as the law writes a time limit, in China Standard Time to the minute: a period
/// that ends at midnight ends at 24:00 of its last day (`2026-02-24 24:00`), any other instant
/// is itself (`2026-02-24 18:00`). The console and the CLI both show due times this way.
pub fn law_minute(at: Timestamp) -> String {
    let local = at.to_cst();
    if local.time() == NaiveTime::MIN {
        return format!("{} 24:00", previous_day(local.date_naive()));
    }
    local.format("%Y-%m-%d %H:%M").to_string()
}

/// `date` as written in an explanation: `2026-02-24 (Tue)`.
pub fn describe(date: NaiveDate) -> String {
    date.format("%Y-%m-%d (%a)").to_string()
}

/// `date` as written in a Chinese explanation: `2026-02-24（周二）`.
pub fn describe_zh(date: NaiveDate) -> String {
    let weekday = match date.weekday() {
        Weekday::Mon => "周一",
        Weekday::Tue => "周二",
        Weekday::Wed => "周三",
        Weekday::Thu => "周四",
        Weekday::Fri => "周五",
        Weekday::Sat => "周六",
        Weekday::Sun => "周日",
    };
    format!("{date}（{weekday}）")
}

impl CalendarError {
    /// The error in Chinese, for a Chinese explanation.
    pub fn zh(&self) -> String {
        match self {
            CalendarError::YearNotLoaded { year } => format!(
                "{year}年无可用的节假日安排：请以 `casebridge calendar install {year}.toml` \
                 安装国务院办公厅的节假日安排通知；安装前不计算{year}年的届满时间"
            ),
            CalendarError::Invalid { file, reason } => {
                format!("节假日安排文件{file}有误：{reason}")
            }
        }
    }
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
        assert_eq!(official().official_years(), vec![2025, 2026]);
        assert!(official().is_provisional(2027));
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
    fn a_year_outside_the_statutory_table_is_an_error_naming_the_year() {
        let err = official().day_kind(d("2100-01-04")).unwrap_err();
        assert_eq!(err, CalendarError::YearNotLoaded { year: 2100 });
        assert!(err.to_string().contains("2100.toml"), "{err}");
    }

    #[test]
    fn a_year_without_an_official_schedule_is_counted_on_the_statutory_holidays() {
        let c = official();
        assert_eq!(c.status(2027), YearStatus::Provisional);
        // 除夕 Fri 2027-02-05 to 初三 Mon 02-08, the weekend days made up on Tue and Wed.
        assert!(matches!(
            c.day_kind(d("2027-02-10")),
            Ok(DayKind::Holiday { ref name, .. }) if name.contains("春节")
        ));
        assert_eq!(c.day_kind(d("2027-02-11")), Ok(DayKind::Working));
        // No make-up working day is assumed: every weekend day is a weekend day.
        assert_eq!(c.day_kind(d("2027-02-20")), Ok(DayKind::Weekend));
        assert_eq!(
            c.provisional_years_between(d("2026-12-04"), d("2027-03-01")),
            vec![2027]
        );
        assert!(
            c.provisional_years_between(d("2026-01-04"), d("2026-12-31"))
                .is_empty()
        );
    }

    #[test]
    fn the_next_year_is_missing_from_the_first_of_october() {
        let c = official();
        assert!(c.missing_official(d("2026-09-30")).is_empty());
        assert_eq!(c.missing_official(d("2026-10-01")), vec![2027]);
        assert_eq!(c.missing_official(d("2027-03-01")), vec![2027]);
        assert_eq!(c.missing_official(d("2027-10-01")), vec![2027, 2028]);
    }

    #[test]
    fn the_official_schedules_reach_to_the_end_of_the_last_unbroken_year() {
        let mut c = official();
        assert_eq!(c.official_days_ahead(d("2026-12-31")), 0);
        assert_eq!(c.official_days_ahead(d("2026-12-05")), 26);
        assert_eq!(c.official_days_ahead(d("2025-01-01")), 729);
        assert_eq!(
            c.official_days_ahead(d("2027-03-01")),
            0,
            "no schedule this year"
        );
        c.add_year_toml("2027.toml", FIXTURE_2027).expect("fixture");
        assert_eq!(c.official_days_ahead(d("2026-12-05")), 391);
    }

    pub(crate) const FIXTURE_2027: &str =
        include_str!("../../../services/deadlines/tests/fixtures/2027.toml");

    #[test]
    fn installing_an_official_year_replaces_its_provisional_one() {
        let mut c = official();
        let before = c.fingerprint(2027);
        assert_eq!(c.add_year_toml("2027.toml", FIXTURE_2027), Ok(2027));
        assert!(matches!(c.status(2027), YearStatus::Official { .. }));
        assert_ne!(c.fingerprint(2027), before);
        // The fixture's 调休: Sat 2027-02-20 is a make-up working day.
        assert_eq!(c.day_kind(d("2027-02-20")), Ok(DayKind::MakeUpWorkingDay));
        let again = c.add_year_toml("2027.toml", FIXTURE_2027).unwrap_err();
        assert!(again.to_string().contains("already loaded"), "{again}");
    }

    #[test]
    fn a_live_calendar_reports_the_years_a_replacement_changed() {
        let live = LiveCalendar::new(official());
        assert_eq!(live.replace(official()), Vec::<i32>::new());
        assert_eq!(live.generation(), 0);
        let mut with_2027 = official();
        with_2027.add_year_toml("2027.toml", FIXTURE_2027).unwrap();
        assert_eq!(live.replace(with_2027), vec![2027]);
        assert_eq!(live.generation(), 1);
        assert!(!live.current().is_provisional(2027));
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
    fn a_time_limit_ending_at_midnight_reads_24_00_of_its_last_day() {
        let at = |s: &str| Timestamp::parse_rfc3339(s).expect("time");
        assert_eq!(
            law_minute(at("2026-02-25T00:00:00+08:00")),
            "2026-02-24 24:00"
        );
        assert_eq!(
            law_minute(at("2026-02-24T18:00:00+08:00")),
            "2026-02-24 18:00"
        );
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
        let base = "year = 2026\nsource = \"notice of 2026\"\n";
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
        // A whole year, its 调休 swaps and its notice.
        let partial = Y2026.replace("first = \"2026-10-01\"", "first = \"2026-10-04\"");
        let err = load(&partial).to_string();
        assert!(
            err.contains("国庆节") && err.contains("2026-10-01"),
            "{err}"
        );
        let weekday_swap = Y2026.replace("\"2026-01-04\"", "\"2026-01-05\"");
        assert!(load(&weekday_swap).to_string().contains("is a Mon"));
        let anonymous = Y2026.replace("国务院办公厅关于2026年部分节假日安排的通知", "a notice");
        assert!(
            load(&anonymous)
                .to_string()
                .contains("must name the notice")
        );
    }
}
