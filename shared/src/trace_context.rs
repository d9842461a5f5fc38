//! W3C trace context (`traceparent`) for work that leaves the process, so
//! one trace runs from the upload through the worker to the ready event.
//!
//! The sender stores [`current`] with the message (the `traceparent` field
//! of a [`crate::domain::TranscodeJob`] or [`crate::events::Event`], and the
//! AMQP header of the same name); the receiver opens its span and calls
//! [`set_parent`] with it before entering. Both do nothing while traces are
//! not exported (see [`crate::telemetry`]): messages then carry no context.

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use std::collections::HashMap;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The HTTP and AMQP header, and the message field, holding the context.
pub const TRACEPARENT: &str = "traceparent";

/// The `traceparent` of the current span; `None` when traces are not exported.
pub fn current() -> Option<String> {
    let context = tracing::Span::current().context();
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.remove(TRACEPARENT)
}

/// Makes the remote span named by `traceparent` the parent of `span`; call
/// it before entering `span`. A missing or malformed value leaves `span`
/// the root of a trace of its own.
pub fn set_parent(span: &tracing::Span, traceparent: Option<&str>) {
    let Some(traceparent) = traceparent else {
        return;
    };
    let carrier = HashMap::from([(TRACEPARENT.to_owned(), traceparent.to_owned())]);
    let context = TraceContextPropagator::new().extract(&carrier);
    if context.span().span_context().is_valid() {
        // Fails only when traces are not exported: nothing to link then.
        let _ = span.set_parent(context);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing_subscriber::layer::SubscriberExt;

    const REMOTE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    /// `(trace id, span id)` of a `traceparent`.
    fn ids(traceparent: &str) -> (&str, &str) {
        let parts: Vec<&str> = traceparent.split('-').collect();
        assert_eq!(parts.len(), 4, "{traceparent}");
        (parts[1], parts[2])
    }

    #[test]
    fn a_span_continues_the_trace_it_was_given() {
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, || {
            let job = tracing::info_span!("job");
            set_parent(&job, Some(REMOTE));
            let inside = job.in_scope(current).expect("a context inside the span");
            let (trace, span) = ids(&inside);
            assert_eq!(trace, ids(REMOTE).0);
            assert_ne!(span, ids(REMOTE).1);

            let fresh = tracing::info_span!("fresh");
            set_parent(&fresh, Some("not a traceparent"));
            let own = fresh.in_scope(current).expect("a context of its own");
            assert_ne!(ids(&own).0, ids(REMOTE).0);
        });
    }

    #[test]
    fn nothing_is_carried_while_traces_are_not_exported() {
        let subscriber = tracing_subscriber::registry();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("job");
            set_parent(&span, Some(REMOTE));
            assert_eq!(span.in_scope(current), None);
        });
    }
}
