//! The scenario generator: realistic networks and demand on real US geography.
//!
//! DCs stand in real logistics hubs, stores in the largest cities, customers are drawn in
//! proportion to city population; SKU popularity is Zipf-like and weights log-normal with a heavy
//! tail; zones are USPS-like distance bands; two parcel carriers whose rate cards cross over with
//! weight, and a same-day courier for the nearest zones. Everything follows from the seed.
//!
//! Dates (scenario format v2): every node works in its city's time zone with a cut-off (DCs
//! 17:00, stores 15:00, vendors 12:00 with two processing days on weekdays), calendars shut on
//! the US holidays, express carriers deliver on weekends, a share of orders carry `deliver_by`
//! or let the router choose the service (`auto`), and DCs expect inbound supply. The date parts
//! draw from their own random stream, so the rest of a scenario is what version 1 generated.

use std::io::Write;
use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::LoadError;
use crate::model::geo::{City, cities, distance_km};

/// Real logistics hubs, in the order DCs are opened.
const HUBS: &[(&str, &str)] = &[
    ("Memphis", "TN"),
    ("Allentown", "PA"),
    ("Reno", "NV"),
    ("Dallas", "TX"),
    ("Atlanta", "GA"),
    ("Columbus", "OH"),
    ("Riverside", "CA"),
    ("Chicago", "IL"),
    ("Kansas City", "MO"),
    ("Salt Lake City", "UT"),
    ("Louisville", "KY"),
    ("Indianapolis", "IN"),
    ("Kent", "WA"),
    ("Edison", "NJ"),
    ("Lakeland", "FL"),
    ("Phoenix", "AZ"),
    ("Denver", "CO"),
    ("Charlotte", "NC"),
    ("Stockton", "CA"),
    ("Houston", "TX"),
    ("Harrisburg", "PA"),
    ("Savannah", "GA"),
    ("Nashville", "TN"),
    ("Cincinnati", "OH"),
    ("Ontario", "CA"),
];

/// USPS zone bands in miles (zone 8 is unbounded).
const ZONE_MILES: [f64; 7] = [50.0, 150.0, 300.0, 600.0, 1000.0, 1400.0, 1800.0];
const KM_PER_MILE: f64 = 1.609_344;

/// Sizes and seed of a generated scenario.
#[derive(Clone, Debug)]
pub struct GenConfig {
    pub seed: u64,
    pub dcs: usize,
    pub stores: usize,
    pub dropship: usize,
    pub skus: usize,
    pub orders: usize,
    pub days: u32,
    /// Multiplies units on hand everywhere (1.0: a healthy network).
    pub stock: f64,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            seed: 1,
            dcs: 10,
            stores: 300,
            dropship: 5,
            skus: 5000,
            orders: 20_000,
            days: 7,
            stock: 1.0,
        }
    }
}

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GenError {
    #[error("invalid size: at least one node is needed")]
    NoNodes,
    #[error("invalid size: --skus must be at least 1")]
    NoSkus,
    #[error("invalid size: --days must be at least 1")]
    NoDays,
    #[error("invalid size: {0}")]
    Size(String),
    #[error("invalid size: --stock must be a number ≥ 0, not {stock}")]
    Stock { stock: f64 },
    #[error("invalid size: --stores may be at most {max} (one per city)")]
    TooManyStores { max: usize },
    #[error("{path}: cannot write: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Load(#[from] LoadError),
}

/// Draws from a discrete distribution given cumulative weights.
fn draw(rng: &mut ChaCha8Rng, cumulative: &[f64]) -> usize {
    let total = cumulative.last().copied().unwrap_or(0.0);
    let x = rng.random::<f64>() * total;
    cumulative
        .partition_point(|&c| c <= x)
        .min(cumulative.len() - 1)
}

fn cumulative(weights: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut acc = 0.0;
    weights
        .map(|w| {
            acc += w;
            acc
        })
        .collect()
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(1e-12);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

struct GenNode {
    id: String,
    kind: &'static str,
    timezone: String,
    lat: f64,
    lon: f64,
    capacity: Option<u32>,
    cost_per_shipment: f64,
    cost_per_unit: f64,
    enabled: bool,
}

struct GenSku {
    id: String,
    weight: f64,
    oversize: bool,
    popularity: f64,
}

/// Generates a scenario into `dir` (created if missing): the six network files and orders.csv.
pub fn generate(cfg: &GenConfig, dir: &Path) -> Result<GenSummary, GenError> {
    let cities = cities();
    check(cfg, cities.len())?;
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let nodes = gen_nodes(cfg, &cities, &mut rng);
    let skus = gen_skus(cfg, &mut rng);
    let stock = gen_inventory(cfg, &nodes, &skus, &mut rng);
    let demand = Demand::new(cfg, &cities, &nodes, &skus, &stock);
    let mut orders = Vec::with_capacity(cfg.orders * 2);
    let mut dates_rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ DATES_STREAM);
    for o in 0..cfg.orders {
        demand.order(o, &mut rng, &mut dates_rng, &mut orders);
    }
    let inbound = gen_inbound(cfg, &nodes, &stock, &mut dates_rng);
    let out = Output { dir };
    out.nodes(&nodes)?;
    out.calendars()?;
    out.inbound(&nodes, &skus, &inbound)?;
    out.skus(&skus)?;
    out.inventory(&nodes, &skus, &stock.rows)?;
    out.zones()?;
    out.rates()?;
    out.policy()?;
    out.orders(&orders)?;
    Ok(GenSummary {
        nodes: nodes.len(),
        skus: skus.len(),
        inventory_rows: stock.rows.len(),
        orders: cfg.orders,
        order_lines: orders.len(),
    })
}

/// Refuses sizes that cannot make a scenario.
fn check(cfg: &GenConfig, cities: usize) -> Result<(), GenError> {
    if cfg.dcs == 0 && cfg.stores == 0 && cfg.dropship == 0 {
        return Err(GenError::NoNodes);
    }
    if cfg.skus == 0 {
        return Err(GenError::NoSkus);
    }
    if cfg.days == 0 {
        return Err(GenError::NoDays);
    }
    if !(cfg.stock.is_finite() && cfg.stock >= 0.0) {
        return Err(GenError::Stock { stock: cfg.stock });
    }
    if cfg.stores > cities {
        return Err(GenError::TooManyStores { max: cities });
    }
    Ok(())
}

pub(super) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> GenError + use<> {
    let path = path.display().to_string();
    move |source| GenError::Io { path, source }
}

/// DCs in real logistics hubs, stores in the largest cities, dropship vendors in mid-sized ones.
fn gen_nodes(cfg: &GenConfig, cities: &[City], rng: &mut ChaCha8Rng) -> Vec<GenNode> {
    let daily_units = (cfg.orders as f64 * 1.9 / f64::from(cfg.days)).max(1.0);
    let mut nodes = Vec::new();
    for (i, hub) in hubs(cfg, cities).iter().take(cfg.dcs).enumerate() {
        let code: String = hub
            .name
            .chars()
            .filter(|c| c.is_ascii_alphabetic())
            .take(3)
            .collect();
        nodes.push(GenNode {
            id: format!("DC-{:02}-{}", i + 1, code.to_uppercase()),
            kind: "dc",
            timezone: hub.timezone.clone(),
            lat: hub.lat,
            lon: hub.lon,
            capacity: Some(
                ((daily_units * 1.5 / cfg.dcs.max(1) as f64) * rng.random_range(0.8..1.3)).ceil()
                    as u32
                    + 20,
            ),
            cost_per_shipment: round2(rng.random_range(1.5..2.5)),
            cost_per_unit: round2(rng.random_range(0.2..0.35)),
            enabled: true,
        });
    }
    for (i, city) in cities.iter().take(cfg.stores).enumerate() {
        nodes.push(GenNode {
            id: format!("ST-{:04}", i + 1),
            kind: "store",
            timezone: city.timezone.clone(),
            lat: city.lat,
            lon: city.lon,
            capacity: Some(rng.random_range(30..120)),
            cost_per_shipment: round2(rng.random_range(3.5..5.0)),
            cost_per_unit: round2(rng.random_range(0.8..1.2)),
            enabled: rng.random::<f64>() > 0.01,
        });
    }
    for i in 0..cfg.dropship {
        let hi = cities.len().min(2000);
        let city = &cities[rng.random_range(hi.min(50)..hi)];
        nodes.push(GenNode {
            id: format!("VX-{:02}", i + 1),
            kind: "dropship",
            timezone: city.timezone.clone(),
            lat: city.lat,
            lon: city.lon,
            capacity: None,
            cost_per_shipment: round2(rng.random_range(5.0..7.0)),
            cost_per_unit: 0.0,
            enabled: true,
        });
    }
    nodes
}

/// The cities DCs open in: the real hubs first, then every seventh city.
fn hubs<'c>(cfg: &GenConfig, cities: &'c [City]) -> Vec<&'c City> {
    let mut hubs: Vec<&City> = HUBS
        .iter()
        .filter_map(|(n, s)| cities.iter().find(|c| c.name == *n && c.state == *s))
        .collect();
    let mut extra = cities.iter().step_by(7);
    while hubs.len() < cfg.dcs {
        match extra.next() {
            Some(c) if !hubs.iter().any(|h| h.name == c.name && h.state == c.state) => hubs.push(c),
            Some(_) => {}
            None => break,
        }
    }
    hubs
}

/// SKUs: Zipf-like popularity, log-normal weights with a heavy tail.
fn gen_skus(cfg: &GenConfig, rng: &mut ChaCha8Rng) -> Vec<GenSku> {
    (0..cfg.skus)
        .map(|i| {
            let heavy = rng.random::<f64>() < 0.04;
            let weight = if heavy {
                rng.random_range(5.0..32.0)
            } else {
                (normal(rng) * 0.8 - 0.5).exp().clamp(0.05, 8.0)
            };
            GenSku {
                id: format!("SKU-{:05}", i + 1),
                weight: round2(weight).max(0.01),
                oversize: weight > 20.0,
                popularity: 1.0 / (i as f64 + 10.0).powf(0.95),
            }
        })
        .collect()
}

/// One inventory row: node index, SKU index, on hand, safety stock.
struct StockRow {
    node: usize,
    sku: usize,
    on_hand: u32,
    safety_stock: u32,
}

/// The stock generated, and what each store can hand over (for pickup demand).
struct Stock {
    rows: Vec<StockRow>,
    /// Per node, the SKUs a store holds more of than its safety stock.
    store_skus: Vec<Vec<usize>>,
    /// The most popular SKUs, the only ones stores carry.
    store_assortment: usize,
}

/// Stock in proportion to demand: DCs hold most SKUs, stores the popular small ones, dropship
/// vendors slices of the long tail.
fn gen_inventory(
    cfg: &GenConfig,
    nodes: &[GenNode],
    skus: &[GenSku],
    rng: &mut ChaCha8Rng,
) -> Stock {
    let pop_total: f64 = skus.iter().map(|s| s.popularity).sum();
    let mut stock = Stock {
        rows: Vec::new(),
        store_skus: vec![Vec::new(); nodes.len()],
        store_assortment: (cfg.skus as f64 * 0.08).ceil() as usize,
    };
    let total_units = cfg.orders as f64 * 1.9;
    let dc_count = cfg.dcs.max(1) as f64;
    for (k, sku) in skus.iter().enumerate() {
        let demand = total_units * sku.popularity / pop_total;
        let rank_share = k as f64 / cfg.skus as f64;
        for (n, node) in nodes.iter().enumerate() {
            let (p, mean) = match node.kind {
                "dc" => (
                    0.95 - 0.45 * rank_share,
                    2.0 * demand / (dc_count * 0.7) + 2.0,
                ),
                "store" if !sku.oversize && k < stock.store_assortment => (
                    0.7 - 4.0 * rank_share,
                    3.0 + 40.0 * demand / total_units * 100.0,
                ),
                "dropship" => {
                    let slice = (n + k) % (cfg.dropship.max(1) * 4) == 0;
                    (if slice && rank_share > 0.3 { 1.0 } else { 0.0 }, 200.0)
                }
                _ => (0.0, 0.0),
            };
            if rng.random::<f64>() >= p {
                continue;
            }
            let on_hand = (mean * cfg.stock * rng.random_range(0.3..1.7)).round() as u32;
            let safety = if node.kind == "store" && on_hand > 2 && rng.random::<f64>() < 0.5 {
                1
            } else {
                0
            };
            if node.kind == "store" && on_hand > safety {
                stock.store_skus[n].push(k);
            }
            stock.rows.push(StockRow {
                node: n,
                sku: k,
                on_hand,
                safety_stock: safety,
            });
        }
    }
    stock
}

/// First day of generated orders: 2026-03-02, in days since 1970-01-01.
const START_DAY: i64 = 20_514;

/// Mixed into the seed for the random stream of the date parts.
const DATES_STREAM: u64 = 0xDA7E_5EED;

/// US holidays of 2026 and New Year 2027, on which the generated calendars are shut.
const HOLIDAYS: &str = r#"["2026-01-01", "2026-04-05", "2026-05-25", "2026-07-04", "2026-09-07", "2026-11-26", "2026-12-25", "2027-01-01"]"#;

/// Inbound supply: (node index, SKU index, units, days after the start it can be handled).
struct InboundRow {
    node: usize,
    sku: usize,
    qty: u32,
    after_days: i64,
}

/// Purchase orders on their way to DCs: for one DC stock row in twenty, a delivery of about as
/// much again, due within the horizon or a few days after it.
fn gen_inbound(
    cfg: &GenConfig,
    nodes: &[GenNode],
    stock: &Stock,
    rng: &mut ChaCha8Rng,
) -> Vec<InboundRow> {
    let mut rows = Vec::new();
    for r in stock.rows.iter().filter(|r| nodes[r.node].kind == "dc") {
        if rng.random::<f64>() < 0.05 {
            rows.push(InboundRow {
                node: r.node,
                sku: r.sku,
                qty: (f64::from(r.on_hand.max(4)) * rng.random_range(0.5..1.5)).round() as u32,
                after_days: rng.random_range(1..=i64::from(cfg.days) + 4),
            });
        }
    }
    rows
}

/// `YYYY-MM-DD` of a day `after` days from the start.
fn start_plus(after: i64) -> String {
    crate::model::dates::format_day((START_DAY + after) as i32)
}

/// What orders are drawn from: customers by city population, SKUs by popularity.
struct Demand<'a> {
    cfg: &'a GenConfig,
    cities: &'a [City],
    city_cumulative: Vec<f64>,
    nodes: &'a [GenNode],
    skus: &'a [GenSku],
    sku_cumulative: Vec<f64>,
    stock: &'a Stock,
    /// Enabled stores, where pickup orders go.
    stores: Vec<usize>,
}

impl<'a> Demand<'a> {
    fn new(
        cfg: &'a GenConfig,
        cities: &'a [City],
        nodes: &'a [GenNode],
        skus: &'a [GenSku],
        stock: &'a Stock,
    ) -> Demand<'a> {
        Demand {
            cfg,
            cities,
            city_cumulative: cumulative(cities.iter().map(|c| c.population)),
            nodes,
            skus,
            sku_cumulative: cumulative(skus.iter().map(|s| s.popularity)),
            stock,
            stores: nodes
                .iter()
                .enumerate()
                .filter(|(_, n)| n.kind == "store" && n.enabled)
                .map(|(i, _)| i)
                .collect(),
        }
    }

    /// Order `o`: its rows of orders.csv appended to `rows`. `dates` draws its date parts: one
    /// ship order in five must arrive within three to seven days of its creation, and one ground
    /// order in six lets the router choose the service.
    fn order(
        &self,
        o: usize,
        rng: &mut ChaCha8Rng,
        dates: &mut ChaCha8Rng,
        rows: &mut Vec<String>,
    ) {
        let city = &self.cities[draw(rng, &self.city_cumulative)];
        let lat = (city.lat + normal(rng) * 0.04).clamp(-90.0, 90.0);
        let lon = (city.lon + normal(rng) * 0.05).clamp(-180.0, 180.0);
        let mut service = self.service(rng);
        let created = self.created_at(o, rng);
        let deliver_by = if service != "pickup" && dates.random::<f64>() < 0.2 {
            let created_day =
                (o as u64 * u64::from(self.cfg.days) / self.cfg.orders.max(1) as u64) as i64;
            start_plus(created_day + dates.random_range(3..=7))
        } else {
            String::new()
        };
        if service == "ground" && dates.random::<f64>() < 1.0 / 6.0 {
            service = "auto";
        }
        let lines = line_count(rng);
        let (addr, pickup, chosen) = if service == "pickup" {
            let nearest = self.nearest_store(lat, lon);
            let chosen = self.held_at(nearest, lines, rng);
            (",".to_owned(), self.nodes[nearest].id.clone(), chosen)
        } else {
            let chosen = self.shipped(
                if service == "auto" { "ground" } else { service },
                lines,
                rng,
            );
            (format!("{lat:.5},{lon:.5}"), String::new(), chosen)
        };
        for k in chosen {
            let q = rng.random::<f64>();
            let qty = if q < 0.86 {
                1
            } else if q < 0.96 {
                2
            } else {
                rng.random_range(3..=5)
            };
            rows.push(format!(
                "O-{:07},{created},{addr},{service},{pickup},{},{qty},{deliver_by}",
                o + 1,
                self.skus[k].id
            ));
        }
    }

    fn service(&self, rng: &mut ChaCha8Rng) -> &'static str {
        let s = rng.random::<f64>();
        if s < 0.70 {
            "ground"
        } else if s < 0.82 {
            "two_day"
        } else if s < 0.88 {
            "next_day"
        } else if s < 0.90 {
            "same_day"
        } else if self.stores.is_empty() {
            "ground"
        } else {
            "pickup"
        }
    }

    /// Seconds since the start, spread over the days with more orders in the day than at night.
    fn created_at(&self, o: usize, rng: &mut ChaCha8Rng) -> String {
        let cfg = self.cfg;
        let day = (o as u64 * u64::from(cfg.days) / cfg.orders.max(1) as u64) as i64;
        let hour = (12.0 + normal(rng) * 4.0).clamp(0.0, 23.99);
        let t = (START_DAY + day) * 86_400 + (hour * 3600.0) as i64;
        chrono::DateTime::from_timestamp(t, 0)
            .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_default()
    }

    fn nearest_store(&self, lat: f64, lon: f64) -> usize {
        let nodes = self.nodes;
        self.stores
            .iter()
            .copied()
            .min_by(|&a, &b| {
                let da = distance_km(nodes[a].lat, nodes[a].lon, lat, lon);
                let db = distance_km(nodes[b].lat, nodes[b].lon, lat, lon);
                da.total_cmp(&db)
            })
            .unwrap_or(0)
    }

    /// Customers buy online for pickup what the site shows in stock at their store.
    fn held_at(&self, store: usize, lines: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
        let held = &self.stock.store_skus[store];
        if held.is_empty() {
            return Vec::new();
        }
        let cum = cumulative(held.iter().map(|&k| self.skus[k].popularity));
        let mut chosen: Vec<usize> = Vec::new();
        for _ in 0..lines * 4 {
            let k = held[draw(rng, &cum)];
            if !chosen.contains(&k) {
                chosen.push(k);
            }
            if chosen.len() == lines.min(held.len()) {
                break;
            }
        }
        chosen
    }

    /// SKUs of a shipped order; same-day is offered only on the assortment stores carry.
    fn shipped(&self, service: &str, lines: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
        let limit = if service == "same_day" {
            self.stock.store_assortment.max(1)
        } else {
            self.skus.len()
        };
        let mut chosen: Vec<usize> = Vec::with_capacity(lines);
        while chosen.len() < lines.min(limit) {
            let k = draw(rng, &self.sku_cumulative);
            if k < limit && !chosen.contains(&k) {
                chosen.push(k);
            }
        }
        chosen
    }
}

/// Lines per order: mostly one, a long tail up to eight.
fn line_count(rng: &mut ChaCha8Rng) -> usize {
    let r = rng.random::<f64>();
    if r < 0.58 {
        1
    } else if r < 0.80 {
        2
    } else if r < 0.91 {
        3
    } else if r < 0.96 {
        4
    } else {
        rng.random_range(5..=8)
    }
}

/// Writes `dir/name` through a buffer with `body`; an I/O error names the file.
pub(super) fn write_file(
    dir: &Path,
    name: &str,
    body: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), GenError> {
    let path = dir.join(name);
    let file = std::fs::File::create(&path).map_err(io(&path))?;
    let mut w = std::io::BufWriter::new(file);
    body(&mut w).and_then(|()| w.flush()).map_err(io(&path))
}

/// The scenario folder being written.
struct Output<'a> {
    dir: &'a Path,
}

impl Output<'_> {
    fn write(
        &self,
        name: &str,
        body: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> Result<(), GenError> {
        write_file(self.dir, name, body)
    }

    fn nodes(&self, nodes: &[GenNode]) -> Result<(), GenError> {
        self.write("nodes.csv", |w| {
            writeln!(
                w,
                "node_id,kind,lat,lon,ships,pickup,capacity_units,cost_per_shipment,cost_per_unit,enabled,timezone,cutoff,processing_days,calendar"
            )?;
            for n in nodes {
                let pickup = u8::from(n.kind == "store");
                let cap = n.capacity.map(|c| c.to_string()).unwrap_or_default();
                let (cutoff, processing, calendar) = match n.kind {
                    "dc" => ("17:00", 0, "dc"),
                    "store" => ("15:00", 0, "store"),
                    _ => ("12:00", 2, "vendor"),
                };
                writeln!(
                    w,
                    "{},{},{:.5},{:.5},1,{pickup},{cap},{},{},{},{},{cutoff},{processing},{calendar}",
                    n.id,
                    n.kind,
                    n.lat,
                    n.lon,
                    n.cost_per_shipment,
                    n.cost_per_unit,
                    u8::from(n.enabled),
                    n.timezone
                )?;
            }
            Ok(())
        })
    }

    /// DCs and stores work every day but the holidays; vendors on weekdays only.
    fn calendars(&self) -> Result<(), GenError> {
        self.write("calendars.toml", |w| {
            writeln!(w, "[dc]\nclosed = {HOLIDAYS}\n")?;
            writeln!(w, "[store]\nclosed = {HOLIDAYS}\n")?;
            writeln!(
                w,
                "[vendor]\nopen = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\"]\nclosed = {HOLIDAYS}"
            )
        })
    }

    fn inbound(
        &self,
        nodes: &[GenNode],
        skus: &[GenSku],
        rows: &[InboundRow],
    ) -> Result<(), GenError> {
        self.write("inbound.csv", |w| {
            writeln!(w, "node_id,sku,qty,available_date")?;
            for r in rows {
                let (node, sku) = (&nodes[r.node].id, &skus[r.sku].id);
                writeln!(w, "{node},{sku},{},{}", r.qty, start_plus(r.after_days))?;
            }
            Ok(())
        })
    }

    fn skus(&self, skus: &[GenSku]) -> Result<(), GenError> {
        self.write("skus.csv", |w| {
            writeln!(w, "sku,weight_kg,oversize")?;
            for s in skus {
                writeln!(w, "{},{},{}", s.id, s.weight, u8::from(s.oversize))?;
            }
            Ok(())
        })
    }

    fn inventory(
        &self,
        nodes: &[GenNode],
        skus: &[GenSku],
        rows: &[StockRow],
    ) -> Result<(), GenError> {
        self.write("inventory.csv", |w| {
            writeln!(w, "node_id,sku,on_hand,safety_stock")?;
            for r in rows {
                let (node, sku) = (&nodes[r.node].id, &skus[r.sku].id);
                writeln!(w, "{node},{sku},{},{}", r.on_hand, r.safety_stock)?;
            }
            Ok(())
        })
    }

    fn zones(&self) -> Result<(), GenError> {
        self.write("zones.csv", |w| {
            writeln!(w, "zone,max_km")?;
            for (i, miles) in ZONE_MILES.iter().enumerate() {
                writeln!(w, "{},{:.1}", i + 1, miles * KM_PER_MILE)?;
            }
            writeln!(w, "{},", ZONE_MILES.len() + 1)
        })
    }

    /// Two parcel carriers whose rate cards cross over with weight (ParcelA: higher base, gentler
    /// per kg; ParcelB: cheap light parcels, dear heavy ones), and a same-day courier.
    fn rates(&self) -> Result<(), GenError> {
        self.write("rates.csv", |w| {
            writeln!(w, "carrier,service,zone,base,per_kg,transit_days,weekend")?;
            for z in 1..=8u32 {
                let zf = f64::from(z);
                let ground_days = 1 + z.div_ceil(2);
                let a_ground = (7.2 + 0.55 * zf, 0.30 + 0.09 * zf);
                let b_ground = (6.1 + 0.50 * zf, 0.42 + 0.14 * zf);
                let a_two_day = (13.5 + 1.1 * zf, 0.8 + 0.2 * zf);
                let a_next = (22.0 + 3.2 * zf, 1.5 + 0.35 * zf);
                let b_next = (20.0 + 3.6 * zf, 1.7 + 0.40 * zf);
                // (ParcelA's express services deliver on weekends; the rest on weekdays.)
                let line = |w: &mut dyn Write,
                            name: &str,
                            (base, kg): (f64, f64),
                            days: u32,
                            weekend: u8| {
                    writeln!(w, "{name},{z},{base:.2},{kg:.2},{days},{weekend}")
                };
                line(w, "ParcelA,ground", a_ground, ground_days, 0)?;
                line(w, "ParcelB,ground", b_ground, ground_days + 1, 0)?;
                line(w, "ParcelA,two_day", a_two_day, 2, 1)?;
                line(w, "ParcelA,next_day", a_next, 1, 1)?;
                line(w, "ParcelB,next_day", b_next, 1, 0)?;
            }
            writeln!(w, "Courier,same_day,1,11.00,0.50,0,1")?;
            writeln!(w, "Courier,same_day,2,17.00,0.80,0,1")
        })
    }

    fn policy(&self) -> Result<(), GenError> {
        self.write("policy.toml", |w| {
            writeln!(
                w,
                "split_penalty = 3.0\nbackorder_penalty = 250.0\nmax_shipments = 4\nship_from_store = true\nlate_penalty_per_day = 15.0\nallocate_inbound = true"
            )
        })
    }

    fn orders(&self, rows: &[String]) -> Result<(), GenError> {
        self.write("orders.csv", |w| {
            writeln!(
                w,
                "order_id,created_at,lat,lon,service,pickup_node,sku,qty,deliver_by"
            )?;
            for row in rows {
                writeln!(w, "{row}")?;
            }
            Ok(())
        })
    }
}

/// Counts of what [`generate`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenSummary {
    pub nodes: usize,
    pub skus: usize,
    pub inventory_rows: usize,
    pub orders: usize,
    pub order_lines: usize,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
