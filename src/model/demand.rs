//! Expected demand at a point: a row of a scenario's `forecast.csv`.

use super::SkuId;

/// Units of a SKU expected per day at a point (a city or ZIP centroid, say).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DemandPoint {
    pub lat: f64,
    pub lon: f64,
    pub sku: SkuId,
    pub units_per_day: f64,
}
