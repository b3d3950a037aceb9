//! The monitor's queries over obligations: overdue and due-soon boards as of any moment, and
//! per-agency statistics for monthly reminders, quarterly reports and annual statistics.
//!
//! A board page must stay fast with millions of obligations. The overdue and due-soon views are
//! a union of small ordered scans, each of which stops after one page: the viewer's open
//! obligations through each of the three partial indexes `(owed_by | supervisor | owed_to,
//! due_at, id) WHERE closed_at IS NULL`, plus the obligations closed after `as_of` (none when
//! `as_of` is now). With an agency filter, only that agency's owed obligations are walked.
//! Supervisors ([`sees_all`]) also see every obligation without a supervisor (no rule's
//! supervisor resolved for it): an escalation that cannot be delivered is on their boards, never
//! silent; through the same index, whose `supervisor` may be NULL.

use std::collections::BTreeMap;

use casebridge_core::directory::{AgencyKind, Directory};
use casebridge_core::ids::AgencyCode;
use casebridge_core::notice::Family;
use casebridge_core::time::Timestamp;
use casebridge_platform::store::{Db, StoreError};
use futures_util::TryStreamExt;
use sqlx::Row;

use crate::api::{AgencyStatistics, ObligationQuery, View};
use crate::store::{self, COLUMNS, FROM, ObligationRow};

/// A SQL statement under construction with its bind values, numbered in order.
struct Sql {
    text: String,
    binds: Vec<Bind>,
}

enum Bind {
    Text(String),
    Int(i64),
}

impl Sql {
    fn new() -> Sql {
        Sql {
            text: String::new(),
            binds: Vec::new(),
        }
    }

    /// The placeholder of a new bind value.
    fn text(&mut self, value: &str) -> String {
        self.binds.push(Bind::Text(value.to_owned()));
        format!("${}", self.binds.len())
    }

    fn int(&mut self, value: i64) -> String {
        self.binds.push(Bind::Int(value));
        format!("${}", self.binds.len())
    }

    async fn fetch(self, db: &Db) -> Result<Vec<sqlx::any::AnyRow>, StoreError> {
        let mut query = sqlx::query(&self.text);
        for bind in self.binds {
            query = match bind {
                Bind::Text(t) => query.bind(t),
                Bind::Int(i) => query.bind(i),
            };
        }
        Ok(query.fetch_all(db.pool()).await?)
    }
}

/// The filters every branch of a page repeats (family, rule, region, case, after). `order_key`
/// is `None` for the due-bounded views, whose keyset is the row value `(due_at, id)` that an
/// index scan can start from.
fn filters(sql: &mut Sql, q: &ObligationQuery, order_key: Option<&str>) -> String {
    let mut out = String::new();
    if let Some(family) = q.family {
        let p = sql.text(family.as_str());
        out.push_str(&format!(" AND family = {p}"));
    }
    if let Some(rule) = &q.rule {
        let p = sql.text(rule);
        out.push_str(&format!(" AND rule = {p}"));
    }
    if let Some(region) = &q.region {
        let p = sql.text(region);
        out.push_str(&format!(" AND region = {p}"));
    }
    if let Some(case_id) = q.case_id {
        let p = sql.text(&case_id.to_string());
        out.push_str(&format!(" AND case_id = {p}"));
    }
    if let Some((due, id)) = q.after {
        let (d, i) = (sql.int(due), sql.int(id));
        out.push_str(&match order_key {
            None => format!(" AND (o.due_at, o.id) > ({d}, {i})"),
            Some(key) => format!(" AND ({key} > {d} OR ({key} = {d} AND o.id > {i}))"),
        });
    }
    out
}

/// A page of obligations visible to `viewer`, and where the next page starts. With
/// `sees_unsupervised` (a supervisor, [`sees_all`]), also those without a supervisor.
pub async fn obligations(
    db: &Db,
    viewer: &AgencyCode,
    sees_unsupervised: bool,
    q: &ObligationQuery,
) -> Result<(Vec<ObligationRow>, Option<(i64, i64)>), StoreError> {
    let rows = match q.view {
        View::Overdue | View::DueSoon => due_bounded(db, viewer, sees_unsupervised, q).await?,
        View::Open | View::All => unbounded(db, viewer, sees_unsupervised, q).await?,
    };
    let rows: Vec<ObligationRow> = rows.iter().map(store::row).collect::<Result<_, _>>()?;
    Ok(page(rows, q.limit as usize))
}

/// Whom a viewer sees obligations of: its own, those it is owed and supervises, and for a
/// supervisor those without a supervisor.
fn seen_by(v: &str, sees_unsupervised: bool) -> String {
    let unsupervised = if sees_unsupervised {
        " OR supervisor IS NULL"
    } else {
        ""
    };
    format!("(owed_by = {v} OR supervisor = {v} OR owed_to = {v}{unsupervised})")
}

/// The overdue and due-soon views: a union of ordered scans that each stop after one page.
async fn due_bounded(
    db: &Db,
    viewer: &AgencyCode,
    sees_unsupervised: bool,
    q: &ObligationQuery,
) -> Result<Vec<sqlx::any::AnyRow>, StoreError> {
    let mut sql = Sql::new();
    let v = sql.text(viewer.as_str());
    let as_of = sql.int(q.as_of.as_millis());
    let due = match q.view {
        View::DueSoon => {
            let horizon = sql.int(q.as_of.as_millis().saturating_add(q.due_within_ms));
            format!("due_at > {as_of} AND due_at <= {horizon}")
        }
        _ => format!("due_at <= {as_of}"),
    };
    let limit = sql.int(i64::from(q.limit) + 1);
    let filters = filters(&mut sql, q, None);
    let sees = seen_by(&v, sees_unsupervised);
    let common = format!("started_at <= {as_of} AND {due}{filters}");
    let branch = |condition: String| {
        format!(
            "SELECT * FROM (SELECT {COLUMNS} FROM {FROM} WHERE {condition} AND \
             {common} ORDER BY o.due_at, o.id LIMIT {limit}) AS b"
        )
    };
    let mut branches = match &q.agency {
        Some(agency) => {
            let a = sql.text(agency.as_str());
            vec![branch(format!(
                "owed_by = {a} AND closed_at IS NULL AND {sees}"
            ))]
        }
        None => {
            let mut own: Vec<String> = ["owed_by", "supervisor", "owed_to"]
                .iter()
                .map(|column| branch(format!("{column} = {v} AND closed_at IS NULL")))
                .collect();
            if sees_unsupervised {
                own.push(branch(
                    "supervisor IS NULL AND closed_at IS NULL".to_owned(),
                ));
            }
            own
        }
    };
    let owed = match &q.agency {
        Some(agency) => {
            let a = sql.text(agency.as_str());
            format!(" AND owed_by = {a}")
        }
        None => String::new(),
    };
    // As of a past moment: obligations closed since then were still open.
    branches.push(branch(format!("closed_at > {as_of} AND {sees}{owed}")));
    sql.text = format!(
        "SELECT * FROM ({}) AS page ORDER BY due_at, id LIMIT {limit}",
        branches.join(" UNION ")
    );
    sql.fetch(db).await
}

/// The open and all views, ordered by due time with undated obligations last. These are read
/// for one case or one agency; they are not built for boards over millions of rows.
async fn unbounded(
    db: &Db,
    viewer: &AgencyCode,
    sees_unsupervised: bool,
    q: &ObligationQuery,
) -> Result<Vec<sqlx::any::AnyRow>, StoreError> {
    let mut sql = Sql::new();
    let v = sql.text(viewer.as_str());
    let as_of = sql.int(q.as_of.as_millis());
    let limit = sql.int(i64::from(q.limit) + 1);
    let order_key = "COALESCE(o.due_at, 9223372036854775807)";
    let mut condition = format!(
        "{} AND started_at <= {as_of}",
        seen_by(&v, sees_unsupervised)
    );
    if q.view == View::Open {
        condition.push_str(&format!(" AND (closed_at IS NULL OR closed_at > {as_of})"));
    }
    if let Some(agency) = &q.agency {
        let a = sql.text(agency.as_str());
        condition.push_str(&format!(" AND owed_by = {a}"));
    }
    let filters = filters(&mut sql, q, Some(order_key));
    sql.text = format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE {condition}{filters} \
         ORDER BY {order_key}, o.id LIMIT {limit}"
    );
    sql.fetch(db).await
}

fn page(mut rows: Vec<ObligationRow>, limit: usize) -> (Vec<ObligationRow>, Option<(i64, i64)>) {
    if rows.len() <= limit {
        return (rows, None);
    }
    rows.truncate(limit);
    let next = rows
        .last()
        .map(|r| (r.due_at.map_or(i64::MAX, Timestamp::as_millis), r.id));
    (rows, next)
}

/// Whether `viewer` may see every agency's statistics: supervisors may.
pub fn sees_all(directory: &Directory, viewer: &AgencyCode) -> bool {
    directory
        .get(viewer)
        .is_some_and(|a| matches!(a.kind, AgencyKind::Procuratorate | AgencyKind::Coordination))
}

/// Statistics over obligations started in `[from, to)`, judged at `judged_at` (the period's
/// end, or now for a period not yet over), one row per agency.
pub async fn statistics(
    db: &Db,
    from: Timestamp,
    to: Timestamp,
    judged_at: Timestamp,
) -> Result<Vec<AgencyStatistics>, StoreError> {
    Ok(statistics_with_rules(db, from, to, judged_at, None)
        .await?
        .agencies)
}

/// Totals of one rule over a period.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleStatistics {
    pub rule: String,
    pub family: String,
    /// Obligations opened in the period.
    pub opened: u64,
    pub answered_on_time: u64,
    pub answered_late: u64,
    pub still_open: u64,
    /// Of those still open, past due.
    pub overdue: u64,
}

/// Per-agency and per-rule statistics of a period.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PeriodStatistics {
    pub agencies: Vec<AgencyStatistics>,
    /// Over every obligation, or with `scope` only those the scope agency owes, is owed or
    /// supervises.
    pub rules: Vec<RuleStatistics>,
}

/// Statistics over obligations started in `[from, to)`, judged at `judged_at`. Rows are
/// streamed, so memory grows with the number of agencies and answered steps (one duration each,
/// for the median), not with the rows read.
pub async fn statistics_with_rules(
    db: &Db,
    from: Timestamp,
    to: Timestamp,
    judged_at: Timestamp,
    scope: Option<&AgencyCode>,
) -> Result<PeriodStatistics, StoreError> {
    let mut rows = sqlx::query(
        "SELECT owed_by, owed_to, started_at, due_at, closed_at, late, rule, closed_event, \
           supervisor, family \
         FROM deadlines_obligations WHERE started_at >= $1 AND started_at < $2",
    )
    .bind(from.as_millis())
    .bind(to.as_millis())
    .fetch(db.pool());
    let judged = judged_at.as_millis();
    let mut by_agency: BTreeMap<String, (AgencyStatistics, Vec<i64>)> = BTreeMap::new();
    let mut by_rule: BTreeMap<String, RuleStatistics> = BTreeMap::new();
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
    while let Some(r) = rows.try_next().await? {
        let owed_by: String = r.get(0);
        let owed_to: Option<String> = r.get(1);
        let started_at: i64 = r.get(2);
        let due_at: Option<i64> = r.get(3);
        // A step after the judging moment is still open at it.
        let closed_at: Option<i64> = r.get::<Option<i64>, _>(4).filter(|c| *c <= judged);
        let late = r.get::<i64, _>(5) != 0;
        let rule: String = r.get(6);
        let closed_event: Option<String> = r.get(7);
        let supervisor: Option<String> = r.get(8);
        let family: String = r.get(9);
        let overdue = closed_at.is_none() && due_at.is_some_and(|d| d <= judged);
        let in_scope = scope.is_none_or(|v| {
            owed_by == v.as_str()
                || owed_to.as_deref() == Some(v.as_str())
                || supervisor.as_deref() == Some(v.as_str())
        });
        if in_scope {
            let totals = by_rule
                .entry(rule.clone())
                .or_insert_with(|| RuleStatistics {
                    rule: rule.clone(),
                    family: family.clone(),
                    ..RuleStatistics::default()
                });
            totals.opened += 1;
            match closed_at {
                Some(_) if late => totals.answered_late += 1,
                Some(_) => totals.answered_on_time += 1,
                None => totals.still_open += 1,
            }
            if overdue {
                totals.overdue += 1;
            }
        }
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
                // 立案率: the police's filing decisions on referrals (S1 Art 8).
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
                if overdue {
                    stats.overdue += 1;
                }
            }
        }
    }
    let agencies = by_agency
        .into_values()
        .map(|(mut stats, mut durations)| {
            stats.median_response_hours = median_hours(&mut durations);
            if stats.filing_decisions > 0 {
                stats.filing_rate = stats.filed as f64 / stats.filing_decisions as f64;
            }
            stats
        })
        .collect();
    Ok(PeriodStatistics {
        agencies,
        rules: by_rule.into_values().collect(),
    })
}

/// How many obligations each supervisor had overdue at `as_of`, per family: the monthly
/// reminders' content (月提示).
pub async fn overdue_by_supervisor(
    db: &Db,
    as_of: Timestamp,
) -> Result<Vec<(AgencyCode, Family, OverdueCount)>, StoreError> {
    let rows = sqlx::query(
        "SELECT supervisor, family, COUNT(*), MIN(due_at) FROM deadlines_obligations \
         WHERE supervisor IS NOT NULL AND due_at <= $1 AND started_at <= $1 \
           AND (closed_at IS NULL OR closed_at > $1) \
         GROUP BY supervisor, family ORDER BY supervisor, family",
    )
    .bind(as_of.as_millis())
    .fetch_all(db.pool())
    .await?;
    let mut out = Vec::new();
    for r in rows {
        let supervisor = AgencyCode::parse(&r.get::<String, _>(0))
            .map_err(|e| StoreError::Corrupt(format!("supervisor: {e}")))?;
        let family = store::family(&r.get::<String, _>(1))?;
        out.push((
            supervisor,
            family,
            OverdueCount {
                count: u64::try_from(r.get::<i64, _>(2)).unwrap_or(0),
                oldest_due: r.get::<Option<i64>, _>(3).map(Timestamp::from_millis),
            },
        ));
    }
    Ok(out)
}

/// Overdue obligations in one supervisor's remit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverdueCount {
    pub count: u64,
    pub oldest_due: Option<Timestamp>,
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
