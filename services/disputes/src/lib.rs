//! The disputes service: jurisdiction disputes (管辖争议 / 执法争议协调) between agencies,
//! negotiated or ruled on by the coordination office (docs/law.md §3.G).
//!
//! It runs on the case service engine ([`casebridge_platform::cases`]) with the same modules as
//! every family service:
//! - [`api`]: the requests it takes and the replies it gives over the bus.
//! - [`handler`]: [`handler::Disputes`], the family: the core state machine
//!   ([`casebridge_core::dispute::decide`]), how its events read, and its reaction: an
//!   objection to a transfer opens a dispute between the objecting receiver and the sender.
//! - [`store`]: the family's own migrations (none yet: the engine owns the case tables).
//! - [`app`]: the runnable service.
#![forbid(unsafe_code)]

pub mod api;
pub mod app;
pub mod handler;
pub mod store;

/// The service name: its command queue and its tables' prefix.
pub const SERVICE: &str = "disputes";
