//! Changes to the network: stock levels from inventory feeds, nodes, rates, policy, a whole new
//! scenario. Each is validated by the same code a replay runs, applied with the writer held (a
//! change of structure moves every reservation to a new book while nothing else can change
//! it), and recorded in the same turn.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use super::error::ChangeProblem;
use super::error::LiveError;
use super::state::{Live, State, Writer, wait_durable};
use super::validate;
use crate::lookahead::Pricer;
use crate::model::{Node, NodeId, Policy, SkuId};
use crate::reserve::{Allocation, Record, Reservation, ReservationBook};
use crate::snapshot::{InventoryRow, Level, NetworkData, Snapshot};

/// An inventory change as the core sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct InventoryChange {
    pub node_id: String,
    pub sku: String,
    pub set_on_hand: Option<u32>,
    pub adjust: Option<i64>,
    pub safety_stock: Option<u32>,
    pub source: String,
    pub sequence: u64,
}

impl InventoryChange {
    /// The change an `inventory` record holds (`None` for another kind of record).
    pub(super) fn of_record(record: Record) -> Option<InventoryChange> {
        match record {
            Record::Inventory {
                node_id,
                sku,
                set_on_hand,
                adjust,
                safety_stock,
                source,
                sequence,
            } => Some(InventoryChange {
                node_id,
                sku,
                set_on_hand,
                adjust,
                safety_stock,
                source,
                sequence,
            }),
            _ => None,
        }
    }
}

/// What a call of [`Live::apply_inventory`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InventoryApplied {
    pub applied: u64,
    /// Repeats of a (source, sequence) already applied.
    pub skipped: u64,
    pub version: u64,
}

/// An inventory pair.
type Pair = (NodeId, SkuId);

/// New levels per pair, in the order first touched.
#[derive(Default)]
struct Levels {
    map: HashMap<Pair, Level>,
    order: Vec<Pair>,
}

impl Levels {
    fn set(&mut self, key: Pair, level: Level) {
        if self.map.insert(key, level).is_none() {
            self.order.push(key);
        }
    }
}

impl Live {
    /// New stock levels on the same structure: `(entry, delta of on_hand)`, saturating at zero.
    pub(super) fn adjust_levels(&self, current: &State, changes: &[(usize, i64)]) {
        let inv = current.snapshot.inventory();
        let mut levels: HashMap<usize, Level> = HashMap::new();
        for &(e, delta) in changes {
            let s = inv.stock(e);
            let level = levels.entry(e).or_insert(s.level());
            level.on_hand = validate::adjusted(level.on_hand, delta).unwrap_or(u32::MAX);
        }
        let list: Vec<(usize, Level)> = levels.into_iter().collect();
        let next = current
            .snapshot
            .with_inventory(inv.with_levels(&list), current.snapshot.version() + 1);
        self.publish(next, current.book.clone());
    }

    /// Applies inventory changes in order: repeats (sequence not above the source's last) are
    /// skipped; the changes before the first bad one are applied and recorded, and the bad one
    /// is returned as an error naming its place, with how many were applied before it.
    /// `on_durable` runs once what was applied is durable.
    pub fn apply_inventory(
        &self,
        changes: &[InventoryChange],
        on_durable: impl FnOnce(Result<(), LiveError>) + Send + 'static,
    ) -> Result<InventoryApplied, LiveError> {
        let mut writer = self.write()?;
        let current = self.load();
        let snap = &current.snapshot;
        let mut sources = writer.sources.clone();
        let mut levels = Levels::default();
        let mut applied: Vec<&InventoryChange> = Vec::new();
        let mut skipped = 0;
        let mut refused = None;
        for (index, c) in changes.iter().enumerate() {
            let (key, level) = match level_of(snap, &levels, c) {
                Ok(found) => found,
                Err(problem) => {
                    refused = Some(LiveError::InvalidChange {
                        index: index as u64,
                        source_name: c.source.clone(),
                        sequence: c.sequence,
                        applied_before: applied.len() as u64,
                        problem,
                    });
                    break;
                }
            };
            if !c.source.is_empty() {
                let seen = sources.entry(c.source.clone()).or_insert(0);
                if c.sequence <= *seen && *seen > 0 {
                    skipped += 1;
                    continue;
                }
                *seen = c.sequence;
            }
            levels.set(key, level);
            applied.push(c);
        }
        let mut version = snap.version();
        if !applied.is_empty() {
            version += 1;
            self.publish_levels(&writer, &current, &levels, version)?;
            writer.sources = sources;
            metrics::counter!("fulfil_inventory_changes_total").increment(applied.len() as u64);
        }
        let records = applied.iter().map(|c| record_of(c)).collect();
        self.record(&writer, records, on_durable);
        match refused {
            Some(e) => Err(e),
            None => Ok(InventoryApplied {
                applied: applied.len() as u64,
                skipped,
                version,
            }),
        }
    }

    /// [`apply_inventory`](Self::apply_inventory), waiting until what was applied is durable.
    pub fn apply_inventory_blocking(
        &self,
        changes: &[InventoryChange],
    ) -> Result<InventoryApplied, LiveError> {
        wait_durable(|ack| self.apply_inventory(changes, ack))
    }

    /// Publishes new levels: on the same structure, or, if a (node, SKU) is new, on a rebuilt
    /// one with the reservations moved over.
    fn publish_levels(
        &self,
        writer: &Writer,
        current: &State,
        levels: &Levels,
        version: u64,
    ) -> Result<(), LiveError> {
        let snap = &current.snapshot;
        let inv = snap.inventory();
        let entries: Option<Vec<(usize, Level)>> = levels
            .order
            .iter()
            .map(|&(n, k)| inv.entry(n, k).map(|e| (e, levels.map[&(n, k)])))
            .collect();
        if let Some(list) = entries {
            self.publish(
                snap.with_inventory(inv.with_levels(&list), version),
                current.book.clone(),
            );
            return Ok(());
        }
        let mut data = snap.to_network_data();
        let mut index: HashMap<(NodeId, SkuId), usize> = data
            .inventory
            .iter()
            .enumerate()
            .map(|(i, r)| ((r.node, r.sku), i))
            .collect();
        for &(node, sku) in &levels.order {
            let Level {
                on_hand,
                safety_stock,
            } = levels.map[&(node, sku)];
            let i = *index.entry((node, sku)).or_insert_with(|| {
                data.inventory.push(InventoryRow {
                    node,
                    sku,
                    on_hand: 0,
                    safety_stock: 0,
                });
                data.inventory.len() - 1
            });
            data.inventory[i].on_hand = on_hand;
            data.inventory[i].safety_stock = safety_stock;
        }
        self.rebuild(writer, data, version, true)
    }

    /// Publishes a rebuilt network; with `keep`, held and ended reservations and the capacity
    /// confirmed orders used move to the new book. Called with the writer held, so the old book
    /// cannot change meanwhile.
    pub(super) fn rebuild(
        &self,
        _writer: &Writer,
        data: NetworkData,
        version: u64,
        keep: bool,
    ) -> Result<(), LiveError> {
        if data.nodes.is_empty() {
            return Err(LiveError::EmptyNetwork);
        }
        let snapshot = Snapshot::build(data, version)?;
        let book = Arc::new(ReservationBook::new(&snapshot));
        let old = self.load();
        // Ids are never given twice, whatever happens to the reservations.
        book.ids_from(old.book.next_id());
        if keep {
            move_reservations(&old, &snapshot, &book);
        }
        self.publish(snapshot, book);
        Ok(())
    }

    /// Replaces the network with a scenario folder; held reservations are dropped. With a data
    /// folder, its network files are copied there first and loaded from the copy, which the
    /// record names by hash: a replay never reads `path` again.
    pub fn load_scenario(&self, path: &str) -> Result<u64, LiveError> {
        // Not while a compaction runs: it removes the copies its checkpoint does not name.
        let _no_compaction = self.compacting.lock().unwrap_or_else(|e| e.into_inner());
        let (snapshot, record) = self.scenario_to_load(Path::new(path))?;
        // Read before anything changes: a bad forecast refuses the whole load.
        let forecast = crate::scenario::read_scenario_forecast(Path::new(path), &snapshot)?;
        let version = self.replace_scenario(snapshot, record)?;
        // (Installing reset the demand to the history; a live load has its folder's forecast.)
        if let Some(points) = forecast {
            let now = self.load();
            self.pricer
                .reset(Pricer::from_points(&now.snapshot, Some(&points)));
        }
        Ok(version)
    }

    /// A scenario folder loaded (from its copy in the data folder, if there is one) and the
    /// record that names it.
    fn scenario_to_load(&self, path: &Path) -> Result<(Snapshot, Record), LiveError> {
        let dir = std::path::absolute(path).map_err(|e| {
            LiveError::Load(crate::scenario::LoadError::Io {
                path: path.into(),
                error: e,
            })
        })?;
        let (snapshot, sha256) = match &self.options.data_dir {
            Some(data) => {
                validate::scenario_snapshot(&dir)?;
                let (copy, sha) = validate::keep_scenario(&dir, data)?;
                (validate::scenario_snapshot(&copy)?, Some(sha))
            }
            None => (validate::scenario_snapshot(&dir)?, None),
        };
        let record = Record::LoadScenario {
            path: dir.display().to_string(),
            sha256,
        };
        Ok((snapshot, record))
    }

    /// Puts a loaded scenario in place (live, or replaying its record).
    pub(super) fn replace_scenario(
        &self,
        loaded: Snapshot,
        record: Record,
    ) -> Result<u64, LiveError> {
        let base_record = record.clone();
        self.network_turn(record, |writer, _, version| {
            self.install_scenario(writer, loaded, base_record, version)
        })
    }

    /// With a shared store that holds nothing yet: the `--scenario` folder becomes its network
    /// (copied into the store, so every replica loads the same one). If another replica did
    /// this first, its network was applied when the turn began and nothing more is done.
    pub(super) fn initialize_shared(&self) -> Result<(), LiveError> {
        if self.options.data_dir.is_none() {
            return Err(LiveError::InvalidSetting {
                setting: "data folder",
                reason: "a shared store needs a local folder for scenario copies".into(),
            });
        }
        let (loaded, record) = self.scenario_to_load(&self.options.scenario)?;
        wait_durable(|ack| {
            let mut writer = self.write()?;
            if self.store.as_ref().is_some_and(|s| s.position() > 0) {
                return Ok(());
            }
            let version = self.load().snapshot.version() + 1;
            self.install_scenario(&mut writer, loaded, record.clone(), version)?;
            self.record(&writer, vec![record], ack);
            tracing::info!("the shared store was empty: it starts from the --scenario folder");
            Ok(())
        })
    }

    fn install_scenario(
        &self,
        writer: &mut Writer,
        loaded: Snapshot,
        record: Record,
        version: u64,
    ) -> Result<(), LiveError> {
        self.rebuild(writer, loaded.to_network_data(), version, false)?;
        writer.base = Some(self.load().snapshot.clone());
        writer.base_record = Some(record);
        writer.network_changed = false;
        writer.sources.clear();
        // A new network: its demand is learned anew (a live load reads its forecast after).
        self.pricer
            .reset(Pricer::from_history(&self.load().snapshot));
        Ok(())
    }

    /// One turn of the writer for a change of the network: `apply` makes version `current + 1`
    /// from the current state, then `record` is recorded; returns the version once durable.
    fn network_turn(
        &self,
        record: Record,
        apply: impl FnOnce(&mut Writer, &State, u64) -> Result<(), LiveError>,
    ) -> Result<u64, LiveError> {
        wait_durable(|ack| {
            let mut writer = self.write()?;
            let current = self.load();
            let version = current.snapshot.version() + 1;
            apply(&mut writer, &current, version)?;
            self.record(&writer, vec![record], ack);
            Ok(version)
        })
    }

    /// Adds nodes or replaces those with the same id. They are checked by the scenario's
    /// `nodes.csv` rules (what the record replays through), then the network is rebuilt.
    pub fn upsert_nodes(&self, nodes: Vec<Node>) -> Result<u64, LiveError> {
        let text = validate::nodes_text(&nodes)?;
        self.upsert_nodes_csv(&text)
    }

    /// Adds or replaces the nodes of `nodes.csv` text (the record of an upsert).
    pub(super) fn upsert_nodes_csv(&self, text: &str) -> Result<u64, LiveError> {
        let nodes = crate::scenario::parse_nodes(text)?;
        self.change_network(
            Record::UpsertNodes {
                nodes_csv: text.to_owned(),
            },
            |data| {
                upsert_by_id(&mut data.nodes, nodes, |n| &n.id);
                Ok(())
            },
        )
    }

    /// Adds SKUs or replaces them (weight, oversize, `split_line`), by id.
    pub fn upsert_skus(&self, skus: Vec<crate::model::Sku>) -> Result<u64, LiveError> {
        let text = validate::skus_text(&skus)?;
        self.upsert_skus_csv(&text)
    }

    /// Adds or replaces the SKUs of `skus.csv` text (the record of an upsert).
    pub(super) fn upsert_skus_csv(&self, text: &str) -> Result<u64, LiveError> {
        let skus = crate::scenario::parse_skus(text)?;
        self.change_network(
            Record::UpsertSkus {
                skus_csv: text.to_owned(),
            },
            |data| {
                upsert_by_id(&mut data.skus, skus, |k| &k.id);
                Ok(())
            },
        )
    }

    /// Replaces every carrier rate, from `rates.csv` text.
    pub fn replace_rates(&self, rates_csv: &str) -> Result<u64, LiveError> {
        let record = Record::ReplaceRates {
            rates_csv: rates_csv.to_owned(),
        };
        self.change_network(record, |data| {
            data.rates = crate::scenario::parse_rates(rates_csv, &data.zones)?;
            Ok(())
        })
    }

    /// Replaces the policy (checked by the scenario's `policy.toml` rules).
    pub fn replace_policy(&self, policy: Policy) -> Result<u64, LiveError> {
        let (text, policy) = validate::policy_text(&policy)?;
        self.replace_policy_parsed(text, policy)
    }

    pub(super) fn replace_policy_parsed(
        &self,
        policy_toml: String,
        policy: Policy,
    ) -> Result<u64, LiveError> {
        let record = Record::ReplacePolicy { policy_toml };
        self.network_turn(record, |writer, current, version| {
            self.publish(
                current.snapshot.with_policy(policy, version),
                current.book.clone(),
            );
            writer.network_changed = true;
            Ok(())
        })
    }

    /// A change of nodes or rates: `edit` the network data, rebuild (reservations move over),
    /// record, and wait until durable.
    fn change_network(
        &self,
        record: Record,
        edit: impl FnOnce(&mut NetworkData) -> Result<(), LiveError>,
    ) -> Result<u64, LiveError> {
        self.network_turn(record, |writer, current, version| {
            let mut data = current.snapshot.to_network_data();
            edit(&mut data)?;
            self.rebuild(writer, data, version, true)?;
            writer.network_changed = true;
            Ok(())
        })
    }
}

/// Replaces the items of `list` with the id of one of `items`, and adds the others at the end
/// (so the ids already there keep their places).
fn upsert_by_id<T>(list: &mut Vec<T>, items: Vec<T>, id: impl Fn(&T) -> &str) {
    // Positions by id, so a whole catalogue upserted is linear, not quadratic.
    let mut at: HashMap<String, usize> = list
        .iter()
        .enumerate()
        .map(|(i, m)| (id(m).to_owned(), i))
        .collect();
    for item in items {
        match at.get(id(&item)) {
            Some(&i) => list[i] = item,
            None => {
                at.insert(id(&item).to_owned(), list.len());
                list.push(item);
            }
        }
    }
}

/// Checks one inventory change against `snap` and the levels the changes before it made, and
/// returns its (node, SKU) with the level it sets.
fn level_of(
    snap: &Snapshot,
    levels: &Levels,
    c: &InventoryChange,
) -> Result<(Pair, Level), ChangeProblem> {
    let node = snap
        .node_id(&c.node_id)
        .ok_or_else(|| ChangeProblem::UnknownNode(c.node_id.clone()))?;
    let sku = snap
        .sku_id(&c.sku)
        .ok_or_else(|| ChangeProblem::UnknownSku(c.sku.clone()))?;
    let inv = snap.inventory();
    let current = levels.map.get(&(node, sku)).copied().unwrap_or_else(|| {
        inv.entry(node, sku)
            .map_or(Level::default(), |e| inv.stock(e).level())
    });
    let on_hand = match (c.set_on_hand, c.adjust) {
        (Some(v), None) => v,
        (None, Some(d)) => validate::adjusted(current.on_hand, d)?,
        _ => return Err(ChangeProblem::NeedsOneOf),
    };
    let safety_stock = c.safety_stock.unwrap_or(current.safety_stock);
    Ok((
        (node, sku),
        Level {
            on_hand,
            safety_stock,
        },
    ))
}

fn record_of(c: &InventoryChange) -> Record {
    Record::Inventory {
        node_id: c.node_id.clone(),
        sku: c.sku.clone(),
        set_on_hand: c.set_on_hand,
        adjust: c.adjust,
        safety_stock: c.safety_stock,
        source: c.source.clone(),
        sequence: c.sequence,
    }
}

/// Moves the reservations of `old`'s book, and the capacity confirmed orders used, to `book`
/// beside the rebuilt `snapshot` (allocations at nodes or SKUs that are gone are dropped).
fn move_reservations(old: &State, snapshot: &Snapshot, book: &ReservationBook) {
    let (held, ended) = old.book.scan(usize::MAX);
    let moved = |r: Reservation| {
        let held = r
            .held
            .iter()
            .filter_map(|a| {
                let node = snapshot.node_id(&old.snapshot.node(a.node).id)?;
                let sku = snapshot.sku_id(&old.snapshot.sku(a.sku).id)?;
                let entry = snapshot.inventory().entry(node, sku)?;
                Some(Allocation {
                    entry,
                    node,
                    sku,
                    units: a.units,
                })
            })
            .collect();
        Reservation { held, ..r }
    };
    for (day, used) in super::state::confirmed_capacity(&old.snapshot, &old.book, &held) {
        for (node, units) in used {
            if let Some(n) = snapshot.node_id(&old.snapshot.node(node).id) {
                book.add_capacity(day, n, units);
            }
        }
    }
    for r in ended {
        book.restore_ended(moved(r));
    }
    for r in held {
        book.restore(moved(r));
    }
}
