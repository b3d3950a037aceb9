//! The deadlines tables: `deadlines_obligations`, `deadlines_timers`, `deadlines_links`,
//! `deadlines_reminders`, the calendar years and rule definitions the due times were counted on
//! (`deadlines_calendar`, `deadlines_rules`), plus the shared messaging tables.
//!
//! Rows are kept small because there may be tens of millions: the explanation of a due time is
//! not stored but recomputed from the ledger when read (the calendar and the rule table are in
//! memory), and the ledger column (`changes`) holds only pauses and extensions, so it is NULL for
//! most obligations. Indexes are partial where that keeps them small:
//! - `(owed_by | supervisor | owed_to, due_at, id)` for the boards, only over open obligations,
//!   so an overdue page walks the viewer's open obligations in due order and stops at the page;
//! - `closed_at` for the boards as of a past moment (obligations closed since then);
//! - `started_at` for statistics and reports; `case_id` for events (and for the statistics'
//!   question whether a case had an obligation before the period).
//!
//! Each obligation also names its case's sender (`sender`, migration 104), so statistics count
//! the cases an agency sent by who sent them, not by who is owed a step.
//!
//! What the clock does to an obligation lives in the narrow `deadlines_timers (id, next_fire_at,
//! stage)`, one row per obligation not yet closed: its stage (open, warned, missed) and its next
//! moment. The wide obligation row is written only when the law changes it (an event, an
//! extension, a calendar year); a timer pass writes only timer rows, so firing a burst never
//! rewrites the obligations' eight indexes. Obligations due at the same moment were mostly
//! created together and sit in the same heap pages, so in-place (HOT) updates of the wide rows
//! would not have saved that.

use casebridge_core::deadline::{Extension, Pause, Period, Unit};
use casebridge_core::ids::{AgencyCode, CaseId};
use casebridge_core::notice::Family;
use casebridge_core::time::Timestamp;
use casebridge_platform::bus::Message;
use casebridge_platform::store::{
    Db, Dialect, Messaging, Migration, StoreError, messaging_migrations,
};
use serde::{Deserialize, Serialize};
use sqlx::Row;

mod counted;
mod holds;

pub use counted::{
    CountedRule, counted_calendar, counted_rules, set_counted_calendar, set_counted_rules,
};
pub use holds::{close_links, close_own_link, held, open_link};

/// The columns of `deadlines_obligations` every query reads, in [`row`]'s order.
/// The columns every obligation query reads, in [`row`]'s order, to select `FROM` [`FROM`]: the
/// stage comes from the timer row (closed obligations have none).
pub(crate) const COLUMNS: &str = "o.id, o.case_id, o.family, o.rule, o.owed_by, o.owed_to, \
    o.supervisor, o.region, o.started_at, o.due_at, o.warn_at, \
    COALESCE(t.stage, CASE WHEN o.closed_at IS NULL THEN 'open' ELSE 'closed' END) AS stage, \
    o.closed_at, o.closed_event, o.late, o.period_amount, o.period_unit, o.changes, o.sender";

/// The obligations with their timer rows.
pub(crate) const FROM: &str = "deadlines_obligations o LEFT JOIN deadlines_timers t ON t.id = o.id";

fn obligations_table(id: &str, blob: &str) -> String {
    format!(
        "CREATE TABLE deadlines_obligations ({id}, case_id TEXT NOT NULL, \
           family TEXT NOT NULL, rule TEXT NOT NULL, owed_by TEXT NOT NULL, owed_to TEXT, \
           supervisor TEXT, region TEXT NOT NULL, started_at BIGINT NOT NULL, due_at BIGINT, \
           warn_at BIGINT, closed_at BIGINT, closed_event TEXT, late BIGINT NOT NULL, \
           period_amount BIGINT NOT NULL, period_unit TEXT NOT NULL, changes {blob});
         CREATE TABLE deadlines_timers (id BIGINT PRIMARY KEY, next_fire_at BIGINT, \
           stage TEXT NOT NULL);
         CREATE INDEX deadlines_timers_due ON deadlines_timers (next_fire_at) \
           WHERE next_fire_at IS NOT NULL;
         CREATE INDEX deadlines_case ON deadlines_obligations (case_id);
         CREATE INDEX deadlines_open_owed_by ON deadlines_obligations (owed_by, due_at, id) \
           WHERE closed_at IS NULL;
         CREATE INDEX deadlines_open_supervisor ON deadlines_obligations (supervisor, due_at, id) \
           WHERE closed_at IS NULL;
         CREATE INDEX deadlines_open_owed_to ON deadlines_obligations (owed_to, due_at, id) \
           WHERE closed_at IS NULL;
         CREATE INDEX deadlines_closed ON deadlines_obligations (closed_at) \
           WHERE closed_at IS NOT NULL;
         CREATE INDEX deadlines_started ON deadlines_obligations (started_at);
         CREATE INDEX deadlines_undated ON deadlines_obligations (id) \
           WHERE closed_at IS NULL AND due_at IS NULL;
         CREATE TABLE deadlines_links (source_case TEXT NOT NULL, target_case TEXT NOT NULL, \
           agency TEXT NOT NULL, opened_at BIGINT NOT NULL, closed_at BIGINT, \
           PRIMARY KEY (source_case, target_case));
         CREATE INDEX deadlines_links_target ON deadlines_links (target_case);
         CREATE TABLE deadlines_reminders (month TEXT PRIMARY KEY, sent_at BIGINT NOT NULL, \
           notices BIGINT NOT NULL);"
    )
}

pub fn migrations() -> Vec<Migration> {
    let mut all = messaging_migrations(crate::SERVICE);
    // The service's chain in the full-process record: warnings, misses, escalations,
    // extensions and reminders.
    all.extend(casebridge_platform::ledger::migrations(crate::SERVICE));
    // Version 100 was the first, unreleased shape (explanation text and full JSON ledger in
    // every row, an index per filter). 101 replaces it with the compact one; obligations of a
    // development data directory are dropped with it and reopen with the next events.
    all.push(Migration {
        version: 100,
        description: "obligations (first shape, replaced by 101)".into(),
        postgres: "CREATE TABLE IF NOT EXISTS deadlines_obligations (id TEXT PRIMARY KEY)".into(),
        sqlite: "CREATE TABLE IF NOT EXISTS deadlines_obligations (id TEXT PRIMARY KEY)".into(),
    });
    all.push(Migration {
        version: 101,
        description: "compact obligations with partial indexes, links, reminders".into(),
        postgres: format!(
            "DROP TABLE IF EXISTS deadlines_obligations; {}",
            obligations_table(
                "id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
                "BYTEA"
            )
        )
        .into(),
        sqlite: format!(
            "DROP TABLE IF EXISTS deadlines_obligations; {}",
            obligations_table("id INTEGER PRIMARY KEY", "BLOB")
        )
        .into(),
    });
    // The calendar the stored due times were counted on, one digest per year: a year whose
    // digest differs from the calendar in force (an official schedule installed in place of a
    // provisional one) has its obligations recomputed, on the record.
    let calendar = "CREATE TABLE deadlines_calendar (year BIGINT PRIMARY KEY, \
        fingerprint TEXT NOT NULL)";
    all.push(Migration {
        version: 102,
        description: "calendar years the due times were counted on".into(),
        postgres: calendar.into(),
        sqlite: calendar.into(),
    });
    // The rule definitions the open obligations were counted under, one per timer rule: a rule
    // whose digest differs from the rule table in force (or that has none, as in a database
    // counted before this table existed) has its open obligations recomputed, on the record.
    let rules = "CREATE TABLE deadlines_rules (rule TEXT PRIMARY KEY, \
        fingerprint TEXT NOT NULL, timing TEXT NOT NULL)";
    all.push(Migration {
        version: 103,
        description: "rule definitions the open obligations were counted under".into(),
        postgres: rules.into(),
        sqlite: rules.into(),
    });
    all.push(Migration {
        version: 104,
        description: "the sender of each obligation's case, for case counts".into(),
        postgres: SENDER.into(),
        sqlite: SENDER.into(),
    });
    all.push(Migration {
        version: 105,
        description: "penalty records over a threshold and their referrals, for 移送率".into(),
        postgres: PENALTIES.into(),
        sqlite: PENALTIES.into(),
    });
    all.push(Migration {
        version: 106,
        description: "when the service first kept deadlines, for the periodic pushes".into(),
        postgres: IN_SERVICE.into(),
        sqlite: IN_SERVICE.into(),
    });
    all
}

/// Migration 106: the moment the service first started on this database (one row). The
/// quarterly bulletin and the annual statistics report a period only if it ended after that
/// moment: a deployment installed in December does not send a bulletin for the summer it did
/// not see. (On a database upgraded to it, that moment is the upgrade.)
const IN_SERVICE: &str = "CREATE TABLE deadlines_in_service (id BIGINT PRIMARY KEY, \
    since BIGINT NOT NULL)";

/// Records `now` as the moment the service first started on this database, unless one is
/// recorded, and returns the recorded one.
pub async fn in_service_since(db: &Db, now: Timestamp) -> Result<Timestamp, StoreError> {
    sqlx::query(
        "INSERT INTO deadlines_in_service (id, since) VALUES (1, $1) ON CONFLICT DO NOTHING",
    )
    .bind(now.as_millis())
    .execute(db.pool())
    .await?;
    let since: i64 = sqlx::query_scalar("SELECT since FROM deadlines_in_service WHERE id = 1")
        .fetch_one(db.pool())
        .await?;
    Ok(Timestamp::from_millis(since))
}

/// Migration 105: one row per penalty-case record (行政处罚案件信息, the `penalty` family), fed by
/// `penalty.recorded`, `penalty.corrected` and `penalty.referral_linked`: the recording agency,
/// when it was recorded, whether its current version meets a threshold, and when a referral was
/// first linked to it. No personal data: codes, times and a flag. Records made before this
/// migration are not in it (their events were not bound then), so 移送率 counts from it on.
/// (The monthly reminders' table `deadlines_reminders` also holds the quarterly bulletins'
/// claims, keyed `2026-Q4`, and the annual statistics', keyed `2026`.)
const PENALTIES: &str = "CREATE TABLE deadlines_penalties (case_id TEXT PRIMARY KEY, \
    agency TEXT NOT NULL, recorded_at BIGINT NOT NULL, over_threshold BIGINT NOT NULL, \
    referred_at BIGINT); \
    CREATE INDEX deadlines_penalties_recorded ON deadlines_penalties (recorded_at)";

/// Migration 104: who sent each obligation's case (the event's `sender` party: the referring
/// or transferring agency, the party raising a dispute, the requester of an opinion), so that
/// statistics count cases sent by their sender, never by whoever is owed a step. Rows recorded
/// before it are filled in by the rule table as shipped with it: the steps the sender itself
/// owes (`P180-2b`, `S1-12`, `SAMR-13`) name it as `owed_by`; every other step is owed to it.
const SENDER: &str = "ALTER TABLE deadlines_obligations ADD COLUMN sender TEXT; \
    UPDATE deadlines_obligations SET sender = CASE \
      WHEN rule IN ('P180-2b', 'S1-12', 'SAMR-13') THEN owed_by ELSE owed_to END";

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

/// The pauses and extensions of an obligation: its ledger beyond the rule and the start.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changes {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pauses: Vec<Pause>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<Extension>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.pauses.is_empty() && self.extensions.is_empty()
    }
}

/// One obligation as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObligationRow {
    /// Assigned by the store; 0 before the row is inserted.
    pub id: i64,
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
    /// `None` while the clock is stopped, or when the calendar for the due year is not loaded.
    pub due_at: Option<Timestamp>,
    pub warn_at: Option<Timestamp>,
    pub stage: Stage,
    pub closed_at: Option<Timestamp>,
    /// The event that fulfilled it (`referral.filed`, …).
    pub closed_event: Option<String>,
    pub late: bool,
    /// The period the rule gave when the obligation opened.
    pub period: Period,
    /// Pauses and extensions, with who and why.
    pub changes: Changes,
    /// The agency that sent the case (the event's `sender` party), when the event named one.
    #[serde(default)]
    pub sender: Option<AgencyCode>,
}

fn unit_code(unit: Unit) -> &'static str {
    match unit {
        Unit::Hours => "h",
        Unit::CalendarDays => "cd",
        Unit::WorkingDays => "wd",
    }
}

fn unit_from_code(code: &str) -> Result<Unit, StoreError> {
    Ok(match code {
        "h" => Unit::Hours,
        "cd" => Unit::CalendarDays,
        "wd" => Unit::WorkingDays,
        other => return Err(StoreError::Corrupt(format!("period unit {other:?}"))),
    })
}

fn opt_ts(t: Option<Timestamp>) -> Option<i64> {
    t.map(Timestamp::as_millis)
}

pub(crate) fn family(s: &str) -> Result<Family, StoreError> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|_| StoreError::Corrupt(format!("family {s:?}")))
}

fn encode_changes(changes: &Changes) -> Result<Option<Vec<u8>>, StoreError> {
    if changes.is_empty() {
        return Ok(None);
    }
    serde_json::to_vec(changes)
        .map(Some)
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(crate) fn row(r: &sqlx::any::AnyRow) -> Result<ObligationRow, StoreError> {
    let corrupt = |what: &str, e: &dyn std::fmt::Display| {
        StoreError::Corrupt(format!("obligation {what}: {e}"))
    };
    let ts = |i: usize| r.get::<Option<i64>, _>(i).map(Timestamp::from_millis);
    let agency = |i: usize, what: &str| {
        r.get::<Option<String>, _>(i)
            .map(|s| AgencyCode::parse(&s))
            .transpose()
            .map_err(|e| corrupt(what, &e))
    };
    let changes = match r.get::<Option<Vec<u8>>, _>(17) {
        None => Changes::default(),
        Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| corrupt("changes", &e))?,
    };
    Ok(ObligationRow {
        id: r.get(0),
        case_id: CaseId::parse(&r.get::<String, _>(1)).map_err(|e| corrupt("case id", &e))?,
        family: family(&r.get::<String, _>(2))?,
        rule: r.get(3),
        owed_by: AgencyCode::parse(&r.get::<String, _>(4)).map_err(|e| corrupt("owed_by", &e))?,
        owed_to: agency(5, "owed_to")?,
        supervisor: agency(6, "supervisor")?,
        region: r.get(7),
        started_at: Timestamp::from_millis(r.get(8)),
        due_at: ts(9),
        warn_at: ts(10),
        stage: Stage::parse(&r.get::<String, _>(11))?,
        closed_at: ts(12),
        closed_event: r.get(13),
        late: r.get::<i64, _>(14) != 0,
        period: Period::new(
            u32::try_from(r.get::<i64, _>(15)).map_err(|e| corrupt("period", &e))?,
            unit_from_code(&r.get::<String, _>(16))?,
        ),
        changes,
        sender: agency(18, "sender")?,
    })
}

/// Stores a new obligation with its stage and next moment (if any); returns its id. On
/// PostgreSQL the obligation and its timer row go in one statement (the timer's insert a
/// data-modifying `WITH` clause reading the new id): one round trip instead of two, since the
/// round trips are what an event costs. SQLite, without data-modifying `WITH`, takes two.
pub async fn insert(
    conn: &mut sqlx::AnyConnection,
    dialect: Dialect,
    o: &ObligationRow,
    next_fire_at: Option<Timestamp>,
) -> Result<i64, StoreError> {
    const INSERT: &str = "INSERT INTO deadlines_obligations (case_id, family, rule, owed_by, \
           owed_to, supervisor, region, started_at, due_at, warn_at, closed_at, closed_event, \
           late, period_amount, period_unit, changes, sender) VALUES \
         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
         RETURNING id";
    let together = dialect == Dialect::Postgres && o.stage != Stage::Closed;
    let sql = if together {
        format!(
            "WITH o AS ({INSERT}), t AS (INSERT INTO deadlines_timers (id, next_fire_at, stage) \
             SELECT id, $18, $19 FROM o) SELECT id FROM o"
        )
    } else {
        INSERT.to_owned()
    };
    let mut query = sqlx::query_scalar(&sql)
        .bind(o.case_id.to_string())
        .bind(o.family.as_str())
        .bind(&o.rule)
        .bind(o.owed_by.as_str())
        .bind(o.owed_to.as_ref().map(|s| s.as_str().to_owned()))
        .bind(o.supervisor.as_ref().map(|s| s.as_str().to_owned()))
        .bind(&o.region)
        .bind(o.started_at.as_millis())
        .bind(opt_ts(o.due_at))
        .bind(opt_ts(o.warn_at))
        .bind(opt_ts(o.closed_at))
        .bind(&o.closed_event)
        .bind(i64::from(o.late))
        .bind(i64::from(o.period.amount))
        .bind(unit_code(o.period.unit))
        .bind(encode_changes(&o.changes)?)
        .bind(o.sender.as_ref().map(|s| s.as_str().to_owned()));
    if together {
        query = query.bind(opt_ts(next_fire_at)).bind(o.stage.as_str());
    }
    let id: i64 = query.fetch_one(&mut *conn).await?;
    if !together {
        set_timer(conn, id, o.stage, next_fire_at).await?;
    }
    Ok(id)
}

/// Sets an obligation's timer row: its stage and next moment; a closed obligation has none.
async fn set_timer(
    conn: &mut sqlx::AnyConnection,
    id: i64,
    stage: Stage,
    next_fire_at: Option<Timestamp>,
) -> Result<(), StoreError> {
    if stage == Stage::Closed {
        sqlx::query("DELETE FROM deadlines_timers WHERE id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?;
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO deadlines_timers (id, next_fire_at, stage) VALUES ($1, $2, $3) \
         ON CONFLICT (id) DO UPDATE SET next_fire_at = excluded.next_fire_at, \
         stage = excluded.stage",
    )
    .bind(id)
    .bind(opt_ts(next_fire_at))
    .bind(stage.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The not-yet-closed obligations of a case under the given rules, oldest first, locked for the
/// caller's transaction on PostgreSQL (`lock` from [`Db::for_update`]), so a timer pass firing
/// one of them and an event changing it take turns.
pub async fn open_for_case(
    conn: &mut sqlx::AnyConnection,
    case_id: CaseId,
    rules: &[String],
    lock: &str,
) -> Result<Vec<ObligationRow>, StoreError> {
    if rules.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (0..rules.len()).map(|i| format!("${}", i + 2)).collect();
    let sql = format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE o.case_id = $1 AND o.closed_at IS NULL \
         AND o.rule IN ({}) ORDER BY o.started_at, o.id{lock}",
        placeholders.join(", ")
    );
    let mut query = sqlx::query(&sql).bind(case_id.to_string());
    for rule in rules {
        query = query.bind(rule);
    }
    query.fetch_all(&mut *conn).await?.iter().map(row).collect()
}

/// `FOR UPDATE` of the obligation rows where the dialect has row locks; SQLite's single
/// connection serialises writers.
pub fn for_update(db: &Db) -> &'static str {
    match db.dialect() {
        casebridge_platform::store::Dialect::Postgres => " FOR UPDATE OF o",
        casebridge_platform::store::Dialect::Sqlite => "",
    }
}

/// Every obligation of a case, oldest first.
pub async fn for_case(
    conn: &mut sqlx::AnyConnection,
    case_id: CaseId,
) -> Result<Vec<ObligationRow>, StoreError> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE o.case_id = $1 ORDER BY o.started_at, o.id"
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
    id: i64,
    at: Timestamp,
    late: bool,
    event: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE deadlines_obligations SET closed_at = $2, late = $3, closed_event = $4 \
         WHERE id = $1",
    )
    .bind(id)
    .bind(at.as_millis())
    .bind(i64::from(late))
    .bind(event)
    .execute(&mut *conn)
    .await?;
    set_timer(conn, id, Stage::Closed, None).await
}

/// Obligations whose next moment has come, claimed for this transaction: their timer rows are
/// locked with `SKIP LOCKED`, so replicas claim disjoint batches. The obligations themselves are
/// not locked: a pass writes only timer rows, and an event changing an obligation (which locks
/// it, then its timer row) waits for the pass instead of deadlocking with it.
/// Open obligations, and those of them whose due time is before `now`: the
/// `casebridge_obligations_open` and `casebridge_obligations_overdue` gauges. Both counts walk
/// the partial indexes over open obligations.
pub async fn open_and_overdue(db: &Db, now: Timestamp) -> Result<(i64, i64), StoreError> {
    let row = sqlx::query(
        "SELECT COUNT(*), COUNT(CASE WHEN due_at < $1 THEN 1 END) FROM deadlines_obligations \
         WHERE closed_at IS NULL",
    )
    .bind(now.as_millis())
    .fetch_one(db.pool())
    .await?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}

pub async fn claim_firing(
    db: &Db,
    conn: &mut sqlx::AnyConnection,
    now: Timestamp,
    limit: i64,
) -> Result<Vec<ObligationRow>, StoreError> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE o.id IN (SELECT id FROM deadlines_timers \
         WHERE next_fire_at <= $1 ORDER BY next_fire_at LIMIT $2{})",
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

/// `1, 2, 3`: ids are integers the store assigned, so they are written into the statement.
fn id_list(ids: &[i64]) -> String {
    ids.iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Marks claimed obligations warned (next moment: their due time) and missed (no next moment),
/// in at most two statements over the timer rows whatever the batch size.
pub async fn advance_batch(
    conn: &mut sqlx::AnyConnection,
    warned: &[i64],
    missed: &[i64],
) -> Result<(), StoreError> {
    if !warned.is_empty() {
        sqlx::query(&format!(
            "UPDATE deadlines_timers SET stage = 'warned', next_fire_at = (SELECT o.due_at FROM \
             deadlines_obligations o WHERE o.id = deadlines_timers.id) WHERE id IN ({})",
            id_list(warned)
        ))
        .execute(&mut *conn)
        .await?;
    }
    if !missed.is_empty() {
        sqlx::query(&format!(
            "UPDATE deadlines_timers SET stage = 'missed', next_fire_at = NULL WHERE id IN ({})",
            id_list(missed)
        ))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Writes many messages to the service's outbox in one statement per 500 (the relay publishes
/// them after the commit).
pub async fn enqueue_all(
    conn: &mut sqlx::AnyConnection,
    messaging: &Messaging,
    messages: &[Message],
    now: Timestamp,
) -> Result<(), StoreError> {
    for chunk in messages.chunks(500) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2))
            .collect();
        let sql = format!(
            "INSERT INTO {} (message, created_at) VALUES {}",
            messaging.outbox_table(),
            values.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for message in chunk {
            let encoded =
                serde_json::to_vec(message).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            query = query.bind(encoded).bind(now.as_millis());
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// The earliest pending moment, so the timer knows how long it may sleep.
pub async fn next_fire_at(db: &Db) -> Result<Option<Timestamp>, StoreError> {
    let next: Option<i64> = sqlx::query_scalar(
        "SELECT next_fire_at FROM deadlines_timers WHERE next_fire_at IS NOT NULL \
         ORDER BY next_fire_at LIMIT 1",
    )
    .fetch_optional(db.pool())
    .await?;
    Ok(next.map(Timestamp::from_millis))
}

/// Stores an obligation's recomputed schedule and ledger (after a pause, a restart, an
/// extension, or a calendar year becoming available), with its next moment.
pub async fn update_schedule(
    conn: &mut sqlx::AnyConnection,
    o: &ObligationRow,
    next_fire_at: Option<Timestamp>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE deadlines_obligations SET due_at = $2, warn_at = $3, changes = $4 WHERE id = $1",
    )
    .bind(o.id)
    .bind(opt_ts(o.due_at))
    .bind(opt_ts(o.warn_at))
    .bind(encode_changes(&o.changes)?)
    .execute(&mut *conn)
    .await?;
    set_timer(conn, o.id, o.stage, next_fire_at).await
}

/// Open obligations, after `after` by id, that a calendar change from `from` on may move:
/// those without a due time (clock stopped, or a year with no calendar at all) and those due at
/// or after `from` (a count that ends before a year never consults it). Locked for the caller's
/// transaction on PostgreSQL, so replicas recomputing at once take turns and the second finds
/// nothing left to move.
pub async fn open_due_from(
    db: &Db,
    conn: &mut sqlx::AnyConnection,
    from: Timestamp,
    after: i64,
    limit: i64,
) -> Result<Vec<ObligationRow>, StoreError> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE o.closed_at IS NULL \
         AND (o.due_at IS NULL OR o.due_at >= $1) AND o.id > $2 ORDER BY o.id LIMIT $3{}",
        for_update(db)
    ))
    .bind(from.as_millis())
    .bind(after)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(row)
    .collect()
}

/// Open obligations under `rules`, after `after` by id, locked for the caller's transaction on
/// PostgreSQL (like [`open_due_from`]), so replicas recounting at once take turns and the
/// second finds nothing left to change.
pub async fn open_under_rules(
    db: &Db,
    conn: &mut sqlx::AnyConnection,
    rules: &[String],
    after: i64,
    limit: i64,
) -> Result<Vec<ObligationRow>, StoreError> {
    if rules.is_empty() {
        return Ok(Vec::new());
    }
    let n = rules.len();
    let placeholders: Vec<String> = (1..=n).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE o.closed_at IS NULL AND o.rule IN ({}) \
         AND o.id > ${} ORDER BY o.id LIMIT ${}{}",
        placeholders.join(", "),
        n + 1,
        n + 2,
        for_update(db)
    );
    let mut query = sqlx::query(&sql);
    for rule in rules {
        query = query.bind(rule);
    }
    query = query.bind(after).bind(limit);
    query.fetch_all(&mut *conn).await?.iter().map(row).collect()
}

/// Every obligation of the given cases, by case, each oldest first.
pub async fn for_cases(
    conn: &mut sqlx::AnyConnection,
    cases: &[CaseId],
) -> Result<Vec<ObligationRow>, StoreError> {
    if cases.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (1..=cases.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE o.case_id IN ({}) \
         ORDER BY o.case_id, o.started_at, o.id",
        placeholders.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for case in cases {
        query = query.bind(case.to_string());
    }
    query.fetch_all(&mut *conn).await?.iter().map(row).collect()
}

/// Stores an obligation restated under a changed rule: its start, period and ledger as well as
/// its schedule, with its next moment.
pub async fn restate(
    conn: &mut sqlx::AnyConnection,
    o: &ObligationRow,
    next_fire_at: Option<Timestamp>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE deadlines_obligations SET started_at = $2, period_amount = $3, \
         period_unit = $4, due_at = $5, warn_at = $6, changes = $7 WHERE id = $1",
    )
    .bind(o.id)
    .bind(o.started_at.as_millis())
    .bind(i64::from(o.period.amount))
    .bind(unit_code(o.period.unit))
    .bind(opt_ts(o.due_at))
    .bind(opt_ts(o.warn_at))
    .bind(encode_changes(&o.changes)?)
    .execute(&mut *conn)
    .await?;
    set_timer(conn, o.id, o.stage, next_fire_at).await
}

/// A penalty record's first version (`penalty.recorded`): who recorded it, when, whether it met
/// a threshold, and when a referral was named with it (`referred_at`, the recording time, when
/// the record named one). Once per record: a redelivery changes nothing.
pub async fn record_penalty(
    conn: &mut sqlx::AnyConnection,
    case_id: CaseId,
    agency: &AgencyCode,
    recorded_at: Timestamp,
    over_threshold: bool,
    referred_at: Option<Timestamp>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO deadlines_penalties (case_id, agency, recorded_at, over_threshold, \
         referred_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(case_id.to_string())
    .bind(agency.as_str())
    .bind(recorded_at.as_millis())
    .bind(i64::from(over_threshold))
    .bind(opt_ts(referred_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A corrected version (`penalty.corrected`) screened again: whether the record meets a
/// threshold now.
pub async fn correct_penalty(
    conn: &mut sqlx::AnyConnection,
    case_id: CaseId,
    over_threshold: bool,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE deadlines_penalties SET over_threshold = $2 WHERE case_id = $1")
        .bind(case_id.to_string())
        .bind(i64::from(over_threshold))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A referral linked to a record (`penalty.referral_linked`); the first link's time is kept.
pub async fn link_penalty_referral(
    conn: &mut sqlx::AnyConnection,
    case_id: CaseId,
    at: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE deadlines_penalties SET referred_at = $2 \
         WHERE case_id = $1 AND referred_at IS NULL",
    )
    .bind(case_id.to_string())
    .bind(at.as_millis())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Per recording agency, the penalty records recorded in `[from, to)` that meet a threshold,
/// and how many of those had a referral linked by `judged_at`.
pub async fn penalty_referrals(
    db: &Db,
    from: Timestamp,
    to: Timestamp,
    judged_at: Timestamp,
) -> Result<Vec<(String, u64, u64)>, StoreError> {
    let rows = sqlx::query(
        "SELECT agency, COUNT(*), \
           COUNT(CASE WHEN referred_at <= $3 THEN 1 END) \
         FROM deadlines_penalties \
         WHERE recorded_at >= $1 AND recorded_at < $2 AND over_threshold = 1 \
         GROUP BY agency ORDER BY agency",
    )
    .bind(from.as_millis())
    .bind(to.as_millis())
    .bind(judged_at.as_millis())
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let count = |i: usize| u64::try_from(r.get::<i64, _>(i)).unwrap_or(0);
            (r.get::<String, _>(0), count(1), count(2))
        })
        .collect())
}

/// Claims the monthly reminder of `month` (`2026-03`), or the period of another push (the
/// quarterly bulletin of `2026-Q4`, the annual statistics of `2026`); `false` when it was
/// already sent (by this or another replica).
pub async fn claim_reminder(
    conn: &mut sqlx::AnyConnection,
    month: &str,
    at: Timestamp,
    notices: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO deadlines_reminders (month, sent_at, notices) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING",
    )
    .bind(month)
    .bind(at.as_millis())
    .bind(notices)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Whether the reminder (or bulletin, or annual statistics) of `month` was sent.
pub async fn reminder_sent(db: &Db, month: &str) -> Result<bool, StoreError> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM deadlines_reminders WHERE month = $1")
        .bind(month)
        .fetch_one(db.pool())
        .await?;
    Ok(n > 0)
}
