//! The scenario generator: realistic networks and demand on real US geography.
//!
//! DCs stand in real logistics hubs, stores in the largest cities, customers are drawn in
//! proportion to city population; SKU popularity is Zipf-like and weights log-normal with a heavy
//! tail; zones are USPS-like distance bands; two parcel carriers whose rate cards cross over with
//! weight, and a same-day courier for the nearest zones. Everything follows from the seed.

use std::io::Write;
use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::LoadError;

/// US places with population ≥ 1,000 (GeoNames, CC BY 4.0; see `data/geo/README.md`).
const CITIES_CSV: &str = include_str!("../../data/geo/us_cities.csv");

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
    #[error("invalid size: {0}")]
    Size(String),
    #[error("{path}: cannot write: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Load(#[from] LoadError),
}

struct City {
    name: String,
    state: String,
    lat: f64,
    lon: f64,
    population: f64,
}

fn cities() -> Vec<City> {
    let mut rdr = csv::Reader::from_reader(CITIES_CSV.as_bytes());
    rdr.records()
        .filter_map(Result::ok)
        .filter_map(|r| {
            Some(City {
                name: r.get(1)?.to_owned(),
                state: r.get(2)?.to_owned(),
                lat: r.get(3)?.parse().ok()?,
                lon: r.get(4)?.parse().ok()?,
                population: r.get(5)?.parse().ok()?,
            })
        })
        // The contiguous US: parcels to Alaska, Hawaii and territories are another business.
        .filter(|c| c.lat > 24.0 && c.lat < 50.0 && c.lon > -125.0 && c.lon < -66.0)
        .collect()
}

/// The US state (two-letter code) of the bundled city nearest to (lat, lon), if one lies within
/// 150 km: how change files select nodes by `state`, since nodes.csv has no state column.
pub fn state_near(lat: f64, lon: f64) -> Option<&'static str> {
    use crate::model::geo::{chord2, chord2_of_km, unit_vector};
    static INDEX: std::sync::OnceLock<Vec<([f64; 3], String)>> = std::sync::OnceLock::new();
    let index = INDEX.get_or_init(|| {
        cities()
            .into_iter()
            .map(|c| (unit_vector(c.lat, c.lon), c.state))
            .collect()
    });
    let p = unit_vector(lat, lon);
    let (best, d2) = index
        .iter()
        .map(|(v, state)| (state, chord2(v, &p)))
        .min_by(|a, b| a.1.total_cmp(&b.1))?;
    (d2 <= chord2_of_km(150.0)).then_some(best.as_str())
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
    if cfg.dcs == 0 && cfg.stores == 0 && cfg.dropship == 0 {
        return Err(GenError::Size("at least one node is needed".into()));
    }
    if cfg.skus == 0 {
        return Err(GenError::Size("--skus must be at least 1".into()));
    }
    if cfg.days == 0 {
        return Err(GenError::Size("--days must be at least 1".into()));
    }
    if !(cfg.stock.is_finite() && cfg.stock >= 0.0) {
        return Err(GenError::Size("--stock must be a number ≥ 0".into()));
    }
    let cities = cities();
    if cfg.stores > cities.len() {
        return Err(GenError::Size(format!(
            "--stores may be at most {} (one per city)",
            cities.len()
        )));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| GenError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;

    // Nodes.
    let daily_units = (cfg.orders as f64 * 1.9 / f64::from(cfg.days)).max(1.0);
    let mut nodes = Vec::new();
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
    for (i, hub) in hubs.iter().take(cfg.dcs).enumerate() {
        let code: String = hub
            .name
            .chars()
            .filter(|c| c.is_ascii_alphabetic())
            .take(3)
            .collect();
        nodes.push(GenNode {
            id: format!("DC-{:02}-{}", i + 1, code.to_uppercase()),
            kind: "dc",
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
            lat: city.lat,
            lon: city.lon,
            capacity: None,
            cost_per_shipment: round2(rng.random_range(5.0..7.0)),
            cost_per_unit: 0.0,
            enabled: true,
        });
    }

    // SKUs: Zipf-like popularity, log-normal weights with a heavy tail.
    let skus: Vec<GenSku> = (0..cfg.skus)
        .map(|i| {
            let heavy = rng.random::<f64>() < 0.04;
            let weight = if heavy {
                rng.random_range(5.0..32.0)
            } else {
                (normal(&mut rng) * 0.8 - 0.5).exp().clamp(0.05, 8.0)
            };
            GenSku {
                id: format!("SKU-{:05}", i + 1),
                weight: round2(weight).max(0.01),
                oversize: weight > 20.0,
                popularity: 1.0 / (i as f64 + 10.0).powf(0.95),
            }
        })
        .collect();
    let pop_total: f64 = skus.iter().map(|s| s.popularity).sum();
    let sku_cumulative = cumulative(skus.iter().map(|s| s.popularity));

    // Inventory.
    let mut inventory: Vec<(usize, usize, u32, u32)> = Vec::new();
    let store_assortment = (cfg.skus as f64 * 0.08).ceil() as usize;
    let mut store_skus: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
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
                "store" if !sku.oversize && k < store_assortment => (
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
                store_skus[n].push(k);
            }
            inventory.push((n, k, on_hand, safety));
        }
    }

    // Orders.
    let city_cumulative = cumulative(cities.iter().map(|c| c.population));
    let stores: Vec<usize> = nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.kind == "store" && n.enabled)
        .map(|(i, _)| i)
        .collect();
    let start_day = 20_514i64; // 2026-03-02
    let mut order_rows: Vec<String> = Vec::with_capacity(cfg.orders * 2);
    let mut line_count = 0usize;
    for o in 0..cfg.orders {
        let city = &cities[draw(&mut rng, &city_cumulative)];
        let lat = (city.lat + normal(&mut rng) * 0.04).clamp(-90.0, 90.0);
        let lon = (city.lon + normal(&mut rng) * 0.05).clamp(-180.0, 180.0);
        let s = rng.random::<f64>();
        let service = if s < 0.70 {
            "ground"
        } else if s < 0.82 {
            "two_day"
        } else if s < 0.88 {
            "next_day"
        } else if s < 0.90 {
            "same_day"
        } else if stores.is_empty() {
            "ground"
        } else {
            "pickup"
        };
        // Seconds since the start, spread over the days with more orders in the day than at night.
        let day = (o as u64 * u64::from(cfg.days) / cfg.orders.max(1) as u64) as i64;
        let hour = (12.0 + normal(&mut rng) * 4.0).clamp(0.0, 23.99);
        let t = (start_day + day) * 86_400 + (hour * 3600.0) as i64;
        let created = chrono::DateTime::from_timestamp(t, 0)
            .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_default();
        let r = rng.random::<f64>();
        let lines = if r < 0.58 {
            1
        } else if r < 0.80 {
            2
        } else if r < 0.91 {
            3
        } else if r < 0.96 {
            4
        } else {
            rng.random_range(5..=8)
        };
        let (addr, pickup, chosen) = if service == "pickup" {
            let nearest = stores
                .iter()
                .copied()
                .min_by(|&a, &b| {
                    let da = crate::route::distance_km(nodes[a].lat, nodes[a].lon, lat, lon);
                    let db = crate::route::distance_km(nodes[b].lat, nodes[b].lon, lat, lon);
                    da.total_cmp(&db)
                })
                .unwrap_or(0);
            // Customers buy online for pickup what the site shows in stock at their store.
            let held = &store_skus[nearest];
            let chosen = if held.is_empty() {
                Vec::new()
            } else {
                let cum = cumulative(held.iter().map(|&k| skus[k].popularity));
                let mut chosen: Vec<usize> = Vec::new();
                for _ in 0..lines * 4 {
                    let k = held[draw(&mut rng, &cum)];
                    if !chosen.contains(&k) {
                        chosen.push(k);
                    }
                    if chosen.len() == lines.min(held.len()) {
                        break;
                    }
                }
                chosen
            };
            (",".to_owned(), nodes[nearest].id.clone(), chosen)
        } else {
            // Same-day is offered only on the assortment stores carry.
            let limit = if service == "same_day" {
                store_assortment.max(1)
            } else {
                skus.len()
            };
            let mut chosen: Vec<usize> = Vec::with_capacity(lines);
            while chosen.len() < lines.min(limit) {
                let k = draw(&mut rng, &sku_cumulative);
                if k < limit && !chosen.contains(&k) {
                    chosen.push(k);
                }
            }
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
            order_rows.push(format!(
                "O-{:07},{created},{addr},{service},{pickup},{},{qty}",
                o + 1,
                skus[k].id
            ));
            line_count += 1;
        }
    }

    // Write.
    let write = |name: &str, body: &dyn Fn(&mut dyn Write) -> std::io::Result<()>| {
        let path = dir.join(name);
        let file = std::fs::File::create(&path).map_err(io(&path))?;
        let mut w = std::io::BufWriter::new(file);
        body(&mut w).and_then(|()| w.flush()).map_err(io(&path))
    };
    write("nodes.csv", &|w| {
        writeln!(
            w,
            "node_id,kind,lat,lon,ships,pickup,capacity_units,cost_per_shipment,cost_per_unit,enabled"
        )?;
        for n in &nodes {
            let pickup = u8::from(n.kind == "store");
            let cap = n.capacity.map(|c| c.to_string()).unwrap_or_default();
            writeln!(
                w,
                "{},{},{:.5},{:.5},1,{pickup},{cap},{},{},{}",
                n.id,
                n.kind,
                n.lat,
                n.lon,
                n.cost_per_shipment,
                n.cost_per_unit,
                u8::from(n.enabled)
            )?;
        }
        Ok(())
    })?;
    write("skus.csv", &|w| {
        writeln!(w, "sku,weight_kg,oversize")?;
        for s in &skus {
            writeln!(w, "{},{},{}", s.id, s.weight, u8::from(s.oversize))?;
        }
        Ok(())
    })?;
    write("inventory.csv", &|w| {
        writeln!(w, "node_id,sku,on_hand,safety_stock")?;
        for &(n, k, on_hand, safety) in &inventory {
            writeln!(w, "{},{},{on_hand},{safety}", nodes[n].id, skus[k].id)?;
        }
        Ok(())
    })?;
    write("zones.csv", &|w| {
        writeln!(w, "zone,max_km")?;
        for (i, miles) in ZONE_MILES.iter().enumerate() {
            writeln!(w, "{},{:.1}", i + 1, miles * KM_PER_MILE)?;
        }
        writeln!(w, "{},", ZONE_MILES.len() + 1)
    })?;
    write("rates.csv", &|w| {
        writeln!(w, "carrier,service,zone,base,per_kg,transit_days")?;
        for z in 1..=8u32 {
            let zf = f64::from(z);
            let ground_days = 1 + z.div_ceil(2);
            // ParcelA: higher base, gentler per kg; ParcelB: cheap light parcels, dear heavy ones.
            writeln!(
                w,
                "ParcelA,ground,{z},{:.2},{:.2},{ground_days}",
                7.2 + 0.55 * zf,
                0.30 + 0.09 * zf
            )?;
            writeln!(
                w,
                "ParcelB,ground,{z},{:.2},{:.2},{}",
                6.1 + 0.50 * zf,
                0.42 + 0.14 * zf,
                ground_days + 1
            )?;
            writeln!(
                w,
                "ParcelA,two_day,{z},{:.2},{:.2},2",
                13.5 + 1.1 * zf,
                0.8 + 0.2 * zf
            )?;
            writeln!(
                w,
                "ParcelA,next_day,{z},{:.2},{:.2},1",
                22.0 + 3.2 * zf,
                1.5 + 0.35 * zf
            )?;
            writeln!(
                w,
                "ParcelB,next_day,{z},{:.2},{:.2},1",
                20.0 + 3.6 * zf,
                1.7 + 0.40 * zf
            )?;
        }
        writeln!(w, "Courier,same_day,1,11.00,0.50,0")?;
        writeln!(w, "Courier,same_day,2,17.00,0.80,0")
    })?;
    write("policy.toml", &|w| {
        writeln!(
            w,
            "split_penalty = 3.0\nbackorder_penalty = 250.0\nmax_shipments = 4\nship_from_store = true"
        )
    })?;
    write("orders.csv", &|w| {
        writeln!(w, "order_id,created_at,lat,lon,service,pickup_node,sku,qty")?;
        for row in &order_rows {
            writeln!(w, "{row}")?;
        }
        Ok(())
    })?;
    Ok(GenSummary {
        nodes: nodes.len(),
        skus: skus.len(),
        inventory_rows: inventory.len(),
        orders: cfg.orders,
        order_lines: line_count,
    })
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
