//! The CaseBridge platform: everything a service needs that is not law.
//!
//! - [`bus`]: the message bus contract (commands with replies, events on a topic exchange,
//!   at-least-once delivery, ack after commit, dead-lettering) with two implementations:
//!   RabbitMQ through lapin ([`bus::amqp`]) and a durable embedded bus on SQLite ([`bus::embedded`]).
//! - [`store`]: a sqlx pool over PostgreSQL or SQLite, per-service migrations, and the messaging
//!   tables every service shares in shape (idempotency records, outbox, processed messages).
//! - [`cases`]: the case service engine every family service runs on (steps in one
//!   transaction with idempotency and outbox, reads, listings, cross-family reactions).
//! - [`idempotent`]: what every accepted step shares: the idempotency lookup, the signed
//!   receipt on the chain, the reply record.
//! - [`ledger`]: each service's full-process record: a hash chain appended in the step's
//!   transaction, signed checkpoints, signed receipts, verification.
//! - [`reply`]: what every service's reply enum shares, and taking the answer asked for.
//! - [`outbox`]: the relay that publishes committed outbox rows with publisher confirms.
//! - [`host`]: the loops that run a command or event consumer with ack-after-commit.
//! - [`settings`]: one typed settings tree (defaults, file, `CASEBRIDGE__SECTION__KEY` variables).
//! - [`metrics`]: the process's Prometheus metrics; [`admin`]: the plain-HTTP admin port that
//!   serves them with the liveness and readiness probes.
//! - [`telemetry`]: tracing set-up and trace-context propagation through message headers.
//! - `testing` (feature `test-util`, for tests only): helpers for tests (fresh databases,
//!   unique namespaces, `eventually`).
#![forbid(unsafe_code)]

pub mod admin;
pub mod bus;
pub mod cases;
pub mod host;
pub mod idempotent;
pub mod ledger;
pub mod metrics;
pub mod outbox;
pub mod reply;
pub mod settings;
pub mod store;
pub mod telemetry;
#[cfg(feature = "test-util")]
pub mod testing;

pub use bus::{Bus, BusError, Delivery, Message, QueueSpec};
pub use store::{Db, Dialect, StoreError};
