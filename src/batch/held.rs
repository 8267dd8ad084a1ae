//! What a batch holds as it decides: the ledger of its plans and, per arrival of stock, what
//! the orders created before it took ([`Held`]); and what one order may use on top of that
//! ([`View`], the availability the per-order search is given).

use super::run::Run;
use crate::model::NodeId;
use crate::route::{Availability, Ledger, Plan};
use crate::snapshot::Snapshot;

/// What a batch holds: the ledger of its plans, and per arrival, the units taken by the orders
/// created before it.
#[derive(Clone, Debug)]
pub(crate) struct Held {
    pub ledger: Ledger,
    early: Vec<u32>,
}

impl Held {
    /// What the run holds when it starts: the start ledger, nothing taken early.
    pub fn start(run: &Run) -> Held {
        Held {
            ledger: run.start.clone(),
            early: vec![0; run.resources.arrivals.len()],
        }
    }

    /// Whether order `o`'s plan fits: in the ledger, and within every arrival it comes before.
    pub fn fits(&self, run: &Run, o: usize, plan: &Plan) -> bool {
        let (snapshot, order) = (run.snapshot, &run.orders[o]);
        if !self.ledger.fits(snapshot, order, plan) {
            return false;
        }
        // What the plan takes of each arrival (two lines may name one entry).
        let mut want: Vec<(usize, u32)> = Vec::new();
        self.each_early(run, o, plan, |j, q| {
            match want.iter_mut().find(|w| w.0 == j) {
                Some(w) => w.1 += q,
                None => want.push((j, q)),
            }
        });
        (want.iter()).all(|&(j, q)| self.early[j] + q <= run.resources.tranche_limit(j))
    }

    pub fn commit(&mut self, run: &Run, o: usize, plan: &Plan) {
        self.ledger.commit(run.snapshot, &run.orders[o], plan);
        let mut early = std::mem::take(&mut self.early);
        self.each_early(run, o, plan, |j, q| early[j] += q);
        self.early = early;
    }

    pub fn release(&mut self, run: &Run, o: usize, plan: &Plan) {
        self.ledger.release(run.snapshot, &run.orders[o], plan);
        let mut early = std::mem::take(&mut self.early);
        self.each_early(run, o, plan, |j, q| early[j] = early[j].saturating_sub(q));
        self.early = early;
    }

    /// Calls `f(tranche, units)` for every arrival order `o` comes before and its plan uses.
    fn each_early(&self, run: &Run, o: usize, plan: &Plan, mut f: impl FnMut(usize, u32)) {
        if run.resources.arrivals.is_empty() {
            return;
        }
        let inv = run.snapshot.inventory();
        for (node, lines) in &plan.shipments {
            for (sku, qty) in lines {
                if let Some(e) = inv.entry(*node, *sku) {
                    run.resources.arrivals.before(o, e).for_each(|j| f(j, *qty));
                }
            }
        }
    }

    /// What order `o` may use, alone, on top of what is held.
    pub fn view<'h>(&'h self, run: &'h Run, o: usize) -> View<'h> {
        View {
            ledger: &self.ledger,
            early: &self.early,
            run,
            o,
        }
    }
}

/// What order `o` may use alone, from where the run starts.
pub(crate) fn alone<'h>(run: &'h Run, o: usize) -> View<'h> {
    View {
        ledger: run.start,
        early: &[],
        run,
        o,
    }
}

/// What one order may use of a batch's stock: the ledger's ATS, and of an entry whose units
/// arrive after the order was created, no more than its arrivals' limits leave.
pub(crate) struct View<'h> {
    ledger: &'h Ledger,
    early: &'h [u32],
    run: &'h Run<'h>,
    o: usize,
}

impl View<'_> {
    fn snapshot(&self) -> &Snapshot {
        self.run.snapshot
    }
}

impl Availability for View<'_> {
    #[inline]
    fn reserved(&self, entry: usize) -> u32 {
        let held = self.ledger.reserved(entry);
        let arrivals = &self.run.resources.arrivals;
        if arrivals.is_empty() {
            return held;
        }
        let tranches = arrivals.before(self.o, entry);
        if tranches.is_empty() {
            return held;
        }
        let resources = &self.run.resources;
        let left = tranches
            .map(|j| {
                let early = self.early.get(j).copied().unwrap_or(0);
                resources.tranche_limit(j).saturating_sub(early)
            })
            .min()
            .unwrap_or(u32::MAX);
        let sellable = self.snapshot().inventory().sellable(entry);
        held.max(sellable.saturating_sub(left))
    }
    #[inline]
    fn capacity_used(&self, node: NodeId, day: Option<i32>) -> u32 {
        self.ledger.capacity_used(node, day)
    }
    #[inline]
    fn used_on(&self, day: Option<i32>) -> Option<&[u32]> {
        self.ledger.used_on(day)
    }
}
