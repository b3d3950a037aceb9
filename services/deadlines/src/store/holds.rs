//! The holds on stopped clocks (`deadlines_links`): which case's step stopped which case's
//! clocks, so a clock restarts only when the last hold on it ends.

use casebridge_core::ids::{AgencyCode, CaseId};
use casebridge_core::time::Timestamp;
use casebridge_platform::store::StoreError;

/// Records that a step in `source` stopped clocks of `agency` in `target`: a request under
/// another case, or (`source == target`) the case's own step, such as a suspension. A link
/// closed before opens again: a case may be suspended twice.
pub async fn open_link(
    conn: &mut sqlx::AnyConnection,
    source: CaseId,
    target: CaseId,
    agency: &AgencyCode,
    at: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO deadlines_links (source_case, target_case, agency, opened_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (source_case, target_case) DO UPDATE \
         SET agency = excluded.agency, opened_at = excluded.opened_at, closed_at = NULL",
    )
    .bind(source.to_string())
    .bind(target.to_string())
    .bind(agency.as_str())
    .bind(at.as_millis())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Closes the open links from `source` to other cases; returns each target case whose clock
/// no other open link still holds stopped.
pub async fn close_links(
    conn: &mut sqlx::AnyConnection,
    source: CaseId,
    at: Timestamp,
) -> Result<Vec<CaseId>, StoreError> {
    let targets: Vec<String> = sqlx::query_scalar(
        "SELECT target_case FROM deadlines_links WHERE source_case = $1 \
         AND target_case <> source_case AND closed_at IS NULL",
    )
    .bind(source.to_string())
    .fetch_all(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE deadlines_links SET closed_at = $2 WHERE source_case = $1 \
         AND target_case <> source_case AND closed_at IS NULL",
    )
    .bind(source.to_string())
    .bind(at.as_millis())
    .execute(&mut *conn)
    .await?;
    let mut free = Vec::new();
    for target in targets {
        let still: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM deadlines_links WHERE target_case = $1 AND closed_at IS NULL",
        )
        .bind(&target)
        .fetch_one(&mut *conn)
        .await?;
        if still == 0 {
            free.push(
                CaseId::parse(&target)
                    .map_err(|e| StoreError::Corrupt(format!("linked case: {e}")))?,
            );
        }
    }
    Ok(free)
}

/// Closes the link by which `case` holds its own clocks (its suspension, say).
pub async fn close_own_link(
    conn: &mut sqlx::AnyConnection,
    case: CaseId,
    at: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE deadlines_links SET closed_at = $2 WHERE source_case = $1 \
         AND target_case = $1 AND closed_at IS NULL",
    )
    .bind(case.to_string())
    .bind(at.as_millis())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Whether an open link still holds the clocks of `case` stopped.
pub async fn held(conn: &mut sqlx::AnyConnection, case: CaseId) -> Result<bool, StoreError> {
    let open: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM deadlines_links WHERE target_case = $1 AND closed_at IS NULL",
    )
    .bind(case.to_string())
    .fetch_one(&mut *conn)
    .await?;
    Ok(open > 0)
}
