//! Re-screening at start-up, as the penalties service does it: many records across several
//! batches, each outcome on the records, a pass cut off before the end done again without a
//! second step, and a start with the same table doing nothing; on SQLite + the embedded bus and
//! on PostgreSQL + RabbitMQ.

use std::sync::Arc;

use casebridge_core::case::Case;
use casebridge_core::directory::Directory;
use casebridge_core::document::Party;
use casebridge_core::ids::{AgencyCode, CaseId, RequestId, Sha256Digest};
use casebridge_core::screening::file::{PenaltyCommand, PenaltyFile};
use casebridge_core::screening::{
    Amount, Measures, PenaltyCase, PenaltyDecision, SHIPPED_THRESHOLDS, ThresholdTable,
    ViolationType,
};
use casebridge_core::time::{Clock, ManualClock, Timestamp};
use casebridge_penalties::api::{CommandRequest, Reply, Request};
use casebridge_penalties::handler::Penalties;
use casebridge_penalties::rescreen::{self, BATCH};
use casebridge_platform::bus::QueueSpec;
use casebridge_platform::cases::{CaseApp, CaseStep};
use casebridge_platform::testing::{Backend, TestStack};

const EXAMPLE_DIRECTORY: &str = include_str!("../../../deploy/directory.toml");
const MARKET_BUREAU: &str = "11350100MB0100002P";
/// Monday 2026-12-07, 10:00 CST.
const RECORDED: &str = "2026-12-07T10:00:00+08:00";
/// Two days later, when the service starts again with another table.
const RESTARTED: &str = "2026-12-09T10:00:00+08:00";

fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).expect("time")
}

/// The shipped table with CL-140 (伪劣产品, sales amount) at `yuan`.
fn table_at(yuan: &str) -> Arc<ThresholdTable> {
    let text = SHIPPED_THRESHOLDS.replacen(
        "threshold = \"50000\"\n",
        &format!("threshold = \"{yuan}\"\n"),
        1,
    );
    Arc::new(ThresholdTable::from_toml_str(&text).expect("threshold table"))
}

/// The penalties service on `stack` under `table`, built (which re-screens if the table
/// changed), with the clock at `now`.
async fn build(stack: &TestStack, table: Arc<ThresholdTable>, now: &str) -> CaseApp<Penalties> {
    let directory = Arc::new(Directory::from_toml_str(EXAMPLE_DIRECTORY).expect("directory"));
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(at(now)));
    casebridge_penalties::app::build(
        casebridge_platform::testing::host(
            stack.db.clone(),
            stack.bus.clone(),
            clock,
            casebridge_platform::testing::signer(),
        ),
        directory,
        Arc::new(casebridge_core::law::Law::shipped().expect("shipped law")),
        table,
        None,
    )
    .await
    .expect("penalties service")
}

fn case(n: usize, sales_yuan: i64) -> PenaltyCase {
    PenaltyCase {
        case_number: format!("榕市监处〔2026〕{n}号"),
        violation: ViolationType::parse("fake_or_substandard_product").expect("violation"),
        legal_basis: "《中华人民共和国产品质量法》第五十条".into(),
        parties: vec![Party {
            name: "福州某贸易有限公司".into(),
            id_number: None,
        }],
        measures: Measures {
            sales_amount: Amount::from_yuan(sales_yuan),
            ..Measures::default()
        },
        decision: PenaltyDecision {
            number: format!("榕市监罚〔2026〕{n}号"),
            decided_on: chrono::NaiveDate::from_ymd_opt(2026, 12, 1).expect("date"),
            penalty: "罚款".into(),
            fine: None,
        },
        evidence: Vec::new(),
    }
}

fn record_request(n: usize, sales_yuan: i64) -> Request {
    let case_id = CaseId::generate();
    let id = format!("rec-{n}");
    Request::Command(CommandRequest {
        actor: AgencyCode::parse(MARKET_BUREAU).expect("agency"),
        content_digest: Sha256Digest::of(id.as_bytes()),
        step: CaseStep {
            request_id: RequestId::parse(&id).expect("request id"),
            case_id,
            command: PenaltyCommand::Record {
                case_id,
                case: case(n, sales_yuan),
                referral: None,
            },
        },
    })
}

async fn file(app: &CaseApp<Penalties>, id: CaseId) -> PenaltyFile {
    let reply = app
        .service()
        .handle(Request::Get {
            actor: AgencyCode::parse(MARKET_BUREAU).expect("agency"),
            case_id: id,
        })
        .await
        .expect("read");
    match reply {
        Reply::Found { case } => case,
        other => panic!("expected the record, got {other:?}"),
    }
}

fn steps(f: &PenaltyFile) -> Vec<String> {
    f.timeline().into_iter().map(|e| e.step).collect()
}

/// The sales of record `n`: 40,000 (under 50,000, over 30,000), 60,000 (over both) and 10,000
/// (under both), in turn.
fn sales(n: usize) -> i64 {
    [40_000, 60_000, 10_000][n % 3]
}

async fn rescreens_across_batches_once(backend: Backend) {
    let dir = tempfile::tempdir().expect("temp dir");
    let stack = TestStack::open(backend, dir.path()).await;
    let total = 2 * BATCH + 50;

    // Recorded under the 50,000 table.
    let app = build(&stack, table_at("50000"), RECORDED).await;
    let mut ids = Vec::with_capacity(total);
    for chunk in (0..total).collect::<Vec<_>>().chunks(50) {
        let requests = chunk
            .iter()
            .map(|n| record_request(*n, sales(*n)))
            .collect();
        for reply in app
            .service()
            .handle_batch(requests)
            .await
            .expect("recorded")
        {
            let Reply::Accepted(accepted) = reply else {
                panic!("refused: {reply:?}");
            };
            ids.push(accepted.case.record.id);
        }
    }
    let before: Vec<PenaltyFile> = {
        let mut files = Vec::new();
        for id in &ids {
            files.push(file(&app, *id).await);
        }
        files
    };
    assert_eq!(before[0].status_name(), "recorded");
    assert_eq!(before[1].status_name(), "agency_warned");
    drop(app);

    // A start with the threshold at 30,000 re-screens every open record.
    let lower = table_at("30000");
    let app = build(&stack, lower.clone(), RESTARTED).await;
    for (n, id) in ids.iter().enumerate() {
        let after = file(&app, *id).await;
        let was = &before[n];
        match sales(n) {
            40_000 => {
                assert_eq!(after.status_name(), "agency_warned", "record {n}");
                assert_eq!(steps(&after), ["record", "rescreen", "open"]);
                assert_eq!(after.warning().expect("warning").opened_at, at(RESTARTED));
            }
            60_000 => {
                // Met before, with another threshold: the hits change, the warning stays.
                assert_eq!(steps(&after), ["record", "open", "rescreen"]);
                assert_eq!(after.warnings, was.warnings);
                assert_ne!(after.hits, was.hits);
            }
            _ => assert_eq!(after, *was, "record {n} met nothing and still does"),
        }
        if sales(n) != 10_000 {
            let stamp = after.screened_under(1).expect("stamped");
            assert_eq!(&stamp.table, lower.stamp());
            assert_eq!(stamp.at, at(RESTARTED));
        }
    }
    let rescreened: Vec<PenaltyFile> = {
        let mut files = Vec::new();
        for id in &ids {
            files.push(file(&app, *id).await);
        }
        files
    };

    // A pass cut off before it kept the table is done again: every record it moved finds
    // its hits unchanged, so nothing takes a second step.
    sqlx::query("DELETE FROM penalties_screened_under")
        .execute(stack.db.pool())
        .await
        .expect("forget the kept table");
    let clock = ManualClock::new(at(RESTARTED));
    let again = rescreen::rescreen_changed_table(app.service(), &clock)
        .await
        .expect("re-screened");
    assert!(again.changed);
    assert_eq!(
        (again.checked, again.warned, again.updated, again.cleared),
        (total, 0, 0, 0),
        "{again:?}"
    );
    // And a start with the same table does nothing at all.
    let same = rescreen::rescreen_changed_table(app.service(), &clock)
        .await
        .expect("nothing to do");
    assert_eq!(same, rescreen::Rescreened::default());
    for (n, id) in ids.iter().enumerate() {
        assert_eq!(file(&app, *id).await, rescreened[n], "record {n}");
    }
    drop(app);

    // Back above every figure: the warnings only the agency has are withdrawn.
    let app = build(&stack, table_at("70000"), "2026-12-10T10:00:00+08:00").await;
    for (n, id) in ids.iter().enumerate().filter(|(n, _)| sales(*n) != 10_000) {
        let after = file(&app, *id).await;
        assert!(after.hits.is_empty(), "record {n}");
        assert_eq!(after.status_name(), "warning_cleared", "record {n}");
    }
    drop(app);
    stack
        .tear_down(&[
            QueueSpec::commands("penalties"),
            QueueSpec::events("penalties", &[]),
        ])
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_open_records_are_rescreened_once_per_table_across_batches() {
    rescreens_across_batches_once(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed_open_records_are_rescreened_once_per_table_across_batches() {
    rescreens_across_batches_once(Backend::Distributed).await;
}
