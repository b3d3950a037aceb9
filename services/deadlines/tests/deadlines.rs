//! The deadlines service with the referrals and inbox services, over the real bus, on SQLite +
//! the embedded bus and on PostgreSQL + RabbitMQ. Time is a [`ManualClock`]: tests move it.

use std::sync::Arc;
use std::time::Duration;

use casebridge_core::calendar::Calendar;
use casebridge_core::deadline::ExtensionTarget;
use casebridge_core::deadline::RuleTable;
use casebridge_core::directory::Directory;
use casebridge_core::ids::{AgencyCode, CaseId, RequestId, Sha256Digest};
use casebridge_core::notice::{Family, Notice, Role};
use casebridge_core::personal::PersonalData;
use casebridge_core::referral::{
    Document, DocumentKind, NonReferral, Party, ReferralCommand, ReferralPolicy, Submission,
};
use casebridge_core::refusal::RefusalKind;
use casebridge_core::time::{Clock, ManualClock, Timestamp};
use casebridge_deadlines::api::{
    ExtendRequest, Listed, ObligationQuery, Reply as MonitorReply, ReportFormat, ReportPeriod,
    Request as MonitorRequest, View,
};
use casebridge_deadlines::app::{DeadlinesApp, events_queue};
use casebridge_deadlines::handler::Deadlines;
use casebridge_deadlines::store::{self, Stage};
use casebridge_inbox::app::InboxApp;
use casebridge_platform::bus::{Bus, Message, QueueSpec};
use casebridge_platform::ledger::Verifier;
use casebridge_platform::testing::{self, Backend, TestStack, eventually};
use tokio_util::sync::CancellationToken;

const DIRECTORY: &str = include_str!("../../../deploy/directory.toml");
const RULES: &str = include_str!("../../../deploy/rules.toml");
const Y2026: &str = include_str!("../../../deploy/calendars/2026.toml");

const MARKET_BUREAU: &str = "11350100MB0100002P";
const ECOLOGY_BUREAU: &str = "11350100MB0100003T";
const CITY_POLICE: &str = "11350100MB01000064";
const PROCURATORATE: &str = "11350100MB0100008A";
const JUSTICE_BUREAU: &str = "11350100MB0100009D";
const CITY_GOVERNMENT: &str = "11350100MB0100001L";
const PROVINCE_GOVERNMENT: &str = "11350000MB0000001W";
const PROVINCE_PROCURATORATE: &str = "11350000MB00000033";
const TESTING_INSTITUTE: &str = "12350100MB0100010F";

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
    /// Checks the deadlines chain and receipts: the public half of the services' key.
    verifier: Verifier,
    token: CancellationToken,
    /// Stops the deadlines service alone (the first of `services`), for a restart.
    deadlines_stop: CancellationToken,
    /// What the deadlines service is built from, for a restart.
    directory: Arc<Directory>,
    calendar: Arc<Calendar>,
    signer: casebridge_platform::ledger::Signer,
    services: Vec<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

async fn start(backend: Backend, now: &str) -> Running {
    start_with(backend, now, &[("2026.toml", Y2026)]).await
}

/// The services with the legal calendar of `calendars` only.
async fn start_with(backend: Backend, now: &str, calendars: &[(&str, &str)]) -> Running {
    start_supervised(backend, now, calendars, DIRECTORY, None).await
}

/// The services over the agency directory `directory`, with the fallback supervisor `fallback`.
async fn start_supervised(
    backend: Backend,
    now: &str,
    calendars: &[(&str, &str)],
    directory: &str,
    fallback: Option<&str>,
) -> Running {
    start_full(backend, now, calendars, directory, fallback, RULES).await
}

/// The services with the deadline rule table `rules`.
async fn start_full(
    backend: Backend,
    now: &str,
    calendars: &[(&str, &str)],
    directory: &str,
    fallback: Option<&str>,
    rules: &str,
) -> Running {
    let dir = tempfile::tempdir().expect("temp dir");
    let stack = TestStack::open(backend, dir.path()).await;
    let clock = Arc::new(ManualClock::new(at(now)));
    let shared: Arc<dyn Clock> = clock.clone();
    let directory = Arc::new(Directory::from_toml_str(directory).expect("directory"));
    let rules = Arc::new(RuleTable::from_toml_str(rules).expect("rules"));
    let calendar =
        Arc::new(Calendar::from_toml_files(calendars.iter().copied()).expect("calendar"));
    let token = CancellationToken::new();
    let mut services = Vec::new();
    let signer = testing::signer();
    let verifier = Verifier::from_hex(&signer.public_key_hex()).expect("public key");

    let deadlines = DeadlinesApp::build(
        testing::host(
            stack.db.clone(),
            stack.bus.clone(),
            shared.clone(),
            signer.clone(),
        ),
        directory.clone(),
        rules,
        calendar.clone(),
    )
    .await
    .expect("deadlines service")
    .with_fallback_supervisor(fallback.map(agency));
    let handle = deadlines.deadlines().clone();
    let deadlines_stop = token.child_token();
    let stop = deadlines_stop.clone();
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
        directory.clone(),
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
        verifier,
        token,
        deadlines_stop,
        directory,
        calendar,
        signer,
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
                QueueSpec::commands(casebridge_deadlines::SERVICE),
                casebridge_inbox::app::events_queue(),
                QueueSpec::commands("inbox"),
                QueueSpec::commands("referrals"),
                QueueSpec::events("referrals", &[]),
            ])
            .await;
    }

    fn bus(&self) -> &Bus {
        &self.stack.bus
    }

    /// Stops the deadlines service and starts it again on the same database and bus with the
    /// rule table `rules` (a new version, or an operator's edited table): the other services
    /// run on.
    async fn restart_deadlines(&mut self, rules: &str) {
        self.stop_deadlines().await;
        let app = self.build_deadlines(rules).await;
        self.run_deadlines(app);
    }

    /// Stops the deadlines service alone.
    async fn stop_deadlines(&mut self) {
        self.deadlines_stop.cancel();
        let stopped = std::mem::replace(&mut self.services[0], tokio::spawn(async {}));
        stopped.await.expect("the deadlines service stopped");
    }

    /// A deadlines service (migrated and recounted, not yet running) on the same database and
    /// bus, with the rule table `rules`.
    async fn build_deadlines(&self, rules: &str) -> DeadlinesApp {
        DeadlinesApp::build(
            testing::host(
                self.stack.db.clone(),
                self.stack.bus.clone(),
                self.clock.clone(),
                self.signer.clone(),
            ),
            self.directory.clone(),
            Arc::new(RuleTable::from_toml_str(rules).expect("rules")),
            self.calendar.clone(),
        )
        .await
        .expect("the deadlines service built")
    }

    /// Runs `app` as the deadlines service.
    fn run_deadlines(&mut self, app: DeadlinesApp) {
        self.deadlines = app.deadlines().clone();
        self.deadlines_stop = self.token.child_token();
        let stop = self.deadlines_stop.clone();
        self.services[0] = tokio::spawn(async move {
            app.run_until_stopped(stop).await.expect("deadlines ran");
        });
    }

    async fn step(&self, actor: &str, request_id: &str, case_id: CaseId, command: ReferralCommand) {
        let reply = self.try_step(actor, request_id, case_id, command).await;
        assert!(
            matches!(reply, casebridge_referrals::api::Reply::Accepted(_)),
            "{request_id}: {reply:?}"
        );
    }

    /// A referral step, accepted or not.
    async fn try_step(
        &self,
        actor: &str,
        request_id: &str,
        case_id: CaseId,
        command: ReferralCommand,
    ) -> casebridge_referrals::api::Reply {
        let request = casebridge_referrals::api::Request::Command(
            casebridge_referrals::api::CommandRequest {
                actor: agency(actor),
                content_digest: Sha256Digest::of(request_id.as_bytes()),
                step: casebridge_platform::cases::CaseStep {
                    request_id: RequestId::parse(request_id).expect("request id"),
                    case_id,
                    command,
                },
            },
        );
        self.bus()
            .request(
                "referrals",
                Message::json("referral", &request).expect("encode"),
                WITHIN,
            )
            .await
            .expect("a reply")
            .decode()
            .expect("decode")
    }

    /// The referral as `actor` reads it once `check` holds.
    async fn referral_where(
        &self,
        actor: &str,
        case_id: CaseId,
        what: &str,
        check: impl Fn(&casebridge_core::referral::Referral) -> bool,
    ) -> casebridge_core::referral::Referral {
        eventually(what, WITHIN, || async {
            let request = casebridge_referrals::api::Request::Get {
                actor: agency(actor),
                case_id,
            };
            let reply: casebridge_referrals::api::Reply = self
                .bus()
                .request(
                    "referrals",
                    Message::json("referral", &request).ok()?,
                    WITHIN,
                )
                .await
                .ok()?
                .decode()
                .ok()?;
            match reply {
                casebridge_referrals::api::Reply::Found { case } if check(&case) => Some(case),
                _ => None,
            }
        })
        .await
    }

    /// The events in `owner`'s inbox about `case_id` (any case for `None`).
    async fn inbox(
        &self,
        owner: &str,
        case_id: impl Into<Option<CaseId>>,
    ) -> Vec<(String, String)> {
        let case_id = case_id.into();
        let request = casebridge_inbox::api::Request::List {
            agency: agency(owner),
            after: Some(0),
            limit: 500,
        };
        let reply = match self
            .bus()
            .request(
                "inbox",
                Message::json("inbox", &request).expect("encode"),
                WITHIN,
            )
            .await
        {
            Ok(reply) => reply,
            // The inbox service declares its request queue as it starts; under load a first
            // read can come before it (seen once in the full suite): nothing to read yet, and
            // the callers' `eventually` asks again.
            Err(casebridge_platform::bus::BusError::Unroutable(_)) => return Vec::new(),
            Err(e) => panic!("a reply: {e:?}"),
        };
        let reply: casebridge_inbox::api::Reply = reply.decode().expect("decode");
        match reply {
            casebridge_inbox::api::Reply::Entries { entries, .. } => entries
                .into_iter()
                .filter(|e| case_id.is_none_or(|c| e.case_id == c))
                .map(|e| (e.event, e.summary))
                .collect(),
            other => panic!("expected entries, got {other:?}"),
        }
    }

    async fn wait_for_event(
        &self,
        owner: &str,
        case_id: impl Into<Option<CaseId>> + Copy,
        event: &str,
    ) -> String {
        self.wait_for_event_about(owner, case_id, event, "").await
    }

    /// [`Running::wait_for_event`] for an event whose summary mentions `about` (a rule id, when
    /// one case has several obligations that may each produce the event, in any order).
    async fn wait_for_event_about(
        &self,
        owner: &str,
        case_id: impl Into<Option<CaseId>> + Copy,
        event: &str,
        about: &str,
    ) -> String {
        eventually(
            &format!("{event} about {about:?} in {owner}'s inbox"),
            WITHIN,
            || async {
                self.inbox(owner, case_id)
                    .await
                    .into_iter()
                    .find(|(e, summary)| e == event && summary.contains(about))
                    .map(|(_, summary)| summary)
            },
        )
        .await
    }

    /// The events the deadlines chain records about `case_id`, once the whole chain verifies.
    async fn chain_events(&self, case_id: CaseId) -> Vec<String> {
        let chain = self.deadlines.chain();
        let verified = chain
            .verify(self.deadlines.db(), &self.verifier)
            .await
            .expect("the deadlines chain verifies");
        assert!(verified.records > 0);
        chain
            .of_case(self.deadlines.db(), case_id)
            .await
            .expect("records")
            .into_iter()
            .map(|(stored, _)| stored.entry.event)
            .collect()
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
        let explained = running.deadlines.explanation(&receipt).join("\n");
        assert!(
            explained.contains("make-up working days counted: 2026-02-14"),
            "{explained}"
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
        // Both are on the deadlines chain of the full-process record, which verifies.
        assert_eq!(
            running.chain_events(case_id).await,
            ["referral.deadline_missed", "referral.deadline_escalated"]
        );
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
        let explained = running.deadlines.explanation(&decide).join("\n");
        assert_eq!(
            decide.due_at,
            Some(at("2026-02-25T00:00:00+08:00")),
            "{explained}"
        );
        assert!(explained.contains("春节"), "{explained}");

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

        // March begins: February is judged as it ended.
        running.clock.set(at("2026-03-01T08:00:00+08:00"));
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

        // 月提示: the procuratorate's inbox gets February's reminder once, naming the overdue
        // hand-over of seized items it supervises.
        let reminder = running
            .wait_for_event(PROCURATORATE, reminder_case(), "deadline_reminder")
            .await;
        assert!(reminder.contains("2026-02"), "{reminder}");
        assert!(reminder.contains("1 referral obligation(s)"), "{reminder}");
        assert_eq!(
            running
                .deadlines
                .send_monthly_reminders()
                .await
                .expect("reminders"),
            0,
            "sent once per month"
        );

        // The monthly report, as JSON and CSV, for the supervisor and for the agency itself.
        let report = |viewer: &str, format| {
            let deadlines = running.deadlines.clone();
            let viewer = agency(viewer);
            async move {
                match deadlines
                    .handle(MonitorRequest::Report {
                        viewer,
                        period: ReportPeriod::Month {
                            year: 2026,
                            month: 2,
                        },
                        format,
                    })
                    .await
                    .expect("report")
                {
                    MonitorReply::Report {
                        content_type,
                        file_name,
                        content,
                    } => (content_type, file_name, content),
                    other => panic!("expected a report, got {other:?}"),
                }
            }
        };
        let (content_type, file_name, content) = report(PROCURATORATE, ReportFormat::Json).await;
        assert_eq!(content_type, "application/json");
        assert_eq!(file_name, "casebridge-monthly_reminder-2026-02.json");
        let json: serde_json::Value = serde_json::from_slice(&content).expect("json");
        assert_eq!(json["report"], "monthly_reminder");
        assert_eq!(json["judged_at"], "2026-03-01 00:00 CST");
        assert_eq!(json["statistics"].as_array().map(Vec::len), Some(2));
        let overdue = json["overdue"].as_array().expect("overdue list");
        let rules: Vec<&str> = overdue
            .iter()
            .filter(|o| o["case_id"] == case_id.to_string().as_str())
            .filter_map(|o| o["rule"].as_str())
            .collect();
        assert_eq!(rules, ["S1-12"]);
        let s1_8 = json["by_rule"]
            .as_array()
            .and_then(|rules| rules.iter().find(|r| r["rule"] == "S1-8"))
            .expect("S1-8 totals");
        assert_eq!(
            (s1_8["opened"].as_u64(), s1_8["answered_on_time"].as_u64()),
            (Some(1), Some(1))
        );
        let (content_type, _, content) = report(MARKET_BUREAU, ReportFormat::Csv).await;
        assert_eq!(content_type, "text/csv; charset=utf-8");
        let csv = String::from_utf8(content).expect("utf-8");
        assert!(
            csv.starts_with("report,period,from,to,judged_at,viewer\r\nmonthly_reminder,2026-02,"),
            "{csv}"
        );
        let statistics_rows: Vec<&str> = csv
            .lines()
            .filter(|l| l.starts_with("statistics,"))
            .collect();
        assert_eq!(
            statistics_rows.len(),
            1,
            "an agency sees its own row: {csv}"
        );
        assert!(statistics_rows[0].starts_with(&format!("statistics,{MARKET_BUREAU},")));
        assert!(
            csv.lines()
                .any(|l| l.starts_with("overdue,") && l.contains(",S1-12,")),
            "{csv}"
        );
        running.stop().await;
    })
    .await;
}

/// Reminders are not about one case; the inbox helper filters by case, so accept any.
fn reminder_case() -> Option<CaseId> {
    None
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

        // October begins: the coordination office's 月提示 for September names the urgent one.
        running.clock.set(at("2026-10-01T00:00:05+08:00"));
        let reminder = running
            .wait_for_event(JUSTICE_BUREAU, reminder_case(), "deadline_reminder")
            .await;
        assert!(reminder.contains("2026-09"), "{reminder}");
        assert!(reminder.contains("1 transfer obligation(s)"), "{reminder}");
        assert!(
            running
                .inbox(PROCURATORATE, reminder_case())
                .await
                .iter()
                .all(|(e, _)| e != "deadline_reminder"),
            "a supervisor with nothing overdue gets no reminder"
        );
        running.stop().await;
    })
    .await;
}

fn notice(
    case_id: CaseId,
    family: Family,
    event: &str,
    actor: &str,
    now: &str,
    parties: &[(Role, &str)],
    detail: serde_json::Value,
) -> Notice {
    Notice {
        case_id,
        family,
        event: event.into(),
        actor: agency(actor),
        at: at(now),
        recipients: Vec::new(),
        summary: event.into(),
        detail,
        parties: parties.iter().map(|(r, a)| (*r, agency(a))).collect(),
        attachments: Vec::new(),
    }
}

impl Running {
    async fn publish(&self, notice: &Notice) {
        let message = Message::json(notice.routing_key(), notice).expect("encode");
        self.bus().publish_event(&message).await.expect("publish");
    }

    /// An obligation as it stands once `check` holds.
    async fn obligation_where(
        &self,
        case_id: CaseId,
        rule: &str,
        what: &str,
        check: impl Fn(&store::ObligationRow) -> bool,
    ) -> store::ObligationRow {
        eventually(&format!("{rule}: {what}"), WITHIN, || async {
            let mut conn = self.deadlines.db().pool().acquire().await.ok()?;
            store::for_case(&mut conn, case_id)
                .await
                .ok()?
                .into_iter()
                .find(|o| o.rule == rule && check(o))
        })
        .await
    }
}

#[tokio::test]
async fn an_opinion_requested_under_a_transfer_stops_only_the_requesting_agencys_clock() {
    on_each_backend(|backend| async move {
        let running = start(backend, "2026-10-08T09:00:00+08:00").await;
        let transfer = CaseId::generate();
        let sides = [
            (Role::Sender, MARKET_BUREAU),
            (Role::Recipient, ECOLOGY_BUREAU),
        ];
        running
            .publish(&notice(
                transfer,
                Family::Transfer,
                "sent",
                MARKET_BUREAU,
                "2026-10-08T09:00:00+08:00",
                &sides,
                serde_json::json!({}),
            ))
            .await;
        // SAMR-18 from the delivery (S4 Art 18, issue 13), 15 working days from Thu 10-08:
        // 10-09, 10-10 (make-up), 10-12..16, 10-19..23, 10-26..28.
        let decide = running.obligation(transfer, "SAMR-18", Stage::Open).await;
        assert_eq!(decide.owed_by, agency(ECOLOGY_BUREAU));
        assert_eq!(decide.due_at, Some(at("2026-10-29T00:00:00+08:00")));

        let opinion = |case_id, requester, now, testing: bool| {
            notice(
                case_id,
                Family::Opinion,
                "requested",
                requester,
                now,
                &[(Role::Sender, requester), (Role::Expert, TESTING_INSTITUTE)],
                serde_json::json!({ "under_case": transfer.to_string(), "testing": testing }),
            )
        };
        // The sender asks an opinion under the same case: the receiver's clock runs on.
        let outsider = CaseId::generate();
        running
            .publish(&opinion(
                outsider,
                MARKET_BUREAU,
                "2026-10-09T10:00:00+08:00",
                true,
            ))
            .await;
        running.obligation(outsider, "SJ-13", Stage::Open).await;
        let still = running.obligation(transfer, "SAMR-18", Stage::Open).await;
        assert_eq!(
            still.due_at, decide.due_at,
            "nobody stops another agency's clock"
        );
        assert!(still.changes.pauses.is_empty());
        // The receiver's own assistance request (协助调查) stops nothing: only testing does
        // (S4 Arts 18, 64; issue 13).
        let assistance = CaseId::generate();
        running
            .publish(&opinion(
                assistance,
                ECOLOGY_BUREAU,
                "2026-10-09T11:00:00+08:00",
                false,
            ))
            .await;
        running.obligation(assistance, "SJ-13", Stage::Open).await;
        let still = running.obligation(transfer, "SAMR-18", Stage::Open).await;
        assert_eq!(
            still.due_at, decide.due_at,
            "an assistance request stops no clock"
        );
        assert!(still.changes.pauses.is_empty());

        // The receiver asks for a test on Mon 10-12: its clock stops until the opinion comes.
        let test = CaseId::generate();
        running
            .publish(&opinion(
                test,
                ECOLOGY_BUREAU,
                "2026-10-12T10:00:00+08:00",
                true,
            ))
            .await;
        let stopped = running
            .obligation_where(transfer, "SAMR-18", "stopped", |o| o.due_at.is_none())
            .await;
        assert_eq!(stopped.changes.pauses[0].by, ECOLOGY_BUREAU);
        let explained = running.deadlines.explanation(&stopped).join("\n");
        assert!(
            explained.contains("no due time: the clock is stopped"),
            "{explained}"
        );

        // Delivered Fri 10-16: 3 working days were used (10-09, 10-10, 10-12); 12 are counted
        // from 10-16: 10-19..23, 10-26..30, 11-02, 11-03.
        running
            .publish(&notice(
                test,
                Family::Opinion,
                "delivered",
                TESTING_INSTITUTE,
                "2026-10-16T10:00:00+08:00",
                &[
                    (Role::Sender, ECOLOGY_BUREAU),
                    (Role::Expert, TESTING_INSTITUTE),
                ],
                serde_json::json!({}),
            ))
            .await;
        let restarted = running
            .obligation_where(transfer, "SAMR-18", "restarted", |o| o.due_at.is_some())
            .await;
        assert_eq!(restarted.due_at, Some(at("2026-11-04T00:00:00+08:00")));
        let explained = running.deadlines.explanation(&restarted).join("\n");
        assert!(
            explained.contains("3 working days used before it, 12 left"),
            "{explained}"
        );
        running.stop().await;
    })
    .await;
}

fn extension(
    actor: &str,
    request_id: &str,
    case_id: CaseId,
    target: ExtensionTarget,
    reference: &str,
) -> MonitorRequest {
    MonitorRequest::Extend(ExtendRequest {
        actor: agency(actor),
        request_id: RequestId::parse(request_id).expect("request id"),
        content_digest: Sha256Digest::of(format!("{target:?}{reference}").as_bytes()),
        case_id,
        rule: "S1-8".into(),
        target,
        approval_reference: reference.into(),
        reason: "major case: accounts of three companies to examine".into(),
    })
}

#[tokio::test]
async fn the_owing_police_extend_the_review_before_it_ends_and_the_others_are_told() {
    on_each_backend(|backend| async move {
        let running = start(backend, "2026-03-02T09:00:00+08:00").await;
        let case_id = CaseId::generate();
        running
            .step(MARKET_BUREAU, "submit", case_id, submission(case_id))
            .await;
        running
            .step(
                CITY_POLICE,
                "receipt",
                case_id,
                ReferralCommand::SignReceipt,
            )
            .await;
        // S1-8: 3 days from Mon 03-02 → Thu 03-05.
        let decide = running.obligation(case_id, "S1-8", Stage::Open).await;
        assert_eq!(decide.due_at, Some(at("2026-03-06T00:00:00+08:00")));

        // The agency that is owed the decision cannot extend it.
        let request = extension(
            MARKET_BUREAU,
            "ext-0",
            case_id,
            ExtensionTarget::Tier(1),
            "x",
        );
        match running.deadlines.handle(request).await.expect("reply") {
            MonitorReply::Refused { refusal } => {
                assert_eq!(refusal.kind, RefusalKind::PermissionDenied);
                assert_eq!(refusal.rule, "AUTH-OBLIGOR");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }

        // The police extend to 7 days on Wed 03-04 with the county-level approval: Mon 03-09.
        running.clock.set(at("2026-03-04T11:00:00+08:00"));
        let request = extension(
            CITY_POLICE,
            "ext-1",
            case_id,
            ExtensionTarget::Tier(1),
            "榕公刑延〔2026〕12号",
        );
        let MonitorReply::Extended(extended) = running
            .deadlines
            .handle(request.clone())
            .await
            .expect("reply")
        else {
            panic!("not extended");
        };
        assert!(!extended.replayed);
        let o = &extended.obligation.obligation;
        assert_eq!(o.due_at, Some(at("2026-03-10T00:00:00+08:00")));
        assert_eq!(o.changes.extensions[0].reference, "榕公刑延〔2026〕12号");
        assert_eq!(o.changes.extensions[0].by, CITY_POLICE);
        assert!(
            extended
                .obligation
                .explanation
                .join("\n")
                .contains("to 7 calendar days (tier 1; approval 榕公刑延〔2026〕12号): major case"),
            "{:#?}",
            extended.obligation.explanation
        );
        assert_eq!(
            extended.obligation.extension_tiers,
            ["7 calendar days", "30 calendar days"]
        );
        // The same in Chinese, line for line (issue 15 item 4).
        let listed = &extended.obligation;
        assert_eq!(
            listed.step_zh,
            "自接受移送之日起对案件进行审查，决定立案（立案）或者不予立案（不予立案），并书面通知\
             移送案件的行政执法机关"
        );
        assert_eq!(listed.extension_tiers_zh, ["7日", "30日"]);
        assert_eq!(listed.explanation_zh.len(), listed.explanation.len());
        assert_eq!(
            listed.explanation_zh,
            [
                format!("规则 S1-8（S1 第8条；S2 第180条）：{}", listed.step_zh),
                "自2026-03-02（周一）起7日（开始当日不计入）".to_owned(),
                format!(
                    "2026-03-04 11:00（北京时间）由{CITY_POLICE}延长至7日（第1档；审批文号\
                     榕公刑延〔2026〕12号）：major case: accounts of three companies to examine"
                ),
                "第7日为2026-03-09（周一）".to_owned(),
                "期限届满：2026-03-09 24:00（北京时间）".to_owned(),
            ]
        );
        let stored = running
            .obligation_where(case_id, "S1-8", "extended", |o| {
                !o.changes.extensions.is_empty()
            })
            .await;
        assert_eq!(stored.due_at, Some(at("2026-03-10T00:00:00+08:00")));
        // The sender (owed the decision) and the procuratorate (supervising) are told.
        for party in [MARKET_BUREAU, PROCURATORATE] {
            let told = running
                .wait_for_event(party, case_id, "deadline_extended")
                .await;
            assert!(told.contains("S1-8"), "{told}");
        }
        assert!(
            running
                .inbox(CITY_POLICE, case_id)
                .await
                .iter()
                .all(|(e, _)| e != "deadline_extended"),
            "the police made the extension and are not told of it"
        );

        // A retry is the original answer; the same id for other content is refused.
        let MonitorReply::Extended(again) = running.deadlines.handle(request).await.expect("reply")
        else {
            panic!("not replayed");
        };
        assert!(again.replayed);
        assert_eq!(again.accepted_at, extended.accepted_at);
        // The extension is on the chain, and its signed receipt says where; a retry gets the
        // same receipt, never a second one.
        let receipt = &extended.receipt;
        assert!(running.verifier.receipt_is_genuine(receipt));
        assert_eq!(
            (receipt.service.as_str(), receipt.step.as_str()),
            ("deadlines", "extend_deadline")
        );
        assert_eq!(receipt.actor, agency(CITY_POLICE));
        assert_eq!(again.receipt, extended.receipt);
        let events = running.chain_events(case_id).await;
        assert_eq!(events, ["referral.deadline_extended"]);
        let on_chain = running
            .deadlines
            .chain()
            .range(running.deadlines.db(), receipt.first_seq, receipt.last_seq)
            .await
            .expect("range");
        assert_eq!(on_chain.len(), 1);
        assert_eq!(on_chain[0].entry.case_id, case_id);
        assert_eq!(on_chain[0].hash, *receipt.chain_hash.as_bytes());
        let conflict = extension(
            CITY_POLICE,
            "ext-1",
            case_id,
            ExtensionTarget::Tier(2),
            "other",
        );
        match running.deadlines.handle(conflict).await.expect("reply") {
            MonitorReply::Refused { refusal } => {
                assert_eq!(refusal.kind, RefusalKind::AlreadyExists)
            }
            other => panic!("expected a refusal, got {other:?}"),
        }

        // After the due time, an extension is refused, naming the due time and the rule.
        running.clock.set(at("2026-03-10T00:00:00+08:00"));
        let late = extension(
            CITY_POLICE,
            "ext-2",
            case_id,
            ExtensionTarget::Tier(2),
            "榕公刑延〔2026〕13号",
        );
        match running.deadlines.handle(late).await.expect("reply") {
            MonitorReply::Refused { refusal } => {
                assert_eq!(refusal.kind, RefusalKind::FailedPrecondition);
                assert_eq!(refusal.rule, "SAMR-45x");
                assert!(
                    refusal.message.contains("S1-8")
                        && refusal.message.contains("2026-03-09 24:00 CST"),
                    "{}",
                    refusal.message
                );
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        running.stop().await;
    })
    .await;
}

/// A 2027 schedule for tests only: the real one is published in November 2026.
/// A test fixture shaped like an official 2027 schedule (not the published one).
const FIXTURE_2027: &str = include_str!("fixtures/2027.toml");

/// The shipped 2026 schedule with the 2027 fixture installed.
fn with_2027() -> Calendar {
    Calendar::from_toml_files([("2026.toml", Y2026), ("2027.toml", FIXTURE_2027)])
        .expect("calendar")
}

/// The obligations of `case_id` as `viewer` lists them.
async fn listed(running: &Running, viewer: &str, case_id: CaseId) -> Vec<Listed> {
    let reply = running
        .deadlines
        .handle(MonitorRequest::Case {
            viewer: agency(viewer),
            case_id,
        })
        .await
        .expect("listed");
    match reply {
        MonitorReply::Case { obligations } => obligations,
        other => panic!("expected the case's obligations, got {other:?}"),
    }
}

#[tokio::test]
async fn a_transfer_accepted_in_december_owes_a_provisional_outcome_report_that_still_escalates() {
    on_each_backend(|backend| async move {
        // 2026-12-04: the official 2027 schedule is not out. APL-60 (90 calendar days) ends in
        // 2027 and is counted on the statutory holidays: day 90 is Thu 2027-03-04.
        let running = start(backend, "2026-12-04T10:00:00+08:00").await;
        let case_id = CaseId::generate();
        let parties = [
            (Role::Sender, MARKET_BUREAU),
            (Role::Recipient, ECOLOGY_BUREAU),
        ];
        let accepted = notice(
            case_id,
            Family::Transfer,
            "accepted",
            ECOLOGY_BUREAU,
            "2026-12-04T10:00:00+08:00",
            &parties,
            serde_json::json!({}),
        );
        running.publish(&accepted).await;
        let owed = running.obligation(case_id, "APL-60", Stage::Open).await;
        assert_eq!(owed.due_at, Some(at("2027-03-05T00:00:00+08:00")));
        let apl = listed(&running, MARKET_BUREAU, case_id)
            .await
            .into_iter()
            .find(|l| l.obligation.rule == "APL-60")
            .expect("APL-60 listed");
        assert_eq!(apl.provisional_years, vec![2027]);
        assert!(
            apl.explanation.contains(
                &"2027 calendar not yet published; counted on the statutory holidays, without \
                  make-up working days"
                    .to_owned()
            ),
            "{:?}",
            apl.explanation
        );
        // Missed like any other: the receiver is told, and the coordination office.
        running.clock.set(at("2027-03-05T00:00:05+08:00"));
        let escalated = running
            .wait_for_event(JUSTICE_BUREAU, case_id, "deadline_escalated")
            .await;
        assert!(escalated.contains("APL-60"), "{escalated}");
        running.obligation(case_id, "APL-60", Stage::Missed).await;
        running.stop().await;
    })
    .await;
}

#[tokio::test]
async fn installing_the_official_year_recounts_the_obligations_it_moves_on_the_record() {
    on_each_backend(|backend| async move {
        let running = start(backend, "2027-02-04T10:00:00+08:00").await;
        // RCPT-F, one working day from Thu 2027-02-04: provisionally the Spring Festival runs
        // 02-05..02-10, so it ends Thu 02-11; the installed schedule's block runs to Sat 02-13,
        // which moves it to Mon 02-15.
        let moved = CaseId::generate();
        let mut sent = transfer_sent(moved, false);
        sent.at = at("2027-02-04T10:00:00+08:00");
        running.publish(&sent).await;
        let before = running.obligation(moved, "RCPT-F", Stage::Open).await;
        assert_eq!(before.due_at, Some(at("2027-02-12T00:00:00+08:00")));
        // APL-60 from 2026-12-04 ends Thu 2027-03-04 on both: it does not move.
        let kept = CaseId::generate();
        let accepted = notice(
            kept,
            Family::Transfer,
            "accepted",
            ECOLOGY_BUREAU,
            "2026-12-04T10:00:00+08:00",
            &[
                (Role::Sender, MARKET_BUREAU),
                (Role::Recipient, ECOLOGY_BUREAU),
            ],
            serde_json::json!({}),
        );
        running.publish(&accepted).await;
        running.obligation(kept, "APL-60", Stage::Open).await;

        // The operator installs 2027 while the service runs.
        let changed = running.deadlines.live_calendar().replace(with_2027());
        assert_eq!(changed, vec![2027]);
        let after = running
            .obligation_where(moved, "RCPT-F", "recounted", |o| {
                o.due_at == Some(at("2027-02-16T00:00:00+08:00"))
            })
            .await;
        assert_eq!(after.stage, Stage::Open);
        // Both parties are told, with the old time and the notice it comes from. (The transfer's
        // SAMR-18 obligation moves too, and its notice may come first.)
        for party in [ECOLOGY_BUREAU, MARKET_BUREAU] {
            let told = running
                .wait_for_event_about(party, moved, "deadline_recounted", "RCPT-F")
                .await;
            assert!(told.contains("was 2027-02-12 00:00 CST"), "{told}");
            assert!(told.contains("国务院办公厅关于2027年"), "{told}");
        }
        assert!(
            running
                .chain_events(moved)
                .await
                .contains(&"transfer.deadline_recounted".to_owned()),
            "the move is on the record"
        );
        let listed_after = listed(&running, ECOLOGY_BUREAU, moved).await;
        assert!(listed_after.iter().all(|l| l.provisional_years.is_empty()));
        // The unmoved one is not touched, and a second recount (a replica, a restart) moves
        // nothing and tells no one again.
        assert_eq!(
            running
                .deadlines
                .recount_changed_years()
                .await
                .expect("recount"),
            0
        );
        assert!(
            running
                .inbox(ECOLOGY_BUREAU, kept)
                .await
                .iter()
                .all(|(e, _)| e != "deadline_recounted"),
            "an unmoved due time sends no notice"
        );
        let kept_row = running.obligation(kept, "APL-60", Stage::Open).await;
        assert_eq!(kept_row.due_at, Some(at("2027-03-05T00:00:00+08:00")));
        running.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_restart_with_the_official_year_installed_recounts_at_start_up() {
    on_each_backend(|backend| async move {
        let running = start(backend, "2027-02-04T10:00:00+08:00").await;
        let case_id = CaseId::generate();
        let mut sent = transfer_sent(case_id, false);
        sent.at = at("2027-02-04T10:00:00+08:00");
        running.publish(&sent).await;
        let before = running.obligation(case_id, "RCPT-F", Stage::Open).await;
        assert_eq!(before.due_at, Some(at("2027-02-12T00:00:00+08:00")));
        // The next start loads the installed year (a rolling restart): build recounts.
        let app = DeadlinesApp::build(
            testing::host(
                running.deadlines.db().clone(),
                running.bus().clone(),
                running.clock.clone(),
                testing::signer(),
            ),
            Arc::new(Directory::from_toml_str(DIRECTORY).expect("directory")),
            Arc::new(RuleTable::from_toml_str(RULES).expect("rules")),
            with_2027(),
        )
        .await
        .expect("restarted");
        let mut conn = app.deadlines().db().pool().acquire().await.expect("conn");
        let dated = store::for_case(&mut conn, case_id)
            .await
            .expect("obligations")
            .into_iter()
            .find(|o| o.rule == "RCPT-F")
            .expect("RCPT-F");
        drop(conn);
        assert_eq!(dated.due_at, Some(at("2027-02-16T00:00:00+08:00")));
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
    let signer = testing::signer();
    let verifier = Verifier::from_hex(&signer.public_key_hex()).expect("public key");
    let app = DeadlinesApp::build(
        testing::host(stack.db.clone(), stack.bus.clone(), clock.clone(), signer),
        directory,
        rules,
        calendar,
    )
    .await
    .expect("deadlines service");
    let one = app.deadlines().clone();
    const COUNT: usize = 1200;
    for _ in 0..COUNT {
        let notice = transfer_sent(CaseId::generate(), true);
        let message = Message::json(notice.routing_key(), &notice).expect("encode");
        one.on_events(&[(message, notice)]).await.expect("opened");
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
    // Each one on the chain, once, the replicas' batches one after another.
    let verified = one
        .chain()
        .verify(one.db(), &verifier)
        .await
        .expect("the chain verifies");
    assert_eq!(verified.records, 2 * COUNT as u64);
    stack
        .tear_down(&[
            events_queue(),
            QueueSpec::commands(casebridge_deadlines::SERVICE),
        ])
        .await;
}

/// A dispute's step as the disputes service announces it.
fn dispute_step(case_id: CaseId, event: &str, actor: &str, now: &str, office: bool) -> Notice {
    let mut parties = vec![
        (Role::Sender, MARKET_BUREAU),
        (Role::Recipient, ECOLOGY_BUREAU),
    ];
    if office {
        parties.push((Role::Coordination, CITY_GOVERNMENT));
    }
    notice(
        case_id,
        Family::Dispute,
        event,
        actor,
        now,
        &parties,
        serde_json::json!({}),
    )
}

#[tokio::test]
async fn a_missed_dispute_step_escalates_to_the_office_that_rules_on_the_dispute() {
    on_each_backend(|backend| async move {
        let running = start(backend, "2026-03-02T09:00:00+08:00").await;
        let case_id = CaseId::generate();
        // Raised on Monday: the bureaus negotiate for 7 working days (SAMR-13). The notice names
        // no office yet; the one that will rule is the bureaus' common superior, the city
        // government, not the justice bureau.
        running
            .publish(&dispute_step(
                case_id,
                "raised",
                MARKET_BUREAU,
                "2026-03-02T09:00:00+08:00",
                false,
            ))
            .await;
        let negotiate = running.obligation(case_id, "SAMR-13", Stage::Open).await;
        assert_eq!(negotiate.owed_by, agency(MARKET_BUREAU));
        assert_eq!(negotiate.supervisor, Some(agency(CITY_GOVERNMENT)));
        assert_eq!(negotiate.due_at, Some(at("2026-03-12T00:00:00+08:00")));

        running.clock.set(at("2026-03-12T08:00:00+08:00"));
        running.obligation(case_id, "SAMR-13", Stage::Missed).await;
        let escalated = running
            .wait_for_event(CITY_GOVERNMENT, case_id, "deadline_escalated")
            .await;
        assert!(escalated.contains("SAMR-13"), "{escalated}");
        assert!(
            running.inbox(JUSTICE_BUREAU, case_id).await.is_empty(),
            "the justice bureau does not rule on this dispute"
        );

        // Referred to the city government, which owes the acceptance (LOC-ACC, 3 working
        // days): its own miss goes to its superior, the provincial government.
        running
            .publish(&dispute_step(
                case_id,
                "referred",
                MARKET_BUREAU,
                "2026-03-12T09:00:00+08:00",
                true,
            ))
            .await;
        let accept = running.obligation(case_id, "LOC-ACC", Stage::Open).await;
        assert_eq!(accept.owed_by, agency(CITY_GOVERNMENT));
        assert_eq!(accept.supervisor, Some(agency(PROVINCE_GOVERNMENT)));
        running.clock.set(at("2026-03-18T08:00:00+08:00"));
        running.obligation(case_id, "LOC-ACC", Stage::Missed).await;
        let escalated = running
            .wait_for_event(PROVINCE_GOVERNMENT, case_id, "deadline_escalated")
            .await;
        assert!(escalated.contains("LOC-ACC"), "{escalated}");
        running.stop().await;
    })
    .await;
}

/// A referral's step with the copied city procuratorate.
fn referral_step(case_id: CaseId, event: &str, actor: &str, now: &str) -> Notice {
    notice(
        case_id,
        Family::Referral,
        event,
        actor,
        now,
        &[
            (Role::Sender, MARKET_BUREAU),
            (Role::Recipient, CITY_POLICE),
            (Role::Procuratorate, PROCURATORATE),
        ],
        serde_json::json!({}),
    )
}

#[tokio::test]
async fn a_missed_r561_reaches_the_next_level_procuratorate() {
    on_each_backend(|backend| async move {
        let running = start(backend, "2026-03-02T09:00:00+08:00").await;
        let case_id = CaseId::generate();
        // The police gave their reasons: the procuratorate owes the agency its finding in 10
        // calendar days (R561).
        running
            .publish(&referral_step(
                case_id,
                "reasons_given",
                CITY_POLICE,
                "2026-03-02T09:00:00+08:00",
            ))
            .await;
        let owed = running.obligation(case_id, "R561", Stage::Open).await;
        assert_eq!(owed.owed_by, agency(PROCURATORATE));
        assert_eq!(owed.supervisor, Some(agency(PROVINCE_PROCURATORATE)));
        assert_eq!(owed.due_at, Some(at("2026-03-13T00:00:00+08:00")));

        running.clock.set(at("2026-03-13T08:00:00+08:00"));
        running.obligation(case_id, "R561", Stage::Missed).await;
        let missed = running
            .wait_for_event(PROCURATORATE, case_id, "deadline_missed")
            .await;
        assert!(missed.contains("R561"), "{missed}");
        let escalated = running
            .wait_for_event(PROVINCE_PROCURATORATE, case_id, "deadline_escalated")
            .await;
        assert!(escalated.contains("R561"), "{escalated}");
        running.stop().await;
    })
    .await;
}

/// The shipped directory without the city procuratorate's superior: R561 has no supervisor.
fn directory_without_the_next_level_procuratorate() -> String {
    let line = format!("superior = \"{PROVINCE_PROCURATORATE}\"\n");
    assert!(DIRECTORY.contains(&line));
    DIRECTORY.replacen(&line, "", 1)
}

#[tokio::test]
async fn an_escalation_without_a_supervisor_is_an_alarm_on_every_supervisors_board() {
    on_each_backend(|backend| async move {
        let directory = directory_without_the_next_level_procuratorate();
        let calendars = [("2026.toml", Y2026)];
        let now = "2026-03-02T09:00:00+08:00";
        let running = start_supervised(backend, now, &calendars, &directory, None).await;
        let case_id = CaseId::generate();
        running
            .publish(&referral_step(case_id, "reasons_given", CITY_POLICE, now))
            .await;
        let owed = running.obligation(case_id, "R561", Stage::Open).await;
        assert_eq!(owed.supervisor, None);

        running.clock.set(at("2026-03-13T08:00:00+08:00"));
        running.obligation(case_id, "R561", Stage::Missed).await;
        // The alarm is on the record with the miss.
        assert_eq!(
            running.chain_events(case_id).await,
            ["referral.deadline_missed", "referral.deadline_unsupervised"]
        );
        // Every supervisor's overdue board lists it, with why; other agencies do not see it.
        let overdue = |viewer: &str| {
            let deadlines = running.deadlines.clone();
            let viewer = agency(viewer);
            async move {
                let query = ObligationQuery {
                    view: View::Overdue,
                    as_of: at("2026-03-13T08:00:00+08:00"),
                    due_within_ms: 0,
                    agency: None,
                    family: None,
                    rule: None,
                    region: None,
                    case_id: Some(case_id),
                    limit: 50,
                    after: None,
                };
                match deadlines
                    .handle(MonitorRequest::Obligations { viewer, query })
                    .await
                    .expect("query")
                {
                    MonitorReply::Obligations { obligations, .. } => obligations,
                    other => panic!("expected obligations, got {other:?}"),
                }
            }
        };
        let line = format!(
            "no supervisor resolved for rule R561 and agency 福州市人民检察院 ({PROCURATORATE}): \
             escalation not delivered"
        );
        for supervisor in [JUSTICE_BUREAU, PROVINCE_PROCURATORATE] {
            let listed = overdue(supervisor).await;
            assert_eq!(listed.len(), 1, "{supervisor}: {listed:?}");
            assert!(
                listed[0].explanation.contains(&line),
                "{:?}",
                listed[0].explanation
            );
        }
        assert!(overdue(ECOLOGY_BUREAU).await.is_empty());
        // A supervisor may open the case's deadlines from its board.
        let case = running
            .deadlines
            .handle(MonitorRequest::Case {
                viewer: agency(JUSTICE_BUREAU),
                case_id,
            })
            .await
            .expect("case");
        assert!(
            matches!(&case, MonitorReply::Case { obligations } if obligations.len() == 1),
            "{case:?}"
        );
        running.stop().await;

        // With a fallback supervisor, the same obligation is escalated to it.
        let fallback = Some(JUSTICE_BUREAU);
        let running = start_supervised(backend, now, &calendars, &directory, fallback).await;
        let case_id = CaseId::generate();
        running
            .publish(&referral_step(case_id, "reasons_given", CITY_POLICE, now))
            .await;
        let owed = running.obligation(case_id, "R561", Stage::Open).await;
        assert_eq!(owed.supervisor, Some(agency(JUSTICE_BUREAU)));
        running.clock.set(at("2026-03-13T08:00:00+08:00"));
        let escalated = running
            .wait_for_event(JUSTICE_BUREAU, case_id, "deadline_escalated")
            .await;
        assert!(escalated.contains("R561"), "{escalated}");
        running.stop().await;
    })
    .await;
}

/// Issue 13: clocks that started or closed on the wrong event, each end to end.
#[tokio::test]
async fn the_corrected_rules_start_stop_and_close_on_the_events_the_law_names() {
    on_each_backend(|backend| async move {
        let running = start(backend, "2026-03-02T10:00:00+08:00").await;
        let referral = CaseId::generate();
        let sides = [
            (Role::Sender, MARKET_BUREAU),
            (Role::Recipient, CITY_POLICE),
            (Role::Procuratorate, PROCURATORATE),
        ];
        let step = |case_id, family, event: &str, actor, now, parties: &[(Role, &str)]| {
            notice(
                case_id,
                family,
                event,
                actor,
                now,
                parties,
                serde_json::json!({}),
            )
        };
        // S1-8 does not stop while supplements are awaited: accepted Mon 03-02, supplement
        // asked 03-02 and given 03-05, still due Thu 03-05 24:00 (S1 Art 8; S2 Art 180).
        for (event, actor, now) in [
            ("receipt_signed", CITY_POLICE, "2026-03-02T10:00:00+08:00"),
            (
                "supplement_requested",
                CITY_POLICE,
                "2026-03-02T11:00:00+08:00",
            ),
            ("supplemented", MARKET_BUREAU, "2026-03-05T09:00:00+08:00"),
        ] {
            running
                .publish(&step(referral, Family::Referral, event, actor, now, &sides))
                .await;
        }
        running
            .obligation_where(referral, "P180-2b", "closed by the supplement", |o| {
                o.stage == Stage::Closed
            })
            .await;
        let review = running.obligation(referral, "S1-8", Stage::Open).await;
        assert_eq!(review.due_at, Some(at("2026-03-06T00:00:00+08:00")));
        assert!(review.changes.pauses.is_empty(), "{:?}", review.changes);

        // R562 is answered by the filing decision as well as by an explanation (S5 Art 562).
        for (event, actor, now) in [
            (
                "explanation_demanded",
                PROCURATORATE,
                "2026-03-10T10:00:00+08:00",
            ),
            ("filed", CITY_POLICE, "2026-03-11T10:00:00+08:00"),
        ] {
            running
                .publish(&step(referral, Family::Referral, event, actor, now, &sides))
                .await;
        }
        let answered = running
            .obligation_where(referral, "R562", "answered by filing", |o| {
                o.stage == Stage::Closed
            })
            .await;
        assert!(!answered.late);
        assert_eq!(answered.closed_event.as_deref(), Some("referral.filed"));

        // SAMR-16 runs from the referral of the materials to the office, reply or not: 7
        // working days from Tue 03-10 end Thu 03-19 (S4 Art 16).
        let dispute = CaseId::generate();
        let parties = [
            (Role::Sender, ECOLOGY_BUREAU),
            (Role::Recipient, MARKET_BUREAU),
            (Role::Coordination, "11350100MB0100001L"),
        ];
        running
            .publish(&step(
                dispute,
                Family::Dispute,
                "referred",
                ECOLOGY_BUREAU,
                "2026-03-10T10:00:00+08:00",
                &parties,
            ))
            .await;
        let designate = running.obligation(dispute, "SAMR-16", Stage::Open).await;
        assert_eq!(designate.due_at, Some(at("2026-03-20T00:00:00+08:00")));

        // SAMR-45 runs from receipt of the request, and a refusal answers it too.
        let opinion = CaseId::generate();
        let asked = [
            (Role::Sender, MARKET_BUREAU),
            (Role::Expert, TESTING_INSTITUTE),
        ];
        running
            .publish(&step(
                opinion,
                Family::Opinion,
                "requested",
                MARKET_BUREAU,
                "2026-03-02T10:00:00+08:00",
                &asked,
            ))
            .await;
        let deliver = running.obligation(opinion, "SAMR-45", Stage::Open).await;
        assert_eq!(deliver.due_at, Some(at("2026-03-24T00:00:00+08:00")));
        running
            .publish(&step(
                opinion,
                Family::Opinion,
                "refused",
                TESTING_INSTITUTE,
                "2026-03-04T10:00:00+08:00",
                &asked,
            ))
            .await;
        running
            .obligation_where(opinion, "SAMR-45", "closed by the refusal", |o| {
                o.stage == Stage::Closed
            })
            .await;
        running.stop().await;
    })
    .await;
}

/// Issue 13, items 5 and 7, end to end: the procuratorate demands an explanation only once the
/// deadlines service has missed the police review (S1-8), across the National Day holiday; and
/// after a notice to file that the police leave unanswered past R563 it issues a correction
/// notice and reports to the next-level procuratorate (S5 Arts 562, 564).
#[tokio::test]
async fn the_procuratorate_follows_a_missed_review_and_a_missed_notice_to_file() {
    on_each_backend(|backend| async move {
        let running = start(backend, "2026-09-01T09:00:00+08:00").await;
        let refused_by = |reply: casebridge_referrals::api::Reply| match reply {
            casebridge_referrals::api::Reply::Refused { refusal } => {
                assert_eq!(refusal.kind, RefusalKind::FailedPrecondition, "{refusal:?}");
                refusal.rule
            }
            other => panic!("expected a refusal, got {other:?}"),
        };

        // A referral the police declined; reasons asked and given; notice to file on Fri 09-18.
        let noticed = CaseId::generate();
        running
            .step(MARKET_BUREAU, "n-submit", noticed, submission(noticed))
            .await;
        running
            .step(
                CITY_POLICE,
                "n-receipt",
                noticed,
                ReferralCommand::SignReceipt,
            )
            .await;
        let decline = ReferralCommand::Decline {
            reasons: "证据不足".into(),
        };
        running
            .step(CITY_POLICE, "n-decline", noticed, decline)
            .await;
        let ask = ReferralCommand::RequestReasons {
            note: String::new(),
        };
        running.step(PROCURATORATE, "n-ask", noticed, ask).await;
        running.clock.set(at("2026-09-07T09:00:00+08:00"));
        let give = ReferralCommand::GiveReasons {
            reasons: "证据不足".into(),
        };
        running.step(CITY_POLICE, "n-give", noticed, give).await;
        running.clock.set(at("2026-09-18T10:00:00+08:00"));
        let notify = ReferralCommand::NotifyFiling {
            reasons: "理由不成立".into(),
        };
        running
            .step(PROCURATORATE, "n-notify", noticed, notify)
            .await;
        // R563: 15 days end on Sat 10-03, inside the holiday: the last day rolls to Thu 10-08.
        let to_file = running.obligation(noticed, "R563", Stage::Open).await;
        assert_eq!(to_file.due_at, Some(at("2026-10-09T00:00:00+08:00")));

        // A referral received on Wed 09-30: S1-8's 3 days end on Sat 10-03 and roll to 10-08.
        running.clock.set(at("2026-09-30T10:00:00+08:00"));
        let reviewed = CaseId::generate();
        running
            .step(MARKET_BUREAU, "r-submit", reviewed, submission(reviewed))
            .await;
        running
            .step(
                CITY_POLICE,
                "r-receipt",
                reviewed,
                ReferralCommand::SignReceipt,
            )
            .await;
        let review = running.obligation(reviewed, "S1-8", Stage::Open).await;
        assert_eq!(review.due_at, Some(at("2026-10-09T00:00:00+08:00")));

        // Inside the review period the procuratorate cannot demand an explanation yet.
        running.clock.set(at("2026-10-06T09:00:00+08:00"));
        let demand = || ReferralCommand::DemandExplanation {
            note: "逾期未作出立案决定".into(),
        };
        let early = running
            .try_step(PROCURATORATE, "r-demand-early", reviewed, demand())
            .await;
        assert_eq!(refused_by(early), "R562");
        // Nor issue a correction notice while the police still have time to file.
        running.clock.set(at("2026-10-08T12:00:00+08:00"));
        let correct = || ReferralCommand::IssueCorrectionNotice {
            reasons: "通知立案后逾期未立案".into(),
        };
        let early = running
            .try_step(PROCURATORATE, "n-correct-early", noticed, correct())
            .await;
        assert_eq!(refused_by(early), "R564");

        // Both periods run out: the deadlines service misses S1-8, the referral records it.
        running.clock.set(at("2026-10-09T09:00:00+08:00"));
        running.obligation(reviewed, "S1-8", Stage::Missed).await;
        let overdue = running
            .referral_where(
                PROCURATORATE,
                reviewed,
                "the review recorded as run out",
                |r| r.review_overdue_at.is_some(),
            )
            .await;
        assert_eq!(
            overdue.review_overdue_at,
            Some(at("2026-10-09T00:00:00+08:00"))
        );
        running
            .wait_for_event(PROCURATORATE, reviewed, "review_overdue")
            .await;
        running
            .step(PROCURATORATE, "r-demand", reviewed, demand())
            .await;
        let explain = running.obligation(reviewed, "R562", Stage::Open).await;
        assert_eq!(explain.owed_by, agency(CITY_POLICE));

        running
            .step(PROCURATORATE, "n-correct", noticed, correct())
            .await;
        let report = ReferralCommand::ReportToSuperior {
            note: "仍不纠正".into(),
        };
        running
            .step(PROCURATORATE, "n-report", noticed, report)
            .await;
        // The next-level procuratorate is now a party: it reads the case and hears of it.
        let reported = running
            .referral_where(
                PROVINCE_PROCURATORATE,
                noticed,
                "read by the superior",
                |r| r.reported_to.is_some(),
            )
            .await;
        assert_eq!(reported.reported_to, Some(agency(PROVINCE_PROCURATORATE)));
        running
            .wait_for_event(PROVINCE_PROCURATORATE, noticed, "reported_to_superior")
            .await;
        // R563 stays on the boards, overdue, until the police file.
        running.obligation(noticed, "R563", Stage::Missed).await;
        running
            .step(
                CITY_POLICE,
                "n-file",
                noticed,
                ReferralCommand::File {
                    note: String::new(),
                },
            )
            .await;
        let filed = running
            .obligation_where(noticed, "R563", "filed late", |o| o.stage == Stage::Closed)
            .await;
        assert!(filed.late);
        running
            .wait_for_event(PROVINCE_PROCURATORATE, noticed, "filed")
            .await;
        running.stop().await;
    })
    .await;
}

/// Issue 13, item 10, end to end: a head's decision not to refer is recorded (S1 Art 5); the
/// procuratorate of the agency's region reads it and hears of it, no police organ does, and it
/// opens no deadline.
#[tokio::test]
async fn a_decision_not_to_refer_reaches_the_procuratorate_and_no_police_organ() {
    on_each_backend(|backend| async move {
        let running = start(backend, "2026-10-09T09:00:00+08:00").await;
        let case_id = CaseId::generate();
        let record = ReferralCommand::RecordNonReferral(NonReferral {
            case_id,
            suspected_offence: "生产、销售伪劣产品罪".into(),
            summary: "销售金额未达追诉标准".into(),
            report_received_at: at("2026-09-30T09:00:00+08:00"),
            decided_at: at("2026-10-08T17:00:00+08:00"),
            approver: "局长 王五".into(),
            reasons: "销售金额未达五万元".into(),
            documents: Vec::new(),
            parties: Vec::new(),
        });
        running
            .step(MARKET_BUREAU, "not-referred", case_id, record)
            .await;
        running
            .wait_for_event(PROCURATORATE, case_id, "not_referred_recorded")
            .await;
        let read = running
            .referral_where(PROCURATORATE, case_id, "read by the procuratorate", |_| {
                true
            })
            .await;
        assert_eq!(read.police, None);
        assert_eq!(
            read.non_referral.map(|d| d.reasons),
            Some("销售金额未达五万元".to_owned())
        );
        // The police are strangers to it.
        let request = casebridge_referrals::api::Request::Get {
            actor: agency(CITY_POLICE),
            case_id,
        };
        let reply: casebridge_referrals::api::Reply = running
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
        match reply {
            casebridge_referrals::api::Reply::Refused { refusal } => {
                assert_eq!(refusal.kind, RefusalKind::PermissionDenied, "{refusal:?}");
                assert!(!refusal.message.contains("销售金额"), "{refusal:?}");
            }
            other => panic!("the police read a record they are no party to: {other:?}"),
        }
        assert!(running.inbox(CITY_POLICE, case_id).await.is_empty());
        // It owes nobody anything: the deadlines service opened no obligation.
        let mut conn = running.deadlines.db().pool().acquire().await.expect("conn");
        let opened = store::for_case(&mut conn, case_id)
            .await
            .expect("obligations");
        assert!(opened.is_empty(), "{opened:?}");
        drop(conn);
        running.stop().await;
    })
    .await;
}

const Y2025: &str = include_str!("../../../deploy/calendars/2025.toml");

/// The rules issue 13 corrected as they stood before it (commit fd95b6b's parent), with the
/// siblings their new starts are derived from: SAMR-45 from acceptance, S1-8 stopping while
/// supplements are awaited, SAMR-16 from the reply, SAMR-18 from the signed receipt and stopping
/// for any opinion request, R562 answered by an explanation only.
const OLD_RULES: &str = r#"
warn_before = { amount = 1, unit = "working_days" }

[[rule]]
id = "S1-8"
family = "referral"
step = "decide to file (立案) or not to file (不予立案) from acceptance"
step_zh = "自接受移送之日起对案件进行审查，决定立案（立案）或者不予立案（不予立案），并书面通知移送案件的行政执法机关"
amount = 3
unit = "calendar_days"
trigger = ["referral.receipt_signed"]
closed_by = ["referral.filed", "referral.declined", "referral.forwarded", "referral.returned_not_police_matter"]
pauses_on = ["referral.supplement_requested"]
resumes_on = ["referral.supplemented"]
owed_by = "recipient"
escalate_to = "procuratorate"
basis = "S1 Art 8"
extensions = [{ to = 7, unit = "calendar_days" }, { to = 30, unit = "calendar_days" }]

[[rule]]
id = "R562"
family = "referral"
step = "explain a missed filing decision on the procuratorate's demand"
step_zh = "应人民检察院的要求，书面说明逾期未作出是否立案决定的理由"
amount = 7
unit = "calendar_days"
trigger = ["referral.explanation_demanded"]
closed_by = ["referral.explanation_given"]
owed_by = "recipient"
escalate_to = "procuratorate"
basis = "S5 Art 562"

[[rule]]
id = "RCPT-F"
family = "transfer"
step = "acknowledge receipt (回执) of a transferred case"
step_zh = "签收移送的案件，出具回执（回执）"
amount = 1
unit = "working_days"
trigger = ["transfer.sent"]
closed_by = ["transfer.receipt_signed", "transfer.accepted", "transfer.objected"]
owed_by = "recipient"
escalate_to = "coordination_office"
basis = "DOMAIN §3 cross-cutting"
warn_before = { amount = 0, unit = "hours" }
unless = "urgent"

[[rule]]
id = "SAMR-18"
family = "transfer"
step = "decide whether to open a case (立案) or object to jurisdiction"
step_zh = "自收到移送材料之日起核查，决定是否立案（立案）；决定不予立案的（不予立案），向移送机关说明理由；对管辖有异议的，提出异议"
amount = 15
unit = "working_days"
trigger = ["transfer.receipt_signed"]
closed_by = ["transfer.accepted", "transfer.objected"]
pauses_on = ["opinion.requested"]
resumes_on = ["opinion.delivered", "opinion.refused"]
owed_by = "recipient"
escalate_to = "coordination_office"
basis = "S4 Art 18"
extensions = [{ amount = 15, unit = "working_days" }]

[[rule]]
id = "LOC-ACC"
family = "dispute"
step = "the coordination office accepts the referral (受理)"
step_zh = "执法协调机构受理报请（受理）"
amount = 3
unit = "working_days"
trigger = ["dispute.referred"]
closed_by = ["dispute.accepted", "dispute.designated"]
owed_by = "coordination"
escalate_to = "dispute_office"
basis = "V2 S26"
verified = false

[[rule]]
id = "SAMR-16"
family = "dispute"
step = "designate the competent agency (指定管辖) from complete materials"
step_zh = "自收到完整的报送材料之日起确定案件的管辖机关（指定管辖）"
amount = 7
unit = "working_days"
trigger = ["dispute.replied"]
closed_by = ["dispute.designated"]
owed_by = "coordination"
escalate_to = "dispute_office"
basis = "S4 Art 16"

[[rule]]
id = "SJ-13"
family = "opinion"
step = "accept the request, or refuse it with reasons (受理/不予受理)"
step_zh = "决定受理委托，或者不予受理并说明理由（受理／不予受理）"
amount = 7
unit = "working_days"
trigger = ["opinion.requested"]
closed_by = ["opinion.accepted", "opinion.refused"]
owed_by = "expert"
escalate_to = "coordination_office"
basis = "S15 Art 13"

[[rule]]
id = "SAMR-45"
family = "opinion"
step = "deliver the written opinion (书面意见), administrative determination"
step_zh = "出具书面认定意见（书面意见），作出行政认定"
amount = 15
unit = "working_days"
trigger = ["opinion.accepted"]
closed_by = ["opinion.delivered"]
pauses_on = ["opinion.material_requested"]
resumes_on = ["opinion.material_supplied"]
owed_by = "expert"
escalate_to = "coordination_office"
basis = "S4 Art 45"
extensions = [{ amount = 15, unit = "working_days" }]
unless = "forensic"
"#;

/// The cases of [`upgrade_under_the_old_rule_table`], one per corrected rule.
struct OldCases {
    opinion: CaseId,
    review: CaseId,
    explain: CaseId,
    dispute: CaseId,
    transfer: CaseId,
}

/// Runs the services under [`OLD_RULES`] and opens an obligation under each corrected rule, with
/// its due time as the old table counted it; returns with every event applied.
async fn upgrade_under_the_old_rule_table(backend: Backend) -> (Running, OldCases) {
    let calendars = [("2025.toml", Y2025), ("2026.toml", Y2026)];
    let now = "2025-09-22T09:00:00+08:00";
    let running = start_full(backend, now, &calendars, DIRECTORY, None, OLD_RULES).await;
    let cases = OldCases {
        opinion: CaseId::generate(),
        review: CaseId::generate(),
        explain: CaseId::generate(),
        dispute: CaseId::generate(),
        transfer: CaseId::generate(),
    };
    let plain = || serde_json::json!({});

    // SAMR-45: received Mon 2025-09-22, accepted Tue 09-30: the old table counted 15 working
    // days from the acceptance, over the National Day block: Tue 10-28.
    let asked = [
        (Role::Sender, MARKET_BUREAU),
        (Role::Expert, TESTING_INSTITUTE),
    ];
    for (event, actor, when) in [
        ("requested", MARKET_BUREAU, "2025-09-22T10:00:00+08:00"),
        ("accepted", TESTING_INSTITUTE, "2025-09-30T10:00:00+08:00"),
    ] {
        running
            .publish(&notice(
                cases.opinion,
                Family::Opinion,
                event,
                actor,
                when,
                &asked,
                plain(),
            ))
            .await;
    }
    let deliver = running
        .obligation(cases.opinion, "SAMR-45", Stage::Open)
        .await;
    assert_eq!(deliver.due_at, Some(at("2025-10-29T00:00:00+08:00")));

    // March 2026: SAMR-45 is overdue by now (missed and escalated under the old due time).
    running.clock.set(at("2026-03-12T12:00:00+08:00"));

    // S1-8: accepted Mon 2026-03-02, supplements asked 03-02 and given 03-05: the old table
    // stopped the review meanwhile: Mon 03-09.
    for (event, actor, when) in [
        ("receipt_signed", CITY_POLICE, "2026-03-02T10:00:00+08:00"),
        (
            "supplement_requested",
            CITY_POLICE,
            "2026-03-02T11:00:00+08:00",
        ),
        ("supplemented", MARKET_BUREAU, "2026-03-05T09:00:00+08:00"),
    ] {
        running
            .publish(&referral_step(cases.review, event, actor, when))
            .await;
    }
    // R562: demanded Tue 03-10, the police filed on 03-11; the old table waited for an
    // explanation.
    for (event, actor, when) in [
        ("receipt_signed", CITY_POLICE, "2026-03-02T10:00:00+08:00"),
        (
            "explanation_demanded",
            PROCURATORATE,
            "2026-03-10T10:00:00+08:00",
        ),
        ("filed", CITY_POLICE, "2026-03-11T10:00:00+08:00"),
    ] {
        running
            .publish(&referral_step(cases.explain, event, actor, when))
            .await;
    }
    // SAMR-16: referred Tue 03-10, accepted 03-11, replied Thu 03-12: the old table counted 7
    // working days from the reply: Mon 03-23.
    for (event, actor, when) in [
        ("referred", ECOLOGY_BUREAU, "2026-03-10T10:00:00+08:00"),
        ("accepted", CITY_GOVERNMENT, "2026-03-11T10:00:00+08:00"),
        ("replied", MARKET_BUREAU, "2026-03-12T10:00:00+08:00"),
    ] {
        running
            .publish(&dispute_step(cases.dispute, event, actor, when, true))
            .await;
    }
    // SAMR-18: delivered Mon 03-02, receipt signed Wed 03-04; the receiver asked for assistance
    // (协助调查, not a test) under the transfer Thu 03-05, answered Fri 03-06: the old table
    // counted from the receipt and stopped for the request: Thu 03-26.
    let sides = [
        (Role::Sender, MARKET_BUREAU),
        (Role::Recipient, ECOLOGY_BUREAU),
    ];
    for (event, actor, when) in [
        ("sent", MARKET_BUREAU, "2026-03-02T10:00:00+08:00"),
        (
            "receipt_signed",
            ECOLOGY_BUREAU,
            "2026-03-04T10:00:00+08:00",
        ),
    ] {
        running
            .publish(&notice(
                cases.transfer,
                Family::Transfer,
                event,
                actor,
                when,
                &sides,
                plain(),
            ))
            .await;
    }
    let assistance = CaseId::generate();
    let asked = [
        (Role::Sender, ECOLOGY_BUREAU),
        (Role::Expert, TESTING_INSTITUTE),
    ];
    let under = serde_json::json!({ "under_case": cases.transfer.to_string(), "testing": false });
    for (event, actor, when, detail) in [
        (
            "requested",
            ECOLOGY_BUREAU,
            "2026-03-05T10:00:00+08:00",
            under,
        ),
        (
            "delivered",
            TESTING_INSTITUTE,
            "2026-03-06T10:00:00+08:00",
            plain(),
        ),
    ] {
        running
            .publish(&notice(
                assistance,
                Family::Opinion,
                event,
                actor,
                when,
                &asked,
                detail,
            ))
            .await;
    }

    // Every event applied under the old table before it is replaced.
    let old_due = |case_id, rule: &'static str, due: &'static str| {
        let running = &running;
        async move {
            running
                .obligation_where(case_id, rule, &format!("due {due} (old table)"), |o| {
                    o.due_at == Some(at(due))
                })
                .await
        }
    };
    let review = old_due(cases.review, "S1-8", "2026-03-10T00:00:00+08:00").await;
    assert_eq!(review.changes.pauses.len(), 1);
    old_due(cases.dispute, "SAMR-16", "2026-03-24T00:00:00+08:00").await;
    let decide = old_due(cases.transfer, "SAMR-18", "2026-03-27T00:00:00+08:00").await;
    assert_eq!(decide.changes.pauses.len(), 1);
    running
        .obligation_where(cases.explain, "S1-8", "closed by the filing", |o| {
            o.closed_event.as_deref() == Some("referral.filed")
        })
        .await;
    let explain = running.obligation(cases.explain, "R562", Stage::Open).await;
    assert_eq!(explain.due_at, Some(at("2026-03-18T00:00:00+08:00")));
    // The old service has sent what was due (so the new one's chain is checked at rest): the
    // misses of SAMR-45 and the review, and February's reminder of the overdue SAMR-45.
    running
        .obligation(cases.opinion, "SAMR-45", Stage::Missed)
        .await;
    running
        .obligation(cases.review, "S1-8", Stage::Missed)
        .await;
    eventually("February's reminder", WITHIN, || async {
        store::reminder_sent(running.deadlines.db(), "2026-02")
            .await
            .ok()
            .filter(|sent| *sent)
    })
    .await;
    (running, cases)
}

/// The obligation of `case_id` under `rule`, as stored now.
async fn stored(running: &Running, case_id: CaseId, rule: &str) -> store::ObligationRow {
    let mut conn = running.deadlines.db().pool().acquire().await.expect("conn");
    store::for_case(&mut conn, case_id)
        .await
        .expect("obligations")
        .into_iter()
        .find(|o| o.rule == rule)
        .unwrap_or_else(|| panic!("{rule} in {case_id}"))
}

/// How many `deadline_recounted` notices the deadlines chain records about `case_id`.
async fn recounts_on_record(running: &Running, case_id: CaseId) -> usize {
    running
        .chain_events(case_id)
        .await
        .iter()
        .filter(|e| e.ends_with(".deadline_recounted"))
        .count()
}

/// The upgrade to the corrected table: the service restarts with the shipped rule table on the
/// database the old one counted, and the open obligations follow the law, on the record.
async fn the_corrected_table_recounts_what_the_old_one_opened(
    backend: Backend,
    definitions_recorded: bool,
) {
    let (mut running, cases) = upgrade_under_the_old_rule_table(backend).await;
    if !definitions_recorded {
        // A database counted before the rule definitions were kept.
        sqlx::query("DELETE FROM deadlines_rules")
            .execute(running.deadlines.db().pool())
            .await
            .expect("forget the rule definitions");
    }
    running.restart_deadlines(RULES).await;

    // SAMR-45 runs from receipt, re-derived from SJ-13 (which started on the request):
    // Fri 2025-10-17, not 10-28. Still missed: it was overdue before and is now.
    let deliver = stored(&running, cases.opinion, "SAMR-45").await;
    assert_eq!(deliver.started_at, at("2025-09-22T10:00:00+08:00"));
    assert_eq!(deliver.due_at, Some(at("2025-10-18T00:00:00+08:00")));
    assert_eq!(deliver.stage, Stage::Missed);
    for party in [TESTING_INSTITUTE, MARKET_BUREAU] {
        let told = running
            .wait_for_event_about(party, cases.opinion, "deadline_recounted", "SAMR-45")
            .await;
        assert!(told.contains("due 2025-10-18 00:00 CST"), "{told}");
        assert!(told.contains("(was 2025-10-29 00:00 CST)"), "{told}");
        assert!(
            told.contains(
                "the rule table changed: SAMR-45 starts on opinion.requested: counted from \
                 2025-09-22 10:00 CST (SJ-13 started then), not 2025-09-30 10:00 CST"
            ),
            "{told}"
        );
    }

    // S1-8 no longer stops for supplements: Thu 03-05, not Mon 03-09.
    let review = stored(&running, cases.review, "S1-8").await;
    assert_eq!(review.due_at, Some(at("2026-03-06T00:00:00+08:00")));
    assert!(review.changes.pauses.is_empty(), "{:?}", review.changes);
    let told = running
        .wait_for_event_about(CITY_POLICE, cases.review, "deadline_recounted", "S1-8")
        .await;
    assert!(told.contains("(was 2026-03-10 00:00 CST)"), "{told}");
    assert!(
        told.contains("S1-8 does not stop on referral.supplement_requested"),
        "{told}"
    );
    running
        .wait_for_event_about(MARKET_BUREAU, cases.review, "deadline_recounted", "S1-8")
        .await;

    // R562 is answered by the filing of 03-11, on time.
    let explain = stored(&running, cases.explain, "R562").await;
    assert_eq!(explain.stage, Stage::Closed);
    assert_eq!(explain.closed_event.as_deref(), Some("referral.filed"));
    assert_eq!(explain.closed_at, Some(at("2026-03-11T10:00:00+08:00")));
    assert!(!explain.late);
    let told = running
        .wait_for_event_about(CITY_POLICE, cases.explain, "deadline_recounted", "R562")
        .await;
    assert!(
        told.contains("is fulfilled")
            && told.contains("R562 is fulfilled by referral.filed too, taken 2026-03-11 10:00 CST"),
        "{told}"
    );

    // SAMR-16 runs from the referral, re-derived from LOC-ACC: Thu 03-19, not Mon 03-23.
    let designate = stored(&running, cases.dispute, "SAMR-16").await;
    assert_eq!(designate.started_at, at("2026-03-10T10:00:00+08:00"));
    assert_eq!(designate.due_at, Some(at("2026-03-20T00:00:00+08:00")));
    let told = running
        .wait_for_event_about(
            CITY_GOVERNMENT,
            cases.dispute,
            "deadline_recounted",
            "SAMR-16",
        )
        .await;
    assert!(told.contains("(LOC-ACC started then)"), "{told}");

    // SAMR-18 runs from the delivery, re-derived from RCPT-F: 3 working days used before the
    // stop (03-03..03-05), 12 from 03-06: Tue 03-24, not Thu 03-26. The stop for the assistance
    // request stays: its kind is not known to the deadlines service (a warning says so).
    let decide = stored(&running, cases.transfer, "SAMR-18").await;
    assert_eq!(decide.started_at, at("2026-03-02T10:00:00+08:00"));
    assert_eq!(decide.due_at, Some(at("2026-03-25T00:00:00+08:00")));
    assert_eq!(decide.changes.pauses.len(), 1);
    let told = running
        .wait_for_event_about(
            ECOLOGY_BUREAU,
            cases.transfer,
            "deadline_recounted",
            "SAMR-18",
        )
        .await;
    assert!(told.contains("(RCPT-F started then)"), "{told}");
    let explained = running.deadlines.explanation(&decide).join("\n");
    assert!(
        explained.contains("3 working days used before it, 12 left"),
        "{explained}"
    );

    // Each move is on the record, once.
    let all = [
        cases.opinion,
        cases.review,
        cases.explain,
        cases.dispute,
        cases.transfer,
    ];
    let mut on_record = Vec::new();
    for case_id in all {
        on_record.push(recounts_on_record(&running, case_id).await);
    }
    assert_eq!(on_record, [1, 1, 1, 1, 1]);

    // A second start (a replica, a restart) changes nothing and tells no one again.
    assert_eq!(
        running
            .deadlines
            .recount_changed_rules()
            .await
            .expect("recount"),
        casebridge_deadlines::handler::RulesRecounted::default()
    );
    running.restart_deadlines(RULES).await;
    for case_id in all {
        assert_eq!(recounts_on_record(&running, case_id).await, 1);
    }
    assert_eq!(stored(&running, cases.opinion, "SAMR-45").await, deliver);
    assert_eq!(stored(&running, cases.dispute, "SAMR-16").await, designate);
    running.stop().await;
}

#[tokio::test]
async fn a_changed_rule_table_recounts_the_open_obligations_it_affects_on_the_record() {
    on_each_backend(|backend| the_corrected_table_recounts_what_the_old_one_opened(backend, true))
        .await;
}

#[tokio::test]
async fn an_upgrade_of_a_database_without_rule_definitions_recounts_under_every_rule() {
    on_each_backend(|backend| the_corrected_table_recounts_what_the_old_one_opened(backend, false))
        .await;
}

#[tokio::test]
async fn replicas_starting_at_once_with_a_changed_rule_table_recount_each_obligation_once() {
    on_each_backend(|backend| async move {
        let (mut running, cases) = upgrade_under_the_old_rule_table(backend).await;
        running.stop_deadlines().await;
        // Two replicas of the new version start together (three on PostgreSQL would be the
        // same): each recounts, rows locked, and the second finds nothing left to move.
        let (one, two) = tokio::join!(
            running.build_deadlines(RULES),
            running.build_deadlines(RULES)
        );
        drop(two);
        running.run_deadlines(one);
        for case_id in [
            cases.opinion,
            cases.review,
            cases.explain,
            cases.dispute,
            cases.transfer,
        ] {
            assert_eq!(recounts_on_record(&running, case_id).await, 1, "{case_id}");
        }
        let deliver = stored(&running, cases.opinion, "SAMR-45").await;
        assert_eq!(deliver.due_at, Some(at("2025-10-18T00:00:00+08:00")));
        let explain = stored(&running, cases.explain, "R562").await;
        assert_eq!(explain.closed_event.as_deref(), Some("referral.filed"));
        running.stop().await;
    })
    .await;
}

impl Running {
    /// Returns once every event published before has been applied: the deadlines service
    /// applies events in the queue's order, so a new transfer's receipt obligation comes last.
    async fn barrier(&self) {
        let id = CaseId::generate();
        self.publish(&transfer_sent(id, false)).await;
        self.obligation(id, "RCPT-F", Stage::Open).await;
    }
}

/// Issue 13, items 8 and 9: a decision not to open a case answers the receipt and SAMR-18; a
/// suspension (中止) stops APL-60 until the case resumes, and a clock held both by a suspension
/// and by a test stays stopped until both are over, in either order (S4 Arts 18, 20, 64;
/// notices/000 二, notices/003).
#[tokio::test]
async fn a_decline_answers_samr_18_and_a_suspension_stops_apl_60_until_every_stop_is_over() {
    on_each_backend(|backend| async move {
        let running = start(backend, "2026-07-02T09:00:00+08:00").await;
        let sides = [
            (Role::Sender, MARKET_BUREAU),
            (Role::Recipient, ECOLOGY_BUREAU),
        ];
        let step = |case_id, event: &str, now, detail| {
            notice(
                case_id,
                Family::Transfer,
                event,
                ECOLOGY_BUREAU,
                now,
                &sides,
                detail,
            )
        };

        // Declined the day after delivery: the receipt and the decision are both answered.
        let declined = CaseId::generate();
        running
            .publish(&notice(
                declined,
                Family::Transfer,
                "sent",
                MARKET_BUREAU,
                "2026-07-02T10:00:00+08:00",
                &sides,
                serde_json::json!({ "urgent": false }),
            ))
            .await;
        running.obligation(declined, "SAMR-18", Stage::Open).await;
        running
            .publish(&step(
                declined,
                "declined",
                "2026-07-03T10:00:00+08:00",
                serde_json::json!({ "reasons": "违法行为轻微并及时改正" }),
            ))
            .await;
        for rule in ["SAMR-18", "RCPT-F"] {
            let answered = running.obligation(declined, rule, Stage::Closed).await;
            assert_eq!(answered.closed_event.as_deref(), Some("transfer.declined"));
            assert!(!answered.late, "{rule}");
        }

        // Opened Thu 07-02: the outcome is owed in 90 calendar days, by Wed 09-30.
        let case = CaseId::generate();
        running
            .publish(&step(
                case,
                "accepted",
                "2026-07-02T10:00:00+08:00",
                serde_json::json!({}),
            ))
            .await;
        let owed = running.obligation(case, "APL-60", Stage::Open).await;
        assert_eq!(owed.due_at, Some(at("2026-10-01T00:00:00+08:00")));
        let stopped = |what: &'static str| {
            running.obligation_where(case, "APL-60", what, |o| o.due_at.is_none())
        };
        let due = |what: &'static str, when: &'static str| {
            running.obligation_where(case, "APL-60", what, move |o| o.due_at == Some(at(when)))
        };

        // Suspended Mon 08-10, resumed Thu 08-13: 39 days used, 51 left from 08-13; day 51 is
        // Sat 10-03 in the National Day block, rolled to Thu 10-08.
        let suspended = serde_json::json!({
            "reason": "当事人下落不明",
            "approval": { "kind": "decision", "title": "中止审批表", "sha256": null },
        });
        running
            .publish(&step(
                case,
                "suspended",
                "2026-08-10T10:00:00+08:00",
                suspended.clone(),
            ))
            .await;
        let held = stopped("stopped by the suspension").await;
        assert_eq!(held.changes.pauses[0].why, "transfer.suspended");
        assert_eq!(held.changes.pauses[0].by, ECOLOGY_BUREAU);
        running
            .publish(&step(
                case,
                "resumed",
                "2026-08-13T10:00:00+08:00",
                serde_json::json!({ "note": "" }),
            ))
            .await;
        let resumed = due("restarted", "2026-10-09T00:00:00+08:00").await;
        let explained = running.deadlines.explanation(&resumed).join("\n");
        assert!(
            explained.contains("39 calendar days used before it, 51 left"),
            "{explained}"
        );

        // Suspended again Mon 08-17, then a test asked for the case on 08-18 (the expert asks
        // for material and gets it, which frees nothing): the resumption on 08-20 leaves the
        // clock stopped while the test is out; its delivery on Mon 08-24 restarts it. 08-14..17
        // were used too (43 in all), 47 are left from 08-24: Sat 10-10, the National Day
        // make-up working day.
        let test = CaseId::generate();
        let opinion = |event: &str, actor, now| {
            notice(
                test,
                Family::Opinion,
                event,
                actor,
                now,
                &[
                    (Role::Sender, ECOLOGY_BUREAU),
                    (Role::Expert, TESTING_INSTITUTE),
                ],
                serde_json::json!({ "under_case": case.to_string(), "testing": true }),
            )
        };
        running
            .publish(&step(
                case,
                "suspended",
                "2026-08-17T10:00:00+08:00",
                suspended.clone(),
            ))
            .await;
        stopped("stopped by the second suspension").await;
        running
            .publish(&opinion(
                "requested",
                ECOLOGY_BUREAU,
                "2026-08-18T10:00:00+08:00",
            ))
            .await;
        for (event, actor, now) in [
            (
                "material_requested",
                TESTING_INSTITUTE,
                "2026-08-18T15:00:00+08:00",
            ),
            (
                "material_supplied",
                ECOLOGY_BUREAU,
                "2026-08-19T09:00:00+08:00",
            ),
        ] {
            running.publish(&opinion(event, actor, now)).await;
        }
        running
            .publish(&step(
                case,
                "resumed",
                "2026-08-20T10:00:00+08:00",
                serde_json::json!({ "note": "" }),
            ))
            .await;
        running.barrier().await;
        stopped("still stopped: the test is out").await;
        running
            .publish(&opinion(
                "delivered",
                TESTING_INSTITUTE,
                "2026-08-24T10:00:00+08:00",
            ))
            .await;
        due("restarted by the delivery", "2026-10-11T00:00:00+08:00").await;

        // The reverse: a test asked on Wed 08-26 (the expert asks for material and gets it,
        // which frees nothing), the case suspended on 08-27, the opinion delivered on 08-28: the
        // clock stays stopped until the resumption on Mon 08-31. 08-25, 08-26 were used (45),
        // 45 are left from 08-31: Thu 10-15.
        let test = CaseId::generate();
        let opinion = |event: &str, actor, now| {
            notice(
                test,
                Family::Opinion,
                event,
                actor,
                now,
                &[
                    (Role::Sender, ECOLOGY_BUREAU),
                    (Role::Expert, TESTING_INSTITUTE),
                ],
                serde_json::json!({ "under_case": case.to_string(), "testing": true }),
            )
        };
        running
            .publish(&opinion(
                "requested",
                ECOLOGY_BUREAU,
                "2026-08-26T10:00:00+08:00",
            ))
            .await;
        stopped("stopped by the test").await;
        running
            .publish(&opinion(
                "material_requested",
                TESTING_INSTITUTE,
                "2026-08-26T15:00:00+08:00",
            ))
            .await;
        // The expert's own clock stops on the opinion, not on the case it was asked under.
        running
            .obligation_where(test, "SAMR-45", "the expert's clock stopped", |o| {
                o.due_at.is_none()
            })
            .await;
        running
            .publish(&opinion(
                "material_supplied",
                ECOLOGY_BUREAU,
                "2026-08-27T09:00:00+08:00",
            ))
            .await;
        running
            .obligation_where(test, "SAMR-45", "the expert's clock restarted", |o| {
                o.due_at.is_some()
            })
            .await;
        running
            .publish(&step(
                case,
                "suspended",
                "2026-08-27T10:00:00+08:00",
                suspended,
            ))
            .await;
        running
            .publish(&opinion(
                "delivered",
                TESTING_INSTITUTE,
                "2026-08-28T10:00:00+08:00",
            ))
            .await;
        running.barrier().await;
        stopped("still stopped: the case is suspended").await;
        running
            .publish(&step(
                case,
                "resumed",
                "2026-08-31T10:00:00+08:00",
                serde_json::json!({ "note": "" }),
            ))
            .await;
        let last = due("restarted by the resumption", "2026-10-16T00:00:00+08:00").await;
        assert_eq!(last.changes.pauses.len(), 3, "{:?}", last.changes.pauses);
        running.stop().await;
    })
    .await;
}
