//! The Network service: changes to the live snapshot.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming};

use super::access::{Caller, Role, still_in_force};
use super::convert::node_of;
use super::errors::{status_of, undecodable_is_invalid};
use super::ids::{self, clip};
use super::layers::TokensInForce;
use super::observe::CallLog;
use super::pb;
use super::state::{Shared, Weight, blocking};
use crate::live::{InventoryChange, Live, LiveError};
use crate::model::Policy;

pub struct NetworkService {
    pub live: Shared,
    /// The folder `LoadScenario` may read under (none: the call is refused).
    pub scenario_root: Option<PathBuf>,
    /// The tokens in force, which an inventory stream checks its caller against on every
    /// burst.
    pub tokens: TokensInForce,
}

/// The scenario folder `path` names under `root` (a relative path is taken from the root): no
/// `..`; neither the folder nor any file in it may lead out of the root through a symlink, and
/// no file in it may have another hard link (which could be a file outside the root). A path
/// that leads out of the root is PERMISSION_DENIED whether or not what it names exists, so
/// the answer tells nothing of the host's files; NOT_FOUND is only for a missing folder
/// inside the root.
fn scenario_under(root: Option<&Path>, path: &str) -> Result<PathBuf, Status> {
    let root = root.ok_or_else(|| {
        Status::failed_precondition(
            "LoadScenario is off: the server was started without --scenario-root",
        )
    })?;
    let shown = clip(path);
    let outside = || {
        Status::permission_denied(format!(
            "path: `{shown}` is not a scenario folder under the scenario root"
        ))
    };
    let given = root;
    let root = root
        .canonicalize()
        .map_err(|e| Status::unavailable(format!("the scenario root cannot be read: {e}")))?;
    let asked = Path::new(path);
    // An absolute path is taken only when it names the root as the server was given it or as
    // it resolves; anything else is outside, whether or not it exists.
    let asked = match asked
        .strip_prefix(given)
        .or_else(|_| asked.strip_prefix(&root))
    {
        Ok(rest) if asked.is_absolute() => rest,
        _ if asked.is_absolute() => return Err(outside()),
        _ => asked,
    };
    if asked.components().any(|c| c == Component::ParentDir) {
        return Err(outside());
    }
    let Ok(dir) = root.join(asked).canonicalize() else {
        return Err(if through_symlink(&root, asked) {
            outside()
        } else {
            Status::not_found(format!(
                "path: `{shown}`: no such folder under the scenario root"
            ))
        });
    };
    if !dir.starts_with(&root) {
        return Err(outside());
    }
    let entries = std::fs::read_dir(&dir)
        .map_err(|_| Status::invalid_argument(format!("path: `{shown}` is not a folder")))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let real = entry.path().canonicalize();
        if real.as_ref().is_ok_and(|r| !r.starts_with(&root)) {
            return Err(Status::permission_denied(format!(
                "path: `{shown}`: {} leads out of the scenario root",
                clip(&name)
            )));
        }
        if hard_links(&entry.path()) > 1 {
            return Err(Status::permission_denied(format!(
                "path: `{shown}`: {} has more than one hard link (it could be a file outside the \
                 scenario root); copy it instead",
                clip(&name)
            )));
        }
    }
    Ok(dir)
}

/// Whether some prefix of `asked` under `root` is a symlink (that does not resolve).
fn through_symlink(root: &Path, asked: &Path) -> bool {
    let mut at = root.to_path_buf();
    asked.components().any(|c| {
        at.push(c);
        std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink())
    })
}

/// How many hard links the file at `path` has (its target's, through a symlink).
fn hard_links(path: &Path) -> u64 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).map_or(0, |m| if m.is_file() { m.nlink() } else { 1 })
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        1
    }
}

pub fn info_pb(live: &Live) -> pb::SnapshotInfo {
    let i = live.info();
    pb::SnapshotInfo {
        version: i.version,
        nodes: i.nodes as u64,
        skus: i.skus as u64,
        inventory_rows: i.inventory_rows as u64,
        carriers: i.carriers as u64,
        age_seconds: i.age.as_secs_f64(),
        reservations_held: i.reservations_held,
        ..lookahead_info(live)
    }
}

/// The lookahead prices' part of [`info_pb`] (empty without a `[lookahead]` table).
fn lookahead_info(live: &Live) -> pb::SnapshotInfo {
    let state = live.load();
    if state.snapshot.policy().lookahead.is_none() {
        return pb::SnapshotInfo::default();
    }
    let pricer = live.pricer();
    let board = pricer.board(&state.snapshot);
    pb::SnapshotInfo {
        lookahead_demand: pricer.source().to_owned(),
        prices_age_seconds: board.as_ref().map(|b| b.age().as_secs_f64()),
        skus_priced: board.as_ref().map_or(0, |b| b.skus_priced() as u64),
        prices_solve_seconds: board.as_ref().map_or(0.0, |b| b.took().as_secs_f64()),
        ..pb::SnapshotInfo::default()
    }
}

async fn change(
    live: Arc<Live>,
    f: impl FnOnce(&Live) -> Result<u64, LiveError> + Send + 'static,
) -> Result<Response<pb::SnapshotInfo>, Status> {
    // These changes wait until they are durable themselves (on the blocking pool).
    let info = blocking(move |_| {
        f(&live).map_err(|e| status_of(&e))?;
        Ok(info_pb(&live))
    })
    .await?;
    Ok(Response::new(info))
}

/// `c` when its ids are bounded text (the `at`th change of the stream).
fn change_ids(c: pb::InventoryChange, at: u64) -> Result<pb::InventoryChange, Status> {
    ids::check(format_args!("changes[{at}].node_id"), &c.node_id)?;
    ids::check(format_args!("changes[{at}].sku"), &c.sku)?;
    ids::check_optional(format_args!("changes[{at}].source"), &c.source)?;
    Ok(c)
}

/// A protobuf change as the core's; a change with neither `set_on_hand` nor `adjust` is
/// refused by the core's validator with its place in the call.
fn change_of(c: pb::InventoryChange) -> InventoryChange {
    let (set_on_hand, adjust) = match c.change {
        Some(pb::inventory_change::Change::SetOnHand(v)) => (Some(v), None),
        Some(pb::inventory_change::Change::Adjust(d)) => (None, Some(d)),
        None => (None, None),
    };
    InventoryChange {
        node_id: c.node_id,
        sku: c.sku,
        set_on_hand,
        adjust,
        safety_stock: c.safety_stock,
        source: c.source,
        sequence: c.sequence,
    }
}

/// Applies one burst of changes and waits until what was applied is durable. A refused change
/// is named by its place in the whole call (`before` changes came in earlier bursts, `applied`
/// of them were applied).
async fn apply_burst(
    shared: &Shared,
    live: &Arc<Live>,
    changes: Vec<InventoryChange>,
    before: u64,
    applied: u64,
) -> Result<crate::live::InventoryApplied, Status> {
    let placed = move |e: LiveError| match e {
        LiveError::InvalidChange {
            index,
            source_name,
            sequence,
            applied_before,
            problem,
        } => status_of(&LiveError::InvalidChange {
            index: before + index,
            source_name,
            sequence,
            applied_before: applied + applied_before,
            problem,
        }),
        other => status_of(&other),
    };
    let (done, ()) = shared
        .change(live, Weight::Heavy, move |live, _, ack| {
            live.apply_inventory(&changes, ack).map_err(placed)
        })
        .await?;
    Ok(done)
}

/// StreamInventory applies the changes that arrive within this window as one version…
pub const INVENTORY_BURST: Duration = Duration::from_millis(2);
/// … up to this many changes.
pub const INVENTORY_BURST_CHANGES: usize = 4096;

#[tonic::async_trait]
impl pb::network_server::Network for NetworkService {
    async fn load_scenario(
        &self,
        request: Request<pb::LoadScenarioRequest>,
    ) -> Result<Response<pb::SnapshotInfo>, Status> {
        let log = CallLog::of("LoadScenario", &request);
        log.around(async move {
            let path = request.into_inner().path;
            if path.is_empty() {
                return Err(Status::invalid_argument("path: required"));
            }
            let dir = scenario_under(self.scenario_root.as_deref(), &path)?;
            let live = self.live.get()?;
            change(live, move |live| live.load_scenario(&dir.to_string_lossy())).await
        })
        .await
    }

    async fn upsert_nodes(
        &self,
        request: Request<pb::UpsertNodesRequest>,
    ) -> Result<Response<pb::SnapshotInfo>, Status> {
        let log = CallLog::of("UpsertNodes", &request);
        log.around(async move {
            let nodes = request
                .into_inner()
                .nodes
                .iter()
                .enumerate()
                .map(|(i, n)| node_of(n, i))
                .collect::<Result<Vec<_>, _>>()?;
            if nodes.is_empty() {
                return Err(Status::invalid_argument(
                    "nodes: at least one node is needed",
                ));
            }
            change(self.live.get()?, move |l| l.upsert_nodes(nodes)).await
        })
        .await
    }

    async fn upsert_skus(
        &self,
        request: Request<pb::UpsertSkusRequest>,
    ) -> Result<Response<pb::SnapshotInfo>, Status> {
        let log = CallLog::of("UpsertSkus", &request);
        log.around(async move {
            let skus: Vec<crate::model::Sku> = request
                .into_inner()
                .skus
                .into_iter()
                .enumerate()
                .map(|(i, k)| {
                    ids::check(format_args!("skus[{i}].sku"), &k.sku)?;
                    Ok(crate::model::Sku {
                        id: k.sku,
                        weight_kg: k.weight_kg,
                        oversize: k.oversize,
                        split_line: k.split_line.unwrap_or(true),
                    })
                })
                .collect::<Result<_, Status>>()?;
            if skus.is_empty() {
                return Err(Status::invalid_argument("skus: at least one SKU is needed"));
            }
            change(self.live.get()?, move |l| l.upsert_skus(skus)).await
        })
        .await
    }

    async fn replace_rates(
        &self,
        request: Request<pb::ReplaceRatesRequest>,
    ) -> Result<Response<pb::SnapshotInfo>, Status> {
        let log = CallLog::of("ReplaceRates", &request);
        log.around(async move {
            let rates: Vec<crate::model::CarrierRate> = request
                .into_inner()
                .rates
                .into_iter()
                .enumerate()
                .map(|(i, r)| {
                    ids::check(format_args!("rates[{i}].carrier"), &r.carrier)?;
                    let service = r.service.parse().map_err(|()| {
                        Status::invalid_argument(format!(
                            "rates[{i}].service: unknown service `{}`",
                            clip(&r.service)
                        ))
                    })?;
                    Ok(crate::model::CarrierRate {
                        carrier: r.carrier,
                        service,
                        zone: r.zone,
                        base: r.base,
                        per_kg: r.per_kg,
                        transit_days: r.transit_days,
                        weekend: r.weekend,
                    })
                })
                .collect::<Result<_, Status>>()?;
            let text = crate::scenario::rates_csv(&rates);
            change(self.live.get()?, move |l| l.replace_rates(&text)).await
        })
        .await
    }

    async fn replace_policy(
        &self,
        request: Request<pb::Policy>,
    ) -> Result<Response<pb::SnapshotInfo>, Status> {
        let log = CallLog::of("ReplacePolicy", &request);
        log.around(async move {
            let p = request.into_inner();
            let live = self.live.get()?;
            let lookahead = live.load().snapshot.policy().lookahead.clone();
            let policy = Policy {
                split_penalty: p.split_penalty,
                backorder_penalty: p.backorder_penalty,
                max_shipments: p.max_shipments,
                ship_from_store: p.ship_from_store,
                late_penalty_per_day: p.late_penalty_per_day,
                allocate_inbound: p.allocate_inbound,
                min_shipment_value: p.min_shipment_value,
                max_rejections: p.max_rejections.unwrap_or(Policy::default().max_rejections),
                // Not carried by the rpc: the network's [lookahead] table stays as it is.
                lookahead,
            };
            change(live, move |l| l.replace_policy(policy)).await
        })
        .await
    }

    async fn stream_inventory(
        &self,
        request: Request<Streaming<pb::InventoryChange>>,
    ) -> Result<Response<pb::StreamInventoryResponse>, Status> {
        let log = CallLog::of("StreamInventory", &request);
        let caller = request.extensions().get::<Caller>().cloned();
        log.around(async move {
            let live = self.live.get()?;
            // Changes are applied in order as they arrive; a burst is applied as one version.
            let stream = request
                .into_inner()
                .chunks_timeout(INVENTORY_BURST_CHANGES, INVENTORY_BURST);
            tokio::pin!(stream);
            let mut total = pb::StreamInventoryResponse {
                snapshot_version: live.info().version,
                ..Default::default()
            };
            let mut received = 0u64;
            let mut result = Ok(());
            while let Some(chunk) = stream.next().await {
                let mut changes = Vec::with_capacity(chunk.len());
                let mut broken = None;
                if let Err(revoked) = still_in_force(&self.tokens, caller.as_ref(), Role::Inventory)
                {
                    result = Err(revoked);
                    break;
                }
                for msg in chunk {
                    let at = received + changes.len() as u64;
                    match msg
                        .map_err(undecodable_is_invalid)
                        .and_then(|m| change_ids(m, at))
                    {
                        Ok(m) => changes.push(change_of(m)),
                        Err(e) => {
                            broken = Some(e);
                            break;
                        }
                    }
                }
                let n = changes.len() as u64;
                match apply_burst(&self.live, &live, changes, received, total.applied).await {
                    Ok(a) => {
                        total.applied += a.applied;
                        total.skipped_repeats += a.skipped;
                        total.snapshot_version = a.version;
                    }
                    Err(status) => {
                        result = Err(status);
                        break;
                    }
                }
                received += n;
                if let Some(e) = broken {
                    result = Err(e);
                    break;
                }
            }
            let result = result.map(|()| total);
            result.map(Response::new)
        })
        .await
    }

    async fn get_snapshot_info(
        &self,
        _request: Request<pb::SnapshotInfoRequest>,
    ) -> Result<Response<pb::SnapshotInfo>, Status> {
        let live = self.live.get()?;
        Ok(Response::new(info_pb(&live)))
    }
}
