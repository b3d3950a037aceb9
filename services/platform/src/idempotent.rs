//! The bookkeeping every accepted step of an agency shares, whichever service takes it: the
//! idempotency lookup before it, the signed receipt on the service's chain and the reply record
//! after it, all inside the step's transaction.
//!
//! A step is idempotent by (actor, request id): the same content again gets the stored reply
//! (marked replayed by the caller, which knows its reply's shape), other content under a used
//! request id is refused, and the receipt a retry gets is the first one, never a second.

use casebridge_core::ids::{AgencyCode, CaseId, RequestId, Sha256Digest};
use casebridge_core::ledger::{GENESIS, Receipt};
use casebridge_core::refusal::{Refusal, RefusalKind};
use casebridge_core::time::Timestamp;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ledger::{Chain, Position, Signer};
use crate::store::{Idempotency, Messaging, StoreError, Write};

/// One mutating step: who asks, under which request id, with which content, on which case.
#[derive(Debug, Clone, Copy)]
pub struct Step<'a> {
    pub actor: &'a AgencyCode,
    pub request_id: &'a RequestId,
    pub content_digest: Sha256Digest,
    pub case_id: CaseId,
    /// The step's name on its receipt (`extend_deadline`, a family's step).
    pub name: &'a str,
}

/// What the idempotency record says about a step before it runs.
#[derive(Debug)]
pub enum Prior<R> {
    /// Not seen: run it.
    New,
    /// Accepted before with the same content: this is its stored reply.
    Replay(R),
    /// The request id was used by this agency for other content.
    Conflict(Refusal),
}

impl Step<'_> {
    /// Looks the step up in `messaging`'s idempotency records, inside the step's transaction.
    pub async fn prior<R: DeserializeOwned>(
        &self,
        messaging: &Messaging,
        tx: &mut sqlx::AnyConnection,
    ) -> Result<Prior<R>, StoreError> {
        let digest = self.content_digest.to_hex();
        let found = messaging
            .idempotency(tx, self.actor.as_str(), self.request_id.as_str(), &digest)
            .await?;
        self.prior_of(found)
    }

    /// What the idempotency record of this step, read with another read in one round trip
    /// (its digest, reply and time; `None` when there is none), says about it.
    pub fn prior_of_record<R: DeserializeOwned>(
        &self,
        record: Option<(String, Vec<u8>, i64)>,
    ) -> Result<Prior<R>, StoreError> {
        self.prior_of(match record {
            None => Idempotency::New,
            Some((digest, reply, accepted_at)) => {
                Idempotency::of_record(&self.content_digest.to_hex(), digest, reply, accepted_at)
            }
        })
    }

    fn prior_of<R: DeserializeOwned>(&self, found: Idempotency) -> Result<Prior<R>, StoreError> {
        match found {
            Idempotency::New => Ok(Prior::New),
            Idempotency::Replay { reply, .. } => serde_json::from_slice(&reply)
                .map(Prior::Replay)
                .map_err(|e| StoreError::Corrupt(format!("stored reply: {e}"))),
            Idempotency::Conflict => Ok(Prior::Conflict(Refusal::new(
                RefusalKind::AlreadyExists,
                "IDEMPOTENCY",
                Some("request_id"),
                format!(
                    "request id {} was already used by this agency for a different request; use \
                     a new request id for new content",
                    self.request_id
                ),
            ))),
        }
    }

    /// The signed receipt of the accepted step, saying where its records (`positions`, on
    /// `chain`) sit, put on the chain too. Call it after the step's records are on the chain.
    pub async fn receipt(
        &self,
        tx: &mut sqlx::AnyConnection,
        chain: &Chain,
        signer: &Signer,
        positions: &[Position],
        now: Timestamp,
    ) -> Result<Receipt, StoreError> {
        let receipt = self.signed_receipt(chain, signer, positions, now);
        chain.record_receipt(tx, &receipt).await?;
        Ok(receipt)
    }

    /// The signed receipt of the accepted step, saying where its records (`positions`, on
    /// `chain`) sit; the caller keeps it on the chain ([`Chain::receipt_write`]).
    pub fn signed_receipt(
        &self,
        chain: &Chain,
        signer: &Signer,
        positions: &[Position],
        now: Timestamp,
    ) -> Receipt {
        let last = positions.last().copied().unwrap_or(Position {
            seq: 0,
            hash: GENESIS,
        });
        let mut receipt = Receipt {
            service: chain.service().to_owned(),
            case_id: self.case_id,
            step: self.name.to_owned(),
            actor: self.actor.clone(),
            request_id: self.request_id.clone(),
            content_digest: self.content_digest,
            accepted_at: now,
            first_seq: positions.first().map_or(0, |p| p.seq),
            last_seq: last.seq,
            chain_hash: Sha256Digest::from_bytes(last.hash),
            key_id: String::new(),
            signature: String::new(),
        };
        signer.sign_receipt(&mut receipt);
        receipt
    }

    /// Records the accepted step's `reply`, so a retry gets it back.
    pub async fn record<R: Serialize>(
        &self,
        messaging: &Messaging,
        tx: &mut sqlx::AnyConnection,
        reply: &R,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.record_write(messaging, reply, now)?.execute(tx).await
    }

    /// The write that records the accepted step's `reply`, for the step's [`Writes`](crate::store::Writes).
    pub fn record_write<R: Serialize>(
        &self,
        messaging: &Messaging,
        reply: &R,
        now: Timestamp,
    ) -> Result<Write, StoreError> {
        let encoded = serde_json::to_vec(reply).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(messaging.record_write(
            self.actor.as_str(),
            self.request_id.as_str(),
            &self.content_digest.to_hex(),
            encoded,
            now.as_millis(),
        ))
    }
}
