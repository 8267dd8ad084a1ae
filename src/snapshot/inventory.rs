//! Inventory by SKU in compressed sparse rows: for each SKU the nodes that hold it, sorted by
//! node. An entry's position is the dense key of a (node, SKU) pair that reservations index.
//!
//! The structure (which pairs exist) and the stock levels are stored apart: levels sit in chunks
//! behind `Arc`s, so a new version that changes a few levels copies only the chunks it touches and
//! shares everything else with the version before.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::model::{Day, NodeId, SkuId};

/// One row of `inbound.csv` (version 2), with ids resolved: units on their way to a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InboundRow {
    pub node: NodeId,
    pub sku: SkuId,
    pub qty: u32,
    /// The first node-local day the units can be handled.
    pub available: Day,
}

/// Inbound units of one entry: `(available day, units)` sorted by day, same days added up.
pub type Tiers = Box<[(Day, u32)]>;

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
    /// Its on hand and safety stock.
    pub fn level(&self) -> Level {
        Level {
            on_hand: self.on_hand,
            safety_stock: self.safety_stock,
        }
    }

    /// Units sellable before any reservation: `on_hand − safety_stock`, at least 0.
    #[inline]
    pub fn sellable(&self) -> u32 {
        self.on_hand.saturating_sub(self.safety_stock)
    }
}

/// On hand and safety stock of one entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Level {
    pub on_hand: u32,
    pub safety_stock: u32,
}

const CHUNK_BITS: usize = 12;
const CHUNK: usize = 1 << CHUNK_BITS;

/// All stock, grouped by SKU.
#[derive(Clone, Debug, Default)]
pub struct Inventory {
    offsets: Arc<[u32]>,
    nodes: Arc<[NodeId]>,
    levels: Arc<[Arc<Vec<Level>>]>,
    /// Inbound supply by entry (only entries that have some).
    inbound: Arc<FxHashMap<u32, Tiers>>,
    /// One bit per entry: whether it has inbound supply (read before the map, on the hot path).
    inbound_bits: Arc<[u64]>,
    /// Whether inbound units count toward ATS (policy `allocate_inbound`).
    allocate_inbound: bool,
}

/// The entry layout of an inventory ([`Inventory::shape`]).
#[derive(Clone, Debug)]
pub struct Shape {
    offsets: Arc<[u32]>,
    nodes: Arc<[NodeId]>,
}

impl Shape {
    /// Whether `inventory` has this layout (the same pairs at the same entry indices).
    pub fn fits(&self, inventory: &Inventory) -> bool {
        Arc::ptr_eq(&self.nodes, &inventory.nodes) && Arc::ptr_eq(&self.offsets, &inventory.offsets)
    }
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
        let mut entries = vec![(NodeId(0), Level::default()); rows.len()];
        for r in rows {
            let at = &mut fill[r.sku.index()];
            entries[*at as usize] = (
                r.node,
                Level {
                    on_hand: r.on_hand,
                    safety_stock: r.safety_stock,
                },
            );
            *at += 1;
        }
        for s in 0..sku_count {
            let (a, b) = (offsets[s] as usize, offsets[s + 1] as usize);
            entries[a..b].sort_by_key(|e| e.0);
        }
        let nodes: Vec<NodeId> = entries.iter().map(|e| e.0).collect();
        let levels: Vec<Arc<Vec<Level>>> = entries
            .chunks(CHUNK)
            .map(|c| Arc::new(c.iter().map(|e| e.1).collect()))
            .collect();
        Inventory {
            offsets: offsets.into(),
            nodes: nodes.into(),
            levels: levels.into(),
            inbound: Arc::default(),
            inbound_bits: Arc::default(),
            allocate_inbound: false,
        }
    }

    /// The same stock with inbound supply; every row's pair must have an entry (the snapshot
    /// builder adds empty ones).
    pub fn with_inbound(mut self, rows: &[InboundRow], allocate: bool) -> Inventory {
        let mut by_entry: FxHashMap<u32, Vec<(Day, u32)>> = FxHashMap::default();
        for r in rows {
            if let Some(e) = self.entry(r.node, r.sku) {
                by_entry
                    .entry(e as u32)
                    .or_default()
                    .push((r.available, r.qty));
            }
        }
        let inbound: FxHashMap<u32, Tiers> = by_entry
            .into_iter()
            .map(|(e, mut tiers)| {
                tiers.sort_by_key(|t| t.0);
                let mut merged: Vec<(Day, u32)> = Vec::with_capacity(tiers.len());
                for (day, qty) in tiers {
                    match merged.last_mut() {
                        Some(last) if last.0 == day => last.1 = last.1.saturating_add(qty),
                        _ => merged.push((day, qty)),
                    }
                }
                (e, merged.into_boxed_slice())
            })
            .collect();
        let mut bits = vec![0u64; self.nodes.len().div_ceil(64)];
        for e in inbound.keys() {
            bits[*e as usize / 64] |= 1 << (e % 64);
        }
        self.inbound = Arc::new(inbound);
        self.inbound_bits = bits.into();
        self.allocate_inbound = allocate;
        self
    }

    /// The same inventory with inbound supply counted toward ATS or not.
    pub fn allocating_inbound(&self, allocate: bool) -> Inventory {
        Inventory {
            allocate_inbound: allocate,
            ..self.clone()
        }
    }

    /// Whether inbound units count toward ATS.
    #[inline]
    pub fn allocates_inbound(&self) -> bool {
        self.allocate_inbound && !self.inbound.is_empty()
    }

    /// Inbound supply of an entry, earliest first (empty when none, or when it is not allocated).
    #[inline]
    pub fn inbound(&self, entry: usize) -> &[(Day, u32)] {
        if !self.allocates_inbound()
            || self
                .inbound_bits
                .get(entry / 64)
                .is_none_or(|w| w & (1 << (entry % 64)) == 0)
        {
            return &[];
        }
        self.inbound.get(&(entry as u32)).map_or(&[], |t| t)
    }

    /// Every inbound row (for rebuilding), whether allocated or not.
    pub fn inbound_rows(&self) -> Vec<InboundRow> {
        let mut rows = Vec::new();
        for (&e, tiers) in self.inbound.iter() {
            let e = e as usize;
            let sku = self.offsets.partition_point(|&o| o as usize <= e) - 1;
            for &(available, qty) in tiers.iter() {
                rows.push(InboundRow {
                    node: self.nodes[e],
                    sku: SkuId(sku as u32),
                    qty,
                    available,
                });
            }
        }
        rows.sort_by_key(|r| (r.node, r.sku, r.available));
        rows
    }

    /// On-hand units sellable at an entry before any reservation: `on_hand − safety_stock`.
    #[inline]
    pub fn stock_sellable(&self, entry: usize) -> u32 {
        let l = self.level(entry);
        l.on_hand.saturating_sub(l.safety_stock)
    }

    /// The nodes holding a SKU, with the entry index of the first.
    #[inline]
    pub fn of_sku(&self, sku: SkuId) -> (usize, &[NodeId]) {
        let a = self.offsets[sku.index()] as usize;
        let b = self.offsets[sku.index() + 1] as usize;
        (a, &self.nodes[a..b])
    }

    /// The SKU of an entry.
    pub fn sku_of(&self, entry: usize) -> SkuId {
        // offsets[k] is the first entry of SKU k: the last offset at or before `entry`.
        let k = self.offsets.partition_point(|&o| o as usize <= entry);
        SkuId(k.saturating_sub(1) as u32)
    }

    /// The entry index of (node, SKU), if the node holds a row for it.
    pub fn entry(&self, node: NodeId, sku: SkuId) -> Option<usize> {
        let (base, list) = self.of_sku(sku);
        list.binary_search(&node).ok().map(|i| base + i)
    }

    #[inline]
    fn level(&self, entry: usize) -> Level {
        self.levels[entry >> CHUNK_BITS][entry & (CHUNK - 1)]
    }

    /// The stock at an entry index.
    #[inline]
    pub fn stock(&self, entry: usize) -> Stock {
        let l = self.level(entry);
        Stock {
            node: self.nodes[entry],
            on_hand: l.on_hand,
            safety_stock: l.safety_stock,
        }
    }

    /// Units sellable at an entry before any reservation: `on_hand − safety_stock` (at least
    /// 0), plus its inbound units when they are allocated.
    #[inline]
    pub fn sellable(&self, entry: usize) -> u32 {
        let stock = self.stock_sellable(entry);
        if !self.allocates_inbound() {
            return stock;
        }
        let inbound: u32 = self.inbound(entry).iter().map(|t| t.1).sum();
        stock.saturating_add(inbound)
    }

    /// A new version with some levels changed: `(entry, level)`. Only the chunks touched are
    /// copied.
    pub fn with_levels(&self, changes: &[(usize, Level)]) -> Inventory {
        let mut levels: Vec<Arc<Vec<Level>>> = self.levels.to_vec();
        for &(entry, level) in changes {
            let chunk = Arc::make_mut(&mut levels[entry >> CHUNK_BITS]);
            chunk[entry & (CHUNK - 1)] = level;
        }
        Inventory {
            offsets: self.offsets.clone(),
            nodes: self.nodes.clone(),
            levels: levels.into(),
            inbound: self.inbound.clone(),
            inbound_bits: self.inbound_bits.clone(),
            allocate_inbound: self.allocate_inbound,
        }
    }

    /// All rows, for rebuilding with new pairs.
    pub fn rows(&self) -> Vec<InventoryRow> {
        let mut rows = Vec::with_capacity(self.len());
        for s in 0..self.offsets.len().saturating_sub(1) {
            let (a, b) = (self.offsets[s] as usize, self.offsets[s + 1] as usize);
            for e in a..b {
                let st = self.stock(e);
                rows.push(InventoryRow {
                    node: st.node,
                    sku: SkuId(s as u32),
                    on_hand: st.on_hand,
                    safety_stock: st.safety_stock,
                });
            }
        }
        rows
    }

    /// Whether two versions have the same pairs at the same entry indices.
    pub fn same_structure(&self, other: &Inventory) -> bool {
        self.shape().fits(other)
    }

    /// Which pairs sit at which entry indices, without the stock levels: what a table kept per
    /// entry (such as prices) is valid for.
    pub fn shape(&self) -> Shape {
        Shape {
            offsets: self.offsets.clone(),
            nodes: self.nodes.clone(),
        }
    }

    /// Number of (node, SKU) rows.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Bytes held by the index (for the memory-per-row benchmark).
    pub fn heap_bytes(&self) -> usize {
        self.offsets.len() * std::mem::size_of::<u32>()
            + self.nodes.len() * std::mem::size_of::<NodeId>()
            + self.levels.iter().map(|c| c.capacity()).sum::<usize>() * std::mem::size_of::<Level>()
    }
}
