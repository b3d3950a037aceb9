//! What the rectifications service takes and answers over the bus: the case engine's requests
//! and replies ([`casebridge_platform::cases::api`]) named for rectification requests. The gateway
//! uses the engine's generic types with the family's command; these names are for the family's
//! own tests and anyone reading the bus.

use casebridge_core::rectification::{Rectification, RectificationCommand};

pub use casebridge_platform::cases::api::{Accepted, CaseSummary, ListPosition, ListQuery};

/// A request to the rectifications service. The actor is the agency authenticated by the gateway.
pub type Request = casebridge_platform::cases::Request<RectificationCommand>;
/// A step on a rectification request, with what makes it idempotent.
pub type CommandRequest = casebridge_platform::cases::CommandRequest<RectificationCommand>;
/// The answer to a [`Request`].
pub type Reply = casebridge_platform::cases::Reply<Rectification>;
