//! The evidence service: content-addressed attachments (证据材料) and who may read them.
//!
//! Files are named by the SHA-256 of their bytes. The gateway streams an upload into
//! [`storage`] chunk by chunk, hashing as it goes, and moves the file into place only once the
//! digest is verified, so a partial or wrong upload is never visible and identical content is
//! stored once. The service itself holds no bytes: it records who uploaded what and learns,
//! from every family's events, which agencies are parties to a case that references a file.
//! An agency may read a file it uploaded, or one referenced by a case it is a party to.
//!
//! Modules, the same as every service: [`api`] (what it answers over the bus), [`store`]
//! (tables prefixed `evidence_`), [`handler`] (the logic), [`app`] (its consumers); plus
//! [`storage`], the object store the gateway reads and writes (a local directory or S3).
#![forbid(unsafe_code)]

pub mod api;
pub mod app;
pub mod handler;
pub mod storage;
pub mod store;

/// The service name: its queues and its tables' prefix.
pub const SERVICE: &str = "evidence";
