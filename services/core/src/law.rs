//! The deadline law a state machine consults: the legal calendar and the rule table.
//!
//! Family state machines use it for the **check** rules of DOMAIN §3 (a limit on a step whose
//! start the machine knows, such as S1-5b from the report or S1-9a from the non-filing notice):
//! a late step is accepted and flagged, never refused. Timers (obligations, warnings,
//! escalations) are the deadlines service's business, on the same calendar and table.

use crate::calendar::Calendar;
use crate::deadline::{RuleTable, rule_due};
use crate::time::Timestamp;

/// The calendar and the rule table, loaded once at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Law {
    pub calendar: Calendar,
    pub rules: RuleTable,
}

impl Law {
    /// The due time of `rule` counted from `start`, or `None` when the rule is unknown, has no
    /// period, or the calendar does not cover the year it falls in (never guessed).
    pub fn due(&self, rule: &str, start: Timestamp) -> Option<Timestamp> {
        let rule = self.rules.get(rule)?;
        // A year without calendar data cannot be judged: no flag rather than a guess (the
        // deadlines service warns about the missing year at start-up).
        rule_due(&self.calendar, rule, start)
            .ok()
            .flatten()
            .map(|due| due.due.at)
    }

    /// `Some(due)` when a step taken at `at` under `rule` started at `start` is late.
    pub fn late(&self, rule: &str, start: Timestamp, at: Timestamp) -> Option<Timestamp> {
        self.due(rule, start).filter(|due| at > *due)
    }
}

/// The holiday schedules shipped in `deploy/calendars` (DOMAIN.md §2).
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

/// The deadline rule table shipped in `deploy/rules.toml` (DOMAIN.md §3 defaults).
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
        Ok(Law {
            calendar: Calendar::from_toml_files(SHIPPED_CALENDARS.iter().copied())?,
            rules: RuleTable::from_toml_str(SHIPPED_RULES)?,
        })
    }
}
