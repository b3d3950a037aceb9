//! The referrals service as its callers see it: requests over the bus, events out of the
//! outbox, on SQLite + the embedded bus and on PostgreSQL + RabbitMQ.

use std::sync::Arc;
use std::time::Duration;

use casebridge_core::directory::Directory;
use casebridge_core::ids::{AgencyCode, CaseId, RequestId, Sha256Digest};
use casebridge_core::notice::Notice;
use casebridge_core::personal::PersonalData;
use casebridge_core::referral::{
    Document, DocumentKind, Party, Referral, ReferralCommand, ReferralPolicy, ReferralStatus,
    Submission,
};
use casebridge_core::refusal::RefusalKind;
use casebridge_core::time::{Clock, ManualClock, Timestamp};
use casebridge_platform::bus::{Bus, Consumer, Message, QueueSpec};
use casebridge_platform::testing::{Backend, TestStack};
use casebridge_referrals::api::{CommandRequest, Reply, Request};
use tokio_util::sync::CancellationToken;

const EXAMPLE_DIRECTORY: &str = include_str!("../../../deploy/directory.toml");
const MARKET_BUREAU: &str = "11350100MB0100002P";
const CITY_POLICE: &str = "11350100MB01000064";
const PROCURATORATE: &str = "11350100MB0100008A";
const JUSTICE_BUREAU: &str = "11350100MB0100009D";

const REPLY_WITHIN: Duration = Duration::from_secs(10);

fn agency(code: &str) -> AgencyCode {
    AgencyCode::parse(code).expect("example agency code")
}

/// The referrals service running on one backend, with a probe queue on its events.
struct Running {
    stack: TestStack,
    events: Consumer,
    token: CancellationToken,
    service: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

fn probe() -> QueueSpec {
    QueueSpec::events("probe", &["referral.#"])
}

/// The referrals service on `stack`, built (migrated, queues declared) but not running.
async fn build(
    stack: &TestStack,
) -> casebridge_platform::cases::CaseApp<casebridge_referrals::handler::Referrals> {
    let directory = Arc::new(Directory::from_toml_str(EXAMPLE_DIRECTORY).expect("directory"));
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(at("2026-03-02T10:00:00+08:00")));
    casebridge_referrals::app::build(
        casebridge_platform::testing::host(
            stack.db.clone(),
            stack.bus.clone(),
            clock,
            casebridge_platform::testing::signer(),
        ),
        directory,
        Arc::new(casebridge_core::law::Law::shipped().expect("shipped law")),
        ReferralPolicy::default(),
    )
    .await
    .expect("referrals service")
}

async fn start(backend: Backend) -> Running {
    let dir = tempfile::tempdir().expect("temp dir");
    let stack = TestStack::open(backend, dir.path()).await;
    stack.bus.declare(&probe()).await.expect("declare probe");
    let events = stack.bus.consume(probe()).await.expect("consume probe");
    let app = build(&stack).await;
    let token = CancellationToken::new();
    let stop = token.clone();
    let service = tokio::spawn(async move {
        app.run_until_stopped(stop).await.expect("service ran");
    });
    Running {
        stack,
        events,
        token,
        service,
        _dir: dir,
    }
}

impl Running {
    async fn stop(self) {
        self.token.cancel();
        let _ = self.service.await;
        self.stack
            .tear_down(&[
                probe(),
                QueueSpec::commands("referrals"),
                QueueSpec::events("referrals", &[]),
            ])
            .await;
    }

    async fn send(&self, request: &Request) -> Reply {
        send(&self.stack.bus, request).await
    }

    /// The next event the service published, as its notice.
    async fn next_event(&mut self) -> (String, Notice) {
        let delivery = tokio::time::timeout(REPLY_WITHIN, self.events.next())
            .await
            .expect("an event within the time limit")
            .expect("bus open");
        let kind = delivery.message.kind.clone();
        let notice: Notice = delivery.message.decode().expect("event body is a notice");
        delivery.ack().await.expect("ack");
        (kind, notice)
    }
}

async fn send(bus: &Bus, request: &Request) -> Reply {
    let message = Message::json("referral", request).expect("encode");
    let reply = bus
        .request("referrals", message, REPLY_WITHIN)
        .await
        .expect("a reply");
    reply.decode().expect("decode reply")
}

fn at(rfc3339: &str) -> Timestamp {
    Timestamp::parse_rfc3339(rfc3339).expect("timestamp")
}

fn document(kind: DocumentKind, title: &str) -> Document {
    Document {
        kind,
        title: title.into(),
        sha256: None,
    }
}

fn submission(case_id: CaseId) -> Submission {
    Submission {
        case_id,
        police: agency(CITY_POLICE),
        suspected_offence: "生产、销售伪劣产品罪".into(),
        summary: "Counterfeit goods found in a warehouse inspection.".into(),
        report_received_at: at("2026-03-01T09:00:00+08:00"),
        approved_at: at("2026-03-02T09:00:00+08:00"),
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
    }
}

fn command(actor: &str, request_id: &str, case_id: CaseId, command: ReferralCommand) -> Request {
    Request::Command(CommandRequest {
        actor: agency(actor),
        content_digest: Sha256Digest::of(format!("{request_id}:{command:?}").as_bytes()),
        step: casebridge_platform::cases::CaseStep {
            request_id: RequestId::parse(request_id).expect("request id"),
            case_id,
            command,
        },
    })
}

fn submit(request_id: &str, case_id: CaseId) -> Request {
    command(
        MARKET_BUREAU,
        request_id,
        case_id,
        ReferralCommand::Submit(submission(case_id)),
    )
}

fn accepted(reply: Reply) -> casebridge_referrals::api::Accepted<Referral> {
    match reply {
        Reply::Accepted(accepted) => accepted,
        other => panic!("expected acceptance, got {other:?}"),
    }
}

fn refusal(reply: Reply) -> casebridge_core::refusal::Refusal {
    match reply {
        Reply::Refused { refusal } => refusal,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn on_each_backend<F, Fut>(test: F)
where
    F: Fn(Running) -> Fut,
    Fut: std::future::Future<Output = Running>,
{
    for backend in Backend::ALL {
        let running = test(start(backend).await).await;
        running.stop().await;
    }
}

#[tokio::test]
async fn a_submission_is_told_to_the_police_and_the_copied_procuratorate() {
    on_each_backend(|mut running| async move {
        let case_id = CaseId::generate();
        let reply = accepted(running.send(&submit("sub-1", case_id)).await);
        assert_eq!(reply.case.status, ReferralStatus::Submitted);
        assert_eq!(reply.case.procuratorate, Some(agency(PROCURATORATE)));
        assert!(!reply.replayed);

        let (kind, notice) = running.next_event().await;
        assert_eq!(kind, "referral.submitted");
        assert_eq!(notice.case_id, case_id);
        assert_eq!(notice.actor, agency(MARKET_BUREAU));
        let mut recipients = notice.recipients.clone();
        recipients.sort();
        assert_eq!(recipients, vec![agency(CITY_POLICE), agency(PROCURATORATE)]);
        assert!(
            !notice.summary.contains("张三") && !notice.summary.contains("13800000000"),
            "a notice summary must not carry personal data: {}",
            notice.summary
        );
        running
    })
    .await;
}

#[tokio::test]
async fn a_retried_submission_returns_the_original_and_publishes_nothing_more() {
    on_each_backend(|mut running| async move {
        let case_id = CaseId::generate();
        let first = accepted(running.send(&submit("retry-1", case_id)).await);
        let again = accepted(running.send(&submit("retry-1", case_id)).await);
        assert!(again.replayed);
        assert_eq!(again.case, first.case);
        assert_eq!(again.accepted_at, first.accepted_at);

        // A marker step after the retry: the next event after the submission must be it.
        let receipt = command(CITY_POLICE, "rcpt-1", case_id, ReferralCommand::SignReceipt);
        accepted(running.send(&receipt).await);
        assert_eq!(running.next_event().await.0, "referral.submitted");
        assert_eq!(running.next_event().await.0, "referral.receipt_signed");
        running
    })
    .await;
}

#[tokio::test]
async fn a_request_id_reused_for_other_content_is_refused_without_change() {
    on_each_backend(|mut running| async move {
        let case_id = CaseId::generate();
        accepted(running.send(&submit("reuse-1", case_id)).await);
        let other = submit("reuse-1", CaseId::generate());
        let refused = refusal(running.send(&other).await);
        assert_eq!(refused.kind, RefusalKind::AlreadyExists);
        assert_eq!(refused.field.as_deref(), Some("request_id"));
        assert!(refused.message.contains("reuse-1"), "{}", refused.message);
        assert_eq!(running.next_event().await.1.case_id, case_id);
        running
    })
    .await;
}

#[tokio::test]
async fn a_refused_step_changes_nothing_and_publishes_nothing() {
    on_each_backend(|mut running| async move {
        let case_id = CaseId::generate();
        accepted(running.send(&submit("s-1", case_id)).await);
        assert_eq!(running.next_event().await.0, "referral.submitted");

        // The agency cannot sign its own receipt; the justice bureau is not the police.
        for (actor, request_id) in [(MARKET_BUREAU, "bad-1"), (JUSTICE_BUREAU, "bad-2")] {
            let wrong = command(actor, request_id, case_id, ReferralCommand::SignReceipt);
            let refused = refusal(running.send(&wrong).await);
            assert_eq!(refused.kind, RefusalKind::PermissionDenied, "{refused:?}");
        }
        // Deciding before the receipt is the wrong state.
        let early = command(
            CITY_POLICE,
            "early-1",
            case_id,
            ReferralCommand::File {
                note: String::new(),
            },
        );
        assert_eq!(
            refusal(running.send(&early).await).kind,
            RefusalKind::FailedPrecondition
        );

        let read = Request::Get {
            actor: agency(CITY_POLICE),
            case_id,
        };
        match running.send(&read).await {
            Reply::Found { case } => assert_eq!(case.status, ReferralStatus::Submitted),
            other => panic!("expected the referral, got {other:?}"),
        }
        let receipt = command(CITY_POLICE, "rcpt-2", case_id, ReferralCommand::SignReceipt);
        accepted(running.send(&receipt).await);
        assert_eq!(running.next_event().await.0, "referral.receipt_signed");
        running
    })
    .await;
}

#[tokio::test]
async fn only_parties_read_a_referral() {
    on_each_backend(|running| async move {
        let case_id = CaseId::generate();
        accepted(running.send(&submit("read-1", case_id)).await);
        for party in [MARKET_BUREAU, CITY_POLICE, PROCURATORATE] {
            let read = Request::Get {
                actor: agency(party),
                case_id,
            };
            assert!(matches!(running.send(&read).await, Reply::Found { .. }));
        }
        let outsider = Request::Get {
            actor: agency(JUSTICE_BUREAU),
            case_id,
        };
        let refused = refusal(running.send(&outsider).await);
        assert_eq!(refused.kind, RefusalKind::PermissionDenied);
        assert_eq!(refused.rule, "AUTH-PARTY");
        let unknown = Request::Get {
            actor: agency(CITY_POLICE),
            case_id: CaseId::generate(),
        };
        assert_eq!(
            refusal(running.send(&unknown).await).kind,
            RefusalKind::NotFound
        );
        running
    })
    .await;
}

#[tokio::test]
async fn an_undecodable_command_is_dead_lettered_not_lost() {
    on_each_backend(|running| async move {
        let garbage = Message::new("referral", b"{not json".to_vec());
        let id = garbage.id;
        let bus = running.stack.bus.clone();
        // No reply will come; the message must land in the dead-letter queue.
        let _ = bus
            .request("referrals", garbage, Duration::from_millis(300))
            .await;
        casebridge_platform::testing::eventually(
            "the poison command in the dead-letter queue",
            REPLY_WITHIN,
            || {
                let bus = bus.clone();
                async move {
                    let dead = bus.dead_letters(100).await.ok()?;
                    dead.iter().any(|m| m.id == id).then_some(())
                }
            },
        )
        .await;
        running
    })
    .await;
}

#[tokio::test]
async fn a_batch_of_steps_commits_together_and_answers_each_as_if_alone() {
    for backend in Backend::ALL {
        let dir = tempfile::tempdir().expect("temp dir");
        let stack = TestStack::open(backend, dir.path()).await;
        let app = build(&stack).await;
        let (a, b) = (CaseId::generate(), CaseId::generate());
        let file_b = command(
            CITY_POLICE,
            "b-file",
            b,
            ReferralCommand::File {
                note: String::new(),
            },
        );
        let replies = app
            .service()
            .handle_batch(vec![
                submit("b-1", a),
                // Sees the submission before it in the same transaction.
                command(CITY_POLICE, "b-rcpt", a, ReferralCommand::SignReceipt),
                // The same request again: the original, replayed.
                submit("b-1", a),
                // A step on a case that does not exist yet is refused and writes nothing.
                file_b,
                // A read is answered after the batch is committed.
                Request::Get {
                    actor: agency(CITY_POLICE),
                    case_id: a,
                },
                submit("b-2", b),
            ])
            .await
            .expect("the batch");
        let mut replies = replies.into_iter();
        let mut next = || replies.next().expect("one reply per request");
        let first = accepted(next());
        assert_eq!(first.case.status, ReferralStatus::Submitted);
        assert!(!first.replayed);
        assert_eq!(accepted(next()).case.status, ReferralStatus::Received);
        let again = accepted(next());
        assert!(again.replayed);
        assert_eq!(
            again.receipt, first.receipt,
            "a replay returns the original receipt"
        );
        assert_eq!(refusal(next()).kind, RefusalKind::NotFound);
        match next() {
            Reply::Found { case } => assert_eq!(case.status, ReferralStatus::Received),
            other => panic!("expected the referral, got {other:?}"),
        }
        assert_eq!(accepted(next()).case.status, ReferralStatus::Submitted);
        // Three accepted steps, three records on the chain, in the batch's order.
        let head = app
            .service()
            .chain()
            .head(&stack.db)
            .await
            .expect("chain head");
        assert_eq!(head.seq, 3);
        drop(app);
        stack
            .tear_down(&[
                QueueSpec::commands("referrals"),
                QueueSpec::events("referrals", &[]),
            ])
            .await;
    }
}
