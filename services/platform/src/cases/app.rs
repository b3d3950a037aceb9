//! [`CaseApp`]: a runnable family service — its command consumer, its reaction consumer (when
//! the family reacts to other families' events) and its outbox relay.

use std::sync::Arc;

use casebridge_core::notice::Notice;
use casebridge_core::time::Clock;
use tokio_util::sync::CancellationToken;

use super::service::CaseService;
use super::{Family, Request, store};
use crate::bus::{Bus, BusError, Message, QueueSpec};
use crate::host::Host;
use crate::host::{self, run_batch_consumer, run_consumer};
use crate::ledger::{Signer, run_checkpointer};
use crate::outbox::OutboxRelay;
use crate::settings::LedgerSettings;
use crate::store::{Dialect, Messaging, Migration};

/// The most commands one transaction takes (within the bus's prefetch).
pub const COMMAND_BATCH: usize = 64;

pub use crate::host::StartError;

/// The queue of other families' events a family reacts to, if it reacts to any.
pub fn reactions_queue<F: Family>() -> Option<QueueSpec> {
    (!F::REACTS_TO.is_empty()).then(|| QueueSpec::events(F::SERVICE, F::REACTS_TO))
}

/// Every migration of a family service, in the order they run: the messaging, case and ledger
/// tables, then `extra`, the family's own.
pub fn migrations(service: &str, extra: Vec<Migration>) -> Vec<Migration> {
    let mut migrations = crate::store::messaging_migrations(service);
    migrations.extend(store::migrations(service));
    migrations.extend(crate::ledger::migrations(service));
    migrations.extend(extra);
    migrations
}

/// A migrated, declared, ready-to-run family service.
#[derive(Debug)]
pub struct CaseApp<F: Family + std::fmt::Debug> {
    service: CaseService<F>,
    bus: Bus,
    relay: OutboxRelay,
    signer: Signer,
    clock: Arc<dyn Clock>,
    ledger: LedgerSettings,
    concurrency: usize,
}

impl<F: Family + std::fmt::Debug> CaseApp<F> {
    /// Migrates the tables (the messaging, case and ledger tables, then `extra`, the family's
    /// own) and declares the queues.
    pub async fn build(
        family: F,
        host: Host,
        extra: Vec<Migration>,
    ) -> Result<CaseApp<F>, StartError> {
        let Host {
            db,
            bus,
            clock,
            signer,
            ledger,
        } = host;
        let service = F::SERVICE;
        let store_error = StartError::store(service);
        let bus_error = StartError::bus(service);
        db.migrate(service, &migrations(service, extra))
            .await
            .map_err(store_error)?;
        bus.declare(&QueueSpec::commands(service))
            .await
            .map_err(bus_error)?;
        if let Some(queue) = reactions_queue::<F>() {
            bus.declare(&queue).await.map_err(bus_error)?;
        }
        let relay = OutboxRelay::new(db.clone(), bus.clone(), &Messaging::new(service));
        // SQLite serialises on one connection; more handlers would only queue for it.
        let concurrency = match db.dialect() {
            Dialect::Sqlite => 4,
            Dialect::Postgres => 32,
        };
        Ok(CaseApp {
            service: CaseService::new(family, db, signer.clone(), clock.clone(), relay.clone()),
            bus,
            relay,
            signer,
            clock,
            ledger,
            concurrency,
        })
    }

    /// The service logic, for tests that call it without the bus.
    pub fn service(&self) -> &CaseService<F> {
        &self.service
    }

    /// Runs until `shutdown`, then lets in-flight work finish.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> Result<(), BusError> {
        let relay = tokio::spawn(self.relay.clone().run(shutdown.clone()));
        let checkpointer = tokio::spawn(run_checkpointer(
            self.service.chain().clone(),
            self.service.db().clone(),
            self.signer.clone(),
            self.clock.clone(),
            self.ledger.checkpoint_every,
            shutdown.clone(),
        ));
        let on_commands = self.service.clone();
        // Steps in batches, one transaction each (group commit): every step locks the chain's
        // head until its commit, so steps commit one after another in any case; one batch at a
        // time, so two batches never wait on each other's cases and the head.
        let commands = run_batch_consumer(
            self.bus.clone(),
            QueueSpec::commands(F::SERVICE),
            COMMAND_BATCH,
            1,
            shutdown.clone(),
            move |messages: Vec<Message>| {
                let service = on_commands.clone();
                async move {
                    host::answer_batch(messages, |requests: Vec<Request<F::Command>>| {
                        service.handle_batch(requests)
                    })
                    .await
                }
            },
        );
        let reactions = async {
            let Some(queue) = reactions_queue::<F>() else {
                return Ok(());
            };
            let on_events = self.service.clone();
            run_consumer(
                self.bus.clone(),
                queue,
                self.concurrency,
                shutdown.clone(),
                move |message: Message| {
                    let service = on_events.clone();
                    async move {
                        host::apply(message, |message, notice: Notice| async move {
                            service.react(&message, &notice).await
                        })
                        .await
                    }
                },
            )
            .await
        };
        let (commands, reactions) = tokio::join!(commands, reactions);
        shutdown.cancel();
        let _ = relay.await;
        let _ = checkpointer.await;
        commands.and(reactions)
    }
}
