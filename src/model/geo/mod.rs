//! Geography: great-circle distance of the spec and unit vectors whose chords order distances
//! without trigonometry (used by `snapshot` and `route`), the bundled US cities and the state a
//! point lies in ([`cities`]), and the US state outlines with the report's map projection
//! ([`states`]).

mod cities;
pub mod states;

pub use cities::{City, cities, state_near};

use geo::{Distance, Haversine, Point};

/// Great-circle distance in km (haversine, Earth radius 6371.0088 km, which is geo's `Haversine`).
#[inline]
pub fn distance_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    Haversine.distance(Point::new(lon1, lat1), Point::new(lon2, lat2)) / 1000.0
}

/// Earth radius of the spec, km.
pub const EARTH_RADIUS_KM: f64 = 6371.0088;

/// A point as a unit vector, for fast distance comparisons: the chord between two unit vectors
/// grows strictly with the great-circle distance.
#[inline]
pub fn unit_vector(lat: f64, lon: f64) -> [f64; 3] {
    let (la, lo) = (lat.to_radians(), lon.to_radians());
    [la.cos() * lo.cos(), la.cos() * lo.sin(), la.sin()]
}

/// Squared chord between two unit vectors.
#[inline]
pub fn chord2(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    let (x, y, z) = (a[0] - b[0], a[1] - b[1], a[2] - b[2]);
    x * x + y * y + z * z
}

/// The squared unit chord of a great-circle distance in km.
pub fn chord2_of_km(km: f64) -> f64 {
    let half = (km / (2.0 * EARTH_RADIUS_KM)).min(std::f64::consts::FRAC_PI_2);
    let c = 2.0 * half.sin();
    c * c
}
