//! The runnable deadlines service: its event consumer, its request consumer (monitor queries,
//! reports, extensions), its timer, its monthly reminders and its outbox relay.

use std::sync::Arc;
use std::time::Duration;

use casebridge_core::calendar::Calendar;
use casebridge_core::deadline::RuleTable;
use casebridge_core::directory::Directory;
use casebridge_core::notice::Notice;
use casebridge_core::time::Clock;
use casebridge_platform::bus::{Bus, BusError, Message, QueueSpec};
use casebridge_platform::host::{self, Outcome, run_consumer};
use casebridge_platform::outbox::OutboxRelay;
use casebridge_platform::store::{Db, Dialect, Messaging, StoreError};
use tokio_util::sync::CancellationToken;

use crate::api::Request;
use crate::handler::{BATCH, Deadlines};

/// The longest the timer sleeps: the bound on firing lag for obligations opened meanwhile
/// (in another replica) with an earlier moment than the one it knew of.
pub const TIMER_POLL: Duration = Duration::from_secs(1);

/// How often the reminder task looks at the clock for a new month (a primary-key lookup).
pub const REMINDER_POLL: Duration = Duration::from_secs(1);

/// Every family's events.
pub const EVENT_BINDINGS: &[&str] = &["referral.#", "transfer.#", "dispute.#", "opinion.#"];

pub fn events_queue() -> QueueSpec {
    QueueSpec::events(crate::SERVICE, EVENT_BINDINGS)
}

/// Start-up failures.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("deadlines store: {0}")]
    Store(#[from] StoreError),
    #[error("deadlines bus: {0}")]
    Bus(#[from] BusError),
}

/// A migrated, declared, ready-to-run deadlines service.
#[derive(Debug)]
pub struct DeadlinesApp {
    deadlines: Deadlines,
    bus: Bus,
    relay: OutboxRelay,
    concurrency: usize,
}

impl DeadlinesApp {
    pub async fn build(
        db: Db,
        bus: Bus,
        directory: Arc<Directory>,
        rules: Arc<RuleTable>,
        calendar: Arc<Calendar>,
        clock: Arc<dyn Clock>,
    ) -> Result<DeadlinesApp, StartError> {
        db.migrate(crate::SERVICE, &crate::store::migrations())
            .await?;
        bus.declare(&events_queue()).await?;
        bus.declare(&QueueSpec::commands(crate::SERVICE)).await?;
        let relay = OutboxRelay::new(db.clone(), bus.clone(), &Messaging::new(crate::SERVICE));
        let concurrency = match db.dialect() {
            Dialect::Sqlite => 1,
            Dialect::Postgres => 8,
        };
        let deadlines = Deadlines::new(db, directory, rules, calendar, clock, relay.clone());
        // A calendar year added since the last start gives undated obligations their due time.
        let dated = deadlines.refresh_undated().await?;
        if dated > 0 {
            tracing::info!(dated, "obligations without a due time now have one");
        }
        Ok(DeadlinesApp {
            deadlines,
            bus,
            relay,
            concurrency,
        })
    }

    /// The service logic, for tests that drive it without the bus or the timer.
    pub fn deadlines(&self) -> &Deadlines {
        &self.deadlines
    }

    /// Runs the event consumer, the request consumer, the timer, the monthly reminders and the
    /// relay until `shutdown`.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> Result<(), BusError> {
        let relay = tokio::spawn(self.relay.clone().run(shutdown.clone()));
        let timer = tokio::spawn(run_timer(self.deadlines.clone(), shutdown.clone()));
        // Its own task: a month's first aggregate over many obligations never delays the timer.
        let reminders = tokio::spawn(run_reminders(self.deadlines.clone(), shutdown.clone()));
        let on_events = self.deadlines.clone();
        let events = run_consumer(
            self.bus.clone(),
            events_queue(),
            self.concurrency,
            shutdown.clone(),
            move |message: Message| {
                let deadlines = on_events.clone();
                async move { handle_event(&deadlines, message).await }
            },
        );
        let on_queries = self.deadlines.clone();
        let queries = run_consumer(
            self.bus.clone(),
            QueueSpec::commands(crate::SERVICE),
            self.concurrency.max(4),
            shutdown.clone(),
            move |message: Message| {
                let deadlines = on_queries.clone();
                async move { handle_query(&deadlines, message).await }
            },
        );
        let (events, queries) = tokio::join!(events, queries);
        shutdown.cancel();
        let _ = timer.await;
        let _ = reminders.await;
        let _ = relay.await;
        events.and(queries)
    }
}

/// Fires due moments until `shutdown`: at once while batches come back full, otherwise after
/// sleeping until the next known moment (at most [`TIMER_POLL`]).
pub async fn run_timer(deadlines: Deadlines, shutdown: CancellationToken) {
    loop {
        let pause = match deadlines.fire_due().await {
            Ok(n) if n as i64 >= BATCH => Duration::ZERO,
            Ok(_) => match deadlines.next_moment().await {
                Ok(Some(next)) => {
                    let wait = next.as_millis() - deadlines.clock().now().as_millis();
                    Duration::from_millis(u64::try_from(wait).unwrap_or(0)).min(TIMER_POLL)
                }
                Ok(None) => TIMER_POLL,
                Err(error) => {
                    tracing::warn!(%error, "cannot read the next deadline moment");
                    TIMER_POLL
                }
            },
            Err(error) => {
                tracing::warn!(%error, "deadline timer pass failed; retrying");
                TIMER_POLL
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(pause) => {}
        }
    }
}

/// Sends each month's reminders (月提示) once, when the injected clock enters a new month.
pub async fn run_reminders(deadlines: Deadlines, shutdown: CancellationToken) {
    loop {
        if let Err(error) = deadlines.send_monthly_reminders().await {
            tracing::warn!(%error, "monthly reminders failed; retrying");
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(REMINDER_POLL) => {}
        }
    }
}

async fn handle_query(deadlines: &Deadlines, message: Message) -> Outcome {
    host::answer(message, |request: Request| deadlines.handle(request)).await
}

async fn handle_event(deadlines: &Deadlines, message: Message) -> Outcome {
    host::apply(message, |message, notice: Notice| async move {
        deadlines.on_event(&message, &notice).await
    })
    .await
}
