//! What the inbox service takes and answers over the bus.

pub use crate::export::Kind;
use casebridge_core::ids::{AgencyCode, CaseId, MessageId};
use casebridge_core::notice::Family;
use casebridge_core::refusal::Refusal;
use casebridge_core::time::Timestamp;
use casebridge_platform::reply::ServiceReply;
use serde::{Deserialize, Serialize};

/// The largest page a reader may ask for.
pub const MAX_PAGE: u32 = 500;

/// The export page when the caller names no limit.
pub const EXPORT_DEFAULT_PAGE: u32 = 500;
/// The largest export page a caller may ask for.
pub const EXPORT_MAX_PAGE: u32 = 5_000;
/// The most bytes of lines one export page carries (at least one line is always sent): a
/// page stops early rather than grow past what a gRPC client accepts by default (4 MiB).
/// Not a legal figure; a consumer simply asks again with `more`.
pub const EXPORT_MAX_BYTES: usize = 2 * 1024 * 1024;

/// A request to the inbox service, on behalf of the agency that owns the inbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request {
    /// Entries after `after` (exclusive), oldest first; `after: None` means after the last
    /// acknowledged entry.
    List {
        agency: AgencyCode,
        after: Option<u64>,
        limit: u32,
    },
    /// Marks every entry up to `up_to` (inclusive) as handled. Monotonic.
    Acknowledge { agency: AgencyCode, up_to: u64 },
    /// Lines of the export feed after position `after` (exclusive), oldest first, of `kinds`
    /// (every kind when empty): every line when `sees_all` (a supervisor), otherwise only the
    /// lines `viewer` is a party to.
    Export {
        viewer: AgencyCode,
        sees_all: bool,
        kinds: Vec<Kind>,
        after: u64,
        limit: u32,
    },
}

/// The answer to a [`Request`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Reply {
    Entries {
        entries: Vec<Entry>,
        /// The agency's acknowledged cursor.
        acknowledged: u64,
        /// The agency's newest cursor.
        latest: u64,
    },
    Acknowledged {
        cursor: u64,
    },
    /// A page of the export feed.
    Exported {
        /// JSON lines, without their newline, oldest first.
        lines: Vec<String>,
        /// The position of the last line sent, or `after` when none was.
        next: u64,
        /// Whether more lines the caller may see follow `next`.
        more: bool,
    },
    Refused {
        refusal: Refusal,
    },
}

impl ServiceReply for Reply {
    fn into_refusal(self) -> Result<Refusal, Self> {
        match self {
            Reply::Refused { refusal } => Ok(refusal),
            other => Err(other),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Reply::Entries { .. } => "entries",
            Reply::Acknowledged { .. } => "acknowledged",
            Reply::Exported { .. } => "exported",
            Reply::Refused { .. } => "refused",
        }
    }
}

/// One notice in one agency's inbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Position in this agency's inbox: 1, 2, 3…
    pub cursor: u64,
    /// The event's message id (the same in every recipient's inbox).
    pub message_id: MessageId,
    pub case_id: CaseId,
    pub family: Family,
    pub event: String,
    pub actor: AgencyCode,
    pub occurred_at: Timestamp,
    pub summary: String,
    /// When the entry was appended to the inbox.
    pub delivered_at: Timestamp,
}

/// The routing key of the wake-up published when `agency`'s inbox grows.
pub fn appended_key(agency: &AgencyCode) -> String {
    format!("inbox.appended.{agency}")
}

/// The pattern a gateway binds to hear every inbox's wake-ups.
pub const APPENDED_PATTERN: &str = "inbox.appended.*";
