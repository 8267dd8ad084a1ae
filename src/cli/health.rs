//! `fulfil health`: asks a server's standard gRPC health service whether it is SERVING (for
//! container health checks and scripts): exit 0 if it is, 1 otherwise.

use anyhow::Context;
use clap::Args;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

#[derive(Args, Debug)]
pub struct HealthArgs {
    /// The server (https:// with --tls-ca); `--addr` is the same flag.
    #[arg(
        long,
        visible_alias = "addr",
        env = "FULFIL_HEALTH_SERVER",
        default_value = "http://127.0.0.1:50051"
    )]
    pub server: String,
    /// The service to ask about [default: the server as a whole].
    #[arg(long, default_value = "")]
    pub service: String,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 3.0)]
    pub timeout_secs: f64,
    #[command(flatten)]
    pub client: super::client::ClientArgs,
}

impl HealthArgs {
    fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.timeout_secs.clamp(0.1, 600.0))
    }
}

pub fn run(args: HealthArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let status = runtime.block_on(async {
        let conn = tokio::time::timeout(args.timeout(), args.client.connect(&args.server))
            .await
            .with_context(|| format!("{}: no answer in time", args.server))??;
        let mut health = HealthClient::new(conn);
        let request = HealthCheckRequest {
            service: args.service.clone(),
        };
        let answer = tokio::time::timeout(args.timeout(), health.check(request))
            .await
            .with_context(|| format!("{}: no answer in time", args.server))?
            .with_context(|| format!("{}: health check failed", args.server))?;
        anyhow::Ok(answer.into_inner().status)
    })?;
    let name = match status {
        1 => "SERVING",
        2 => "NOT_SERVING",
        3 => "SERVICE_UNKNOWN",
        _ => "UNKNOWN",
    };
    println!("{name}");
    if status != 1 {
        std::process::exit(1);
    }
    Ok(())
}
