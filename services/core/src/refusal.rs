//! Refusals: why a service did not accept a request, in a form every adapter can render.
//!
//! Each family service maps its state machine's rejections to a [`Refusal`] once, choosing the
//! [`RefusalKind`] deliberately; the gateway maps the kind to a gRPC status code and the field to
//! a field violation, the CLI prints the message. The `rule` names the rule that refused.
//!
//! Every rule has a Chinese wording ([`zh::RULES_ZH`]); [`Refusal::message_zh`] is the refusal in
//! Chinese, for the gateway's `google.rpc.LocalizedMessage`, the console and the CLI.

pub mod zh;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::case::item_path;
pub use zh::rule_text_zh;

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
    /// The class of the refusal, which chooses the gRPC status code.
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
    /// A refusal by rule `rule` (an id of [`zh::RULES_ZH`]), on `field` when there is one.
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

    /// The refusal in Chinese: the specifics the English message carries where their shape is
    /// known (the status, the missing document), the rule's wording with its legal source
    /// ([`rule_text_zh`], or [`zh::generic_zh`] for a rule not listed), then the field and the
    /// rule id, e.g. `未附涉案物品清单。移送涉嫌犯罪案件应当附有…（…第六条）。（字段：documents；规则 S1-6）`.
    pub fn message_zh(&self) -> String {
        let path = self.field.as_deref().map(|f| item_path(f, self.item));
        zh::message_zh(&self.rule, path.as_deref(), &self.message)
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (rule {})", self.message, self.rule)
    }
}

#[cfg(test)]
mod tests;
