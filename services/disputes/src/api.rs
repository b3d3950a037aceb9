//! What the disputes service takes and answers over the bus: the case engine's requests and
//! replies ([`casebridge_platform::cases::api`]) named for disputes. The gateway uses the
//! engine's generic types with the family's command; these names are for the family's own
//! tests, the benchmarks and anyone reading the bus.

use casebridge_core::dispute::{Dispute, DisputeCommand};

pub use casebridge_platform::cases::api::{Accepted, CaseSummary, ListPosition, ListQuery};

/// A request to the disputes service. The actor is the agency authenticated by the gateway.
pub type Request = casebridge_platform::cases::Request<DisputeCommand>;
/// A step on a dispute, with what makes it idempotent.
pub type CommandRequest = casebridge_platform::cases::CommandRequest<DisputeCommand>;
/// The answer to a [`Request`].
pub type Reply = casebridge_platform::cases::Reply<Dispute>;
