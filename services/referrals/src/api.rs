//! What the referrals service takes and answers over the bus.

use casebridge_core::ids::{AgencyCode, CaseId, RequestId, Sha256Digest};
use casebridge_core::referral::{Referral, ReferralCommand};
use casebridge_core::refusal::Refusal;
use casebridge_core::time::Timestamp;
use serde::{Deserialize, Serialize};

/// A request to the referrals service. The actor is the agency authenticated by the gateway.
// A request lives only between decoding and handling; boxing it would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request {
    /// Take a step on a referral.
    Command(CommandRequest),
    /// Read a referral (parties only).
    Get { actor: AgencyCode, case_id: CaseId },
}

/// A step on a referral, with what makes it idempotent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandRequest {
    pub actor: AgencyCode,
    /// Chosen by the client; unique per actor.
    pub request_id: RequestId,
    /// Digest of the request as the client sent it: a reused request id with another digest
    /// is refused.
    pub content_digest: Sha256Digest,
    /// The referral the step is for (for a submission: the id the new referral will get,
    /// unless the request id was seen before, in which case the original id is returned).
    pub case_id: CaseId,
    pub command: ReferralCommand,
}

/// The answer to a [`Request`].
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Reply {
    /// The step was accepted (or had been: `replayed`).
    Accepted(Accepted),
    /// The referral, for a read.
    Found { referral: Referral },
    /// Nothing changed.
    Refused { refusal: Refusal },
}

/// An accepted step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Accepted {
    /// The referral after the step.
    pub referral: Referral,
    /// True when this answers a retry of an already accepted request.
    pub replayed: bool,
    /// When the step was first accepted.
    pub accepted_at: Timestamp,
}
