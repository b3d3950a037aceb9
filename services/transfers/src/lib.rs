//! The transfers service: case transfers between administrative agencies (行政执法案件移送),
//! with receipt, acceptance or objection, and outcome feedback (docs/law.md §3.F).
//!
//! It runs on the case service engine ([`casebridge_platform::cases`]) with the same modules as
//! every family service:
//! - [`api`]: the requests it takes and the replies it gives over the bus.
//! - [`handler`]: [`handler::Transfers`], the family: the core state machine
//!   ([`casebridge_core::transfer::decide`]), how its events read, and its reactions: a referral
//!   handed back by the police opens a transfer; a designation or an agreement in a dispute
//!   restarts the transfer it was about.
//! - [`store`]: the family's own migrations (none yet: the engine owns the case tables).
//! - [`app`]: the runnable service.
#![forbid(unsafe_code)]

pub mod api;
pub mod app;
pub mod handler;
pub mod store;

/// The service name: its command queue and its tables' prefix.
pub const SERVICE: &str = "transfers";
