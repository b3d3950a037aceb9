//! What the stored due times were counted on (`deadlines_calendar`, `deadlines_rules`), so a
//! recount knows which calendar years and which rules changed since.

use casebridge_platform::store::{Db, StoreError};

/// The digest of each calendar year the stored due times were counted on.
pub async fn counted_calendar(db: &Db) -> Result<Vec<(i32, String)>, StoreError> {
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT year, fingerprint FROM deadlines_calendar ORDER BY year")
            .fetch_all(db.pool())
            .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(year, f)| Some((i32::try_from(year).ok()?, f)))
        .collect())
}

/// Records the digest of each calendar year the due times are now counted on.
pub async fn set_counted_calendar(
    conn: &mut sqlx::AnyConnection,
    years: &[(i32, String)],
) -> Result<(), StoreError> {
    for (year, fingerprint) in years {
        sqlx::query(
            "INSERT INTO deadlines_calendar (year, fingerprint) VALUES ($1, $2) \
             ON CONFLICT (year) DO UPDATE SET fingerprint = excluded.fingerprint",
        )
        .bind(i64::from(*year))
        .bind(fingerprint)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// A timer rule's definition as the stored due times were counted under it: the digest of its
/// timing ([`casebridge_core::deadline::Timing::digest`]) and the definition itself, so a later
/// change shows what changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountedRule {
    pub rule: String,
    pub fingerprint: String,
    /// [`casebridge_core::deadline::Timing::canonical`].
    pub timing: String,
}

/// The rule definitions the stored due times were counted under.
pub async fn counted_rules(db: &Db) -> Result<Vec<CountedRule>, StoreError> {
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT rule, fingerprint, timing FROM deadlines_rules ORDER BY rule")
            .fetch_all(db.pool())
            .await?;
    Ok(rows
        .into_iter()
        .map(|(rule, fingerprint, timing)| CountedRule {
            rule,
            fingerprint,
            timing,
        })
        .collect())
}

/// Records the rule definitions the due times are now counted under: exactly `rules` (a rule
/// no longer in the table is forgotten, so one added again later counts as new).
pub async fn set_counted_rules(
    conn: &mut sqlx::AnyConnection,
    rules: &[CountedRule],
) -> Result<(), StoreError> {
    for counted in rules {
        sqlx::query(
            "INSERT INTO deadlines_rules (rule, fingerprint, timing) VALUES ($1, $2, $3) \
             ON CONFLICT (rule) DO UPDATE SET fingerprint = excluded.fingerprint, \
             timing = excluded.timing",
        )
        .bind(&counted.rule)
        .bind(&counted.fingerprint)
        .bind(&counted.timing)
        .execute(&mut *conn)
        .await?;
    }
    let placeholders: Vec<String> = (1..=rules.len()).map(|i| format!("${i}")).collect();
    let sql = if rules.is_empty() {
        "DELETE FROM deadlines_rules".to_owned()
    } else {
        format!(
            "DELETE FROM deadlines_rules WHERE rule NOT IN ({})",
            placeholders.join(", ")
        )
    };
    let mut query = sqlx::query(&sql);
    for counted in rules {
        query = query.bind(&counted.rule);
    }
    query.execute(&mut *conn).await?;
    Ok(())
}
