//! The inbox service as its callers see it: notices arriving as events, pages read by cursor,
//! acknowledgements, wake-ups, the export feed, on SQLite + the embedded bus and on PostgreSQL +
//! RabbitMQ.

use std::sync::Arc;
use std::time::Duration;

use casebridge_core::ids::{AgencyCode, CaseId};
use casebridge_core::notice::{Family, Notice};
use casebridge_core::refusal::RefusalKind;
use casebridge_core::time::{Clock, ManualClock, Timestamp};
use casebridge_inbox::api::{self, Entry, Reply, Request};
use casebridge_inbox::app::{InboxApp, events_queue};
use casebridge_platform::bus::{Bus, Message, QueueSpec};
use casebridge_platform::testing::{Backend, TestStack, eventually};
use tokio_util::sync::CancellationToken;

const MARKET_BUREAU: &str = "11350100MB0100002P";
const CITY_POLICE: &str = "11350100MB01000064";
const PROCURATORATE: &str = "11350100MB0100008A";

const WITHIN: Duration = Duration::from_secs(10);

fn agency(code: &str) -> AgencyCode {
    AgencyCode::parse(code).expect("example agency code")
}

struct Running {
    stack: TestStack,
    token: CancellationToken,
    service: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

/// The inbox service on `stack`, built (migrated, queues declared) but not running.
async fn build(stack: &TestStack) -> InboxApp {
    let clock: Arc<dyn Clock> =
        Arc::new(ManualClock::new(Timestamp::from_millis(1_772_000_000_000)));
    InboxApp::build(stack.db.clone(), stack.bus.clone(), clock)
        .await
        .expect("inbox service")
}

async fn start(backend: Backend) -> Running {
    let dir = tempfile::tempdir().expect("temp dir");
    let stack = TestStack::open(backend, dir.path()).await;
    let app = build(&stack).await;
    let token = CancellationToken::new();
    let stop = token.clone();
    let service = tokio::spawn(async move {
        app.run_until_stopped(stop).await.expect("service ran");
    });
    Running {
        stack,
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
            .tear_down(&[events_queue(), QueueSpec::commands("inbox")])
            .await;
    }

    fn bus(&self) -> &Bus {
        &self.stack.bus
    }

    async fn send(&self, request: &Request) -> Reply {
        let message = Message::json("inbox", request).expect("encode");
        self.bus()
            .request("inbox", message, WITHIN)
            .await
            .expect("a reply")
            .decode()
            .expect("decode reply")
    }

    async fn list(&self, owner: &str, after: Option<u64>) -> (Vec<Entry>, u64, u64) {
        let request = Request::List {
            agency: agency(owner),
            after,
            limit: 100,
        };
        match self.send(&request).await {
            Reply::Entries {
                entries,
                acknowledged,
                latest,
            } => (entries, acknowledged, latest),
            other => panic!("expected entries, got {other:?}"),
        }
    }

    /// Waits until `owner`'s inbox holds `count` entries, and returns them.
    async fn wait_for(&self, owner: &str, count: usize) -> Vec<Entry> {
        eventually(&format!("{count} entries for {owner}"), WITHIN, || async {
            let (entries, _, _) = self.list(owner, Some(0)).await;
            (entries.len() >= count).then_some(entries)
        })
        .await
    }
}

fn notice(case_id: CaseId, event: &str, recipients: &[&str]) -> Notice {
    Notice {
        case_id,
        family: Family::Referral,
        event: event.into(),
        actor: agency(MARKET_BUREAU),
        at: Timestamp::from_millis(1_771_900_000_000),
        recipients: recipients.iter().map(|c| agency(c)).collect(),
        summary: format!("{event} on {case_id}"),
        detail: serde_json::Value::Null,
        parties: Default::default(),
        attachments: Vec::new(),
    }
}

fn event(notice: &Notice) -> Message {
    Message::json(notice.routing_key(), notice).expect("encode notice")
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
async fn an_event_lands_once_in_every_recipients_inbox_however_often_delivered() {
    on_each_backend(|running| async move {
        let case_id = CaseId::generate();
        let submitted = notice(case_id, "submitted", &[CITY_POLICE, PROCURATORATE]);
        let message = event(&submitted);
        // The same message three times, as a redelivering broker would.
        for _ in 0..3 {
            running
                .bus()
                .publish_event(&message)
                .await
                .expect("publish");
        }
        let marker = notice(case_id, "receipt_signed", &[CITY_POLICE]);
        running
            .bus()
            .publish_event(&event(&marker))
            .await
            .expect("publish");

        // Events are consumed concurrently, so separately published events may land in
        // either order; what matters is that each lands once, at consecutive cursors.
        let police = running.wait_for(CITY_POLICE, 2).await;
        assert_eq!(police.len(), 2, "{police:?}");
        let mut events: Vec<&str> = police.iter().map(|e| e.event.as_str()).collect();
        events.sort_unstable();
        assert_eq!(events, ["receipt_signed", "submitted"]);
        let cursors: Vec<u64> = police.iter().map(|e| e.cursor).collect();
        assert_eq!(cursors, [1, 2]);
        let submitted_entry = police
            .iter()
            .find(|e| e.event == "submitted")
            .expect("entry");
        assert_eq!(submitted_entry.message_id, message.id);
        let copied = running.wait_for(PROCURATORATE, 1).await;
        assert_eq!(copied.len(), 1);
        assert_eq!(copied[0].message_id, message.id);
        let (sender, _, latest) = running.list(MARKET_BUREAU, None).await;
        assert!(sender.is_empty(), "the actor is not told of its own step");
        assert_eq!(latest, 0);
        running
    })
    .await;
}

#[tokio::test]
async fn acknowledging_moves_the_cursor_forward_only() {
    on_each_backend(|running| async move {
        let case_id = CaseId::generate();
        for step in ["submitted", "supplemented", "filed"] {
            let n = notice(case_id, step, &[CITY_POLICE]);
            running
                .bus()
                .publish_event(&event(&n))
                .await
                .expect("publish");
        }
        let all = running.wait_for(CITY_POLICE, 3).await;

        let ack = |up_to| Request::Acknowledge {
            agency: agency(CITY_POLICE),
            up_to,
        };
        assert_eq!(
            running.send(&ack(2)).await,
            Reply::Acknowledged { cursor: 2 }
        );
        // An older acknowledgement does not move the cursor back.
        assert_eq!(
            running.send(&ack(1)).await,
            Reply::Acknowledged { cursor: 2 }
        );
        let (unread, acknowledged, latest) = running.list(CITY_POLICE, None).await;
        assert_eq!((acknowledged, latest), (2, 3));
        assert_eq!(unread.len(), 1);
        assert_eq!(unread[0], all[2]);

        match running.send(&ack(4)).await {
            Reply::Refused { refusal } => {
                assert_eq!(refusal.kind, RefusalKind::InvalidArgument);
                assert_eq!(refusal.field.as_deref(), Some("up_to_cursor"));
                assert!(refusal.message.contains("beyond the newest entry 3"));
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        running
    })
    .await;
}

#[tokio::test]
async fn a_page_size_outside_the_limits_is_refused() {
    on_each_backend(|running| async move {
        for limit in [0, api::MAX_PAGE + 1] {
            let request = Request::List {
                agency: agency(CITY_POLICE),
                after: None,
                limit,
            };
            match running.send(&request).await {
                Reply::Refused { refusal } => {
                    assert_eq!(refusal.field.as_deref(), Some("limit"));
                    assert_eq!(refusal.kind, RefusalKind::InvalidArgument);
                }
                other => panic!("limit {limit}: expected a refusal, got {other:?}"),
            }
        }
        running
    })
    .await;
}

#[tokio::test]
async fn a_growing_inbox_wakes_its_readers() {
    on_each_backend(|running| async move {
        let wake_ups = QueueSpec::notifications(&[api::APPENDED_PATTERN]);
        let mut consumer = running.bus().consume(wake_ups).await.expect("consume");
        let n = notice(CaseId::generate(), "submitted", &[CITY_POLICE]);
        running
            .bus()
            .publish_event(&event(&n))
            .await
            .expect("publish");
        let delivery = tokio::time::timeout(WITHIN, consumer.next())
            .await
            .expect("a wake-up")
            .expect("bus open");
        assert_eq!(
            delivery.message.kind,
            api::appended_key(&agency(CITY_POLICE))
        );
        running
    })
    .await;
}

#[tokio::test]
async fn an_event_that_is_not_a_notice_is_dead_lettered() {
    on_each_backend(|running| async move {
        let garbage = Message::new("referral.submitted", b"not a notice".to_vec());
        let id = garbage.id;
        running
            .bus()
            .publish_event(&garbage)
            .await
            .expect("publish");
        let bus = running.bus().clone();
        eventually("the bad event in the dead-letter queue", WITHIN, || {
            let bus = bus.clone();
            async move {
                let dead = bus.dead_letters(100).await.ok()?;
                dead.iter().any(|m| m.id == id).then_some(())
            }
        })
        .await;
        running
    })
    .await;
}

#[tokio::test]
async fn a_batch_appends_in_order_once_each_with_consecutive_cursors_per_agency() {
    for backend in Backend::ALL {
        let dir = tempfile::tempdir().expect("temp dir");
        let stack = TestStack::open(backend, dir.path()).await;
        let app = build(&stack).await;
        // 120 notices (more than one INSERT's worth) to the police, every third copied to the
        // procuratorate, and the fifth delivered twice within the batch.
        let case_id = CaseId::generate();
        let mut batch: Vec<(Message, Notice)> = (0..120)
            .map(|n| {
                let to: &[&str] = if n % 3 == 0 {
                    &[CITY_POLICE, PROCURATORATE]
                } else {
                    &[CITY_POLICE]
                };
                let notice = notice(case_id, &format!("step-{n}"), to);
                (event(&notice), notice)
            })
            .collect();
        batch.insert(6, batch[5].clone());
        let grew = app.inbox().deliver_all(&batch).await.expect("delivered");
        assert_eq!(grew, [agency(CITY_POLICE), agency(PROCURATORATE)]);
        // Delivered again, as a broker would after a lost ack: nothing more.
        let again = app.inbox().deliver_all(&batch[..10]).await.expect("again");
        assert!(again.is_empty(), "{again:?}");

        let mut conn = stack.db.pool().acquire().await.expect("connection");
        let police = casebridge_inbox::store::list(&mut conn, &agency(CITY_POLICE), 0, 500)
            .await
            .expect("list");
        let events: Vec<String> = police.iter().map(|e| e.event.clone()).collect();
        let expected: Vec<String> = (0..120).map(|n| format!("step-{n}")).collect();
        assert_eq!(events, expected, "each once, in delivery order");
        let cursors: Vec<u64> = police.iter().map(|e| e.cursor).collect();
        assert_eq!(cursors, (1..=120).collect::<Vec<u64>>());
        let copied = casebridge_inbox::store::list(&mut conn, &agency(PROCURATORATE), 0, 500)
            .await
            .expect("list");
        assert_eq!(copied.len(), 40);
        assert_eq!(copied.last().map(|e| e.cursor), Some(40));
        drop(conn);
        stack
            .tear_down(&[events_queue(), QueueSpec::commands("inbox")])
            .await;
    }
}

/// A page of the export feed as `viewer` sees it.
async fn export_page(
    app: &InboxApp,
    viewer: &str,
    sees_all: bool,
    kinds: &[api::Kind],
    after: u64,
    limit: u32,
) -> (Vec<serde_json::Value>, u64, bool) {
    let request = Request::Export {
        viewer: agency(viewer),
        sees_all,
        kinds: kinds.to_vec(),
        after,
        limit,
    };
    match app.inbox().handle(request).await.expect("answered") {
        Reply::Exported { lines, next, more } => (
            lines
                .iter()
                .map(|l| serde_json::from_str(l).expect("a JSON line"))
                .collect(),
            next,
            more,
        ),
        other => panic!("expected lines, got {other:?}"),
    }
}

#[tokio::test]
async fn exported_events_are_written_once_each_and_read_by_their_parties_and_supervisors() {
    for backend in Backend::ALL {
        let dir = tempfile::tempdir().expect("temp dir");
        let stack = TestStack::open(backend, dir.path()).await;
        let app = build(&stack).await;
        let case_id = CaseId::generate();
        let step = |name: &str, family: Family, to: &[&str]| {
            let mut n = notice(case_id, name, to);
            n.family = family;
            (event(&n), n)
        };
        let batch = vec![
            step("submitted", Family::Referral, &[CITY_POLICE]),
            // Not exported: a procedural step.
            step("receipt_signed", Family::Referral, &[CITY_POLICE]),
            step("filed", Family::Referral, &[CITY_POLICE]),
            // Not classified: not exported.
            step("brand_new", Family::Referral, &[CITY_POLICE]),
        ];
        app.inbox().deliver_all(&batch).await.expect("delivered");
        // Redelivered: nothing more on the feed.
        app.inbox().deliver_all(&batch).await.expect("again");

        let (all, next, more) = export_page(&app, PROCURATORATE, true, &[], 0, 10).await;
        let events: Vec<&str> = all.iter().filter_map(|l| l["event"].as_str()).collect();
        assert_eq!(events, ["submitted", "filed"]);
        assert_eq!(all[0]["schema"], "casebridge.export.referral.v1");
        assert_eq!(all[1]["outcome"], "filed");
        assert_eq!(all[0]["id"], batch[0].0.id.to_string());
        assert!(!more);
        assert_eq!(all[1]["cursor"], casebridge_inbox::export::cursor(next));

        // The police (a recipient) read them; the market bureau (the actor) too; a stranger
        // that is no supervisor reads nothing.
        let (police, _, _) = export_page(&app, CITY_POLICE, false, &[], 0, 10).await;
        assert_eq!(police, all);
        let (actor, _, _) = export_page(&app, MARKET_BUREAU, false, &[], 0, 10).await;
        assert_eq!(actor, all);
        let (stranger, stranger_next, _) =
            export_page(&app, PROCURATORATE, false, &[], 0, 10).await;
        assert!(stranger.is_empty(), "{stranger:?}");
        assert_eq!(stranger_next, 0);

        // Pages of one, a kind filter, and the same cursor twice.
        let (first, after_first, more) = export_page(&app, CITY_POLICE, false, &[], 0, 1).await;
        assert_eq!(first, all[..1]);
        assert!(more);
        let (second, _, more) = export_page(&app, CITY_POLICE, false, &[], after_first, 1).await;
        assert_eq!(second, all[1..]);
        assert!(!more);
        let (again, _, _) = export_page(&app, CITY_POLICE, false, &[], after_first, 1).await;
        assert_eq!(again, second);
        let (outcomes, _, _) =
            export_page(&app, PROCURATORATE, true, &[api::Kind::Outcome], 0, 10).await;
        assert_eq!(outcomes, all[1..]);

        for limit in [0, api::EXPORT_MAX_PAGE + 1] {
            let request = Request::Export {
                viewer: agency(PROCURATORATE),
                sees_all: true,
                kinds: Vec::new(),
                after: 0,
                limit,
            };
            match app.inbox().handle(request).await.expect("answered") {
                Reply::Refused { refusal } => assert_eq!(refusal.field.as_deref(), Some("limit")),
                other => panic!("limit {limit}: expected a refusal, got {other:?}"),
            }
        }
        stack
            .tear_down(&[events_queue(), QueueSpec::commands("inbox")])
            .await;
    }
}
