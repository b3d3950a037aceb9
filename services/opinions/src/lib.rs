//! The opinions service: expert-opinion and assistance requests (认定、检验、鉴定 / 协助调查)
//! to competent departments (docs/law.md §3.H).
//!
//! It runs on the case service engine ([`casebridge_platform::cases`]) with the same modules as
//! every family service:
//! - [`api`]: the requests it takes and the replies it gives over the bus.
//! - [`handler`]: [`handler::Opinions`], the family: the core state machine
//!   ([`casebridge_core::opinion::decide`]), how its events read; every event names the
//!   case the request was made under, so the deadlines service stops and restarts its clock.
//! - [`store`]: the family's own migrations (none yet: the engine owns the case tables).
//! - [`app`]: the runnable service.
#![forbid(unsafe_code)]

pub mod api;
pub mod app;
pub mod handler;
pub mod store;

/// The service name: its command queue and its tables' prefix.
pub const SERVICE: &str = "opinions";
