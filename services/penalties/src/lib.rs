//! The penalties service: penalty-case records (行政处罚案件信息), their screening against the
//! threshold table, and the early warning (移送预警) that follows a record that met a criminal
//! threshold and was not referred (docs/screening.md).
//!
//! It runs on the case service engine ([`casebridge_platform::cases`]) with the same modules as
//! every family service:
//! - [`api`]: the requests it takes and the replies it gives over the bus.
//! - [`handler`]: [`handler::Penalties`], the family: the core state machine
//!   ([`casebridge_core::screening::file::decide`]) with the threshold table and the periods of
//!   the deadline rules `WARN-RAISE` and `WARN-ANSWER`; it reacts to those rules' misses by
//!   raising the warning and by recording the agency's answer as overdue.
//! - [`store`]: the family's own table (the threshold table the open records were screened
//!   under); the engine owns the case tables.
//! - [`rescreen`]: at start-up, the open records screened again when the threshold table changed.
//! - [`app`]: the runnable service.
#![forbid(unsafe_code)]

pub mod api;
pub mod app;
pub mod handler;
pub mod rescreen;
pub mod store;

/// The service name: its command queue and its tables' prefix.
pub const SERVICE: &str = "penalties";
