//! What the penalties service takes and answers over the bus: the case engine's requests and
//! replies ([`casebridge_platform::cases::api`]) named for penalty files.

use casebridge_core::screening::file::{PenaltyCommand, PenaltyFile};

pub use casebridge_platform::cases::api::{Accepted, CaseSummary, ListPosition, ListQuery};

/// A request to the penalties service. The actor is the agency authenticated by the gateway.
pub type Request = casebridge_platform::cases::Request<PenaltyCommand>;
/// A step on a penalty file, with what makes it idempotent.
pub type CommandRequest = casebridge_platform::cases::CommandRequest<PenaltyCommand>;
/// The answer to a [`Request`].
pub type Reply = casebridge_platform::cases::Reply<PenaltyFile>;
