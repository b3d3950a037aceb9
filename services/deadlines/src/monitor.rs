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

use std::collections::{BTreeMap, BTreeSet};

use casebridge_core::directory::{AgencyKind, Directory};
use casebridge_core::ids::AgencyCode;
use casebridge_core::notice::Family;
use casebridge_core::time::Timestamp;
use casebridge_platform::store::{Db, StoreError};
use futures_util::TryStreamExt;
use sqlx::Row;

use crate::api::{AgencyStatistics, FamilyCaseCounts, ObligationQuery, View};
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

/// Whether `viewer` may see the statistics row of `agency`: a supervisor ([`sees_all`]) every
/// row; any other agency its own, and those of the agencies whose superior (`superior` in the
/// directory) it is, to which their annual statistics are sent.
pub fn sees_row(directory: &Directory, viewer: &AgencyCode, agency: &str) -> bool {
    sees_all(directory, viewer)
        || agency == viewer.as_str()
        || AgencyCode::parse(agency)
            .ok()
            .and_then(|code| directory.get(&code))
            .and_then(|a| a.superior.as_ref())
            .is_some_and(|superior| superior == viewer)
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

/// Deadline totals of one rule over a period: one per obligation (期限), not per case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleStatistics {
    /// The rule id, e.g. `S1-8`.
    pub rule: String,
    /// The rule's family.
    pub family: String,
    /// Obligations opened in the period.
    pub opened: u64,
    /// Of those, met by their due time.
    pub answered_on_time: u64,
    /// Of those, met after their due time.
    pub answered_late: u64,
    /// Of those, still owed at the judging moment.
    pub still_open: u64,
    /// Of those still open, past due.
    pub overdue: u64,
}

/// Per-agency and per-rule statistics of a period.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PeriodStatistics {
    /// One row per agency, ordered by agency code: deadline counts and case counts.
    pub agencies: Vec<AgencyStatistics>,
    /// Over every obligation, or with `scope` only those the scope agency owes, is owed or
    /// supervises.
    pub rules: Vec<RuleStatistics>,
}

/// One obligation as the statistics read it, judged at the judging moment.
struct Step {
    case_id: String,
    family: Family,
    sender: Option<String>,
    owed_by: String,
    owed_to: Option<String>,
    supervisor: Option<String>,
    rule: String,
    started_at: i64,
    /// When the step was taken, if by the judging moment.
    closed_at: Option<i64>,
    late: bool,
    /// Still owed and past due at the judging moment.
    overdue: bool,
    closed_event: Option<String>,
}

impl Step {
    fn read(r: &sqlx::any::AnyRow, judged: i64) -> Result<Step, StoreError> {
        let due_at: Option<i64> = r.get(3);
        // A step after the judging moment is still open at it.
        let closed_at = r.get::<Option<i64>, _>(4).filter(|c| *c <= judged);
        Ok(Step {
            owed_by: r.get(0),
            owed_to: r.get(1),
            started_at: r.get(2),
            closed_at,
            late: r.get::<i64, _>(5) != 0,
            rule: r.get(6),
            closed_event: r.get(7),
            supervisor: r.get(8),
            family: store::family(&r.get::<String, _>(9))?,
            case_id: r.get(10),
            sender: r.get(11),
            overdue: closed_at.is_none() && due_at.is_some_and(|d| d <= judged),
        })
    }

    fn seen_by(&self, scope: Option<&AgencyCode>) -> bool {
        scope.is_none_or(|v| {
            self.owed_by == v.as_str()
                || self.owed_to.as_deref() == Some(v.as_str())
                || self.supervisor.as_deref() == Some(v.as_str())
        })
    }
}

/// The per-agency rows under construction, each with the durations of its answered steps.
type Agencies = BTreeMap<String, (AgencyStatistics, Vec<i64>)>;

fn agency_entry<'a>(map: &'a mut Agencies, code: &str) -> &'a mut (AgencyStatistics, Vec<i64>) {
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

/// Counts one obligation in its rule's deadline totals.
fn count_rule(by_rule: &mut BTreeMap<String, RuleStatistics>, step: &Step) {
    let totals = by_rule
        .entry(step.rule.clone())
        .or_insert_with(|| RuleStatistics {
            rule: step.rule.clone(),
            family: step.family.as_str().to_owned(),
            ..RuleStatistics::default()
        });
    totals.opened += 1;
    match step.closed_at {
        Some(_) if step.late => totals.answered_late += 1,
        Some(_) => totals.answered_on_time += 1,
        None => totals.still_open += 1,
    }
    if step.overdue {
        totals.overdue += 1;
    }
}

/// Counts one obligation in the deadline counts of the agency it is owed to and of the one
/// that owes it.
fn count_deadline(by_agency: &mut Agencies, step: &Step) {
    if let Some(to_agency) = &step.owed_to {
        agency_entry(by_agency, to_agency).0.sent += 1;
    }
    let (stats, durations) = agency_entry(by_agency, &step.owed_by);
    stats.received += 1;
    let Some(closed) = step.closed_at else {
        stats.still_open += 1;
        if step.overdue {
            stats.overdue += 1;
        }
        return;
    };
    if step.late {
        stats.answered_late += 1;
    } else {
        stats.answered_on_time += 1;
    }
    durations.push(closed - step.started_at);
    // 立案率: the police's filing decisions on referrals (S1 Art 8).
    if step.rule == "S1-8" {
        match step.closed_event.as_deref() {
            Some("referral.filed") => {
                stats.filing_decisions += 1;
                stats.filed += 1;
            }
            Some("referral.declined") => stats.filing_decisions += 1,
            _ => {}
        }
    }
}

/// How the steps one agency owed on one case stood at the judging moment.
#[derive(Debug, Default, Clone, Copy)]
struct Owed {
    /// A step still owed.
    open: bool,
    /// A step still owed and past due.
    overdue: bool,
    /// A step taken after its due time.
    late: bool,
}

/// One case of the period as its obligations started in the period show it.
#[derive(Debug)]
struct CaseSeen {
    family: Family,
    /// The sender recorded on its obligations (the first one read that names one).
    sender: Option<String>,
    /// Per agency that owed a step on it.
    owed: BTreeMap<String, Owed>,
}

/// Notes one obligation in its case.
fn note_case(cases: &mut BTreeMap<String, CaseSeen>, step: &Step) {
    let case = cases
        .entry(step.case_id.clone())
        .or_insert_with(|| CaseSeen {
            family: step.family,
            sender: None,
            owed: BTreeMap::new(),
        });
    if case.sender.is_none() {
        case.sender.clone_from(&step.sender);
    }
    let owed = case.owed.entry(step.owed_by.clone()).or_default();
    owed.open |= step.closed_at.is_none();
    owed.overdue |= step.overdue;
    owed.late |= step.closed_at.is_some() && step.late;
}

/// The cases among those with an obligation started in `[from, to)` that already had one
/// before `from`: opened in an earlier period, so not counted as cases of this one.
async fn opened_before(
    db: &Db,
    from: Timestamp,
    to: Timestamp,
) -> Result<BTreeSet<String>, StoreError> {
    let rows = sqlx::query(
        "SELECT DISTINCT p.case_id FROM deadlines_obligations p \
         WHERE p.started_at >= $1 AND p.started_at < $2 AND EXISTS (SELECT 1 \
           FROM deadlines_obligations e WHERE e.case_id = p.case_id AND e.started_at < $1)",
    )
    .bind(from.as_millis())
    .bind(to.as_millis())
    .fetch_all(db.pool())
    .await?;
    Ok(rows.iter().map(|r| r.get::<String, _>(0)).collect())
}

/// The order families are listed in: as the README introduces them.
fn family_rank(family: Family) -> u8 {
    match family {
        Family::Referral => 0,
        Family::Transfer => 1,
        Family::Dispute => 2,
        Family::Opinion => 3,
        Family::Penalty => 4,
        Family::Lead => 5,
        Family::Rectification => 6,
    }
}

/// Case counts per agency and family (in [`family_rank`] order).
type CaseCounts = BTreeMap<(String, u8), FamilyCaseCounts>;

fn count<'a>(counts: &'a mut CaseCounts, agency: &str, family: Family) -> &'a mut FamilyCaseCounts {
    counts
        .entry((agency.to_owned(), family_rank(family)))
        .or_insert_with(|| FamilyCaseCounts::new(family))
}

/// Counts each case once per agency and column into the agencies' [`FamilyCaseCounts`]: sent
/// for its sender; received, and how it was answered, for every other agency that owed a step.
fn count_cases(by_agency: &mut Agencies, cases: BTreeMap<String, CaseSeen>) {
    let mut counts = CaseCounts::new();
    for case in cases.into_values() {
        if let Some(sender) = &case.sender {
            count(&mut counts, sender, case.family).cases_sent += 1;
        }
        for (agency, owed) in &case.owed {
            if case.sender.as_ref() == Some(agency) {
                continue; // the sender's own steps on its case count as deadlines only
            }
            let c = count(&mut counts, agency, case.family);
            c.cases_received += 1;
            if owed.open {
                c.open += 1;
                c.overdue += u64::from(owed.overdue);
            } else if owed.late {
                c.answered_late += 1;
            } else {
                c.answered_on_time += 1;
            }
        }
    }
    for ((agency, _), c) in counts {
        agency_entry(by_agency, &agency).0.cases.push(c);
    }
}

/// Statistics over obligations started in `[from, to)`, judged at `judged_at`: per agency,
/// deadline counts (期限, one per obligation) and per-family case counts (案件, one per case);
/// per rule, deadline totals.
///
/// **Deadline counts** ([`AgencyStatistics`]'s `sent` … `overdue`): every obligation started
/// in the period counts once for the agency that owes it (`received`, then `answered_on_time`,
/// `answered_late` or `still_open`, and `overdue` when still owed past due) and once for the
/// agency it is owed to (`sent`). A referral owes its sender a receipt, a filing decision, and
/// perhaps a reconsideration, so these are not numbers of cases.
///
/// **Case counts** ([`FamilyCaseCounts`]): the cases of the period are those *opened* in it,
/// whose first obligation started in `[from, to)`; a case with an obligation before `from`
/// belongs to an earlier period and is left out. Each case counts at most once per agency and
/// column, with the steps started in the period:
/// - `cases_sent` (发出案件): for its sender, the agency named as the event's `sender` party
///   (the referring or transferring agency, the party raising a dispute, the requester of an
///   opinion), recorded on each obligation;
/// - `cases_received` (收到案件): for every other agency that owed at least one step on it
///   (the police on a referral, the receiving agency of a transfer, the expert department, the
///   procuratorate or coordination office when one owes a step). The steps the sender owes on
///   its own case (supplementing materials, handing over seized items, negotiating a dispute)
///   count as its deadlines only;
/// - of the received ones, exactly one of: `open` (未办结) when a step it owed is still owed at
///   the judging moment, with `overdue` (逾期未办) when one of those is past due; else
///   `answered_late` (逾期办结) when one of its steps was taken late; else `answered_on_time`
///   (按时办结).
///
/// So `cases_received = answered_on_time + answered_late + open`, and `overdue <= open`.
///
/// **移送率** (`penalty_over_threshold`, `penalty_referred`, `referral_rate`): of the penalty
/// records (行政处罚案件信息) an agency recorded in `[from, to)`, those whose current version meets
/// a threshold, and of those, the ones with a criminal referral linked (named when recorded, or
/// linked later) by `judged_at`; the rate is absent when none met a threshold. A correction
/// that lowers the figures below every threshold takes the record out of the count.
///
/// Rows are streamed, so memory grows with the number of agencies, cases and answered steps
/// (one duration each, for the median), not with the rows read.
pub async fn statistics_with_rules(
    db: &Db,
    from: Timestamp,
    to: Timestamp,
    judged_at: Timestamp,
    scope: Option<&AgencyCode>,
) -> Result<PeriodStatistics, StoreError> {
    let mut rows = sqlx::query(
        "SELECT owed_by, owed_to, started_at, due_at, closed_at, late, rule, closed_event, \
           supervisor, family, case_id, sender \
         FROM deadlines_obligations WHERE started_at >= $1 AND started_at < $2",
    )
    .bind(from.as_millis())
    .bind(to.as_millis())
    .fetch(db.pool());
    let judged = judged_at.as_millis();
    let mut by_agency = Agencies::new();
    let mut by_rule: BTreeMap<String, RuleStatistics> = BTreeMap::new();
    let mut cases: BTreeMap<String, CaseSeen> = BTreeMap::new();
    while let Some(r) = rows.try_next().await? {
        let step = Step::read(&r, judged)?;
        if step.seen_by(scope) {
            count_rule(&mut by_rule, &step);
        }
        count_deadline(&mut by_agency, &step);
        note_case(&mut cases, &step);
    }
    drop(rows);
    for earlier in opened_before(db, from, to).await? {
        cases.remove(&earlier);
    }
    count_cases(&mut by_agency, cases);
    // 移送率: penalty records of the period over a threshold, and those referred.
    for (agency, over, referred) in store::penalty_referrals(db, from, to, judged_at).await? {
        let stats = &mut agency_entry(&mut by_agency, &agency).0;
        stats.penalty_over_threshold = over;
        stats.penalty_referred = referred;
    }
    let agencies = by_agency
        .into_values()
        .map(|(mut stats, mut durations)| {
            stats.median_response_hours = median_hours(&mut durations);
            if stats.filing_decisions > 0 {
                stats.filing_rate = stats.filed as f64 / stats.filing_decisions as f64;
            }
            if stats.penalty_over_threshold > 0 {
                stats.referral_rate =
                    Some(stats.penalty_referred as f64 / stats.penalty_over_threshold as f64);
            }
            stats
        })
        .collect();
    Ok(PeriodStatistics {
        agencies,
        rules: by_rule.into_values().collect(),
    })
}

/// Deadline totals per family (in the rule table's family names, ordered by name) over
/// obligations started in `[from, to)`, judged at `judged_at` as [`statistics_with_rules`]
/// judges them: the quarterly bulletin's figures (季通报). One aggregate over the `started_at`
/// index, in constant memory, so a bulletin costs no more than its query.
pub async fn family_totals(
    db: &Db,
    from: Timestamp,
    to: Timestamp,
    judged_at: Timestamp,
) -> Result<Vec<(String, RuleStatistics)>, StoreError> {
    let rows = sqlx::query(
        "SELECT family, COUNT(*), \
           COUNT(CASE WHEN closed_at <= $3 AND late = 0 THEN 1 END), \
           COUNT(CASE WHEN closed_at <= $3 AND late <> 0 THEN 1 END), \
           COUNT(CASE WHEN closed_at IS NULL OR closed_at > $3 THEN 1 END), \
           COUNT(CASE WHEN (closed_at IS NULL OR closed_at > $3) AND due_at <= $3 THEN 1 END) \
         FROM deadlines_obligations WHERE started_at >= $1 AND started_at < $2 \
         GROUP BY family ORDER BY family",
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
            let family: String = r.get(0);
            let totals = RuleStatistics {
                rule: String::new(),
                family: family.clone(),
                opened: count(1),
                answered_on_time: count(2),
                answered_late: count(3),
                still_open: count(4),
                overdue: count(5),
            };
            (family, totals)
        })
        .collect())
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
