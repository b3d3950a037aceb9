//! The referrals service: criminal referrals (涉嫌犯罪案件移送) from administrative agencies to
//! the police, copied to the procuratorate.
//!
//! Every family service has the same modules, so knowing one means knowing all:
//! - [`api`]: the requests and replies it takes over the bus (shared with the gateway).
//! - [`store`]: its tables and their migrations.
//! - [`handler`]: applies a request: idempotency check, the core state machine
//!   ([`casebridge_core::referral::decide`]), then state + idempotency record + outbox in one
//!   transaction; the reply is sent only after commit.
//! - [`app`]: wires the command consumer and the outbox relay into a runnable service.
#![forbid(unsafe_code)]

pub mod api;
pub mod app;
pub mod handler;
pub mod store;

/// The service name: its command queue and its tables' prefix.
pub const SERVICE: &str = "referrals";
