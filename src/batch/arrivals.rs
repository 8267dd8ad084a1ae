//! Stock that arrives while a batch's orders come in (the receipts of a replay judged in
//! hindsight): a unit that arrives at instant τ exists only for the orders created at or after
//! τ.
//!
//! An inventory entry whose units arrive at τ_1 < … < τ_k gets one shared limit per arrival
//! beside its own (its ATS once everything has arrived): the orders created before τ_j take at
//! most that ATS less the units arriving at τ_j or later. These limits hold for a plan exactly
//! when no order uses a unit before it arrives, whatever the order in which the plans were
//! found — so the batch optimizer treats them like any other shared limit (a price per limit
//! in the Lagrangian phase, a row in the master), and an order decided alone sees, of each
//! entry, the least that the limits it falls under leave (`held.rs`).

use std::ops::Range;

use crate::model::Order;

/// The arrivals of one batch, and when each of its orders was created.
#[derive(Clone, Debug, Default)]
pub struct Arrivals {
    /// Each order's creation instant in ms since the epoch (`None`: before every arrival).
    order_ms: Vec<Option<i64>>,
    /// Per inventory entry, where its tranches start in `tranches` (one more offset than
    /// entries); empty when nothing arrives.
    first: Vec<u32>,
    /// Per entry, its arrivals in time order.
    tranches: Vec<Tranche>,
}

/// One arrival of an entry: its instant and the units arriving then or later.
#[derive(Clone, Copy, Debug)]
struct Tranche {
    at_ms: i64,
    later: u32,
}

impl Arrivals {
    /// Nothing arrives: every unit is there from the start.
    pub fn none() -> Arrivals {
        Arrivals::default()
    }

    /// `receipts` as (inventory entry, instant in ms, units) for a snapshot of `entries`
    /// entries whose stock already counts them; `order_ms` is each order's creation instant, in
    /// the batch's order. Receipts of no units are left out.
    pub fn new(
        entries: usize,
        receipts: impl IntoIterator<Item = (usize, i64, u32)>,
        order_ms: Vec<Option<i64>>,
    ) -> Arrivals {
        let mut all: Vec<(usize, i64, u32)> = receipts
            .into_iter()
            .filter(|&(e, _, q)| q > 0 && e < entries)
            .collect();
        if all.is_empty() {
            return Arrivals {
                order_ms,
                ..Arrivals::default()
            };
        }
        all.sort_unstable_by_key(|&(e, at, _)| (e, at));
        let mut first = Vec::with_capacity(entries + 1);
        let mut tranches: Vec<Tranche> = Vec::with_capacity(all.len());
        let mut i = 0;
        for e in 0..entries {
            first.push(tranches.len() as u32);
            let from = tranches.len();
            while i < all.len() && all[i].0 == e {
                let (_, at_ms, qty) = all[i];
                let same = tranches.len() > from && tranches[tranches.len() - 1].at_ms == at_ms;
                match tranches.last_mut() {
                    Some(t) if same => t.later = t.later.saturating_add(qty),
                    _ => tranches.push(Tranche { at_ms, later: qty }),
                }
                i += 1;
            }
            // Units arriving at τ_j or later: the sums from the last arrival back.
            for j in (from..tranches.len().saturating_sub(1)).rev() {
                tranches[j].later = tranches[j].later.saturating_add(tranches[j + 1].later);
            }
        }
        first.push(tranches.len() as u32);
        Arrivals {
            order_ms,
            first,
            tranches,
        }
    }

    /// Whether every unit is there from the start.
    pub fn is_empty(&self) -> bool {
        self.tranches.is_empty()
    }

    /// How many limits the arrivals add (one per entry and instant).
    pub fn len(&self) -> usize {
        self.tranches.len()
    }

    /// The orders the batch has times for.
    pub fn orders(&self) -> usize {
        self.order_ms.len()
    }

    /// The tranches of `entry` that order `o` comes before (it may use none of their units):
    /// indices into the arrivals' limits.
    #[inline]
    pub(crate) fn before(&self, o: usize, entry: usize) -> Range<usize> {
        let Some(&end) = self.first.get(entry + 1) else {
            return 0..0;
        };
        let (start, end) = (self.first[entry] as usize, end as usize);
        if start == end {
            return 0..0;
        }
        let Some(t) = self.order_ms.get(o).copied().flatten() else {
            return start..end;
        };
        let after = self.tranches[start..end].partition_point(|tr| tr.at_ms <= t);
        start + after..end
    }

    /// The limit of tranche `j` of `entry`, given the entry's ATS once everything arrived.
    #[inline]
    pub(crate) fn limit(&self, j: usize, ats: u32) -> u32 {
        ats.saturating_sub(self.tranches[j].later)
    }

    /// The entry each tranche belongs to, in tranche order.
    pub(crate) fn entries(&self) -> impl Iterator<Item = usize> + '_ {
        self.first
            .windows(2)
            .enumerate()
            .flat_map(|(e, w)| std::iter::repeat_n(e, (w[1] - w[0]) as usize))
    }
}

/// The creation instant of `order` in ms since the epoch, from its `created_at` (`None`
/// without one).
pub fn created_ms(order: &Order) -> Option<i64> {
    order
        .created_at
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_comes_before_the_arrivals_after_its_creation() {
        // Entry 1: 5 units at t=100, 3 at t=200; entry 0 and 2 nothing.
        let a = Arrivals::new(
            3,
            [(1, 200, 3), (1, 100, 5), (0, 50, 0)],
            vec![None, Some(99), Some(100), Some(150), Some(250)],
        );
        assert_eq!(a.len(), 2);
        assert_eq!(a.before(0, 0), 0..0);
        assert_eq!(a.before(0, 1), 0..2);
        assert_eq!(a.before(1, 1), 0..2);
        assert_eq!(
            a.before(2, 1),
            1..2,
            "a receipt is there for orders created at its instant"
        );
        assert_eq!(a.before(3, 1), 1..2);
        assert_eq!(a.before(4, 1), 2..2);
        // ATS 10 once all arrived: orders before t=100 may use 2, before t=200 7.
        assert_eq!(a.limit(0, 10), 2);
        assert_eq!(a.limit(1, 10), 7);
        assert_eq!(a.entries().collect::<Vec<_>>(), vec![1, 1]);
    }

    #[test]
    fn receipts_at_one_instant_are_one_tranche() {
        let a = Arrivals::new(1, [(0, 100, 2), (0, 100, 3)], vec![Some(0)]);
        assert_eq!(a.len(), 1);
        assert_eq!(a.limit(0, 4), 0);
        assert_eq!(a.limit(0, 9), 4);
    }
}
