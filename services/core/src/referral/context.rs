//! What [`decide()`](super::decide()) consults besides the referral: the tunable
//! [`ReferralPolicy`] and the [`Context`] (directory, deadline law, policy).

use serde::{Deserialize, Serialize};

use crate::directory::Directory;
use crate::law::Law;

/// Tunable parts of the referral rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReferralPolicy {
    /// Whether a penalty decision must be in the package when a penalty was imposed.
    /// [V2 S24]: read only in a third-party source, so configurable. Default true.
    pub require_penalty_decision: bool,
    /// Hours from approval to sending before the referral is flagged late (S1 Art 5, S1-5c).
    pub send_limit_hours: i64,
}

impl Default for ReferralPolicy {
    fn default() -> Self {
        ReferralPolicy {
            require_penalty_decision: true,
            send_limit_hours: 24,
        }
    }
}

/// What [`decide()`](super::decide()) consults besides the referral: the directory, the deadline law for the
/// check rules, and the tunable policy.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub directory: &'a Directory,
    pub law: &'a Law,
    pub policy: &'a ReferralPolicy,
}
