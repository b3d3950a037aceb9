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
fn a_definitions_file_gives_each_queue_the_arguments_the_bus_declares() {
    let topology = Topology::new("ns");
    let definitions = topology.definitions(
        "vh",
        &[
            QueueSpec::commands("referrals"),
            QueueSpec::events("inbox", &["referral.#", "transfer.#"]),
            QueueSpec::notifications(&["inbox.appended.*"]),
        ],
        7,
        QueueType::Quorum,
    );
    let queues = definitions["queues"].as_array().expect("queues");
    let names: Vec<&str> = queues.iter().filter_map(|q| q["name"].as_str()).collect();
    assert_eq!(
        names,
        [
            "ns.dead-letters",
            "ns.referrals.commands",
            "ns.inbox.events"
        ],
        "durable queues only: a notification queue is each process's own"
    );
    assert_eq!(
        queues[1]["arguments"],
        serde_json::json!({
            "x-queue-type": "quorum",
            "x-delivery-limit": 7,
            "x-dead-letter-exchange": "ns.dead-letter",
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        })
    );
    assert_eq!(
        queues[0]["arguments"],
        serde_json::json!({"x-queue-type": "quorum"})
    );
    let bindings: Vec<(&str, &str, &str)> = definitions["bindings"]
        .as_array()
        .expect("bindings")
        .iter()
        .map(|b| {
            (
                b["source"].as_str().unwrap_or_default(),
                b["destination"].as_str().unwrap_or_default(),
                b["routing_key"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        bindings,
        [
            ("ns.dead-letter", "ns.dead-letters", ""),
            ("ns.commands", "ns.referrals.commands", "referrals"),
            ("ns.events", "ns.inbox.events", "referral.#"),
            ("ns.events", "ns.inbox.events", "transfer.#"),
        ]
    );
    assert!(
        ["vhosts", "exchanges", "queues", "bindings"]
            .iter()
            .all(|part| definitions[part]
                .as_array()
                .expect("a list")
                .iter()
                .all(|item| item.get("vhost").is_none_or(|v| v == "vh"))),
        "every item is in the vhost asked for"
    );
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
