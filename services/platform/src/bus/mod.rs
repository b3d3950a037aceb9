//! The message bus contract shared by the AMQP and embedded implementations.
//!
//! Contract, identical on both buses (the conformance tests in `tests/bus.rs` run against each):
//! - **Commands** go to one durable queue per service and carry a `reply_to`; the service replies
//!   only after its transaction commits ([`Bus::request`] / [`Bus::reply`]).
//! - **Events** go to a topic exchange with routing keys `<family>.<event>`; each consuming service
//!   has its own durable queue bound by patterns (`*` one word, `#` any number of words).
//!   Publishing is confirmed; an event no durable queue is bound for is [`BusError::Unroutable`],
//!   so the outbox keeps it rather than dropping it.
//! - **Delivery** is at least once: a consumer acks after its own commit, rejects a message it can
//!   never process (to the dead-letter queue), and requeues on a passing failure; after
//!   `delivery_limit` deliveries a message is dead-lettered.
//! - **Notifications** are transient queues (one per gateway process) used only as wake-ups; losing
//!   one delays nothing for long, because readers also poll.

pub mod amqp;
pub mod embedded;

use std::collections::BTreeMap;
use std::time::Duration;

use casebridge_core::ids::MessageId;
use serde::{Deserialize, Serialize};

/// A message on the bus: an envelope around a JSON body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Unique per message; consumers deduplicate by it.
    pub id: MessageId,
    /// The routing key: `<family>.<event>` for events, the command name for commands.
    pub kind: String,
    /// Set on requests and copied onto their reply.
    pub correlation_id: Option<String>,
    /// Where the reply goes (set by [`Bus::request`]).
    pub reply_to: Option<String>,
    /// Trace context (`traceparent`) and other metadata.
    pub headers: BTreeMap<String, String>,
    /// JSON body.
    #[serde(with = "body_text")]
    pub body: Vec<u8>,
}

/// A message body, stored (outbox, embedded queues) as a JSON string when it is UTF-8, which a
/// JSON body always is, rather than as serde's default array of numbers (about 3.7 characters
/// per byte). Both forms are read, so rows written before still decode.
mod body_text {
    use serde::de::{self, Deserializer, SeqAccess, Visitor};
    use serde::ser::Serializer;

    pub fn serialize<S: Serializer>(body: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(body) {
            Ok(text) => serializer.serialize_str(text),
            Err(_) => serializer.collect_seq(body),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        struct Body;
        impl<'de> Visitor<'de> for Body {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a message body: a string or an array of bytes")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Vec<u8>, E> {
                Ok(text.as_bytes().to_vec())
            }
            fn visit_string<E: de::Error>(self, text: String) -> Result<Vec<u8>, E> {
                Ok(text.into_bytes())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
                let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(byte) = seq.next_element::<u8>()? {
                    bytes.push(byte);
                }
                Ok(bytes)
            }
        }
        deserializer.deserialize_any(Body)
    }
}

impl Message {
    /// A new message with a fresh id and the current trace context in its headers.
    pub fn new(kind: impl Into<String>, body: Vec<u8>) -> Message {
        let mut headers = BTreeMap::new();
        crate::telemetry::inject_context(&mut headers);
        Message {
            id: MessageId::generate(),
            kind: kind.into(),
            correlation_id: None,
            reply_to: None,
            headers,
            body,
        }
    }

    /// A message whose body is `value` encoded as JSON.
    pub fn json<T: Serialize>(kind: impl Into<String>, value: &T) -> Result<Message, BusError> {
        let body = serde_json::to_vec(value).map_err(|e| BusError::Encode(e.to_string()))?;
        Ok(Message::new(kind, body))
    }

    /// Decodes the JSON body. The error never quotes the body (see [`without_values`]).
    pub fn decode<T: for<'de> Deserialize<'de>>(&self) -> Result<T, BusError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| BusError::Decode(without_values(&e.to_string())))
    }

    /// The reply to this request, carrying its correlation id.
    pub fn reply_with(&self, body: Vec<u8>) -> Message {
        let mut reply = Message::new(format!("{}.reply", self.kind), body);
        reply.correlation_id = self.correlation_id.clone();
        reply
    }
}

/// Names of exchanges and queues, all under one namespace so tests can run side by side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    namespace: String,
}

impl Topology {
    pub fn new(namespace: impl Into<String>) -> Topology {
        Topology {
            namespace: namespace.into(),
        }
    }
    pub fn namespace(&self) -> &str {
        &self.namespace
    }
    /// Direct exchange for commands, routed by service name.
    pub fn commands_exchange(&self) -> String {
        format!("{}.commands", self.namespace)
    }
    /// Topic exchange for events.
    pub fn events_exchange(&self) -> String {
        format!("{}.events", self.namespace)
    }
    /// Fanout exchange that receives rejected and over-delivered messages.
    pub fn dead_letter_exchange(&self) -> String {
        format!("{}.dead-letter", self.namespace)
    }
    /// The one queue bound to the dead-letter exchange.
    pub fn dead_letter_queue(&self) -> String {
        format!("{}.dead-letters", self.namespace)
    }
    /// The durable queue a [`QueueSpec`] names (transient queues are named by the broker).
    pub fn queue_name(&self, spec: &QueueSpec) -> Option<String> {
        match spec {
            QueueSpec::Commands { service } => {
                Some(format!("{}.{service}.commands", self.namespace))
            }
            QueueSpec::Events { consumer, .. } => {
                Some(format!("{}.{consumer}.events", self.namespace))
            }
            QueueSpec::Notifications { .. } => None,
        }
    }

    /// The topology as a RabbitMQ definitions file (`rabbitmqctl import_definitions`, or the
    /// management API's `POST /api/definitions`) for `vhost`: the three exchanges, the
    /// dead-letter queue and its binding, and each durable queue of `queues` with the
    /// arguments and bindings [`amqp::AmqpBus`] declares for `delivery_limit`
    /// (`bus.delivery_limit`) and `queue_type` (`bus.queue_type`). Queues declared in advance this way are the ones the services
    /// then declare again at start: RabbitMQ accepts the redeclaration because the arguments
    /// are equal, and refuses it (`PRECONDITION_FAILED`) when they differ, e.g. a file made for
    /// another delivery limit. Transient queues (notifications, replies) are left out: each
    /// process makes its own.
    pub fn definitions(
        &self,
        vhost: &str,
        queues: &[QueueSpec],
        delivery_limit: u32,
        queue_type: crate::settings::QueueType,
    ) -> serde_json::Value {
        use serde_json::json;
        let exchange = |name: String, kind: &str| {
            json!({
                "name": name,
                "vhost": vhost,
                "type": kind,
                "durable": true,
                "auto_delete": false,
                "internal": false,
                "arguments": {},
            })
        };
        let queue = |name: String, limit: u32| {
            json!({
                "name": name,
                "vhost": vhost,
                "durable": true,
                "auto_delete": false,
                "arguments": amqp::queue_arguments_json(self, limit, queue_type),
            })
        };
        let binding = |exchange: String, queue: String, key: &str| {
            json!({
                "source": exchange,
                "vhost": vhost,
                "destination": queue,
                "destination_type": "queue",
                "routing_key": key,
                "arguments": {},
            })
        };
        // The dead-letter queue has no limit and no dead-letter exchange of its own: a message
        // parked there stays until an operator moves it.
        let mut declared = vec![queue(self.dead_letter_queue(), 0)];
        let mut bindings = vec![binding(
            self.dead_letter_exchange(),
            self.dead_letter_queue(),
            "",
        )];
        for spec in queues {
            let Some(name) = self.queue_name(spec) else {
                continue;
            };
            declared.push(queue(name.clone(), delivery_limit));
            match spec {
                QueueSpec::Commands { service } => {
                    bindings.push(binding(self.commands_exchange(), name, service));
                }
                QueueSpec::Events { bindings: keys, .. } => {
                    for key in keys {
                        bindings.push(binding(self.events_exchange(), name.clone(), key));
                    }
                }
                QueueSpec::Notifications { .. } => {}
            }
        }
        json!({
            "vhosts": [{ "name": vhost }],
            "exchanges": [
                exchange(self.commands_exchange(), "direct"),
                exchange(self.events_exchange(), "topic"),
                exchange(self.dead_letter_exchange(), "fanout"),
            ],
            "queues": declared,
            "bindings": bindings,
        })
    }
}

/// What a consumer reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueSpec {
    /// The durable command queue of `service`.
    Commands { service: String },
    /// A durable event queue owned by `consumer`, bound to the given topic patterns.
    Events {
        consumer: String,
        bindings: Vec<String>,
    },
    /// A transient, exclusive queue bound to the given patterns; messages need no ack.
    Notifications { bindings: Vec<String> },
}

impl QueueSpec {
    pub fn commands(service: &str) -> QueueSpec {
        QueueSpec::Commands {
            service: service.to_owned(),
        }
    }
    pub fn events(consumer: &str, bindings: &[&str]) -> QueueSpec {
        QueueSpec::Events {
            consumer: consumer.to_owned(),
            bindings: bindings.iter().map(|b| (*b).to_owned()).collect(),
        }
    }
    pub fn notifications(bindings: &[&str]) -> QueueSpec {
        QueueSpec::Notifications {
            bindings: bindings.iter().map(|b| (*b).to_owned()).collect(),
        }
    }
}

/// AMQP topic matching: words split on `.`, `*` matches one word, `#` matches zero or more.
pub fn topic_matches(pattern: &str, key: &str) -> bool {
    fn go(p: &[&str], k: &[&str]) -> bool {
        match (p.first(), k.first()) {
            (None, None) => true,
            (Some(&"#"), _) => go(&p[1..], k) || (!k.is_empty() && go(p, &k[1..])),
            (Some(&"*"), Some(_)) => go(&p[1..], &k[1..]),
            (Some(pw), Some(kw)) if pw == kw => go(&p[1..], &k[1..]),
            _ => false,
        }
    }
    let p: Vec<&str> = pattern.split('.').collect();
    let k: Vec<&str> = key.split('.').collect();
    go(&p, &k)
}

/// Failures of the bus. [`BusError::is_transient`] tells a caller whether retrying can help.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("message broker unavailable: {0}")]
    Unavailable(String),
    #[error("broker refused the message (negative publisher confirm)")]
    Nacked,
    #[error("no queue is bound for routing key {0}")]
    Unroutable(String),
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    #[error("embedded bus storage failed: {0}")]
    Storage(String),
    #[error("cannot encode message: {0}")]
    Encode(String),
    #[error("cannot decode message: {0}")]
    Decode(String),
    #[error("bus is shut down")]
    Closed,
}

impl BusError {
    /// Whether the same operation may succeed later.
    pub fn is_transient(&self) -> bool {
        !matches!(self, BusError::Encode(_) | BusError::Decode(_))
    }
}

/// The bus in use: chosen once at start-up from settings.
#[derive(Debug, Clone)]
pub enum Bus {
    Amqp(amqp::AmqpBus),
    Embedded(embedded::EmbeddedBus),
}

impl Bus {
    pub fn topology(&self) -> &Topology {
        match self {
            Bus::Amqp(b) => b.topology(),
            Bus::Embedded(b) => b.topology(),
        }
    }

    /// Declares a durable queue and its bindings so messages published before its consumer
    /// starts are kept. Idempotent.
    pub async fn declare(&self, spec: &QueueSpec) -> Result<(), BusError> {
        match self {
            Bus::Amqp(b) => b.declare(spec).await,
            Bus::Embedded(b) => b.declare(spec).await,
        }
    }

    /// Publishes an event to the topic exchange and waits for the confirm.
    pub async fn publish_event(&self, message: &Message) -> Result<(), BusError> {
        match self {
            Bus::Amqp(b) => b.publish_event(message).await,
            Bus::Embedded(b) => b.publish_event(message).await,
        }?;
        published("events");
        Ok(())
    }

    /// Sends a command to `service` and waits up to `timeout` for its reply.
    pub async fn request(
        &self,
        service: &str,
        message: Message,
        timeout: Duration,
    ) -> Result<Message, BusError> {
        let reply = match self {
            Bus::Amqp(b) => b.request(service, message, timeout).await,
            Bus::Embedded(b) => b.request(service, message, timeout).await,
        };
        // Sent, whatever became of the reply, unless the command itself was refused.
        if !matches!(
            reply,
            Err(BusError::Unavailable(_)
                | BusError::Nacked
                | BusError::Unroutable(_)
                | BusError::Encode(_)
                | BusError::Closed)
        ) {
            published("commands");
        }
        reply
    }

    /// Sends `reply` to the `reply_to` of a request.
    pub async fn reply(&self, reply_to: &str, reply: &Message) -> Result<(), BusError> {
        match self {
            Bus::Amqp(b) => b.reply(reply_to, reply).await,
            Bus::Embedded(b) => b.reply(reply_to, reply).await,
        }?;
        published("replies");
        Ok(())
    }

    /// Starts consuming; the consumer reconnects by itself after a broker restart.
    pub async fn consume(&self, spec: QueueSpec) -> Result<Consumer, BusError> {
        match self {
            Bus::Amqp(b) => Ok(Consumer::Amqp(Box::new(b.consume(spec).await?))),
            Bus::Embedded(b) => Ok(Consumer::Embedded(b.consume(spec).await?)),
        }
    }

    /// Closes the bus: unsettled deliveries go back to their queues (AMQP at once; embedded
    /// when the database is next opened).
    pub async fn close(&self) {
        match self {
            Bus::Amqp(b) => b.close().await,
            Bus::Embedded(b) => b.close().await,
        }
    }

    /// `Ok` when the bus can carry messages now: RabbitMQ connected (a lost link is
    /// reopened, as the next publish would), the embedded bus always.
    pub async fn check(&self) -> Result<(), BusError> {
        match self {
            Bus::Amqp(b) => b.check().await,
            Bus::Embedded(_) => Ok(()),
        }
    }

    /// Reads (without removing) up to `limit` dead-lettered messages, oldest first.
    pub async fn dead_letters(&self, limit: usize) -> Result<Vec<Message>, BusError> {
        match self {
            Bus::Amqp(b) => b.dead_letters(limit).await,
            Bus::Embedded(b) => b.dead_letters(limit).await,
        }
    }
}

/// Counts a message published to `exchange` (`casebridge_bus_published_total`).
fn published(exchange: &'static str) {
    crate::metrics::metrics()
        .bus_published
        .get_or_create(&crate::metrics::ExchangeLabel { exchange })
        .inc();
}

/// A stream of deliveries from one queue.
#[derive(Debug)]
pub enum Consumer {
    // Boxed: a lapin consumer is large, and consumers are created once and kept.
    Amqp(Box<amqp::AmqpConsumer>),
    Embedded(embedded::EmbeddedConsumer),
}

impl Consumer {
    /// The next delivery; `None` only when the bus is shut down.
    pub async fn next(&mut self) -> Option<Delivery> {
        match self {
            Consumer::Amqp(c) => c.next().await,
            Consumer::Embedded(c) => c.next().await,
        }
    }

    /// A delivery that has already arrived, without waiting or doing I/O; `None` when none
    /// has. Lets a batch consumer take what is ready after [`Consumer::next`].
    pub fn try_next(&mut self) -> Option<Delivery> {
        match self {
            Consumer::Amqp(c) => c.try_next(),
            Consumer::Embedded(c) => c.try_next(),
        }
    }
}

/// One delivered message. Settle it with [`Delivery::ack`], [`Delivery::requeue`] or
/// [`Delivery::dead_letter`]; an unsettled delivery is redelivered after a reconnect or restart.
#[derive(Debug)]
pub struct Delivery {
    pub message: Message,
    /// How many times this message was delivered before (0 on first delivery, when known).
    pub previous_deliveries: u32,
    pub(crate) acker: Acker,
}

#[derive(Debug)]
pub(crate) enum Acker {
    Amqp(lapin::Acker),
    Embedded(embedded::EmbeddedAcker),
    /// Transient notifications need no settlement.
    None,
}

impl Delivery {
    /// Settles the delivery as done. Call only after the consumer's own commit.
    pub async fn ack(self) -> Result<(), BusError> {
        match self.acker {
            Acker::Amqp(a) => amqp::ack(&a).await,
            Acker::Embedded(a) => a.ack().await,
            Acker::None => Ok(()),
        }
    }

    /// Returns the message to its queue for another try (a passing failure).
    pub async fn requeue(self) -> Result<(), BusError> {
        match self.acker {
            Acker::Amqp(a) => amqp::requeue(&a).await,
            Acker::Embedded(a) => a.requeue().await,
            Acker::None => Ok(()),
        }
    }

    /// Sends the message to the dead-letter queue (it can never be processed).
    pub async fn dead_letter(self) -> Result<(), BusError> {
        match self.acker {
            Acker::Amqp(a) => amqp::dead_letter(&a).await,
            Acker::Embedded(a) => a.dead_letter().await,
            Acker::None => Ok(()),
        }
    }
}

/// A serde_json error message with every quoted value replaced by `"«redacted»"`. serde_json
/// quotes an offending string value (`invalid type: string "张三", expected u64`), which may
/// be personal data, and decode errors end up in logs (a dead-lettered message). Field and
/// variant names are quoted with backticks and kept, as are line and column.
pub fn without_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut chars = message.chars();
    while let Some(c) = chars.next() {
        if c != '"' {
            out.push(c);
            continue;
        }
        // Skip to the closing quote, honouring backslash escapes.
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => break,
                _ => {}
            }
        }
        out.push_str("\"«redacted»\"");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decode_error_does_not_quote_the_value_it_stumbled_on() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Party {
            id_number: u64,
        }
        let message = Message::new(
            "x",
            r#"{"id_number": "\"张三\" 350102199001011234"}"#.as_bytes().to_vec(),
        );
        let error = message
            .decode::<Party>()
            .expect_err("a string is not a number");
        let text = error.to_string();
        assert!(
            !text.contains("张三") && !text.contains("3501021990"),
            "{text}"
        );
        assert!(
            text.contains("invalid type") && text.contains("column"),
            "{text}"
        );
        let missing = Message::new("x", b"{}".to_vec()).decode::<Party>();
        assert!(
            missing
                .expect_err("no field")
                .to_string()
                .contains("`id_number`"),
            "field names are kept"
        );
    }

    #[test]
    fn a_stored_message_keeps_its_json_body_as_text_and_old_rows_still_decode() {
        let message =
            Message::json("referral.filed", &serde_json::json!({"a": "立案"})).expect("encode");
        let stored = serde_json::to_string(&message).expect("store");
        assert!(stored.contains(r#""body":"{\"a\":\"立案\"}""#), "{stored}");
        let back: Message = serde_json::from_str(&stored).expect("decode");
        assert_eq!(back, message);
        // A row written before: the body as an array of bytes.
        let old = stored.replace(
            r#""{\"a\":\"立案\"}""#,
            &serde_json::to_string(&message.body.iter().collect::<Vec<_>>()).expect("array"),
        );
        let back: Message = serde_json::from_str(&old).expect("decode an old row");
        assert_eq!(back, message);
        // A body that is not UTF-8 still round-trips, as an array.
        let binary = Message::new("x", vec![0xff, 0x00, 0x7f]);
        let back: Message =
            serde_json::from_str(&serde_json::to_string(&binary).expect("store")).expect("decode");
        assert_eq!(back.body, vec![0xff, 0x00, 0x7f]);
    }

    #[test]
    fn topic_patterns_match_like_amqp() {
        assert!(topic_matches("referral.#", "referral.submitted"));
        assert!(topic_matches("referral.#", "referral"));
        assert!(topic_matches("#", "a.b.c"));
        assert!(topic_matches("*.submitted", "referral.submitted"));
        assert!(!topic_matches("*.submitted", "referral.x.submitted"));
        assert!(topic_matches("#.submitted", "referral.x.submitted"));
        assert!(!topic_matches("referral.*", "transfer.sent"));
        assert!(!topic_matches("referral.*", "referral"));
        assert!(topic_matches(
            "inbox.appended.*",
            "inbox.appended.11350100MA0000001X"
        ));
    }
}
