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
    #[tracing::instrument(skip_all, fields(message_id = %message.id, kind = %message.kind))]
    pub async fn learn(&self, message: &Message, notice: &Notice) -> Result<bool, StoreError> {
        if notice.event.starts_with("deadline_") {
            return Ok(false);
        }
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        if !self
            .messaging
            .first_delivery(&mut tx, &message.id.to_string(), now.as_millis())
            .await?
        {
            tracing::debug!("duplicate delivery ignored");
            return Ok(false);
        }
        // Sorted, so concurrent transactions touch rows in one order and cannot deadlock.
        let mut parties: Vec<AgencyCode> = notice
            .parties
            .values()
            .chain(&notice.recipients)
            .chain(std::iter::once(&notice.actor))
            .cloned()
            .collect();
        parties.sort();
        parties.dedup();
        let mut attachments = notice.attachments.clone();
        attachments.sort();
        attachments.dedup();
        store::join(&mut tx, notice.case_id, &parties).await?;
        store::attach(
            &mut tx,
            notice.case_id,
            notice.family.as_str(),
            &attachments,
            now,
        )
        .await?;
        tx.commit().await?;
        tracing::debug!(
            case_id = %notice.case_id,
            parties = parties.len(),
            attachments = attachments.len(),
            "case parties and attachments recorded"
        );
        Ok(true)
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
