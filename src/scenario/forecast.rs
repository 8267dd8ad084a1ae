//! `forecast.csv` (optional, for the `lookahead` policy): a planner's expected demand at points.
//! Columns `lat`, `lon`, `sku` and `units_per_day` (float ≥ 0), all required.

use std::path::Path;

use super::LoadError;
use super::table::Table;
use crate::model::DemandPoint;
use crate::snapshot::Snapshot;

/// The file's name in a scenario folder.
pub const FORECAST_FILE: &str = "forecast.csv";

/// Reads a forecast file, resolving SKUs against `snapshot`; rows in file order.
pub fn read_forecast(path: &Path, snapshot: &Snapshot) -> Result<Vec<DemandPoint>, LoadError> {
    let table = Table::read(path, &["lat", "lon", "sku", "units_per_day"])?;
    let mut out = Vec::with_capacity(table.len());
    for row in table.rows() {
        let lat = row.latitude("lat")?;
        let lon = row.longitude("lon")?;
        let sku_text = row.string("sku")?;
        let sku = snapshot.sku_id(sku_text).ok_or_else(|| {
            row.error("sku", format!("unknown SKU `{sku_text}` (not in skus.csv)"))
        })?;
        let units_per_day = row.non_negative("units_per_day", 0.0)?;
        if row.cell("units_per_day").is_empty() {
            return Err(row.error("units_per_day", "required number is empty"));
        }
        out.push(DemandPoint {
            lat,
            lon,
            sku,
            units_per_day,
        });
    }
    Ok(out)
}

/// The scenario's `forecast.csv`, or `None` when it has none.
pub fn read_scenario_forecast(
    dir: &Path,
    snapshot: &Snapshot,
) -> Result<Option<Vec<DemandPoint>>, LoadError> {
    let path = dir.join(FORECAST_FILE);
    if !path.exists() {
        return Ok(None);
    }
    read_forecast(&path, snapshot).map(Some)
}
