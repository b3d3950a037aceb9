//! The one command: the owing agency extends its own deadline before it passes, idempotently by
//! request id, and gets a signed receipt.

use casebridge_core::deadline::Obligation;
use casebridge_core::ids::{AgencyCode, CaseId, Sha256Digest};
use casebridge_core::ledger::{GENESIS, Receipt};
use casebridge_core::refusal::RefusalKind;
use casebridge_core::time::Timestamp;
use casebridge_platform::ledger::Position;
use casebridge_platform::store::{Idempotency, StoreError};

use super::refusal::{extension_refusal, refused};
use super::{Deadlines, EXTENDED};
use crate::api::{ExtendRequest, Extended, Reply};
use crate::store;

impl Deadlines {
    /// Extends a deadline for the agency that owes it, before it passes [V S4 Art 45]: the
    /// ledger records who, why and the approval; the schedule is recomputed; the other parties
    /// (the one the step is owed to, the supervisor) are told through the outbox. Idempotent by
    /// request id, like every mutating call.
    #[tracing::instrument(skip_all, fields(case_id = %request.case_id, agency = %request.actor, rule = %request.rule))]
    pub async fn extend(&self, request: ExtendRequest) -> Result<Reply, StoreError> {
        let ExtendRequest {
            actor,
            request_id,
            content_digest,
            case_id,
            rule,
            target,
            approval_reference,
            reason,
        } = request;
        let digest = content_digest.to_hex();
        let mut tx = self.db.begin().await?;
        match self
            .messaging
            .idempotency(&mut tx, actor.as_str(), request_id.as_str(), &digest)
            .await?
        {
            Idempotency::New => {}
            Idempotency::Replay { reply, .. } => {
                let mut original: Reply = serde_json::from_slice(&reply)
                    .map_err(|e| StoreError::Corrupt(format!("stored reply: {e}")))?;
                if let Reply::Extended(extended) = &mut original {
                    extended.replayed = true;
                }
                return Ok(original);
            }
            Idempotency::Conflict => {
                return Ok(refused(
                    RefusalKind::AlreadyExists,
                    "IDEMPOTENCY",
                    Some("request_id"),
                    format!(
                        "request id {request_id} was already used by this agency for a different \
                         request; use a new request id for new content"
                    ),
                ));
            }
        }
        let Some(law) = self.rules.get(&rule) else {
            return Ok(refused(
                RefusalKind::NotFound,
                "RULES",
                Some("rule"),
                format!("there is no rule {rule:?} in the rule table"),
            ));
        };
        let open = store::open_for_case(
            &mut tx,
            case_id,
            std::slice::from_ref(&rule),
            store::for_update(&self.db),
        )
        .await?;
        // Only a party to the case (owing, owed or supervising one of its steps) learns whether
        // a rule is open there and who owes it; anyone else gets the answer a case without that
        // obligation gets (issue 12, D2).
        let party = open.iter().any(|r| r.owed_by == actor)
            || store::for_case(&mut tx, case_id).await?.iter().any(|r| {
                r.owed_by == actor
                    || r.owed_to.as_ref() == Some(&actor)
                    || r.supervisor.as_ref() == Some(&actor)
            });
        let Some(mut row) = open
            .iter()
            .find(|r| r.owed_by == actor)
            .or(open.first())
            .filter(|_| party)
            .cloned()
        else {
            return Ok(refused(
                RefusalKind::NotFound,
                "STATE",
                Some("rule"),
                format!(
                    "case {case_id} has no open obligation under rule {rule} that your agency \
                     owes, is owed or supervises"
                ),
            ));
        };
        if row.owed_by != actor {
            return Ok(refused(
                RefusalKind::PermissionDenied,
                "AUTH-OBLIGOR",
                None,
                format!(
                    "only {} ({}), which owes the step under rule {rule}, may extend it",
                    self.name(&row.owed_by),
                    row.owed_by
                ),
            ));
        }
        let now = self.clock.now();
        let mut obligation = self.obligation(&row);
        // S4 Art 45: an expert announces any later date; other rules reach their tiers.
        let extend = if law.announce_any_date {
            Obligation::announce
        } else {
            Obligation::extend
        };
        if let Err(refusal) = extend(
            &mut obligation,
            &self.calendar.current(),
            &law.extensions,
            target,
            actor.as_str(),
            &reason,
            &approval_reference,
            now,
        ) {
            tracing::info!(%refusal, "extension refused");
            return Ok(Reply::Refused {
                refusal: extension_refusal(&refusal, law),
            });
        }
        self.store_changes(&mut tx, &mut row, &obligation).await?;
        let mut told: Vec<AgencyCode> = [row.owed_to.clone(), row.supervisor.clone()]
            .into_iter()
            .flatten()
            .filter(|a| *a != actor)
            .collect();
        told.dedup();
        // One record of the extension, whoever is told: the chain keeps it even when nobody is.
        let notice = self.deadline_notice(&row, EXTENDED, told, now);
        let positions = self.publish(&mut tx, vec![notice], now).await?;
        let receipt = self.receipt(
            &request_id,
            &actor,
            case_id,
            content_digest,
            &positions,
            now,
        );
        self.chain.record_receipt(&mut tx, &receipt).await?;
        let reply = Reply::Extended(Extended {
            obligation: self.listed(row),
            replayed: false,
            accepted_at: now,
            receipt,
        });
        let encoded = serde_json::to_vec(&reply).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.messaging
            .record(
                &mut tx,
                actor.as_str(),
                request_id.as_str(),
                &digest,
                &encoded,
                now.as_millis(),
            )
            .await?;
        tx.commit().await?;
        self.relay.wake();
        tracing::info!("deadline extended");
        Ok(reply)
    }

    /// The signed receipt of an accepted extension: what was accepted, when, and where its record
    /// sits on the chain.
    fn receipt(
        &self,
        request_id: &casebridge_core::ids::RequestId,
        actor: &AgencyCode,
        case_id: CaseId,
        content_digest: Sha256Digest,
        positions: &[Position],
        now: Timestamp,
    ) -> Receipt {
        let last = positions.last().copied().unwrap_or(Position {
            seq: 0,
            hash: GENESIS,
        });
        let mut receipt = Receipt {
            service: crate::SERVICE.to_owned(),
            case_id,
            step: "extend_deadline".to_owned(),
            actor: actor.clone(),
            request_id: request_id.clone(),
            content_digest,
            accepted_at: now,
            first_seq: positions.first().map_or(0, |p| p.seq),
            last_seq: last.seq,
            chain_hash: Sha256Digest::from_bytes(last.hash),
            key_id: String::new(),
            signature: String::new(),
        };
        self.signer.sign_receipt(&mut receipt);
        receipt
    }
}
