//! The deadline law a state machine consults: the legal calendar and the rule table.
//!
//! Family state machines use it for the **check** rules of docs/law.md §3 (a limit on a step whose
//! start the machine knows, such as S1-5b from the report or S1-9a from the non-filing notice):
//! a late step is accepted and flagged, never refused. Timers (obligations, warnings,
//! escalations) are the deadlines service's business, on the same calendar and table.

use crate::calendar::{Calendar, LiveCalendar};
use crate::deadline::{RuleTable, rule_due};
use crate::time::Timestamp;

/// The calendar and the rule table. The rule table is loaded once at start-up; the calendar is
/// live, so an installed official year is in force without a restart.
#[derive(Debug, Clone)]
pub struct Law {
    pub calendar: LiveCalendar,
    pub rules: RuleTable,
}

impl Law {
    pub fn new(calendar: Calendar, rules: RuleTable) -> Law {
        Law {
            calendar: LiveCalendar::new(calendar),
            rules,
        }
    }

    /// The due time of `rule` counted from `start`, or `None` when the rule is unknown or has
    /// no period. A year without an official schedule is counted provisionally (docs/law.md §2);
    /// only a year outside the statutory table (after 2099) gives `None`, never a guess.
    pub fn due(&self, rule: &str, start: Timestamp) -> Option<Timestamp> {
        let rule = self.rules.get(rule)?;
        rule_due(&self.calendar.current(), rule, start)
            .ok()
            .flatten()
            .map(|due| due.due.at)
    }

    /// `Some(due)` when a step taken at `at` under `rule` started at `start` is late.
    pub fn late(&self, rule: &str, start: Timestamp, at: Timestamp) -> Option<Timestamp> {
        self.due(rule, start).filter(|due| at > *due)
    }
}

/// The holiday schedules shipped in `deploy/calendars` (docs/law.md §2).
pub const SHIPPED_CALENDARS: &[(&str, &str)] = &[
    (
        "2025.toml",
        include_str!("../../../deploy/calendars/2025.toml"),
    ),
    (
        "2026.toml",
        include_str!("../../../deploy/calendars/2026.toml"),
    ),
];

/// The deadline rule table shipped in `deploy/rules.toml` (docs/law.md §3 defaults).
pub const SHIPPED_RULES: &str = include_str!("../../../deploy/rules.toml");

/// Why the law could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LawError {
    #[error(transparent)]
    Calendar(#[from] crate::calendar::CalendarError),
    #[error(transparent)]
    Rules(#[from] crate::deadline::RuleError),
}

impl Law {
    /// The calendars and the rule table shipped with CaseBridge.
    pub fn shipped() -> Result<Law, LawError> {
        Ok(Law::new(
            Calendar::from_toml_files(SHIPPED_CALENDARS.iter().copied())?,
            RuleTable::from_toml_str(SHIPPED_RULES)?,
        ))
    }
}
