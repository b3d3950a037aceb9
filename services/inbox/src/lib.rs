//! The inbox service: per-agency delivery of notices with a resumable cursor.
//!
//! It consumes every family's events, and for each notice appends one entry per recipient to
//! that agency's inbox, numbering entries 1, 2, 3… per agency. Deduplication by message id
//! makes redelivery harmless, so each notice lands in each inbox exactly once. Agencies read
//! after a cursor and acknowledge up to one; after each commit a wake-up event
//! (`inbox.appended.<agency>`) lets gateways push new entries at once.
//!
//! The same transaction also appends each exported event once to the export feed (`export`,
//! docs/export.md): one global, increasing position per line, read by cursor by supervision
//! platforms.
//!
//! Modules, the same as every service: [`api`], [`store`], [`handler`], [`app`], and
//! [`export`] (which events the feed carries, and their lines).
#![forbid(unsafe_code)]

pub mod api;
pub mod app;
pub mod export;
pub mod handler;
pub mod store;

/// The service name: its queues and its tables' prefix.
pub const SERVICE: &str = "inbox";
