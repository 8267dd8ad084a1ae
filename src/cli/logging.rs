//! Logging for the commands that log (serve, reoptimize): `FULFIL_LOG` as the filter (refused
//! with its error when it does not parse), text or JSON lines on stderr (colour only on a
//! terminal), and for `serve` OpenTelemetry traces over OTLP/gRPC when an endpoint is given.

use std::io::IsTerminal;

use anyhow::Context;
use clap::ValueEnum;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::filter::{EnvFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

use super::logfields::{Fields, UtcMicros};

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (timestamp, level, target, message and every field at the top
    /// level), for log collectors.
    Json,
}

/// Traces being exported; flushed by [`Tracing::shutdown`].
pub struct Tracing {
    provider: SdkTracerProvider,
}

impl Tracing {
    /// Exports the spans still buffered and stops the exporter (from outside the runtime's
    /// workers: it waits for the export task).
    pub fn shutdown(self) {
        if let Err(e) = self.provider.shutdown() {
            eprintln!("warning: OTLP trace export did not shut down cleanly: {e}");
        }
    }
}

/// The filter from `FULFIL_LOG`, or `default` when it is unset; an error naming the variable
/// when it does not parse.
fn filter(default: &str) -> anyhow::Result<EnvFilter> {
    match std::env::var("FULFIL_LOG") {
        Ok(spec) => EnvFilter::builder().parse(&spec).with_context(|| {
            format!("FULFIL_LOG={spec:?} is not a log filter (e.g. info, fulfil=debug,warn)")
        }),
        Err(std::env::VarError::NotPresent) => Ok(EnvFilter::new(default)),
        Err(e) => anyhow::bail!("FULFIL_LOG: {e}"),
    }
}

/// The stderr layer in `format`, filtered by `FULFIL_LOG`, writing through `writer`.
fn stderr_layer<W>(
    format: LogFormat,
    default: &str,
    writer: W,
) -> anyhow::Result<Box<dyn Layer<Registry> + Send + Sync>>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = filter(default)?;
    let ansi = std::io::stderr().is_terminal();
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(ansi)
        .with_timer(UtcMicros);
    Ok(match format {
        LogFormat::Text => layer.fmt_fields(Fields).with_filter(filter).boxed(),
        LogFormat::Json => layer
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_filter(filter)
            .boxed(),
    })
}

/// Logs to stderr only, each line written as it is made (for commands that log little).
pub fn init(format: LogFormat, default: &str) -> anyhow::Result<()> {
    Registry::default()
        .with(stderr_layer(format, default, std::io::stderr)?)
        .try_init()
        .context("installing the logger")
}

/// The writer of a server's log lines: batched by [`super::logbuffer`]. Lines still queued
/// are written when [`flush`] runs (at the end of `serve`, and before a fatal exit through the
/// hook [`fulfil::service::set_exit_hook`] installs).
fn background_stderr() -> anyhow::Result<super::logbuffer::LogBuffer> {
    let (writer, flusher) = super::logbuffer::start().context("starting the log writer")?;
    *LOG_FLUSHER.lock().unwrap_or_else(|e| e.into_inner()) = Some(flusher);
    fulfil::service::set_exit_hook(flush);
    Ok(writer)
}

/// The thread that writes the log buffer.
static LOG_FLUSHER: std::sync::Mutex<Option<super::logbuffer::Flusher>> =
    std::sync::Mutex::new(None);

/// Writes the log lines still queued and stops the log thread (later lines are written as
/// they come).
pub fn flush() {
    let flusher = LOG_FLUSHER.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(f) = flusher {
        f.stop();
    }
}

/// Logs to stderr and, with `otlp_endpoint`, exports fulfil's spans (each call, decide,
/// commit, journal fsync) over OTLP/gRPC. Must run inside the Tokio runtime that will drive
/// the export.
pub fn init_with_traces(
    format: LogFormat,
    default: &str,
    otlp_endpoint: Option<&str>,
) -> anyhow::Result<Option<Tracing>> {
    let stderr = stderr_layer(format, default, background_stderr()?)?;
    let Some(endpoint) = otlp_endpoint else {
        Registry::default()
            .with(stderr)
            .try_init()
            .context("installing the logger")?;
        return Ok(None);
    };
    let provider = tracer_provider(endpoint)?;
    let spans = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("fulfil"))
        .with_filter(Targets::new().with_target("fulfil", tracing::Level::DEBUG));
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    Registry::default()
        .with(stderr)
        .with(spans)
        .try_init()
        .context("installing the logger")?;
    tracing::info!(endpoint, "exporting traces over OTLP");
    Ok(Some(Tracing { provider }))
}

/// A tracer provider batching spans to `endpoint` on the current Tokio runtime.
fn tracer_provider(endpoint: &str) -> anyhow::Result<SdkTracerProvider> {
    use opentelemetry_otlp::WithExportConfig;
    use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()
        .with_context(|| format!("--otlp-endpoint {endpoint}"))?;
    let batches = BatchSpanProcessor::builder(exporter, opentelemetry_sdk::runtime::Tokio).build();
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name("fulfil")
        .with_attribute(opentelemetry::KeyValue::new(
            "service.version",
            env!("CARGO_PKG_VERSION"),
        ))
        .build();
    Ok(SdkTracerProvider::builder()
        .with_span_processor(batches)
        .with_resource(resource)
        .build())
}
