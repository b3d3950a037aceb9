//! Delivers notices into inboxes and answers readers.

use std::sync::Arc;

use casebridge_core::ids::{AgencyCode, MessageId};
use casebridge_core::notice::Notice;
use casebridge_core::refusal::{Refusal, RefusalKind};
use casebridge_core::time::Clock;
use casebridge_platform::bus::{Bus, BusError, Message};
use casebridge_platform::store::{Db, Messaging, StoreError};

use crate::api::{self, Reply, Request};
use crate::store;

/// The inbox service logic.
#[derive(Debug, Clone)]
pub struct Inbox {
    db: Db,
    messaging: Messaging,
    bus: Bus,
    clock: Arc<dyn Clock>,
}

impl Inbox {
    pub fn new(db: Db, bus: Bus, clock: Arc<dyn Clock>) -> Inbox {
        Inbox {
            db,
            messaging: Messaging::new(crate::SERVICE),
            bus,
            clock,
        }
    }

    /// Appends the notices of many messages in one transaction, each once however often it is
    /// delivered, in the order given: one lock and one update per recipient agency for the
    /// whole batch, and one wake-up per agency. Returns the agencies whose inbox grew.
    #[tracing::instrument(skip_all, fields(messages = batch.len()))]
    pub async fn deliver_all(
        &self,
        batch: &[(Message, Notice)],
    ) -> Result<Vec<AgencyCode>, StoreError> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        // Per agency (sorted, so concurrent batches lock agency rows in one order and cannot
        // deadlock), the notices it receives, in delivery order.
        let mut appends: std::collections::BTreeMap<&AgencyCode, Vec<(&Notice, MessageId)>> =
            std::collections::BTreeMap::new();
        // Every event heard for the first time, in order, for the export feed.
        let mut exports: Vec<store::ExportRow<'_>> = Vec::new();
        let ids: Vec<String> = batch.iter().map(|(m, _)| m.id.to_string()).collect();
        let first = self
            .messaging
            .first_deliveries(&mut tx, &ids, now.as_millis())
            .await?;
        for ((message, notice), first) in batch.iter().zip(first) {
            if !first {
                tracing::debug!(message_id = %message.id, "duplicate delivery ignored");
                continue;
            }
            exports.push(store::ExportRow {
                message_id: message.id,
                notice,
            });
            let mut recipients: Vec<&AgencyCode> = notice.recipients.iter().collect();
            recipients.sort();
            recipients.dedup();
            for agency in recipients {
                appends
                    .entry(agency)
                    .or_default()
                    .push((notice, message.id));
            }
        }
        for (agency, notices) in &appends {
            store::append_all(&mut tx, agency, notices, now).await?;
        }
        // Last, after every agency row lock: the feed's sequence row is the one lock every
        // batch shares, held for as short a time as the commit allows.
        store::append_export(&mut tx, &exports).await?;
        tx.commit().await?;
        let grew: Vec<AgencyCode> = appends.into_keys().cloned().collect();
        for agency in &grew {
            self.wake_readers(agency).await;
        }
        Ok(grew)
    }

    /// Tells gateways that `agency`'s inbox grew. A lost wake-up only delays delivery until
    /// the reader's next poll, so failures are logged, not retried.
    async fn wake_readers(&self, agency: &AgencyCode) {
        match self
            .bus
            .publish_event(&Message::new(api::appended_key(agency), Vec::new()))
            .await
        {
            Ok(()) | Err(BusError::Unroutable(_)) => {}
            Err(error) => tracing::debug!(%error, "inbox wake-up not published"),
        }
    }

    /// Answers a reader.
    pub async fn handle(&self, request: Request) -> Result<Reply, StoreError> {
        let mut conn = self.db.pool().acquire().await?;
        match request {
            Request::List {
                agency,
                after,
                limit,
            } => {
                if limit == 0 || limit > api::MAX_PAGE {
                    return Ok(refused(
                        RefusalKind::InvalidArgument,
                        Some("limit"),
                        format!("limit must be between 1 and {}", api::MAX_PAGE),
                    ));
                }
                let (acknowledged, latest) = store::position(&mut conn, &agency).await?;
                let after = after.unwrap_or(acknowledged);
                let entries = store::list(&mut conn, &agency, after, limit).await?;
                Ok(Reply::Entries {
                    entries,
                    acknowledged,
                    latest,
                })
            }
            Request::Acknowledge { agency, up_to } => {
                let (_, latest) = store::position(&mut conn, &agency).await?;
                if up_to > latest {
                    return Ok(refused(
                        RefusalKind::InvalidArgument,
                        Some("up_to_cursor"),
                        format!("up_to_cursor {up_to} is beyond the newest entry {latest}"),
                    ));
                }
                let cursor = store::acknowledge(&mut conn, &agency, up_to).await?;
                Ok(Reply::Acknowledged { cursor })
            }
            Request::Export {
                viewer,
                sees_all,
                kinds,
                after,
                limit,
            } => {
                if limit == 0 || limit > api::EXPORT_MAX_PAGE {
                    return Ok(refused(
                        RefusalKind::InvalidArgument,
                        Some("limit"),
                        format!("limit must be between 1 and {}", api::EXPORT_MAX_PAGE),
                    ));
                }
                if i64::try_from(after).is_err() {
                    return Ok(refused(
                        RefusalKind::InvalidArgument,
                        Some("after_cursor"),
                        "after_cursor is not a cursor of this feed".to_owned(),
                    ));
                }
                let viewer = (!sees_all).then_some(&viewer);
                // One line more than asked says whether more follow.
                let mut rows =
                    store::export_lines(&mut conn, viewer, &kinds, after, limit.saturating_add(1))
                        .await?;
                let mut more = rows.len() > limit as usize;
                rows.truncate(limit as usize);
                let mut bytes = 0;
                let mut lines = Vec::with_capacity(rows.len());
                let mut next = after;
                for (seq, line) in rows {
                    bytes += line.len() + 1;
                    if !lines.is_empty() && bytes > api::EXPORT_MAX_BYTES {
                        more = true;
                        break;
                    }
                    next = seq;
                    lines.push(line);
                }
                Ok(Reply::Exported { lines, next, more })
            }
        }
    }
}

fn refused(kind: RefusalKind, field: Option<&str>, message: String) -> Reply {
    Reply::Refused {
        refusal: Refusal::new(kind, "INBOX", field, message),
    }
}
