//! The CaseBridge gateway: the only edge. A tonic gRPC server with mutual TLS, where the client
//! certificate names the calling agency. It converts wire messages to domain commands (refusing
//! bad input with field-level errors), asks the owning service over the bus, and streams each
//! agency's inbox. It holds no case state, so any number of gateways can run side by side.
//!
//! Modules:
//! - [`app`]: build (bind) and run; health and reflection services.
//! - `auth`: the calling agency from the verified client certificate.
//! - `convert`: wire ⇄ domain, with field violations.
//! - `error`: the one map from failures to gRPC statuses.
//! - `referrals`, `inbox`, `directory`, `monitor`: the `casebridge.v1` services (`monitor` serves
//!   both `MonitorService` and `DeadlineService`, answered by the deadlines service).
//! - [`pki`]: the development certificate authority and agency certificates.
#![forbid(unsafe_code)]

pub mod app;
mod auth;
mod convert;
mod directory;
mod error;
mod inbox;
mod monitor;
pub mod pki;
mod referrals;

pub use app::{Gateway, GatewayConfig, StartError, TlsMaterial};
