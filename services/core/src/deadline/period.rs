//! What a deadline is made of: the [`Unit`] and [`Period`] a rule gives, and the [`Due`] time
//! counted from it, with its explanation.

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::calendar::{Calendar, provisional_line};
use crate::time::Timestamp;

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
    pub(super) fn counted_from(mut self, calendar: &Calendar, from: NaiveDate) -> Due {
        if let Some(last) = self.last_day {
            self.provisional_years = calendar.provisional_years_between(from, last);
            let lines = self.provisional_years.iter().map(|y| provisional_line(*y));
            self.explanation.extend(lines);
        }
        self
    }

    pub(super) fn concluded(mut self) -> Due {
        self.explanation.push(format!("due {}", self.display_at()));
        self
    }
}

/// `2026-09-30 10:00 CST`.
pub fn cst_minute(at: Timestamp) -> String {
    at.to_cst().format("%Y-%m-%d %H:%M CST").to_string()
}
