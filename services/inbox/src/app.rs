//! The runnable inbox service: the event consumer that fills inboxes and the command consumer
//! that answers readers.

use std::sync::Arc;

use casebridge_core::notice::Notice;
use casebridge_core::time::Clock;
use casebridge_platform::bus::{Bus, BusError, Message, QueueSpec};
use casebridge_platform::host::{self, Outcome, run_batch_consumer, run_consumer};
use casebridge_platform::store::{Db, Dialect};
use tokio_util::sync::CancellationToken;

use crate::api::Request;
use crate::handler::Inbox;

/// The event routing keys the inbox listens to: every family's steps.
pub const EVENT_BINDINGS: &[&str] = &[
    "referral.#",
    "transfer.#",
    "dispute.#",
    "opinion.#",
    "penalty.#",
    "lead.#",
    "rectification.#",
];

/// The durable event queue of the inbox.
pub fn events_queue() -> QueueSpec {
    QueueSpec::events(crate::SERVICE, EVENT_BINDINGS)
}

pub use casebridge_platform::host::StartError;

/// The most notices one delivery transaction appends. Every notice of a busy agency takes that
/// agency's row lock; appending them in batches takes it once per batch.
pub const BATCH: usize = 128;

/// A migrated, declared, ready-to-run inbox service.
#[derive(Debug)]
pub struct InboxApp {
    inbox: Inbox,
    bus: Bus,
    /// Readers answered at once.
    concurrency: usize,
    /// Delivery batches at once: a second one fills while the first commits.
    batches: usize,
}

impl InboxApp {
    /// Migrates the tables and declares both queues, so events published before the
    /// service first runs are kept.
    pub async fn build(db: Db, bus: Bus, clock: Arc<dyn Clock>) -> Result<InboxApp, StartError> {
        db.migrate(crate::SERVICE, &crate::store::migrations())
            .await
            .map_err(StartError::store(crate::SERVICE))?;
        bus.declare(&events_queue())
            .await
            .map_err(StartError::bus(crate::SERVICE))?;
        bus.declare(&QueueSpec::commands(crate::SERVICE))
            .await
            .map_err(StartError::bus(crate::SERVICE))?;
        let (concurrency, batches) = match db.dialect() {
            Dialect::Sqlite => (2, 1),
            Dialect::Postgres => (16, 2),
        };
        Ok(InboxApp {
            inbox: Inbox::new(db, bus.clone(), clock),
            bus,
            concurrency,
            batches,
        })
    }

    pub fn inbox(&self) -> &Inbox {
        &self.inbox
    }

    /// Runs both consumers until `shutdown`.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> Result<(), BusError> {
        let inbox = self.inbox.clone();
        let events = run_batch_consumer(
            self.bus.clone(),
            events_queue(),
            BATCH,
            self.batches,
            shutdown.clone(),
            move |messages: Vec<Message>| {
                let inbox = inbox.clone();
                async move { deliver(&inbox, messages).await }
            },
        );
        let inbox = self.inbox.clone();
        let commands = run_consumer(
            self.bus.clone(),
            QueueSpec::commands(crate::SERVICE),
            self.concurrency,
            shutdown,
            move |message: Message| {
                let inbox = inbox.clone();
                async move { answer(&inbox, message).await }
            },
        );
        let (events, commands) = tokio::join!(events, commands);
        events.and(commands)
    }
}

async fn deliver(inbox: &Inbox, messages: Vec<Message>) -> Vec<Outcome> {
    host::apply_batch(messages, |batch: Vec<(Message, Notice)>| async move {
        inbox.deliver_all(&batch).await
    })
    .await
}

async fn answer(inbox: &Inbox, message: Message) -> Outcome {
    host::answer(message, |request: Request| inbox.handle(request)).await
}
