//! The penalties service's own tables, beside the engine's case tables
//! (`penalties_case_states`, `penalties_case_parties`) and messaging tables:
//! `penalties_screened_under`, the threshold table the open records were last re-screened under
//! (one row), so a start with a changed table knows to screen them again
//! ([`crate::rescreen`]).

use casebridge_core::ids::CaseId;
use casebridge_core::screening::TableStamp;
use casebridge_core::screening::file::PenaltyFile;
use casebridge_core::time::Timestamp;
use casebridge_platform::store::{Db, Migration, StoreError};
use sqlx::Row;

/// The family's migrations, after the engine's.
pub fn migrations() -> Vec<Migration> {
    vec![
        // The threshold table every open record was last screened under: one row, replaced
        // at the end of each re-screening. No row: the records were recorded before tables were
        // stamped, and a start screens them all once.
        Migration::portable(
            100,
            "the threshold table the open records were screened under",
            "CREATE TABLE penalties_screened_under (one BIGINT PRIMARY KEY, \
               digest TEXT NOT NULL, version TEXT, screened_at BIGINT NOT NULL)",
        ),
    ]
}

/// The statuses of a file that may be open to re-screening: no warning, or one not ended by a
/// referral, an explanation or the procuratorate (the core decides each file; this only keeps
/// the ended ones out of the read).
pub const OPEN_STATUSES: &[&str] = &[
    "recorded",
    "agency_warned",
    "warning_raised",
    "referral_suggested",
    "answer_overdue",
    "warning_cleared",
];

/// The threshold table the open records were last re-screened under, if any.
pub async fn screened_under(db: &Db) -> Result<Option<TableStamp>, StoreError> {
    let row: Option<(String, Option<String>)> =
        sqlx::query_as("SELECT digest, version FROM penalties_screened_under WHERE one = 1")
            .fetch_optional(db.pool())
            .await?;
    Ok(row.map(|(digest, version)| TableStamp { digest, version }))
}

/// Records that every open record is now screened under `table`.
pub async fn set_screened_under(
    db: &Db,
    table: &TableStamp,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO penalties_screened_under (one, digest, version, screened_at) \
         VALUES (1, $1, $2, $3) ON CONFLICT (one) DO UPDATE SET digest = excluded.digest, \
         version = excluded.version, screened_at = excluded.screened_at",
    )
    .bind(&table.digest)
    .bind(table.version.clone())
    .bind(now.as_millis())
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Up to `limit` files in an [`OPEN_STATUSES`] status, by id, after `after`.
pub async fn open_files(
    db: &Db,
    after: Option<CaseId>,
    limit: usize,
) -> Result<Vec<PenaltyFile>, StoreError> {
    let statuses: Vec<String> = (0..OPEN_STATUSES.len())
        .map(|i| format!("${}", i + 2))
        .collect();
    let sql = format!(
        "SELECT id, state FROM penalties_case_states WHERE id > $1 AND status IN ({}) \
         ORDER BY id LIMIT {}",
        statuses.join(", "),
        limit
    );
    let mut query = sqlx::query(&sql).bind(after.map_or_else(String::new, |id| id.to_string()));
    for status in OPEN_STATUSES {
        query = query.bind(*status);
    }
    let rows = query.fetch_all(db.pool()).await?;
    rows.iter()
        .map(|row| {
            let id: String = row.try_get(0)?;
            let state: Vec<u8> = row.try_get(1)?;
            serde_json::from_slice(&state)
                .map_err(|e| StoreError::Corrupt(format!("penalty record {id}: {e}")))
        })
        .collect()
}
