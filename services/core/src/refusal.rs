//! Refusals: why a service did not accept a request, in a form every adapter can render.
//!
//! Each family service maps its state machine's rejections to a [`Refusal`] once, choosing the
//! [`RefusalKind`] deliberately; the gateway maps the kind to a gRPC status code and the field to
//! a field violation, the CLI prints the message. The `rule` names the rule that refused.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The class of a refusal; each maps to one gRPC status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalKind {
    /// Malformed or incomplete input (INVALID_ARGUMENT).
    InvalidArgument,
    /// A step the case's current state does not allow (FAILED_PRECONDITION).
    FailedPrecondition,
    /// The caller may not take this step or read this case (PERMISSION_DENIED).
    PermissionDenied,
    /// The case or a named agency does not exist (NOT_FOUND).
    NotFound,
    /// The case exists, or the request id was used for other content (ALREADY_EXISTS).
    AlreadyExists,
}

/// A refused request: nothing changed, nothing was sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub kind: RefusalKind,
    /// The rule that refused, e.g. `AUTH-ROLE`, `STATE`, `S1-6`.
    pub rule: String,
    /// The offending input field, when there is one: in wire (proto) naming from every
    /// service but the case families, whose state machines name fields in their own terms
    /// (`reasons`); the gateway renames those for the wire (`decline.reasons`).
    pub field: Option<String>,
    /// The offending item of a list field (`documents[2]`): 0-based.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<usize>,
    /// A sentence that names the problem.
    pub message: String,
}

impl Refusal {
    pub fn new(
        kind: RefusalKind,
        rule: &str,
        field: Option<&str>,
        message: impl Into<String>,
    ) -> Refusal {
        Refusal {
            kind,
            rule: rule.to_owned(),
            field: field.map(str::to_owned),
            item: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (rule {})", self.message, self.rule)
    }
}
