use super::*;

fn text(args: &FieldTable, key: &str) -> Option<String> {
    match args.inner().get(&ShortString::from(key)) {
        Some(AMQPValue::LongString(value)) => Some(value.to_string()),
        _ => None,
    }
}

fn has(args: &FieldTable, key: &str) -> bool {
    args.inner().contains_key(&ShortString::from(key))
}

#[test]
fn a_consumed_queue_dead_letters_at_least_once_and_the_parking_queue_does_not() {
    let consumed = queue_arguments(&Topology::new("ns"), 5, QueueType::Quorum);
    assert_eq!(text(&consumed, "x-queue-type").as_deref(), Some("quorum"));
    assert_eq!(
        text(&consumed, "x-dead-letter-exchange").as_deref(),
        Some("ns.dead-letter")
    );
    assert_eq!(
        text(&consumed, "x-dead-letter-strategy").as_deref(),
        Some("at-least-once")
    );
    assert_eq!(
        text(&consumed, "x-overflow").as_deref(),
        Some("reject-publish"),
        "RabbitMQ needs it for at-least-once dead-lettering"
    );
    assert!(has(&consumed, "x-delivery-limit"));
    let parking = queue_arguments(&Topology::new("ns"), 0, QueueType::Quorum);
    assert_eq!(text(&parking, "x-queue-type").as_deref(), Some("quorum"));
    assert_eq!(text(&parking, "x-dead-letter-exchange"), None);
}

#[test]
fn a_classic_queue_parks_what_is_rejected_and_asks_for_nothing_only_quorum_queues_have() {
    let consumed = queue_arguments(&Topology::new("ns"), 5, QueueType::Classic);
    assert_eq!(text(&consumed, "x-queue-type").as_deref(), Some("classic"));
    assert_eq!(
        text(&consumed, "x-dead-letter-exchange").as_deref(),
        Some("ns.dead-letter")
    );
    for quorum_only in ["x-delivery-limit", "x-dead-letter-strategy", "x-overflow"] {
        assert!(
            !has(&consumed, quorum_only),
            "{quorum_only} on a classic queue"
        );
    }
    let parking = queue_arguments(&Topology::new("ns"), 0, QueueType::Classic);
    assert_eq!(text(&parking, "x-queue-type").as_deref(), Some("classic"));
    assert_eq!(text(&parking, "x-dead-letter-exchange"), None);
}
