//! The inbox tables: `inbox_agencies` (newest and acknowledged cursor per agency) and
//! `inbox_entries`, the export feed's `inbox_export_sequence` (its newest position),
//! `inbox_export_lines` (one line per exported event) and `inbox_export_readers` (which agency
//! may read which line, besides supervisors), plus the shared messaging tables.
//!
//! Appending bumps the agency's row first: that row lock orders concurrent appends, so an
//! entry with a higher cursor is never visible before a lower one.

use casebridge_core::ids::{AgencyCode, CaseId, MessageId};
use casebridge_core::notice::{Family, Notice};
use casebridge_core::time::Timestamp;
use casebridge_platform::store::{Migration, StoreError, messaging_migrations};
use sqlx::Row;

use crate::api::Entry;

pub fn migrations() -> Vec<Migration> {
    let mut all = messaging_migrations(crate::SERVICE);
    all.push(Migration::portable(
        100,
        "inbox agencies and entries",
        "CREATE TABLE inbox_agencies (agency TEXT PRIMARY KEY, latest BIGINT NOT NULL, \
           acknowledged BIGINT NOT NULL);
         CREATE TABLE inbox_entries (agency TEXT NOT NULL, cursor BIGINT NOT NULL, \
           message_id TEXT NOT NULL, case_id TEXT NOT NULL, family TEXT NOT NULL, \
           event TEXT NOT NULL, actor TEXT NOT NULL, occurred_at BIGINT NOT NULL, \
           summary TEXT NOT NULL, delivered_at BIGINT NOT NULL, PRIMARY KEY (agency, cursor));",
    ));
    all.push(Migration::portable(
        101,
        "export feed",
        "CREATE TABLE inbox_export_sequence (id BIGINT PRIMARY KEY, latest BIGINT NOT NULL);
         INSERT INTO inbox_export_sequence (id, latest) VALUES (1, 0);
         CREATE TABLE inbox_export_lines (seq BIGINT PRIMARY KEY, message_id TEXT NOT NULL UNIQUE, \
           kind TEXT NOT NULL, line TEXT NOT NULL);
         CREATE TABLE inbox_export_readers (agency TEXT NOT NULL, seq BIGINT NOT NULL, \
           PRIMARY KEY (agency, seq));",
    ));
    all
}

/// Entries per INSERT: 10 parameters each, well inside both databases' limits.
const ROWS_PER_STATEMENT: usize = 50;

/// Appends `notices` to `agency`'s inbox, in order, and returns the last cursor. Reserves the
/// cursors with one update of the agency's row, whose lock orders concurrent appends.
pub async fn append_all(
    conn: &mut sqlx::AnyConnection,
    agency: &AgencyCode,
    notices: &[(&Notice, MessageId)],
    now: Timestamp,
) -> Result<u64, StoreError> {
    let count = i64::try_from(notices.len()).unwrap_or(i64::MAX);
    let latest: i64 = sqlx::query_scalar(
        "INSERT INTO inbox_agencies (agency, latest, acknowledged) VALUES ($1, $2, 0) \
         ON CONFLICT (agency) DO UPDATE SET latest = inbox_agencies.latest + $2 RETURNING latest",
    )
    .bind(agency.as_str())
    .bind(count)
    .fetch_one(&mut *conn)
    .await?;
    let mut cursor = latest - count;
    for chunk in notices.chunks(ROWS_PER_STATEMENT) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| {
                let p: Vec<String> = (1..=10).map(|k| format!("${}", i * 10 + k)).collect();
                format!("({})", p.join(", "))
            })
            .collect();
        let sql = format!(
            "INSERT INTO inbox_entries (agency, cursor, message_id, case_id, family, event, \
             actor, occurred_at, summary, delivered_at) VALUES {}",
            values.join(", ")
        );
        let mut insert = sqlx::query(&sql);
        for (notice, message_id) in chunk {
            cursor += 1;
            insert = insert
                .bind(agency.as_str().to_owned())
                .bind(cursor)
                .bind(message_id.to_string())
                .bind(notice.case_id.to_string())
                .bind(notice.family.as_str())
                .bind(notice.event.clone())
                .bind(notice.actor.as_str().to_owned())
                .bind(notice.at.as_millis())
                .bind(notice.summary.clone())
                .bind(now.as_millis());
        }
        insert.execute(&mut *conn).await?;
    }
    Ok(u64::try_from(latest).unwrap_or(0))
}

/// The acknowledged and newest cursor of `agency` (0, 0 for an empty inbox).
pub async fn position(
    conn: &mut sqlx::AnyConnection,
    agency: &AgencyCode,
) -> Result<(u64, u64), StoreError> {
    let row = sqlx::query("SELECT acknowledged, latest FROM inbox_agencies WHERE agency = $1")
        .bind(agency.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.map_or((0, 0), |r| {
        (
            u64::try_from(r.get::<i64, _>(0)).unwrap_or(0),
            u64::try_from(r.get::<i64, _>(1)).unwrap_or(0),
        )
    }))
}

/// Up to `limit` entries of `agency` after `after`, oldest first.
pub async fn list(
    conn: &mut sqlx::AnyConnection,
    agency: &AgencyCode,
    after: u64,
    limit: u32,
) -> Result<Vec<Entry>, StoreError> {
    let rows = sqlx::query(
        "SELECT cursor, message_id, case_id, family, event, actor, occurred_at, summary, \
         delivered_at FROM inbox_entries WHERE agency = $1 AND cursor > $2 ORDER BY cursor LIMIT $3",
    )
    .bind(agency.as_str())
    .bind(i64::try_from(after).unwrap_or(i64::MAX))
    .bind(i64::from(limit))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(entry).collect()
}

fn entry(row: &sqlx::any::AnyRow) -> Result<Entry, StoreError> {
    let corrupt =
        |what: &str, e: &dyn std::fmt::Display| StoreError::Corrupt(format!("inbox {what}: {e}"));
    let family = row.get::<String, _>(3);
    let Some(family) = Family::parse(&family) else {
        return Err(corrupt("family", &family));
    };
    Ok(Entry {
        cursor: u64::try_from(row.get::<i64, _>(0)).unwrap_or(0),
        message_id: MessageId::parse(&row.get::<String, _>(1))
            .map_err(|e| corrupt("message id", &e))?,
        case_id: CaseId::parse(&row.get::<String, _>(2)).map_err(|e| corrupt("case id", &e))?,
        family,
        event: row.get(4),
        actor: AgencyCode::parse(&row.get::<String, _>(5)).map_err(|e| corrupt("actor", &e))?,
        occurred_at: Timestamp::from_millis(row.get(6)),
        summary: row.get(7),
        delivered_at: Timestamp::from_millis(row.get(8)),
    })
}

/// Raises `agency`'s acknowledged cursor to `up_to` (never lowers it); returns the new value.
pub async fn acknowledge(
    conn: &mut sqlx::AnyConnection,
    agency: &AgencyCode,
    up_to: u64,
) -> Result<u64, StoreError> {
    let up_to = i64::try_from(up_to).unwrap_or(i64::MAX);
    sqlx::query(
        "UPDATE inbox_agencies SET acknowledged = $2 WHERE agency = $1 AND acknowledged < $2",
    )
    .bind(agency.as_str())
    .bind(up_to)
    .execute(&mut *conn)
    .await?;
    Ok(position(conn, agency).await?.0)
}

/// One event delivered for the first time, for the export feed: the message that carried it
/// and its notice. Events the feed does not carry are skipped by [`append_export`].
#[derive(Debug)]
pub struct ExportRow<'a> {
    pub message_id: MessageId,
    pub notice: &'a Notice,
}

/// Appends one line per exported event of `rows`, in order, at consecutive positions. The
/// positions are reserved with one update of the single sequence row, whose lock is held to
/// the commit: a line is never visible before a line at a lower position, so a reader that
/// moved past a position never misses a line committed later. Returns how many lines it wrote.
pub async fn append_export(
    conn: &mut sqlx::AnyConnection,
    rows: &[ExportRow<'_>],
) -> Result<usize, StoreError> {
    let exported: Vec<&ExportRow<'_>> = rows
        .iter()
        .filter(|r| crate::export::kind_of(r.notice).is_some())
        .collect();
    if exported.is_empty() {
        return Ok(0);
    }
    let count = i64::try_from(exported.len()).unwrap_or(i64::MAX);
    let latest: i64 = sqlx::query_scalar(
        "UPDATE inbox_export_sequence SET latest = latest + $1 WHERE id = 1 RETURNING latest",
    )
    .bind(count)
    .fetch_one(&mut *conn)
    .await?;
    let mut seq = latest - count;
    for row in exported {
        seq += 1;
        let position = u64::try_from(seq).unwrap_or(0);
        let Some((kind, line)) = crate::export::render(position, row.message_id, row.notice) else {
            continue;
        };
        sqlx::query(
            "INSERT INTO inbox_export_lines (seq, message_id, kind, line) VALUES ($1, $2, $3, $4)",
        )
        .bind(seq)
        .bind(row.message_id.to_string())
        .bind(kind.as_str())
        .bind(line)
        .execute(&mut *conn)
        .await?;
        let readers = crate::export::readers(row.notice);
        let values: Vec<String> = (0..readers.len())
            .map(|i| format!("(${}, $1)", i + 2))
            .collect();
        let sql = format!(
            "INSERT INTO inbox_export_readers (agency, seq) VALUES {}",
            values.join(", ")
        );
        let mut insert = sqlx::query(&sql).bind(seq);
        for agency in readers {
            insert = insert.bind(agency.as_str().to_owned());
        }
        insert.execute(&mut *conn).await?;
    }
    Ok(usize::try_from(count).unwrap_or(0))
}

/// Up to `limit` export lines after position `after`, of `kinds` (all when empty), oldest
/// first, with their positions: every line for a supervisor (`viewer: None`), otherwise the
/// lines `viewer` may read.
pub async fn export_lines(
    conn: &mut sqlx::AnyConnection,
    viewer: Option<&AgencyCode>,
    kinds: &[crate::export::Kind],
    after: u64,
    limit: u32,
) -> Result<Vec<(u64, String)>, StoreError> {
    // $1 after, $2 limit, $3 the viewer if any, then the kinds.
    let first_kind = if viewer.is_some() { 4 } else { 3 };
    let kind_filter = if kinds.is_empty() {
        String::new()
    } else {
        let params: Vec<String> = (0..kinds.len())
            .map(|i| format!("${}", first_kind + i))
            .collect();
        format!(" AND l.kind IN ({})", params.join(", "))
    };
    let sql = match viewer {
        None => format!(
            "SELECT l.seq, l.line FROM inbox_export_lines l WHERE l.seq > $1{kind_filter} \
             ORDER BY l.seq LIMIT $2"
        ),
        Some(_) => format!(
            "SELECT l.seq, l.line FROM inbox_export_readers r \
             JOIN inbox_export_lines l ON l.seq = r.seq \
             WHERE r.agency = $3 AND r.seq > $1{kind_filter} ORDER BY r.seq LIMIT $2"
        ),
    };
    let mut query = sqlx::query(&sql)
        .bind(i64::try_from(after).unwrap_or(i64::MAX))
        .bind(i64::from(limit));
    if let Some(viewer) = viewer {
        query = query.bind(viewer.as_str().to_owned());
    }
    for kind in kinds {
        query = query.bind(kind.as_str());
    }
    let rows = query.fetch_all(&mut *conn).await?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                u64::try_from(r.get::<i64, _>(0)).unwrap_or(0),
                r.get::<String, _>(1),
            )
        })
        .collect())
}
