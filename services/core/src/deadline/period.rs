//! What a deadline is made of: the [`Unit`] and [`Period`] a rule gives, and the [`Due`] time
//! counted from it, with its explanation.

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::calendar::{Calendar, provisional_line, provisional_line_zh};
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
    /// The unit's English name, plural: `working days`.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Hours => "hours",
            Unit::CalendarDays => "calendar days",
            Unit::WorkingDays => "working days",
        }
    }

    /// The unit's Chinese name as it follows a number: `小时`, `日`, `个工作日` (`3个工作日`).
    pub fn as_zh(self) -> &'static str {
        match self {
            Unit::Hours => "小时",
            Unit::CalendarDays => "日",
            Unit::WorkingDays => "个工作日",
        }
    }

    /// The unit as a way of counting, in Chinese: `按工作日` (as in `按工作日计算`).
    pub fn counted_zh(self) -> &'static str {
        match self {
            Unit::Hours => "按小时",
            Unit::CalendarDays => "按自然日",
            Unit::WorkingDays => "按工作日",
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
    /// `amount` of `unit`.
    pub fn new(amount: u32, unit: Unit) -> Period {
        Period { amount, unit }
    }

    /// The period in Chinese: `3日`, `15个工作日`, `24小时` (the English is its `Display`).
    pub fn zh(&self) -> String {
        format!("{}{}", self.amount, self.unit.as_zh())
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

/// One line of a due-time explanation, in English and in Chinese (简体中文): the same fact,
/// with the same dates (ISO), amounts and names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// The line in English.
    pub en: String,
    /// The same line in Chinese.
    pub zh: String,
}

impl Line {
    /// A line from its English and its Chinese.
    pub fn new(en: impl Into<String>, zh: impl Into<String>) -> Line {
        Line {
            en: en.into(),
            zh: zh.into(),
        }
    }

    /// Lines as the two parallel lists the wire carries: English, then Chinese.
    pub fn split(lines: Vec<Line>) -> (Vec<String>, Vec<String>) {
        lines.into_iter().map(|l| (l.en, l.zh)).unzip()
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
    /// The same ledger in Chinese (简体中文), line for line.
    #[serde(default)]
    pub explanation_zh: Vec<String>,
    /// The years without an official schedule the count walked through, counted on the
    /// statutory holidays (docs/law.md §2): such a due time is provisional, and is recomputed when
    /// the official schedule is installed. Empty for hours and for official years.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provisional_years: Vec<i32>,
}

impl Due {
    /// A due time explained by `lines`.
    pub(super) fn explained(at: Timestamp, last_day: Option<NaiveDate>, lines: Vec<Line>) -> Due {
        let (explanation, explanation_zh) = Line::split(lines);
        Due {
            at,
            last_day,
            explanation,
            explanation_zh,
            provisional_years: Vec::new(),
        }
    }

    /// The ledger as lines in both languages.
    pub fn lines(&self) -> Vec<Line> {
        self.explanation
            .iter()
            .zip(&self.explanation_zh)
            .map(|(en, zh)| Line::new(en.clone(), zh.clone()))
            .collect()
    }

    /// Adds `line` at the end of the ledger.
    pub fn push(&mut self, line: Line) {
        self.explanation.push(line.en);
        self.explanation_zh.push(line.zh);
    }

    /// Puts `line` first in the ledger.
    pub fn push_front(&mut self, line: Line) {
        self.explanation.insert(0, line.en);
        self.explanation_zh.insert(0, line.zh);
    }

    /// The due time as people write it: `2026-02-24 24:00 CST`.
    pub fn display_at(&self) -> String {
        match self.last_day {
            Some(day) => format!("{day} 24:00 CST"),
            None => cst_minute(self.at),
        }
    }

    /// The due time in Chinese: `2026-02-24 24:00（北京时间）`.
    pub fn display_at_zh(&self) -> String {
        match self.last_day {
            Some(day) => format!("{day} 24:00（北京时间）"),
            None => cst_minute_zh(self.at),
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
            for year in self.provisional_years.clone() {
                self.push(Line::new(provisional_line(year), provisional_line_zh(year)));
            }
        }
        self
    }

    pub(super) fn concluded(mut self) -> Due {
        let line = Line::new(
            format!("due {}", self.display_at()),
            format!("期限届满：{}", self.display_at_zh()),
        );
        self.push(line);
        self
    }
}

/// `2026-09-30 10:00 CST`.
pub fn cst_minute(at: Timestamp) -> String {
    at.to_cst().format("%Y-%m-%d %H:%M CST").to_string()
}

/// `2026-09-30 10:00（北京时间）`: [`cst_minute`] in Chinese.
pub fn cst_minute_zh(at: Timestamp) -> String {
    at.to_cst().format("%Y-%m-%d %H:%M（北京时间）").to_string()
}
