//! The full-process record of one service: its events appended to a hash chain in the same
//! transaction as the step that caused them, checkpoints of the chain's head signed by the
//! operator's key in the background, signed receipts, and verification straight from the tables.
//!
//! Tables, prefixed with the service's name:
//! - `<svc>_ledger`: one row per event — position, case, event, actor, time, message id, the
//!   event's body as stored, the previous hash and the hash;
//! - `<svc>_ledger_head`: the last position and hash; appending locks this one row, so replicas
//!   append one after another and the chain never forks;
//! - `<svc>_ledger_checkpoints`: signed heads.
//!
//! The encoding of what is hashed and signed is `casebridge_core::ledger`, so a bundle can be
//! checked offline with the public key alone.

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use casebridge_core::ids::{AgencyCode, CaseId, Sha256Digest};
use casebridge_core::ledger::{
    self, Bundle, BundleError, BundleRecord, ChainError, Checkpoint, Entry, GENESIS, Link, Receipt,
    Stored, Walk,
};
use casebridge_core::notice::Notice;
use casebridge_core::time::{Clock, Timestamp};
use ring::signature::{self, Ed25519KeyPair, KeyPair as _};
use sqlx::Row;
use tokio_util::sync::CancellationToken;

use crate::store::{Db, Migration, StoreError, Value, Write, Writes};

/// Failures of the signing key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read the operator key {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write the operator key {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not an Ed25519 private key in PKCS#8 PEM (\"PRIVATE KEY\")")]
    Invalid { path: String },
    #[error("cannot generate an operator key")]
    Generate,
}

/// The operator's Ed25519 key: signs checkpoints and receipts.
#[derive(Clone)]
pub struct Signer {
    pair: Arc<Ed25519KeyPair>,
    key_id: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A key from PKCS#8 DER.
    pub fn from_pkcs8(der: &[u8]) -> Option<Signer> {
        let pair = Ed25519KeyPair::from_pkcs8(der).ok()?;
        let key_id = ledger::key_id(pair.public_key().as_ref());
        Some(Signer {
            pair: Arc::new(pair),
            key_id,
        })
    }

    /// A new random key, as PKCS#8 DER (for tests and the development set-up).
    pub fn generate_pkcs8() -> Result<Vec<u8>, KeyError> {
        let rng = ring::rand::SystemRandom::new();
        Ed25519KeyPair::generate_pkcs8(&rng)
            .map(|doc| doc.as_ref().to_vec())
            .map_err(|_| KeyError::Generate)
    }

    /// Loads the key at `path` (PKCS#8 PEM), creating it first when `create` and it is missing.
    /// The public key is written beside it as `<name>.pub` (hex), for verifiers.
    pub fn load(path: &Path, create: bool) -> Result<Signer, KeyError> {
        let shown = path.display().to_string();
        if create && !path.exists() {
            let der = Signer::generate_pkcs8()?;
            let text = pem::encode(&pem::Pem::new("PRIVATE KEY", der));
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|source| KeyError::Write {
                    path: shown.clone(),
                    source,
                })?;
            }
            std::fs::write(path, text).map_err(|source| KeyError::Write {
                path: shown.clone(),
                source,
            })?;
        }
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
            path: shown.clone(),
            source,
        })?;
        let der = pem::parse(text)
            .ok()
            .filter(|p| p.tag() == "PRIVATE KEY")
            .ok_or_else(|| KeyError::Invalid {
                path: shown.clone(),
            })?;
        let signer = Signer::from_pkcs8(der.contents()).ok_or(KeyError::Invalid { path: shown })?;
        let public = path.with_extension("pub");
        if !public.exists() {
            let _ = std::fs::write(&public, format!("{}\n", signer.public_key_hex()));
        }
        Ok(signer)
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The public key, hex: what verifiers need.
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.pair.public_key().as_ref())
    }

    fn sign(&self, bytes: &[u8]) -> Vec<u8> {
        self.pair.sign(bytes).as_ref().to_vec()
    }

    /// Signs a receipt in place (its key id first).
    pub fn sign_receipt(&self, receipt: &mut Receipt) {
        receipt.key_id = self.key_id.clone();
        receipt.signature = hex::encode(self.sign(&receipt.signed_bytes()));
    }
}

/// Checks signatures with a public key alone (offline verification).
#[derive(Debug, Clone)]
pub struct Verifier {
    public_key: Vec<u8>,
    key_id: String,
}

impl Verifier {
    /// From the hex public key (as in `<key>.pub`).
    pub fn from_hex(text: &str) -> Option<Verifier> {
        let public_key = hex::decode(text.trim()).ok().filter(|k| k.len() == 32)?;
        let key_id = ledger::key_id(&public_key);
        Some(Verifier { public_key, key_id })
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    fn verifies(&self, bytes: &[u8], signature: &[u8]) -> bool {
        signature::UnparsedPublicKey::new(&signature::ED25519, &self.public_key)
            .verify(bytes, signature)
            .is_ok()
    }

    /// Whether the receipt was signed by this key and has not been changed since.
    pub fn receipt_is_genuine(&self, receipt: &Receipt) -> bool {
        receipt.key_id == self.key_id
            && hex::decode(&receipt.signature)
                .is_ok_and(|signature| self.verifies(&receipt.signed_bytes(), &signature))
    }

    /// Whether the checkpoint's signature is this key's.
    pub fn checkpoint_is_genuine(&self, checkpoint: &Checkpoint, signature: &[u8]) -> bool {
        self.verifies(&checkpoint.signed_bytes(), signature)
    }
}

/// The ledger tables of `service` (migration version 3).
pub fn migrations(service: &str) -> Vec<Migration> {
    let sql = |blob: &str| {
        format!(
            "CREATE TABLE {s}_ledger (seq BIGINT PRIMARY KEY, case_id TEXT NOT NULL, \
               event TEXT NOT NULL, actor TEXT NOT NULL, at BIGINT NOT NULL, \
               message_id TEXT NOT NULL, body {blob} NOT NULL, prev_hash {blob} NOT NULL, \
               hash {blob} NOT NULL);\n\
             CREATE INDEX {s}_ledger_by_case ON {s}_ledger (case_id, seq);\n\
             CREATE TABLE {s}_ledger_head (id BIGINT PRIMARY KEY, seq BIGINT NOT NULL, \
               hash {blob} NOT NULL);\n\
             INSERT INTO {s}_ledger_head (id, seq, hash) VALUES (1, 0, {genesis});\n\
             CREATE TABLE {s}_ledger_checkpoints (seq BIGINT PRIMARY KEY, hash {blob} NOT NULL, \
               signed_at BIGINT NOT NULL, key_id TEXT NOT NULL, signature {blob} NOT NULL);\n\
             CREATE TABLE {s}_ledger_receipts (first_seq BIGINT PRIMARY KEY, \
               case_id TEXT NOT NULL, receipt {blob} NOT NULL);\n\
             CREATE INDEX {s}_ledger_receipts_by_case ON {s}_ledger_receipts (case_id, first_seq);",
            s = service,
            genesis = if blob == "BYTEA" {
                format!("'\\x{}'::bytea", hex::encode(GENESIS))
            } else {
                format!("X'{}'", hex::encode(GENESIS))
            }
        )
    };
    vec![Migration {
        version: 3,
        description: Cow::Borrowed("ledger: hash chain, head, signed checkpoints, receipts"),
        postgres: Cow::Owned(sql("BYTEA")),
        sqlite: Cow::Owned(sql("BLOB")),
    }]
}

/// Records per INSERT when appending many: 9 parameters each, well inside both databases'
/// limits.
const APPEND_ROWS_PER_STATEMENT: usize = 64;

/// Where an event landed in the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub seq: u64,
    pub hash: [u8; 32],
}

/// One service's chain.
#[derive(Debug, Clone)]
pub struct Chain {
    service: String,
    entries: String,
    head: String,
    checkpoints: String,
    receipts: String,
}

fn bytes32(bytes: Vec<u8>, what: &str) -> Result<[u8; 32], StoreError> {
    bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("ledger {what} is not 32 bytes")))
}

fn seq_of(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn sql_seq(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl Chain {
    pub fn new(service: &str) -> Chain {
        Chain {
            service: service.to_owned(),
            entries: format!("{service}_ledger"),
            head: format!("{service}_ledger_head"),
            checkpoints: format!("{service}_ledger_checkpoints"),
            receipts: format!("{service}_ledger_receipts"),
        }
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    /// Appends the notices of one step, in order, inside the caller's transaction. Locks the
    /// head row until the transaction ends, so call it last before the commit.
    pub async fn append(
        &self,
        conn: &mut sqlx::AnyConnection,
        notices: &[(String, Notice)],
    ) -> Result<Vec<Position>, StoreError> {
        let mut head = self.lock_head(conn).await?;
        let mut writes = Writes::default();
        let positions = self.link(&mut head, notices, &mut writes)?;
        writes.execute_each(conn).await?;
        Ok(positions)
    }

    /// Locks the head row until the caller's transaction ends and reads it: where the next
    /// records link on. A transaction that holds the lock may keep the head in memory and
    /// [`Chain::link`] one step after another on it, since no one else can move it.
    pub async fn lock_head(&self, conn: &mut sqlx::AnyConnection) -> Result<Position, StoreError> {
        // Taking the row lock and reading the head in one statement.
        let row = sqlx::query(&format!(
            "UPDATE {} SET seq = seq WHERE id = 1 RETURNING seq, hash",
            self.head
        ))
        .fetch_one(&mut *conn)
        .await?;
        Ok(Position {
            seq: seq_of(row.get::<i64, _>(0)),
            hash: bytes32(row.get::<Vec<u8>, _>(1), "head hash")?,
        })
    }

    /// Links `notices`, in order, after `head` (locked by the caller's transaction, see
    /// [`Chain::lock_head`]) and moves `head` to the last; adds to `writes` what records them:
    /// their rows and the new head. Returns where each landed.
    pub fn link(
        &self,
        head: &mut Position,
        notices: &[(String, Notice)],
        writes: &mut Writes,
    ) -> Result<Vec<Position>, StoreError> {
        let mut positions = Vec::with_capacity(notices.len());
        let mut rows = Vec::with_capacity(notices.len());
        for (message_id, notice) in notices {
            let seq = head.seq + 1;
            let body =
                serde_json::to_vec(notice).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let entry = Entry {
                seq,
                service: self.service.clone(),
                case_id: notice.case_id,
                event: notice.routing_key(),
                actor: notice.actor.clone(),
                at: notice.at,
                message_id: message_id.clone(),
                body_sha256: Sha256Digest::of(&body),
            };
            let hash = ledger::link(&head.hash, &entry.digest());
            rows.push((entry, body, head.hash, hash));
            *head = Position { seq, hash };
            positions.push(*head);
        }
        // A burst (the deadlines timer's batch) is many records: a few rows per statement.
        let mut rows = rows.into_iter();
        loop {
            let chunk: Vec<_> = rows.by_ref().take(APPEND_ROWS_PER_STATEMENT).collect();
            if chunk.is_empty() {
                break;
            }
            let values: Vec<String> = (0..chunk.len())
                .map(|i| {
                    let n = i * 9;
                    format!(
                        "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                        n + 1,
                        n + 2,
                        n + 3,
                        n + 4,
                        n + 5,
                        n + 6,
                        n + 7,
                        n + 8,
                        n + 9
                    )
                })
                .collect();
            let mut args = Vec::with_capacity(chunk.len() * 9);
            for (entry, body, prev, hash) in chunk {
                args.extend([
                    Value::Int(sql_seq(entry.seq)),
                    Value::Text(entry.case_id.to_string()),
                    Value::Text(entry.event.clone()),
                    Value::Text(entry.actor.as_str().to_owned()),
                    Value::Int(entry.at.as_millis()),
                    Value::Text(entry.message_id.clone()),
                    Value::Bytes(body),
                    Value::Bytes(prev.to_vec()),
                    Value::Bytes(hash.to_vec()),
                ]);
            }
            writes.push(Write::new(
                format!(
                    "INSERT INTO {} (seq, case_id, event, actor, at, message_id, body, \
                     prev_hash, hash) VALUES {}",
                    self.entries,
                    values.join(", ")
                ),
                args,
            ));
        }
        writes.push(Write::new(
            format!("UPDATE {} SET seq = $1, hash = $2 WHERE id = 1", self.head),
            vec![
                Value::Int(sql_seq(head.seq)),
                Value::Bytes(head.hash.to_vec()),
            ],
        ));
        Ok(positions)
    }

    /// Keeps a step's receipt, in the step's transaction, so a case's receipts can be exported.
    pub async fn record_receipt(
        &self,
        conn: &mut sqlx::AnyConnection,
        receipt: &Receipt,
    ) -> Result<(), StoreError> {
        self.receipt_write(receipt)?.execute(conn).await
    }

    /// The write that keeps a step's receipt, for the step's [`Writes`].
    pub fn receipt_write(&self, receipt: &Receipt) -> Result<Write, StoreError> {
        let json = serde_json::to_vec(receipt).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(Write::new(
            format!(
                "INSERT INTO {} (first_seq, case_id, receipt) VALUES ($1, $2, $3)",
                self.receipts
            ),
            vec![
                Value::Int(sql_seq(receipt.first_seq)),
                Value::Text(receipt.case_id.to_string()),
                Value::Bytes(json),
            ],
        ))
    }

    /// The receipts of one case, oldest first.
    pub async fn receipts_of(&self, db: &Db, case_id: CaseId) -> Result<Vec<Receipt>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT receipt FROM {} WHERE case_id = $1 ORDER BY first_seq",
            self.receipts
        ))
        .bind(case_id.to_string())
        .fetch_all(db.pool())
        .await?;
        rows.iter()
            .map(|row| {
                serde_json::from_slice(&row.try_get::<Vec<u8>, _>(0)?)
                    .map_err(|e| StoreError::Corrupt(format!("stored receipt: {e}")))
            })
            .collect()
    }

    /// Everything a bundle needs about one case from this chain: its records with their bodies,
    /// the digests of the other records up to a signed checkpoint covering the last one (signed
    /// now with `signer` if none does yet), and its receipts. `None` when the chain has no
    /// record of the case. Attachments are the caller's to add.
    pub async fn export(
        &self,
        db: &Db,
        case_id: CaseId,
        signer: &Signer,
        now: Timestamp,
    ) -> Result<Option<Bundle>, StoreError> {
        let records = self.of_case(db, case_id).await?;
        let (Some((first, _)), Some((last, _))) = (records.first(), records.last()) else {
            return Ok(None);
        };
        let (first_seq, start, last_seq) = (first.entry.seq, first.prev_hash, last.entry.seq);
        let mut checkpoints = self.checkpoints(db).await?;
        if !checkpoints.iter().any(|(c, _)| c.seq >= last_seq) {
            self.checkpoint(db, signer, now).await?;
            checkpoints = self.checkpoints(db).await?;
        }
        let Some((checkpoint, signature)) =
            checkpoints.into_iter().find(|(c, _)| c.seq >= last_seq)
        else {
            return Err(StoreError::Corrupt(format!(
                "no checkpoint covers record {last_seq} of {}",
                self.service
            )));
        };
        let own: Vec<u64> = records.iter().map(|(r, _)| r.entry.seq).collect();
        let links = self
            .range(db, first_seq, checkpoint.seq)
            .await?
            .into_iter()
            .filter(|r| !own.contains(&r.entry.seq))
            .map(|r| Link {
                seq: r.entry.seq,
                digest: Sha256Digest::from_bytes(r.entry.digest()),
            })
            .collect();
        let records = records
            .into_iter()
            .map(|(stored, body)| {
                let body = String::from_utf8(body).map_err(|_| {
                    StoreError::Corrupt(format!("record {} body is not UTF-8", stored.entry.seq))
                })?;
                Ok(BundleRecord {
                    seq: stored.entry.seq,
                    event: stored.entry.event,
                    actor: stored.entry.actor,
                    at: stored.entry.at,
                    message_id: stored.entry.message_id,
                    body,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Some(Bundle {
            format: ledger::BUNDLE_FORMAT.to_owned(),
            case_id,
            service: self.service.clone(),
            key_id: signer.key_id().to_owned(),
            public_key: signer.public_key_hex(),
            start: Sha256Digest::from_bytes(start),
            records,
            links,
            checkpoint,
            checkpoint_signature: hex::encode(signature),
            receipts: self.receipts_of(db, case_id).await?,
            attachments: Vec::new(),
        }))
    }

    /// The head: the last position and hash.
    pub async fn head(&self, db: &Db) -> Result<Position, StoreError> {
        let row = sqlx::query(&format!("SELECT seq, hash FROM {} WHERE id = 1", self.head))
            .fetch_one(db.pool())
            .await?;
        Ok(Position {
            seq: seq_of(row.get::<i64, _>(0)),
            hash: bytes32(row.get::<Vec<u8>, _>(1), "head hash")?,
        })
    }

    /// Signs the head when it moved since the last checkpoint; returns the new checkpoint.
    pub async fn checkpoint(
        &self,
        db: &Db,
        signer: &Signer,
        now: Timestamp,
    ) -> Result<Option<Checkpoint>, StoreError> {
        let head = self.head(db).await?;
        let last: Option<i64> =
            sqlx::query_scalar(&format!("SELECT MAX(seq) FROM {}", self.checkpoints))
                .fetch_one(db.pool())
                .await?;
        if head.seq == 0 || last.is_some_and(|last| seq_of(last) >= head.seq) {
            return Ok(None);
        }
        let checkpoint = Checkpoint {
            service: self.service.clone(),
            seq: head.seq,
            hash: Sha256Digest::from_bytes(head.hash),
            signed_at: now,
        };
        let signature = signer.sign(&checkpoint.signed_bytes());
        // Another replica may have signed the same head meanwhile: keep the first.
        sqlx::query(&format!(
            "INSERT INTO {} (seq, hash, signed_at, key_id, signature) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (seq) DO NOTHING",
            self.checkpoints
        ))
        .bind(sql_seq(checkpoint.seq))
        .bind(head.hash.to_vec())
        .bind(now.as_millis())
        .bind(signer.key_id())
        .bind(signature)
        .execute(db.pool())
        .await?;
        Ok(Some(checkpoint))
    }

    /// Checks the whole chain in the database: every record against its stored body, the links,
    /// the head, and every checkpoint against the chain and `verifier`. Names the first bad
    /// record. Reads in pages, so memory does not grow with the chain.
    pub async fn verify(&self, db: &Db, verifier: &Verifier) -> Result<Verified, VerifyError> {
        const PAGE: i64 = 1000;
        let checkpoints = self.checkpoints(db).await?;
        // The chain's hash at each checkpointed position, as the walk passes it.
        let mut at_checkpoints = Vec::new();
        let mut walk = Walk::new();
        loop {
            let rows = sqlx::query(&format!(
                "SELECT seq, case_id, event, actor, at, message_id, body, prev_hash, hash FROM {} \
                 WHERE seq > $1 ORDER BY seq LIMIT $2",
                self.entries
            ))
            .bind(sql_seq(walk.seq()))
            .bind(PAGE)
            .fetch_all(db.pool())
            .await
            .map_err(StoreError::from)?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                walk.step(&self.stored(row)?)?;
                if checkpoints.iter().any(|(c, _)| c.seq == walk.seq()) {
                    at_checkpoints.push((walk.seq(), walk.hash()));
                }
            }
        }
        let head = self.head(db).await?;
        if head.seq > walk.seq() {
            return Err(ChainError::Truncated {
                last: walk.seq(),
                head: head.seq,
            }
            .into());
        }
        if head.seq < walk.seq() || head.hash != walk.hash() {
            return Err(ChainError::HeadMismatch { seq: walk.seq() }.into());
        }
        // Every checkpoint must fall on the chain as it is now, and be the operator's.
        for (checkpoint, signature) in &checkpoints {
            let on_chain = at_checkpoints
                .iter()
                .find(|(seq, _)| *seq == checkpoint.seq)
                .map(|(_, hash)| hash);
            if on_chain != Some(checkpoint.hash.as_bytes()) {
                return Err(ChainError::CheckpointMismatch {
                    seq: checkpoint.seq,
                    signed_at: checkpoint.signed_at,
                }
                .into());
            }
            if !verifier.checkpoint_is_genuine(checkpoint, signature) {
                return Err(ChainError::BadSignature {
                    seq: checkpoint.seq,
                    key_id: verifier.key_id().to_owned(),
                }
                .into());
            }
        }
        Ok(Verified {
            records: walk.seq(),
            checkpoints: checkpoints.len(),
            last_checkpoint: checkpoints.last().map(|(c, _)| c.seq),
        })
    }

    /// Every checkpoint with its signature, oldest first.
    pub async fn checkpoints(&self, db: &Db) -> Result<Vec<(Checkpoint, Vec<u8>)>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT seq, hash, signed_at, signature FROM {} ORDER BY seq",
            self.checkpoints
        ))
        .fetch_all(db.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    Checkpoint {
                        service: self.service.clone(),
                        seq: seq_of(row.get::<i64, _>(0)),
                        hash: Sha256Digest::from_bytes(bytes32(
                            row.get::<Vec<u8>, _>(1),
                            "checkpoint hash",
                        )?),
                        signed_at: Timestamp::from_millis(row.get(2)),
                    },
                    row.get::<Vec<u8>, _>(3),
                ))
            })
            .collect()
    }

    /// Rebuilds a record from its row, with the body digest recomputed from the stored body.
    /// Reads with `try_get`: a tampered column of the wrong type is reported, never a panic.
    fn stored(&self, row: &sqlx::any::AnyRow) -> Result<Stored, StoreError> {
        let seq = seq_of(row.try_get::<i64, _>(0)?);
        let corrupt = |what: &str| StoreError::Corrupt(format!("ledger record {seq}: {what}"));
        Ok(Stored {
            entry: Entry {
                seq,
                service: self.service.clone(),
                case_id: CaseId::parse(&row.try_get::<String, _>(1)?)
                    .map_err(|_| corrupt("case id"))?,
                event: row.try_get(2)?,
                actor: AgencyCode::parse(&row.try_get::<String, _>(3)?)
                    .map_err(|_| corrupt("actor"))?,
                at: Timestamp::from_millis(row.try_get(4)?),
                message_id: row.try_get(5)?,
                body_sha256: Sha256Digest::of(&row.try_get::<Vec<u8>, _>(6)?),
            },
            prev_hash: bytes32(row.try_get::<Vec<u8>, _>(7)?, "previous hash")?,
            hash: bytes32(row.try_get::<Vec<u8>, _>(8)?, "hash")?,
        })
    }

    /// The records of one case with their bodies, oldest first.
    pub async fn of_case(
        &self,
        db: &Db,
        case_id: CaseId,
    ) -> Result<Vec<(Stored, Vec<u8>)>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT seq, case_id, event, actor, at, message_id, body, prev_hash, hash FROM {} \
             WHERE case_id = $1 ORDER BY seq",
            self.entries
        ))
        .bind(case_id.to_string())
        .fetch_all(db.pool())
        .await?;
        rows.iter()
            .map(|row| Ok((self.stored(row)?, row.try_get::<Vec<u8>, _>(6)?)))
            .collect()
    }

    /// The records from `from` to `to` inclusive, without bodies: the links of a proof.
    pub async fn range(&self, db: &Db, from: u64, to: u64) -> Result<Vec<Stored>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT seq, case_id, event, actor, at, message_id, body, prev_hash, hash FROM {} \
             WHERE seq >= $1 AND seq <= $2 ORDER BY seq",
            self.entries
        ))
        .bind(sql_seq(from))
        .bind(sql_seq(to))
        .fetch_all(db.pool())
        .await?;
        rows.iter().map(|row| self.stored(row)).collect()
    }
}

/// What a checked bundle holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleSummary {
    pub records: usize,
    pub receipts: usize,
    pub checkpoint: u64,
}

/// Checks a bundle offline with the operator's public key `verifier` (never the key the bundle
/// names): the chain from the case's first record to the checkpoint, the checkpoint's
/// signature, and every receipt's signature, its place on the chain, and that its records are in
/// the bundle as records, not hidden behind a digest. Attachments are checked by the reader of
/// the archive against `bundle.attachments`.
pub fn verify_bundle(bundle: &Bundle, verifier: &Verifier) -> Result<BundleSummary, BundleError> {
    let hashes = bundle.chain_at()?;
    let signature = hex::decode(&bundle.checkpoint_signature).unwrap_or_default();
    if !verifier.checkpoint_is_genuine(&bundle.checkpoint, &signature) {
        return Err(BundleError::CheckpointSignature {
            key_id: verifier.key_id().to_owned(),
        });
    }
    let records: Vec<u64> = bundle.records.iter().map(|r| r.seq).collect();
    for receipt in &bundle.receipts {
        if !verifier.receipt_is_genuine(receipt) {
            return Err(BundleError::ReceiptSignature {
                step: receipt.step.clone(),
                first: receipt.first_seq,
                last: receipt.last_seq,
                key_id: verifier.key_id().to_owned(),
            });
        }
        let on_chain = hashes.get(&receipt.last_seq);
        let hidden = (receipt.first_seq..=receipt.last_seq).find(|seq| !records.contains(seq));
        if on_chain != Some(receipt.chain_hash.as_bytes()) || hidden.is_some() {
            return Err(BundleError::ReceiptNotOnChain {
                step: receipt.step.clone(),
                seq: hidden.unwrap_or(receipt.last_seq),
                claimed: receipt.chain_hash,
            });
        }
    }
    Ok(BundleSummary {
        records: bundle.records.len(),
        receipts: bundle.receipts.len(),
        checkpoint: bundle.checkpoint.seq,
    })
}

/// What a verified chain holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub records: u64,
    pub checkpoints: usize,
    pub last_checkpoint: Option<u64>,
}

/// Why verification failed: the chain is bad, or it could not be read.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Signs the chain's head every `every` while it moves, until `shutdown`. Runs beside intake:
/// a slow signature delays only the next checkpoint, never a step.
pub async fn run_checkpointer(
    chain: Chain,
    db: Db,
    signer: Signer,
    clock: Arc<dyn Clock>,
    every: Duration,
    shutdown: CancellationToken,
) {
    loop {
        match chain.checkpoint(&db, &signer, clock.now()).await {
            Ok(Some(c)) => {
                tracing::debug!(service = %chain.service, seq = c.seq, "ledger checkpoint signed")
            }
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(%error, service = %chain.service, "ledger checkpoint failed; retrying")
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}
