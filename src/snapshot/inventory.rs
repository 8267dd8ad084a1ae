//! Inventory by SKU in compressed sparse rows: for each SKU the nodes that hold it, sorted by
//! node. An entry's position is the dense key of a (node, SKU) pair that reservations index.

use crate::model::{NodeId, SkuId};

/// One row of `inventory.csv`, with ids resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InventoryRow {
    pub node: NodeId,
    pub sku: SkuId,
    pub on_hand: u32,
    pub safety_stock: u32,
}

/// Stock of one SKU at one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stock {
    pub node: NodeId,
    pub on_hand: u32,
    pub safety_stock: u32,
}

impl Stock {
    /// Units sellable before any reservation: `on_hand − safety_stock`, at least 0.
    #[inline]
    pub fn sellable(&self) -> u32 {
        self.on_hand.saturating_sub(self.safety_stock)
    }
}

/// All stock, grouped by SKU.
#[derive(Clone, Debug, Default)]
pub struct Inventory {
    offsets: Vec<u32>,
    entries: Vec<Stock>,
}

impl Inventory {
    /// Builds the index from rows; pairs must be unique (the loader checks).
    pub fn build(sku_count: usize, rows: &[InventoryRow]) -> Inventory {
        let mut counts = vec![0u32; sku_count + 1];
        for r in rows {
            counts[r.sku.index() + 1] += 1;
        }
        for i in 1..counts.len() {
            counts[i] += counts[i - 1];
        }
        let offsets = counts.clone();
        let mut fill = counts;
        let mut entries = vec![
            Stock {
                node: NodeId(0),
                on_hand: 0,
                safety_stock: 0
            };
            rows.len()
        ];
        for r in rows {
            let at = &mut fill[r.sku.index()];
            entries[*at as usize] = Stock {
                node: r.node,
                on_hand: r.on_hand,
                safety_stock: r.safety_stock,
            };
            *at += 1;
        }
        for s in 0..sku_count {
            let (a, b) = (offsets[s] as usize, offsets[s + 1] as usize);
            entries[a..b].sort_by_key(|e| e.node);
        }
        Inventory { offsets, entries }
    }

    /// The entries of one SKU with their global entry index.
    #[inline]
    pub fn of_sku(&self, sku: SkuId) -> (usize, &[Stock]) {
        let a = self.offsets[sku.index()] as usize;
        let b = self.offsets[sku.index() + 1] as usize;
        (a, &self.entries[a..b])
    }

    /// The entry index of (node, SKU), if the node holds a row for it.
    pub fn entry(&self, node: NodeId, sku: SkuId) -> Option<usize> {
        let (base, list) = self.of_sku(sku);
        list.binary_search_by_key(&node, |e| e.node)
            .ok()
            .map(|i| base + i)
    }

    /// The stock at an entry index.
    #[inline]
    pub fn stock(&self, entry: usize) -> &Stock {
        &self.entries[entry]
    }

    /// Number of (node, SKU) rows.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes held by the index (for the memory-per-row benchmark).
    pub fn heap_bytes(&self) -> usize {
        self.offsets.capacity() * std::mem::size_of::<u32>()
            + self.entries.capacity() * std::mem::size_of::<Stock>()
    }
}
