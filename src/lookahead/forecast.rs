//! Expected demand per region and SKU per day: from a planner's `forecast.csv` points, or
//! learned from the orders routed so far ([`History`], exponential smoothing of daily units).
//!
//! A region is an H3 cell at the `[lookahead]` resolution; its demand sits at the
//! demand-weighted mean of the points (or order addresses) that fell in it, so a forecast given
//! at city centroids keeps each city where it is unless two share a cell.

use std::collections::BTreeMap;

use h3o::{LatLng, Resolution};

use crate::model::{Day, DemandPoint, Destination, Order, SkuId};

/// One demand region: where its demand is centred.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Region {
    pub lat: f64,
    pub lon: f64,
    /// The H3 cell (its `u64`).
    pub cell: u64,
}

/// Units per day expected per region and SKU.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Forecast {
    regions: Vec<Region>,
    /// Per SKU index: (region, units per day > 0), by region.
    by_sku: Vec<Vec<(u32, f64)>>,
}

/// Sums of a region's points: weight, and latitude and longitude times weight.
#[derive(Clone, Copy, Default, Debug)]
struct Centre {
    weight: f64,
    lat: f64,
    lon: f64,
}

impl Centre {
    fn add(&mut self, lat: f64, lon: f64, w: f64) {
        self.weight += w;
        self.lat += lat * w;
        self.lon += lon * w;
    }
}

/// The H3 cell of a point at `resolution` (0–9; validated with the policy).
fn cell_of(lat: f64, lon: f64, resolution: u8) -> Option<u64> {
    let res = Resolution::try_from(resolution.min(15)).ok()?;
    Some(u64::from(LatLng::new(lat, lon).ok()?.to_cell(res)))
}

impl Forecast {
    /// Groups `points` into regions at `resolution`; rows of one SKU in one region add up.
    /// Points with no demand (or not on the globe) are left out.
    pub fn from_points(points: &[DemandPoint], sku_count: usize, resolution: u8) -> Forecast {
        let mut centres: BTreeMap<u64, Centre> = BTreeMap::new();
        let mut rates: BTreeMap<(u64, u32), f64> = BTreeMap::new();
        for p in points {
            if p.units_per_day.is_nan() || p.units_per_day <= 0.0 || p.sku.index() >= sku_count {
                continue;
            }
            let Some(cell) = cell_of(p.lat, p.lon, resolution) else {
                continue;
            };
            centres
                .entry(cell)
                .or_default()
                .add(p.lat, p.lon, p.units_per_day);
            *rates.entry((cell, p.sku.0)).or_default() += p.units_per_day;
        }
        Forecast::from_parts(&centres, &rates, sku_count)
    }

    fn from_parts(
        centres: &BTreeMap<u64, Centre>,
        rates: &BTreeMap<(u64, u32), f64>,
        sku_count: usize,
    ) -> Forecast {
        let mut index = BTreeMap::new();
        let mut regions = Vec::with_capacity(centres.len());
        for (&cell, c) in centres {
            if c.weight > 0.0 {
                index.insert(cell, regions.len() as u32);
                regions.push(Region {
                    lat: c.lat / c.weight,
                    lon: c.lon / c.weight,
                    cell,
                });
            }
        }
        let mut by_sku = vec![Vec::new(); sku_count];
        for (&(cell, sku), &rate) in rates {
            if let (Some(&r), true) = (index.get(&cell), rate > 0.0) {
                // (A SKU added to the network after the history began.)
                if by_sku.len() <= sku as usize {
                    by_sku.resize(sku as usize + 1, Vec::new());
                }
                by_sku[sku as usize].push((r, rate));
            }
        }
        for list in &mut by_sku {
            list.sort_by_key(|&(r, _)| r);
        }
        Forecast { regions, by_sku }
    }

    /// The regions, indexed by the `u32`s of [`Forecast::of_sku`].
    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    /// A SKU's expected units per day per region (region, rate > 0).
    pub fn of_sku(&self, sku: SkuId) -> &[(u32, f64)] {
        self.by_sku.get(sku.index()).map_or(&[], Vec::as_slice)
    }

    /// A SKU's expected units per day over all regions.
    pub fn total(&self, sku: SkuId) -> f64 {
        self.of_sku(sku).iter().map(|(_, r)| r).sum()
    }

    /// Whether it expects no demand at all.
    pub fn is_empty(&self) -> bool {
        self.by_sku.iter().all(Vec::is_empty)
    }
}

/// The demand of the orders routed so far, as a forecast: per region and SKU, an exponentially
/// smoothed daily rate (simple exponential smoothing, level only: `rate ← α·units of the day +
/// (1 − α)·rate` when a UTC day closes; the first closed day sets it; days without orders count
/// as zero). Orders are counted on the UTC day of `created_at`; an order without one, or from a
/// day before the current one, counts in the current day. Until a day has closed there is no
/// forecast.
#[derive(Clone, Debug)]
pub struct History {
    alpha: f64,
    resolution: u8,
    sku_count: usize,
    day: Option<Day>,
    today: BTreeMap<(u64, u32), f64>,
    rates: BTreeMap<(u64, u32), f64>,
    centres: BTreeMap<u64, Centre>,
    closed_days: u32,
}

impl History {
    /// An empty history smoothing with weight `alpha` (0 < alpha ≤ 1) into regions at
    /// `resolution`.
    pub fn new(alpha: f64, resolution: u8, sku_count: usize) -> History {
        History {
            alpha,
            resolution,
            sku_count,
            day: None,
            today: BTreeMap::new(),
            rates: BTreeMap::new(),
            centres: BTreeMap::new(),
            closed_days: 0,
        }
    }

    /// Counts a routed order's units (what it asked for, whatever it got). Returns `true` when
    /// it closed one or more days, so the forecast changed.
    pub fn observe(&mut self, order: &Order) -> bool {
        self.observe_on(order, order.day)
    }

    /// As [`History::observe`], the order counted on `day` (the service's clock for an order
    /// without `created_at`).
    pub fn observe_on(&mut self, order: &Order, day: Option<Day>) -> bool {
        let closed = match (self.day, day) {
            (Some(today), Some(day)) if day > today => {
                self.close_days(day - today);
                self.day = Some(day);
                true
            }
            (None, Some(day)) => {
                self.day = Some(day);
                false
            }
            _ => false,
        };
        let Destination::Address { lat, lon } = order.destination else {
            return closed;
        };
        let Some(cell) = cell_of(lat, lon, self.resolution) else {
            return closed;
        };
        for line in &order.lines {
            let q = f64::from(line.qty);
            *self.today.entry((cell, line.sku.0)).or_default() += q;
            self.centres.entry(cell).or_default().add(lat, lon, q);
        }
        closed
    }

    /// Closes the current day and `days − 1` empty ones after it.
    fn close_days(&mut self, days: i32) {
        let today = std::mem::take(&mut self.today);
        for key in today.keys() {
            self.rates.entry(*key).or_insert(0.0);
        }
        let a = self.alpha;
        for (key, rate) in self.rates.iter_mut() {
            let units = today.get(key).copied().unwrap_or(0.0);
            *rate = if self.closed_days == 0 {
                units
            } else {
                a * units + (1.0 - a) * *rate
            };
        }
        self.closed_days += 1;
        for _ in 1..days.max(1) {
            for rate in self.rates.values_mut() {
                *rate *= 1.0 - a;
            }
            self.closed_days += 1;
        }
    }

    /// Days closed so far.
    pub fn closed_days(&self) -> u32 {
        self.closed_days
    }

    /// The smoothed rates as a forecast (empty until a day has closed).
    pub fn forecast(&self) -> Forecast {
        Forecast::from_parts(&self.centres, &self.rates, self.sku_count)
    }
}

/// Units per order among the orders seen: how many units share a package on average, which
/// prices a unit in the SKU LPs (`prices.rs`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Basket {
    units: u64,
    orders: u64,
}

impl Basket {
    /// Counts `order`.
    pub fn observe(&mut self, order: &Order) {
        self.units += order.units();
        self.orders += 1;
    }

    /// The orders seen and `order` besides.
    pub fn including(mut self, order: &Order) -> Basket {
        self.observe(order);
        self
    }

    /// Mean units per order; 1 before any order.
    pub fn mean(&self) -> f64 {
        if self.orders == 0 {
            1.0
        } else {
            self.units as f64 / self.orders as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{OrderLine, Service};

    fn point(lat: f64, lon: f64, sku: u32, rate: f64) -> DemandPoint {
        DemandPoint {
            lat,
            lon,
            sku: SkuId(sku),
            units_per_day: rate,
        }
    }

    #[test]
    fn points_in_one_cell_are_one_region_at_their_weighted_centre() {
        // Two points 1 km apart share a resolution-4 cell; a third is 800 km away.
        let f = Forecast::from_points(
            &[
                point(40.0, -90.0, 0, 3.0),
                point(40.009, -90.0, 0, 1.0),
                point(40.0, -80.0, 1, 2.0),
                point(35.0, -80.0, 1, 0.0),
            ],
            2,
            4,
        );
        assert_eq!(f.regions().len(), 2);
        assert_eq!(f.total(SkuId(0)), 4.0);
        assert_eq!(f.total(SkuId(1)), 2.0);
        let (r, _) = f.of_sku(SkuId(0))[0];
        let c = f.regions()[r as usize];
        assert!((c.lat - 40.00225).abs() < 1e-9 && (c.lon + 90.0).abs() < 1e-9);
    }

    fn order(day: i32, units: u32) -> Order {
        Order {
            lines: vec![OrderLine {
                sku: SkuId(0),
                qty: units,
                ..OrderLine::default()
            }],
            destination: Destination::Address {
                lat: 41.0,
                lon: -87.0,
            },
            service: Service::Ground,
            day: Some(day),
            id: String::new(),
            created_at: None,
            created: None,
            deliver_by: None,
            groups: Vec::new(),
            channel: None,
            exclude: Vec::new(),
        }
    }

    #[test]
    fn smoothing_follows_the_daily_units() {
        let mut h = History::new(0.5, 4, 1);
        assert!(!h.observe(&order(10, 4)));
        assert!(h.forecast().is_empty());
        assert!(h.observe(&order(11, 8)));
        assert_eq!(h.forecast().total(SkuId(0)), 4.0);
        // Day 11 closes with 8: 0.5·8 + 0.5·4 = 6; then day 12 is empty: 3.
        h.observe(&order(13, 1));
        assert_eq!(h.closed_days(), 3);
        assert_eq!(h.forecast().total(SkuId(0)), 3.0);
    }
}
