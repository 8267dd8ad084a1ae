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

    /// The band of a node → destination pair from the squared chord between their unit vectors
    /// ([`crate::model::geo::chord2`]), without trigonometry.
    /// Where the chord is within rounding of a band edge, the haversine distance decides, so
    /// the answer is always the spec's.
    #[inline]
    pub fn band_of(&self, c2: f64, exact_km: impl FnOnce() -> f64) -> Option<usize> {
        // The first edge the chord does not pass by more than rounding is its band's, unless
        // the chord is within rounding of it, where the haversine decides. (The unbounded band
        // has no edge: every pair that reaches it belongs to it.) Edges grow, so the edges it
        // passes are the ones before it: counted without a branch per band, since the band
        // changes from node to node and a mispredicted exit cost more than the whole count.
        if c2.is_nan() {
            return None;
        }
        let i = self
            .chord2
            .iter()
            .map(|&t| usize::from(c2 - t > 1e-9 * t))
            .sum::<usize>();
        let t = *self.chord2.get(i)?;
        if t.is_finite() && (c2 - t).abs() <= 1e-9 * t {
            return self.band_index(exact_km());
        }
        Some(i)
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

/// Prices this close are a tie between carriers.
const PRICE_TIE: f64 = 1e-9;

/// One carrier's price line for a (service, zone).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateOption {
    pub carrier: CarrierId,
    pub base: f64,
    pub per_kg: f64,
    pub transit_days: u32,
    /// Delivers on Saturday and Sunday.
    pub weekend: bool,
}

/// One row of the rate cards as given, with its zone as a band index.
#[derive(Clone, Debug, PartialEq)]
pub struct RateRow {
    pub carrier: String,
    pub service: Service,
    pub band: usize,
    pub base: f64,
    pub per_kg: f64,
    pub transit_days: u32,
    pub weekend: bool,
}

/// Rate cards indexed by parcel service and zone band.
#[derive(Clone, Debug, Default)]
pub struct RateTable {
    carriers: Vec<String>,
    /// `[service][band]` → options in the order of `rates.csv`, so ties on price break the
    /// spec's way (earliest delivery, then the first row).
    options: Vec<Vec<Vec<RateOption>>>,
    /// The rows in the order given (for writing them back).
    rows: Vec<RateRow>,
    /// Whether any row delivers on weekends (a date feature).
    any_weekend: bool,
    /// Per band, the parcel services with a carrier there (bit i: `Service::PARCEL[i]`).
    served: Vec<u8>,
}

/// The parcel services a shipment of an order with `service` may use, as bits of
/// `Service::PARCEL` indices.
#[inline]
fn service_bits(service: Service) -> u8 {
    service
        .shipment_services()
        .iter()
        .filter_map(|s| s.parcel_index())
        .fold(0, |bits, i| bits | 1 << i)
}

impl RateTable {
    /// Builds the table from rows in `rates.csv` order.
    pub fn new(band_count: usize, rows: impl IntoIterator<Item = RateRow>) -> RateTable {
        let mut carriers: Vec<String> = Vec::new();
        let mut options = vec![vec![Vec::new(); band_count]; Service::PARCEL.len()];
        let mut kept = Vec::new();
        for row in rows {
            let Some(si) = row.service.parcel_index() else {
                continue;
            };
            let cid = match carriers.iter().position(|c| *c == row.carrier) {
                Some(i) => i,
                None => {
                    carriers.push(row.carrier.clone());
                    carriers.len() - 1
                }
            };
            options[si][row.band].push(RateOption {
                carrier: CarrierId(cid as u32),
                base: row.base,
                per_kg: row.per_kg,
                transit_days: row.transit_days,
                weekend: row.weekend,
            });
            kept.push(row);
        }
        let any_weekend = kept.iter().any(|r| r.weekend);
        let served = (0..band_count)
            .map(|band| {
                (0..options.len())
                    .filter(|&si| !options[si][band].is_empty())
                    .fold(0, |bits, si| bits | 1 << si)
            })
            .collect();
        RateTable {
            carriers,
            options,
            rows: kept,
            any_weekend,
            served,
        }
    }

    /// Whether some carrier in `band` serves a shipment of an order with `service`.
    #[inline]
    pub fn serves(&self, service: Service, band: usize) -> bool {
        self.served
            .get(band)
            .is_some_and(|&b| b & service_bits(service) != 0)
    }

    /// The rows in `rates.csv` order.
    pub fn rows(&self) -> &[RateRow] {
        &self.rows
    }

    /// Whether any carrier delivers on weekends.
    pub fn any_weekend(&self) -> bool {
        self.any_weekend
    }

    /// The carriers that serve `service` in a band; empty where the service cannot reach it.
    #[inline]
    pub fn options(&self, service: Service, band: usize) -> &[RateOption] {
        match service.parcel_index() {
            Some(si) => &self.options[si][band],
            None => &[],
        }
    }

    /// Rate shopping: the cheapest option for a parcel of `billable_kg` (ties: the first row;
    /// with dates, [`RateTable::quote_dated`] breaks ties by delivery day first).
    #[inline]
    pub fn quote(
        &self,
        service: Service,
        band: usize,
        billable_kg: u32,
    ) -> Option<(RateOption, f64)> {
        let kg = f64::from(billable_kg);
        let options = self.options(service, band);
        // The index, not the option, is carried through the loop (an option is 32 bytes).
        let mut best: Option<(usize, f64)> = None;
        for (i, o) in options.iter().enumerate() {
            let price = o.base + o.per_kg * kg;
            if best.is_none_or(|(_, p)| price < p) {
                best = Some((i, price));
            }
        }
        best.map(|(i, p)| (options[i], p))
    }

    /// The price [`RateTable::quote`] gives, without the option: the least `base + per_kg ×
    /// kg` over the carriers of `service` in `band`.
    #[inline]
    pub fn price(&self, service: Service, band: usize, billable_kg: u32) -> Option<f64> {
        let kg = f64::from(billable_kg);
        let options = self.options(service, band);
        let mut best = f64::INFINITY;
        for o in options {
            let price = o.base + o.per_kg * kg;
            if price < best {
                best = price;
            }
        }
        (!options.is_empty()).then_some(best)
    }

    /// Rate shopping with dates: the cheapest option, ties broken by the earliest delivery
    /// after dispatch on `dispatch`, then the first row. Returns the option, its price and its
    /// delivery day.
    #[inline]
    pub fn quote_dated(
        &self,
        service: Service,
        band: usize,
        billable_kg: u32,
        dispatch: crate::model::Day,
    ) -> Option<(RateOption, f64, crate::model::Day)> {
        let kg = f64::from(billable_kg);
        let mut best: Option<(RateOption, f64, crate::model::Day)> = None;
        for o in self.options(service, band) {
            let price = o.base + o.per_kg * kg;
            let better = match best {
                None => true,
                Some((_, p, d)) => {
                    price < p - PRICE_TIE
                        || ((price - p).abs() <= PRICE_TIE && {
                            let day = crate::model::dates::delivery_day(
                                dispatch,
                                o.transit_days,
                                o.weekend,
                            );
                            day < d
                        })
                }
            };
            if better {
                let day = crate::model::dates::delivery_day(dispatch, o.transit_days, o.weekend);
                best = Some((*o, price, day));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::geo::{chord2, distance_km, unit_vector};

    /// The band found from the chord is the band of the haversine distance, for pairs all over
    /// the globe and pairs placed on a band's edge.
    #[test]
    fn the_band_of_a_chord_is_the_band_of_its_distance() {
        let edges = [50.0, 150.0, 300.0, 600.0, 1000.0, 1400.0, 1800.0];
        let mut bands: Vec<ZoneBand> = edges
            .iter()
            .enumerate()
            .map(|(i, &km)| ZoneBand {
                zone: i as u32 + 1,
                max_km: Some(km),
            })
            .collect();
        let bounded = ZoneTable::new(bands.clone());
        bands.push(ZoneBand {
            zone: 8,
            max_km: None,
        });
        let unbounded = ZoneTable::new(bands);
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut pairs = Vec::new();
        for _ in 0..20_000 {
            let (lat, lon) = (next() * 180.0 - 90.0, next() * 360.0 - 180.0);
            pairs.push((
                lat,
                lon,
                lat + next() * 40.0 - 20.0,
                lon + next() * 40.0 - 20.0,
            ));
        }
        // On an edge: due north by exactly an edge's distance (to rounding).
        for &km in &edges {
            let dlat = (km / 6371.0088_f64).to_degrees();
            pairs.push((10.0, 20.0, 10.0 + dlat, 20.0));
        }
        for (lat1, lon1, lat2, lon2) in pairs {
            let lat2 = lat2.clamp(-90.0, 90.0);
            let c2 = chord2(&unit_vector(lat1, lon1), &unit_vector(lat2, lon2));
            let km = distance_km(lat1, lon1, lat2, lon2);
            for table in [&bounded, &unbounded] {
                assert_eq!(table.band_of(c2, || km), table.band_index(km), "{km} km");
            }
        }
        assert_eq!(bounded.band_of(f64::NAN, || 0.0), None);
    }
}
