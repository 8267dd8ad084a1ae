//! `receipts.csv` (simulation input): stock that arrives at a node at a time.
//! Columns `node_id`, `sku`, `qty` (integer ≥ 1) and `at` (RFC 3339), all required.

use std::path::Path;

use chrono::DateTime;

use super::LoadError;
use super::table::Table;
use crate::model::{NodeId, SkuId};
use crate::snapshot::Snapshot;

/// Units of a SKU arriving at a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    pub node: NodeId,
    pub sku: SkuId,
    pub qty: u32,
    /// Milliseconds since the Unix epoch.
    pub at_ms: i64,
}

/// Reads a receipts file, resolving nodes and SKUs against `snapshot`; sorted by time (file
/// order among equal times).
pub fn read_receipts(path: &Path, snapshot: &Snapshot) -> Result<Vec<Receipt>, LoadError> {
    let table = Table::read(path, &["node_id", "sku", "qty", "at"])?;
    let mut out = Vec::with_capacity(table.len());
    for row in table.rows() {
        let node_text = row.string("node_id")?;
        let node = snapshot
            .node_id(node_text)
            .ok_or_else(|| row.error("node_id", format!("unknown node `{node_text}`")))?;
        let sku_text = row.string("sku")?;
        let sku = snapshot
            .sku_id(sku_text)
            .ok_or_else(|| row.error("sku", format!("unknown SKU `{sku_text}`")))?;
        let qty = row.u32("qty", 1)?;
        let at_text = row.string("at")?;
        let at = DateTime::parse_from_rfc3339(at_text).map_err(|e| {
            row.error(
                "at",
                format!("expected an RFC 3339 timestamp, found `{at_text}` ({e})"),
            )
        })?;
        out.push(Receipt {
            node,
            sku,
            qty,
            at_ms: at.timestamp_millis(),
        });
    }
    out.sort_by_key(|r| r.at_ms);
    Ok(out)
}
