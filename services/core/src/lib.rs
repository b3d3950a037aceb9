//! CaseBridge core: the pure domain model of the inter-agency messaging gateway for Chinese
//! administrative enforcement. No I/O happens here: no files, no network, no async runtime.
//! Services, the gateway and the CLI build on these types; the law lives in the state machines.
//!
//! Modules:
//! - [`ids`]: validated identifiers — [`AgencyCode`] (统一社会信用代码, GB 32100-2015),
//!   [`RegionCode`], [`CaseId`], [`MessageId`], [`RequestId`], [`Sha256Digest`].
//! - [`time`]: [`Timestamp`] (UTC milliseconds, shown in China Standard Time) and the injected
//!   [`Clock`] with [`SystemClock`] and [`ManualClock`].
//! - [`personal`]: [`PersonalData`], which never prints its content.
//! - [`directory`]: the agency [`Directory`] loaded from TOML: [`Agency`], [`AgencyKind`],
//!   region, superior, procuratorate and common-superior lookups.
//! - [`calendar`]: the legal [`calendar::Calendar`] of working days, loaded from the official
//!   holiday schedules; a year without data is an error, never a guess.
//! - [`deadline`]: counting periods ([`deadline::compute_due`]), the rule table
//!   ([`deadline::RuleTable`]) and obligations with pauses and extensions.
//! - [`document`]: [`document::Document`], [`document::DocumentKind`] and [`document::Party`],
//!   what every family's steps carry.
//! - [`case`]: what every family's case shares: [`case::Parties`], history, events,
//!   [`case::Rejection`] and the input checks.
//! - [`authz`]: the one authorization table (who may take which step in which state).
//! - [`law`]: [`law::Law`], the calendar and rule table the state machines consult for check rules.
//! - [`ledger`]: the full-process record's canonical encoding: chain entries, checkpoints and
//!   receipts, and the chain check.
//! - [`referral`]: the criminal referral (涉嫌犯罪案件移送) state machine, [`referral::decide`].
//! - [`transfer`]: the case transfer (行政执法案件移送) state machine, [`transfer::decide`].
//! - [`dispute`]: the jurisdiction dispute (管辖争议) state machine, [`dispute::decide`].
//! - [`opinion`]: the expert-opinion request (认定/检验/鉴定) state machine, [`opinion::decide`].
//! - [`lead`]: the lead between agencies (线索互告) state machine, [`lead::decide`].
//! - [`rectification`]: the rectification request (整改通知 / 整改报告) state machine,
//!   [`rectification::decide`].
//! - [`notice`]: [`notice::Notice`], what an agency's inbox receives about a step, any family.
//! - [`refusal`]: [`refusal::Refusal`], why a request was refused, for every adapter to render.
//! - [`screening`]: penalty-case records (行政处罚案件信息), the criminal threshold table, screening
//!   ([`screening::screen`]) and the early-warning (移送预警) state machine
//!   ([`screening::warning::decide`]).

#![forbid(unsafe_code)]

pub mod authz;
pub mod calendar;
pub mod case;
pub mod deadline;
pub mod directory;
pub mod dispute;
pub mod document;
pub mod ids;
pub mod law;
pub mod lead;
pub mod ledger;
pub mod notice;
pub mod opinion;
pub mod personal;
pub mod rectification;
pub mod referral;
pub mod refusal;
pub mod screening;
pub mod time;
pub mod transfer;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod fixtures;

pub use directory::{Agency, AgencyKind, Directory, DirectoryError};
pub use ids::{
    AgencyCode, AgencyCodeError, CaseId, IdError, MessageId, RegionCode, RequestId, Sha256Digest,
};
pub use personal::PersonalData;
pub use time::{Clock, ManualClock, OffsetClock, SystemClock, TimeError, Timestamp};
