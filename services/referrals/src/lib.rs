//! The referrals service: criminal referrals (涉嫌犯罪案件移送) from administrative agencies to
//! the police, copied to the procuratorate, through their whole chain (docs/law.md §3.A).
//!
//! It runs on the case service engine ([`casebridge_platform::cases`]), like every family
//! service, and has the same modules as each of them:
//! - [`api`]: the requests it takes and the replies it gives over the bus (shared with the
//!   gateway).
//! - [`handler`]: [`handler::Referrals`], the family: the core state machine
//!   ([`casebridge_core::referral::decide`]) and how its events read to people.
//! - [`store`]: the family's own migrations (the engine owns the case tables).
//! - [`app`]: the runnable service.
#![forbid(unsafe_code)]

pub mod api;
pub mod app;
pub mod handler;
pub mod store;

/// The service name: its command queue and its tables' prefix.
pub const SERVICE: &str = "referrals";
