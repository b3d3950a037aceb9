//! Issue 15, item 5: statistics say what they count. A known set of cases, stored as the
//! deadlines service stores their obligations (on SQLite, and on PostgreSQL for the counts),
//! gives exact case counts per agency and family (案件), while the deadline counts (期限, one
//! per obligation) stay what they were.

use casebridge_core::deadline::{Period, RuleTable, Unit};
use casebridge_core::directory::Directory;
use casebridge_core::ids::{AgencyCode, CaseId};
use casebridge_core::notice::Family;
use casebridge_core::time::Timestamp;
use casebridge_deadlines::api::{
    AgencyStatistics, FamilyCaseCounts, Reply, ReportFormat, ReportPeriod,
};
use casebridge_deadlines::store::{self, Changes, ObligationRow, Stage};
use casebridge_deadlines::{monitor, report};
use casebridge_platform::store::Db;
use casebridge_platform::testing;

const DIRECTORY: &str = include_str!("../../../deploy/directory.toml");
const RULES: &str = include_str!("../../../deploy/rules.toml");

const MARKET_BUREAU: &str = "11350100MB0100002P";
const ECOLOGY_BUREAU: &str = "11350100MB0100003T";
const CITY_POLICE: &str = "11350100MB01000064";
const PROCURATORATE: &str = "11350100MB0100008A";
const COORDINATION: &str = "11350100MB0100009D";
const TESTING_INSTITUTE: &str = "12350100MB0100010F";

fn agency(code: &str) -> AgencyCode {
    AgencyCode::parse(code).expect("example agency code")
}

fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).expect("time")
}

/// February 2026 in China Standard Time, judged at its end.
fn february() -> (Timestamp, Timestamp) {
    (
        at("2026-02-01T00:00:00+08:00"),
        at("2026-03-01T00:00:00+08:00"),
    )
}

/// One step of a case: who owes it to whom, when it started and fell due, and when (if) it
/// was taken.
struct Step {
    rule: &'static str,
    owed_by: &'static str,
    owed_to: &'static str,
    started: &'static str,
    due: &'static str,
    closed: Option<(&'static str, &'static str)>,
}

const fn step(
    rule: &'static str,
    owed_by: &'static str,
    owed_to: &'static str,
    started: &'static str,
    due: &'static str,
    closed: Option<(&'static str, &'static str)>,
) -> Step {
    Step {
        rule,
        owed_by,
        owed_to,
        started,
        due,
        closed,
    }
}

/// A case: its family, its sender and its steps.
struct Case {
    family: Family,
    sender: &'static str,
    steps: Vec<Step>,
}

fn row(case_id: CaseId, case: &Case, s: &Step) -> ObligationRow {
    let due = at(s.due);
    let closed = s.closed.map(|(when, _)| at(when));
    let supervisor = match case.family {
        Family::Referral => PROCURATORATE,
        _ => COORDINATION,
    };
    ObligationRow {
        id: 0,
        case_id,
        family: case.family,
        rule: s.rule.to_owned(),
        owed_by: agency(s.owed_by),
        owed_to: Some(agency(s.owed_to)),
        supervisor: Some(agency(supervisor)),
        region: "350100".to_owned(),
        started_at: at(s.started),
        due_at: Some(due),
        warn_at: None,
        stage: if closed.is_some() {
            Stage::Closed
        } else {
            Stage::Open
        },
        closed_at: closed,
        closed_event: s.closed.map(|(_, event)| event.to_owned()),
        late: closed.is_some_and(|c| c > due),
        period: Period::new(3, Unit::CalendarDays),
        changes: Changes::default(),
        sender: Some(agency(case.sender)),
    }
}

/// The known cases. The market bureau sends three referrals to the police, two transfers to
/// the ecology bureau and one opinion request to the testing institute in February; it also
/// sent a referral in January whose filing decision falls in February; the ecology bureau
/// raises a dispute with the market bureau.
fn cases() -> Vec<Case> {
    use Family::*;
    let referral = |steps| Case {
        family: Referral,
        sender: MARKET_BUREAU,
        steps,
    };
    let (m, p, e, t) = (
        MARKET_BUREAU,
        CITY_POLICE,
        ECOLOGY_BUREAU,
        TESTING_INSTITUTE,
    );
    vec![
        // January's referral: received then, decided late in February.
        referral(vec![
            step(
                "RCPT",
                p,
                m,
                "2026-01-30T09:00:00+08:00",
                "2026-01-31T09:00:00+08:00",
                Some(("2026-01-30T15:00:00+08:00", "referral.receipt_signed")),
            ),
            step(
                "S1-8",
                p,
                m,
                "2026-02-02T09:00:00+08:00",
                "2026-02-05T23:59:00+08:00",
                Some(("2026-02-09T10:00:00+08:00", "referral.filed")),
            ),
        ]),
        // R1: answered on time and filed; the market bureau hands the items over late (its
        // own step on its own case: a deadline, not a case received).
        referral(vec![
            step(
                "RCPT",
                p,
                m,
                "2026-02-03T09:00:00+08:00",
                "2026-02-04T09:00:00+08:00",
                Some(("2026-02-03T11:00:00+08:00", "referral.receipt_signed")),
            ),
            step(
                "S1-8",
                p,
                m,
                "2026-02-03T11:00:00+08:00",
                "2026-02-06T23:59:00+08:00",
                Some(("2026-02-05T10:00:00+08:00", "referral.filed")),
            ),
            step(
                "S1-12",
                m,
                p,
                "2026-02-05T10:00:00+08:00",
                "2026-02-08T23:59:00+08:00",
                Some(("2026-02-12T10:00:00+08:00", "referral.items_handed_over")),
            ),
        ]),
        // R2: receipt on time, the decision not to file late.
        referral(vec![
            step(
                "RCPT",
                p,
                m,
                "2026-02-10T09:00:00+08:00",
                "2026-02-11T09:00:00+08:00",
                Some(("2026-02-10T10:00:00+08:00", "referral.receipt_signed")),
            ),
            step(
                "S1-8",
                p,
                m,
                "2026-02-10T10:00:00+08:00",
                "2026-02-13T23:59:00+08:00",
                Some(("2026-02-20T10:00:00+08:00", "referral.declined")),
            ),
        ]),
        // R3: receipt on time, no decision by the end of February: open and overdue.
        referral(vec![
            step(
                "RCPT",
                p,
                m,
                "2026-02-20T09:00:00+08:00",
                "2026-02-21T09:00:00+08:00",
                Some(("2026-02-20T10:00:00+08:00", "referral.receipt_signed")),
            ),
            step(
                "S1-8",
                p,
                m,
                "2026-02-20T10:00:00+08:00",
                "2026-02-23T23:59:00+08:00",
                None,
            ),
        ]),
        // T1: acknowledged and decided on time.
        Case {
            family: Transfer,
            sender: m,
            steps: vec![
                step(
                    "RCPT-F",
                    e,
                    m,
                    "2026-02-04T09:00:00+08:00",
                    "2026-02-05T09:00:00+08:00",
                    Some(("2026-02-04T10:00:00+08:00", "transfer.received")),
                ),
                step(
                    "SAMR-18",
                    e,
                    m,
                    "2026-02-04T09:00:00+08:00",
                    "2026-02-19T23:59:00+08:00",
                    Some(("2026-02-12T10:00:00+08:00", "transfer.accepted")),
                ),
            ],
        },
        // T2: acknowledged; decided only in March, before the due day: open, not overdue, at
        // the end of February.
        Case {
            family: Transfer,
            sender: m,
            steps: vec![
                step(
                    "RCPT-F",
                    e,
                    m,
                    "2026-02-25T09:00:00+08:00",
                    "2026-02-26T09:00:00+08:00",
                    Some(("2026-02-25T10:00:00+08:00", "transfer.received")),
                ),
                step(
                    "SAMR-18",
                    e,
                    m,
                    "2026-02-25T09:00:00+08:00",
                    "2026-03-12T23:59:00+08:00",
                    Some(("2026-03-05T10:00:00+08:00", "transfer.accepted")),
                ),
            ],
        },
        // O1: the conclusion comes late.
        Case {
            family: Opinion,
            sender: m,
            steps: vec![step(
                "SJ-13",
                t,
                m,
                "2026-02-06T09:00:00+08:00",
                "2026-02-13T23:59:00+08:00",
                Some(("2026-02-16T10:00:00+08:00", "opinion.concluded")),
            )],
        },
        // D1: the ecology bureau raises a dispute and owes the negotiation (to the market
        // bureau, which sent nothing and owes nothing).
        Case {
            family: Dispute,
            sender: e,
            steps: vec![step(
                "SAMR-13",
                e,
                m,
                "2026-02-26T09:00:00+08:00",
                "2026-03-12T23:59:00+08:00",
                None,
            )],
        },
    ]
}

async fn store_of_known_cases(dir: &std::path::Path) -> Db {
    let db = Db::open_sqlite(&dir.join("deadlines.db"))
        .await
        .expect("SQLite");
    load_known_cases(db).await
}

/// The known cases in `db`, migrated.
async fn load_known_cases(db: Db) -> Db {
    db.migrate(casebridge_deadlines::SERVICE, &store::migrations())
        .await
        .expect("migrations");
    let mut conn = db.pool().acquire().await.expect("connection");
    for case in cases() {
        let case_id = CaseId::generate();
        for s in &case.steps {
            store::insert(&mut conn, db.dialect(), &row(case_id, &case, s), None)
                .await
                .expect("insert");
        }
    }
    db
}

fn row_of<'a>(agencies: &'a [AgencyStatistics], code: &str) -> &'a AgencyStatistics {
    agencies
        .iter()
        .find(|s| s.agency == code)
        .unwrap_or_else(|| panic!("a row for {code}: {agencies:?}"))
}

/// `[sent, received, on time, late, open, overdue]` of one family's case counts.
fn counts(c: &FamilyCaseCounts) -> [u64; 6] {
    [
        c.cases_sent,
        c.cases_received,
        c.answered_on_time,
        c.answered_late,
        c.open,
        c.overdue,
    ]
}

/// The families and counts of one agency's case rows, in order.
fn cases_of(agencies: &[AgencyStatistics], code: &str) -> Vec<(Family, [u64; 6])> {
    row_of(agencies, code)
        .cases
        .iter()
        .map(|c| (c.family, counts(c)))
        .collect()
}

/// The deadline counts of one agency: `[sent, received, on time, late, open, overdue]`.
fn deadlines_of(agencies: &[AgencyStatistics], code: &str) -> [u64; 6] {
    let s = row_of(agencies, code);
    [
        s.sent,
        s.received,
        s.answered_on_time,
        s.answered_late,
        s.still_open,
        s.overdue,
    ]
}

#[tokio::test]
async fn cases_are_counted_once_per_agency_family_and_column_and_deadlines_as_before() {
    let dir = tempfile::tempdir().expect("temp dir");
    known_counts(&store_of_known_cases(dir.path()).await).await;
}

#[tokio::test]
async fn postgres_counts_the_same_cases() {
    let url = testing::fresh_postgres()
        .await
        .expect("a PostgreSQL database");
    let db = Db::connect(&url, 2).await.expect("PostgreSQL");
    let db = load_known_cases(db).await;
    known_counts(&db).await;
    db.pool().close().await;
    testing::drop_postgres(&url).await.expect("dropped");
}

async fn known_counts(db: &Db) {
    let (from, to) = february();
    let agencies = monitor::statistics(db, from, to, to)
        .await
        .expect("statistics");

    // Cases (案件): [sent, received, on time, late, open, overdue]. January's referral was
    // opened before the period and is no case of February's.
    use Family::*;
    assert_eq!(
        cases_of(&agencies, MARKET_BUREAU),
        [
            (Referral, [3, 0, 0, 0, 0, 0]),
            (Transfer, [2, 0, 0, 0, 0, 0]),
            (Opinion, [1, 0, 0, 0, 0, 0]),
        ]
    );
    assert_eq!(
        cases_of(&agencies, CITY_POLICE),
        [(Referral, [0, 3, 1, 1, 1, 1])]
    );
    assert_eq!(
        cases_of(&agencies, ECOLOGY_BUREAU),
        [
            (Transfer, [0, 2, 1, 0, 1, 0]),
            (Dispute, [1, 0, 0, 0, 0, 0])
        ]
    );
    assert_eq!(
        cases_of(&agencies, TESTING_INSTITUTE),
        [(Opinion, [0, 1, 0, 1, 0, 0])]
    );
    assert!(agencies.iter().all(|s| s.agency != PROCURATORATE));

    // Deadlines (期限), one per obligation, as before: the market bureau is owed 13 steps on
    // its 6 cases, January's referral and the dispute it did not send.
    assert_eq!(deadlines_of(&agencies, MARKET_BUREAU), [13, 1, 0, 1, 0, 0]);
    assert_eq!(deadlines_of(&agencies, CITY_POLICE), [1, 7, 4, 2, 1, 1]);
    assert_eq!(deadlines_of(&agencies, ECOLOGY_BUREAU), [0, 5, 3, 0, 2, 0]);
    assert_eq!(
        deadlines_of(&agencies, TESTING_INSTITUTE),
        [0, 1, 0, 1, 0, 0]
    );
    let police = row_of(&agencies, CITY_POLICE);
    assert_eq!((police.filing_decisions, police.filed), (3, 2));
}

#[tokio::test]
async fn a_case_is_counted_as_it_stood_at_the_end_of_the_period() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = store_of_known_cases(dir.path()).await;
    let (from, _) = february();
    // Judged on 15 February: R2's decision (due the 13th, taken the 20th) is still owed and
    // overdue, R3's not started.
    let (started, ended) = (from, at("2026-02-15T00:00:00+08:00"));
    let early = monitor::statistics(&db, started, ended, ended)
        .await
        .expect("statistics");
    assert_eq!(
        cases_of(&early, CITY_POLICE),
        [(Family::Referral, [0, 2, 1, 0, 1, 1])],
        "R1 on time; R2 open and overdue"
    );
    // Judged on 22 February: R2 was answered late; R3's decision is owed, not yet due.
    let ended = at("2026-02-22T00:00:00+08:00");
    let later = monitor::statistics(&db, started, ended, ended)
        .await
        .expect("statistics");
    assert_eq!(
        cases_of(&later, CITY_POLICE),
        [(Family::Referral, [0, 3, 1, 1, 1, 0])],
        "R1 on time; R2 late; R3 open, not overdue"
    );
}

/// The reports' CSV has a `cases` section beside the deadlines' `statistics`, and the JSON a
/// `cases` list in each agency's row.
#[tokio::test]
async fn the_report_has_a_cases_section() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = store_of_known_cases(dir.path()).await;
    let directory = Directory::from_toml_str(DIRECTORY).expect("directory");
    let rules = RuleTable::from_toml_str(RULES).expect("rules");
    let sources = report::Sources {
        db: &db,
        now: at("2026-03-10T12:00:00+08:00"),
        directory: &directory,
        rules: &rules,
    };
    let month = ReportPeriod::Month {
        year: 2026,
        month: 2,
    };
    let csv = match report::build(&sources, &agency(PROCURATORATE), month, ReportFormat::Csv)
        .await
        .expect("report")
    {
        Reply::Report { content, .. } => String::from_utf8(content).expect("UTF-8"),
        other => panic!("expected a report, got {other:?}"),
    };
    assert!(
        csv.contains(
            "\r\nsection,agency,name,family,cases_sent,cases_received,answered_on_time,\
             answered_late,open,overdue\r\n"
        ),
        "{csv}"
    );
    let case_rows: Vec<Vec<&str>> = csv
        .lines()
        .filter(|l| l.starts_with("cases,"))
        .map(|l| l.split(',').collect())
        .collect();
    let find = |code: &str, family: &str| {
        case_rows
            .iter()
            .find(|r| r[1] == code && r[3] == family)
            .map(|r| r[4..].join(","))
    };
    assert_eq!(
        find(MARKET_BUREAU, "referral").as_deref(),
        Some("3,0,0,0,0,0")
    );
    assert_eq!(
        find(CITY_POLICE, "referral").as_deref(),
        Some("0,3,1,1,1,1")
    );
    assert_eq!(
        find(ECOLOGY_BUREAU, "dispute").as_deref(),
        Some("1,0,0,0,0,0")
    );
    assert_eq!(case_rows.len(), 7, "{csv}");
    // The deadlines' table is unchanged.
    assert!(
        csv.lines()
            .any(|l| l.starts_with(&format!("statistics,{MARKET_BUREAU},"))
                && l.contains(",13,1,0,1,0,0,")),
        "{csv}"
    );
    let json = match report::build(&sources, &agency(PROCURATORATE), month, ReportFormat::Json)
        .await
        .expect("report")
    {
        Reply::Report { content, .. } => {
            serde_json::from_slice::<serde_json::Value>(&content).expect("JSON")
        }
        other => panic!("expected a report, got {other:?}"),
    };
    let police = json["statistics"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["agency"] == CITY_POLICE))
        .expect("the police row");
    assert_eq!(police["received"], 7);
    assert_eq!(police["cases"][0]["family"], "referral");
    assert_eq!(police["cases"][0]["cases_received"], 3);
    assert_eq!(police["cases"][0]["overdue"], 1);
}

/// Obligations stored before the store recorded senders get theirs from migration 104: the
/// party owed the step, or the owing party for the steps the sender owes (S1-12, P180-2b,
/// SAMR-13).
#[tokio::test]
async fn migration_104_names_the_sender_of_obligations_stored_before_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Db::open_sqlite(&dir.path().join("deadlines.db"))
        .await
        .expect("SQLite");
    let all = store::migrations();
    let before: Vec<_> = all.iter().filter(|m| m.version < 104).cloned().collect();
    db.migrate(casebridge_deadlines::SERVICE, &before)
        .await
        .expect("migrations before 104");
    for (rule, owed_by, owed_to) in [
        ("S1-8", CITY_POLICE, MARKET_BUREAU),
        ("S1-12", MARKET_BUREAU, CITY_POLICE),
        ("SAMR-13", ECOLOGY_BUREAU, MARKET_BUREAU),
    ] {
        sqlx::query(
            "INSERT INTO deadlines_obligations (case_id, family, rule, owed_by, owed_to, \
               region, started_at, late, period_amount, period_unit) \
             VALUES ($1, 'referral', $2, $3, $4, '350100', 0, 0, 3, 'cd')",
        )
        .bind(CaseId::generate().to_string())
        .bind(rule)
        .bind(owed_by)
        .bind(owed_to)
        .execute(db.pool())
        .await
        .expect("an old row");
    }
    db.migrate(casebridge_deadlines::SERVICE, &all)
        .await
        .expect("migration 104");
    let senders: Vec<(String, String)> =
        sqlx::query_as("SELECT rule, sender FROM deadlines_obligations ORDER BY id")
            .fetch_all(db.pool())
            .await
            .expect("senders");
    assert_eq!(
        senders,
        [
            ("S1-8", MARKET_BUREAU),
            ("S1-12", MARKET_BUREAU),
            ("SAMR-13", ECOLOGY_BUREAU)
        ]
        .map(|(r, s)| (r.to_owned(), s.to_owned()))
    );
}
