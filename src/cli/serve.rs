//! `fulfil serve`: the gRPC service until SIGTERM or SIGINT.

use std::time::Duration;

use anyhow::Context;
use fulfil::service::{ConnectionLimits, ServeConfig, TlsFiles, serve};

use super::ServeArgs;

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let (log_format, otlp) = (args.log_format, args.otlp_endpoint.clone());
    let config = config_of(args)?;
    // Blocking work is bounded by the in-flight limit; the pool a little above it.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(config.limits.max_in_flight + 16)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let traces = runtime.block_on(async {
        super::logging::init_with_traces(log_format, "info", otlp.as_deref())
    })?;
    let served = runtime.block_on(async move {
        let server = serve(config).await?;
        // Handlers are in place before the address is announced: a SIGTERM sent as soon as a
        // client sees it drains the server instead of killing it.
        let signal = shutdown_signal();
        // Printed on stdout so scripts and tests can find the port of `--listen 127.0.0.1:0`.
        println!("listening on {}", server.addr);
        signal.await;
        tracing::info!("shutting down: health NOT_SERVING, draining calls in flight");
        Ok::<_, anyhow::Error>(server.stop().await?)
    });
    // Outside the runtime's workers: the exporter's task still runs on the runtime.
    if let Some(t) = traces {
        t.shutdown();
    }
    // Queued log lines before the error main prints.
    super::logging::flush();
    served
}

/// The server's config from the command line, checked.
fn config_of(args: ServeArgs) -> anyhow::Result<ServeConfig> {
    let mut config = ServeConfig::new(args.scenario, args.listen);
    config.metrics_listen = args.metrics_listen;
    config.data_dir = args.data_dir;
    config.store = args.store;
    config.reservation_ttl = ttl(args.reservation_ttl_secs)?;
    config.request_retention = request_retention(args.request_retention_secs)?;
    config.journal_recover = args.journal_recover;
    config.tls = args.tls_cert.zip(args.tls_key).map(|(cert, key)| TlsFiles {
        cert,
        key,
        client_ca: args.tls_client_ca,
    });
    config.auth_file = args.auth_file;
    config.insecure = args.insecure;
    config.scenario_root = args.scenario_root;
    if let Some(n) = args.max_in_flight {
        config.limits.max_in_flight = n;
    }
    if let Some(n) = args.max_heavy_calls {
        config.limits.max_heavy = n;
    }
    if let Some(n) = args.max_decisions {
        config.limits.max_decisions = n;
    }
    config.limits.max_message_bytes = args.max_message_bytes;
    config.drain_timeout = drain_timeout(args.drain_timeout_secs)?;
    let first = args.first_request_timeout_secs;
    if !(first.is_finite() && first > 0.0 && first <= 3600.0) {
        anyhow::bail!(
            "--first-request-timeout-secs: a number of seconds in (0, 3600] is needed, found {first}"
        );
    }
    config.connections = ConnectionLimits {
        max_connections: args.max_connections,
        first_request_timeout: Duration::from_secs_f64(first),
        stream_window: args.http2_stream_window,
        connection_window: args.http2_connection_window,
    };
    config.validate()?;
    Ok(config)
}

/// The drain timeout, refused unless it is a number of seconds in [0, 1 hour].
fn drain_timeout(secs: f64) -> anyhow::Result<Duration> {
    if !(secs.is_finite() && (0.0..=3600.0).contains(&secs)) {
        anyhow::bail!(
            "--drain-timeout-secs: a number of seconds in [0, 3600] is needed, found {secs}"
        );
    }
    Ok(Duration::from_secs_f64(secs))
}

/// The reservation time-to-live, refused unless it is a number of seconds in range.
fn ttl(secs: f64) -> anyhow::Result<Duration> {
    let max = fulfil::live::MAX_RESERVATION_TTL.as_secs_f64();
    if !(secs.is_finite() && secs > 0.0 && secs <= max) {
        anyhow::bail!(
            "--reservation-ttl-secs: the reservation time-to-live must be a number of seconds \
             in (0, {max}], found {secs}"
        );
    }
    Ok(Duration::from_secs_f64(secs))
}

fn request_retention(secs: f64) -> anyhow::Result<Duration> {
    let max = fulfil::live::MAX_REQUEST_RETENTION.as_secs_f64();
    if !(secs.is_finite() && secs > 0.0 && secs <= max) {
        anyhow::bail!(
            "--request-retention-secs: how long a commit's request id is remembered must be a \
             number of seconds in (0, {max}], found {secs}"
        );
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Resolves on SIGTERM or SIGINT. The handlers are registered when this is called, not when
/// the future is first polled.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
    #[cfg(unix)]
    let int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt());
    async move {
        #[cfg(unix)]
        match (term, int) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {},
                    _ = int.recv() => {},
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}
