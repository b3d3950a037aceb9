//! Case transfer between administrative agencies (行政执法案件移送): an agency that finds a case
//! outside its jurisdiction sends it, with its evidence and the grounds of the receiver's
//! jurisdiction, to the competent agency; the receiver acknowledges it, then opens a case (立案),
//! decides not to open one (不予立案) or objects to jurisdiction, and later reports the outcome
//! back (办理情况反馈).
//!
//! Sources: 行政处罚法 (S3) Arts 22–27, 57, 60; 市场监督管理行政处罚程序规定 (S4) Arts 13–18, 20,
//! 23, 64; notices/003 (urgent cases, feedback); notices/000 二 (suspension). See docs/law.md §3.F.
//!
//! An objecting receiver may not pass the case on (S4 Art 14, rule F2): the transfer has no
//! forwarding step, a new transfer that continues one the sender had objected to is refused,
//! and the objection itself opens a jurisdiction dispute (the disputes service reacts to
//! `transfer.objected`). The dispute's designation, binding on all (S4 Art 16), restarts the
//! transfer to the designated agency, which can then no longer object. A criminal referral
//! handed back by the police (反向衔接, S1 Art 13) arrives as a new transfer from the police.
//!
//! A receiver that decides not to open a case (不予立案, S4 Arts 18, 20) gives its reasons, which
//! go back to the sender (notices/003: 办理情况反馈). The sender may contest the decision: the
//! disputes service reacts to `transfer.decline_contested` as to an objection, with the sender
//! raising the dispute, so the coordination office rules; its designation restarts the transfer
//! as after an objection, and the designated receiver can then neither object nor decline.
//!
//! An opened case may be suspended (中止) with the reason and the approving document, and resumed
//! (S4 Art 64; notices/000 二): the time in between does not count towards the outcome report
//! (APL-60). Suspension is a step on an opened case only: before 立案 there is no case to
//! suspend, and S4 Art 18 leaves only testing out of the decision's 15 working days (SAMR-18).
//!
//! Status flow:
//! ```text
//! send | hand_back → sent ─sign_receipt→ received ─accept→ accepted ─report_outcome→ outcome_reported
//!                                                          accepted ─suspend→ suspended ─resume→ accepted
//!                     sent | received ─object→ objected ─restart (designation)→ sent
//!                     sent | received ─decline→ declined ─contest_decline→ decline_contested
//!                                                          decline_contested ─restart (designation)→ sent
//! ```
//!
//! Where things are (each module builds only on the ones above it):
//! - `status`: [`TransferStatus`] and the [`Step`] names.
//! - `command`: what the parties send: [`Sending`], [`HandedBack`], [`TransferCommand`].
//! - `state`: the [`Transfer`] as it stands, with its [`Suspension`].
//! - `events`: [`TransferEventKind`], [`TransferEvent`] and the [`Decision`] returned.
//! - `open`: sending and hand-back by the police, the steps that open a transfer.
//! - `decide`: [`decide()`], which checks actor and authorization and takes every later step.

mod command;
mod decide;
mod events;
mod open;
mod state;
mod status;

pub use command::{HandedBack, Sending, TransferCommand};
pub use decide::decide;
pub use events::{Decision, TransferEvent, TransferEventKind};
pub use state::{Suspension, Transfer};
pub use status::{Step, TransferStatus};

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
