//! What a turn's transaction will write at its commit: the records of every append of the group
//! and the rows they left, merged (a row written by a later append replaces the earlier one;
//! units taken add up, and a row written after them already counts them). Writing all of it at
//! the end costs a few round trips per transaction instead of a few per append.

use std::collections::BTreeMap;

use super::super::store::{Projection, StoreError};
use super::super::{Record, ReservationRow, StockRow};

/// How `fulfil_capacity.day` stores "no day".
pub const NO_DAY: i32 = i32::MIN;

/// The group's writes, in the order they must reach the database.
#[derive(Default)]
pub struct Pending {
    /// (seq, kind, JSON, bytes).
    pub changes: Vec<(i64, &'static str, String, i32)>,
    /// Every row is written anew (before the rows below).
    pub full: bool,
    pub stock: BTreeMap<(String, String), StockRow>,
    /// Units taken by new reservations since the row was last written, per (node, sku).
    pub taken: BTreeMap<(String, String), i64>,
    /// Capacity used per (node, day key).
    pub capacity: BTreeMap<(String, i32), i64>,
    /// Reservations by id, with the sequence number of the change that left them.
    pub reservations: BTreeMap<String, (ReservationRow, i64)>,
    pub network_version: Option<u64>,
}

impl Pending {
    /// Adds one append: `records` numbered from `first`, and the rows they left.
    pub fn add(
        &mut self,
        first: u64,
        records: &[Record],
        rows: Projection,
    ) -> Result<(), StoreError> {
        for (i, r) in records.iter().enumerate() {
            let text = serde_json::to_string(r).map_err(StoreError::write_failed)?;
            let bytes = text.len() as i32;
            self.changes
                .push(((first + i as u64) as i64, r.kind(), text, bytes));
        }
        if records.is_empty() && !rows.full {
            return Ok(());
        }
        let seq = (first + records.len() as u64).saturating_sub(1) as i64;
        if rows.full {
            *self = Pending {
                changes: std::mem::take(&mut self.changes),
                full: true,
                ..Pending::default()
            };
        }
        for row in rows.stock {
            let key = (row.node_id.clone(), row.sku.clone());
            // The row counts every unit taken before it.
            self.taken.remove(&key);
            self.stock.insert(key, row);
        }
        for (n, k, q) in rows.taken {
            *self.taken.entry((n, k)).or_default() += i64::from(q);
        }
        for c in rows.capacity {
            let day = c.day.unwrap_or(NO_DAY);
            self.capacity.insert((c.node_id, day), i64::from(c.used));
        }
        for r in rows.reservations {
            self.reservations.insert(r.id.clone(), (r, seq));
        }
        self.network_version = Some(rows.network_version);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stock(reserved: u32) -> StockRow {
        StockRow {
            node_id: "N".into(),
            sku: "A".into(),
            on_hand: 10,
            safety_stock: 0,
            sellable: 10,
            reserved,
        }
    }

    fn take(q: u32) -> Projection {
        Projection {
            taken: vec![("N".into(), "A".into(), q)],
            ..Projection::default()
        }
    }

    fn row(reserved: u32) -> Projection {
        Projection {
            stock: vec![stock(reserved)],
            ..Projection::default()
        }
    }

    const R: &[Record] = &[Record::Release { id: String::new() }];

    #[test]
    fn a_row_replaces_the_units_taken_before_it_and_later_ones_add_up() {
        let mut p = Pending::default();
        p.add(1, R, take(2)).unwrap();
        p.add(2, R, take(3)).unwrap();
        assert_eq!(p.taken.values().copied().collect::<Vec<_>>(), vec![5]);
        p.add(3, R, row(4)).unwrap();
        assert!(p.taken.is_empty(), "the row after them counts them");
        p.add(4, R, take(1)).unwrap();
        assert_eq!(p.stock.values().next().map(|s| s.reserved), Some(4));
        assert_eq!(p.taken.values().copied().collect::<Vec<_>>(), vec![1]);
        assert_eq!(
            p.changes.iter().map(|c| c.0).collect::<Vec<_>>(),
            vec![1, 2, 3, 4]
        );
    }

    #[test]
    fn a_full_projection_drops_the_rows_before_it_but_not_the_changes() {
        let mut p = Pending::default();
        p.add(1, R, take(2)).unwrap();
        let full = Projection {
            full: true,
            ..row(0)
        };
        p.add(2, R, full).unwrap();
        assert!(p.full && p.taken.is_empty());
        assert_eq!(p.stock.len(), 1);
        assert_eq!(p.changes.len(), 2);
    }
}
