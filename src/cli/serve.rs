//! `fulfil serve`: the gRPC service until SIGTERM or SIGINT.

use std::time::Duration;

use anyhow::Context;
use fulfil::service::{ServeConfig, TlsFiles, serve};
use tracing_subscriber::EnvFilter;

use super::ServeArgs;

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("FULFIL_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let mut config = ServeConfig::new(args.scenario, args.listen);
    config.metrics_listen = args.metrics_listen;
    config.data_dir = args.data_dir;
    config.reservation_ttl = ttl(args.reservation_ttl_secs)?;
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
    config.validate()?;
    // Blocking work is bounded by the in-flight limit; the pool a little above it.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(config.limits.max_in_flight + 16)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let server = serve(config).await?;
        // Handlers are in place before the address is announced: a SIGTERM sent as soon as a
        // client sees it drains the server instead of killing it.
        let signal = shutdown_signal();
        // Printed on stdout so scripts and tests can find the port of `--listen 127.0.0.1:0`.
        println!("listening on {}", server.addr);
        signal.await;
        Ok(server.stop().await?)
    })
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
