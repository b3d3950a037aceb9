//! What a family service takes and answers over the bus. The gateway builds these requests
//! from gRPC calls; the actor is always the agency the gateway authenticated.

use casebridge_core::ids::{AgencyCode, CaseId, RequestId, Sha256Digest};
use casebridge_core::ledger::Receipt;
use casebridge_core::notice::Role;
use casebridge_core::refusal::Refusal;
use casebridge_core::time::Timestamp;
use serde::{Deserialize, Serialize};

use crate::reply::ServiceReply;

/// The largest page of a listing.
pub const MAX_PAGE: u32 = 200;

/// A request to a family service.
// A request lives only between decoding and handling; boxing it would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request<C> {
    /// Take a step on a case.
    Command(CommandRequest<C>),
    /// Read a case (parties only).
    Get { actor: AgencyCode, case_id: CaseId },
    /// The cases the actor is a party to, newest change first.
    List { actor: AgencyCode, query: ListQuery },
    /// The signed receipts of a case's steps, oldest first (parties only): the proof a
    /// timeline shows beside its steps.
    Receipts { actor: AgencyCode, case_id: CaseId },
}

/// A step on a case as its client asked for it: what the gateway converts a call into, and
/// what the family service takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseStep<C> {
    /// Chosen by the client; unique per actor.
    pub request_id: RequestId,
    /// The case the step is for (for a step that opens a case: the id the new case will get,
    /// unless the request id was seen before, in which case the original case is returned).
    pub case_id: CaseId,
    pub command: C,
}

/// A step, with who takes it and what makes it idempotent. On the bus its fields are those of
/// the step and these two side by side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandRequest<C> {
    /// The agency the gateway authenticated.
    pub actor: AgencyCode,
    /// Digest of the request as the client sent it: a reused request id with another digest
    /// is refused.
    pub content_digest: Sha256Digest,
    #[serde(flatten)]
    pub step: CaseStep<C>,
}

/// Which of the actor's cases to list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListQuery {
    /// Only cases in this status (snake_case name).
    pub status: Option<String>,
    /// Only cases where the actor holds this role.
    pub role: Option<Role>,
    /// At most this many (1..=[`MAX_PAGE`]).
    pub limit: u32,
    /// Continue after this position (from the previous page's `next`).
    pub after: Option<ListPosition>,
}

/// A position in a listing: the last case's update time and id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListPosition {
    pub updated_at: Timestamp,
    pub case_id: CaseId,
}

/// The answer to a [`Request`].
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Reply<S> {
    /// The step was accepted (or had been: `replayed`).
    Accepted(Accepted<S>),
    /// The case, for a read.
    Found { case: S },
    /// A page of a listing.
    Listed {
        cases: Vec<CaseSummary>,
        /// Pass as `after` for the next page; `None` on the last page.
        next: Option<ListPosition>,
    },
    /// A case's receipts, oldest first.
    Receipts { receipts: Vec<Receipt> },
    /// Nothing changed.
    Refused { refusal: Refusal },
}

impl<S> ServiceReply for Reply<S> {
    fn into_refusal(self) -> Result<Refusal, Self> {
        match self {
            Reply::Refused { refusal } => Ok(refusal),
            other => Err(other),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Reply::Accepted(_) => "accepted",
            Reply::Found { .. } => "found",
            Reply::Listed { .. } => "listed",
            Reply::Receipts { .. } => "receipts",
            Reply::Refused { .. } => "refused",
        }
    }
}

/// A picker: takes one kind of answer, or hands the reply back.
pub type Picker<S, T> = fn(Reply<S>) -> Result<T, Reply<S>>;

/// The pickers a caller takes one kind of answer with (see [`crate::reply`]): each hands any
/// other reply back unchanged.
// Like the enum itself, a reply lives only between decoding and handling: boxing the reply
// handed back would buy nothing.
#[allow(clippy::result_large_err)]
impl<S> Reply<S> {
    /// The answer to a step.
    pub fn accepted(self) -> Result<Accepted<S>, Self> {
        match self {
            Reply::Accepted(accepted) => Ok(accepted),
            other => Err(other),
        }
    }

    /// The answer to a read.
    pub fn found(self) -> Result<S, Self> {
        match self {
            Reply::Found { case } => Ok(case),
            other => Err(other),
        }
    }

    /// The answer to a listing: the page and where the next one starts.
    pub fn listed(self) -> Result<(Vec<CaseSummary>, Option<ListPosition>), Self> {
        match self {
            Reply::Listed { cases, next } => Ok((cases, next)),
            other => Err(other),
        }
    }

    /// The answer to a request for a case's receipts.
    pub fn receipts(self) -> Result<Vec<Receipt>, Self> {
        match self {
            Reply::Receipts { receipts } => Ok(receipts),
            other => Err(other),
        }
    }
}

/// An accepted step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Accepted<S> {
    /// The case after the step.
    pub case: S,
    /// True when this answers a retry of an already accepted request.
    pub replayed: bool,
    /// When the step was first accepted.
    pub accepted_at: Timestamp,
    /// The signed receipt (回执) of the step: what was accepted, when, where in the record.
    pub receipt: Receipt,
}

/// One line of a listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseSummary {
    pub case_id: CaseId,
    pub status: String,
    pub version: u64,
    pub updated_at: Timestamp,
    /// The roles the actor holds in the case (empty for a former party).
    pub roles: Vec<Role>,
    /// One line without personal data.
    pub headline: String,
    /// Who opened the case (the sender, the requester, the party that raised the dispute).
    #[serde(default)]
    pub opened_by: Option<AgencyCode>,
    /// When it was opened: for the recipient, when it arrived.
    #[serde(default)]
    pub opened_at: Option<Timestamp>,
    /// The start of its short description (at most [`SUMMARY_CHARS`] characters); may name
    /// persons, so it goes only to parties and never into logs.
    #[serde(default)]
    pub summary: String,
}

/// How much of a case's description a listing carries.
pub const SUMMARY_CHARS: usize = 120;

/// The first [`SUMMARY_CHARS`] characters of `text`, with "…" when it was cut.
pub fn summary_line(text: &str) -> String {
    match text.char_indices().nth(SUMMARY_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}
