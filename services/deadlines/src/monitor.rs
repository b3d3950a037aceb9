//! The monitor's queries over obligations: overdue and due-soon lists as of any moment, and
//! per-agency statistics for monthly reminders, quarterly reports and annual statistics.

use std::collections::BTreeMap;

use casebridge_core::directory::{AgencyKind, Directory};
use casebridge_core::ids::AgencyCode;
use casebridge_core::time::Timestamp;
use casebridge_platform::store::{Db, StoreError};
use sqlx::Row;

use crate::api::{AgencyStatistics, ObligationQuery, View};
use crate::store::{self, COLUMNS, ObligationRow};

/// A page of obligations visible to `viewer`, and where the next page starts.
pub async fn obligations(
    db: &Db,
    viewer: &AgencyCode,
    q: &ObligationQuery,
) -> Result<(Vec<ObligationRow>, Option<(i64, String)>), StoreError> {
    // Built from fixed fragments; every value is a bind parameter.
    let mut sql = format!(
        "SELECT {COLUMNS} FROM deadlines_obligations WHERE (owed_by = $1 OR supervisor = $1 \
         OR owed_to = $1) AND started_at <= $2"
    );
    let open_at = " AND (closed_at IS NULL OR closed_at > $2)";
    match q.view {
        View::Overdue => {
            sql.push_str(" AND due_at <= $2");
            sql.push_str(open_at);
        }
        View::DueSoon => {
            sql.push_str(" AND due_at > $2 AND due_at <= $3");
            sql.push_str(open_at);
        }
        View::Open => sql.push_str(open_at),
        View::All => {}
    }
    // $3 is always bound (the due-soon horizon), so the numbering below is fixed.
    let mut next = 4;
    let mut param = |sql: &mut String, clause: &str| {
        sql.push_str(&clause.replace('?', &format!("${next}")));
        next += 1;
    };
    if q.agency.is_some() {
        param(&mut sql, " AND owed_by = ?");
    }
    if q.family.is_some() {
        param(&mut sql, " AND family = ?");
    }
    if q.rule.is_some() {
        param(&mut sql, " AND rule = ?");
    }
    if q.region.is_some() {
        param(&mut sql, " AND region = ?");
    }
    if q.case_id.is_some() {
        param(&mut sql, " AND case_id = ?");
    }
    // Obligations without a due time (clock stopped, calendar missing) sort last.
    let due = "COALESCE(due_at, 9223372036854775807)";
    if q.after.is_some() {
        let (a, b) = (next, next + 1);
        sql.push_str(&format!(
            " AND ({due} > ${a} OR ({due} = ${a} AND id > ${b}))"
        ));
        next += 2;
    }
    sql.push_str(&format!(" ORDER BY {due}, id LIMIT ${next}"));

    let mut query = sqlx::query(&sql)
        .bind(viewer.as_str())
        .bind(q.as_of.as_millis())
        .bind(q.as_of.as_millis().saturating_add(q.due_within_ms));
    if let Some(agency) = &q.agency {
        query = query.bind(agency.as_str());
    }
    if let Some(family) = q.family {
        query = query.bind(family.as_str());
    }
    if let Some(rule) = &q.rule {
        query = query.bind(rule);
    }
    if let Some(region) = &q.region {
        query = query.bind(region);
    }
    if let Some(case_id) = q.case_id {
        query = query.bind(case_id.to_string());
    }
    if let Some((due_at, id)) = &q.after {
        query = query.bind(*due_at).bind(id);
    }
    let rows: Vec<ObligationRow> = query
        .bind(i64::from(q.limit) + 1)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(store::row)
        .collect::<Result<_, _>>()?;
    Ok(page(rows, q.limit as usize))
}

fn page(mut rows: Vec<ObligationRow>, limit: usize) -> (Vec<ObligationRow>, Option<(i64, String)>) {
    if rows.len() <= limit {
        return (rows, None);
    }
    rows.truncate(limit);
    let next = rows.last().map(|r| {
        (
            r.due_at.map_or(i64::MAX, Timestamp::as_millis),
            r.id.clone(),
        )
    });
    (rows, next)
}

/// Whether `viewer` may see every agency's statistics: supervisors may.
pub fn sees_all(directory: &Directory, viewer: &AgencyCode) -> bool {
    directory
        .get(viewer)
        .is_some_and(|a| matches!(a.kind, AgencyKind::Procuratorate | AgencyKind::Coordination))
}

/// Statistics over obligations started in `[from, to)`, judged at `to`, one row per agency.
pub async fn statistics(
    db: &Db,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<AgencyStatistics>, StoreError> {
    let rows = sqlx::query(
        "SELECT owed_by, owed_to, started_at, due_at, closed_at, late, rule, closed_event \
         FROM deadlines_obligations WHERE started_at >= $1 AND started_at < $2",
    )
    .bind(from.as_millis())
    .bind(to.as_millis())
    .fetch_all(db.pool())
    .await?;
    let mut by_agency: BTreeMap<String, (AgencyStatistics, Vec<i64>)> = BTreeMap::new();
    fn entry<'a>(
        map: &'a mut BTreeMap<String, (AgencyStatistics, Vec<i64>)>,
        code: &str,
    ) -> &'a mut (AgencyStatistics, Vec<i64>) {
        map.entry(code.to_owned()).or_insert_with(|| {
            (
                AgencyStatistics {
                    agency: code.to_owned(),
                    ..AgencyStatistics::default()
                },
                Vec::new(),
            )
        })
    }
    for r in &rows {
        let owed_by: String = r.get(0);
        let owed_to: Option<String> = r.get(1);
        let started_at: i64 = r.get(2);
        let due_at: Option<i64> = r.get(3);
        // A step after the period's end is still open as the period ends.
        let closed_at: Option<i64> = r.get::<Option<i64>, _>(4).filter(|c| *c < to.as_millis());
        let late = r.get::<i64, _>(5) != 0;
        let rule: String = r.get(6);
        let closed_event: Option<String> = r.get(7);
        if let Some(to_agency) = &owed_to {
            entry(&mut by_agency, to_agency).0.sent += 1;
        }
        let (stats, durations) = entry(&mut by_agency, &owed_by);
        stats.received += 1;
        match closed_at {
            Some(closed) => {
                if late {
                    stats.answered_late += 1;
                } else {
                    stats.answered_on_time += 1;
                }
                durations.push(closed - started_at);
                if rule == "S1-8" {
                    match closed_event.as_deref() {
                        Some("referral.filed") => {
                            stats.filing_decisions += 1;
                            stats.filed += 1;
                        }
                        Some("referral.declined") => stats.filing_decisions += 1,
                        _ => {}
                    }
                }
            }
            None => {
                stats.still_open += 1;
                if due_at.is_some_and(|d| d <= to.as_millis()) {
                    stats.overdue += 1;
                }
            }
        }
    }
    Ok(by_agency
        .into_values()
        .map(|(mut stats, mut durations)| {
            stats.median_response_hours = median_hours(&mut durations);
            if stats.filing_decisions > 0 {
                stats.filing_rate = stats.filed as f64 / stats.filing_decisions as f64;
            }
            stats
        })
        .collect())
}

fn median_hours(durations: &mut [i64]) -> f64 {
    if durations.is_empty() {
        return 0.0;
    }
    durations.sort_unstable();
    let n = durations.len();
    let middle = if n % 2 == 1 {
        durations[n / 2] as f64
    } else {
        (durations[n / 2 - 1] + durations[n / 2]) as f64 / 2.0
    };
    middle / 3_600_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(median_hours(&mut []), 0.0);
        assert_eq!(median_hours(&mut [3_600_000, 10_800_000, 7_200_000]), 2.0);
        assert_eq!(median_hours(&mut [3_600_000, 7_200_000]), 1.5);
    }
}
