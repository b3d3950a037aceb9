//! What the transfers service takes and answers over the bus: the case engine's requests and
//! replies ([`casebridge_platform::cases::api`]) named for transfers. The gateway uses the
//! engine's generic types with the family's command; these names are for the family's own
//! tests, the benchmarks and anyone reading the bus.

use casebridge_core::transfer::{Transfer, TransferCommand};

pub use casebridge_platform::cases::api::{Accepted, CaseSummary, ListPosition, ListQuery};

/// A request to the transfers service. The actor is the agency authenticated by the gateway.
pub type Request = casebridge_platform::cases::Request<TransferCommand>;
/// A step on a transfer, with what makes it idempotent.
pub type CommandRequest = casebridge_platform::cases::CommandRequest<TransferCommand>;
/// The answer to a [`Request`].
pub type Reply = casebridge_platform::cases::Reply<Transfer>;
