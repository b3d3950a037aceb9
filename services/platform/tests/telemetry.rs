//! Trace context travels in message headers, so one trace spans producer and consumer.

use casebridge_platform::bus::Message;
use casebridge_platform::telemetry;
use opentelemetry::trace::TraceContextExt as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

#[test]
fn a_consumer_continues_the_trace_of_the_span_that_published_the_message() {
    let _guard = telemetry::init(
        "debug",
        telemetry::LogFormat::Text,
        &Default::default(),
        "telemetry-test",
    );
    let producer = tracing::info_span!("producer");
    let message = producer.in_scope(|| Message::new("referral.submitted", Vec::new()));
    let trace_id = producer.context().span().span_context().trace_id();
    assert_ne!(
        trace_id,
        opentelemetry::trace::TraceId::INVALID,
        "the producer span has no trace"
    );

    let traceparent = message
        .headers
        .get("traceparent")
        .expect("a traceparent header");
    assert!(traceparent.contains(&trace_id.to_string()), "{traceparent}");

    let consumer = tracing::info_span!("consumer");
    telemetry::continue_trace(&consumer, &message.headers);
    assert_eq!(
        consumer.context().span().span_context().trace_id(),
        trace_id
    );

    let unrelated = tracing::info_span!("unrelated");
    assert_ne!(
        unrelated.context().span().span_context().trace_id(),
        trace_id
    );
}
