//! `events.csv`: what a store system reports after a commit — rejections and short picks — for
//! `fulfil exceptions` to replay against a running service.
//!
//! Columns: `event` (`reject` or `short_pick`), `reservation_id`, `node_id` (required), `sku`
//! and `qty` (optional: without them the event covers every unit the node holds for the
//! reservation), `reason`, `request_id` (optional). Rows with the same request id make one
//! event with several lines; a row without one gets `<file name>:<line>`, so replaying the same
//! file again is answered from the service's memory and changes nothing.

use std::collections::HashMap;
use std::path::Path;

use super::LoadError;
use super::table::Table;

/// One reported exception.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The line of its first row.
    pub line: u64,
    pub short_pick: bool,
    pub reservation_id: String,
    pub node_id: String,
    /// (SKU, units); empty: every unit the node holds for the reservation.
    pub lines: Vec<(String, u32)>,
    pub reason: String,
    pub request_id: String,
}

/// Reads an events file, in the order of each event's first row.
pub fn read_events(path: &Path) -> Result<Vec<Event>, LoadError> {
    let table = Table::read(path, &["event", "reservation_id", "node_id"])?;
    let stem = path
        .file_name()
        .map_or_else(|| "events".to_owned(), |n| n.to_string_lossy().into_owned());
    let mut events: Vec<Event> = Vec::new();
    // Each request id's event, by position (a long file stays linear).
    let mut by_request: HashMap<String, usize> = HashMap::new();
    for row in table.rows() {
        let kind = row.string("event")?;
        let short_pick = match kind {
            "reject" => false,
            "short_pick" => true,
            other => {
                return Err(row.error(
                    "event",
                    format!("expected `reject` or `short_pick`, found `{other}`"),
                ));
            }
        };
        let reservation_id = row.string("reservation_id")?.to_owned();
        let node_id = row.string("node_id")?.to_owned();
        let sku = row.cell("sku");
        let line = if sku.is_empty() {
            if !row.cell("qty").is_empty() {
                return Err(row.error("qty", "given without a sku"));
            }
            None
        } else {
            Some((sku.to_owned(), row.u32("qty", 1)?))
        };
        let given = row.cell("request_id");
        let request_id = if given.is_empty() {
            format!("{stem}:{}", row.line)
        } else {
            given.to_owned()
        };
        if let Some(e) = by_request.get(&request_id).map(|&i| &mut events[i]) {
            if (e.short_pick, &e.reservation_id, &e.node_id)
                != (short_pick, &reservation_id, &node_id)
            {
                return Err(row.error(
                    "request_id",
                    format!(
                        "request `{request_id}` (line {}) names another event, reservation or node",
                        e.line
                    ),
                ));
            }
            match line {
                Some(l) if !e.lines.is_empty() => e.lines.push(l),
                _ => {
                    return Err(row.error(
                        "sku",
                        "a row of an event covering every unit cannot add lines",
                    ));
                }
            }
            continue;
        }
        by_request.insert(request_id.clone(), events.len());
        events.push(Event {
            line: row.line,
            short_pick,
            reservation_id,
            node_id,
            lines: line.into_iter().collect(),
            reason: row.cell("reason").to_owned(),
            request_id,
        });
    }
    Ok(events)
}
