//! The runnable evidence service: the event consumer that learns cases' parties and
//! attachments, and the command consumer that answers the gateway.

use std::sync::Arc;

use casebridge_core::notice::Notice;
use casebridge_core::time::Clock;
use casebridge_platform::bus::{Bus, BusError, Message, QueueSpec};
use casebridge_platform::host::{self, Outcome, run_batch_consumer, run_consumer};
use casebridge_platform::store::{Db, Dialect};
use tokio_util::sync::CancellationToken;

use crate::api::Request;
use crate::handler::Evidence;

/// The event routing keys the evidence service listens to: every family's steps. Deadline
/// events arrive too (`<family>.deadline_*`) and are skipped by the handler.
pub const EVENT_BINDINGS: &[&str] = &[
    "referral.#",
    "transfer.#",
    "dispute.#",
    "opinion.#",
    "penalty.#",
    "lead.#",
    "rectification.#",
];

/// The durable event queue of the evidence service.
pub fn events_queue() -> QueueSpec {
    QueueSpec::events(crate::SERVICE, EVENT_BINDINGS)
}

/// Every queue the service declares, for tear-down in tests and benchmarks.
pub fn queues() -> Vec<QueueSpec> {
    vec![events_queue(), QueueSpec::commands(crate::SERVICE)]
}

pub use casebridge_platform::host::StartError;

/// The most events one transaction records. The service consumes every event of every
/// family: in batches each pays a share of one commit instead of one of its own.
pub const BATCH: usize = 128;

/// A migrated, declared, ready-to-run evidence service.
#[derive(Debug)]
pub struct EvidenceApp {
    evidence: Evidence,
    bus: Bus,
    /// Questions answered at once.
    concurrency: usize,
    /// Event batches at once: a second one fills while the first commits.
    batches: usize,
}

impl EvidenceApp {
    /// Migrates the tables and declares both queues, so events published before the service
    /// first runs are kept.
    pub async fn build(db: Db, bus: Bus, clock: Arc<dyn Clock>) -> Result<EvidenceApp, StartError> {
        db.migrate(crate::SERVICE, &crate::store::migrations())
            .await
            .map_err(StartError::store(crate::SERVICE))?;
        for spec in queues() {
            bus.declare(&spec)
                .await
                .map_err(StartError::bus(crate::SERVICE))?;
        }
        let (concurrency, batches) = match db.dialect() {
            Dialect::Sqlite => (2, 1),
            Dialect::Postgres => (16, 2),
        };
        Ok(EvidenceApp {
            evidence: Evidence::new(db, clock),
            bus,
            concurrency,
            batches,
        })
    }

    pub fn evidence(&self) -> &Evidence {
        &self.evidence
    }

    /// Runs both consumers until `shutdown`.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> Result<(), BusError> {
        let evidence = self.evidence.clone();
        let events = run_batch_consumer(
            self.bus.clone(),
            events_queue(),
            BATCH,
            self.batches,
            shutdown.clone(),
            move |messages: Vec<Message>| {
                let evidence = evidence.clone();
                async move { learn(&evidence, messages).await }
            },
        );
        let evidence = self.evidence.clone();
        let commands = run_consumer(
            self.bus.clone(),
            QueueSpec::commands(crate::SERVICE),
            self.concurrency,
            shutdown,
            move |message: Message| {
                let evidence = evidence.clone();
                async move { answer(&evidence, message).await }
            },
        );
        let (events, commands) = tokio::join!(events, commands);
        events.and(commands)
    }
}

async fn learn(evidence: &Evidence, messages: Vec<Message>) -> Vec<Outcome> {
    host::apply_batch(messages, |batch: Vec<(Message, Notice)>| async move {
        evidence.learn_all(&batch).await
    })
    .await
}

async fn answer(evidence: &Evidence, message: Message) -> Outcome {
    host::answer(message, |request: Request| evidence.handle(request)).await
}
