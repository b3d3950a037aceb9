//! The evidence tables, all prefixed `evidence_`, plus the shared messaging tables:
//! - `evidence_objects`: one row per stored content (digest, size, first name and type);
//! - `evidence_uploads`: who uploaded which content, first time each;
//! - `evidence_case_attachments`: which cases reference which content;
//! - `evidence_case_parties`: which agencies are or were parties to which case.
//!
//! Read access is the union of the last three: an agency may read content it uploaded, or
//! content referenced by a case it is a party to. Keeping cases and parties apart (rather than
//! one grant per notice) means an agency that joins a case later, such as the police organ a
//! referral is forwarded to, may read what was attached before it joined.

use casebridge_core::ids::{AgencyCode, CaseId, Sha256Digest};
use casebridge_core::time::Timestamp;
use casebridge_platform::store::{Migration, StoreError, messaging_migrations};
use sqlx::Row;

use crate::api::Attachment;

pub fn migrations() -> Vec<Migration> {
    let mut all = messaging_migrations(crate::SERVICE);
    all.push(Migration::portable(
        100,
        "evidence objects, uploads, case attachments and case parties",
        "CREATE TABLE evidence_objects (digest TEXT PRIMARY KEY, size BIGINT NOT NULL, \
           content_type TEXT NOT NULL, file_name TEXT NOT NULL, first_uploaded_at BIGINT NOT NULL);
         CREATE TABLE evidence_uploads (digest TEXT NOT NULL, uploader TEXT NOT NULL, \
           size BIGINT NOT NULL, uploaded_at BIGINT NOT NULL, PRIMARY KEY (digest, uploader));
         CREATE TABLE evidence_case_attachments (case_id TEXT NOT NULL, digest TEXT NOT NULL, \
           family TEXT NOT NULL, attached_at BIGINT NOT NULL, PRIMARY KEY (case_id, digest));
         CREATE INDEX evidence_case_attachments_by_digest ON evidence_case_attachments (digest);
         CREATE TABLE evidence_case_parties (case_id TEXT NOT NULL, agency TEXT NOT NULL, \
           PRIMARY KEY (case_id, agency));",
    ));
    all
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Records that `uploader` stored `digest`; returns the attachment and whether this content
/// was recorded for the first time. Repeating it changes nothing.
pub async fn record_upload(
    conn: &mut sqlx::AnyConnection,
    uploader: &AgencyCode,
    digest: &Sha256Digest,
    size: u64,
    file_name: &str,
    content_type: &str,
    now: Timestamp,
) -> Result<(Attachment, bool), StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO evidence_objects (digest, size, content_type, file_name, first_uploaded_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (digest) DO NOTHING",
    )
    .bind(digest.to_hex())
    .bind(to_i64(size))
    .bind(content_type)
    .bind(file_name)
    .bind(now.as_millis())
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO evidence_uploads (digest, uploader, size, uploaded_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (digest, uploader) DO NOTHING",
    )
    .bind(digest.to_hex())
    .bind(uploader.as_str())
    .bind(to_i64(size))
    .bind(now.as_millis())
    .execute(&mut *conn)
    .await?;
    let attachment = attachment(conn, digest)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("evidence {digest} vanished after insert")))?;
    Ok((attachment, inserted.rows_affected() == 1))
}

/// The stored content `digest`, if any upload recorded it.
pub async fn attachment(
    conn: &mut sqlx::AnyConnection,
    digest: &Sha256Digest,
) -> Result<Option<Attachment>, StoreError> {
    let row = sqlx::query(
        "SELECT size, content_type, file_name, first_uploaded_at FROM evidence_objects \
         WHERE digest = $1",
    )
    .bind(digest.to_hex())
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|row| Attachment {
        digest: *digest,
        size: u64::try_from(row.get::<i64, _>(0)).unwrap_or(0),
        content_type: row.get(1),
        file_name: row.get(2),
        first_uploaded_at: Timestamp::from_millis(row.get(3)),
    }))
}

/// Whether `agency` uploaded `digest` or is a party to a case that references it.
pub async fn may_read(
    conn: &mut sqlx::AnyConnection,
    agency: &AgencyCode,
    digest: &Sha256Digest,
) -> Result<bool, StoreError> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM evidence_uploads WHERE digest = $1 AND uploader = $2 \
         UNION ALL \
         SELECT 1 FROM evidence_case_attachments a JOIN evidence_case_parties p \
           ON p.case_id = a.case_id WHERE a.digest = $1 AND p.agency = $2 \
         LIMIT 1",
    )
    .bind(digest.to_hex())
    .bind(agency.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    Ok(found.is_some())
}

/// Rows per INSERT when recording many: well inside both databases' parameter limits.
const ROWS_PER_STATEMENT: usize = 200;

/// Records that each case references each digest of `rows` (case, digest, family), a few
/// hundred rows a statement: a batch of events costs one round trip, not one per row. Give
/// the rows sorted and without repeats, so concurrent transactions take their locks in one
/// order and cannot deadlock.
pub async fn attach(
    conn: &mut sqlx::AnyConnection,
    rows: &[(CaseId, Sha256Digest, &str)],
    now: Timestamp,
) -> Result<(), StoreError> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| format!("(${}, ${}, ${}, $1)", 3 * i + 2, 3 * i + 3, 3 * i + 4))
            .collect();
        let sql = format!(
            "INSERT INTO evidence_case_attachments (case_id, digest, family, attached_at) \
             VALUES {} ON CONFLICT (case_id, digest) DO NOTHING",
            values.join(", ")
        );
        let mut insert = sqlx::query(&sql).bind(now.as_millis());
        for (case_id, digest, family) in chunk {
            insert = insert
                .bind(case_id.to_string())
                .bind(digest.to_hex())
                .bind(*family);
        }
        insert.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Records that each agency of `rows` (case, agency) is a party to its case, a few hundred
/// rows a statement. Give the rows sorted and without repeats (see [`attach`]).
pub async fn join(
    conn: &mut sqlx::AnyConnection,
    rows: &[(CaseId, &AgencyCode)],
) -> Result<(), StoreError> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2))
            .collect();
        let sql = format!(
            "INSERT INTO evidence_case_parties (case_id, agency) VALUES {} \
             ON CONFLICT (case_id, agency) DO NOTHING",
            values.join(", ")
        );
        let mut insert = sqlx::query(&sql);
        for (case_id, agency) in chunk {
            insert = insert.bind(case_id.to_string()).bind(agency.as_str());
        }
        insert.execute(&mut *conn).await?;
    }
    Ok(())
}
