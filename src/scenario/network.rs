//! Reading the network files of a scenario folder: nodes, SKUs, inventory, zones, rates, policy.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::LoadError;
use super::table::{Index, Table};
use crate::model::{CarrierRate, Node, NodeId, NodeKind, Policy, Service, Sku, SkuId, ZoneBand};
use crate::snapshot::{InventoryRow, NetworkData};

/// Reads and validates the network files of `dir` (everything but orders).
pub fn load_network(dir: &Path) -> Result<NetworkData, LoadError> {
    let nodes = read_nodes(&dir.join("nodes.csv"))?;
    let skus = read_skus(&dir.join("skus.csv"))?;
    let node_index: Index<'_, NodeId> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id.as_str(), NodeId(i as u32)))
        .collect();
    let sku_index: Index<'_, SkuId> = skus
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), SkuId(i as u32)))
        .collect();
    let inventory = read_inventory(&dir.join("inventory.csv"), &node_index, &sku_index)?;
    let zones = read_zones(&dir.join("zones.csv"))?;
    let rates = read_rates(&dir.join("rates.csv"), &zones)?;
    let policy = read_policy(&dir.join("policy.toml"))?;
    let calendars_path = dir.join("calendars.toml");
    let calendars = super::dates::read_calendars(&calendars_path)?;
    check_calendars(&dir.join("nodes.csv"), &nodes, &calendars)?;
    let inbound = super::dates::read_inbound(&dir.join("inbound.csv"), &node_index, &sku_index)?;
    Ok(NetworkData {
        nodes,
        skus,
        inventory,
        zones,
        rates,
        policy,
        calendars,
        inbound,
    })
}

/// Every calendar a node names must be defined (else: the node's row and column).
fn check_calendars(
    path: &Path,
    nodes: &[Node],
    calendars: &std::collections::BTreeMap<String, crate::model::Calendar>,
) -> Result<(), LoadError> {
    let table = Table::read(path, &["node_id"])?;
    for (row, node) in table.rows().zip(nodes) {
        if let Some(id) = &node.schedule.calendar
            && !calendars.contains_key(id)
        {
            return Err(row.error(
                "calendar",
                format!("calendar `{id}` is not defined in calendars.toml"),
            ));
        }
    }
    Ok(())
}

fn read_nodes(path: &Path) -> Result<Vec<Node>, LoadError> {
    nodes_from(Table::read(path, &["node_id", "kind", "lat", "lon"])?)
}

/// Parses `nodes.csv` text (for network changes that arrive as text).
pub fn parse_nodes(text: &str) -> Result<Vec<Node>, LoadError> {
    nodes_from(Table::from_reader(
        Path::new("nodes.csv"),
        text.as_bytes(),
        &["node_id", "kind", "lat", "lon"],
    )?)
}

/// Writes nodes as `nodes.csv` text.
pub fn nodes_csv(nodes: &[Node]) -> String {
    let mut out = String::from(
        "node_id,kind,lat,lon,ships,pickup,capacity_units,cost_per_shipment,cost_per_unit,enabled,timezone,cutoff,processing_days,calendar,channels\n",
    );
    for n in nodes {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            csv_field(&n.id),
            n.kind.as_str(),
            n.lat,
            n.lon,
            u8::from(n.ships),
            u8::from(n.pickup),
            n.capacity_units.map(|c| c.to_string()).unwrap_or_default(),
            n.cost_per_shipment,
            n.cost_per_unit,
            u8::from(n.enabled),
            n.schedule.timezone.name(),
            n.schedule.cutoff.format(),
            n.schedule.processing_days,
            csv_field(n.schedule.calendar.as_deref().unwrap_or("")),
            csv_field(&n.channels.join(";"))
        ));
    }
    out
}

/// Writes rates as `rates.csv` text.
pub fn rates_csv(rates: &[CarrierRate]) -> String {
    let mut out = String::from("carrier,service,zone,base,per_kg,transit_days,weekend\n");
    for r in rates {
        out.push_str(&format!(
            "{},{},{},{},{},{},{}\n",
            csv_field(&r.carrier),
            r.service,
            r.zone,
            r.base,
            r.per_kg,
            r.transit_days,
            u8::from(r.weekend)
        ));
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn nodes_from(table: Table) -> Result<Vec<Node>, LoadError> {
    let mut seen = HashMap::new();
    let mut nodes = Vec::with_capacity(table.len());
    for row in table.rows() {
        let id = row.string("node_id")?;
        if let Some(first) = seen.insert(id.to_owned(), row.line) {
            return Err(row.error(
                "node_id",
                format!("duplicate node id `{id}` (first on line {first})"),
            ));
        }
        let kind_text = row.string("kind")?;
        let kind: NodeKind = kind_text.parse().map_err(|()| {
            row.error(
                "kind",
                format!("expected `dc`, `store` or `dropship`, found `{kind_text}`"),
            )
        })?;
        nodes.push(Node {
            id: id.to_owned(),
            kind,
            lat: row.latitude("lat")?,
            lon: row.longitude("lon")?,
            ships: row.bool("ships", true)?,
            pickup: row.bool("pickup", kind == NodeKind::Store)?,
            capacity_units: row.opt_u32("capacity_units", 0)?,
            cost_per_shipment: row.non_negative("cost_per_shipment", 0.0)?,
            cost_per_unit: row.non_negative("cost_per_unit", 0.0)?,
            enabled: row.bool("enabled", true)?,
            schedule: super::dates::schedule(&row)?,
            channels: row.names("channels")?,
        });
    }
    Ok(nodes)
}

fn read_skus(path: &Path) -> Result<Vec<Sku>, LoadError> {
    skus_from(Table::read(path, &["sku", "weight_kg"])?)
}

/// Parses `skus.csv` text (for SKU changes that arrive as text).
pub fn parse_skus(text: &str) -> Result<Vec<Sku>, LoadError> {
    skus_from(Table::from_reader(
        Path::new("skus.csv"),
        text.as_bytes(),
        &["sku", "weight_kg"],
    )?)
}

/// Writes SKUs as `skus.csv` text.
pub fn skus_csv(skus: &[Sku]) -> String {
    let mut out = String::from("sku,weight_kg,oversize,split_line\n");
    for k in skus {
        out.push_str(&format!(
            "{},{},{},{}\n",
            csv_field(&k.id),
            k.weight_kg,
            u8::from(k.oversize),
            u8::from(k.split_line)
        ));
    }
    out
}

fn skus_from(table: Table) -> Result<Vec<Sku>, LoadError> {
    let mut seen = HashMap::new();
    let mut skus = Vec::with_capacity(table.len());
    for row in table.rows() {
        let id = row.string("sku")?;
        if let Some(first) = seen.insert(id.to_owned(), row.line) {
            return Err(row.error(
                "sku",
                format!("duplicate SKU `{id}` (first on line {first})"),
            ));
        }
        let weight_kg = row.f64("weight_kg")?;
        if weight_kg <= 0.0 {
            return Err(row.error(
                "weight_kg",
                format!("expected a weight > 0, found {weight_kg}"),
            ));
        }
        skus.push(Sku {
            id: id.to_owned(),
            weight_kg,
            oversize: row.bool("oversize", false)?,
            split_line: row.bool("split_line", true)?,
        });
    }
    Ok(skus)
}

/// Reads `inventory.csv` row by row (it can hold millions), each pair of node and SKU once.
fn read_inventory(
    path: &Path,
    nodes: &Index<'_, NodeId>,
    skus: &Index<'_, SkuId>,
) -> Result<Vec<InventoryRow>, LoadError> {
    // A row is rarely under 16 bytes: room for them all at once (pages never written cost
    // nothing), so the vectors never grow by copying.
    let guess = std::fs::metadata(path).map_or(0, |m| m.len() as usize / 16);
    let mut rows = Vec::with_capacity(guess);
    let mut lines = Vec::with_capacity(guess);
    Table::stream(path, &["node_id", "sku", "on_hand"], |row| {
        let (node, sku) = row.node_and_sku(nodes, skus)?;
        rows.push(InventoryRow {
            node,
            sku,
            on_hand: row.u32("on_hand", 0)?,
            safety_stock: row.opt_u32("safety_stock", 0)?.unwrap_or(0),
        });
        lines.push(row.line);
        Ok(())
    })?;
    check_pairs_once(path, &rows, &lines, nodes, skus)?;
    Ok(rows)
}

/// Each pair of node and SKU on one row at most: else the first row (in file order) that
/// repeats a pair, naming the line where it first was. A file in node or SKU order (as
/// exports and the generator write it) is checked in one pass; any other through a map.
fn check_pairs_once(
    path: &Path,
    rows: &[InventoryRow],
    lines: &[u64],
    nodes: &Index<'_, NodeId>,
    skus: &Index<'_, SkuId>,
) -> Result<(), LoadError> {
    let by_node = |r: &InventoryRow| (r.node, r.sku);
    let by_sku = |r: &InventoryRow| (r.sku, r.node);
    if rows.windows(2).all(|w| by_node(&w[0]) < by_node(&w[1]))
        || rows.windows(2).all(|w| by_sku(&w[0]) < by_sku(&w[1]))
    {
        return Ok(());
    }
    let mut seen: rustc_hash::FxHashMap<(NodeId, SkuId), usize> = Default::default();
    seen.reserve(rows.len());
    for (i, r) in rows.iter().enumerate() {
        let first = *seen.entry(by_node(r)).or_insert(i);
        if first != i {
            let (node_text, sku_text) = (name_in(nodes, r.node), name_in(skus, r.sku));
            return Err(LoadError::invalid(
                path,
                Some(lines[i]),
                Some("sku"),
                format!(
                    "duplicate row for node `{node_text}` and SKU `{sku_text}` (first on line {})",
                    lines[first]
                ),
            ));
        }
    }
    Ok(())
}

/// The name `id` has in `index` (a reverse look-up, for error messages only).
fn name_in<T: PartialEq + Copy>(index: &Index<'_, T>, id: T) -> String {
    index
        .iter()
        .find(|(_, v)| **v == id)
        .map_or_else(String::new, |(k, _)| (*k).to_owned())
}

fn read_zones(path: &Path) -> Result<Vec<ZoneBand>, LoadError> {
    let table = Table::read(path, &["zone", "max_km"])?;
    let mut bands: Vec<(u64, ZoneBand)> = Vec::with_capacity(table.len());
    for row in table.rows() {
        let zone = row.u32("zone", 1)?;
        if let Some((first, _)) = bands.iter().find(|(_, b)| b.zone == zone) {
            return Err(row.error(
                "zone",
                format!("duplicate zone {zone} (first on line {first})"),
            ));
        }
        let max_km = row.opt_f64("max_km")?;
        if let Some(m) = max_km
            && m <= 0.0
        {
            return Err(row.error("max_km", format!("expected a distance > 0, found {m}")));
        }
        bands.push((row.line, ZoneBand { zone, max_km }));
    }
    if bands.is_empty() {
        return Err(LoadError::invalid(path, None, None, "no zones defined"));
    }
    bands.sort_by_key(|(_, b)| b.zone);
    for i in 0..bands.len() {
        let (line, band) = bands[i];
        match band.max_km {
            None if i + 1 < bands.len() => {
                return Err(LoadError::invalid(
                    path,
                    Some(line),
                    Some("max_km"),
                    format!(
                        "only the last zone may have an empty max_km, but zone {} is followed by zone {}",
                        band.zone,
                        bands[i + 1].1.zone
                    ),
                ));
            }
            Some(m) if i > 0 => {
                let prev = bands[i - 1].1;
                if let Some(pm) = prev.max_km
                    && m <= pm
                {
                    return Err(LoadError::invalid(
                        path,
                        Some(line),
                        Some("max_km"),
                        format!(
                            "max_km must increase strictly with zone: zone {} has {m}, zone {} has {pm}",
                            band.zone, prev.zone
                        ),
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(bands.into_iter().map(|(_, b)| b).collect())
}

const RATE_COLUMNS: [&str; 6] = [
    "carrier",
    "service",
    "zone",
    "base",
    "per_kg",
    "transit_days",
];

fn read_rates(path: &Path, zones: &[ZoneBand]) -> Result<Vec<CarrierRate>, LoadError> {
    rates_from(Table::read(path, &RATE_COLUMNS)?, zones)
}

/// Parses `rates.csv` text against the zones it refers to.
pub fn parse_rates(text: &str, zones: &[ZoneBand]) -> Result<Vec<CarrierRate>, LoadError> {
    rates_from(
        Table::from_reader(Path::new("rates.csv"), text.as_bytes(), &RATE_COLUMNS)?,
        zones,
    )
}

fn rates_from(table: Table, zones: &[ZoneBand]) -> Result<Vec<CarrierRate>, LoadError> {
    let mut seen: HashMap<(String, Service, u32), u64> = HashMap::new();
    let zone_set: HashSet<u32> = zones.iter().map(|z| z.zone).collect();
    let mut rates = Vec::with_capacity(table.len());
    for row in table.rows() {
        let carrier = row.string("carrier")?.to_owned();
        let service_text = row.string("service")?;
        let service: Service = service_text
            .parse()
            .ok()
            .filter(|s| *s != Service::Pickup)
            .ok_or_else(|| {
                row.error(
                    "service",
                    format!(
                        "expected `ground`, `two_day`, `next_day` or `same_day`, found `{service_text}`"
                    ),
                )
            })?;
        let zone = row.u32("zone", 1)?;
        if !zone_set.contains(&zone) {
            return Err(row.error("zone", format!("zone {zone} is not defined in zones.csv")));
        }
        if let Some(first) = seen.insert((carrier.clone(), service, zone), row.line) {
            return Err(row.error(
                "zone",
                format!(
                    "duplicate rate for carrier `{carrier}`, service `{service}`, zone {zone} (first on line {first})"
                ),
            ));
        }
        let base = row.f64("base")?;
        let per_kg = row.f64("per_kg")?;
        for (col, v) in [("base", base), ("per_kg", per_kg)] {
            if v < 0.0 {
                return Err(row.error(col, format!("expected a price ≥ 0, found {v}")));
            }
        }
        rates.push(CarrierRate {
            carrier,
            service,
            zone,
            base,
            per_kg,
            transit_days: row.u32("transit_days", 0)?,
            weekend: row.bool("weekend", false)?,
        });
    }
    Ok(rates)
}

/// Reads `policy.toml`; a missing file means every default.
pub fn read_policy(path: &Path) -> Result<Policy, LoadError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Policy::default()),
        Err(error) => {
            return Err(LoadError::Io {
                path: path.to_owned(),
                error,
            });
        }
    };
    parse_policy(path, &text)
}

/// Parses the text of a `policy.toml`.
pub fn parse_policy(path: &Path, text: &str) -> Result<Policy, LoadError> {
    let policy: Policy = toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() as u64 + 1);
        LoadError::invalid(path, line, None, e.message().to_owned())
    })?;
    let check = |ok: bool, key: &str, msg: String| {
        if ok {
            Ok(())
        } else {
            let line = text
                .lines()
                .position(|l| l.trim_start().starts_with(key))
                .map(|i| i as u64 + 1);
            Err(LoadError::invalid(path, line, Some(key), msg))
        }
    };
    check(
        policy.split_penalty.is_finite() && policy.split_penalty >= 0.0,
        "split_penalty",
        format!("expected a number ≥ 0, found {}", policy.split_penalty),
    )?;
    check(
        policy.backorder_penalty.is_finite() && policy.backorder_penalty >= 0.0,
        "backorder_penalty",
        format!("expected a number ≥ 0, found {}", policy.backorder_penalty),
    )?;
    if let Some(late) = policy.late_penalty_per_day {
        check(
            late.is_finite() && late >= 0.0,
            "late_penalty_per_day",
            format!("expected a number ≥ 0, found {late}"),
        )?;
    }
    check(
        policy.min_shipment_value.is_finite() && policy.min_shipment_value >= 0.0,
        "min_shipment_value",
        format!("expected a number ≥ 0, found {}", policy.min_shipment_value),
    )?;
    check(
        policy.max_shipments >= 1,
        "max_shipments",
        format!(
            "expected an integer ≥ 1 (an order needs at least one shipment), found {}",
            policy.max_shipments
        ),
    )?;
    if let Some(l) = &policy.lookahead {
        check(
            l.horizon_days.is_finite() && l.horizon_days > 0.0,
            "horizon_days",
            format!(
                "[lookahead] expected a number of days > 0, found {}",
                l.horizon_days
            ),
        )?;
        check(
            l.refresh_share.is_finite() && l.refresh_share > 0.0 && l.refresh_share <= 1.0,
            "refresh_share",
            format!(
                "[lookahead] expected a share in (0, 1], found {}",
                l.refresh_share
            ),
        )?;
        check(
            l.smoothing.is_finite() && l.smoothing > 0.0 && l.smoothing <= 1.0,
            "smoothing",
            format!(
                "[lookahead] expected a weight in (0, 1], found {}",
                l.smoothing
            ),
        )?;
        check(
            l.refresh_seconds.is_finite() && l.refresh_seconds > 0.0,
            "refresh_seconds",
            format!(
                "[lookahead] expected a number of seconds > 0, found {}",
                l.refresh_seconds
            ),
        )?;
        check(
            l.resolution <= 9,
            "resolution",
            format!(
                "[lookahead] expected an H3 resolution 0-9, found {}",
                l.resolution
            ),
        )?;
    }
    Ok(policy)
}
