//! Legal deadlines: counting periods on the legal calendar, the rule table, and obligations
//! with their pauses and extensions (docs/law.md §2 and the rule ids of §3).
//!
//! Counting [V S7 Art 105; S8 Art 85; S9 Arts 200–204; S4 Arts 80, 84]:
//! - **hours** are clock time from the trigger, never extended over holidays (docs/law.md §4 q4:
//!   the default, unverified);
//! - **calendar days**: the start day is not counted; a last day that is not a working day
//!   moves to the next working day; the period ends at 24:00 China Standard Time;
//! - **working days** (工作日): only working days count, from the day after the trigger.
//!
//! Pauses keep the time used [V S4 Arts 18, 64; S15 Art 28]: the days counted before the clock
//! stopped stay used, and the rest is counted on from the day it restarts, in the period's own
//! unit. Extensions lengthen the period [V S4 Arts 45, 64; V2 S16, S17]: the whole lengthened
//! period is counted from the start, so a holiday roll of the old last day is not compounded.
//!
//! Every [`Due`] carries an explanation a person can check, line by line, in English and in
//! Chinese ([`Line`]).
//!
//! Where things are:
//! - `period`: [`Unit`], [`Period`] and the explained [`Due`] time.
//! - `counting`: [`compute_due`] and [`rule_due`], counting on the legal calendar.
//! - `rules`: the [`RuleTable`] and its [`Rule`]s.
//! - `obligation`: [`Obligation`], with its pauses and extensions, due time and warning time.
//! - `extension`: [`Obligation::extend`] and [`Obligation::announce`], and [`ExtensionRefusal`].
//! - `supervision`: who hears of a missed deadline ([`resolve_supervisor`]) and the start-up
//!   check that someone always does ([`check_supervision`]).

mod counting;
mod events;
mod extension;
mod obligation;
mod period;
mod rules;
mod supervision;

pub use counting::{RuleDue, compute_due, rule_due};
pub use events::{event_in_chinese, event_zh};
pub use extension::{ExtensionRefusal, describe_tiers};
pub use obligation::{Extension, ExtensionTarget, Obligation, ObligationError, Pause};
pub use period::{Due, Line, Period, Unit, cst_minute, cst_minute_zh};
pub use rules::{Rule, RuleError, RuleKind, RuleTable, Supervisor, Timing, basis_zh};
pub use supervision::{
    SupervisionError, SupervisionGap, Unresolved, check_supervision, owing_kinds,
    require_supervisors, resolve_supervisor, supervisor_for,
};

#[cfg(test)]
mod tests;

#[cfg(test)]
mod docs_tests;

#[cfg(test)]
mod zh_tests;
