//! Pruning the replay records: each service's stored replies (`{service}_idempotency`) and
//! consumed message ids (`{service}_processed`) older than `store.replay_retention`.
//!
//! Both tables grow by a row per accepted step or consumed message and are only ever read to
//! recognise a replay: a client retrying a request id, or the bus redelivering a message. A
//! replay older than the retention is taken as new, so the retention must outlast the longest
//! retry and the longest wait in a queue or the dead-letter queue (docs/configuration.md).
//! Ages are read from the injected clock, the same clock that stamped the rows.

use std::sync::Arc;
use std::time::Duration;

use casebridge_core::time::Clock;
use tokio_util::sync::CancellationToken;

use crate::store::{Db, Messaging, Pruned, StoreError};

/// How often a service prunes.
pub const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Rows of each table deleted per transaction: small enough that a backlog of millions (a
/// first prune after an upgrade) never holds a long transaction or many locks.
pub const PRUNE_BATCH: i64 = 1000;

/// Deletes every replay record of `service` older than `retention` at the clock's now, in
/// batches of `batch` rows per table and transaction; returns how many went.
pub async fn prune_once(
    db: &Db,
    service: &str,
    clock: &dyn Clock,
    retention: Duration,
    batch: i64,
) -> Result<Pruned, StoreError> {
    let retention_ms = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
    let before = clock.now().as_millis().saturating_sub(retention_ms);
    let messaging = Messaging::new(service);
    let mut total = Pruned::default();
    loop {
        let pruned = messaging.prune_batch(db, before, batch).await?;
        total.replies += pruned.replies;
        total.messages += pruned.messages;
        let full = i64::try_from(pruned.replies.max(pruned.messages)).unwrap_or(i64::MAX);
        if full < batch {
            return Ok(total);
        }
        // Let the service's own transactions in between batches.
        tokio::task::yield_now().await;
    }
}

/// Prunes `service`'s replay records at start and then every [`PRUNE_EVERY`] until
/// `shutdown`. A failed pass is logged and tried again at the next one: the records only wait
/// longer.
pub async fn run_pruner(
    db: Db,
    service: &'static str,
    clock: Arc<dyn Clock>,
    retention: Duration,
    shutdown: CancellationToken,
) {
    loop {
        let pass = tokio::select! {
            pass = prune_once(&db, service, clock.as_ref(), retention, PRUNE_BATCH) => pass,
            () = shutdown.cancelled() => return,
        };
        match pass {
            Ok(pruned) if pruned != Pruned::default() => tracing::info!(
                service,
                replies = pruned.replies,
                messages = pruned.messages,
                "pruned replay records older than the retention"
            ),
            Ok(_) => {}
            Err(error) => tracing::warn!(service, %error, "pruning replay records failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(PRUNE_EVERY) => {}
            () = shutdown.cancelled() => return,
        }
    }
}
