//! The report's charts drawn as inline SVG: daily curves on real dates with axes and ticks, and
//! maps of the nodes on the contiguous states with a size legend.

use std::fmt::Write;

use super::marks::{colour, esc, legend};
use super::replay::{Daily, Kpis, Utilisation};
use crate::model::geo::states::{Projection, outline};

/// A round step for about `n` ticks up to `max` (1, 2 or 5 × a power of ten).
fn nice_step(max: f64, n: f64) -> f64 {
    let raw = (max / n).max(1e-9);
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    mag * if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    }
}

/// `YYYY-MM-DD` of a day number (days since 1970-01-01), `undated` for none.
pub fn date(day: Option<i32>) -> String {
    day.map_or_else(|| "undated".to_owned(), crate::model::dates::format_day)
}

/// One curve per run of `f` by day, on the dates of the runs' orders.
pub fn daily_curve(h: &mut String, runs: &[(String, Kpis)], label: &str, f: fn(&Daily) -> f64) {
    let (w, ht, left, bottom, top, right) = (400.0, 220.0, 48.0, 34.0, 10.0, 24.0);
    let mut days: Vec<Option<i32>> = runs
        .iter()
        .flat_map(|(_, k)| k.daily.iter().map(|d| d.day))
        .collect();
    days.sort_unstable();
    days.dedup();
    let max = runs
        .iter()
        .flat_map(|(_, k)| k.daily.iter().map(f))
        .fold(0.0, f64::max);
    let step = nice_step(max.max(1e-9), 4.0);
    let top_value = (max / step).ceil().max(1.0) * step;
    let plot_h = ht - bottom - top;
    let x_of = |i: usize| left + (w - left - right) * i as f64 / (days.len().max(2) - 1) as f64;
    let y_of = |v: f64| top + plot_h * (1.0 - v / top_value);
    let _ = write!(
        h,
        "<div class=\"card\"><div>{}</div><svg width=\"{w}\" height=\"{ht}\" viewBox=\"0 0 {w} {ht}\" role=\"img\" aria-label=\"{}\">",
        esc(label),
        esc(label)
    );
    y_axis(h, (left, w - right), step, top_value, &y_of);
    x_axis(h, &days, ht - bottom, &x_of);
    for (ri, (name, k)) in runs.iter().enumerate() {
        let pts: Vec<String> = k
            .daily
            .iter()
            .filter_map(|d| {
                let i = days.iter().position(|x| *x == d.day)?;
                Some(format!("{:.1},{:.1}", x_of(i), y_of(f(d))))
            })
            .collect();
        let _ = write!(
            h,
            "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"><title>{}</title></polyline>",
            colour(ri),
            pts.join(" "),
            esc(name)
        );
    }
    h.push_str("</svg>");
    legend(h, runs);
    h.push_str("</div>");
}

/// Gridlines and labels every `step` from 0 to `top_value`.
fn y_axis(
    h: &mut String,
    (x0, x1): (f64, f64),
    step: f64,
    top_value: f64,
    y_of: &dyn Fn(f64) -> f64,
) {
    let ticks = (top_value / step).round() as usize;
    let digits = if step < 1.0 { 2 } else { 0 };
    for t in 0..=ticks {
        let v = step * t as f64;
        let y = y_of(v);
        let _ = write!(
            h,
            "<line class=\"tick\" x1=\"{x0}\" y1=\"{y:.1}\" x2=\"{x1}\" y2=\"{y:.1}\" stroke=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">{v:.digits$}</text>",
            if t == 0 { "#888" } else { "#e4e4e4" },
            x0 - 4.0,
            y + 3.0
        );
    }
}

/// A tick and a date (MM-DD, the year on the first) under each day; thinned to about eight.
fn x_axis(h: &mut String, days: &[Option<i32>], y: f64, x_of: &dyn Fn(usize) -> f64) {
    let every = days.len().div_ceil(8).max(1);
    for (i, d) in days.iter().enumerate() {
        let x = x_of(i);
        let _ = write!(
            h,
            "<line x1=\"{x:.1}\" y1=\"{y:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#888\"/>",
            y + 4.0
        );
        if i % every != 0 && i + 1 != days.len() {
            continue;
        }
        let text = date(*d);
        let shown = if i == 0 || d.is_none() {
            text.as_str()
        } else {
            text.get(5..).unwrap_or(&text)
        };
        let _ = write!(
            h,
            "<text class=\"date\" x=\"{x:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">{shown}</text>",
            y + 16.0
        );
    }
}

/// Map size and margin.
const MAP: (f64, f64, f64) = (460.0, 290.0, 8.0);

/// The states' outline once, for every map to `<use>`.
pub fn map_defs(h: &mut String) {
    let p = Projection::fit(MAP.0, MAP.1, MAP.2);
    let _ = writeln!(
        h,
        "<svg width=\"0\" height=\"0\" style=\"position:absolute\" aria-hidden=\"true\"><defs>\
         <path id=\"us-states\" d=\"{}\" fill=\"#f4f4f0\" stroke=\"#b8b8b8\" stroke-width=\"0.6\" stroke-linejoin=\"round\"/>\
         </defs></svg>",
        outline(&p)
    );
}

/// Nodes on the states, sized by units shipped (area ∝ units, with a legend) and coloured by
/// their busiest day against capacity; each names itself on hover.
pub fn map(h: &mut String, name: &str, k: &Kpis) {
    let (w, ht, margin) = MAP;
    let p = Projection::fit(w, ht, margin);
    let max_units = k
        .utilisation
        .iter()
        .map(|u| u.units)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let radius = |units: f64| 1.5 + 12.0 * (units / max_units).sqrt();
    let _ = write!(
        h,
        "<div class=\"card\"><div>{}</div><svg class=\"map\" width=\"{w}\" height=\"{:.0}\" viewBox=\"0 0 {w} {:.0}\" role=\"img\">\
         <use href=\"#us-states\"/>",
        esc(name),
        ht + 52.0,
        ht + 52.0
    );
    // Busiest last, so the big circles do not hide the small ones beneath.
    let mut nodes: Vec<&Utilisation> = k.utilisation.iter().collect();
    nodes.sort_by(|a, b| b.units.cmp(&a.units).then(a.node_id.cmp(&b.node_id)));
    for u in nodes.iter().rev() {
        let (x, y) = p.point(u.lon, u.lat);
        let _ = write!(
            h,
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{:.1}\" fill=\"{}\" fill-opacity=\"0.75\" stroke=\"#333\" stroke-width=\"0.4\">\
             <title>{} ({}): {} units, busiest day {} units{}</title></circle>",
            radius(u.units as f64),
            fill(u),
            esc(&u.node_id),
            u.kind,
            u.units,
            u.busiest_day_units,
            u.capacity_per_day
                .map_or(", no capacity limit".to_owned(), |c| format!(
                    " of {c} a day ({:.0}%)",
                    100.0 * u.peak_utilisation
                ))
        );
    }
    size_legend(h, ht + 20.0, max_units, &radius);
    h.push_str("</svg></div>");
}

fn fill(u: &Utilisation) -> String {
    match u.capacity_per_day {
        None => "#999999".to_owned(),
        Some(_) => {
            let t = u.peak_utilisation.clamp(0.0, 1.0);
            let (r0, g0) = ((40.0 + 200.0 * t) as u8, (170.0 - 130.0 * t) as u8);
            format!("#{r0:02x}{g0:02x}40")
        }
    }
}

/// Three reference circles (the largest node, a quarter and a twenty-fifth of it) and the
/// colour key.
fn size_legend(h: &mut String, y: f64, max_units: f64, radius: &dyn Fn(f64) -> f64) {
    let mut x = 12.0;
    let _ = write!(h, "<g class=\"size-legend\" font-size=\"10\">");
    for share in [1.0, 0.25, 0.04] {
        let units = (max_units * share).round();
        let r = radius(units);
        let _ = write!(
            h,
            "<circle cx=\"{:.1}\" cy=\"{y:.1}\" r=\"{r:.1}\" fill=\"none\" stroke=\"#555\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{units:.0} units</text>",
            x + r,
            x + 2.0 * r + 4.0,
            y + 3.0
        );
        x += 2.0 * r + 64.0;
    }
    let (mut x, y) = (12.0, y + 22.0);
    for (label, colour) in [
        ("idle", "#28aa40"),
        ("at capacity", "#f02840"),
        ("no limit", "#999999"),
    ] {
        let _ = write!(
            h,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"9\" height=\"9\" fill=\"{colour}\"/><text x=\"{:.1}\" y=\"{:.1}\">{label}</text>",
            y - 5.0,
            x + 12.0,
            y + 3.0
        );
        x += 24.0 + 6.0 * label.len() as f64;
    }
    h.push_str("</g>");
}
