//! `fulfil health`: asks a server's standard gRPC health service whether it is SERVING (for
//! container health checks and scripts): exit 0 if it is, 1 otherwise.

use anyhow::Context;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use super::HealthArgs;

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
