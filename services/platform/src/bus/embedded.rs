//! The embedded bus: durable queues in a SQLite database, for `casebridge up`.
//!
//! It keeps the contract of the AMQP bus (see [`super`]): a publish is confirmed when its rows
//! are committed, a delivery stays in the database until acked, unsettled deliveries come back
//! after a restart, and a message delivered `delivery_limit` times goes to the dead-letter queue.
//! Only one process may open a bus database: claims are reset when it opens.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sqlx::Row;
use tokio::sync::{Notify, mpsc, oneshot};

use super::{Acker, BusError, Delivery, Message, QueueSpec, Topology, topic_matches};
use crate::store::{Db, Migration};

const MIGRATIONS: &[(i64, &str, &str)] = &[(
    1,
    "embedded bus queues",
    "CREATE TABLE bus_bindings (queue TEXT NOT NULL, pattern TEXT NOT NULL, \
       PRIMARY KEY (queue, pattern));
     CREATE TABLE bus_messages (seq INTEGER PRIMARY KEY AUTOINCREMENT, queue TEXT NOT NULL, \
       message BLOB NOT NULL, deliveries INTEGER NOT NULL DEFAULT 0, \
       claimed INTEGER NOT NULL DEFAULT 0, origin TEXT);
     CREATE INDEX bus_messages_by_queue ON bus_messages (queue, claimed, seq);",
)];

/// How long an idle consumer waits before looking again without a wake-up.
const IDLE_POLL: Duration = Duration::from_millis(250);
const REPLY_TO: &str = "embedded.replies";

/// The embedded bus. Cheap to clone.
#[derive(Debug, Clone)]
pub struct EmbeddedBus {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: Db,
    topology: Topology,
    prefetch: i64,
    delivery_limit: i64,
    /// Durable queue → topic patterns (command queues have none: they are addressed by name).
    bindings: Mutex<HashMap<String, Vec<String>>>,
    wakers: Mutex<HashMap<String, Arc<Notify>>>,
    transients: Mutex<Vec<(Vec<String>, mpsc::UnboundedSender<Message>)>>,
    replies: Mutex<HashMap<String, oneshot::Sender<Message>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding these short locks leaves plain maps behind; they stay usable.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn storage(e: impl std::fmt::Display) -> BusError {
    BusError::Storage(e.to_string())
}

/// The name under which the bus records its migrations.
pub const MIGRATIONS_OF: &str = "bus";

/// The embedded bus's migrations, in the order they run.
pub fn migrations() -> Vec<Migration> {
    MIGRATIONS
        .iter()
        .map(|(v, d, sql)| Migration::portable(*v, d, sql))
        .collect()
}

impl EmbeddedBus {
    /// Opens the bus database, releasing claims left by a previous run.
    pub async fn open(
        db: Db,
        topology: Topology,
        prefetch: u16,
        delivery_limit: u32,
    ) -> Result<EmbeddedBus, BusError> {
        db.migrate(MIGRATIONS_OF, &migrations())
            .await
            .map_err(storage)?;
        sqlx::query("UPDATE bus_messages SET claimed = 0 WHERE claimed = 1")
            .execute(db.pool())
            .await
            .map_err(storage)?;
        let mut bindings: HashMap<String, Vec<String>> = HashMap::new();
        for row in sqlx::query("SELECT queue, pattern FROM bus_bindings")
            .fetch_all(db.pool())
            .await
            .map_err(storage)?
        {
            let pattern: String = row.get(1);
            let entry = bindings.entry(row.get(0)).or_default();
            if !pattern.is_empty() {
                entry.push(pattern);
            }
        }
        Ok(EmbeddedBus {
            inner: Arc::new(Inner {
                db,
                topology,
                prefetch: i64::from(prefetch.max(1)),
                delivery_limit: i64::from(delivery_limit.max(1)),
                bindings: Mutex::new(bindings),
                wakers: Mutex::new(HashMap::new()),
                transients: Mutex::new(Vec::new()),
                replies: Mutex::new(HashMap::new()),
            }),
        })
    }

    pub fn topology(&self) -> &Topology {
        &self.inner.topology
    }

    pub async fn declare(&self, spec: &QueueSpec) -> Result<(), BusError> {
        let Some(queue) = self.inner.topology.queue_name(spec) else {
            return Ok(());
        };
        let patterns = match spec {
            QueueSpec::Events { bindings, .. } => bindings.clone(),
            _ => Vec::new(),
        };
        // An empty pattern records the queue itself, so command queues survive a restart too.
        for pattern in patterns.iter().map(String::as_str).chain([""]) {
            sqlx::query(
                "INSERT INTO bus_bindings (queue, pattern) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(&queue)
            .bind(pattern)
            .execute(self.inner.db.pool())
            .await
            .map_err(storage)?;
        }
        let mut bindings = lock(&self.inner.bindings);
        let entry = bindings.entry(queue).or_default();
        for p in patterns {
            if !entry.contains(&p) {
                entry.push(p);
            }
        }
        Ok(())
    }

    pub async fn publish_event(&self, message: &Message) -> Result<(), BusError> {
        let queues: Vec<String> = lock(&self.inner.bindings)
            .iter()
            .filter(|(_, patterns)| patterns.iter().any(|p| topic_matches(p, &message.kind)))
            .map(|(q, _)| q.clone())
            .collect();
        let mut routed = !queues.is_empty();
        self.insert(&queues, message).await?;
        lock(&self.inner.transients).retain(|(patterns, tx)| {
            if patterns.iter().any(|p| topic_matches(p, &message.kind)) {
                routed = true;
                tx.send(message.clone()).is_ok()
            } else {
                !tx.is_closed()
            }
        });
        if routed {
            Ok(())
        } else {
            Err(BusError::Unroutable(message.kind.clone()))
        }
    }

    async fn insert(&self, queues: &[String], message: &Message) -> Result<(), BusError> {
        if queues.is_empty() {
            return Ok(());
        }
        let body = serde_json::to_vec(message).map_err(|e| BusError::Encode(e.to_string()))?;
        let mut tx = self.inner.db.begin().await.map_err(storage)?;
        for queue in queues {
            sqlx::query("INSERT INTO bus_messages (queue, message) VALUES ($1, $2)")
                .bind(queue)
                .bind(body.clone())
                .execute(&mut *tx)
                .await
                .map_err(storage)?;
        }
        tx.commit().await.map_err(storage)?;
        for queue in queues {
            self.waker(queue).notify_one();
        }
        Ok(())
    }

    fn waker(&self, queue: &str) -> Arc<Notify> {
        lock(&self.inner.wakers)
            .entry(queue.to_owned())
            .or_default()
            .clone()
    }

    pub async fn request(
        &self,
        service: &str,
        mut message: Message,
        timeout: Duration,
    ) -> Result<Message, BusError> {
        let queue = self
            .inner
            .topology
            .queue_name(&QueueSpec::commands(service))
            .ok_or(BusError::Closed)?;
        if !lock(&self.inner.bindings).contains_key(&queue) {
            return Err(BusError::Unroutable(service.to_owned()));
        }
        let correlation = uuid::Uuid::new_v4().to_string();
        message.correlation_id = Some(correlation.clone());
        message.reply_to = Some(REPLY_TO.to_owned());
        let (tx, rx) = oneshot::channel();
        lock(&self.inner.replies).insert(correlation.clone(), tx);
        let sent = self.insert(std::slice::from_ref(&queue), &message).await;
        let outcome = match sent {
            Err(e) => Err(e),
            Ok(()) => match tokio::time::timeout(timeout, rx).await {
                Ok(Ok(reply)) => Ok(reply),
                Ok(Err(_)) => Err(BusError::Closed),
                Err(_) => Err(BusError::Timeout(timeout)),
            },
        };
        lock(&self.inner.replies).remove(&correlation);
        outcome
    }

    pub async fn reply(&self, _reply_to: &str, reply: &Message) -> Result<(), BusError> {
        let waiting = reply
            .correlation_id
            .as_ref()
            .and_then(|c| lock(&self.inner.replies).remove(c));
        // Nobody waiting (the requester timed out or restarted): like a reply to a vanished
        // AMQP reply queue, it is dropped; the requester retries with the same request id.
        if let Some(tx) = waiting {
            let _ = tx.send(reply.clone());
        }
        Ok(())
    }

    pub async fn consume(&self, spec: QueueSpec) -> Result<EmbeddedConsumer, BusError> {
        match &spec {
            QueueSpec::Notifications { bindings } => {
                let (tx, rx) = mpsc::unbounded_channel();
                lock(&self.inner.transients).push((bindings.clone(), tx));
                Ok(EmbeddedConsumer {
                    bus: self.clone(),
                    source: Source::Transient(rx),
                    buffer: VecDeque::new(),
                })
            }
            _ => {
                self.declare(&spec).await?;
                let queue = self
                    .inner
                    .topology
                    .queue_name(&spec)
                    .ok_or(BusError::Closed)?;
                Ok(EmbeddedConsumer {
                    bus: self.clone(),
                    source: Source::Durable(queue),
                    buffer: VecDeque::new(),
                })
            }
        }
    }

    /// Closes the database pool; claims are released when the bus is next opened.
    pub async fn close(&self) {
        self.inner.db.pool().close().await;
    }

    pub async fn dead_letters(&self, limit: usize) -> Result<Vec<Message>, BusError> {
        let rows =
            sqlx::query("SELECT message FROM bus_messages WHERE queue = $1 ORDER BY seq LIMIT $2")
                .bind(self.inner.topology.dead_letter_queue())
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .fetch_all(self.inner.db.pool())
                .await
                .map_err(storage)?;
        rows.iter()
            .map(|r| {
                serde_json::from_slice(&r.get::<Vec<u8>, _>(0))
                    .map_err(|e| BusError::Decode(e.to_string()))
            })
            .collect()
    }

    /// Claims up to `prefetch` unclaimed messages of `queue`, oldest first.
    async fn claim(&self, queue: &str) -> Result<Vec<Delivery>, BusError> {
        let rows = sqlx::query(
            "UPDATE bus_messages SET claimed = 1, deliveries = deliveries + 1 WHERE seq IN \
             (SELECT seq FROM bus_messages WHERE queue = $1 AND claimed = 0 ORDER BY seq LIMIT $2) \
             RETURNING seq, message, deliveries",
        )
        .bind(queue)
        .bind(self.inner.prefetch)
        .fetch_all(self.inner.db.pool())
        .await
        .map_err(storage)?;
        let mut claimed = Vec::with_capacity(rows.len());
        for row in rows {
            let seq: i64 = row.get(0);
            let deliveries: i64 = row.get(2);
            let acker = EmbeddedAcker {
                bus: self.clone(),
                seq,
                deliveries,
            };
            match serde_json::from_slice::<Message>(&row.get::<Vec<u8>, _>(1)) {
                Ok(message) => claimed.push((
                    seq,
                    Delivery {
                        message,
                        previous_deliveries: u32::try_from(deliveries - 1).unwrap_or(0),
                        acker: Acker::Embedded(acker),
                    },
                )),
                Err(error) => {
                    tracing::error!(seq, %error, "undecodable message on the embedded bus");
                    acker.dead_letter().await?;
                }
            }
        }
        claimed.sort_by_key(|(seq, _)| *seq);
        Ok(claimed.into_iter().map(|(_, d)| d).collect())
    }
}

/// A consumer of one embedded queue.
#[derive(Debug)]
pub struct EmbeddedConsumer {
    bus: EmbeddedBus,
    source: Source,
    buffer: VecDeque<Delivery>,
}

#[derive(Debug)]
enum Source {
    Durable(String),
    Transient(mpsc::UnboundedReceiver<Message>),
}

impl EmbeddedConsumer {
    /// A delivery already claimed into the buffer (or sent on a transient queue), or `None`.
    pub fn try_next(&mut self) -> Option<Delivery> {
        if let Some(delivery) = self.buffer.pop_front() {
            return Some(delivery);
        }
        match &mut self.source {
            Source::Transient(rx) => rx.try_recv().ok().map(|message| Delivery {
                message,
                previous_deliveries: 0,
                acker: Acker::None,
            }),
            Source::Durable(_) => None,
        }
    }

    pub async fn next(&mut self) -> Option<Delivery> {
        loop {
            if let Some(delivery) = self.buffer.pop_front() {
                return Some(delivery);
            }
            match &mut self.source {
                Source::Transient(rx) => {
                    return rx.recv().await.map(|message| Delivery {
                        message,
                        previous_deliveries: 0,
                        acker: Acker::None,
                    });
                }
                Source::Durable(queue) => {
                    let queue = queue.clone();
                    let waker = self.bus.waker(&queue);
                    match self.bus.claim(&queue).await {
                        Ok(batch) if !batch.is_empty() => self.buffer.extend(batch),
                        Ok(_) => {
                            let _ = tokio::time::timeout(IDLE_POLL, waker.notified()).await;
                        }
                        Err(error) => {
                            tracing::warn!(%error, queue, "embedded bus claim failed; retrying");
                            tokio::time::sleep(IDLE_POLL).await;
                        }
                    }
                }
            }
        }
    }
}

/// Settles one embedded delivery.
#[derive(Debug)]
pub struct EmbeddedAcker {
    bus: EmbeddedBus,
    seq: i64,
    deliveries: i64,
}

impl EmbeddedAcker {
    pub(crate) async fn ack(self) -> Result<(), BusError> {
        sqlx::query("DELETE FROM bus_messages WHERE seq = $1")
            .bind(self.seq)
            .execute(self.bus.inner.db.pool())
            .await
            .map_err(storage)?;
        Ok(())
    }

    pub(crate) async fn requeue(self) -> Result<(), BusError> {
        if self.deliveries >= self.bus.inner.delivery_limit {
            return self.dead_letter().await;
        }
        let queue: Option<String> = sqlx::query_scalar(
            "UPDATE bus_messages SET claimed = 0 WHERE seq = $1 RETURNING queue",
        )
        .bind(self.seq)
        .fetch_optional(self.bus.inner.db.pool())
        .await
        .map_err(storage)?;
        if let Some(queue) = queue {
            self.bus.waker(&queue).notify_one();
        }
        Ok(())
    }

    pub(crate) async fn dead_letter(self) -> Result<(), BusError> {
        sqlx::query(
            "UPDATE bus_messages SET origin = queue, queue = $2, claimed = 0 WHERE seq = $1",
        )
        .bind(self.seq)
        .bind(self.bus.inner.topology.dead_letter_queue())
        .execute(self.bus.inner.db.pool())
        .await
        .map_err(storage)?;
        Ok(())
    }
}
