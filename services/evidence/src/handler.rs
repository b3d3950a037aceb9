//! Learns who may read what from the families' events, records uploads and answers the
//! gateway's access questions.

use std::sync::Arc;

use casebridge_core::ids::{AgencyCode, Sha256Digest};
use casebridge_core::notice::Notice;
use casebridge_core::refusal::{Refusal, RefusalKind};
use casebridge_core::time::Clock;
use casebridge_platform::bus::Message;
use casebridge_platform::store::{Db, Messaging, StoreError};

use crate::api::{Reply, Request};
use crate::store;

/// The evidence service logic.
#[derive(Debug, Clone)]
pub struct Evidence {
    db: Db,
    messaging: Messaging,
    clock: Arc<dyn Clock>,
}

impl Evidence {
    pub fn new(db: Db, clock: Arc<dyn Clock>) -> Evidence {
        Evidence {
            db,
            messaging: Messaging::new(crate::SERVICE),
            clock,
        }
    }

    /// Records the attachments and parties named by the notice in `message`, once however
    /// often it is delivered. Deadline events (`<family>.deadline_*`) name no new party or
    /// attachment and are skipped. Returns whether anything was recorded.
    pub async fn learn(&self, message: &Message, notice: &Notice) -> Result<bool, StoreError> {
        self.learn_all(&[(message.clone(), notice.clone())])
            .await
            .map(|learned| learned == 1)
    }

    /// Records the attachments and parties named by the notices of many messages in one
    /// transaction, each once however often it is delivered; deadline events are skipped.
    /// Returns how many messages were recorded.
    ///
    /// Why a batch: the evidence service consumes every event of every family, and alone each
    /// paid a transaction, a commit and a round trip per party; together a batch pays one
    /// commit and a few statements.
    #[tracing::instrument(skip_all, fields(messages = batch.len()))]
    pub async fn learn_all(&self, batch: &[(Message, Notice)]) -> Result<usize, StoreError> {
        let events: Vec<&(Message, Notice)> = batch
            .iter()
            .filter(|(_, notice)| !notice.event.starts_with("deadline_"))
            .collect();
        if events.is_empty() {
            return Ok(0);
        }
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        let ids: Vec<String> = events.iter().map(|(m, _)| m.id.to_string()).collect();
        let first = self
            .messaging
            .first_deliveries(&mut tx, &ids, now.as_millis())
            .await?;
        let mut parties = Vec::new();
        let mut attachments = Vec::new();
        let mut learned = 0;
        for ((message, notice), first) in events.into_iter().zip(first) {
            if !first {
                tracing::debug!(message_id = %message.id, "duplicate delivery ignored");
                continue;
            }
            learned += 1;
            parties.extend(
                notice
                    .parties
                    .values()
                    .chain(&notice.recipients)
                    .chain(std::iter::once(&notice.actor))
                    .map(|agency| (notice.case_id, agency)),
            );
            attachments.extend(
                notice
                    .attachments
                    .iter()
                    .map(|digest| (notice.case_id, *digest, notice.family.as_str())),
            );
        }
        // Sorted, so concurrent transactions touch rows in one order and cannot deadlock.
        parties.sort();
        parties.dedup();
        attachments.sort();
        attachments.dedup();
        store::join(&mut tx, &parties).await?;
        store::attach(&mut tx, &attachments, now).await?;
        tx.commit().await?;
        tracing::debug!(
            messages = learned,
            parties = parties.len(),
            attachments = attachments.len(),
            "case parties and attachments recorded"
        );
        Ok(learned)
    }

    /// Answers the gateway.
    pub async fn handle(&self, request: Request) -> Result<Reply, StoreError> {
        match request {
            Request::RecordUpload {
                uploader,
                digest,
                size,
                file_name,
                content_type,
            } => {
                let now = self.clock.now();
                let mut tx = self.db.begin().await?;
                let (attachment, first) = store::record_upload(
                    &mut tx,
                    &uploader,
                    &digest,
                    size,
                    &file_name,
                    &content_type,
                    now,
                )
                .await?;
                tx.commit().await?;
                tracing::info!(%digest, %uploader, size, first, "upload recorded");
                Ok(Reply::Recorded { attachment, first })
            }
            Request::Describe { agency, digest } => {
                let mut conn = self.db.pool().acquire().await?;
                let Some(attachment) = store::attachment(&mut conn, &digest).await? else {
                    return Ok(refused(
                        RefusalKind::NotFound,
                        "EVIDENCE-UNKNOWN",
                        format!("no evidence file has SHA-256 {digest}"),
                    ));
                };
                if store::may_read(&mut conn, &agency, &digest).await? {
                    Ok(Reply::Found { attachment })
                } else {
                    // The same words whatever the reason, and nothing about the file: the caller
                    // learns only that it exists (see docs/evidence.md, "Access").
                    Ok(refused(
                        RefusalKind::PermissionDenied,
                        "EVIDENCE-ACCESS",
                        format!(
                            "agency {agency} may not read evidence {digest}: only its uploader \
                             and the parties to a case that references it may"
                        ),
                    ))
                }
            }
            Request::CheckReferences { agency, digests } => {
                let mut conn = self.db.pool().acquire().await?;
                let mut unusable = Vec::new();
                for digest in digests {
                    if !store::may_read(&mut conn, &agency, &digest).await?
                        && !unusable.contains(&digest)
                    {
                        unusable.push(digest);
                    }
                }
                Ok(Reply::References { unusable })
            }
        }
    }

    /// Whether `agency` may read `digest` (for tests and tools; the gateway asks over the bus).
    pub async fn may_read(
        &self,
        agency: &AgencyCode,
        digest: &Sha256Digest,
    ) -> Result<bool, StoreError> {
        let mut conn = self.db.pool().acquire().await?;
        store::may_read(&mut conn, agency, digest).await
    }
}

fn refused(kind: RefusalKind, rule: &str, message: String) -> Reply {
    Reply::Refused {
        refusal: Refusal::new(kind, rule, Some("sha256"), message),
    }
}
