//! Refusals as replies, and extension refusals as wire refusals.

use casebridge_core::deadline::{ExtensionRefusal, Rule, describe_tiers};
use casebridge_core::refusal::{Refusal, RefusalKind};

use crate::api::Reply;

pub(super) fn refused(
    kind: RefusalKind,
    rule: &str,
    field: Option<&str>,
    message: String,
) -> Reply {
    Reply::Refused {
        refusal: Refusal::new(kind, rule, field, message),
    }
}

/// The one place where extension refusals become wire refusals: the kind is chosen per refusal,
/// and the rule named is the one that refused (the obligation's rule for its tiers, SAMR-45x /
/// S4 Art 45 for lateness).
pub fn extension_refusal(refusal: &ExtensionRefusal, rule: &Rule) -> Refusal {
    let message = refusal.to_string();
    let (kind, rule_id, field) = match refusal {
        ExtensionRefusal::NotExtensible { .. } => {
            (RefusalKind::FailedPrecondition, rule.id.as_str(), None)
        }
        ExtensionRefusal::NoSuchTier { .. } => {
            (RefusalKind::InvalidArgument, rule.id.as_str(), Some("tier"))
        }
        ExtensionRefusal::TierNotLonger { .. } => (
            RefusalKind::FailedPrecondition,
            rule.id.as_str(),
            Some("tier"),
        ),
        ExtensionRefusal::NotLater { .. }
        | ExtensionRefusal::BeyondTiers { .. }
        | ExtensionRefusal::DateForHours { .. } => (
            RefusalKind::InvalidArgument,
            rule.id.as_str(),
            Some("until"),
        ),
        ExtensionRefusal::TooLate { .. } => (RefusalKind::FailedPrecondition, "SAMR-45x", None),
        ExtensionRefusal::Paused { .. } => (RefusalKind::FailedPrecondition, "STATE", None),
        ExtensionRefusal::Calendar(_) => (RefusalKind::FailedPrecondition, "CALENDAR", None),
    };
    let message = match refusal {
        ExtensionRefusal::NotExtensible { .. } | ExtensionRefusal::TierNotLonger { .. }
            if !rule.extensions.is_empty() =>
        {
            format!("{message} ({})", describe_tiers(&rule.extensions))
        }
        _ => message,
    };
    Refusal::new(kind, rule_id, field, message)
}
