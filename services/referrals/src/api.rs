//! What the referrals service takes and answers over the bus: the engine's requests and
//! replies, for referral commands and referral cases.

use casebridge_core::referral::{Referral, ReferralCommand};

pub use casebridge_platform::cases::api::{Accepted, CaseSummary, ListPosition, ListQuery};

/// A request to the referrals service. The actor is the agency authenticated by the gateway.
pub type Request = casebridge_platform::cases::Request<ReferralCommand>;
/// A step on a referral, with what makes it idempotent.
pub type CommandRequest = casebridge_platform::cases::CommandRequest<ReferralCommand>;
/// The answer to a [`Request`].
pub type Reply = casebridge_platform::cases::Reply<Referral>;
