//! The case service engine every family service runs on (referrals, transfers, disputes,
//! opinions), so that knowing one family's service means knowing all of them.
//!
//! A family plugs in its pure state machine and its wording through [`Family`]; the engine does
//! the rest the same way for all:
//! - [`api`]: the requests it answers over the bus (a step, a read, a listing) and the replies.
//! - [`store`]: the tables `<svc>_case_states` (the case value as JSON, with its status and
//!   version) and `<svc>_case_parties` (who may read it), plus the shared messaging tables.
//! - [`service`]: [`CaseService`]: a step runs in **one** transaction — idempotency lookup,
//!   load, the state machine, then the new state, its parties, the outbox rows of its events and
//!   the idempotency record; the reply leaves only after the commit. A refused step writes
//!   nothing. Reactions (another family's event turned into a step of this one) run the same
//!   way, deduplicated by message id.
//! - [`app`]: [`CaseApp`]: the command consumer, the reaction consumer and the outbox relay.

pub mod api;
pub mod app;
pub mod service;
pub mod store;

use casebridge_core::case::{Case, CaseEvent, Decision, EventName, Rejection};
use casebridge_core::directory::{Agency, Directory};
use casebridge_core::ids::{AgencyCode, CaseId, Sha256Digest};
use casebridge_core::notice::{self, Notice};
use casebridge_core::time::Timestamp;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use api::{Accepted, CaseStep, CaseSummary, CommandRequest, ListQuery, Reply, Request};
pub use app::CaseApp;
pub use service::CaseService;

/// A step of this family that another case's event calls for: a referral handed back opens a
/// transfer, an objection opens a dispute, a designation restarts a transfer.
#[derive(Debug, Clone, PartialEq)]
pub struct Reaction<C> {
    /// The case the step is taken on (a new id when it opens one).
    pub case_id: CaseId,
    /// The agency the step is taken in the name of (the actor of the causing event).
    pub actor: AgencyCode,
    pub command: C,
}

/// What a family brings to the engine: its state machine, its wording, its reactions.
pub trait Family: Clone + Send + Sync + 'static {
    /// The case value, stored whole as JSON.
    type Case: Case
        + Clone
        + std::fmt::Debug
        + PartialEq
        + Serialize
        + DeserializeOwned
        + Send
        + Sync;
    /// The commands (steps) the state machine takes.
    type Command: Clone + std::fmt::Debug + PartialEq + Serialize + DeserializeOwned + Send + Sync;
    /// What happened, per step.
    type Event: EventName + Clone + std::fmt::Debug + Serialize + Send + Sync;

    /// The service name: its command queue and its tables' prefix, e.g. `referrals`.
    const SERVICE: &'static str;
    /// The family: the first word of its events' routing keys.
    const FAMILY: notice::Family;
    /// Other families' events this family reacts to (topic patterns).
    const REACTS_TO: &'static [&'static str] = &[];

    /// The step a command takes, for logs and refusals.
    fn step(command: &Self::Command) -> &'static str;

    /// Another case of this family a command names and the state machine must see (a transfer
    /// continuing an earlier one, for rule F2). Loaded in the same transaction.
    fn related(_command: &Self::Command) -> Option<CaseId> {
        None
    }

    /// The pure state machine; `related` is the case [`Family::related`] named, if it exists.
    fn decide(
        &self,
        current: Option<&Self::Case>,
        related: Option<&Self::Case>,
        command: &Self::Command,
        actor: &Agency,
        now: Timestamp,
    ) -> Result<Decision<Self::Case, Self::Event>, Rejection>;

    /// The agency directory the family was built with.
    fn directory(&self) -> &Directory;

    /// One line for people about an event, naming agencies and steps, never parties.
    fn summary(&self, event: &CaseEvent<Self::Event>, case: &Self::Case) -> String;

    /// The attachments an event references, so every party may read them.
    fn attachments(event: &Self::Event, case: &Self::Case) -> Vec<Sha256Digest>;

    /// The event's detail for consumers (deadlines, ledger, monitor): by default the event
    /// itself, whose fields the rule table's `only_if`/`unless` flags read.
    fn detail(&self, event: &CaseEvent<Self::Event>, _case: &Self::Case) -> serde_json::Value {
        serde_json::to_value(&event.kind).unwrap_or(serde_json::Value::Null)
    }

    /// The step another family's event calls for, if any.
    fn reaction(&self, _notice: &Notice) -> Option<Reaction<Self::Command>> {
        None
    }

    /// The notice of one event: addressed to its recipients, with the parties by role (the
    /// deadlines service finds who owes a step there) and the attachments it references.
    fn notice(&self, event: &CaseEvent<Self::Event>, case: &Self::Case) -> Notice {
        Notice {
            case_id: event.case_id,
            family: Self::FAMILY,
            event: event.kind.name().to_owned(),
            actor: event.actor.clone(),
            at: event.at,
            recipients: event.recipients.clone(),
            summary: self.summary(event, case),
            detail: self.detail(event, case),
            parties: case.parties().by_role,
            attachments: Self::attachments(&event.kind, case),
        }
    }

    /// An agency's name from the directory, or its code.
    fn name(&self, code: &AgencyCode) -> String {
        self.directory()
            .get(code)
            .map_or_else(|| code.to_string(), |a| a.name.clone())
    }
}
