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
use crate::store::{Db, StoreError};
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
    let queue = queue_label(&bus, &spec);
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
        let (bus, handle, queue) = (bus.clone(), handle.clone(), queue.clone());
        tasks.spawn(async move {
            settle(&bus, &queue, delivery, handle).await;
            drop(permit);
        });
        // Reap finished tasks so the set does not grow.
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    Ok(())
}

/// Consumes `spec` in batches until `shutdown`: waits for a delivery, adds whatever else has
/// already arrived (up to `max_batch`, within the bus's prefetch), and hands the messages to
/// `handle` together, which answers one [`Outcome`] per message, in order. Each delivery is then
/// settled by its own outcome, as [`run_consumer`] settles it. At most `in_flight` batches run
/// at a time.
///
/// For consumers whose cost per message is mostly a transaction's fixed cost and a shared row's
/// lock (the inbox appends to the same agency's inbox over and over): one commit and one lock
/// for many messages. Under a light load a batch is one message, so nothing waits for company.
pub async fn run_batch_consumer<F, Fut>(
    bus: Bus,
    spec: QueueSpec,
    max_batch: usize,
    in_flight: usize,
    shutdown: CancellationToken,
    handle: F,
) -> Result<(), BusError>
where
    F: Fn(Vec<Message>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Vec<Outcome>> + Send + 'static,
{
    let mut consumer = bus.consume(spec.clone()).await?;
    let queue = queue_label(&bus, &spec);
    let permits = Arc::new(Semaphore::new(in_flight.max(1)));
    let mut tasks = JoinSet::new();
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = shutdown.cancelled() => break,
        };
        let first = tokio::select! {
            d = consumer.next() => match d { Some(d) => d, None => break },
            _ = shutdown.cancelled() => break,
        };
        let mut batch = vec![first];
        while batch.len() < max_batch.max(1) {
            match consumer.try_next() {
                Some(delivery) => batch.push(delivery),
                None => break,
            }
        }
        let (bus, handle, queue) = (bus.clone(), handle.clone(), queue.clone());
        tasks.spawn(async move {
            settle_batch(&bus, &queue, batch, handle).await;
            drop(permit);
        });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    Ok(())
}

/// The queue's name for metrics: its durable name, or `notifications` for a transient queue.
/// Its counters start at 0 now, so a rate over them exists before the first redelivery.
fn queue_label(bus: &Bus, spec: &QueueSpec) -> Arc<str> {
    let name = bus
        .topology()
        .queue_name(spec)
        .unwrap_or_else(|| "notifications".to_owned());
    let metrics = crate::metrics::metrics();
    let label = crate::metrics::QueueLabel {
        queue: name.clone(),
    };
    metrics.bus_consumed.get_or_create(&label).inc_by(0);
    metrics.bus_redelivered.get_or_create(&label).inc_by(0);
    metrics.bus_dead_lettered.get_or_create(&label).inc_by(0);
    name.into()
}

async fn settle_batch<F, Fut>(bus: &Bus, queue: &str, batch: Vec<Delivery>, handle: F)
where
    F: Fn(Vec<Message>) -> Fut,
    Fut: Future<Output = Vec<Outcome>>,
{
    let span = tracing::info_span!("consume batch", queue, size = batch.len());
    // The batch continues the first message's trace and links the others' (a span has one
    // parent): under a light load a batch is one message, and its trace runs on unbroken.
    if let Some((first, rest)) = batch.split_first() {
        crate::telemetry::continue_trace(&span, &first.message.headers);
        for delivery in rest {
            crate::telemetry::link_trace(&span, &delivery.message.headers);
        }
    }
    for delivery in &batch {
        crate::metrics::metrics().consumed(queue, delivery.previous_deliveries);
    }
    async move {
        let outcomes = handle(batch.iter().map(|d| d.message.clone()).collect()).await;
        if outcomes.len() != batch.len() {
            tracing::error!(
                messages = batch.len(),
                outcomes = outcomes.len(),
                "a batch handler answered for a different number of messages; requeueing all"
            );
            for delivery in batch {
                if let Err(error) = delivery.requeue().await {
                    tracing::warn!(%error, "settling the delivery failed");
                }
            }
            return;
        }
        // One pause for the whole batch, so a broken dependency is not hammered.
        if outcomes.iter().any(|o| matches!(o, Outcome::Retry { .. })) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        for (delivery, outcome) in batch.into_iter().zip(outcomes) {
            settle_outcome(bus, queue, delivery, outcome, false).await;
        }
    }
    .instrument(span)
    .await
}

async fn settle<F, Fut>(bus: &Bus, queue: &str, delivery: Delivery, handle: F)
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
    crate::metrics::metrics().consumed(queue, delivery.previous_deliveries);
    async move {
        let outcome = handle(delivery.message.clone()).await;
        settle_outcome(bus, queue, delivery, outcome, true).await;
    }
    .instrument(span)
    .await
}

/// Replies (for a command that was answered), then acks, requeues or dead-letters `delivery`
/// by `outcome`; `pause_on_retry` waits a little before requeueing.
async fn settle_outcome(
    bus: &Bus,
    queue: &str,
    delivery: Delivery,
    outcome: Outcome,
    pause_on_retry: bool,
) {
    let reply_to = delivery.message.reply_to.clone();
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
            tracing::warn!(%error, message_id = %delivery.message.id, "processing failed; requeueing");
            // A short pause so a broken dependency is not hammered in a tight loop.
            if pause_on_retry {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            delivery.requeue().await
        }
        Outcome::Poison { error } => {
            tracing::error!(%error, message_id = %delivery.message.id, "message cannot be processed; dead-lettering");
            crate::metrics::metrics()
                .bus_dead_lettered
                .get_or_create(&crate::metrics::QueueLabel {
                    queue: queue.to_owned(),
                })
                .inc();
            delivery.dead_letter().await
        }
    };
    if let Err(error) = settled {
        // The broker will redeliver; handlers are idempotent.
        tracing::warn!(%error, "settling the delivery failed");
    }
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

/// A batch's messages decoded: a slot per message, holding the poison outcome of one that
/// does not decode (and `None` for the others), and the decoded ones with their messages, in
/// order. [`fill`] puts the decoded ones' outcomes back into their slots.
fn decode_batch<T: serde::de::DeserializeOwned>(
    messages: Vec<Message>,
) -> (Vec<Option<Outcome>>, Vec<(Message, T)>) {
    let mut slots = Vec::with_capacity(messages.len());
    let mut decoded = Vec::with_capacity(messages.len());
    for message in messages {
        match message.decode::<T>() {
            Ok(body) => {
                slots.push(None);
                decoded.push((message, body));
            }
            Err(e) => slots.push(Some(poison(e))),
        }
    }
    (slots, decoded)
}

/// The outcome of every message of a batch: the decoded ones' `answered`, in order, in the
/// slots [`decode_batch`] left for them.
fn fill(slots: Vec<Option<Outcome>>, answered: impl IntoIterator<Item = Outcome>) -> Vec<Outcome> {
    let mut answered = answered.into_iter();
    slots
        .into_iter()
        .map(|slot| {
            slot.or_else(|| answered.next())
                .unwrap_or_else(|| poison("no answer"))
        })
        .collect()
}

/// Answers a batch of request messages for [`run_batch_consumer`]: an undecodable one is
/// poison on its own; the others go to `handle` together, which answers each in order, and
/// each gets its own reply. When `handle` fails, they are retried together.
pub async fn answer_batch<Req, Rep, F, Fut>(messages: Vec<Message>, handle: F) -> Vec<Outcome>
where
    Req: serde::de::DeserializeOwned,
    Rep: serde::Serialize,
    F: FnOnce(Vec<Req>) -> Fut,
    Fut: Future<Output = Result<Vec<Rep>, crate::StoreError>>,
{
    let (slots, decoded) = decode_batch::<Req>(messages);
    if decoded.is_empty() {
        return fill(slots, []);
    }
    let count = decoded.len();
    let (messages, requests): (Vec<Message>, Vec<Req>) = decoded.into_iter().unzip();
    let answered: Vec<Outcome> = match handle(requests).await {
        Ok(replies) if replies.len() == count => replies
            .iter()
            .zip(&messages)
            .map(|(reply, message)| match serde_json::to_vec(reply) {
                Ok(body) => Outcome::Done {
                    reply: Some(message.reply_with(body)),
                },
                Err(e) => poison(e),
            })
            .collect(),
        Ok(replies) => {
            let error = format!(
                "{count} requests were answered with {} replies",
                replies.len()
            );
            (0..count)
                .map(|_| Outcome::Retry {
                    error: error.clone(),
                })
                .collect()
        }
        Err(e) => {
            let shared = failed(e);
            (0..count).map(|_| shared.duplicate()).collect()
        }
    };
    fill(slots, answered)
}

/// Applies a batch of event messages for [`run_batch_consumer`]: an undecodable one is poison
/// on its own; the others go to `apply` together, and share its fate (done, or retried or
/// dead-lettered together when it fails).
pub async fn apply_batch<Ev, T, F, Fut>(messages: Vec<Message>, apply: F) -> Vec<Outcome>
where
    Ev: serde::de::DeserializeOwned,
    F: FnOnce(Vec<(Message, Ev)>) -> Fut,
    Fut: Future<Output = Result<T, crate::StoreError>>,
{
    let (slots, decoded) = decode_batch::<Ev>(messages);
    if decoded.is_empty() {
        return fill(slots, []);
    }
    let count = decoded.len();
    let shared = match apply(decoded).await {
        Ok(_) => Outcome::Done { reply: None },
        Err(e) => failed(e),
    };
    fill(slots, (0..count).map(|_| shared.duplicate()))
}

impl Outcome {
    /// The same outcome for another message of a batch (a reply is never shared).
    fn duplicate(&self) -> Outcome {
        match self {
            Outcome::Done { .. } => Outcome::Done { reply: None },
            Outcome::Retry { error } => Outcome::Retry {
                error: error.clone(),
            },
            Outcome::Poison { error } => Outcome::Poison {
                error: error.clone(),
            },
        }
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

/// Why a service could not start: its store or its bus, with the service named. Every service
/// (the four families, the inbox, the deadlines and the evidence service) returns this one type.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{service} store: {source}")]
    Store {
        service: &'static str,
        source: StoreError,
    },
    #[error("{service} bus: {source}")]
    Bus {
        service: &'static str,
        source: BusError,
    },
}

impl StartError {
    /// A store error of `service`, for `map_err`.
    pub fn store(service: &'static str) -> impl Fn(StoreError) -> StartError + Copy {
        move |source| StartError::Store { service, source }
    }

    /// A bus error of `service`, for `map_err`.
    pub fn bus(service: &'static str) -> impl Fn(BusError) -> StartError + Copy {
        move |source| StartError::Bus { service, source }
    }
}
