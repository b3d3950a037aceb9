//! What the evidence service takes and answers over the bus.

use casebridge_core::ids::{AgencyCode, Sha256Digest};
use casebridge_core::refusal::Refusal;
use casebridge_core::time::Timestamp;
use casebridge_platform::reply::ServiceReply;
use serde::{Deserialize, Serialize};

/// A request to the evidence service, sent by the gateway on behalf of `agency`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request {
    /// `uploader` sent exactly this content and the gateway stored it (verified). Idempotent.
    RecordUpload {
        uploader: AgencyCode,
        digest: Sha256Digest,
        size: u64,
        file_name: String,
        content_type: String,
    },
    /// The attachment, if `agency` may read it.
    Describe {
        agency: AgencyCode,
        digest: Sha256Digest,
    },
    /// Which of `digests` `agency` may not name in a document: unknown, or not readable by it.
    CheckReferences {
        agency: AgencyCode,
        digests: Vec<Sha256Digest>,
    },
}

/// The answer to a [`Request`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Reply {
    /// The upload is recorded; `first` when nobody had recorded this content before.
    Recorded {
        attachment: Attachment,
        first: bool,
    },
    /// The caller may read this attachment.
    Found {
        attachment: Attachment,
    },
    /// The digests the caller may not reference, in the order asked; empty when all are fine.
    References {
        unusable: Vec<Sha256Digest>,
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
            Reply::Recorded { .. } => "recorded",
            Reply::Found { .. } => "found",
            Reply::References { .. } => "references",
            Reply::Refused { .. } => "refused",
        }
    }
}

/// A stored file as its readers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub digest: Sha256Digest,
    pub size: u64,
    /// As given at the first upload.
    pub content_type: String,
    /// As given at the first upload; may name people, so it is never logged.
    pub file_name: String,
    pub first_uploaded_at: Timestamp,
}
