//! What a reservation holds: named allocations and the operations the live state needs on them
//! (the allocations at one node, what is left after giving some back, the first units of a
//! list).

use crate::model::{NodeId, SkuId};
use crate::snapshot::Snapshot;

/// Units of one SKU held at one node, from one inventory entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Allocation {
    /// The inventory entry (index into the snapshot's inventory) the units come from.
    pub entry: usize,
    pub node: NodeId,
    pub sku: SkuId,
    pub units: u32,
}

impl Allocation {
    /// The same allocation with `units` units.
    pub fn with_units(self, units: u32) -> Allocation {
        Allocation { units, ..self }
    }
}

/// What a reservation holds, allocation by allocation, in the order they were decided.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Held(Vec<Allocation>);

impl Held {
    pub fn new() -> Held {
        Held(Vec::new())
    }

    pub fn with_capacity(n: usize) -> Held {
        Held(Vec::with_capacity(n))
    }

    pub fn push(&mut self, a: Allocation) {
        self.0.push(a);
    }

    /// The allocations at `node`.
    pub fn at(&self, node: NodeId) -> Held {
        self.iter().copied().filter(|a| a.node == node).collect()
    }

    /// The allocations of `sku`.
    pub fn of_sku(&self, sku: SkuId) -> Held {
        self.iter().copied().filter(|a| a.sku == sku).collect()
    }

    /// Units held in all.
    pub fn units(&self) -> u32 {
        self.iter().map(|a| a.units).sum()
    }

    /// Whether some allocation draws on inventory entry `entry`.
    pub fn draws_on(&self, entry: usize) -> bool {
        self.iter().any(|a| a.entry == entry)
    }

    /// What is left of these allocations once `less` is given back, entry by entry (the first
    /// allocations of an entry first); allocations left with no units are dropped.
    pub fn minus(&self, less: &Held) -> Held {
        let mut out = self.0.clone();
        for l in less.iter() {
            let mut left = l.units;
            for a in out.iter_mut().filter(|a| a.entry == l.entry) {
                let d = a.units.min(left);
                a.units -= d;
                left -= d;
            }
        }
        out.retain(|a| a.units > 0);
        Held(out)
    }

    /// The allocations by name, `(node_id, sku, units)` on `snapshot`, as records and rows
    /// write them.
    pub fn by_name(&self, snapshot: &Snapshot) -> Vec<(String, String, u32)> {
        self.iter()
            .map(|a| {
                let node = snapshot.node(a.node).id.clone();
                (node, snapshot.sku(a.sku).id.clone(), a.units)
            })
            .collect()
    }

    /// On-hand changes that take these units away: `(entry, −units)` per allocation (shipped
    /// units on confirmation, units a short pick found missing).
    pub fn removals(&self) -> Vec<(usize, i64)> {
        self.iter()
            .map(|a| (a.entry, -i64::from(a.units)))
            .collect()
    }

    /// The first `units` units of these allocations, in order.
    pub fn take(&self, mut units: u32) -> Held {
        let mut out = Held::new();
        for &a in self.iter() {
            let t = a.units.min(units);
            if t > 0 {
                out.push(a.with_units(t));
                units -= t;
            }
        }
        out
    }
}

impl std::ops::Deref for Held {
    type Target = [Allocation];
    fn deref(&self) -> &[Allocation] {
        &self.0
    }
}

impl FromIterator<Allocation> for Held {
    fn from_iter<I: IntoIterator<Item = Allocation>>(iter: I) -> Held {
        Held(iter.into_iter().collect())
    }
}

impl From<Vec<Allocation>> for Held {
    fn from(v: Vec<Allocation>) -> Held {
        Held(v)
    }
}

impl Extend<Allocation> for Held {
    fn extend<I: IntoIterator<Item = Allocation>>(&mut self, iter: I) {
        self.0.extend(iter);
    }
}

impl<'a> IntoIterator for &'a Held {
    type Item = &'a Allocation;
    type IntoIter = std::slice::Iter<'a, Allocation>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl IntoIterator for Held {
    type Item = Allocation;
    type IntoIter = std::vec::IntoIter<Allocation>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(entry: usize, node: u32, sku: u32, units: u32) -> Allocation {
        Allocation {
            entry,
            node: NodeId(node),
            sku: SkuId(sku),
            units,
        }
    }

    #[test]
    fn minus_gives_back_entry_by_entry_and_drops_empty_allocations() {
        let held: Held = vec![a(0, 1, 7, 2), a(0, 1, 7, 3), a(4, 2, 8, 1)].into();
        let less: Held = vec![a(0, 1, 7, 4)].into();
        assert_eq!(held.minus(&less), vec![a(0, 1, 7, 1), a(4, 2, 8, 1)].into());
        assert_eq!(held.minus(&held), Held::new());
    }

    #[test]
    fn take_and_at_pick_the_first_units_and_one_node() {
        let held: Held = vec![a(0, 1, 7, 2), a(3, 2, 7, 5), a(5, 1, 9, 1)].into();
        assert_eq!(held.take(4), vec![a(0, 1, 7, 2), a(3, 2, 7, 2)].into());
        assert_eq!(held.take(0), Held::new());
        assert_eq!(
            held.at(NodeId(1)),
            vec![a(0, 1, 7, 2), a(5, 1, 9, 1)].into()
        );
        assert_eq!(held.of_sku(SkuId(7)).units(), 7);
        assert!(held.draws_on(3) && !held.draws_on(4));
    }
}
