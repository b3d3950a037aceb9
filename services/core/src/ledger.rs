//! The full-process record (执法全过程留痕, 可回溯, 防删改; notices/001, notices/004), as pure
//! values: the canonical encoding of a ledger entry and of a receipt, and the hash chain that
//! links entries. Signing and storage are the platform's; this module only defines what is
//! hashed and signed, so that anyone can check it with the public key alone.
//!
//! Each service keeps its own chain. An entry's digest covers its position, its service, its case,
//! its event, its actor, its time, its message id and the SHA-256 of the event's body (the
//! notice's JSON as stored); the chain hash of an entry is `SHA-256(previous hash || entry digest)`,
//! starting from 32 zero bytes. Changing, deleting or reordering any entry changes every hash
//! after it, and a signed checkpoint of the head pins them.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ids::{AgencyCode, CaseId, RequestId, Sha256Digest};
use crate::time::Timestamp;

/// The hash a chain starts from.
pub const GENESIS: [u8; 32] = [0; 32];

/// Domain separation for entry digests, checkpoints and receipts.
const ENTRY_TAG: &[u8] = b"casebridge/ledger-entry/v1\0";
const CHECKPOINT_TAG: &[u8] = b"casebridge/ledger-checkpoint/v1\0";
const RECEIPT_TAG: &[u8] = b"casebridge/receipt/v1\0";

/// Writes length-prefixed fields, so no two field lists encode alike.
#[derive(Debug, Default)]
struct Canonical(Vec<u8>);

impl Canonical {
    fn new(tag: &[u8]) -> Canonical {
        Canonical(tag.to_vec())
    }

    fn str(self, value: &str) -> Canonical {
        self.bytes_field(value.as_bytes())
    }

    fn bytes_field(mut self, value: &[u8]) -> Canonical {
        self.0
            .extend_from_slice(&u64::try_from(value.len()).unwrap_or(u64::MAX).to_be_bytes());
        self.0.extend_from_slice(value);
        self
    }

    fn u64(mut self, value: u64) -> Canonical {
        self.0.extend_from_slice(&value.to_be_bytes());
        self
    }

    fn i64(mut self, value: i64) -> Canonical {
        self.0.extend_from_slice(&value.to_be_bytes());
        self
    }
}

/// One record of a chain, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Its position in the service's chain, from 1.
    pub seq: u64,
    /// The service whose chain it is (`referrals`, `transfers`, …).
    pub service: String,
    pub case_id: CaseId,
    /// The event's routing key, e.g. `referral.filed`.
    pub event: String,
    /// The agency that took the step.
    pub actor: AgencyCode,
    /// When the step was accepted.
    pub at: Timestamp,
    /// The bus message that carried the event.
    pub message_id: String,
    /// SHA-256 of the event's body as stored.
    pub body_sha256: Sha256Digest,
}

impl Entry {
    /// The entry's digest: what the chain links, without the body itself.
    pub fn digest(&self) -> [u8; 32] {
        let bytes = Canonical::new(ENTRY_TAG)
            .u64(self.seq)
            .str(&self.service)
            .str(&self.case_id.to_string())
            .str(&self.event)
            .str(self.actor.as_str())
            .i64(self.at.as_millis())
            .str(&self.message_id)
            .bytes_field(self.body_sha256.as_bytes())
            .0;
        Sha256::digest(bytes).into()
    }
}

/// The chain hash after an entry with `digest`, following `previous`.
pub fn link(previous: &[u8; 32], digest: &[u8; 32]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(previous);
    hasher.update(digest);
    hasher.finalize().into()
}

/// What a checkpoint signs: the chain's head at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub service: String,
    pub seq: u64,
    pub hash: Sha256Digest,
    pub signed_at: Timestamp,
}

impl Checkpoint {
    /// The bytes the operator's key signs.
    pub fn signed_bytes(&self) -> Vec<u8> {
        Canonical::new(CHECKPOINT_TAG)
            .str(&self.service)
            .u64(self.seq)
            .bytes_field(self.hash.as_bytes())
            .i64(self.signed_at.as_millis())
            .0
    }
}

/// What CaseBridge gives an agency for an accepted step (回执): proof of what was accepted, when,
/// and where it stands in the record. Verifiable offline with the operator's public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The chain (service) that recorded the step.
    pub service: String,
    pub case_id: CaseId,
    /// The step taken, e.g. `submit`.
    pub step: String,
    /// The agency that took it.
    pub actor: AgencyCode,
    /// The client's idempotency key.
    pub request_id: RequestId,
    /// SHA-256 of the request as the client sent it (its protobuf encoding).
    pub content_digest: Sha256Digest,
    pub accepted_at: Timestamp,
    /// The chain positions of the step's events.
    pub first_seq: u64,
    pub last_seq: u64,
    /// The chain hash after the step's last event.
    pub chain_hash: Sha256Digest,
    /// Which operator key signed it (see [`key_id`]).
    pub key_id: String,
    /// The Ed25519 signature of [`Receipt::signed_bytes`], hex.
    pub signature: String,
}

impl Receipt {
    /// The bytes the operator's key signs: every field but the signature.
    pub fn signed_bytes(&self) -> Vec<u8> {
        Canonical::new(RECEIPT_TAG)
            .str(&self.service)
            .str(&self.case_id.to_string())
            .str(&self.step)
            .str(self.actor.as_str())
            .str(self.request_id.as_str())
            .bytes_field(self.content_digest.as_bytes())
            .i64(self.accepted_at.as_millis())
            .u64(self.first_seq)
            .u64(self.last_seq)
            .bytes_field(self.chain_hash.as_bytes())
            .str(&self.key_id)
            .0
    }
}

/// The id of a public key: the first 8 bytes of its SHA-256, hex.
pub fn key_id(public_key: &[u8]) -> String {
    hex::encode(&Sha256::digest(public_key)[..8])
}

/// Why a chain does not verify: the first bad record, named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("record {expected} is missing: the chain jumps from record {} to record {found}", expected - 1)]
    Gap { expected: u64, found: u64 },
    #[error(
        "record {seq} (case {case_id}, {event}) does not match its stored hash: its content or \
         position was changed"
    )]
    Altered {
        seq: u64,
        case_id: CaseId,
        event: String,
    },
    #[error(
        "record {seq} (case {case_id}, {event}) does not follow record {}: records were removed, \
         replaced or reordered before it",
        seq - 1
    )]
    Broken {
        seq: u64,
        case_id: CaseId,
        event: String,
    },
    #[error(
        "the chain ends at record {last} but its head says {head}: records after {last} were removed"
    )]
    Truncated { last: u64, head: u64 },
    #[error("the head's hash does not match record {seq}: the head was altered")]
    HeadMismatch { seq: u64 },
    #[error(
        "checkpoint at record {seq}, signed {signed_at}, does not match the chain: records up to \
         {seq} were altered, removed or rewritten"
    )]
    CheckpointMismatch { seq: u64, signed_at: Timestamp },
    #[error("checkpoint at record {seq} has an invalid signature for key {key_id}")]
    BadSignature { seq: u64, key_id: String },
}

/// A stored record with what the chain needs to check it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub entry: Entry,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
}

/// Checks a chain one record at a time, in storage order: positions without gaps from 1, each
/// stored hash equal to the one recomputed from the record, each stored previous hash equal to
/// the hash before it. Records must carry body digests recomputed from the stored bodies, not
/// read from a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Walk {
    seq: u64,
    hash: [u8; 32],
}

impl Default for Walk {
    fn default() -> Self {
        Walk::new()
    }
}

impl Walk {
    /// Before the first record.
    pub fn new() -> Walk {
        Walk {
            seq: 0,
            hash: GENESIS,
        }
    }

    /// Checks the next record.
    pub fn step(&mut self, record: &Stored) -> Result<(), ChainError> {
        let entry = &record.entry;
        if entry.seq != self.seq + 1 {
            return Err(ChainError::Gap {
                expected: self.seq + 1,
                found: entry.seq,
            });
        }
        if link(&record.prev_hash, &entry.digest()) != record.hash {
            return Err(ChainError::Altered {
                seq: entry.seq,
                case_id: entry.case_id,
                event: entry.event.clone(),
            });
        }
        if record.prev_hash != self.hash {
            return Err(ChainError::Broken {
                seq: entry.seq,
                case_id: entry.case_id,
                event: entry.event.clone(),
            });
        }
        self.seq = entry.seq;
        self.hash = record.hash;
        Ok(())
    }

    /// The last position checked (0 before any).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The hash after the last record checked.
    pub fn hash(&self) -> [u8; 32] {
        self.hash
    }
}

/// Checks a whole chain; returns its last `(seq, hash)`.
pub fn verify_chain<'a>(
    records: impl IntoIterator<Item = &'a Stored>,
) -> Result<(u64, [u8; 32]), ChainError> {
    let mut walk = Walk::new();
    for record in records {
        walk.step(record)?;
    }
    Ok((walk.seq(), walk.hash()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn entry(seq: u64, body: &str) -> Entry {
        Entry {
            seq,
            service: "referrals".into(),
            case_id: CaseId::parse("0190b8a2-4f6e-7c3d-9a1b-2c3d4e5f6a7b").unwrap(),
            event: "referral.submitted".into(),
            actor: AgencyCode::parse("11350100MB0100002P").unwrap(),
            at: Timestamp::from_millis(1_771_000_000_000 + seq as i64),
            message_id: format!("m-{seq}"),
            body_sha256: Sha256Digest::of(body.as_bytes()),
        }
    }

    fn chain(n: u64) -> Vec<Stored> {
        let mut previous = GENESIS;
        (1..=n)
            .map(|seq| {
                let entry = entry(seq, &format!("body {seq}"));
                let hash = link(&previous, &entry.digest());
                let stored = Stored {
                    entry,
                    prev_hash: previous,
                    hash,
                };
                previous = hash;
                stored
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_verifies_to_its_head() {
        let records = chain(5);
        assert_eq!(verify_chain(&records), Ok((5, records[4].hash)));
        assert_eq!(verify_chain(&[]), Ok((0, GENESIS)));
    }

    #[test]
    fn a_changed_body_is_named_as_altered() {
        let mut records = chain(5);
        records[2].entry.body_sha256 = Sha256Digest::of(b"forged");
        assert!(matches!(
            verify_chain(&records),
            Err(ChainError::Altered { seq: 3, .. })
        ));
    }

    #[test]
    fn a_removed_record_is_named_as_the_gap() {
        let mut records = chain(5);
        records.remove(2);
        assert_eq!(
            verify_chain(&records),
            Err(ChainError::Gap {
                expected: 3,
                found: 4
            })
        );
    }

    #[test]
    fn swapped_records_renumbered_to_hide_it_break_the_links() {
        let mut records = chain(5);
        records.swap(1, 2);
        records[1].entry.seq = 2;
        records[2].entry.seq = 3;
        // Their digests covered their positions: the first moved record no longer matches.
        assert!(matches!(
            verify_chain(&records),
            Err(ChainError::Altered { seq: 2, .. })
        ));
    }

    #[test]
    fn a_record_replaced_with_a_rehashed_one_breaks_the_next_link() {
        let mut records = chain(5);
        let mut forged = entry(3, "forged");
        forged.event = "referral.filed".into();
        records[2].hash = link(&records[2].prev_hash, &forged.digest());
        records[2].entry = forged;
        assert!(matches!(
            verify_chain(&records),
            Err(ChainError::Broken { seq: 4, .. })
        ));
    }

    #[test]
    fn receipts_and_checkpoints_sign_every_field() {
        let base = Receipt {
            service: "referrals".into(),
            case_id: CaseId::generate(),
            step: "submit".into(),
            actor: AgencyCode::parse("11350100MB0100002P").unwrap(),
            request_id: RequestId::parse("r-1").unwrap(),
            content_digest: Sha256Digest::of(b"request"),
            accepted_at: Timestamp::from_millis(1),
            first_seq: 1,
            last_seq: 1,
            chain_hash: Sha256Digest::from_bytes([7; 32]),
            key_id: "k".into(),
            signature: String::new(),
        };
        let mut changed = base.clone();
        changed.last_seq = 2;
        assert_ne!(base.signed_bytes(), changed.signed_bytes());
        let mut signed = base.clone();
        signed.signature = "ab".into();
        assert_eq!(base.signed_bytes(), signed.signed_bytes());
    }
}

/// The format tag of an evidence bundle's manifest.
pub const BUNDLE_FORMAT: &str = "casebridge-bundle/v1";

/// One record of the case, with its body exactly as stored (JSON text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleRecord {
    pub seq: u64,
    pub event: String,
    pub actor: AgencyCode,
    pub at: Timestamp,
    pub message_id: String,
    /// The event's body: the notice as delivered, byte for byte.
    pub body: String,
}

/// A record of another case between the case's records and the checkpoint: only its digest,
/// so the bundle proves the chain without revealing other cases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub seq: u64,
    pub digest: Sha256Digest,
}

/// An attachment the case's steps reference, stored in the bundle as `attachments/<sha256>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleAttachment {
    pub sha256: Sha256Digest,
    pub size: u64,
}

/// What an evidence bundle holds about one case: its records, the chain between them and a
/// signed checkpoint, its receipts and its attachments. Checked offline by
/// [`Bundle::chain_at`] and the signatures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bundle {
    pub format: String,
    pub case_id: CaseId,
    pub service: String,
    /// The operator key's id and public key (hex) that signed the checkpoint and receipts.
    pub key_id: String,
    pub public_key: String,
    /// The chain hash before the case's first record.
    pub start: Sha256Digest,
    /// The case's records, oldest first.
    pub records: Vec<BundleRecord>,
    /// Every other record from the case's first record up to the checkpoint.
    pub links: Vec<Link>,
    /// A signed checkpoint at or after the case's last record.
    pub checkpoint: Checkpoint,
    /// Its Ed25519 signature, hex.
    pub checkpoint_signature: String,
    pub receipts: Vec<Receipt>,
    pub attachments: Vec<BundleAttachment>,
}

/// Why a bundle does not check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error("not a CaseBridge bundle ({0})")]
    Format(String),
    #[error("record {seq} belongs in the chain but the bundle has neither it nor its digest")]
    MissingLink { seq: u64 },
    #[error("the bundle holds record {seq} twice")]
    Duplicate { seq: u64 },
    #[error("record {seq} ({event}) is of case {found}, not of the bundle's case")]
    ForeignRecord {
        seq: u64,
        event: String,
        found: CaseId,
    },
    #[error(
        "the chain rebuilt from the bundle does not reach the signed checkpoint at record {seq}: \
         a record or digest was changed, added or removed"
    )]
    ChainMismatch { seq: u64 },
    #[error("the checkpoint's signature is not the operator key's {key_id}")]
    CheckpointSignature { key_id: String },
    #[error("receipt for step {step} (records {first}..{last}) is not signed by key {key_id}")]
    ReceiptSignature {
        step: String,
        first: u64,
        last: u64,
        key_id: String,
    },
    #[error(
        "receipt for step {step} names chain hash {claimed} at record {seq}, but the chain has \
         another hash there"
    )]
    ReceiptNotOnChain {
        step: String,
        seq: u64,
        claimed: Sha256Digest,
    },
    #[error("record {seq}'s body is not a notice of this case")]
    Body { seq: u64 },
}

impl Bundle {
    /// Rebuilds the chain from the first record to the checkpoint and returns the hash after
    /// every position, checking the records are this case's and end at the signed hash.
    pub fn chain_at(&self) -> Result<std::collections::BTreeMap<u64, [u8; 32]>, BundleError> {
        if self.format != BUNDLE_FORMAT {
            return Err(BundleError::Format(self.format.clone()));
        }
        let mut digests = std::collections::BTreeMap::new();
        for record in &self.records {
            let notice: serde_json::Value = serde_json::from_str(&record.body)
                .map_err(|_| BundleError::Body { seq: record.seq })?;
            let of_case = notice
                .get("case_id")
                .and_then(|v| v.as_str())
                .and_then(|v| CaseId::parse(v).ok());
            match of_case {
                Some(id) if id == self.case_id => {}
                Some(found) => {
                    return Err(BundleError::ForeignRecord {
                        seq: record.seq,
                        event: record.event.clone(),
                        found,
                    });
                }
                None => return Err(BundleError::Body { seq: record.seq }),
            }
            let entry = Entry {
                seq: record.seq,
                service: self.service.clone(),
                case_id: self.case_id,
                event: record.event.clone(),
                actor: record.actor.clone(),
                at: record.at,
                message_id: record.message_id.clone(),
                body_sha256: Sha256Digest::of(record.body.as_bytes()),
            };
            if digests.insert(record.seq, entry.digest()).is_some() {
                return Err(BundleError::Duplicate { seq: record.seq });
            }
        }
        for link in &self.links {
            if digests.insert(link.seq, *link.digest.as_bytes()).is_some() {
                return Err(BundleError::Duplicate { seq: link.seq });
            }
        }
        let first = self.records.first().map_or(self.checkpoint.seq, |r| r.seq);
        let mut hash = *self.start.as_bytes();
        let mut hashes = std::collections::BTreeMap::new();
        for seq in first..=self.checkpoint.seq {
            let digest = digests.get(&seq).ok_or(BundleError::MissingLink { seq })?;
            hash = link(&hash, digest);
            hashes.insert(seq, hash);
        }
        if hash != *self.checkpoint.hash.as_bytes() {
            return Err(BundleError::ChainMismatch {
                seq: self.checkpoint.seq,
            });
        }
        Ok(hashes)
    }
}
