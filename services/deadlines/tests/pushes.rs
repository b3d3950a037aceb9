//! Issue 19: the reports that go out by themselves, and 移送率. At the first moment of a quarter
//! every supervisor gets the quarterly bulletin (季通报); on 1 January each agency's superior gets
//! its annual statistics; both once, however many replicas run and however often the service
//! restarts, and late rather than never. The statistics count penalty records over a threshold
//! and those referred (移送率), and an agency's superior may read its row. On SQLite and on
//! PostgreSQL, with a [`ManualClock`]: the year ends on the clock, never on the wall.

use std::sync::Arc;

use casebridge_core::calendar::Calendar;
use casebridge_core::deadline::RuleTable;
use casebridge_core::directory::Directory;
use casebridge_core::ids::{AgencyCode, CaseId};
use casebridge_core::notice::{Family, Notice, Role};
use casebridge_core::time::{ManualClock, Timestamp};
use casebridge_deadlines::api::{
    AgencyStatistics, Reply, ReportFormat, ReportPeriod, Request as MonitorRequest,
};
use casebridge_deadlines::app::{DeadlinesApp, events_queue};
use casebridge_deadlines::handler::Deadlines;
use casebridge_platform::bus::{Message, QueueSpec};
use casebridge_platform::testing::{self, Backend, TestStack};
use sqlx::Row;

const DIRECTORY: &str = include_str!("../../../deploy/directory.toml");
const RULES: &str = include_str!("../../../deploy/rules.toml");
const Y2026: &str = include_str!("../../../deploy/calendars/2026.toml");

const MARKET_BUREAU: &str = "11350100MB0100002P";
const ECOLOGY_BUREAU: &str = "11350100MB0100003T";
const CITY_GOVERNMENT: &str = "11350100MB0100001L";
const CITY_POLICE: &str = "11350100MB01000064";
const PROCURATORATE: &str = "11350100MB0100008A";

/// The supervisors of the shipped directory (procuratorates and coordination offices).
const SUPERVISORS: usize = 5;
/// The agencies of the shipped directory that are some agency's `superior`.
const SUPERIORS: usize = 6;

fn agency(code: &str) -> AgencyCode {
    AgencyCode::parse(code).expect("example agency code")
}

fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).expect("time")
}

/// A deadlines service (built, not running: the tests call its pushes as its reminder task
/// does) on `stack`, with the shared clock.
async fn service(stack: &TestStack, clock: &Arc<ManualClock>) -> Deadlines {
    let app = DeadlinesApp::build(
        testing::host(
            stack.db.clone(),
            stack.bus.clone(),
            clock.clone(),
            testing::signer(),
        ),
        Arc::new(Directory::from_toml_str(DIRECTORY).expect("directory")),
        Arc::new(RuleTable::from_toml_str(RULES).expect("rules")),
        Arc::new(Calendar::from_toml_files([("2026.toml", Y2026)]).expect("calendar")),
    )
    .await
    .expect("deadlines service");
    app.deadlines().clone()
}

/// The notices the service wrote to its outbox with routing key `kind`.
async fn sent(deadlines: &Deadlines, kind: &str) -> Vec<Notice> {
    let rows = sqlx::query("SELECT message FROM deadlines_outbox ORDER BY seq")
        .fetch_all(deadlines.db().pool())
        .await
        .expect("read the outbox");
    rows.iter()
        .map(|r| {
            let bytes: Vec<u8> = r.get(0);
            serde_json::from_slice::<Message>(&bytes).expect("an outbox message")
        })
        .filter(|m| m.kind == kind)
        .map(|m| m.decode::<Notice>().expect("a notice"))
        .collect()
}

/// A penalty event as the penalties service announces it, as far as 移送率 reads it.
fn penalty(case_id: CaseId, event: &str, now: &str, detail: serde_json::Value) -> Notice {
    Notice {
        case_id,
        family: Family::Penalty,
        event: event.into(),
        actor: agency(MARKET_BUREAU),
        at: at(now),
        recipients: vec![agency(MARKET_BUREAU)],
        summary: event.into(),
        detail,
        parties: [(Role::Sender, agency(MARKET_BUREAU))].into(),
        attachments: Vec::new(),
    }
}

/// A first version that meets a threshold (`hits`), or not, naming a referral, or not.
fn recorded(case_id: CaseId, now: &str, over: bool, referral: Option<CaseId>) -> Notice {
    let hits = if over {
        serde_json::json!([{ "rule": "CL-140", "verified": true }])
    } else {
        serde_json::json!([])
    };
    penalty(
        case_id,
        "recorded",
        now,
        serde_json::json!({
            "event": "recorded", "version": 1, "hits": hits,
            "referral": referral.map(|r| r.to_string()), "late_since": null,
        }),
    )
}

fn referral_linked(case_id: CaseId, now: &str) -> Notice {
    penalty(
        case_id,
        "referral_linked",
        now,
        serde_json::json!({
            "event": "referral_linked", "referral": CaseId::generate().to_string(),
            "late_since": null,
        }),
    )
}

async fn apply(deadlines: &Deadlines, notice: Notice) {
    let message = Message::json(notice.routing_key(), &notice).expect("encode");
    deadlines
        .on_events(&[(message, notice)])
        .await
        .expect("applied");
}

/// A transfer sent by the market bureau to the ecology bureau: one obligation (RCPT-F).
fn transfer_sent(now: &str) -> Notice {
    Notice {
        case_id: CaseId::generate(),
        family: Family::Transfer,
        event: "sent".into(),
        actor: agency(MARKET_BUREAU),
        at: at(now),
        recipients: vec![agency(ECOLOGY_BUREAU)],
        summary: "transfer".into(),
        detail: serde_json::json!({ "urgent": false }),
        parties: [
            (Role::Sender, agency(MARKET_BUREAU)),
            (Role::Recipient, agency(ECOLOGY_BUREAU)),
        ]
        .into(),
        attachments: Vec::new(),
    }
}

async fn statistics_2026(deadlines: &Deadlines, viewer: &str) -> Vec<AgencyStatistics> {
    match deadlines
        .handle(MonitorRequest::Statistics {
            viewer: agency(viewer),
            from: at("2026-01-01T00:00:00+08:00"),
            to: at("2027-01-01T00:00:00+08:00"),
            agency: None,
        })
        .await
        .expect("statistics")
    {
        Reply::Statistics { agencies } => agencies,
        other => panic!("expected statistics, got {other:?}"),
    }
}

fn row<'a>(rows: &'a [AgencyStatistics], code: &str) -> Option<&'a AgencyStatistics> {
    rows.iter().find(|r| r.agency == code)
}

async fn tear_down(stack: TestStack) {
    stack
        .tear_down(&[
            events_queue(),
            QueueSpec::commands(casebridge_deadlines::SERVICE),
        ])
        .await;
}

#[tokio::test]
async fn the_year_end_sends_the_bulletin_and_the_statistics_once_across_replicas_and_restarts() {
    for backend in Backend::ALL {
        let dir = tempfile::tempdir().expect("temp dir");
        let stack = TestStack::open(backend, dir.path()).await;
        let clock = Arc::new(ManualClock::new(at("2026-11-02T10:00:00+08:00")));
        let one = service(&stack, &clock).await;
        // A first start reports no period that ended before it (2026-Q3, 2025): the service
        // kept no deadline then.
        assert_eq!(one.send_quarterly_bulletins().await.expect("Q3"), 0);
        assert_eq!(one.send_annual_statistics().await.expect("2025"), 0);
        assert!(sent(&one, "referral.deadline_bulletin").await.is_empty());

        // The fourth quarter: one transfer; the market bureau records two penalty cases over
        // a threshold (one referred later) and one under it that names a referral anyway.
        apply(&one, transfer_sent("2026-11-02T10:00:00+08:00")).await;
        let (first, second, under) = (CaseId::generate(), CaseId::generate(), CaseId::generate());
        apply(
            &one,
            recorded(first, "2026-11-03T09:00:00+08:00", true, None),
        )
        .await;
        apply(
            &one,
            recorded(second, "2026-11-04T09:00:00+08:00", true, None),
        )
        .await;
        let named = Some(CaseId::generate());
        apply(
            &one,
            recorded(under, "2026-11-05T09:00:00+08:00", false, named),
        )
        .await;
        apply(&one, referral_linked(first, "2026-12-01T09:00:00+08:00")).await;

        // 23:59 on 31 December in China: nothing new is due yet.
        clock.set(at("2026-12-31T15:59:00Z"));
        assert_eq!(one.send_quarterly_bulletins().await.expect("bulletin"), 0);
        assert_eq!(one.send_annual_statistics().await.expect("statistics"), 0);

        // 00:00 CST on 1 January 2027 (16:00 UTC on 31 December): a second replica pushes at
        // the same moment; each push goes out once.
        clock.set(at("2026-12-31T16:00:00Z"));
        let two = service(&stack, &clock).await;
        let (a, b) = tokio::join!(
            one.send_quarterly_bulletins(),
            two.send_quarterly_bulletins()
        );
        assert_eq!(a.expect("one") + b.expect("two"), SUPERVISORS);
        let (a, b) = tokio::join!(one.send_annual_statistics(), two.send_annual_statistics());
        assert_eq!(a.expect("one") + b.expect("two"), SUPERIORS);

        let bulletins: Vec<Notice> = sent(&one, "referral.deadline_bulletin")
            .await
            .into_iter()
            .filter(|n| n.detail["quarter"] == "2026-Q4")
            .collect();
        assert_eq!(bulletins.len(), SUPERVISORS, "one per supervisor");
        let to_procuratorate = bulletins
            .iter()
            .find(|n| n.recipients == [agency(PROCURATORATE)])
            .expect("the city procuratorate's bulletin");
        // The transfer's obligations, all of them transfer ones.
        let started = to_procuratorate.detail["started"].as_u64();
        assert!(
            started.is_some_and(|n| n > 0),
            "{}",
            to_procuratorate.detail
        );
        let families = &to_procuratorate.detail["families"];
        assert_eq!(families[0]["family"], "transfer");
        assert_eq!(families[0]["started"].as_u64(), started);
        assert!(
            to_procuratorate.summary.contains(&format!(
                "季通报 quarterly bulletin 2026-Q4: {} obligation(s) started",
                started.unwrap_or_default()
            )) && to_procuratorate
                .summary
                .contains("casebridge monitor report --quarter 2026-Q4"),
            "{}",
            to_procuratorate.summary
        );
        // The third quarter ended before the first start: never reported, not even at the year
        // end (a quarter with nothing in it is: see the test below).
        let before = sent(&one, "referral.deadline_bulletin")
            .await
            .into_iter()
            .filter(|n| n.detail["quarter"] == "2026-Q3")
            .count();
        assert_eq!(before, 0, "no bulletin for a quarter before the service");

        let statistics: Vec<Notice> = sent(&one, "referral.deadline_annual_statistics")
            .await
            .into_iter()
            .filter(|n| n.detail["year"] == "2026")
            .collect();
        assert_eq!(statistics.len(), SUPERIORS, "one per superior");
        let to_city = statistics
            .iter()
            .find(|n| n.recipients == [agency(CITY_GOVERNMENT)])
            .expect("the city government's notice");
        assert_eq!(to_city.detail["due_by"], "2027-01-31");
        let market = to_city.detail["agencies"]
            .as_array()
            .and_then(|rows| rows.iter().find(|r| r["agency"] == MARKET_BUREAU))
            .expect("the market bureau's row, sent to its superior");
        assert_eq!(market["penalty_over_threshold"], 2);
        assert_eq!(market["penalty_referred"], 1);
        assert_eq!(market["referral_rate"], 0.5);
        assert!(
            to_city.summary.contains("移送率 50% (1/2)"),
            "{}",
            to_city.summary
        );
        assert!(
            to_city
                .summary
                .contains("casebridge monitor report --year 2026"),
            "{}",
            to_city.summary
        );

        // A restart on 3 January (or a replica started then) sends nothing again.
        clock.set(at("2027-01-03T09:00:00+08:00"));
        let restarted = service(&stack, &clock).await;
        assert_eq!(restarted.send_quarterly_bulletins().await.expect("Q4"), 0);
        assert_eq!(restarted.send_annual_statistics().await.expect("2026"), 0);
        let claims: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM deadlines_reminders WHERE month IN ('2026-Q4', '2026')",
        )
        .fetch_one(one.db().pool())
        .await
        .expect("claims");
        assert_eq!(claims, 2);

        // 移送率 is judged at the period's end: a referral linked in January does not count for
        // 2026; the record under a threshold never counts.
        apply(
            &restarted,
            referral_linked(second, "2027-01-02T09:00:00+08:00"),
        )
        .await;
        let rows = statistics_2026(&restarted, PROCURATORATE).await;
        let market = row(&rows, MARKET_BUREAU).expect("the market bureau's row");
        assert_eq!(
            (
                market.penalty_over_threshold,
                market.penalty_referred,
                market.referral_rate
            ),
            (2, 1, Some(0.5))
        );
        let ecology = row(&rows, ECOLOGY_BUREAU).expect("the ecology bureau's row");
        assert_eq!(
            ecology.referral_rate, None,
            "no record over a threshold: no rate"
        );
        tear_down(stack).await;
    }
}

#[tokio::test]
async fn a_service_down_through_january_sends_the_year_late_but_once() {
    for backend in Backend::ALL {
        let dir = tempfile::tempdir().expect("temp dir");
        let stack = TestStack::open(backend, dir.path()).await;
        // In service since December; then down from before 1 January to 1 February.
        let clock = Arc::new(ManualClock::new(at("2026-12-10T09:00:00+08:00")));
        drop(service(&stack, &clock).await);
        clock.set(at("2027-02-01T09:00:00+08:00"));
        let deadlines = service(&stack, &clock).await;
        assert_eq!(
            deadlines.send_annual_statistics().await.expect("2026"),
            SUPERIORS,
            "after the due date: late, but sent"
        );
        assert_eq!(deadlines.send_annual_statistics().await.expect("2026"), 0);
        assert_eq!(
            deadlines.send_quarterly_bulletins().await.expect("Q4"),
            SUPERVISORS
        );
        let bulletin = sent(&deadlines, "referral.deadline_bulletin").await;
        assert!(bulletin.iter().all(|n| n.detail["quarter"] == "2026-Q4"));
        assert!(
            bulletin[0]
                .summary
                .contains("no obligation started in the quarter"),
            "{}",
            bulletin[0].summary
        );
        tear_down(stack).await;
    }
}

#[tokio::test]
async fn a_superior_reads_its_subordinates_statistics_and_no_one_else_s() {
    let dir = tempfile::tempdir().expect("temp dir");
    let stack = TestStack::open(Backend::Embedded, dir.path()).await;
    let clock = Arc::new(ManualClock::new(at("2026-11-02T10:00:00+08:00")));
    let deadlines = service(&stack, &clock).await;
    apply(&deadlines, transfer_sent("2026-11-02T10:00:00+08:00")).await;
    let over = CaseId::generate();
    apply(
        &deadlines,
        recorded(over, "2026-11-03T09:00:00+08:00", true, None),
    )
    .await;
    clock.set(at("2027-01-02T09:00:00+08:00"));

    // The city government is the market and ecology bureaus' superior, not the police's.
    let rows = statistics_2026(&deadlines, CITY_GOVERNMENT).await;
    assert!(row(&rows, MARKET_BUREAU).is_some(), "{rows:?}");
    assert!(row(&rows, ECOLOGY_BUREAU).is_some(), "{rows:?}");
    let market = row(&rows, MARKET_BUREAU).expect("market");
    assert_eq!(
        (market.penalty_over_threshold, market.referral_rate),
        (1, Some(0.0))
    );
    // The ecology bureau sees its own row only, not its sibling's.
    let own = statistics_2026(&deadlines, ECOLOGY_BUREAU).await;
    assert_eq!(
        own.iter().map(|r| r.agency.as_str()).collect::<Vec<_>>(),
        [ECOLOGY_BUREAU]
    );
    // The police, superior of nobody here, see nothing of the bureaus.
    assert!(statistics_2026(&deadlines, CITY_POLICE).await.is_empty());

    // The annual report the notice points to shows the superior the same rows.
    let report = deadlines
        .handle(MonitorRequest::Report {
            viewer: agency(CITY_GOVERNMENT),
            period: ReportPeriod::Year { year: 2026 },
            format: ReportFormat::Json,
        })
        .await
        .expect("report");
    let Reply::Report { content, .. } = report else {
        panic!("expected a report, got {report:?}");
    };
    let json: serde_json::Value = serde_json::from_slice(&content).expect("json");
    let agencies: Vec<&str> = json["statistics"]
        .as_array()
        .expect("statistics")
        .iter()
        .filter_map(|r| r["agency"].as_str())
        .collect();
    assert_eq!(agencies, [MARKET_BUREAU, ECOLOGY_BUREAU]);
    let market = &json["statistics"][0];
    assert_eq!(
        (
            market["penalty_over_threshold"].as_u64(),
            market["referral_rate"].as_f64()
        ),
        (Some(1), Some(0.0))
    );
    tear_down(stack).await;
}
