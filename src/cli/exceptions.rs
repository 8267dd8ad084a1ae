//! `fulfil exceptions`: a store system's rejections and short picks replayed against a running
//! service, one `Reservations.Reject` call per event, each answer printed as a JSON line.

use std::io::Write;

use anyhow::Context;
use clap::Args;
use fulfil::scenario::{Event, read_events};
use fulfil::service::pb::{self, reservations_client::ReservationsClient};
use serde_json::json;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ExceptionsArgs {
    /// The server, e.g. http://127.0.0.1:50051.
    #[arg(long)]
    pub server: String,
    /// The events: columns event (reject or short_pick), reservation_id, node_id, and optional
    /// sku, qty, reason, request_id (default: FILE:LINE, so a replay of the same file is
    /// answered from the service's memory and changes nothing).
    #[arg(long)]
    pub file: PathBuf,
    /// Where to write the answers (default: standard output).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub client: super::client::ClientArgs,
}

pub fn run(args: ExceptionsArgs) -> anyhow::Result<()> {
    let events = read_events(&args.file)?;
    let mut out = super::output(args.out.as_deref())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let (mut rerouted, mut repeated, mut refused) = (0, 0, 0);
    runtime.block_on(async {
        let mut client = ReservationsClient::new(args.client.connect(&args.server).await?);
        for e in &events {
            let answer = client.reject(request(e)).await;
            let line = match answer {
                Ok(r) => {
                    let r = r.into_inner();
                    if r.repeated {
                        repeated += 1;
                    } else {
                        rerouted += 1;
                    }
                    answered(e, &r)
                }
                Err(status) => {
                    refused += 1;
                    eprintln!(
                        "{}:{}: {:?}: {}",
                        args.file.display(),
                        e.line,
                        status.code(),
                        status.message()
                    );
                    json!({
                        "line": e.line,
                        "request_id": e.request_id,
                        "reservation_id": e.reservation_id,
                        "error": {"code": format!("{:?}", status.code()), "message": status.message()},
                    })
                }
            };
            writeln!(out, "{line}")?;
        }
        anyhow::Ok(())
    })?;
    out.flush()?;
    eprintln!(
        "{} events: {rerouted} re-routed, {repeated} answered before (repeats), {refused} refused",
        events.len()
    );
    if refused > 0 {
        anyhow::bail!("{refused} of {} events were refused", events.len());
    }
    Ok(())
}

fn request(e: &Event) -> pb::RejectRequest {
    pb::RejectRequest {
        reservation_id: e.reservation_id.clone(),
        node_id: e.node_id.clone(),
        lines: e
            .lines
            .iter()
            .map(|(sku, qty)| pb::Line {
                sku: sku.clone(),
                qty: *qty,
                ..Default::default()
            })
            .collect(),
        short_pick: e.short_pick,
        reason: e.reason.clone(),
        request_id: e.request_id.clone(),
    }
}

/// One answer as printed: where the units went, and the decision for them.
fn answered(e: &Event, r: &pb::RerouteResponse) -> serde_json::Value {
    let d = r.decision.clone().unwrap_or_default();
    let to: Vec<&str> = d.shipments.iter().map(|s| s.node_id.as_str()).collect();
    let back: u32 = d.backordered.iter().map(|l| l.qty).sum();
    let res = r.reservation.clone().unwrap_or_default();
    json!({
        "line": e.line,
        "request_id": e.request_id,
        "reservation_id": e.reservation_id,
        "event": if e.short_pick { "short_pick" } else { "reject" },
        "node_id": e.node_id,
        "repeated": r.repeated,
        "rerouted_to": to,
        "backordered_units": back,
        "cost": d.cost.map_or(0.0, |c| c.total),
        "needs_attention": res.needs_attention,
        "attention_reason": res.attention_reason,
        "reservation": res.allocations.iter().map(|a| json!({"node_id": a.node_id, "sku": a.sku, "qty": a.qty})).collect::<Vec<_>>(),
    })
}
