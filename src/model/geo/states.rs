//! The contiguous US for the report's maps: state outlines from the Census Bureau's cartographic
//! boundaries (`data/geo/us-states-10m.json`, the npm package us-atlas 3.0.1, TopoJSON), in an
//! Albers equal-area conic projection (standard parallels 29.5° and 45.5°, centred on 96° W,
//! 37.5° N, as US national maps use) fitted to the map's box. Nodes are placed with the same
//! projection.

use std::fmt::Write;

use serde::Deserialize;

const TOPOJSON: &str = include_str!("../../../data/geo/us-states-10m.json");

/// FIPS codes left off the map: Alaska, Hawaii and the territories (the networks are in the
/// lower 48; their nodes beyond it are clamped to the edge).
const OFF_MAP: [&str; 7] = ["02", "15", "60", "66", "69", "72", "78"];

/// Longitude and latitude bounds the projection is fitted to (the lower 48).
const BOUNDS: [(f64, f64); 4] = [(-124.8, 48.4), (-66.9, 44.8), (-97.4, 25.8), (-81.0, 24.5)];

#[derive(Deserialize)]
struct Topology {
    transform: Transform,
    objects: Objects,
    arcs: Vec<Vec<[i64; 2]>>,
}

#[derive(Deserialize)]
struct Transform {
    scale: [f64; 2],
    translate: [f64; 2],
}

#[derive(Deserialize)]
struct Objects {
    states: Collection,
}

#[derive(Deserialize)]
struct Collection {
    geometries: Vec<Geometry>,
}

#[derive(Deserialize)]
struct Geometry {
    #[serde(rename = "type")]
    kind: String,
    id: Option<String>,
    arcs: serde_json::Value,
}

/// An Albers equal-area conic fitted to a `width` × `height` box.
#[derive(Clone, Copy, Debug)]
pub struct Projection {
    n: f64,
    c: f64,
    rho0: f64,
    scale: f64,
    dx: f64,
    dy: f64,
}

impl Projection {
    /// The projection that fits the lower 48 in the box with `margin` on every side.
    pub fn fit(width: f64, height: f64, margin: f64) -> Projection {
        let (p1, p2, p0) = (
            29.5f64.to_radians(),
            45.5f64.to_radians(),
            37.5f64.to_radians(),
        );
        let n = (p1.sin() + p2.sin()) / 2.0;
        let c = p1.cos().powi(2) + 2.0 * n * p1.sin();
        let rho0 = (c - 2.0 * n * p0.sin()).sqrt() / n;
        let mut p = Projection {
            n,
            c,
            rho0,
            scale: 1.0,
            dx: 0.0,
            dy: 0.0,
        };
        let pts: Vec<(f64, f64)> = BOUNDS.iter().map(|&(lon, lat)| p.raw(lon, lat)).collect();
        let (x0, x1) = pts
            .iter()
            .fold((f64::MAX, f64::MIN), |a, q| (a.0.min(q.0), a.1.max(q.0)));
        let (y0, y1) = pts
            .iter()
            .fold((f64::MAX, f64::MIN), |a, q| (a.0.min(q.1), a.1.max(q.1)));
        let scale = ((width - 2.0 * margin) / (x1 - x0)).min((height - 2.0 * margin) / (y1 - y0));
        p.scale = scale;
        p.dx = (width - scale * (x1 + x0)) / 2.0;
        p.dy = (height - scale * (y1 + y0)) / 2.0;
        p
    }

    /// Unscaled x, y (y down).
    fn raw(&self, lon: f64, lat: f64) -> (f64, f64) {
        let rho = (self.c - 2.0 * self.n * lat.to_radians().sin())
            .max(0.0)
            .sqrt()
            / self.n;
        let theta = self.n * (lon + 96.0).to_radians();
        (rho * theta.sin(), -(self.rho0 - rho * theta.cos()))
    }

    /// The point of `lon`, `lat` in the box (nodes beyond the lower 48 clamped to its edge).
    pub fn point(&self, lon: f64, lat: f64) -> (f64, f64) {
        let (x, y) = self.raw(lon.clamp(-125.0, -66.5), lat.clamp(24.3, 49.5));
        (self.scale * x + self.dx, self.scale * y + self.dy)
    }
}

/// An SVG path of every state of the lower 48 (one subpath per ring), points closer than half a
/// unit to the one before dropped; empty if the embedded data cannot be read.
pub fn outline(projection: &Projection) -> String {
    let Ok(topology) = serde_json::from_str::<Topology>(TOPOJSON) else {
        return String::new();
    };
    let arcs = decode(&topology);
    let mut d = String::new();
    for g in &topology.objects.states.geometries {
        if g.id.as_deref().is_some_and(|id| OFF_MAP.contains(&id)) {
            continue;
        }
        for ring in rings(g) {
            let points = ring_points(&arcs, &ring);
            write_ring(&mut d, projection, &points);
        }
    }
    d
}

/// Each arc's absolute lon/lat points.
fn decode(t: &Topology) -> Vec<Vec<(f64, f64)>> {
    let ([sx, sy], [tx, ty]) = (t.transform.scale, t.transform.translate);
    t.arcs
        .iter()
        .map(|arc| {
            let (mut x, mut y) = (0i64, 0i64);
            arc.iter()
                .map(|[dx, dy]| {
                    x += dx;
                    y += dy;
                    (x as f64 * sx + tx, y as f64 * sy + ty)
                })
                .collect()
        })
        .collect()
}

/// A geometry's rings as lists of arc indexes (negative: the arc `!i`, reversed).
fn rings(g: &Geometry) -> Vec<Vec<i64>> {
    let ring = |v: &serde_json::Value| -> Vec<i64> {
        v.as_array()
            .map(|a| a.iter().filter_map(serde_json::Value::as_i64).collect())
            .unwrap_or_default()
    };
    let polygon = |v: &serde_json::Value| -> Vec<Vec<i64>> {
        v.as_array()
            .map(|rs| rs.iter().map(ring).collect())
            .unwrap_or_default()
    };
    match g.kind.as_str() {
        "Polygon" => polygon(&g.arcs),
        "MultiPolygon" => g
            .arcs
            .as_array()
            .map(|ps| ps.iter().flat_map(polygon).collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

fn ring_points(arcs: &[Vec<(f64, f64)>], ring: &[i64]) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    for &i in ring {
        let (index, reversed) = if i < 0 { (!i, true) } else { (i, false) };
        let Some(arc) = usize::try_from(index).ok().and_then(|i| arcs.get(i)) else {
            continue;
        };
        let mut pts = arc.clone();
        if reversed {
            pts.reverse();
        }
        let skip = usize::from(!out.is_empty());
        out.extend(pts.into_iter().skip(skip));
    }
    out
}

fn write_ring(d: &mut String, projection: &Projection, points: &[(f64, f64)]) {
    let mut last: Option<(f64, f64)> = None;
    for &(lon, lat) in points {
        let (x, y) = projection.point(lon, lat);
        match last {
            None => {
                let _ = write!(d, "M{x:.1},{y:.1}");
            }
            Some((lx, ly)) if (x - lx).abs() + (y - ly).abs() < 0.5 => continue,
            Some(_) => {
                let _ = write!(d, "L{x:.1},{y:.1}");
            }
        }
        last = Some((x, y));
    }
    if last.is_some() {
        d.push('Z');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lower_48_fill_the_box_and_cities_fall_inside_it() {
        let p = Projection::fit(460.0, 290.0, 10.0);
        let d = outline(&p);
        assert!(d.matches('M').count() >= 49, "every state has a ring");
        for (lon, lat) in [(-74.0, 40.7), (-118.2, 34.1), (-87.6, 41.9), (-80.2, 25.8)] {
            let (x, y) = p.point(lon, lat);
            assert!(
                (10.0..=450.0).contains(&x) && (10.0..=280.0).contains(&y),
                "{lon},{lat}"
            );
        }
        let (west, _) = p.point(-122.4, 37.8);
        let (east, _) = p.point(-71.1, 42.4);
        assert!(
            west < 60.0 && east > 400.0,
            "west coast left, east coast right"
        );
    }
}
