//! Logging and tracing setup: `tracing` to stderr, filtered by `RUST_LOG`
//! (default `info`), as JSON when `GOFLIX_LOG_FORMAT=json`.
//!
//! When the standard `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set, spans are also exported as
//! OpenTelemetry traces over OTLP/HTTP with the JSON encoding (`/v1/traces`
//! is appended to the generic endpoint), named `OTEL_SERVICE_NAME` (default
//! `goflix-{role}`). A batch exporter sends them from a thread of its own;
//! the standard `OTEL_BSP_*` (batching), `OTEL_EXPORTER_OTLP_*_HEADERS` and
//! `*_TIMEOUT` settings apply, and `OTEL_SDK_DISABLED=true` turns export off.
//! Without an endpoint nothing is exported and no span context is recorded.
//! [`crate::trace_context`] carries a trace across the queue and the bus.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Variables of which one switches export on.
const ENDPOINTS: [&str; 2] = [
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
];

/// The installed telemetry. Dropping it exports the spans still waiting in
/// the batch, so hold it until the process is done.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            if let Err(e) = provider.shutdown() {
                tracing::warn!(error = %e, "could not export the last traces");
            }
        }
    }
}

/// Installs the global subscriber once (later calls install nothing) for
/// the process running `role` (`serve`, `control-api`, …).
pub fn init(json: bool, role: &str) -> Telemetry {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let logs = if json {
        logs.json().boxed()
    } else {
        logs.boxed()
    };
    let (provider, failure) = match tracer_provider(role) {
        Ok(provider) => (provider, None),
        Err(e) => (None, Some(e)),
    };
    let traces = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer().with_tracer(provider.tracer(env!("CARGO_PKG_NAME")))
    });
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(logs)
        .with(traces)
        .try_init()
        .is_ok();
    if let Some(e) = failure {
        tracing::warn!(error = %e, "OpenTelemetry export is off: the OTLP exporter could not be built");
    }
    Telemetry {
        provider: provider.filter(|_| installed),
    }
}

/// Whether an environment variable is set to something.
fn set(name: &str) -> bool {
    std::env::var(name).is_ok_and(|value| !value.trim().is_empty())
}

/// The tracer provider exporting to the configured endpoint, or `None` when export is off.
fn tracer_provider(
    role: &str,
) -> Result<Option<SdkTracerProvider>, opentelemetry_otlp::ExporterBuildError> {
    let disabled = std::env::var("OTEL_SDK_DISABLED").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
    if disabled || !ENDPOINTS.iter().any(|name| set(name)) {
        return Ok(None);
    }
    let exporter = SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpJson)
        .build()?;
    // The default resource reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
    let mut resource = Resource::builder();
    if !set("OTEL_SERVICE_NAME") {
        resource = resource.with_service_name(format!("goflix-{role}"));
    }
    Ok(Some(
        SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource.build())
            .build(),
    ))
}
