//! The snapshot itself and its builder.

use std::collections::HashMap;
use std::sync::Arc;

use h3o::{CellIndex, LatLng, Resolution};

use super::rates::RateRow;
use super::{InboundRow, Inventory, InventoryRow, RateTable, ZoneTable};
use crate::model::{Calendar, CarrierRate, Clock, Node, NodeId, Policy, Sku, SkuId, ZoneBand};

/// H3 resolution of node cells: about 5 km² hexagons, fine enough for nearest-store searches.
pub const NODE_CELL_RESOLUTION: Resolution = Resolution::Seven;
/// H3 resolution of the pickup-store index (cells of about 250 km²), searched ring by ring.
pub const PICKUP_CELL_RESOLUTION: Resolution = Resolution::Five;

/// Everything a scenario folder holds, with ids resolved. The input of [`Snapshot::build`].
#[derive(Clone, Debug, Default)]
pub struct NetworkData {
    pub nodes: Vec<Node>,
    pub skus: Vec<Sku>,
    pub inventory: Vec<InventoryRow>,
    /// Sorted by zone.
    pub zones: Vec<ZoneBand>,
    pub rates: Vec<CarrierRate>,
    pub policy: Policy,
    /// `calendars.toml` by id (version 2).
    pub calendars: std::collections::BTreeMap<String, Calendar>,
    /// `inbound.csv` (version 2).
    pub inbound: Vec<InboundRow>,
}

/// Why a snapshot could not be built from data that did not come through the scenario loader.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    #[error("duplicate node id `{0}`")]
    DuplicateNode(String),
    #[error("duplicate SKU `{0}`")]
    DuplicateSku(String),
    #[error("node `{id}` has coordinates out of range ({lat}, {lon})")]
    BadCoordinates { id: String, lat: f64, lon: f64 },
    #[error("inventory row refers to a node or SKU index out of range")]
    DanglingInventory,
    #[error("rate for zone {0} that zones do not define")]
    UnknownZone(u32),
    #[error("node `{node}` names calendar `{calendar}`, which is not defined")]
    UnknownCalendar { node: String, calendar: String },
    #[error("inbound row refers to a node or SKU index out of range")]
    DanglingInbound,
}

/// The fields of a [`Node`] that candidate generation reads for every order, packed in one
/// cache line (a whole node record, with its id, schedule and channels, spans three).
#[derive(Clone, Copy, Debug)]
#[repr(align(64))]
pub struct ShipFrom {
    /// Position as a unit vector (see [`crate::model::geo::unit_vector`]).
    pub xyz: [f64; 3],
    pub cost_per_shipment: f64,
    pub cost_per_unit: f64,
    /// Units it can pick per day; `None` is unlimited.
    pub capacity_units: Option<u32>,
    pub enabled: bool,
    pub ships: bool,
    pub store: bool,
    /// Whether it lists sales channels (else it serves every channel).
    pub channels: bool,
}

impl ShipFrom {
    fn of(n: &Node) -> ShipFrom {
        ShipFrom {
            xyz: crate::model::geo::unit_vector(n.lat, n.lon),
            cost_per_shipment: n.cost_per_shipment,
            cost_per_unit: n.cost_per_unit,
            capacity_units: n.capacity_units,
            enabled: n.enabled,
            ships: n.ships,
            store: n.kind == crate::model::NodeKind::Store,
            channels: !n.channels.is_empty(),
        }
    }
}

/// The network at one version: immutable, cheap to share.
#[derive(Clone, Debug)]
pub struct Snapshot {
    version: u64,
    nodes: Arc<[Node]>,
    node_cells: Arc<[CellIndex]>,
    /// What routing reads of each node for every order, one cache line each.
    ship_from: Arc<[ShipFrom]>,
    /// Enabled pickup nodes by their H3 cell at [`PICKUP_CELL_RESOLUTION`].
    pickup_cells: Arc<HashMap<CellIndex, Vec<NodeId>>>,
    node_index: Arc<HashMap<String, NodeId>>,
    skus: Arc<[Sku]>,
    sku_index: Arc<HashMap<String, SkuId>>,
    inventory: Arc<Inventory>,
    zones: Arc<ZoneTable>,
    rates: Arc<RateTable>,
    policy: Policy,
    /// Each node's clock (time zone, cut-off, processing days, calendar), by node index.
    clocks: Arc<[Clock]>,
    calendars: Arc<std::collections::BTreeMap<String, Calendar>>,
    /// Whether the network uses a date feature (schedules, calendars, weekend rates, inbound,
    /// lateness): then every decision carries dates.
    network_dated: bool,
}

impl Snapshot {
    /// Indexes `data` as version `version`.
    pub fn build(mut data: NetworkData, version: u64) -> Result<Snapshot, BuildError> {
        let (node_index, node_cells) = nodes_of(&data.nodes)?;
        let mut sku_index = HashMap::with_capacity(data.skus.len());
        for (i, s) in data.skus.iter().enumerate() {
            if sku_index.insert(s.id.clone(), SkuId(i as u32)).is_some() {
                return Err(BuildError::DuplicateSku(s.id.clone()));
            }
        }
        if data
            .inventory
            .iter()
            .any(|r| r.node.index() >= data.nodes.len() || r.sku.index() >= data.skus.len())
        {
            return Err(BuildError::DanglingInventory);
        }
        let pickup_cells = pickup_cells_of(&data.nodes, &node_cells);
        let ship_from: Vec<ShipFrom> = data.nodes.iter().map(ShipFrom::of).collect();
        let clocks = clocks_of(&data.nodes, &data.calendars)?;
        let inventory = inventory_of(&data)?;
        let zones = ZoneTable::new(std::mem::take(&mut data.zones));
        let rates = rates_of(&zones, std::mem::take(&mut data.rates))?;
        let network_dated = uses_dates(&data, &rates);
        Ok(Snapshot {
            version,
            nodes: data.nodes.into(),
            node_cells: node_cells.into(),
            ship_from: ship_from.into(),
            pickup_cells: Arc::new(pickup_cells),
            node_index: Arc::new(node_index),
            skus: data.skus.into(),
            sku_index: Arc::new(sku_index),
            inventory: Arc::new(inventory),
            zones: Arc::new(zones),
            rates: Arc::new(rates),
            policy: data.policy,
            clocks: clocks.into(),
            calendars: Arc::new(data.calendars),
            network_dated,
        })
    }

    /// The same network with new stock levels (same pairs), as version `version`.
    pub fn with_inventory(&self, inventory: Inventory, version: u64) -> Snapshot {
        Snapshot {
            inventory: Arc::new(inventory),
            version,
            ..self.clone()
        }
    }

    /// The data this snapshot was built from (for rebuilding with a change).
    pub fn to_network_data(&self) -> NetworkData {
        let rates = self
            .rates
            .rows()
            .iter()
            .map(|r| CarrierRate {
                carrier: r.carrier.clone(),
                service: r.service,
                zone: self.zones.zone(r.band),
                base: r.base,
                per_kg: r.per_kg,
                transit_days: r.transit_days,
                weekend: r.weekend,
            })
            .collect();
        NetworkData {
            nodes: self.nodes.to_vec(),
            skus: self.skus.to_vec(),
            inventory: self.inventory.rows(),
            zones: self.zones.bands().to_vec(),
            rates,
            policy: self.policy.clone(),
            calendars: (*self.calendars).clone(),
            inbound: self.inventory.inbound_rows(),
        }
    }

    /// Monotonic version number; every response reports the version it was decided on.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The same network under another policy (shares everything else).
    /// Whether a decision made on `other` is one this snapshot would make from the same stock
    /// levels: the same nodes, SKUs, inventory structure, zones, rates and policy (only the
    /// stock levels may differ).
    pub fn same_network(&self, other: &Snapshot) -> bool {
        Arc::ptr_eq(&self.nodes, &other.nodes)
            && Arc::ptr_eq(&self.skus, &other.skus)
            && Arc::ptr_eq(&self.zones, &other.zones)
            && Arc::ptr_eq(&self.rates, &other.rates)
            && self.inventory.same_structure(&other.inventory)
            && self.policy == other.policy
    }

    pub fn with_policy(&self, policy: Policy, version: u64) -> Snapshot {
        let inventory = Arc::new(self.inventory.allocating_inbound(policy.allocate_inbound));
        let network_dated = self.network_dated
            || policy.late_penalty_per_day.is_some()
            || policy.allocate_inbound
            || policy.min_shipment_value > 0.0;
        Snapshot {
            policy,
            version,
            inventory,
            network_dated,
            ..self.clone()
        }
    }

    /// A node's clock: when it works.
    #[inline]
    pub fn clock(&self, id: NodeId) -> &Clock {
        &self.clocks[id.index()]
    }

    /// Whether the network uses a version 2 feature (dates, inbound supply, order rules);
    /// decisions then carry the version 2 fields (spec: "Decisions, version 2").
    pub fn network_dated(&self) -> bool {
        self.network_dated
    }

    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    #[inline]
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.index()]
    }

    /// The node's position as a unit vector (see [`crate::model::geo::unit_vector`]).
    #[inline]
    pub fn node_xyz(&self, id: NodeId) -> &[f64; 3] {
        &self.ship_from[id.index()].xyz
    }

    /// What routing reads of a node for every order ([`ShipFrom`]).
    #[inline]
    pub fn ship_from(&self, id: NodeId) -> &ShipFrom {
        &self.ship_from[id.index()]
    }

    /// Enabled pickup nodes in an H3 cell at [`PICKUP_CELL_RESOLUTION`].
    pub fn pickup_nodes_in(&self, cell: CellIndex) -> &[NodeId] {
        self.pickup_cells.get(&cell).map_or(&[], Vec::as_slice)
    }

    /// The node's H3 cell at [`NODE_CELL_RESOLUTION`].
    pub fn node_cell(&self, id: NodeId) -> CellIndex {
        self.node_cells[id.index()]
    }

    pub fn node_id(&self, id: &str) -> Option<NodeId> {
        self.node_index.get(id).copied()
    }

    pub fn skus(&self) -> &[Sku] {
        &self.skus
    }

    #[inline]
    pub fn sku(&self, id: SkuId) -> &Sku {
        &self.skus[id.index()]
    }

    pub fn sku_id(&self, id: &str) -> Option<SkuId> {
        self.sku_index.get(id).copied()
    }

    pub fn inventory(&self) -> &Inventory {
        &self.inventory
    }

    pub fn zones(&self) -> &ZoneTable {
        &self.zones
    }

    pub fn rates(&self) -> &RateTable {
        &self.rates
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }
}

/// Each node's clock, its calendar resolved.
fn clocks_of(
    nodes: &[Node],
    calendars: &std::collections::BTreeMap<String, Calendar>,
) -> Result<Vec<Clock>, BuildError> {
    nodes
        .iter()
        .map(|n| {
            let calendar = match &n.schedule.calendar {
                None => Calendar::default(),
                Some(id) => {
                    calendars
                        .get(id)
                        .cloned()
                        .ok_or_else(|| BuildError::UnknownCalendar {
                            node: n.id.clone(),
                            calendar: id.clone(),
                        })?
                }
            };
            Ok(Clock {
                timezone: n.schedule.timezone,
                cutoff: n.schedule.cutoff,
                processing_days: n.schedule.processing_days,
                calendar,
            })
        })
        .collect()
}

/// The inventory index with inbound supply; a pair that has inbound rows but no inventory row
/// gets an empty one, so its inbound units have an entry.
fn inventory_of(data: &NetworkData) -> Result<Inventory, BuildError> {
    if data
        .inbound
        .iter()
        .any(|r| r.node.index() >= data.nodes.len() || r.sku.index() >= data.skus.len())
    {
        return Err(BuildError::DanglingInbound);
    }
    // Pairs with inbound supply but no row: few, so the inventory (millions of rows) is only
    // scanned, and copied only when some are missing.
    let mut missing: rustc_hash::FxHashSet<(NodeId, SkuId)> =
        data.inbound.iter().map(|r| (r.node, r.sku)).collect();
    if !missing.is_empty() {
        for r in &data.inventory {
            missing.remove(&(r.node, r.sku));
        }
    }
    let inventory = if missing.is_empty() {
        Inventory::build(data.skus.len(), &data.inventory)
    } else {
        let mut rows = data.inventory.clone();
        for r in &data.inbound {
            if missing.remove(&(r.node, r.sku)) {
                rows.push(InventoryRow {
                    node: r.node,
                    sku: r.sku,
                    on_hand: 0,
                    safety_stock: 0,
                });
            }
        }
        Inventory::build(data.skus.len(), &rows)
    };
    Ok(inventory.with_inbound(&data.inbound, data.policy.allocate_inbound))
}

/// Each node's id interned and its H3 cell; refused on a repeated id or a bad coordinate.
fn nodes_of(nodes: &[Node]) -> Result<(HashMap<String, NodeId>, Vec<CellIndex>), BuildError> {
    let mut node_index = HashMap::with_capacity(nodes.len());
    let mut node_cells = Vec::with_capacity(nodes.len());
    for (i, n) in nodes.iter().enumerate() {
        if node_index.insert(n.id.clone(), NodeId(i as u32)).is_some() {
            return Err(BuildError::DuplicateNode(n.id.clone()));
        }
        let cell = LatLng::new(n.lat, n.lon)
            .map_err(|_| BuildError::BadCoordinates {
                id: n.id.clone(),
                lat: n.lat,
                lon: n.lon,
            })?
            .to_cell(NODE_CELL_RESOLUTION);
        node_cells.push(cell);
    }
    Ok((node_index, node_cells))
}

/// The rate cards by zone band; refused when a row names a zone the table does not have.
fn rates_of(zones: &ZoneTable, rates: Vec<CarrierRate>) -> Result<RateTable, BuildError> {
    let mut rows = Vec::with_capacity(rates.len());
    for r in rates {
        let band = zones
            .bands()
            .iter()
            .position(|b| b.zone == r.zone)
            .ok_or(BuildError::UnknownZone(r.zone))?;
        rows.push(RateRow {
            carrier: r.carrier,
            service: r.service,
            band,
            base: r.base,
            per_kg: r.per_kg,
            transit_days: r.transit_days,
            weekend: r.weekend,
        });
    }
    Ok(RateTable::new(zones.len(), rows))
}

/// Whether the network uses any date feature of version 2 (then every decision prints dates).
fn uses_dates(data: &NetworkData, rates: &RateTable) -> bool {
    data.nodes.iter().any(|n| !n.schedule.is_default())
        || !data.calendars.is_empty()
        || !data.inbound.is_empty()
        || rates.any_weekend()
        || data.policy.late_penalty_per_day.is_some()
        || data.policy.allocate_inbound
        || data.policy.min_shipment_value > 0.0
        || data.nodes.iter().any(|n| !n.channels.is_empty())
        || data.skus.iter().any(|k| !k.split_line)
}

/// Enabled pickup nodes by their H3 cell at [`PICKUP_CELL_RESOLUTION`].
fn pickup_cells_of(nodes: &[Node], node_cells: &[CellIndex]) -> HashMap<CellIndex, Vec<NodeId>> {
    let mut cells: HashMap<CellIndex, Vec<NodeId>> = HashMap::new();
    for (i, n) in nodes.iter().enumerate() {
        if n.enabled
            && n.pickup
            && let Some(parent) = node_cells[i].parent(PICKUP_CELL_RESOLUTION)
        {
            cells.entry(parent).or_default().push(NodeId(i as u32));
        }
    }
    cells
}
