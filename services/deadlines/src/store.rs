//! The deadlines tables: `deadlines_obligations` plus the shared messaging tables.
//!
//! An obligation's `next_fire_at` is the next moment the timer must act on it (its warning time,
//! then its due time); the timer's query walks the `(stage, next_fire_at)` index, so millions of
//! open obligations cost nothing until they fall due.

use casebridge_core::ids::{AgencyCode, CaseId};
use casebridge_core::notice::Family;
use casebridge_core::time::Timestamp;
use casebridge_platform::store::{Db, Migration, StoreError, messaging_migrations};
use serde::{Deserialize, Serialize};
use sqlx::Row;

pub fn migrations() -> Vec<Migration> {
    let mut all = messaging_migrations(crate::SERVICE);
    let table = |ledger: &str| {
        format!(
            "CREATE TABLE deadlines_obligations (id TEXT PRIMARY KEY, case_id TEXT NOT NULL, \
               family TEXT NOT NULL, rule TEXT NOT NULL, owed_by TEXT NOT NULL, owed_to TEXT, \
               supervisor TEXT, region TEXT NOT NULL, started_at BIGINT NOT NULL, due_at BIGINT, warn_at BIGINT, \
               next_fire_at BIGINT, stage TEXT NOT NULL, closed_at BIGINT, closed_event TEXT, late BIGINT NOT NULL, \
               explanation TEXT NOT NULL, ledger {ledger} NOT NULL);
             CREATE INDEX deadlines_by_fire ON deadlines_obligations (next_fire_at);
             CREATE INDEX deadlines_by_case ON deadlines_obligations (case_id, rule, stage);
             CREATE INDEX deadlines_by_due ON deadlines_obligations (due_at);
             CREATE INDEX deadlines_by_owner ON deadlines_obligations (owed_by, due_at);
             CREATE INDEX deadlines_by_supervisor ON deadlines_obligations (supervisor, due_at);
             CREATE INDEX deadlines_by_start ON deadlines_obligations (started_at);"
        )
    };
    all.push(Migration {
        version: 100,
        description: "obligations".into(),
        postgres: table("BYTEA").into(),
        sqlite: table("BLOB").into(),
    });
    all
}

/// Where an obligation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Waiting; no warning sent yet.
    Open,
    /// The warning was sent; the due time has not passed.
    Warned,
    /// The due time passed; the miss and the escalation were sent. Still waiting for the step.
    Missed,
    /// The step was taken (on time or late).
    Closed,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Open => "open",
            Stage::Warned => "warned",
            Stage::Missed => "missed",
            Stage::Closed => "closed",
        }
    }

    fn parse(s: &str) -> Result<Stage, StoreError> {
        Ok(match s {
            "open" => Stage::Open,
            "warned" => Stage::Warned,
            "missed" => Stage::Missed,
            "closed" => Stage::Closed,
            other => return Err(StoreError::Corrupt(format!("obligation stage {other:?}"))),
        })
    }
}

/// One obligation as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObligationRow {
    pub id: String,
    pub case_id: CaseId,
    pub family: Family,
    pub rule: String,
    /// The agency that owes the step.
    pub owed_by: AgencyCode,
    /// The agency the step is owed to (the other party), when there is one.
    pub owed_to: Option<AgencyCode>,
    /// Who is told when it is missed; `None` when the directory names nobody.
    pub supervisor: Option<AgencyCode>,
    /// Region of the owing agency, for supervisors' filters.
    pub region: String,
    pub started_at: Timestamp,
    /// `None` while paused, or when the calendar for the due year is not loaded.
    pub due_at: Option<Timestamp>,
    pub warn_at: Option<Timestamp>,
    pub next_fire_at: Option<Timestamp>,
    pub stage: Stage,
    pub closed_at: Option<Timestamp>,
    /// The event that fulfilled it (`referral.filed`, …).
    pub closed_event: Option<String>,
    pub late: bool,
    /// Why the due time is what it is, in words.
    pub explanation: String,
    /// The full ledger (rule, start, pauses, extensions, skipped days) as JSON.
    pub ledger: serde_json::Value,
}

pub(crate) const COLUMNS: &str = "id, case_id, family, rule, owed_by, supervisor, region, \
    started_at, due_at, warn_at, next_fire_at, stage, closed_at, late, explanation, ledger, \
    owed_to, closed_event";

fn opt_ts(t: Option<Timestamp>) -> Option<i64> {
    t.map(Timestamp::as_millis)
}

fn family(s: &str) -> Result<Family, StoreError> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|_| StoreError::Corrupt(format!("family {s:?}")))
}

pub(crate) fn row(r: &sqlx::any::AnyRow) -> Result<ObligationRow, StoreError> {
    let corrupt = |what: &str, e: &dyn std::fmt::Display| {
        StoreError::Corrupt(format!("obligation {what}: {e}"))
    };
    let ts = |i: usize| r.get::<Option<i64>, _>(i).map(Timestamp::from_millis);
    Ok(ObligationRow {
        id: r.get(0),
        case_id: CaseId::parse(&r.get::<String, _>(1)).map_err(|e| corrupt("case id", &e))?,
        family: family(&r.get::<String, _>(2))?,
        rule: r.get(3),
        owed_by: AgencyCode::parse(&r.get::<String, _>(4)).map_err(|e| corrupt("owed_by", &e))?,
        supervisor: r
            .get::<Option<String>, _>(5)
            .map(|s| AgencyCode::parse(&s))
            .transpose()
            .map_err(|e| corrupt("supervisor", &e))?,
        region: r.get(6),
        started_at: Timestamp::from_millis(r.get(7)),
        due_at: ts(8),
        warn_at: ts(9),
        next_fire_at: ts(10),
        stage: Stage::parse(&r.get::<String, _>(11))?,
        closed_at: ts(12),
        late: r.get::<i64, _>(13) != 0,
        explanation: r.get(14),
        ledger: serde_json::from_slice(&r.get::<Vec<u8>, _>(15))
            .map_err(|e| corrupt("ledger", &e))?,
        owed_to: r
            .get::<Option<String>, _>(16)
            .map(|s| AgencyCode::parse(&s))
            .transpose()
            .map_err(|e| corrupt("owed_to", &e))?,
        closed_event: r.get(17),
    })
}

/// Stores a new obligation.
pub async fn insert(conn: &mut sqlx::AnyConnection, o: &ObligationRow) -> Result<(), StoreError> {
    let ledger = serde_json::to_vec(&o.ledger).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    sqlx::query(&format!(
        "INSERT INTO deadlines_obligations ({COLUMNS}) VALUES \
         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
    ))
    .bind(&o.id)
    .bind(o.case_id.to_string())
    .bind(o.family.as_str())
    .bind(&o.rule)
    .bind(o.owed_by.as_str())
    .bind(o.supervisor.as_ref().map(|s| s.as_str().to_owned()))
    .bind(&o.region)
    .bind(o.started_at.as_millis())
    .bind(opt_ts(o.due_at))
    .bind(opt_ts(o.warn_at))
    .bind(opt_ts(o.next_fire_at))
    .bind(o.stage.as_str())
    .bind(opt_ts(o.closed_at))
    .bind(i64::from(o.late))
    .bind(&o.explanation)
    .bind(ledger)
    .bind(o.owed_to.as_ref().map(|s| s.as_str().to_owned()))
    .bind(&o.closed_event)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The not-yet-closed obligations of a case under the given rules.
pub async fn open_for_case(
    conn: &mut sqlx::AnyConnection,
    case_id: CaseId,
    rules: &[String],
) -> Result<Vec<ObligationRow>, StoreError> {
    if rules.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (0..rules.len()).map(|i| format!("${}", i + 2)).collect();
    let sql = format!(
        "SELECT {COLUMNS} FROM deadlines_obligations WHERE case_id = $1 AND stage <> 'closed' \
         AND rule IN ({})",
        placeholders.join(", ")
    );
    let mut query = sqlx::query(&sql).bind(case_id.to_string());
    for rule in rules {
        query = query.bind(rule);
    }
    query.fetch_all(&mut *conn).await?.iter().map(row).collect()
}

/// Every obligation of a case, oldest first.
pub async fn for_case(
    conn: &mut sqlx::AnyConnection,
    case_id: CaseId,
) -> Result<Vec<ObligationRow>, StoreError> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM deadlines_obligations WHERE case_id = $1 ORDER BY started_at, rule"
    ))
    .bind(case_id.to_string())
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(row)
    .collect()
}

/// Closes an obligation: `event` fulfilled it at `at`.
pub async fn close(
    conn: &mut sqlx::AnyConnection,
    id: &str,
    at: Timestamp,
    late: bool,
    event: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE deadlines_obligations SET stage = 'closed', closed_at = $2, late = $3, \
         next_fire_at = NULL, closed_event = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(at.as_millis())
    .bind(i64::from(late))
    .bind(event)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Obligations whose next moment has come, oldest first, claimed for this transaction.
pub async fn claim_firing(
    db: &Db,
    conn: &mut sqlx::AnyConnection,
    now: Timestamp,
    limit: i64,
) -> Result<Vec<ObligationRow>, StoreError> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM deadlines_obligations WHERE next_fire_at <= $1 \
         ORDER BY next_fire_at LIMIT $2{}",
        db.skip_locked()
    ))
    .bind(now.as_millis())
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(row)
    .collect()
}

/// Moves an obligation to `stage` with its next moment.
pub async fn advance(
    conn: &mut sqlx::AnyConnection,
    id: &str,
    stage: Stage,
    next_fire_at: Option<Timestamp>,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE deadlines_obligations SET stage = $2, next_fire_at = $3 WHERE id = $1")
        .bind(id)
        .bind(stage.as_str())
        .bind(opt_ts(next_fire_at))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The earliest pending moment, so the timer knows how long it may sleep.
pub async fn next_fire_at(db: &Db) -> Result<Option<Timestamp>, StoreError> {
    let next: Option<i64> =
        sqlx::query_scalar("SELECT MIN(next_fire_at) FROM deadlines_obligations")
            .fetch_one(db.pool())
            .await?;
    Ok(next.map(Timestamp::from_millis))
}

/// Stores an obligation's recomputed schedule and ledger (after a pause, resumption or
/// extension).
pub async fn update_schedule(
    conn: &mut sqlx::AnyConnection,
    o: &ObligationRow,
) -> Result<(), StoreError> {
    let ledger = serde_json::to_vec(&o.ledger).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    sqlx::query(
        "UPDATE deadlines_obligations SET due_at = $2, warn_at = $3, next_fire_at = $4, \
         stage = $5, explanation = $6, ledger = $7 WHERE id = $1",
    )
    .bind(&o.id)
    .bind(opt_ts(o.due_at))
    .bind(opt_ts(o.warn_at))
    .bind(opt_ts(o.next_fire_at))
    .bind(o.stage.as_str())
    .bind(&o.explanation)
    .bind(ledger)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
