//! Penalty-case screening (有案必录、够罪必移, docs/screening.md): the penalty-case records an
//! administrative agency keeps, the threshold table that says when such a case is suspected to
//! be a crime, the screening of a record against it, and the warning that follows a hit.
//!
//! Nothing here does I/O: the rule file is read by the caller and given as text, the clock is
//! the `now` each function takes.
//!
//! Where things are:
//! - `amount`: [`Amount`] (money, exact to the fen) and [`Number`] (quantities), never floats.
//! - `measure`: the [`Measure`]s thresholds read, a record's [`Measures`] and a [`Value`].
//! - `record`: the [`PenaltyCase`] (行政处罚案件信息) and its versioned [`PenaltyRecord`]: a
//!   correction is a new [`RecordVersion`] that supersedes the last, never an overwrite.
//! - `table`: the [`ThresholdTable`] of `deploy/thresholds.toml` and its [`ThresholdRule`]s.
//! - `screen`: [`screen()`], which returns the [`Hit`]s of a case.
//! - `policy`: the [`ScreeningPolicy`] settings and their defaults.
//! - [`warning`]: the early-warning state machine, [`warning::decide`].
//! - [`file`]: the [`file::PenaltyFile`], one case of the `penalty` family: the record, its
//!   screening and its warnings, decided by [`file::decide`].

mod amount;
pub mod file;
mod measure;
mod policy;
pub(crate) mod record;
mod screen;
mod table;
pub mod warning;

pub use amount::{Amount, AmountError, Number};
pub use measure::{Measure, Measures, Quantity, Value};
pub use policy::{ANSWER_RULE, RAISE_RULE, ScreeningPolicy};
pub use record::{
    Correction, PenaltyCase, PenaltyDecision, PenaltyRecord, RECORD_BASIS, RecordVersion,
    ViolationType,
};
pub use screen::{Hit, screen};
pub use table::{Offence, TableStamp, Threshold, ThresholdError, ThresholdRule, ThresholdTable};

/// The threshold table shipped in `deploy/thresholds.toml`.
pub const SHIPPED_THRESHOLDS: &str = include_str!("../../../deploy/thresholds.toml");

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
