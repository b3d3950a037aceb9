//! The referrals service's tables: `referrals_cases` plus the shared messaging tables.
//!
//! A referral is stored whole as JSON (the state machine's value) with the columns queries
//! filter on beside it. Updates check the version read, so two replicas changing one referral
//! at once cannot both win: the loser gets [`StoreError::Conflict`] and is retried.

use casebridge_core::ids::CaseId;
use casebridge_core::referral::Referral;
use casebridge_platform::store::{Migration, StoreError, messaging_migrations};
use sqlx::Row;

/// All migrations of the service, in order.
pub fn migrations() -> Vec<Migration> {
    let mut all = messaging_migrations(crate::SERVICE);
    all.push(Migration {
        version: 100,
        description: "referral cases".into(),
        postgres: "CREATE TABLE referrals_cases (id TEXT PRIMARY KEY, sender TEXT NOT NULL, \
             police TEXT NOT NULL, procuratorate TEXT, status TEXT NOT NULL, \
             version BIGINT NOT NULL, state BYTEA NOT NULL, submitted_at BIGINT NOT NULL, \
             updated_at BIGINT NOT NULL);
             CREATE INDEX referrals_cases_police ON referrals_cases (police, status);
             CREATE INDEX referrals_cases_sender ON referrals_cases (sender, status);"
            .into(),
        sqlite: "CREATE TABLE referrals_cases (id TEXT PRIMARY KEY, sender TEXT NOT NULL, \
             police TEXT NOT NULL, procuratorate TEXT, status TEXT NOT NULL, \
             version BIGINT NOT NULL, state BLOB NOT NULL, submitted_at BIGINT NOT NULL, \
             updated_at BIGINT NOT NULL);
             CREATE INDEX referrals_cases_police ON referrals_cases (police, status);
             CREATE INDEX referrals_cases_sender ON referrals_cases (sender, status);"
            .into(),
    });
    all
}

/// Reads a referral.
pub async fn load(
    conn: &mut sqlx::AnyConnection,
    case_id: CaseId,
) -> Result<Option<Referral>, StoreError> {
    let row = sqlx::query("SELECT state FROM referrals_cases WHERE id = $1")
        .bind(case_id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|row| {
        serde_json::from_slice(&row.get::<Vec<u8>, _>(0))
            .map_err(|e| StoreError::Corrupt(format!("referral {case_id}: {e}")))
    })
    .transpose()
}

/// Writes `referral`: inserts it when `previous_version` is `None`, otherwise updates it if
/// the stored version is still `previous_version`.
pub async fn save(
    conn: &mut sqlx::AnyConnection,
    referral: &Referral,
    previous_version: Option<u64>,
    now: i64,
) -> Result<(), StoreError> {
    let state = serde_json::to_vec(referral).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let version = i64::try_from(referral.version).unwrap_or(i64::MAX);
    let written =
        match previous_version {
            None => sqlx::query(
                "INSERT INTO referrals_cases (id, sender, police, procuratorate, status, version, \
                 state, submitted_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(referral.id.to_string())
            .bind(referral.sender.as_str())
            .bind(referral.police.as_str())
            .bind(
                referral
                    .procuratorate
                    .as_ref()
                    .map(|p| p.as_str().to_owned()),
            )
            .bind(referral.status.as_str())
            .bind(version)
            .bind(state)
            .bind(referral.submitted_at.as_millis())
            .bind(now)
            .execute(&mut *conn)
            .await?,
            Some(previous) => sqlx::query(
                "UPDATE referrals_cases SET police = $2, status = $3, version = $4, state = $5, \
                 updated_at = $6 WHERE id = $1 AND version = $7",
            )
            .bind(referral.id.to_string())
            .bind(referral.police.as_str())
            .bind(referral.status.as_str())
            .bind(version)
            .bind(state)
            .bind(now)
            .bind(i64::try_from(previous).unwrap_or(i64::MAX))
            .execute(&mut *conn)
            .await?,
        };
    if written.rows_affected() == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict(format!("referral {}", referral.id)))
    }
}
