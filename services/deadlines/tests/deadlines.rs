//! The deadlines service with the referrals and inbox services, over the real bus, on SQLite +
//! the embedded bus and on PostgreSQL + RabbitMQ. Time is a [`ManualClock`]: tests move it.

use std::sync::Arc;
use std::time::Duration;

use casebridge_core::calendar::Calendar;
use casebridge_core::deadline::RuleTable;
use casebridge_core::directory::Directory;
use casebridge_core::ids::{AgencyCode, CaseId, RequestId, Sha256Digest};
use casebridge_core::notice::{Family, Notice, Role};
use casebridge_core::personal::PersonalData;
use casebridge_core::referral::{
    Document, DocumentKind, Party, ReferralCommand, ReferralPolicy, Submission,
};
use casebridge_core::time::{Clock, ManualClock, Timestamp};
use casebridge_deadlines::api::{
    ObligationQuery, Reply as MonitorReply, Request as MonitorRequest, View,
};
use casebridge_deadlines::app::{DeadlinesApp, events_queue};
use casebridge_deadlines::handler::Deadlines;
use casebridge_deadlines::store::{self, Stage};
use casebridge_inbox::app::InboxApp;
use casebridge_platform::bus::{Bus, Message, QueueSpec};
use casebridge_platform::testing::{Backend, TestStack, eventually};
use tokio_util::sync::CancellationToken;

const DIRECTORY: &str = include_str!("../../../deploy/directory.toml");
const RULES: &str = include_str!("../../../deploy/rules.toml");
const Y2026: &str = include_str!("../../../deploy/calendars/2026.toml");

const MARKET_BUREAU: &str = "11350100MB0100002P";
const ECOLOGY_BUREAU: &str = "11350100MB0100003T";
const CITY_POLICE: &str = "11350100MB01000064";
const PROCURATORATE: &str = "11350100MB0100008A";
const JUSTICE_BUREAU: &str = "11350100MB0100009D";

const WITHIN: Duration = Duration::from_secs(15);

fn agency(code: &str) -> AgencyCode {
    AgencyCode::parse(code).expect("example agency code")
}

fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).expect("time")
}

/// Referrals, inbox and deadlines on one backend, sharing one clock.
struct Running {
    stack: TestStack,
    clock: Arc<ManualClock>,
    deadlines: Deadlines,
    token: CancellationToken,
    services: Vec<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

async fn start(backend: Backend, now: &str) -> Running {
    let dir = tempfile::tempdir().expect("temp dir");
    let stack = TestStack::open(backend, dir.path()).await;
    let clock = Arc::new(ManualClock::new(at(now)));
    let shared: Arc<dyn Clock> = clock.clone();
    let directory = Arc::new(Directory::from_toml_str(DIRECTORY).expect("directory"));
    let rules = Arc::new(RuleTable::from_toml_str(RULES).expect("rules"));
    let calendar = Arc::new(Calendar::from_toml_files([("2026.toml", Y2026)]).expect("calendar"));
    let token = CancellationToken::new();
    let mut services = Vec::new();

    let deadlines = DeadlinesApp::build(
        stack.db.clone(),
        stack.bus.clone(),
        directory.clone(),
        rules,
        calendar,
        shared.clone(),
    )
    .await
    .expect("deadlines service");
    let handle = deadlines.deadlines().clone();
    let stop = token.clone();
    services.push(tokio::spawn(async move {
        deadlines
            .run_until_stopped(stop)
            .await
            .expect("deadlines ran");
    }));
    let inbox = InboxApp::build(stack.db.clone(), stack.bus.clone(), shared.clone())
        .await
        .expect("inbox service");
    let stop = token.clone();
    services.push(tokio::spawn(async move {
        inbox.run_until_stopped(stop).await.expect("inbox ran");
    }));
    let referrals = casebridge_referrals::app::build(
        casebridge_platform::testing::host(
            stack.db.clone(),
            stack.bus.clone(),
            shared,
            casebridge_platform::testing::signer(),
        ),
        directory,
        Arc::new(casebridge_core::law::Law::shipped().expect("shipped law")),
        ReferralPolicy::default(),
    )
    .await
    .expect("referrals service");
    let stop = token.clone();
    services.push(tokio::spawn(async move {
        referrals
            .run_until_stopped(stop)
            .await
            .expect("referrals ran");
    }));
    Running {
        stack,
        clock,
        deadlines: handle,
        token,
        services,
        _dir: dir,
    }
}

impl Running {
    async fn stop(self) {
        self.token.cancel();
        for service in self.services {
            let _ = service.await;
        }
        self.stack
            .tear_down(&[
                events_queue(),
                casebridge_inbox::app::events_queue(),
                QueueSpec::commands("inbox"),
                QueueSpec::commands("referrals"),
            ])
            .await;
    }

    fn bus(&self) -> &Bus {
        &self.stack.bus
    }

    async fn step(&self, actor: &str, request_id: &str, case_id: CaseId, command: ReferralCommand) {
        let request = casebridge_referrals::api::Request::Command(
            casebridge_referrals::api::CommandRequest {
                actor: agency(actor),
                request_id: RequestId::parse(request_id).expect("request id"),
                content_digest: Sha256Digest::of(request_id.as_bytes()),
                case_id,
                command,
            },
        );
        let reply: casebridge_referrals::api::Reply = self
            .bus()
            .request(
                "referrals",
                Message::json("referral", &request).expect("encode"),
                WITHIN,
            )
            .await
            .expect("a reply")
            .decode()
            .expect("decode");
        assert!(
            matches!(reply, casebridge_referrals::api::Reply::Accepted(_)),
            "{request_id}: {reply:?}"
        );
    }

    /// The events in `owner`'s inbox about `case_id`.
    async fn inbox(&self, owner: &str, case_id: CaseId) -> Vec<(String, String)> {
        let request = casebridge_inbox::api::Request::List {
            agency: agency(owner),
            after: Some(0),
            limit: 500,
        };
        let reply: casebridge_inbox::api::Reply = self
            .bus()
            .request(
                "inbox",
                Message::json("inbox", &request).expect("encode"),
                WITHIN,
            )
            .await
            .expect("a reply")
            .decode()
            .expect("decode");
        match reply {
            casebridge_inbox::api::Reply::Entries { entries, .. } => entries
                .into_iter()
                .filter(|e| e.case_id == case_id)
                .map(|e| (e.event, e.summary))
                .collect(),
            other => panic!("expected entries, got {other:?}"),
        }
    }

    async fn wait_for_event(&self, owner: &str, case_id: CaseId, event: &str) -> String {
        eventually(&format!("{event} in {owner}'s inbox"), WITHIN, || async {
            self.inbox(owner, case_id)
                .await
                .into_iter()
                .find(|(e, _)| e == event)
                .map(|(_, summary)| summary)
        })
        .await
    }

    /// The case's obligation under `rule`, once the deadlines service has it in `stage`.
    async fn obligation(&self, case_id: CaseId, rule: &str, stage: Stage) -> store::ObligationRow {
        eventually(&format!("{rule} {stage:?}"), WITHIN, || async {
            let mut conn = self.deadlines.db().pool().acquire().await.ok()?;
            store::for_case(&mut conn, case_id)
                .await
                .ok()?
                .into_iter()
                .find(|o| o.rule == rule && o.stage == stage)
        })
        .await
    }
}

fn submission(case_id: CaseId) -> ReferralCommand {
    let document = |kind, title: &str| Document {
        kind,
        title: title.into(),
        sha256: None,
    };
    ReferralCommand::Submit(Submission {
        case_id,
        police: agency(CITY_POLICE),
        suspected_offence: "生产、销售伪劣产品罪".into(),
        summary: "Counterfeit goods.".into(),
        report_received_at: at("2026-02-12T09:00:00+08:00"),
        approved_at: at("2026-02-13T09:00:00+08:00"),
        items_tested: false,
        penalty_imposed: false,
        documents: vec![
            document(DocumentKind::ReferralLetter, "涉嫌犯罪案件移送书"),
            document(DocumentKind::InvestigationReport, "调查报告"),
            document(DocumentKind::SeizedItemsList, "涉案物品清单"),
        ],
        parties: vec![Party {
            name: PersonalData::new("张三"),
            id_number: None,
        }],
        case_officer: "李四".into(),
        case_officer_phone: PersonalData::new("13800000000"),
    })
}

async fn on_each_backend<F, Fut>(test: F)
where
    F: Fn(Backend) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for backend in Backend::ALL {
        test(backend).await;
    }
}

#[tokio::test]
async fn a_missed_referral_deadline_reaches_the_copied_procuratorate() {
    on_each_backend(|backend| async move {
        // Friday before the Spring Festival block.
        let running = start(backend, "2026-02-13T10:00:00+08:00").await;
        let case_id = CaseId::generate();
        running
            .step(MARKET_BUREAU, "submit", case_id, submission(case_id))
            .await;

        // RCPT: one working day, and the next working day is the make-up Saturday 02-14.
        let receipt = running.obligation(case_id, "RCPT", Stage::Open).await;
        assert_eq!(receipt.owed_by, agency(CITY_POLICE));
        assert_eq!(receipt.supervisor, Some(agency(PROCURATORATE)));
        assert_eq!(receipt.due_at, Some(at("2026-02-15T00:00:00+08:00")));
        assert!(
            receipt
                .explanation
                .contains("make-up working days counted: 2026-02-14")
        );

        // Past the due time: a miss to the police, an escalation to the procuratorate.
        running.clock.set(at("2026-02-15T08:00:00+08:00"));
        running.obligation(case_id, "RCPT", Stage::Missed).await;
        let missed = running
            .wait_for_event(CITY_POLICE, case_id, "deadline_missed")
            .await;
        assert!(missed.contains("RCPT"), "{missed}");
        let escalated = running
            .wait_for_event(PROCURATORATE, case_id, "deadline_escalated")
            .await;
        assert!(escalated.contains("escalated"), "{escalated}");
        assert!(
            running
                .inbox(MARKET_BUREAU, case_id)
                .await
                .iter()
                .all(|(e, _)| !e.starts_with("deadline_")),
            "the sender owes nothing and hears of no deadline"
        );

        // A late receipt is accepted and recorded late; S1-8 opens over the holiday block.
        running.clock.set(at("2026-02-16T09:00:00+08:00"));
        running
            .step(
                CITY_POLICE,
                "receipt",
                case_id,
                ReferralCommand::SignReceipt,
            )
            .await;
        let closed = running.obligation(case_id, "RCPT", Stage::Closed).await;
        assert!(closed.late);
        let decide = running.obligation(case_id, "S1-8", Stage::Open).await;
        assert_eq!(
            decide.due_at,
            Some(at("2026-02-25T00:00:00+08:00")),
            "{}",
            decide.explanation
        );
        assert!(
            decide.explanation.contains("春节"),
            "{}",
            decide.explanation
        );

        // With no working day left before the due date, the warning comes at once.
        running
            .wait_for_event(CITY_POLICE, case_id, "deadline_warning")
            .await;
        running.obligation(case_id, "S1-8", Stage::Warned).await;

        // Filed on time: closed, not late, nothing escalated for S1-8.
        running.clock.set(at("2026-02-24T16:00:00+08:00"));
        running
            .step(
                CITY_POLICE,
                "file",
                case_id,
                ReferralCommand::File {
                    note: String::new(),
                },
            )
            .await;
        let filed = running.obligation(case_id, "S1-8", Stage::Closed).await;
        assert!(!filed.late);
        // S1-12 now runs against the agency.
        let items = running.obligation(case_id, "S1-12", Stage::Open).await;
        assert_eq!(items.owed_by, agency(MARKET_BUREAU));
        let escalations = running
            .inbox(PROCURATORATE, case_id)
            .await
            .into_iter()
            .filter(|(e, _)| e == "deadline_escalated")
            .count();
        assert_eq!(escalations, 1, "only the missed receipt was escalated");

        // The monitor, as the procuratorate supervising the referral, at moments in the past.
        let listed = |view, as_of: &str| {
            let deadlines = running.deadlines.clone();
            let as_of = at(as_of);
            async move {
                let query = ObligationQuery {
                    view,
                    as_of,
                    due_within_ms: 10 * 86_400_000,
                    agency: None,
                    family: Some(Family::Referral),
                    rule: None,
                    region: None,
                    case_id: Some(case_id),
                    limit: 50,
                    after: None,
                };
                let request = MonitorRequest::Obligations {
                    viewer: agency(PROCURATORATE),
                    query,
                };
                match deadlines.handle(request).await.expect("query") {
                    MonitorReply::Obligations { obligations, .. } => obligations
                        .into_iter()
                        .map(|l| l.obligation.rule)
                        .collect::<Vec<_>>(),
                    other => panic!("expected obligations, got {other:?}"),
                }
            }
        };
        assert_eq!(
            listed(View::Overdue, "2026-02-15T08:00:00+08:00").await,
            ["RCPT"]
        );
        assert!(
            listed(View::Overdue, "2026-02-16T10:00:00+08:00")
                .await
                .is_empty()
        );
        assert_eq!(
            listed(View::DueSoon, "2026-02-16T10:00:00+08:00").await,
            ["S1-8"]
        );
        assert_eq!(
            listed(View::All, "2026-02-25T00:00:00+08:00").await.len(),
            3
        );

        let statistics = running
            .deadlines
            .handle(MonitorRequest::Statistics {
                viewer: agency(PROCURATORATE),
                from: at("2026-02-01T00:00:00+08:00"),
                to: at("2026-03-01T00:00:00+08:00"),
                agency: None,
            })
            .await
            .expect("statistics");
        let MonitorReply::Statistics { agencies } = statistics else {
            panic!("expected statistics, got {statistics:?}");
        };
        let police = agencies
            .iter()
            .find(|s| s.agency == CITY_POLICE)
            .expect("police");
        assert_eq!(
            (
                police.received,
                police.answered_on_time,
                police.answered_late,
                police.still_open
            ),
            (2, 1, 1, 0)
        );
        assert_eq!((police.filing_decisions, police.filed), (1, 1));
        assert!((police.filing_rate - 1.0).abs() < f64::EPSILON);
        let market = agencies
            .iter()
            .find(|s| s.agency == MARKET_BUREAU)
            .expect("market");
        assert_eq!((market.sent, market.received, market.still_open), (2, 1, 1));
        assert_eq!(
            market.overdue, 1,
            "S1-12 (due 02-27) is overdue by the end of February"
        );
        running.stop().await;
    })
    .await;
}

fn transfer_sent(case_id: CaseId, urgent: bool) -> Notice {
    Notice {
        case_id,
        family: Family::Transfer,
        event: "sent".into(),
        actor: agency(MARKET_BUREAU),
        at: at("2026-09-30T15:00:00+08:00"),
        recipients: vec![agency(ECOLOGY_BUREAU)],
        summary: "transfer".into(),
        detail: serde_json::json!({ "urgent": urgent }),
        parties: [
            (Role::Sender, agency(MARKET_BUREAU)),
            (Role::Recipient, agency(ECOLOGY_BUREAU)),
        ]
        .into(),
        attachments: Vec::new(),
    }
}

#[tokio::test]
async fn other_families_escalate_to_the_coordination_office_by_the_rule_table() {
    on_each_backend(|backend| async move {
        let running = start(backend, "2026-09-30T15:00:00+08:00").await;
        let plain = CaseId::generate();
        let urgent = CaseId::generate();
        for (case_id, is_urgent) in [(plain, false), (urgent, true)] {
            let notice = transfer_sent(case_id, is_urgent);
            let message = Message::json(notice.routing_key(), &notice).expect("encode");
            running
                .bus()
                .publish_event(&message)
                .await
                .expect("publish");
        }
        // The urgent transfer must be acted on within 2 hours; the plain one within a working
        // day, which the National Day block puts on 10-08.
        let fast = running.obligation(urgent, "RCPT-FU", Stage::Open).await;
        assert_eq!(fast.due_at, Some(at("2026-09-30T17:00:00+08:00")));
        let slow = running.obligation(plain, "RCPT-F", Stage::Open).await;
        assert_eq!(slow.due_at, Some(at("2026-10-09T00:00:00+08:00")));
        assert_eq!(slow.supervisor, Some(agency(JUSTICE_BUREAU)));

        running.clock.set(at("2026-09-30T17:30:00+08:00"));
        running
            .wait_for_event(JUSTICE_BUREAU, urgent, "deadline_escalated")
            .await;
        running.obligation(plain, "RCPT-F", Stage::Open).await;
        assert!(running.inbox(JUSTICE_BUREAU, plain).await.is_empty());
        running.stop().await;
    })
    .await;
}

#[tokio::test]
async fn replicas_share_the_due_obligations_without_firing_one_twice() {
    let dir = tempfile::tempdir().expect("temp dir");
    let stack = TestStack::open(Backend::Distributed, dir.path()).await;
    let clock = Arc::new(ManualClock::new(at("2026-09-30T15:00:00+08:00")));
    let directory = Arc::new(Directory::from_toml_str(DIRECTORY).expect("directory"));
    let rules = Arc::new(RuleTable::from_toml_str(RULES).expect("rules"));
    let calendar = Arc::new(Calendar::from_toml_files([("2026.toml", Y2026)]).expect("calendar"));
    let app = DeadlinesApp::build(
        stack.db.clone(),
        stack.bus.clone(),
        directory,
        rules,
        calendar,
        clock.clone(),
    )
    .await
    .expect("deadlines service");
    let one = app.deadlines().clone();
    const COUNT: usize = 1200;
    for _ in 0..COUNT {
        let notice = transfer_sent(CaseId::generate(), true);
        let message = Message::json(notice.routing_key(), &notice).expect("encode");
        one.on_event(&message, &notice).await.expect("opened");
    }
    // Three replicas fire the same due set at once.
    clock.set(at("2026-09-30T18:00:00+08:00"));
    let fired = futures_util::future::join_all((0..3).map(|_| {
        let replica = one.clone();
        async move {
            let mut total = 0;
            loop {
                let n = replica.fire_due().await.expect("timer pass");
                if n == 0 {
                    return total;
                }
                total += n;
            }
        }
    }))
    .await;
    assert_eq!(
        fired.iter().sum::<usize>(),
        COUNT,
        "each obligation fired once: {fired:?}"
    );
    let outbox: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM deadlines_outbox")
        .fetch_one(stack.db.pool())
        .await
        .expect("count outbox");
    // A miss to the receiver and an escalation to the coordination office for each.
    assert_eq!(outbox, 2 * COUNT as i64);
    stack.tear_down(&[events_queue()]).await;
}
