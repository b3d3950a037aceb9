//! The leads service: leads between agencies (线索互告) about a possible violation in the
//! receiver's remit (notices/000 三, docs/law.md §3.I).
//!
//! It runs on the case service engine ([`casebridge_platform::cases`]) with the same modules as
//! every family service:
//! - [`api`]: the requests it takes and the replies it gives over the bus.
//! - [`handler`]: [`handler::Leads`], the family: the core state machine
//!   ([`casebridge_core::lead::decide`]) and how its events read.
//! - [`store`]: the family's own migrations (none yet: the engine owns the case tables).
//! - [`app`]: the runnable service.
#![forbid(unsafe_code)]

pub mod api;
pub mod app;
pub mod handler;
pub mod store;

/// The service name: its command queue and its tables' prefix.
pub const SERVICE: &str = "leads";
