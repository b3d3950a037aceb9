//! The should-have-been-referred warning (移送预警): what follows when a penalty record meets a
//! threshold and no referral was made for the same matter.
//!
//! The agency is warned at once. If it has not referred when the period `raise_after` has
//! passed, the warning goes to the procuratorate copied on its region's referrals and to its
//! supervisor, with every hit: the rule, the figure, the threshold and the source. The
//! procuratorate may give its opinion that the case be referred (检察意见 / 建议移送,
//! 高检发释字〔2001〕4号 item 12, which names "以行政处罚代替刑事追究而不移送的"), which opens an
//! obligation on the agency due after `answer_within`: refer, or explain in writing why not (the
//! decision not to refer, recorded as a referral case, S1 Art 5). A miss is escalated: the
//! `escalated` event is what the deadlines service acts on. The procuratorate may instead close
//! the warning with its reasons. A referral for the same matter closes the warning at any
//! point; late answers are recorded as late, never refused (docs/law.md §3 cross-cutting).
//!
//! Whether a referral for the same matter already exists is for the service to check before it
//! opens a warning; a referral made afterwards is linked with `link_referral`. Both periods are
//! settings ([`crate::screening::ScreeningPolicy`]): no source we have read fixes them
//! (docs/screening.md).
//!
//! Status flow:
//! ```text
//! open → agency_warned ─raise_warning (after raise_after)→ warning_raised
//!        agency_warned ─clear (a correction meets nothing)→ warning_cleared
//!        warning_raised ─suggest_referral→ referral_suggested ─mark_overdue (after answer_within)→ answer_overdue
//!        warning_raised ─close→ warning_closed
//!        referral_suggested | answer_overdue ─explain→ non_referral_explained
//!        any open status ─link_referral→ referral_linked
//! ```
//!
//! Where things are (each module builds only on the ones above it):
//! - `status`: [`WarningStatus`] and the [`Step`] names.
//! - `command`: [`Opening`], [`OpinionGround`] and [`WarningCommand`].
//! - `state`: the [`EarlyWarning`] and the [`ProcuratorialOpinion`].
//! - `events`: [`WarningEventKind`], [`WarningEvent`] and the [`Decision`] returned.
//! - `decide`: the [`PERMISSIONS`] table, the [`Context`] and [`decide()`].

mod command;
mod decide;
mod events;
mod state;
mod status;

pub use command::{Opening, OpinionGround, WarningCommand};
pub use decide::{By, Context, PERMISSIONS, Permission, decide, permission};
pub use events::{Decision, WarningEvent, WarningEventKind};
pub use state::{EarlyWarning, ProcuratorialOpinion};
pub use status::{Step, WarningStatus};

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
