//! Criminal referral (涉嫌犯罪案件移送): an administrative agency refers a suspected crime to the
//! police organ, copying the procuratorate, and the referral runs its whole chain: receipt,
//! materials, forwarding, return as outside police remit, the filing decision, hand-over of
//! seized items after filing, reconsideration of non-filing, the procuratorate's filing
//! supervision (立案监督), transfer or withdrawal after filing, and hand-back for administrative
//! handling (反向衔接).
//!
//! Sources: 国务院令第310号 (S1, rev. 2020) Arts 3–13; 公安机关办理刑事案件程序规定 (S2)
//! Arts 180–189; 人民检察院刑事诉讼规则 (S5) Arts 557–564. See docs/law.md §3.A.
//!
//! [`decide()`] is a pure function: it checks one command against the current referral and returns
//! the next referral and the events to deliver, or a [`Rejection`](crate::case::Rejection). Who may take which step in
//! which status is the authorization table's ([`crate::authz`]). Timers (obligations, warnings,
//! escalations) are the deadlines service's; the **check** rules whose start the referral knows
//! (S1-5b, S1-5c, S1-7, P180-2a, P180-3, S1-9a, S1-9c, P184, P189, S1-13) are judged here, and a
//! late step is accepted and flagged, never refused (docs/law.md §3 cross-cutting).
//!
//! Status flow:
//! ```text
//! submit → submitted ─sign_receipt→ received ─file→ filed ─hand_over_items (side step)
//!              ▲                        │  │ ─decline→ declined ─request_reconsideration→ reconsideration_requested
//!              └──────forward───────────┘  │                     ─suggest_supervision→ supervision_suggested
//!   received ─request_supplement→ awaiting_supplement ─supplement→ received
//!   received ─return_not_police_matter→ returned_not_police_matter
//!   declined | supervision_suggested ─request_reasons→ reasons_requested ─give_reasons→ reasons_given
//!   reasons_given ─tell_agency→ supervision_closed;  ─notify_filing→ filing_notified ─file→ filed
//!   filed ─transfer_case→ transferred_elsewhere;  ─withdraw_case→ withdrawn
//!   declined | supervision_closed | filed | withdrawn ─hand_back→ handed_back
//! ```
//!
//! Where things are (each module builds only on the ones above it):
//! - `status`: [`ReferralStatus`] and the [`Step`] names.
//! - `command`: what the parties send: [`Submission`], [`NonReferral`], [`ReferralCommand`].
//! - `state`: the [`Referral`] as it stands, with its [`Flag`]s.
//! - `events`: [`ReferralEventKind`], [`ReferralEvent`] and the [`Decision`] returned.
//! - `context`: what [`decide()`] consults: [`Context`] and the tunable [`ReferralPolicy`].
//! - `checks`: what the steps share: the outcome being recorded and the late-step check.
//! - `open`: submission and the record of a non-referral (S1 Arts 5–6).
//! - `review`: the police review up to the filing decision (S1 Arts 7–8; S2 Art 180).
//! - `supervision`: reconsideration and the procuratorate's filing supervision (S1 Art 9; S5).
//! - `after_filing`: seized items, transfer, withdrawal and hand-back (S1 Arts 12–13; S2).
//! - `decide`: [`decide()`], which checks actor and authorization and runs the step.

mod after_filing;
mod checks;
mod command;
mod context;
mod decide;
mod events;
mod open;
mod review;
mod state;
mod status;
mod supervision;

pub use command::{NonReferral, ReconsiderationOutcome, ReferralCommand, Submission};
pub use context::{Context, ReferralPolicy};
pub use decide::decide;
pub use events::{Decision, ReferralEvent, ReferralEventKind};
pub use state::{Flag, NonReferralDecision, Referral};
pub use status::{ReferralStatus, Step};
// The package's documents and the parties, re-exported where the referral names them.
pub use crate::document::{Document, DocumentKind, Party};

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may panic on broken fixtures
mod tests;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod chain_tests;
