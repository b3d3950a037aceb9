//! Bus conformance: the same contract checked on the embedded bus and on RabbitMQ.

use std::time::Duration;

use casebridge_platform::bus::{Bus, BusError, Message, QueueSpec};
use casebridge_platform::testing::{self, eventually};

const WAIT: Duration = Duration::from_secs(10);

/// Runs `scenario` against both buses. The AMQP run gets a unique namespace and deletes it after.
macro_rules! on_both_buses {
    ($name:ident, $scenario:ident) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_the_embedded_bus() {
                let dir = tempfile::tempdir().expect("tempdir");
                let bus = testing::embedded_bus(dir.path()).await;
                let reopen = {
                    let path = dir.path().to_owned();
                    move || {
                        let path = path.clone();
                        async move { testing::embedded_bus(&path).await }
                    }
                };
                $scenario(bus, reopen).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_rabbitmq() {
                let namespace = testing::unique_name("cbtest");
                let bus = testing::amqp_bus(&namespace).await;
                let reopen = {
                    let namespace = namespace.clone();
                    move || {
                        let namespace = namespace.clone();
                        async move { testing::amqp_bus(&namespace).await }
                    }
                };
                $scenario(bus, reopen).await;
                let cleanup = testing::amqp_bus(&namespace).await;
                if let Bus::Amqp(b) = &cleanup {
                    b.delete_topology(&specs()).await.expect("delete topology");
                }
            }
        }
    };
}

fn events_queue() -> QueueSpec {
    QueueSpec::events("audit", &["referral.#"])
}

fn commands_queue() -> QueueSpec {
    QueueSpec::commands("echo")
}

fn specs() -> Vec<QueueSpec> {
    vec![events_queue(), commands_queue()]
}

fn event(kind: &str, n: u32) -> Message {
    Message::json(kind, &n).expect("encode")
}

async fn a_published_event_reaches_its_queue_once_and_an_ack_removes_it<F, Fut>(bus: Bus, reopen: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Bus>,
{
    bus.declare(&events_queue()).await.expect("declare");
    let sent = event("referral.submitted", 1);
    bus.publish_event(&sent).await.expect("publish");
    let mut consumer = bus.consume(events_queue()).await.expect("consume");
    let got = tokio::time::timeout(WAIT, consumer.next())
        .await
        .expect("delivery")
        .expect("open");
    assert_eq!(got.message.id, sent.id);
    assert_eq!(got.message.kind, "referral.submitted");
    assert_eq!(got.message.decode::<u32>().expect("decode"), 1);
    got.ack().await.expect("ack");
    drop(consumer);
    bus.close().await;

    // After a restart nothing comes back: the ack was durable.
    let bus = reopen().await;
    let mut consumer = bus.consume(events_queue()).await.expect("consume");
    let marker = event("referral.marker", 2);
    bus.publish_event(&marker).await.expect("publish");
    let next = tokio::time::timeout(WAIT, consumer.next())
        .await
        .expect("delivery")
        .expect("open");
    assert_eq!(
        next.message.id, marker.id,
        "the acked message was delivered again"
    );
    next.ack().await.expect("ack");
    bus.close().await;
}
on_both_buses!(
    acked_events,
    a_published_event_reaches_its_queue_once_and_an_ack_removes_it
);

async fn an_unsettled_delivery_comes_back_after_a_restart<F, Fut>(bus: Bus, reopen: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Bus>,
{
    bus.declare(&events_queue()).await.expect("declare");
    let sent = event("referral.filed", 7);
    bus.publish_event(&sent).await.expect("publish");
    let mut consumer = bus.consume(events_queue()).await.expect("consume");
    let got = tokio::time::timeout(WAIT, consumer.next())
        .await
        .expect("delivery")
        .expect("open");
    assert_eq!(got.message.id, sent.id);
    // Crash before the ack: the process goes away with the delivery unsettled.
    std::mem::forget(got);
    drop(consumer);
    bus.close().await;

    let bus = reopen().await;
    let mut consumer = bus.consume(events_queue()).await.expect("consume");
    let again = tokio::time::timeout(WAIT, consumer.next())
        .await
        .expect("redelivery")
        .expect("open");
    assert_eq!(again.message.id, sent.id);
    again.ack().await.expect("ack");
    bus.close().await;
}
on_both_buses!(redelivery, an_unsettled_delivery_comes_back_after_a_restart);

async fn a_message_requeued_past_the_delivery_limit_is_dead_lettered<F, Fut>(bus: Bus, _reopen: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Bus>,
{
    bus.declare(&events_queue()).await.expect("declare");
    let poison = event("referral.poison", 9);
    bus.publish_event(&poison).await.expect("publish");
    let mut consumer = bus.consume(events_queue()).await.expect("consume");
    let mut deliveries = 0;
    let mut seen_counts = Vec::new();
    // The limit in testing buses is 5 deliveries; after that the message must stop coming.
    while let Ok(Some(d)) = tokio::time::timeout(Duration::from_secs(3), consumer.next()).await {
        assert_eq!(d.message.id, poison.id);
        deliveries += 1;
        seen_counts.push(d.previous_deliveries);
        d.requeue().await.expect("requeue");
        assert!(
            deliveries <= 7,
            "delivered {deliveries} times despite the limit"
        );
    }
    assert!(
        deliveries >= 5,
        "only {deliveries} deliveries before dead-lettering"
    );
    assert!(
        seen_counts.windows(2).all(|w| w[0] < w[1]),
        "delivery counts {seen_counts:?}"
    );
    let dead = eventually("the message in the dead-letter queue", WAIT, || async {
        let dead = bus.dead_letters(10).await.expect("peek");
        dead.iter().any(|m| m.id == poison.id).then_some(dead)
    })
    .await;
    assert_eq!(dead.len(), 1);
    bus.close().await;
}
on_both_buses!(
    delivery_limit,
    a_message_requeued_past_the_delivery_limit_is_dead_lettered
);

async fn a_rejected_message_goes_to_the_dead_letter_queue_and_is_not_redelivered<F, Fut>(
    bus: Bus,
    _reopen: F,
) where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Bus>,
{
    bus.declare(&events_queue()).await.expect("declare");
    let bad = event("referral.bad", 3);
    let good = event("referral.good", 4);
    bus.publish_event(&bad).await.expect("publish");
    bus.publish_event(&good).await.expect("publish");
    let mut consumer = bus.consume(events_queue()).await.expect("consume");
    let first = tokio::time::timeout(WAIT, consumer.next())
        .await
        .expect("delivery")
        .expect("open");
    assert_eq!(first.message.id, bad.id);
    first.dead_letter().await.expect("reject");
    let second = tokio::time::timeout(WAIT, consumer.next())
        .await
        .expect("delivery")
        .expect("open");
    assert_eq!(second.message.id, good.id);
    second.ack().await.expect("ack");
    let dead = eventually("the rejected message parked", WAIT, || async {
        let dead = bus.dead_letters(10).await.expect("peek");
        (!dead.is_empty()).then_some(dead)
    })
    .await;
    assert_eq!(dead.iter().map(|m| m.id).collect::<Vec<_>>(), vec![bad.id]);
    bus.close().await;
}
on_both_buses!(
    rejection,
    a_rejected_message_goes_to_the_dead_letter_queue_and_is_not_redelivered
);

async fn an_event_no_queue_is_bound_for_is_refused_not_dropped<F, Fut>(bus: Bus, _reopen: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Bus>,
{
    bus.declare(&events_queue()).await.expect("declare");
    let err = bus
        .publish_event(&event("transfer.sent", 5))
        .await
        .expect_err("unroutable");
    assert!(
        matches!(err, BusError::Unroutable(ref k) if k == "transfer.sent"),
        "{err}"
    );
    bus.close().await;
}
on_both_buses!(
    unroutable,
    an_event_no_queue_is_bound_for_is_refused_not_dropped
);

async fn a_request_gets_the_reply_of_its_own_correlation<F, Fut>(bus: Bus, _reopen: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Bus>,
{
    bus.declare(&commands_queue()).await.expect("declare");
    let server = bus.clone();
    let mut commands = server.consume(commands_queue()).await.expect("consume");
    let echo = tokio::spawn(async move {
        for _ in 0..3 {
            let Some(d) = commands.next().await else {
                return;
            };
            let n: u32 = d.message.decode().expect("decode");
            let reply = d
                .message
                .reply_with(serde_json::to_vec(&(n * 10)).expect("encode"));
            let to = d.message.reply_to.clone().expect("reply_to");
            server.reply(&to, &reply).await.expect("reply");
            d.ack().await.expect("ack");
        }
    });
    let requests = (1..=3u32).map(|n| {
        let bus = bus.clone();
        async move {
            let reply = bus
                .request("echo", Message::json("echo", &n).expect("encode"), WAIT)
                .await
                .expect("reply");
            (n, reply.decode::<u32>().expect("decode"))
        }
    });
    for (n, answer) in futures_util::future::join_all(requests).await {
        assert_eq!(answer, n * 10);
    }
    echo.await.expect("echo server");
    let err = bus
        .request(
            "nobody",
            Message::json("x", &0).expect("encode"),
            Duration::from_millis(500),
        )
        .await
        .expect_err("no such service");
    assert!(matches!(err, BusError::Unroutable(_)), "{err}");
    bus.close().await;
}
on_both_buses!(
    request_reply,
    a_request_gets_the_reply_of_its_own_correlation
);

/// A requester that went away (a gateway that stopped) leaves its replies nobody to go to: the
/// server's reply is dropped without an error, and the server's bus goes on working.
async fn a_reply_to_a_requester_that_is_gone_is_dropped<F, Fut>(server: Bus, reopen: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Bus>,
{
    server.declare(&commands_queue()).await.expect("declare");
    let mut commands = server.consume(commands_queue()).await.expect("consume");
    let requester = reopen().await;
    let asked = requester.clone();
    let waiting = tokio::spawn(async move {
        asked
            .request(
                "echo",
                Message::json("echo", &1u32).expect("encode"),
                Duration::from_millis(300),
            )
            .await
    });
    let command = tokio::time::timeout(WAIT, commands.next())
        .await
        .expect("command")
        .expect("open");
    let gave_up = waiting.await.expect("requester");
    assert!(matches!(gave_up, Err(BusError::Timeout(_))), "{gave_up:?}");
    requester.close().await;
    let to = command.message.reply_to.clone().expect("reply_to");
    let reply = command.message.reply_with(b"10".to_vec());
    server
        .reply(&to, &reply)
        .await
        .expect("a reply to nobody is no error");
    command.ack().await.expect("ack");
    // The server's link is intact: it still publishes and consumes.
    server.declare(&events_queue()).await.expect("declare");
    let mut consumer = server.consume(events_queue()).await.expect("consume");
    let sent = event("referral.after", 2);
    server.publish_event(&sent).await.expect("publish after");
    let got = tokio::time::timeout(WAIT, consumer.next())
        .await
        .expect("delivery")
        .expect("open");
    assert_eq!(got.message.id, sent.id);
    server.close().await;
}

/// One bus both asks and answers, as when every component runs in one process: two hundred
/// requests, eight at a time, each get their reply while other replies and requests are
/// published on the same channel, and none is refused.
async fn one_bus_asks_and_answers_many_times<F, Fut>(bus: Bus, _reopen: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Bus>,
{
    const ASKERS: u32 = 8;
    const ROUNDS: u32 = 25;
    bus.declare(&commands_queue()).await.expect("declare");
    let server = bus.clone();
    let mut commands = server.consume(commands_queue()).await.expect("consume");
    let echo = tokio::spawn(async move {
        let mut answers = tokio::task::JoinSet::new();
        for _ in 0..ASKERS * ROUNDS {
            let Some(d) = commands.next().await else {
                break;
            };
            let server = server.clone();
            answers.spawn(async move {
                let n: u32 = d.message.decode().expect("decode");
                let reply = d
                    .message
                    .reply_with(serde_json::to_vec(&(n + 1)).expect("encode"));
                let to = d.message.reply_to.clone().expect("reply_to");
                server.reply(&to, &reply).await.expect("reply");
                d.ack().await.expect("ack");
            });
        }
        while answers.join_next().await.is_some() {}
    });
    let askers = (0..ASKERS).map(|asker| {
        let bus = bus.clone();
        async move {
            for round in 0..ROUNDS {
                let n = asker * 1000 + round;
                let reply = bus
                    .request("echo", Message::json("echo", &n).expect("encode"), WAIT)
                    .await
                    .unwrap_or_else(|e| panic!("request {n}: {e}"));
                assert_eq!(reply.decode::<u32>().expect("decode"), n + 1);
            }
        }
    });
    futures_util::future::join_all(askers).await;
    echo.await.expect("echo server");
    bus.close().await;
}
on_both_buses!(one_bus, one_bus_asks_and_answers_many_times);

on_both_buses!(
    reply_to_nobody,
    a_reply_to_a_requester_that_is_gone_is_dropped
);

async fn notifications_see_events_without_acks<F, Fut>(bus: Bus, _reopen: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Bus>,
{
    let mut watcher = bus
        .consume(QueueSpec::notifications(&["inbox.#"]))
        .await
        .expect("consume");
    let sent = event("inbox.appended", 11);
    bus.publish_event(&sent).await.expect("publish");
    let got = tokio::time::timeout(WAIT, watcher.next())
        .await
        .expect("notification")
        .expect("open");
    assert_eq!(got.message.id, sent.id);
    got.ack().await.expect("no-op ack");
    bus.close().await;
}
on_both_buses!(notifications, notifications_see_events_without_acks);

async fn a_batch_consumer_takes_what_has_arrived_together_and_settles_each_by_its_outcome<F, Fut>(
    bus: Bus,
    reopen: F,
) where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Bus>,
{
    use casebridge_platform::host::{Outcome, run_batch_consumer};
    use std::sync::{Arc, Mutex};

    bus.declare(&events_queue()).await.expect("declare");
    // 40 events wait in the queue before the consumer starts; the 7th cannot be processed.
    let sent: Vec<Message> = (0..40).map(|n| event("referral.step", n)).collect();
    for message in &sent {
        bus.publish_event(message).await.expect("publish");
    }
    let poison = sent[7].id;
    let batches: Arc<Mutex<Vec<Vec<u32>>>> = Arc::default();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let consumer = tokio::spawn(run_batch_consumer(
        bus.clone(),
        events_queue(),
        16,
        1,
        shutdown.clone(),
        {
            let batches = batches.clone();
            move |messages: Vec<Message>| {
                let batches = batches.clone();
                async move {
                    let numbers: Vec<u32> = messages
                        .iter()
                        .map(|m| m.decode().expect("a number"))
                        .collect();
                    batches.lock().expect("lock").push(numbers);
                    messages
                        .iter()
                        .map(|m| {
                            if m.id == poison {
                                Outcome::Poison {
                                    error: "cannot be processed".into(),
                                }
                            } else {
                                Outcome::Done { reply: None }
                            }
                        })
                        .collect::<Vec<_>>()
                }
            }
        },
    ));
    let seen = eventually("all 40 handled", WAIT, || async {
        let seen: Vec<u32> = batches.lock().expect("lock").concat();
        (seen.len() >= 40).then_some(seen)
    })
    .await;
    shutdown.cancel();
    consumer.await.expect("joined").expect("consumer ran");
    // Each once, in the queue's order, and more than one per batch: they were waiting.
    assert_eq!(seen, (0..40).collect::<Vec<u32>>());
    let sizes: Vec<usize> = batches.lock().expect("lock").iter().map(Vec::len).collect();
    assert!(sizes.iter().all(|&n| n <= 16), "{sizes:?}");
    assert!(sizes.iter().any(|&n| n > 1), "{sizes:?}");
    // The poison one went to the dead letters; the rest were acked.
    let dead = eventually("the poison message parked", WAIT, || async {
        let dead = bus.dead_letters(10).await.expect("peek");
        (!dead.is_empty()).then_some(dead)
    })
    .await;
    assert_eq!(dead.iter().map(|m| m.id).collect::<Vec<_>>(), vec![poison]);
    bus.close().await;
    let bus = reopen().await;
    let mut consumer = bus.consume(events_queue()).await.expect("consume");
    let marker = event("referral.marker", 99);
    bus.publish_event(&marker).await.expect("publish");
    let next = tokio::time::timeout(WAIT, consumer.next())
        .await
        .expect("delivery")
        .expect("open");
    assert_eq!(next.message.id, marker.id, "an acked event came back");
    next.ack().await.expect("ack");
    bus.close().await;
}
on_both_buses!(
    batches,
    a_batch_consumer_takes_what_has_arrived_together_and_settles_each_by_its_outcome
);

/// Classic queues (`bus.queue_type = "classic"`, a single-node broker) keep the contract that
/// does not need a delivery count: an event reaches its queue once, a rejected message is parked
/// and not redelivered; and RabbitMQ refuses a bus of the other kind on the same queues, which is
/// why changing the setting needs the queues deleted (docs/operations.md, "Queue type").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classic_queues_deliver_and_park_and_the_other_kind_is_refused_on_them() {
    use casebridge_platform::settings::QueueType;
    let namespace = testing::unique_name("cbtest");
    let bus = testing::amqp_bus_of(&namespace, QueueType::Classic)
        .await
        .expect("classic queues on the one broker");
    bus.declare(&events_queue()).await.expect("declare");
    let bad = event("referral.bad", 1);
    let good = event("referral.good", 2);
    bus.publish_event(&bad).await.expect("publish");
    bus.publish_event(&good).await.expect("publish");
    let mut consumer = bus.consume(events_queue()).await.expect("consume");
    let first = tokio::time::timeout(WAIT, consumer.next())
        .await
        .expect("delivery")
        .expect("open");
    assert_eq!(first.message.id, bad.id);
    first.dead_letter().await.expect("reject");
    let second = tokio::time::timeout(WAIT, consumer.next())
        .await
        .expect("delivery")
        .expect("open");
    assert_eq!(second.message.id, good.id);
    second.ack().await.expect("ack");
    let dead = eventually("the rejected message parked", WAIT, || async {
        let dead = bus.dead_letters(10).await.expect("peek");
        (!dead.is_empty()).then_some(dead)
    })
    .await;
    assert_eq!(dead.iter().map(|m| m.id).collect::<Vec<_>>(), vec![bad.id]);
    drop(consumer);

    let refused = testing::amqp_bus_of(&namespace, QueueType::Quorum)
        .await
        .map(|_| ())
        .expect_err("quorum queues where classic ones are");
    let said = refused.to_string();
    assert!(
        said.contains("PRECONDITION_FAILED") && said.contains("x-queue-type"),
        "{said}"
    );

    if let Bus::Amqp(b) = &bus {
        b.delete_topology(&specs()).await.expect("delete topology");
    }
    bus.close().await;
}
