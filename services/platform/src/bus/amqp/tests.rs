use super::*;

fn text(args: &FieldTable, key: &str) -> Option<String> {
    match args.inner().get(&ShortString::from(key)) {
        Some(AMQPValue::LongString(value)) => Some(value.to_string()),
        _ => None,
    }
}

#[test]
fn a_consumed_queue_dead_letters_at_least_once_and_the_parking_queue_does_not() {
    let consumed = queue_arguments(&Topology::new("ns"), 5);
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
    let parking = queue_arguments(&Topology::new("ns"), 0);
    assert_eq!(text(&parking, "x-queue-type").as_deref(), Some("quorum"));
    assert_eq!(text(&parking, "x-dead-letter-exchange"), None);
}
