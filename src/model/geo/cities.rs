//! The bundled US cities (GeoNames): where the scenario generator puts stores and customers, and
//! how a point is placed in a state ([`state_near`]: change files select nodes by `state`).

/// US places with population ≥ 1,000 (GeoNames, CC BY 4.0; see `data/geo/README.md`).
const CITIES_CSV: &str = include_str!("../../../data/geo/us_cities.csv");

/// A bundled US place.
pub struct City {
    pub name: String,
    /// Two-letter code.
    pub state: String,
    /// IANA time-zone name (`UTC` when the data has none).
    pub timezone: String,
    pub lat: f64,
    pub lon: f64,
    pub population: f64,
}

/// The bundled cities of the contiguous US.
pub fn cities() -> Vec<City> {
    let mut rdr = csv::Reader::from_reader(CITIES_CSV.as_bytes());
    rdr.records()
        .filter_map(Result::ok)
        .filter_map(|r| {
            Some(City {
                name: r.get(1)?.to_owned(),
                state: r.get(2)?.to_owned(),
                timezone: r
                    .get(6)
                    .filter(|t| !t.is_empty())
                    .unwrap_or("UTC")
                    .to_owned(),
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
    use super::{chord2, chord2_of_km, unit_vector};
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
