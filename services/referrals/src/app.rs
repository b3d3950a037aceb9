//! The runnable referrals service: its command consumer and its outbox relay.

use std::sync::Arc;

use casebridge_core::directory::Directory;
use casebridge_core::referral::ReferralPolicy;
use casebridge_core::time::Clock;
use casebridge_platform::bus::{Bus, BusError, Message, QueueSpec};
use casebridge_platform::host::{self, Outcome, run_consumer};
use casebridge_platform::outbox::OutboxRelay;
use casebridge_platform::store::{Db, Dialect, Messaging, StoreError};
use tokio_util::sync::CancellationToken;

use crate::api::Request;
use crate::handler::Referrals;

/// Start-up failures.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("referrals store: {0}")]
    Store(#[from] StoreError),
    #[error("referrals bus: {0}")]
    Bus(#[from] BusError),
}

/// A migrated, declared, ready-to-run referrals service.
#[derive(Debug)]
pub struct ReferralsApp {
    referrals: Referrals,
    bus: Bus,
    relay: OutboxRelay,
    concurrency: usize,
}

impl ReferralsApp {
    /// Migrates the tables and declares the command queue.
    pub async fn build(
        db: Db,
        bus: Bus,
        directory: Arc<Directory>,
        policy: ReferralPolicy,
        clock: Arc<dyn Clock>,
    ) -> Result<ReferralsApp, StartError> {
        db.migrate(crate::SERVICE, &crate::store::migrations())
            .await?;
        bus.declare(&QueueSpec::commands(crate::SERVICE)).await?;
        let relay = OutboxRelay::new(db.clone(), bus.clone(), &Messaging::new(crate::SERVICE));
        // SQLite serialises on one connection; more handlers would only queue for it.
        let concurrency = match db.dialect() {
            Dialect::Sqlite => 4,
            Dialect::Postgres => 32,
        };
        let referrals = Referrals::new(db, directory, policy, clock, relay.clone());
        Ok(ReferralsApp {
            referrals,
            bus,
            relay,
            concurrency,
        })
    }

    /// The service logic, for tests that call it without the bus.
    pub fn referrals(&self) -> &Referrals {
        &self.referrals
    }

    /// Runs until `shutdown`, then lets in-flight commands finish.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> Result<(), BusError> {
        let relay = tokio::spawn(self.relay.clone().run(shutdown.clone()));
        let referrals = self.referrals.clone();
        let consumed = run_consumer(
            self.bus.clone(),
            QueueSpec::commands(crate::SERVICE),
            self.concurrency,
            shutdown,
            move |message: Message| {
                let referrals = referrals.clone();
                async move { handle(&referrals, message).await }
            },
        )
        .await;
        let _ = relay.await;
        consumed
    }
}

async fn handle(referrals: &Referrals, message: Message) -> Outcome {
    host::answer(message, |request: Request| referrals.handle(request)).await
}
