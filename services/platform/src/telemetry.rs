//! Tracing set-up and W3C trace-context propagation through message headers, so one trace
//! spans gateway → service → consumers.
//!
//! Personal data never reaches logs: domain types that hold it
//! ([`casebridge_core::personal::PersonalData`]) print as `«redacted»`, and handlers log ids,
//! never request bodies.

use std::collections::BTreeMap;

use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

pub use crate::settings::LogFormat;
use crate::settings::{OtlpProtocol, TraceSettings};

/// Keeps the tracer provider alive; flushes spans when dropped.
#[derive(Debug)]
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        let _ = self.provider.shutdown();
    }
}

/// Installs the global subscriber: logs on stderr filtered by `filter` (`RUST_LOG` syntax), as
/// readable text or as JSON lines (`format`), and OpenTelemetry spans so trace ids exist and
/// propagate, exported by OTLP to `trace.endpoint` when it is set. Calling it twice keeps the
/// first subscriber (tests call it freely). Call it inside the Tokio runtime: the OTLP
/// exporter's gRPC channel runs on it.
pub fn init(
    filter: &str,
    format: LogFormat,
    trace: &TraceSettings,
    service_name: &'static str,
) -> TelemetryGuard {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let provider = tracer_provider(trace, service_name);
    let tracer = provider.tracer(service_name);
    let filter = log_filter(filter);
    let colour = use_colour(
        std::io::IsTerminal::is_terminal(&std::io::stderr()),
        std::env::var_os("NO_COLOR").as_deref(),
    );
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let logs = match format {
        LogFormat::Text => logs
            .with_ansi(colour)
            .with_target(false)
            .with_filter(filter)
            .boxed(),
        LogFormat::Json => logs
            .with_ansi(false)
            .event_format(JsonLines)
            .with_filter(filter)
            .boxed(),
    };
    let _ = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(tracer))
        .with(logs)
        .try_init();
    TelemetryGuard { provider }
}

/// Spans named for `service_name`, sampled at `trace.sample_ratio` where this process starts a
/// trace (a trace begun elsewhere keeps its parent's decision), and sent in batches to the
/// OTLP collector at `trace.endpoint` when one is set. A collector that cannot be reached costs
/// spans, never requests: the batch queue is bounded and drops when full.
fn tracer_provider(trace: &TraceSettings, service_name: &'static str) -> SdkTracerProvider {
    use opentelemetry_sdk::trace::Sampler;
    let sampler = Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(trace.sample_ratio)));
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service_name)
        .build();
    let builder = SdkTracerProvider::builder()
        .with_sampler(sampler)
        .with_resource(resource);
    if trace.endpoint.is_empty() {
        return builder.build();
    }
    let exporter = match trace.protocol {
        OtlpProtocol::Grpc => {
            use opentelemetry_otlp::WithExportConfig;
            opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(trace.endpoint.clone())
                .build()
        }
    };
    match exporter {
        Ok(exporter) => builder.with_batch_exporter(exporter).build(),
        Err(error) => {
            // Logging is not set up yet; the process runs on without exporting.
            eprintln!(
                "warning: spans will not be exported: cannot set up OTLP export to {} \
                 (trace.endpoint): {error}",
                trace.endpoint
            );
            builder.build()
        }
    }
}

/// Log events as JSON lines, one object each: `time` (RFC 3339, UTC), `level`, `target`,
/// `message` and the event's other fields, the innermost `span`'s name, and its OpenTelemetry
/// `trace_id` and `span_id`, so a line can be found from a trace and the reverse.
struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let meta = event.metadata();
        let mut line = serde_json::Map::new();
        line.insert(
            "time".into(),
            chrono::Utc::now()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                .into(),
        );
        line.insert("level".into(), meta.level().as_str().into());
        line.insert("target".into(), meta.target().into());
        event.record(&mut JsonFields(&mut line));
        if let Some(span) = ctx.lookup_current() {
            line.insert("span".into(), span.name().into());
            let ids = span
                .extensions()
                .get::<tracing_opentelemetry::OtelData>()
                .and_then(|otel| Some((otel.trace_id()?, otel.span_id()?)));
            if let Some((trace_id, span_id)) = ids {
                line.insert("trace_id".into(), trace_id.to_string().into());
                line.insert("span_id".into(), span_id.to_string().into());
            }
        }
        let text = serde_json::Value::Object(line).to_string();
        writeln!(writer, "{text}")
    }
}

/// An event's fields into a JSON object; values that are not numbers or booleans as text.
struct JsonFields<'a>(&'a mut serde_json::Map<String, serde_json::Value>);

impl Visit for JsonFields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
}

/// Events of dependencies that print message bodies, and so personal data, whatever the level
/// asked for: lapin logs every message the broker returns, body and all (CaseBridge handles a
/// returned message itself, as an unroutable publish).
const NEVER_LOGGED: &[&str] = &["lapin::returned_messages=off"];

/// The filter for `filter` (`RUST_LOG` syntax; `info` when it does not parse), with the
/// [`NEVER_LOGGED`] targets off.
fn log_filter(filter: &str) -> EnvFilter {
    let mut filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    for directive in NEVER_LOGGED {
        if let Ok(directive) = directive.parse() {
            filter = filter.add_directive(directive);
        }
    }
    filter
}

/// Colour codes only for a person at a terminal: never into a file, a pipe or journald, and never
/// when `NO_COLOR` is set to anything but the empty string (no-color.org).
fn use_colour(stderr_is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(std::ffi::OsStr::is_empty)
}

struct Headers<'a>(&'a mut BTreeMap<String, String>);

impl Injector for Headers<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

struct ReadHeaders<'a>(&'a BTreeMap<String, String>);

impl Extractor for ReadHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

/// Writes the current span's trace context (`traceparent`) into message headers.
pub fn inject_context(headers: &mut BTreeMap<String, String>) {
    let cx = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|p| {
        p.inject_context(&cx, &mut Headers(headers))
    });
}

/// Makes `span` a child of the trace context carried in message headers.
pub fn continue_trace(span: &tracing::Span, headers: &BTreeMap<String, String>) {
    let _ = span.set_parent(carried(headers));
}

/// The trace context carried in message headers.
fn carried(headers: &BTreeMap<String, String>) -> opentelemetry::Context {
    opentelemetry::global::get_text_map_propagator(|p| p.extract(&ReadHeaders(headers)))
}

/// Links `span` to the trace context carried in message headers, when it is not its parent:
/// the other messages of a batch.
pub fn link_trace(span: &tracing::Span, headers: &BTreeMap<String, String>) {
    let cx = carried(headers);
    let linked = opentelemetry::trace::TraceContextExt::span(&cx)
        .span_context()
        .clone();
    if linked.is_valid() {
        span.add_link(linked);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Collects what a subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .expect("not poisoned")
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_returned_message_body_is_never_logged_even_at_trace_level() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_env_filter(log_filter("trace"))
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(target: "lapin::returned_messages", body = "张三 350102199001011234", "Server returned us a message");
            tracing::warn!(target: "lapin::channel", "channel closed");
        });
        let text =
            String::from_utf8(captured.0.lock().expect("not poisoned").clone()).expect("UTF-8");
        assert!(!text.contains("张三"), "{text}");
        assert!(
            text.contains("channel closed"),
            "other lapin events still log: {text}"
        );
    }

    /// Issue 17: `log_format = "json"` writes one object a line carrying the trace and span ids
    /// of the span the event happened in.
    #[test]
    fn a_json_line_carries_its_fields_and_the_trace_and_span_ids() {
        let captured = Captured::default();
        let writer = captured.clone();
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("json-test")))
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(move || writer.clone())
                    .with_ansi(false)
                    .event_format(JsonLines),
            );
        let (trace_id, span_id) = tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("settle", queue = "referrals.commands");
            span.in_scope(|| {
                tracing::info!(case = "01a2", count = 3_u64, replayed = false, "settled");
            });
            let cx = span.context();
            let context = opentelemetry::trace::TraceContextExt::span(&cx)
                .span_context()
                .clone();
            (
                context.trace_id().to_string(),
                context.span_id().to_string(),
            )
        });
        let text =
            String::from_utf8(captured.0.lock().expect("not poisoned").clone()).expect("UTF-8");
        let line: serde_json::Value = serde_json::from_str(text.trim()).expect("one JSON line");
        assert_eq!(line["level"], "INFO", "{line}");
        assert_eq!(line["message"], "settled", "{line}");
        assert_eq!(line["case"], "01a2", "{line}");
        assert_eq!(line["count"], 3, "{line}");
        assert_eq!(line["replayed"], false, "{line}");
        assert_eq!(line["span"], "settle", "{line}");
        assert_eq!(line["trace_id"], trace_id.as_str(), "{line}");
        assert_eq!(line["span_id"], span_id.as_str(), "{line}");
        assert_ne!(trace_id, opentelemetry::trace::TraceId::INVALID.to_string());
        assert!(!text.contains('\u{1b}'), "no colour codes: {text}");
    }

    #[test]
    fn logs_are_coloured_only_at_a_terminal_without_no_color() {
        use std::ffi::OsStr;
        assert!(use_colour(true, None));
        assert!(use_colour(true, Some(OsStr::new(""))));
        assert!(!use_colour(true, Some(OsStr::new("1"))));
        assert!(
            !use_colour(false, None),
            "a file, a pipe or journald gets plain text"
        );
    }
}
