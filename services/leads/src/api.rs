//! What the leads service takes and answers over the bus: the case engine's requests and
//! replies ([`casebridge_platform::cases::api`]) named for leads. The gateway uses the engine's
//! generic types with the family's command; these names are for the family's own tests and
//! anyone reading the bus.

use casebridge_core::lead::{Lead, LeadCommand};

pub use casebridge_platform::cases::api::{Accepted, CaseSummary, ListPosition, ListQuery};

/// A request to the leads service. The actor is the agency authenticated by the gateway.
pub type Request = casebridge_platform::cases::Request<LeadCommand>;
/// A step on a lead, with what makes it idempotent.
pub type CommandRequest = casebridge_platform::cases::CommandRequest<LeadCommand>;
/// The answer to a [`Request`].
pub type Reply = casebridge_platform::cases::Reply<Lead>;
