//! The production bus: RabbitMQ through lapin.
//!
//! - One connection per process, re-established on demand after a broker restart; each
//!   consumer re-opens its channel and re-subscribes by itself.
//! - A cluster is given as several node URLs, tried in order on every (re)connection, so losing
//!   the node a process is connected to moves it to the next one that answers.
//! - Publishing always uses a channel in confirm mode, with `mandatory` set: a negative confirm
//!   is [`BusError::Nacked`], a returned (unroutable) message is [`BusError::Unroutable`].
//! - Durable queues are quorum queues with `x-delivery-limit` and a dead-letter exchange, so a
//!   poison message is parked in `<ns>.dead-letters` after the limit instead of looping; it is
//!   dead-lettered at least once (`x-dead-letter-strategy`), never dropped on the way. On a
//!   single-node broker they may be classic queues instead (`bus.queue_type`): durable and
//!   confirmed once on disk, but without a delivery count, so without the limit.
//! - Replies come back on one exclusive, broker-named queue per process, matched by correlation id.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::StreamExt;
use lapin::Confirmation;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicGetOptions, BasicNackOptions, BasicPublishOptions,
    BasicQosOptions, BasicRejectOptions, ConfirmSelectOptions, ExchangeDeclareOptions,
    ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use tokio::sync::oneshot;

use super::{Acker, BusError, Delivery, Message, QueueSpec, Topology};
use crate::settings::QueueType;
use casebridge_core::ids::MessageId;

/// Connection settings of the AMQP bus.
#[derive(Debug, Clone)]
pub struct AmqpOptions {
    /// The nodes of the broker (one, or each node of a cluster), tried in order. `amqps://`
    /// URLs connect over TLS with [`AmqpOptions::tls`].
    pub urls: Vec<String>,
    /// How `amqps://` connections verify the broker and present themselves.
    pub tls: AmqpTls,
    pub prefetch: u16,
    pub delivery_limit: u32,
    /// What kind of queue the durable queues are.
    pub queue_type: QueueType,
}

/// TLS to the broker: the CA that signed its certificate (the system's roots when `None`) and
/// an optional client certificate (PEM), for brokers that ask for one.
#[derive(Clone, Default)]
pub struct AmqpTls {
    pub ca_pem: Option<String>,
    pub client: Option<(String, String)>,
}

impl std::fmt::Debug for AmqpTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpTls")
            .field("ca", &self.ca_pem.is_some())
            .field("client_certificate", &self.client.is_some())
            .finish()
    }
}

impl AmqpTls {
    fn config(&self) -> lapin::tcp::OwnedTLSConfig {
        lapin::tcp::OwnedTLSConfig {
            identity: self
                .client
                .as_ref()
                .map(|(cert, key)| lapin::tcp::OwnedIdentity::PKCS8 {
                    pem: cert.clone().into_bytes(),
                    key: key.clone().into_bytes(),
                }),
            cert_chain: self.ca_pem.clone(),
        }
    }
}

/// The AMQP bus. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AmqpBus {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    options: AmqpOptions,
    topology: Topology,
    link: tokio::sync::Mutex<Option<Arc<Link>>>,
    replies: Arc<Mutex<HashMap<String, oneshot::Sender<Message>>>>,
}

/// One live connection with its confirm-mode publishing channel and reply queue.
#[derive(Debug)]
struct Link {
    connection: Connection,
    publisher: Channel,
    reply_queue: String,
    /// Whether the reply consumer still reads `reply_queue`. A link whose replies stopped
    /// arriving (its channel closed while the connection stayed up) would publish every request
    /// and time out on every reply, for ever: it is not usable, and the next call reconnects.
    replies_alive: Arc<AtomicBool>,
}

impl Link {
    fn is_usable(&self) -> bool {
        self.connection.status().connected()
            && self.publisher.status().connected()
            && self.replies_alive.load(Ordering::Acquire)
    }
}

fn unavailable(e: impl std::fmt::Display) -> BusError {
    BusError::Unavailable(e.to_string())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl AmqpBus {
    /// Connects and declares the exchanges. Fails if the broker cannot be reached now;
    /// later losses of the connection are repaired on demand.
    pub async fn connect(options: AmqpOptions, topology: Topology) -> Result<AmqpBus, BusError> {
        let bus = AmqpBus {
            inner: Arc::new(Inner {
                options,
                topology,
                link: tokio::sync::Mutex::new(None),
                replies: Arc::new(Mutex::new(HashMap::new())),
            }),
        };
        bus.link().await?;
        Ok(bus)
    }

    pub fn topology(&self) -> &Topology {
        &self.inner.topology
    }

    /// Connected, or connects: readiness. The reconnection runs on its own task, so a caller
    /// that gives up waiting (the readiness probe's timeout) never abandons a link half opened.
    pub async fn check(&self) -> Result<(), BusError> {
        let bus = self.clone();
        tokio::spawn(async move { bus.link().await.map(|_| ()) })
            .await
            .unwrap_or_else(|e| Err(unavailable(e)))
    }

    /// The current link, reconnecting if the previous one broke.
    async fn link(&self) -> Result<Arc<Link>, BusError> {
        let mut guard = self.inner.link.lock().await;
        if let Some(link) = guard.as_ref().filter(|l| l.is_usable()) {
            return Ok(link.clone());
        }
        let link = Arc::new(self.open_link().await?);
        *guard = Some(link.clone());
        Ok(link)
    }

    /// Connects to the first node that answers, in the configured order.
    async fn connect_any(&self) -> Result<(Connection, &str), BusError> {
        let mut refusals = Vec::new();
        let runtime = lapin::runtime::default_runtime().map_err(unavailable)?;
        for url in &self.inner.options.urls {
            let connect = Connection::connect_with_config(
                url,
                ConnectionProperties::default().with_connection_name("casebridge".into()),
                self.inner.options.tls.config(),
                runtime.clone(),
            );
            match tokio::time::timeout(Duration::from_secs(5), connect).await {
                Ok(Ok(connection)) => return Ok((connection, url)),
                Ok(Err(e)) => refusals.push(format!("{}: {e}", redact_url(url))),
                Err(_) => refusals.push(format!(
                    "{}: connecting timed out after 5s",
                    redact_url(url)
                )),
            }
        }
        if refusals.is_empty() {
            return Err(BusError::Unavailable("no broker URL is configured".into()));
        }
        Err(BusError::Unavailable(refusals.join("; ")))
    }

    async fn open_link(&self) -> Result<Link, BusError> {
        let (connection, url) = self.connect_any().await?;
        let publisher = connection.create_channel().await.map_err(unavailable)?;
        publisher
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(unavailable)?;
        let t = &self.inner.topology;
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..ExchangeDeclareOptions::default()
        };
        for (name, kind) in [
            (t.commands_exchange(), ExchangeKind::Direct),
            (t.events_exchange(), ExchangeKind::Topic),
            (t.dead_letter_exchange(), ExchangeKind::Fanout),
        ] {
            publisher
                .exchange_declare(name.into(), kind, durable, FieldTable::default())
                .await
                .map_err(unavailable)?;
        }
        declare_durable(
            &publisher,
            &t.dead_letter_queue(),
            None,
            0,
            self.inner.options.queue_type,
        )
        .await?;
        publisher
            .queue_bind(
                t.dead_letter_queue().into(),
                t.dead_letter_exchange().into(),
                "".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(unavailable)?;

        // Replies: an exclusive queue named by the broker, read without acks. A lost reply
        // costs the caller a timeout and a retry with the same request id, nothing more.
        let reply_channel = connection.create_channel().await.map_err(unavailable)?;
        let reply_queue = reply_channel
            .queue_declare(
                "".into(),
                QueueDeclareOptions {
                    exclusive: true,
                    auto_delete: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(unavailable)?
            .name()
            .to_string();
        let mut replies = reply_channel
            .basic_consume(
                reply_queue.as_str().into(),
                "casebridge-replies".into(),
                BasicConsumeOptions {
                    no_ack: true,
                    ..BasicConsumeOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(unavailable)?;
        let waiting = self.inner.replies.clone();
        let replies_alive = Arc::new(AtomicBool::new(true));
        let alive = replies_alive.clone();
        tokio::spawn(async move {
            // Owned by the link: ends when the connection or the channel closes.
            let _channel = reply_channel;
            while let Some(Ok(delivery)) = replies.next().await {
                let message = from_amqp(&delivery.routing_key, &delivery.properties, delivery.data);
                let tx = message
                    .correlation_id
                    .as_ref()
                    .and_then(|c| lock(&waiting).remove(c));
                if let Some(tx) = tx {
                    let _ = tx.send(message);
                }
            }
            alive.store(false, Ordering::Release);
        });
        tracing::info!(url = %redact_url(url), "connected to the message broker");
        Ok(Link {
            connection,
            publisher,
            reply_queue,
            replies_alive,
        })
    }

    /// Drops `link` so the next call reconnects.
    async fn discard(&self, link: &Arc<Link>) {
        let mut guard = self.inner.link.lock().await;
        if guard.as_ref().is_some_and(|l| Arc::ptr_eq(l, link)) {
            *guard = None;
        }
    }

    async fn publish(
        &self,
        exchange: &str,
        routing_key: &str,
        message: &Message,
        reply_to: Option<&str>,
    ) -> Result<(), BusError> {
        let link = self.link().await?;
        let mut properties = to_amqp(message);
        if let Some(reply_to) = reply_to {
            properties = properties.with_reply_to(reply_to.into());
        }
        let sent = async {
            link.publisher
                .basic_publish(
                    exchange.into(),
                    routing_key.into(),
                    BasicPublishOptions {
                        mandatory: true,
                        immediate: false,
                    },
                    &message.body,
                    properties,
                )
                .await?
                .await
        }
        .await;
        match sent {
            Ok(Confirmation::Ack(None)) | Ok(Confirmation::NotRequested) => Ok(()),
            Ok(Confirmation::Ack(Some(_returned))) => {
                Err(BusError::Unroutable(routing_key.to_owned()))
            }
            Ok(Confirmation::Nack(_)) => {
                // Seen after a cluster node died: a channel that published while a quorum queue
                // elected its new leader went on being refused long after the election, where a
                // fresh channel is not. The retry gets a fresh link.
                self.discard(&link).await;
                Err(BusError::Nacked)
            }
            Err(e) => {
                self.discard(&link).await;
                Err(unavailable(e))
            }
        }
    }

    pub async fn declare(&self, spec: &QueueSpec) -> Result<(), BusError> {
        let link = self.link().await?;
        let channel = link
            .connection
            .create_channel()
            .await
            .map_err(unavailable)?;
        let declared = declare_spec(
            &channel,
            &self.inner.topology,
            spec,
            self.inner.options.delivery_limit,
            self.inner.options.queue_type,
        )
        .await;
        let _ = channel.close(200, "declared".into()).await;
        declared.map(|_| ())
    }

    pub async fn publish_event(&self, message: &Message) -> Result<(), BusError> {
        self.publish(
            &self.inner.topology.events_exchange(),
            &message.kind,
            message,
            None,
        )
        .await
    }

    pub async fn request(
        &self,
        service: &str,
        mut message: Message,
        timeout: Duration,
    ) -> Result<Message, BusError> {
        let correlation = uuid::Uuid::new_v4().to_string();
        message.correlation_id = Some(correlation.clone());
        let (tx, rx) = oneshot::channel();
        lock(&self.inner.replies).insert(correlation.clone(), tx);
        let reply_queue = self.link().await.map(|l| l.reply_queue.clone());
        let outcome = async {
            let reply_queue = reply_queue?;
            let exchange = self.inner.topology.commands_exchange();
            self.publish(&exchange, service, &message, Some(&reply_queue))
                .await?;
            match tokio::time::timeout(timeout, rx).await {
                Ok(Ok(reply)) => Ok(reply),
                Ok(Err(_)) => Err(BusError::Closed),
                Err(_) => Err(BusError::Timeout(timeout)),
            }
        }
        .await;
        lock(&self.inner.replies).remove(&correlation);
        outcome
    }

    pub async fn reply(&self, reply_to: &str, reply: &Message) -> Result<(), BusError> {
        match self.publish("", reply_to, reply, None).await {
            // The requester is gone (its exclusive queue with it): nobody to tell.
            Err(BusError::Unroutable(_)) => Ok(()),
            other => other,
        }
    }

    pub async fn consume(&self, spec: QueueSpec) -> Result<AmqpConsumer, BusError> {
        let mut consumer = AmqpConsumer {
            bus: self.clone(),
            spec,
            live: None,
        };
        consumer.open().await?;
        Ok(consumer)
    }

    /// Deletes the queues of `specs`, the dead-letter queue and the namespace's exchanges.
    /// For tests and for decommissioning a namespace; never called in normal operation.
    pub async fn delete_topology(&self, specs: &[QueueSpec]) -> Result<(), BusError> {
        let link = self.link().await?;
        let channel = link
            .connection
            .create_channel()
            .await
            .map_err(unavailable)?;
        let t = &self.inner.topology;
        let queues = specs
            .iter()
            .filter_map(|s| t.queue_name(s))
            .chain([t.dead_letter_queue()]);
        for queue in queues {
            channel
                .queue_delete(queue.into(), QueueDeleteOptions::default())
                .await
                .map_err(unavailable)?;
        }
        for exchange in [
            t.commands_exchange(),
            t.events_exchange(),
            t.dead_letter_exchange(),
        ] {
            channel
                .exchange_delete(exchange.into(), ExchangeDeleteOptions::default())
                .await
                .map_err(unavailable)?;
        }
        let _ = channel.close(200, "deleted".into()).await;
        Ok(())
    }

    /// Closes the connection; unacknowledged deliveries return to their queues.
    pub async fn close(&self) {
        if let Some(link) = self.inner.link.lock().await.take() {
            let _ = link.connection.close(200, "closing".into()).await;
        }
    }

    pub async fn dead_letters(&self, limit: usize) -> Result<Vec<Message>, BusError> {
        let link = self.link().await?;
        let channel = link
            .connection
            .create_channel()
            .await
            .map_err(unavailable)?;
        let mut found = Vec::new();
        while found.len() < limit {
            let got = channel
                .basic_get(
                    self.inner.topology.dead_letter_queue().into(),
                    BasicGetOptions { no_ack: false },
                )
                .await
                .map_err(unavailable)?;
            let Some(got) = got else { break };
            let d = got.delivery;
            found.push(from_amqp(&d.routing_key, &d.properties, d.data));
        }
        // Closing the channel returns every unacknowledged message to the queue: a peek.
        let _ = channel.close(200, "peeked".into()).await;
        Ok(found)
    }
}

fn queue_arguments(topology: &Topology, delivery_limit: u32, queue_type: QueueType) -> FieldTable {
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString(queue_type.as_str().into()),
    );
    if delivery_limit == 0 {
        return args;
    }
    args.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString(topology.dead_letter_exchange().into()),
    );
    if queue_type == QueueType::Classic {
        // A classic queue counts no deliveries and dead-letters at most once: only what a
        // consumer rejects on purpose is parked (`bus.queue_type` says so).
        return args;
    }
    args.insert(
        "x-delivery-limit".into(),
        AMQPValue::LongLongInt(i64::from(delivery_limit)),
    );
    // RabbitMQ's default dead-lettering is at most once: a message dead-lettered while the
    // dead-letter queue's node is away is dropped. At least once keeps it in the source
    // queue until the dead-letter queue confirms it; RabbitMQ requires reject-publish
    // overflow for that (a full queue refuses new messages instead of dropping old ones).
    args.insert(
        "x-dead-letter-strategy".into(),
        AMQPValue::LongString("at-least-once".into()),
    );
    args.insert(
        "x-overflow".into(),
        AMQPValue::LongString("reject-publish".into()),
    );
    args
}

/// [`queue_arguments`] as JSON, for a definitions file ([`Topology::definitions`]): the same
/// table, so a queue declared from the file is equivalent to one the bus declares.
pub(crate) fn queue_arguments_json(
    topology: &Topology,
    delivery_limit: u32,
    queue_type: QueueType,
) -> serde_json::Value {
    let arguments = queue_arguments(topology, delivery_limit, queue_type)
        .inner()
        .iter()
        .map(|(key, value)| {
            let value = match value {
                AMQPValue::LongString(text) => serde_json::Value::from(text.to_string()),
                AMQPValue::LongLongInt(n) => serde_json::Value::from(*n),
                // queue_arguments writes only the two kinds above.
                other => serde_json::Value::from(format!("{other:?}")),
            };
            (key.to_string(), value)
        })
        .collect::<serde_json::Map<_, _>>();
    serde_json::Value::Object(arguments)
}

async fn declare_durable(
    channel: &Channel,
    name: &str,
    topology: Option<&Topology>,
    delivery_limit: u32,
    queue_type: QueueType,
) -> Result<(), BusError> {
    let args = match topology {
        Some(t) => queue_arguments(t, delivery_limit, queue_type),
        None => queue_arguments(&Topology::new(""), 0, queue_type),
    };
    channel
        .queue_declare(
            name.into(),
            QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            },
            args,
        )
        .await
        .map_err(unavailable)?;
    Ok(())
}

/// Declares the queue of `spec` with its bindings and returns its name.
async fn declare_spec(
    channel: &Channel,
    topology: &Topology,
    spec: &QueueSpec,
    delivery_limit: u32,
    queue_type: QueueType,
) -> Result<String, BusError> {
    let bind = |queue: String, exchange: String, key: String| async move {
        channel
            .queue_bind(
                queue.into(),
                exchange.into(),
                key.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(unavailable)
    };
    match spec {
        QueueSpec::Commands { service } => {
            let name = topology.queue_name(spec).unwrap_or_default();
            declare_durable(channel, &name, Some(topology), delivery_limit, queue_type).await?;
            bind(name.clone(), topology.commands_exchange(), service.clone()).await?;
            Ok(name)
        }
        QueueSpec::Events { bindings, .. } => {
            let name = topology.queue_name(spec).unwrap_or_default();
            declare_durable(channel, &name, Some(topology), delivery_limit, queue_type).await?;
            for pattern in bindings {
                bind(name.clone(), topology.events_exchange(), pattern.clone()).await?;
            }
            Ok(name)
        }
        QueueSpec::Notifications { bindings } => {
            let name = channel
                .queue_declare(
                    "".into(),
                    QueueDeclareOptions {
                        exclusive: true,
                        auto_delete: true,
                        ..QueueDeclareOptions::default()
                    },
                    FieldTable::default(),
                )
                .await
                .map_err(unavailable)?
                .name()
                .to_string();
            for pattern in bindings {
                bind(name.clone(), topology.events_exchange(), pattern.clone()).await?;
            }
            Ok(name)
        }
    }
}

/// A consumer that survives broker restarts: on any channel failure it reconnects,
/// re-declares and re-subscribes; the broker redelivers what was not acked.
#[derive(Debug)]
pub struct AmqpConsumer {
    bus: AmqpBus,
    spec: QueueSpec,
    live: Option<(Channel, lapin::Consumer)>,
}

impl AmqpConsumer {
    async fn open(&mut self) -> Result<(), BusError> {
        let link = self.bus.link().await?;
        let channel = link
            .connection
            .create_channel()
            .await
            .map_err(unavailable)?;
        let no_ack = matches!(self.spec, QueueSpec::Notifications { .. });
        if !no_ack {
            channel
                .basic_qos(self.bus.inner.options.prefetch, BasicQosOptions::default())
                .await
                .map_err(unavailable)?;
        }
        let queue = declare_spec(
            &channel,
            &self.bus.inner.topology,
            &self.spec,
            self.bus.inner.options.delivery_limit,
            self.bus.inner.options.queue_type,
        )
        .await?;
        let consumer = channel
            .basic_consume(
                queue.into(),
                "".into(),
                BasicConsumeOptions {
                    no_ack,
                    ..BasicConsumeOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(unavailable)?;
        self.live = Some((channel, consumer));
        Ok(())
    }

    /// A delivery the channel already holds (within the prefetch window), or `None`.
    pub fn try_next(&mut self) -> Option<Delivery> {
        use futures_util::FutureExt as _;
        let (_, consumer) = self.live.as_mut()?;
        // Polling a lapin consumer once is cancel-safe: it only takes from its buffer.
        match consumer.next().now_or_never() {
            Some(Some(Ok(d))) => Some(self.delivery(d)),
            // A failed or ended stream: `next` reconnects.
            Some(Some(Err(_)) | None) => {
                self.live = None;
                None
            }
            None => None,
        }
    }

    fn delivery(&self, d: lapin::message::Delivery) -> Delivery {
        let previous_deliveries = delivery_count(&d.properties);
        let acker = if matches!(self.spec, QueueSpec::Notifications { .. }) {
            Acker::None
        } else {
            Acker::Amqp(d.acker)
        };
        Delivery {
            message: from_amqp(&d.routing_key, &d.properties, d.data),
            previous_deliveries,
            acker,
        }
    }

    /// The next delivery. Waits through broker outages, retrying with back-off.
    pub async fn next(&mut self) -> Option<Delivery> {
        let mut backoff = Duration::from_millis(100);
        loop {
            if self.live.is_none() {
                if let Err(error) = self.open().await {
                    tracing::warn!(%error, spec = ?self.spec, "consumer cannot subscribe; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                    continue;
                }
                backoff = Duration::from_millis(100);
            }
            let Some((_, consumer)) = self.live.as_mut() else {
                continue;
            };
            match consumer.next().await {
                Some(Ok(d)) => return Some(self.delivery(d)),
                Some(Err(error)) => {
                    tracing::warn!(%error, "consumer channel failed; reconnecting");
                    self.live = None;
                }
                None => {
                    tracing::warn!("consumer stream ended; reconnecting");
                    self.live = None;
                }
            }
        }
    }
}

fn delivery_count(properties: &BasicProperties) -> u32 {
    let value = properties.headers().as_ref().and_then(|h| {
        h.inner()
            .get(&ShortString::from("x-delivery-count"))
            .cloned()
    });
    match value {
        Some(AMQPValue::LongLongInt(n)) => u32::try_from(n).unwrap_or(u32::MAX),
        Some(AMQPValue::LongInt(n)) => u32::try_from(n).unwrap_or(u32::MAX),
        Some(AMQPValue::LongUInt(n)) => n,
        _ => 0,
    }
}

pub(crate) async fn ack(acker: &lapin::Acker) -> Result<(), BusError> {
    acker
        .ack(BasicAckOptions::default())
        .await
        .map(|_| ())
        .map_err(unavailable)
}

pub(crate) async fn requeue(acker: &lapin::Acker) -> Result<(), BusError> {
    acker
        .nack(BasicNackOptions {
            requeue: true,
            multiple: false,
        })
        .await
        .map(|_| ())
        .map_err(unavailable)
}

pub(crate) async fn dead_letter(acker: &lapin::Acker) -> Result<(), BusError> {
    acker
        .reject(BasicRejectOptions { requeue: false })
        .await
        .map(|_| ())
        .map_err(unavailable)
}

fn to_amqp(message: &Message) -> BasicProperties {
    let mut headers = FieldTable::default();
    for (k, v) in &message.headers {
        headers.insert(k.as_str().into(), AMQPValue::LongString(v.as_str().into()));
    }
    let mut properties = BasicProperties::default()
        .with_message_id(message.id.to_string().into())
        .with_type(message.kind.as_str().into())
        .with_content_type("application/json".into())
        .with_delivery_mode(2) // persistent
        .with_headers(headers);
    if let Some(c) = &message.correlation_id {
        properties = properties.with_correlation_id(c.as_str().into());
    }
    properties
}

fn from_amqp(routing_key: &ShortString, properties: &BasicProperties, body: Vec<u8>) -> Message {
    let mut headers = BTreeMap::new();
    if let Some(table) = properties.headers() {
        for (k, v) in table.inner() {
            if let AMQPValue::LongString(s) = v {
                headers.insert(
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(s.as_bytes()).into_owned(),
                );
            }
        }
    }
    let id = properties
        .message_id()
        .as_ref()
        .and_then(|id| MessageId::parse(id.as_str()).ok())
        // A message from outside CaseBridge without our id still gets a stable identity.
        .unwrap_or_else(|| content_id(&body));
    Message {
        id,
        kind: properties
            .kind()
            .as_ref()
            .map(|k| k.as_str().to_owned())
            .unwrap_or_else(|| routing_key.as_str().to_owned()),
        correlation_id: properties
            .correlation_id()
            .as_ref()
            .map(|c| c.as_str().to_owned()),
        reply_to: properties
            .reply_to()
            .as_ref()
            .map(|r| r.as_str().to_owned()),
        headers,
        body,
    }
}

/// A message id derived from the content, for foreign messages that carry none.
fn content_id(body: &[u8]) -> MessageId {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(body);
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    let uuid = uuid::Builder::from_random_bytes(bytes).into_uuid();
    MessageId::parse(&uuid.to_string()).unwrap_or_else(|_| MessageId::generate())
}

/// The URL without its password, for logs.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://…@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests;
