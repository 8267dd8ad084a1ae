//! Distance bands and rate cards arranged for lookup: per parcel service and zone, the carriers
//! that serve it with their price lines.

use crate::model::{CarrierId, Service, ZoneBand};

/// Distance bands sorted by zone.
#[derive(Clone, Debug, Default)]
pub struct ZoneTable {
    bands: Vec<ZoneBand>,
    /// Squared unit chord of each band's `max_km` (infinite for the unbounded band).
    chord2: Vec<f64>,
}

impl ZoneTable {
    /// `bands` must be sorted by zone with strictly increasing `max_km` (the loader checks).
    pub fn new(bands: Vec<ZoneBand>) -> ZoneTable {
        let chord2 = bands
            .iter()
            .map(|b| {
                b.max_km
                    .map_or(f64::INFINITY, crate::model::geo::chord2_of_km)
            })
            .collect();
        ZoneTable { bands, chord2 }
    }

    /// The band of a node → destination pair from their unit vectors, without trigonometry.
    /// Where the chord is within rounding of a band edge, the haversine distance decides, so
    /// the answer is always the spec's.
    #[inline]
    pub fn band_of(
        &self,
        a: &[f64; 3],
        b: &[f64; 3],
        exact_km: impl FnOnce() -> f64,
    ) -> Option<usize> {
        let c2 = crate::model::geo::chord2(a, b);
        for (i, &t) in self.chord2.iter().enumerate() {
            // (The unbounded band has no edge: every pair that reaches it belongs to it.)
            if t.is_finite() && (c2 - t).abs() <= 1e-9 * t {
                return self.band_index(exact_km());
            }
            if c2 <= t {
                return Some(i);
            }
        }
        None
    }

    /// Index of the band of a distance: the smallest zone with `distance ≤ max_km`.
    #[inline]
    pub fn band_index(&self, distance_km: f64) -> Option<usize> {
        self.bands
            .iter()
            .position(|b| b.max_km.is_none_or(|m| distance_km <= m))
    }

    /// The zone number of a band index.
    #[inline]
    pub fn zone(&self, band: usize) -> u32 {
        self.bands[band].zone
    }

    pub fn bands(&self) -> &[ZoneBand] {
        &self.bands
    }

    pub fn len(&self) -> usize {
        self.bands.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bands.is_empty()
    }
}

/// One carrier's price line for a (service, zone).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateOption {
    pub carrier: CarrierId,
    pub base: f64,
    pub per_kg: f64,
    pub transit_days: u32,
}

/// Rate cards indexed by parcel service and zone band.
#[derive(Clone, Debug, Default)]
pub struct RateTable {
    carriers: Vec<String>,
    /// `[service][band]` → options, sorted by carrier name so ties break the same way everywhere.
    options: Vec<Vec<Vec<RateOption>>>,
}

impl RateTable {
    /// Builds the table; `rows` are (carrier, service, band index, base, per_kg, transit_days).
    pub fn new(
        band_count: usize,
        rows: impl IntoIterator<Item = (String, Service, usize, f64, f64, u32)>,
    ) -> RateTable {
        let mut carriers: Vec<String> = Vec::new();
        let mut options = vec![vec![Vec::new(); band_count]; Service::PARCEL.len()];
        for (carrier, service, band, base, per_kg, transit_days) in rows {
            let Some(si) = service.parcel_index() else {
                continue;
            };
            let cid = match carriers.iter().position(|c| *c == carrier) {
                Some(i) => i,
                None => {
                    carriers.push(carrier);
                    carriers.len() - 1
                }
            };
            options[si][band].push(RateOption {
                carrier: CarrierId(cid as u32),
                base,
                per_kg,
                transit_days,
            });
        }
        for per_service in &mut options {
            for list in per_service.iter_mut() {
                list.sort_by(|a, b| carriers[a.carrier.index()].cmp(&carriers[b.carrier.index()]));
            }
        }
        RateTable { carriers, options }
    }

    /// The carriers that serve `service` in a band; empty where the service cannot reach it.
    #[inline]
    pub fn options(&self, service: Service, band: usize) -> &[RateOption] {
        match service.parcel_index() {
            Some(si) => &self.options[si][band],
            None => &[],
        }
    }

    /// Rate shopping: the cheapest option for a parcel of `billable_kg` (ties: carrier name).
    #[inline]
    pub fn quote(
        &self,
        service: Service,
        band: usize,
        billable_kg: u32,
    ) -> Option<(RateOption, f64)> {
        let kg = f64::from(billable_kg);
        let mut best: Option<(RateOption, f64)> = None;
        for o in self.options(service, band) {
            let price = o.base + o.per_kg * kg;
            if best.is_none_or(|(_, p)| price < p) {
                best = Some((*o, price));
            }
        }
        best
    }

    /// The carrier's name.
    pub fn carrier_name(&self, id: CarrierId) -> &str {
        &self.carriers[id.index()]
    }

    pub fn carriers(&self) -> &[String] {
        &self.carriers
    }
}
