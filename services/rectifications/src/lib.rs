//! The rectifications service: rectification requests (整改通知) from a body that supervises
//! enforcement to an administrative agency, and the rectification reports (整改报告) they are owed
//! (docs/law.md §3.J).
//!
//! It runs on the case service engine ([`casebridge_platform::cases`]) with the same modules as
//! every family service:
//! - [`api`]: the requests it takes and the replies it gives over the bus.
//! - [`handler`]: [`handler::Rectifications`], the family: the core state machine
//!   ([`casebridge_core::rectification::decide`]), how its events read, and the reaction to a
//!   missed report (`RECT-REPORT`).
//! - [`store`]: the family's own migrations (none yet: the engine owns the case tables).
//! - [`app`]: the runnable service.
#![forbid(unsafe_code)]

pub mod api;
pub mod app;
pub mod handler;
pub mod store;

/// The service name: its command queue and its tables' prefix.
pub const SERVICE: &str = "rectifications";
