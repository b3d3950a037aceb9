//! The runnable deadlines service: its event consumer, its request consumer (monitor queries,
//! reports, extensions), its timer, its monthly reminders and its outbox relay.

use std::sync::Arc;
use std::time::Duration;

use casebridge_core::calendar::LiveCalendar;
use casebridge_core::deadline::RuleTable;
use casebridge_core::directory::Directory;
use casebridge_core::dispute::DisputePolicy;
use casebridge_core::ids::AgencyCode;
use casebridge_core::notice::Notice;
use casebridge_core::time::Clock;
use casebridge_platform::bus::{Bus, BusError, Message, QueueSpec};
use casebridge_platform::host::{self, Host, Outcome, run_batch_consumer, run_consumer};
use casebridge_platform::ledger::{Signer, run_checkpointer};
use casebridge_platform::outbox::OutboxRelay;
use casebridge_platform::settings::LedgerSettings;
use casebridge_platform::store::{Dialect, Messaging};
use tokio_util::sync::CancellationToken;

use crate::api::Request;
use crate::handler::{BATCH, Deadlines};

/// The most family events one transaction applies.
pub const EVENT_BATCH: usize = 64;

/// The longest the timer sleeps: the bound on firing lag for obligations opened meanwhile
/// (in another replica) with an earlier moment than the one it knew of.
pub const TIMER_POLL: Duration = Duration::from_secs(1);

/// How often the reminder task looks at the clock for a new month, quarter or year (three
/// primary-key lookups).
pub const REMINDER_POLL: Duration = Duration::from_secs(1);

/// Every family's events: the bindings of [`events_queue`], which names the queue (for tests and
/// tear-down). The service itself binds only the events its rules name ([`events_queue_for`]).
pub const EVENT_BINDINGS: &[&str] = &["referral.#", "transfer.#", "dispute.#", "opinion.#"];

/// The penalty events the statistics' 移送率 reads (not named by any deadline rule): a record
/// with its screening, a correction screened again, a referral linked (also a rule's closing
/// event, bound either way).
pub const PENALTY_EVENTS: &[&str] = &[
    "penalty.recorded",
    "penalty.corrected",
    "penalty.referral_linked",
];

pub fn events_queue() -> QueueSpec {
    QueueSpec::events(crate::SERVICE, EVENT_BINDINGS)
}

/// The service's event queue, bound to exactly the events the rule table names (triggers,
/// fulfilling events, clock stops and restarts) and the penalty events of 移送率
/// ([`PENALTY_EVENTS`]). Its own `<family>.deadline_*` notices are not
/// among them, so a burst of misses does not come back to it. (A queue declared by an earlier
/// version keeps its `<family>.#` bindings; the service skips those notices.)
pub fn events_queue_for(rules: &RuleTable) -> QueueSpec {
    let events: std::collections::BTreeSet<&str> = rules
        .rules()
        .iter()
        .flat_map(|r| {
            r.trigger
                .iter()
                .chain(&r.closed_by)
                .chain(&r.pauses_on)
                .chain(&r.resumes_on)
        })
        .map(String::as_str)
        .chain(PENALTY_EVENTS.iter().copied())
        .collect();
    QueueSpec::Events {
        consumer: crate::SERVICE.to_owned(),
        bindings: events.into_iter().map(str::to_owned).collect(),
    }
}

pub use casebridge_platform::host::StartError;

/// A migrated, declared, ready-to-run deadlines service.
#[derive(Debug)]
pub struct DeadlinesApp {
    deadlines: Deadlines,
    bus: Bus,
    events: QueueSpec,
    relay: OutboxRelay,
    signer: Signer,
    clock: Arc<dyn Clock>,
    ledger: LedgerSettings,
    concurrency: usize,
    /// Timer loops claiming disjoint batches (PostgreSQL, `SKIP LOCKED`); one on SQLite, whose
    /// single connection serialises writers anyway.
    timers: usize,
}

impl DeadlinesApp {
    /// Migrates the tables (messaging, obligations, the service's chain) and declares the queues.
    pub async fn build(
        host: Host,
        directory: Arc<Directory>,
        rules: Arc<RuleTable>,
        calendar: impl Into<LiveCalendar>,
    ) -> Result<DeadlinesApp, StartError> {
        let Host {
            db,
            bus,
            clock,
            signer,
            ledger,
        } = host;
        db.migrate(crate::SERVICE, &crate::store::migrations())
            .await
            .map_err(StartError::store(crate::SERVICE))?;
        let events = events_queue_for(&rules);
        bus.declare(&events)
            .await
            .map_err(StartError::bus(crate::SERVICE))?;
        bus.declare(&QueueSpec::commands(crate::SERVICE))
            .await
            .map_err(StartError::bus(crate::SERVICE))?;
        // The periodic pushes report no period that ended before the first start: read once,
        // since it never changes after it is recorded.
        let in_service_since = crate::store::in_service_since(&db, clock.now())
            .await
            .map_err(StartError::store(crate::SERVICE))?;
        let relay = OutboxRelay::new(db.clone(), bus.clone(), &Messaging::new(crate::SERVICE));
        let (concurrency, timers) = match db.dialect() {
            Dialect::Sqlite => (1, 1),
            Dialect::Postgres => (8, 4),
        };
        let deadlines = Deadlines::new(
            db,
            directory,
            rules,
            calendar.into(),
            clock.clone(),
            relay.clone(),
            signer.clone(),
        )
        .with_in_service_since(in_service_since);
        // A rule changed since the last start restates the open obligations opened under it;
        // then a calendar year installed since moves the due times counted on it.
        let store_error = StartError::store(crate::SERVICE);
        deadlines
            .recount_changed_rules()
            .await
            .map_err(store_error)?;
        deadlines
            .recount_changed_years()
            .await
            .map_err(store_error)?;
        Ok(DeadlinesApp {
            deadlines,
            bus,
            events,
            relay,
            signer,
            clock,
            ledger,
            concurrency,
            timers,
        })
    }

    /// Escalations whose supervisor does not resolve go to `fallback`
    /// (`deadlines.fallback_supervisor`, verified at start-up against the directory).
    pub fn with_fallback_supervisor(mut self, fallback: Option<AgencyCode>) -> DeadlinesApp {
        self.deadlines = self.deadlines.with_fallback_supervisor(fallback);
        self
    }

    /// The dispute policy of the disputes service (`disputes`), so dispute steps escalate to the
    /// office that will rule on the dispute.
    pub fn with_dispute_policy(mut self, disputes: DisputePolicy) -> DeadlinesApp {
        self.deadlines = self.deadlines.with_dispute_policy(disputes);
        self
    }

    /// The service logic, for tests that drive it without the bus or the timer.
    pub fn deadlines(&self) -> &Deadlines {
        &self.deadlines
    }

    /// Runs the event consumer, the request consumer, the timer, the monthly reminders, the
    /// relay and the ledger's checkpointer until `shutdown`.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> Result<(), BusError> {
        let relay = tokio::spawn(self.relay.clone().run(shutdown.clone()));
        let checkpointer = tokio::spawn(run_checkpointer(
            self.deadlines.chain().clone(),
            self.deadlines.db().clone(),
            self.signer.clone(),
            self.clock.clone(),
            self.ledger.checkpoint_every,
            shutdown.clone(),
        ));
        let timers: Vec<_> = (0..self.timers)
            .map(|_| tokio::spawn(run_timer(self.deadlines.clone(), shutdown.clone())))
            .collect();
        // Its own task: a month's first aggregate over many obligations never delays the timer.
        let reminders = tokio::spawn(run_reminders(self.deadlines.clone(), shutdown.clone()));
        let recounts = tokio::spawn(run_recounts(self.deadlines.clone(), shutdown.clone()));
        let on_events = self.deadlines.clone();
        // One batch at a time: a case's events apply in the queue's order (a receipt never
        // before the submission that opened its deadline), many per transaction under load.
        let events = run_batch_consumer(
            self.bus.clone(),
            self.events.clone(),
            EVENT_BATCH,
            1,
            shutdown.clone(),
            move |messages: Vec<Message>| {
                let deadlines = on_events.clone();
                async move { handle_events(&deadlines, messages).await }
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
        for timer in timers {
            let _ = timer.await;
        }
        let _ = reminders.await;
        let _ = recounts.await;
        let _ = relay.await;
        let _ = checkpointer.await;
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

/// Sends each month's reminders (月提示), each quarter's bulletins (季通报) and each year's
/// statistics to the superiors once, when the injected clock enters a new period (or at start,
/// for a period whose push was missed while no replica ran).
pub async fn run_reminders(deadlines: Deadlines, shutdown: CancellationToken) {
    loop {
        if let Err(error) = deadlines.send_monthly_reminders().await {
            tracing::warn!(%error, "monthly reminders failed; retrying");
        }
        if let Err(error) = deadlines.send_quarterly_bulletins().await {
            tracing::warn!(%error, "quarterly bulletins failed; retrying");
        }
        if let Err(error) = deadlines.send_annual_statistics().await {
            tracing::warn!(%error, "annual statistics failed; retrying");
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(REMINDER_POLL) => {}
        }
    }
}

/// Recounts the due times whenever the live calendar changes (an official year installed while
/// the service runs): the check is one atomic load per [`REMINDER_POLL`].
pub async fn run_recounts(deadlines: Deadlines, shutdown: CancellationToken) {
    let mut seen = deadlines.live_calendar().generation();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(REMINDER_POLL) => {}
        }
        let generation = deadlines.live_calendar().generation();
        if generation == seen {
            continue;
        }
        match deadlines.recount_changed_years().await {
            Ok(_) => seen = generation,
            Err(error) => tracing::warn!(%error, "recounting due times failed; retrying"),
        }
    }
}

async fn handle_query(deadlines: &Deadlines, message: Message) -> Outcome {
    host::answer(message, |request: Request| deadlines.handle(request)).await
}

async fn handle_events(deadlines: &Deadlines, messages: Vec<Message>) -> Vec<Outcome> {
    host::apply_batch(messages, |batch: Vec<(Message, Notice)>| async move {
        deadlines.on_events(&batch).await
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_binds_the_events_its_rules_name_and_not_its_own_notices() {
        let rules = RuleTable::from_toml_str(include_str!("../../../deploy/rules.toml"))
            .expect("shipped rules");
        let QueueSpec::Events { consumer, bindings } = events_queue_for(&rules) else {
            panic!("an event queue");
        };
        assert_eq!(consumer, crate::SERVICE);
        for event in [
            "referral.submitted",
            "referral.receipt_signed",
            "transfer.sent",
            "opinion.requested",
            "opinion.delivered",
            "dispute.designated",
            "penalty.recorded",
            "penalty.corrected",
            "penalty.referral_linked",
        ] {
            assert!(bindings.iter().any(|b| b == event), "{event} is bound");
        }
        assert!(
            bindings
                .iter()
                .all(|b| !b.contains("deadline_") && !b.contains('#') && !b.contains('*')),
            "{bindings:?}"
        );
    }
}
