//! The settings of screening and the early warning. No source we have read fixes any of these
//! periods, so each is a setting with a documented default (docs/screening.md, "Settings").

use serde::{Deserialize, Serialize};

use crate::deadline::{Period, RuleTable, Unit};

/// How long things may take, per deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScreeningPolicy {
    /// Within how long of the penalty decision a case must be recorded. No source fixes one:
    /// `None` (the default) sets none, and no record is marked late.
    pub entry_within: Option<Period>,
    /// How long the agency alone is warned before the warning goes to the procuratorate
    /// (移送预警) [U]. Default 5 working days: time for the agency head's decision (3 days, S1
    /// Art 5) and the referral within 24 hours after it, with a margin.
    pub raise_after: Period,
    /// How long the agency has to refer, or to explain in writing why not, after the
    /// procuratorate's opinion that the case be referred [U: the 2021 procuratorate rules, S19,
    /// unread]. Default 10 working days.
    pub answer_within: Period,
}

impl Default for ScreeningPolicy {
    fn default() -> Self {
        ScreeningPolicy {
            entry_within: None,
            raise_after: Period::new(5, Unit::WorkingDays),
            answer_within: Period::new(10, Unit::WorkingDays),
        }
    }
}

/// The rule whose period is [`ScreeningPolicy::raise_after`] (`deploy/rules.toml`).
pub const RAISE_RULE: &str = "WARN-RAISE";
/// The rule whose period is [`ScreeningPolicy::answer_within`].
pub const ANSWER_RULE: &str = "WARN-ANSWER";

impl ScreeningPolicy {
    /// The policy the deadline rule table sets: its [`RAISE_RULE`] and [`ANSWER_RULE`] periods
    /// (the defaults where the table lacks them), so the due times a warning records are the
    /// ones its obligations are counted to. The entry period is a setting of its own.
    pub fn from_rules(rules: &RuleTable, entry_within: Option<Period>) -> ScreeningPolicy {
        let defaults = ScreeningPolicy::default();
        let period = |id: &str| rules.get(id).and_then(|rule| rule.period);
        ScreeningPolicy {
            entry_within,
            raise_after: period(RAISE_RULE).unwrap_or(defaults.raise_after),
            answer_within: period(ANSWER_RULE).unwrap_or(defaults.answer_within),
        }
    }
}
