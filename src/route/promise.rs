//! The date side of routing (scenario format v2, "Dates" and "Inbound supply"): which parcel
//! service and carrier a shipment gets and when it arrives, and the shipping cost the exact
//! search charges a candidate under a delivery deadline.
//!
//! Without a deadline a shipment's cost is the cheapest rate over its allowed services, which
//! never falls as weight is added. Under a deadline a rate whose carrier would be late is not
//! allowed, and since the carrier is chosen by price, a heavier parcel may switch to a carrier
//! that is on time: the cost may then fall with weight. The search needs costs that only grow,
//! so it charges the *envelope* `min over k ≥ kg of cost(k)` (a lower bound of the final cost)
//! while it branches, and the exact cost at the leaves.

use super::candidates::Candidate;
pub use super::cost::{Quote, quote};
pub use crate::model::dates::NO_FLOOR;
use crate::model::dates::delivery_day;
use crate::model::{Day, Service};
use crate::snapshot::{RateOption, Snapshot};

/// The dispatch day of a shipment from a candidate whose units are handled no earlier than
/// `floor` (an inbound row's day, or [`NO_FLOOR`]); `None` for an undated order or a node whose
/// calendar never opens.
pub fn dispatch_of(snapshot: &Snapshot, candidate: &Candidate, floor: Day) -> Option<Day> {
    let base = candidate.dispatch?;
    if floor <= candidate.handling {
        return Some(base);
    }
    snapshot.clock(candidate.node).dispatch_day(floor)
}

/// Whether a service's carriers from a candidate (at its handling day) are on time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timely {
    /// Every carrier: the service's price is the undated one.
    All,
    /// No carrier: the service is not allowed.
    None,
    /// Some: whether it is allowed depends on which carrier the weight picks.
    Some,
}

/// What the search charges for shipping from its candidates, for one order and one deadline.
pub struct Shipper<'a> {
    pub snapshot: &'a Snapshot,
    pub services: &'static [Service],
    pub deadline: Option<Day>,
    /// Billable kg of the whole order: no shipment of it is heavier.
    pub kmax: u32,
    /// Lateness priced on the order's latest delivery: its `deliver_by` and the price of a day
    /// late. The search then charges each shipment its cheapest service, as without a
    /// deadline, plus a lower bound of what being on time by some day or late costs the order
    /// (see `route/deadlines.rs`), and prices services and lateness together at the leaves
    /// ([`Shipper::priced_late`]).
    pub late: Option<(Day, f64)>,
    /// Per candidate node, per service: how its carriers stand to the deadline at its handling
    /// day (filled as the search asks).
    timely: std::cell::RefCell<rustc_hash::FxHashMap<u32, [Timely; 4]>>,
    /// Reused by [`Shipper::priced_late`]: (shipment, price, delivery) of each service.
    scratch: std::cell::RefCell<Vec<(u32, f64, Day)>>,
}

impl<'a> Shipper<'a> {
    pub fn new(
        snapshot: &'a Snapshot,
        services: &'static [Service],
        deadline: Option<Day>,
        kmax: u32,
    ) -> Shipper<'a> {
        Shipper {
            snapshot,
            services,
            deadline,
            kmax,
            late: None,
            timely: Default::default(),
            scratch: Default::default(),
        }
    }

    /// The same shipper with lateness priced after `by` at `penalty` a day.
    pub fn with_lateness(mut self, by: Day, penalty: f64) -> Shipper<'a> {
        self.late = Some((by, penalty));
        self
    }

    /// The shipper of `order` under `deadline`: its services, and its whole weight as the
    /// heaviest a shipment can be.
    pub fn for_order(
        snapshot: &'a Snapshot,
        order: &crate::model::Order,
        deadline: Option<Day>,
    ) -> Shipper<'a> {
        let weight: f64 = order
            .lines
            .iter()
            .map(|l| snapshot.sku(l.sku).weight_kg * f64::from(l.qty))
            .sum();
        let kmax = super::cost::billable_kg(weight);
        Shipper::new(snapshot, order.service.shipment_services(), deadline, kmax)
    }

    /// The same order's shipper without a deadline.
    pub fn undeadlined(&self) -> Shipper<'a> {
        Shipper::new(self.snapshot, self.services, None, self.kmax)
    }

    /// How each service's carriers from `c` (at its handling day) stand to the deadline.
    fn timely_at(&self, c: &Candidate, dispatch: Day, limit: Day) -> [Timely; 4] {
        if let Some(t) = self.timely.borrow().get(&c.node.0) {
            return *t;
        }
        let mut t = [Timely::None; 4];
        for (i, &s) in self.services.iter().enumerate() {
            let opts = self.snapshot.rates().options(s, c.band);
            let on_time =
                |o: &RateOption| delivery_day(dispatch, o.transit_days, o.weekend) <= limit;
            t[i] = match (opts.iter().any(on_time), opts.iter().all(on_time)) {
                (true, true) => Timely::All,
                (true, false) => Timely::Some,
                _ => Timely::None,
            };
        }
        self.timely.borrow_mut().insert(c.node.0, t);
        t
    }

    /// Under the deadline, at the candidate's own handling day: the cheapest allowed price at
    /// `kg` and whether a service is mixed (then the slow path decides).
    fn fast(&self, c: &Candidate, kg: u32, limit: Day) -> Option<f64> {
        let dispatch = c.dispatch?;
        let timely = self.timely_at(c, dispatch, limit);
        if timely[..self.services.len()].contains(&Timely::Some) {
            return None;
        }
        let rates = self.snapshot.rates();
        let mut best = f64::INFINITY;
        for (i, &s) in self.services.iter().enumerate() {
            if timely[i] == Timely::All
                && let Some(p) = rates.price(s, c.band, kg)
            {
                best = best.min(p);
            }
        }
        Some(best)
    }
    /// Whether the leaves must price exactly: under a deadline costs may fall with weight, and
    /// with priced lateness the services are chosen together.
    #[inline]
    pub fn needs_exact_leaves(&self) -> bool {
        self.deadline.is_some() || self.late.is_some()
    }

    /// Every rate a shipment from `c` handled no earlier than `floor` could be sent at, over
    /// the order's services and all their carriers: `(base, per kg, delivery day)`, the day
    /// [`NO_FLOOR`] where the shipment has no date (it is never late).
    pub fn late_options(
        &self,
        c: &Candidate,
        floor: Day,
    ) -> impl Iterator<Item = (f64, f64, Day)> + '_ {
        let dispatch = dispatch_of(self.snapshot, c, floor);
        let band = c.band;
        self.services.iter().flat_map(move |&s| {
            self.snapshot.rates().options(s, band).iter().map(move |o| {
                let day = dispatch.map_or(NO_FLOOR, |d| delivery_day(d, o.transit_days, o.weekend));
                (o.base, o.per_kg, day)
            })
        })
    }

    /// Each service's quote for a shipment of `kg` from `c` handled no earlier than `floor`, at
    /// the spec's carrier for it: `(price, delivery day)`, the day [`NO_FLOOR`] where the
    /// shipment has no date.
    pub fn service_quotes(
        &self,
        c: &Candidate,
        floor: Day,
        kg: u32,
    ) -> impl Iterator<Item = (f64, Day)> + '_ {
        let dispatch = dispatch_of(self.snapshot, c, floor);
        let (rates, band) = (self.snapshot.rates(), c.band);
        self.services.iter().filter_map(move |&s| match dispatch {
            Some(day) => rates.quote_dated(s, band, kg, day).map(|(_, p, d)| (p, d)),
            None => rates.price(s, band, kg).map(|p| (p, NO_FLOOR)),
        })
    }

    /// The lateness price of a latest delivery on `day` (0 unless lateness is priced).
    #[inline]
    pub fn lateness(&self, day: Day) -> f64 {
        match self.late {
            Some((by, penalty)) if day > by => penalty * f64::from(day.abs_diff(by)),
            _ => 0.0,
        }
    }

    /// Shipping and lateness of the shipments `(candidate, billable kg, floor)` with their
    /// services chosen together: the cheapest over deadlines `D` of each shipment's cheapest
    /// service delivering by `D`, plus the lateness of `D` (a shipment without a date is on
    /// time by any). Returns that cost (infinite if a shipment has no service) and the smallest
    /// `D` reaching it, under which [`Shipper::quote`] picks the same services.
    pub fn priced_late<'c>(
        &self,
        parcels: impl Iterator<Item = (&'c Candidate, u32, Day)>,
    ) -> (f64, Day) {
        let Some((by, _)) = self.late else {
            return (f64::INFINITY, NO_FLOOR);
        };
        let mut opts = self.scratch.borrow_mut();
        opts.clear();
        let mut n = 0u32;
        for (c, kg, floor) in parcels {
            opts.extend(self.service_quotes(c, floor, kg).map(|(p, d)| (n, p, d)));
            n += 1;
        }
        let total_by = |limit: Day| {
            let mut sum = self.lateness(limit);
            for i in 0..n {
                let cheapest = opts
                    .iter()
                    .filter(|o| o.0 == i && o.2 <= limit)
                    .map(|o| o.1)
                    .fold(f64::INFINITY, f64::min);
                sum += cheapest;
            }
            sum
        };
        let mut best = (total_by(by), by);
        for &(_, _, d) in opts.iter() {
            if d <= by {
                continue;
            }
            let t = total_by(d);
            if t < best.0 - 1e-9 || ((t - best.0).abs() <= 1e-9 && d < best.1) {
                best = (t, d);
            }
        }
        best
    }

    /// The rate of a shipment of `kg` from `c` with inbound floor `floor`, under the deadline.
    #[inline]
    pub fn quote(&self, c: &Candidate, kg: u32, floor: Day) -> Option<Quote> {
        let rates = self.snapshot.rates();
        if self.deadline.is_none() && floor == NO_FLOOR {
            return quote(rates, self.services, c.band, kg, c.dispatch, None);
        }
        let dispatch = dispatch_of(self.snapshot, c, floor);
        if self.deadline.is_some() && dispatch.is_none() {
            return None;
        }
        quote(rates, self.services, c.band, kg, dispatch, self.deadline)
    }

    /// The exact shipping cost (infinite where no allowed rate exists).
    #[inline]
    pub fn exact(&self, c: &Candidate, kg: u32, floor: Day) -> f64 {
        match self.deadline {
            None => self.undated(c, kg),
            Some(limit) => self.exact_dated(c, kg, floor, limit),
        }
    }

    /// The cost the search charges while it branches: never above the exact cost of this
    /// shipment at `kg` or at any heavier weight.
    #[inline]
    pub fn bound(&self, c: &Candidate, kg: u32, floor: Day) -> f64 {
        match self.deadline {
            None => self.undated(c, kg),
            Some(limit) => self.bound_dated(c, kg, floor, limit),
        }
    }

    #[inline(never)]
    fn exact_dated(&self, c: &Candidate, kg: u32, floor: Day, limit: Day) -> f64 {
        if floor <= c.handling
            && let Some(p) = self.fast(c, kg, limit)
        {
            return p;
        }
        self.quote(c, kg, floor).map_or(f64::INFINITY, |q| q.price)
    }

    #[inline(never)]
    fn bound_dated(&self, c: &Candidate, kg: u32, floor: Day, limit: Day) -> f64 {
        if floor <= c.handling
            && let Some(p) = self.fast(c, kg, limit)
        {
            // No service is mixed: each allowed one is priced as without dates, which only
            // grows with weight.
            return p;
        }
        let dispatch = dispatch_of(self.snapshot, c, floor);
        let here = self.exact_dated(c, kg, floor, limit);
        match dispatch {
            Some(day) if self.mixed(c.band, day) => self.envelope(c, kg, floor, day, here),
            _ => here,
        }
    }

    /// The least base and the least per-kg price of the rate rows of this shipper's services in
    /// zone band `band`: every price [`Shipper::bound`] or [`Shipper::exact`] charges a
    /// candidate of that band is some row's `base + per_kg × kg` at this weight or a heavier
    /// one, so at least `base + per_kg × weight` with these two. `(0, 0)` where no row applies
    /// (a floor that says nothing; such a candidate cannot ship).
    pub fn affine_floor(&self, band: usize) -> (f64, f64) {
        let rates = self.snapshot.rates();
        let (mut base, mut per_kg) = (f64::INFINITY, f64::INFINITY);
        for &s in self.services {
            for o in rates.options(s, band) {
                base = base.min(o.base);
                per_kg = per_kg.min(o.per_kg);
            }
        }
        if base.is_finite() && per_kg.is_finite() {
            (base.max(0.0), per_kg.max(0.0))
        } else {
            (0.0, 0.0)
        }
    }

    /// Whether [`Shipper::bound`] depends on a candidate only through its zone band (no
    /// deadline: the cheapest rate over the services), so callers may share it per band.
    #[inline]
    pub fn bound_by_band(&self) -> bool {
        self.deadline.is_none()
    }

    /// Without a deadline dates do not change the price: the cheapest rate over the services.
    #[inline(always)]
    fn undated(&self, c: &Candidate, kg: u32) -> f64 {
        let rates = self.snapshot.rates();
        if let [s] = self.services {
            return rates.price(*s, c.band, kg).unwrap_or(f64::INFINITY);
        }
        let mut best = f64::INFINITY;
        for &s in self.services {
            if let Some(p) = rates.price(s, c.band, kg) {
                best = best.min(p);
            }
        }
        best
    }

    /// Whether some service has carriers on both sides of the deadline (then the chosen
    /// carrier, and so whether the service is allowed, depends on the weight).
    fn mixed(&self, band: usize, dispatch: Day) -> bool {
        let Some(limit) = self.deadline else {
            return false;
        };
        self.services.iter().any(|&s| {
            let opts = self.snapshot.rates().options(s, band);
            let on_time =
                |o: &RateOption| delivery_day(dispatch, o.transit_days, o.weekend) <= limit;
            opts.iter().any(on_time) && !opts.iter().all(on_time)
        })
    }

    /// `min over kg ≤ k ≤ kmax` of the exact cost; stops once no allowed rate can be cheaper.
    fn envelope(&self, c: &Candidate, kg: u32, floor: Day, dispatch: Day, here: f64) -> f64 {
        let Some(limit) = self.deadline else {
            return here;
        };
        let rates = self.snapshot.rates();
        let mut best = here;
        for k in kg.saturating_add(1)..=self.kmax {
            // The cheapest any on-time rate could be at k (grows with k).
            let floor_price = self
                .services
                .iter()
                .flat_map(|&s| rates.options(s, c.band))
                .filter(|o| delivery_day(dispatch, o.transit_days, o.weekend) <= limit)
                .map(|o| o.base + o.per_kg * f64::from(k))
                .fold(f64::INFINITY, f64::min);
            if floor_price >= best {
                break;
            }
            best = best.min(self.exact(c, k, floor));
        }
        best
    }
}
