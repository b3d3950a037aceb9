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
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

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

/// Installs the global subscriber: human-readable logs on stderr filtered by `filter`
/// (`RUST_LOG` syntax), and OpenTelemetry spans so trace ids exist and propagate.
/// Calling it twice keeps the first subscriber (tests call it freely).
pub fn init(filter: &str, service_name: &'static str) -> TelemetryGuard {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let provider = SdkTracerProvider::builder().build();
    let tracer = provider.tracer(service_name);
    let filter = log_filter(filter);
    let colour = use_colour(
        std::io::IsTerminal::is_terminal(&std::io::stderr()),
        std::env::var_os("NO_COLOR").as_deref(),
    );
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(colour)
                .with_target(false)
                .with_filter(filter),
        )
        .with(tracing_opentelemetry::layer().with_tracer(tracer))
        .try_init();
    TelemetryGuard { provider }
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
    let cx = opentelemetry::global::get_text_map_propagator(|p| p.extract(&ReadHeaders(headers)));
    let _ = span.set_parent(cx);
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
