//! Running consumers with the delivery contract: process, commit, reply, then ack.
//!
//! A handler decides the fate of each message with an [`Outcome`]; [`run_consumer`] settles
//! the delivery accordingly. Handlers run concurrently up to a limit; every task they spawn is
//! owned by the consumer and finished before it returns.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::bus::{Bus, BusError, Delivery, Message, QueueSpec};
use crate::ledger::Signer;
use crate::settings::LedgerSettings;
use crate::store::Db;
use casebridge_core::time::Clock;

/// What every service process provides to a service: its store, the bus, the clock, the
/// operator's signing key and the ledger's settings.
#[derive(Debug, Clone)]
pub struct Host {
    pub db: Db,
    pub bus: Bus,
    pub clock: Arc<dyn Clock>,
    pub signer: Signer,
    pub ledger: LedgerSettings,
}

/// What became of a message.
#[derive(Debug)]
pub enum Outcome {
    /// Processed and committed; send `reply` (for commands) and ack.
    Done { reply: Option<Message> },
    /// A passing failure (database or broker down): requeue it for another try.
    Retry { error: String },
    /// It can never be processed (undecodable): dead-letter it.
    Poison { error: String },
}

/// Consumes `spec` until `shutdown`, running `handle` on each message, at most `concurrency`
/// at a time. After shutdown, in-flight handlers finish and settle before this returns.
pub async fn run_consumer<F, Fut>(
    bus: Bus,
    spec: QueueSpec,
    concurrency: usize,
    shutdown: CancellationToken,
    handle: F,
) -> Result<(), BusError>
where
    F: Fn(Message) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let mut consumer = bus.consume(spec.clone()).await?;
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = JoinSet::new();
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = shutdown.cancelled() => break,
        };
        let delivery = tokio::select! {
            d = consumer.next() => match d { Some(d) => d, None => break },
            _ = shutdown.cancelled() => break,
        };
        let (bus, handle) = (bus.clone(), handle.clone());
        tasks.spawn(async move {
            settle(&bus, delivery, handle).await;
            drop(permit);
        });
        // Reap finished tasks so the set does not grow.
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    Ok(())
}

async fn settle<F, Fut>(bus: &Bus, delivery: Delivery, handle: F)
where
    F: Fn(Message) -> Fut,
    Fut: Future<Output = Outcome>,
{
    let span = tracing::info_span!(
        "consume",
        kind = %delivery.message.kind,
        message_id = %delivery.message.id,
        redeliveries = delivery.previous_deliveries,
    );
    crate::telemetry::continue_trace(&span, &delivery.message.headers);
    async move {
        let reply_to = delivery.message.reply_to.clone();
        let outcome = handle(delivery.message.clone()).await;
        let settled = match outcome {
            Outcome::Done { reply } => {
                let replied = match (reply, reply_to) {
                    (Some(reply), Some(to)) => bus.reply(&to, &reply).await,
                    _ => Ok(()),
                };
                match replied {
                    Ok(()) => delivery.ack().await,
                    // Committed but not told: redelivery replays the stored reply.
                    Err(error) => {
                        tracing::warn!(%error, "reply failed; requeueing for a replay");
                        delivery.requeue().await
                    }
                }
            }
            Outcome::Retry { error } => {
                tracing::warn!(%error, "processing failed; requeueing");
                // A short pause so a broken dependency is not hammered in a tight loop.
                tokio::time::sleep(Duration::from_millis(100)).await;
                delivery.requeue().await
            }
            Outcome::Poison { error } => {
                tracing::error!(%error, "message cannot be processed; dead-lettering");
                delivery.dead_letter().await
            }
        };
        if let Err(error) = settled {
            // The broker will redeliver; handlers are idempotent.
            tracing::warn!(%error, "settling the delivery failed");
        }
    }
    .instrument(span)
    .await
}

/// Answers a request message: decodes it, runs `handle`, and replies with its encoded answer.
/// An undecodable request is poison (dead-lettered); a passing store failure is retried.
pub async fn answer<Req, Rep, F, Fut>(message: Message, handle: F) -> Outcome
where
    Req: serde::de::DeserializeOwned,
    Rep: serde::Serialize,
    F: FnOnce(Req) -> Fut,
    Fut: Future<Output = Result<Rep, crate::StoreError>>,
{
    let request: Req = match message.decode() {
        Ok(r) => r,
        Err(e) => return poison(e),
    };
    match handle(request).await {
        Ok(reply) => match serde_json::to_vec(&reply) {
            Ok(body) => Outcome::Done {
                reply: Some(message.reply_with(body)),
            },
            Err(e) => poison(e),
        },
        Err(e) => failed(e),
    }
}

/// Applies an event message: decodes its body and runs `apply` with the message (for its id)
/// and the body. An undecodable event is poison; a passing store failure is retried.
pub async fn apply<Ev, T, F, Fut>(message: Message, apply: F) -> Outcome
where
    Ev: serde::de::DeserializeOwned,
    F: FnOnce(Message, Ev) -> Fut,
    Fut: Future<Output = Result<T, crate::StoreError>>,
{
    let event: Ev = match message.decode() {
        Ok(e) => e,
        Err(e) => return poison(e),
    };
    match apply(message, event).await {
        Ok(_) => Outcome::Done { reply: None },
        Err(e) => failed(e),
    }
}

fn poison(error: impl std::fmt::Display) -> Outcome {
    Outcome::Poison {
        error: error.to_string(),
    }
}

fn failed(error: crate::StoreError) -> Outcome {
    if error.is_transient() {
        Outcome::Retry {
            error: error.to_string(),
        }
    } else {
        poison(error)
    }
}
