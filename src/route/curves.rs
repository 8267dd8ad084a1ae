//! Priced lateness in the search: per shipment, a [`Curve`] of the least its rate can be on
//! time by each deadline slot at any weight it may still reach (see `deadlines.rs` for how the
//! search charges the order with them).

use super::candidates::Candidate;
use super::promise::{NO_FLOOR, Shipper};
use crate::model::Day;

/// Deadline slots of a [`Curve`]: `deliver_by` and each day after it, the last one standing for
/// that day and every later one.
pub(super) const SLOTS: usize = 12;

/// Orders up to this billable weight get exact [`Curve`] tables; heavier ones a looser curve.
const TABLE_KG: u32 = 48;

/// What a shipment's rate is at least if it must arrive by each deadline slot (slot `i` is
/// `deliver_by + i`, the last any deadline), now and at any heavier weight or later floor: it
/// only grows as units are added. The last slot is the cheapest rate.
pub(super) type Curve = [f64; SLOTS];

/// Per candidate, its shipment's exact [`Curve`] at each weight up to the order's (at the
/// candidate's handling day), built once per search when first asked.
#[derive(Default)]
pub(super) struct LateRates {
    /// Per candidate, the first row of its table in `rows` (`u32::MAX` until asked).
    start: Vec<u32>,
    /// Rows of `kmax` curves, for 1 to `kmax` billable kg.
    rows: Vec<Curve>,
    kmax: u32,
}

impl LateRates {
    pub(super) fn reset(&mut self, candidates: usize, kmax: u32) {
        self.start.clear();
        self.start.resize(candidates, u32::MAX);
        self.rows.clear();
        self.kmax = kmax.max(1);
    }

    /// The [`Curve`] of a shipment from candidate `c` of `kg` billable kg that may grow to
    /// `reach`, handled no earlier than `floor`: the least of the exact curves over that range
    /// (a heavier parcel may get a faster carrier).
    #[inline]
    pub(super) fn curve(
        &mut self,
        ship: &Shipper<'_>,
        cand: &Candidate,
        c: usize,
        (kg, reach): (u32, u32),
        floor: Day,
    ) -> Curve {
        let (kg, reach) = (kg.max(1), reach.clamp(kg.max(1), self.kmax.max(kg)));
        if self.kmax > TABLE_KG {
            return any_carrier(ship, cand, floor, kg);
        }
        if floor > cand.handling {
            return envelope(ship, cand, floor, kg, reach);
        }
        let rows = self.table(ship, cand, c);
        let mut curve = rows[kg as usize - 1];
        for row in &rows[kg as usize..reach as usize] {
            for (r, n) in curve.iter_mut().zip(row) {
                *r = r.min(*n);
            }
        }
        curve
    }

    /// Candidate `c`'s exact curves for 1 to `kmax` kg (built on first use).
    #[inline]
    fn table(&mut self, ship: &Shipper<'_>, cand: &Candidate, c: usize) -> &[Curve] {
        if self.start[c] == u32::MAX {
            self.start[c] = self.rows.len() as u32;
            self.rows
                .extend((1..=self.kmax).map(|k| spec_curve(ship, cand, NO_FLOOR, k)));
        }
        let from = self.start[c] as usize;
        &self.rows[from..from + self.kmax as usize]
    }
}

/// The deadline slot of a delivery on `day`.
#[inline]
fn slot_of(ship: &Shipper<'_>, day: Day) -> usize {
    let by = ship.late.map_or(Day::MAX, |(by, _)| by);
    if day > by {
        (day.abs_diff(by) as usize).min(SLOTS - 1)
    } else {
        0
    }
}

/// Each slot's cheapest of the given `(price, delivery)`, made non-increasing.
#[inline]
fn curve_from(rates: impl Iterator<Item = (f64, Day)>, ship: &Shipper<'_>) -> Curve {
    let mut curve = [f64::INFINITY; SLOTS];
    for (price, day) in rates {
        let i = slot_of(ship, day);
        curve[i] = curve[i].min(price);
    }
    for i in 1..SLOTS {
        curve[i] = curve[i].min(curve[i - 1]);
    }
    curve
}

/// The curve of a shipment of exactly `kg`: each service at the spec's carrier for it.
fn spec_curve(ship: &Shipper<'_>, cand: &Candidate, floor: Day, kg: u32) -> Curve {
    curve_from(ship.service_quotes(cand, floor, kg), ship)
}

/// The least of the exact curves from `kg` to `reach` (a floor past the handling day).
fn envelope(ship: &Shipper<'_>, cand: &Candidate, floor: Day, kg: u32, reach: u32) -> Curve {
    let mut curve = [f64::INFINITY; SLOTS];
    for k in kg..=reach {
        for (c, e) in curve.iter_mut().zip(spec_curve(ship, cand, floor, k)) {
            *c = c.min(e);
        }
    }
    curve
}

/// A looser curve for heavy orders: any carrier of the order's services at any slot it reaches
/// (the spec's carrier is one of them), which only grows with weight.
fn any_carrier(ship: &Shipper<'_>, cand: &Candidate, floor: Day, kg: u32) -> Curve {
    let k = f64::from(kg);
    let rates = ship
        .late_options(cand, floor)
        .map(|(base, per_kg, day)| (base + per_kg * k, day));
    curve_from(rates, ship)
}
