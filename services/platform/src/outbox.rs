//! The outbox relay: publishes events that services committed to their `<svc>_outbox` table.
//!
//! A row is deleted only after the broker confirmed its publication, so a crash between the
//! two republishes it: consumers deduplicate by message id. On PostgreSQL rows are claimed with
//! `FOR UPDATE SKIP LOCKED`, so replicas of a service relay disjoint rows.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use sqlx::Row;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::bus::{Bus, BusError, Message};
use crate::store::{Db, Dialect, Messaging, StoreError};

/// Failures of one relay pass.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("publishing failed: {0}")]
    Bus(#[from] BusError),
}

impl From<sqlx::Error> for RelayError {
    fn from(e: sqlx::Error) -> Self {
        RelayError::Store(StoreError::Database(e))
    }
}

/// Publishes one service's outbox. Clone it to share its wake-up handle.
#[derive(Debug, Clone)]
pub struct OutboxRelay {
    db: Db,
    bus: Bus,
    table: String,
    wake: Arc<Notify>,
    batch: i64,
}

impl OutboxRelay {
    pub fn new(db: Db, bus: Bus, messaging: &Messaging) -> OutboxRelay {
        OutboxRelay {
            db,
            bus,
            table: messaging.outbox_table().to_owned(),
            wake: Arc::new(Notify::new()),
            batch: 256,
        }
    }

    /// Tells the relay that rows were committed, so it publishes now rather than at its next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Publishes until `shutdown`, polling every second as a safety net for missed wake-ups.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut backoff = Duration::from_millis(50);
        loop {
            let idle = match self.relay_once().await {
                Ok(0) => true,
                Ok(_) => {
                    backoff = Duration::from_millis(50);
                    false
                }
                Err(error) => {
                    tracing::warn!(%error, table = %self.table, "outbox relay failed; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.cancelled() => return,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    false
                }
            };
            if idle {
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = shutdown.cancelled() => return,
                }
            } else if shutdown.is_cancelled() {
                return;
            }
        }
    }

    /// One pass: publishes up to one batch of rows and deletes those confirmed.
    /// Returns how many rows were published.
    pub async fn relay_once(&self) -> Result<usize, RelayError> {
        let select = format!(
            "SELECT seq, message FROM {} ORDER BY seq LIMIT $1{}",
            self.table,
            self.db.skip_locked()
        );
        match self.db.dialect() {
            Dialect::Postgres => {
                let mut tx = self.db.begin().await?;
                let rows = sqlx::query(&select)
                    .bind(self.batch)
                    .fetch_all(&mut *tx)
                    .await?;
                let (done, failure) = self.publish(&rows).await;
                self.delete(&mut tx, &done).await?;
                tx.commit().await?;
                failure.map_or(Ok(done.len()), Err)
            }
            Dialect::Sqlite => {
                // One process owns a SQLite file: no claim needed, and the single connection
                // stays free for commands while we wait for confirms.
                let rows = sqlx::query(&select)
                    .bind(self.batch)
                    .fetch_all(self.db.pool())
                    .await?;
                let (done, failure) = self.publish(&rows).await;
                let mut conn = self.db.pool().acquire().await?;
                self.delete(&mut conn, &done).await?;
                failure.map_or(Ok(done.len()), Err)
            }
        }
    }

    /// Publishes rows concurrently (one channel keeps their order); returns the confirmed
    /// sequence numbers and the first failure.
    async fn publish(&self, rows: &[sqlx::any::AnyRow]) -> (Vec<i64>, Option<RelayError>) {
        let mut decoded = Vec::with_capacity(rows.len());
        let mut failure = None;
        for row in rows {
            let seq: i64 = row.get(0);
            match serde_json::from_slice::<Message>(&row.get::<Vec<u8>, _>(1)) {
                Ok(m) => decoded.push((seq, m)),
                Err(e) => {
                    failure.get_or_insert(RelayError::Store(StoreError::Corrupt(format!(
                        "outbox row {seq} of {}: {e}",
                        self.table
                    ))));
                }
            }
        }
        // Each publish is a hop of its message's trace: the consumers continue from it.
        let spans: Vec<tracing::Span> = decoded
            .iter_mut()
            .map(|(_, m)| {
                let span =
                    tracing::info_span!("outbox publish", kind = %m.kind, message_id = %m.id);
                crate::telemetry::continue_trace(&span, &m.headers);
                span.in_scope(|| crate::telemetry::inject_context(&mut m.headers));
                span
            })
            .collect();
        let results = join_all(
            decoded
                .iter()
                .zip(spans)
                .map(|((_, m), span)| self.bus.publish_event(m).instrument(span)),
        )
        .await;
        let mut done = Vec::with_capacity(decoded.len());
        for ((seq, _), result) in decoded.iter().zip(results) {
            match result {
                Ok(()) => done.push(*seq),
                Err(e) => {
                    failure.get_or_insert(RelayError::Bus(e));
                }
            }
        }
        (done, failure)
    }

    async fn delete(&self, conn: &mut sqlx::AnyConnection, seqs: &[i64]) -> Result<(), RelayError> {
        for chunk in seqs.chunks(500) {
            let list: Vec<String> = chunk.iter().map(i64::to_string).collect();
            sqlx::query(&format!(
                "DELETE FROM {} WHERE seq IN ({})",
                self.table,
                list.join(",")
            ))
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }
}
