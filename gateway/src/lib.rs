//! The CaseBridge gateway: the only edge. A tonic gRPC server with mutual TLS, where the client
//! certificate names the calling agency. It converts wire messages to domain commands (refusing
//! bad input with field-level errors), asks the owning service over the bus, and streams each
//! agency's inbox. It holds no case state, so any number of gateways can run side by side.
//!
//! Modules:
//! - [`app`]: the composition root: build (bind) and run every endpoint; health and reflection.
//! - `context`: what the endpoints and the console share (the `Context` they ask services
//!   through, TLS material, evidence settings, start-up errors); they import it, never `app`.
//! - `auth`: the calling agency from the verified client certificate.
//! - `convert`: wire ⇄ domain, with field violations.
//! - `error`: the one map from failures to gRPC statuses.
//! - `cases`: what every family's endpoints share, and the case timeline (`CaseService`).
//! - `referrals`, `transfers`, `disputes`, `opinions`, `penalties`, `leads`, `rectifications`:
//!   the seven families' services (`penalties`: penalty-case records and their early warnings,
//!   docs/screening.md; `leads`: leads between agencies, 线索互告; `rectifications`:
//!   rectification requests and reports, 整改).
//! - `inbox`, `directory`: the agency's inbox, the directory.
//! - `export`: the export feed for supervision platforms (`ExportService`, docs/export.md),
//!   answered by the inbox service.
//! - `monitor`: `MonitorService` and `DeadlineService`, answered by the deadlines service.
//! - `evidence`: chunked evidence upload and download straight to and from object storage,
//!   and the check that documents name only files the caller uploaded or may read.
//! - `tls`, [`limits`]: the gRPC port's TLS acceptor (revoked and unknown certificates refused
//!   in the handshake) and the caps on connections both ports keep.
//! - [`pki`]: the development certificate authority and agency certificates.
//! - [`console`]: the web console for people (overdue board, timelines, dispute and referral
//!   desks, statistics), on its own HTTPS listener, calling the endpoints above in-process.
#![forbid(unsafe_code)]

pub mod app;
mod auth;
mod cases;
pub mod console;
mod context;
mod convert;
mod directory;
mod disputes;
mod error;
mod evidence;
mod export;
mod inbox;
mod leads;
pub mod limits;
mod monitor;
mod observe;
mod opinions;
mod penalties;
pub mod pki;
mod rectifications;
mod referrals;
mod tls;
mod transfers;
pub mod trust;

pub use app::{CALENDAR_HEALTH, Gateway, GatewayConfig};
pub use console::ConsoleConfig;
pub use context::{EvidenceConfig, StartError, TlsMaterial};
pub use limits::Caps;

/// The wire-to-domain conversions every endpoint runs before it asks a service, reachable for
/// the fuzz targets in `fuzz/` (docs/security.md, "Fuzzing"). Not an API: nothing else may use it.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::convert::monitor::{extension, obligation_query, report, statistics_period};
    pub use crate::convert::{
        Converted, Violations, case_id, disputes, evidence, leads, list_query, opinions, penalties,
        rectifications, referrals, transfers,
    };
    pub use crate::directory::agency_filters;
}
