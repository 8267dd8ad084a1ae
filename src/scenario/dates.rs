//! Reading the date parts of a version 2 scenario: node schedules (time zone, cut-off,
//! processing days, calendar), `calendars.toml` and `inbound.csv`.

use std::collections::BTreeMap;
use std::path::Path;

use super::LoadError;
use super::table::{Row, Table};
use crate::model::dates::{Calendar, Cutoff, parse_day, parse_weekday};
use crate::model::{Day, NodeId, Schedule, SkuId};
use crate::snapshot::InboundRow;

impl Row<'_> {
    /// An optional `YYYY-MM-DD` date; `None` when empty.
    pub fn opt_day(&self, column: &str) -> Result<Option<Day>, LoadError> {
        let v = self.cell(column);
        if v.is_empty() {
            return Ok(None);
        }
        parse_day(v)
            .map(Some)
            .ok_or_else(|| self.error(column, format!("expected a date YYYY-MM-DD, found `{v}`")))
    }
}

/// A node's schedule from its `nodes.csv` row (defaults where the columns are absent or empty).
pub(crate) fn schedule(row: &Row<'_>) -> Result<Schedule, LoadError> {
    let tz_text = row.cell("timezone");
    let timezone = if tz_text.is_empty() {
        chrono_tz::Tz::UTC
    } else {
        tz_text.parse().map_err(|_| {
            row.error(
                "timezone",
                format!(
                    "unknown time zone `{tz_text}` (expected an IANA name such as America/Chicago)"
                ),
            )
        })?
    };
    let cutoff_text = row.cell("cutoff");
    let cutoff = if cutoff_text.is_empty() {
        Cutoff::default()
    } else {
        Cutoff::parse(cutoff_text).ok_or_else(|| {
            row.error(
                "cutoff",
                format!("expected a local time HH:MM from 00:00 to 24:00, found `{cutoff_text}`"),
            )
        })?
    };
    let calendar = row.cell("calendar");
    Ok(Schedule {
        timezone,
        cutoff,
        processing_days: row.opt_u32("processing_days", 0)?.unwrap_or(0),
        calendar: (!calendar.is_empty()).then(|| calendar.to_owned()),
    })
}

/// Reads `calendars.toml`; a missing file means no calendars.
pub(crate) fn read_calendars(path: &Path) -> Result<BTreeMap<String, Calendar>, LoadError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(error) => {
            return Err(LoadError::Io {
                path: path.to_owned(),
                error,
            });
        }
    };
    parse_calendars(path, &text)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarToml {
    open: Option<Vec<String>>,
    #[serde(default)]
    closed: Vec<String>,
}

/// Parses the text of a `calendars.toml`: one table per calendar id.
pub fn parse_calendars(path: &Path, text: &str) -> Result<BTreeMap<String, Calendar>, LoadError> {
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() as u64 + 1;
    let tables: BTreeMap<String, CalendarToml> = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_of(s.start));
        LoadError::invalid(path, line, None, e.message().to_owned())
    })?;
    // Where a value sits, for errors: the first line that holds it after its table's header.
    let place = |id: &str, value: &str| {
        let header = text.find(&format!("[{id}]")).unwrap_or(0);
        text[header..]
            .find(&format!("\"{value}\""))
            .map(|at| line_of(header + at))
    };
    let mut calendars = BTreeMap::new();
    for (id, t) in tables {
        let mut calendar = Calendar::default();
        if let Some(open) = &t.open {
            calendar.open = [false; 7];
            for name in open {
                let day = parse_weekday(name).ok_or_else(|| {
                    LoadError::invalid(
                        path,
                        place(&id, name),
                        Some(&format!("{id}.open")),
                        format!(
                            "expected a weekday mon, tue, wed, thu, fri, sat or sun, found `{name}`"
                        ),
                    )
                })?;
                calendar.open[day] = true;
            }
        }
        for date in &t.closed {
            let day = parse_day(date).ok_or_else(|| {
                LoadError::invalid(
                    path,
                    place(&id, date),
                    Some(&format!("{id}.closed")),
                    format!("expected a date YYYY-MM-DD, found `{date}`"),
                )
            })?;
            calendar.closed.push(day);
        }
        calendar.closed.sort_unstable();
        calendar.closed.dedup();
        calendars.insert(id, calendar);
    }
    Ok(calendars)
}

/// Reads `inbound.csv`; a missing file means no inbound supply.
pub(crate) fn read_inbound(
    path: &Path,
    nodes: &super::table::Index<'_, NodeId>,
    skus: &super::table::Index<'_, SkuId>,
) -> Result<Vec<InboundRow>, LoadError> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let table = Table::read(path, &["node_id", "sku", "qty", "available_date"])?;
    let mut rows = Vec::with_capacity(table.len());
    for row in table.rows() {
        let (node, sku) = row.node_and_sku(nodes, skus)?;
        let available = row
            .opt_day("available_date")?
            .ok_or_else(|| row.error("available_date", "required date is empty"))?;
        rows.push(InboundRow {
            node,
            sku,
            qty: row.u32("qty", 1)?,
            available,
        });
    }
    Ok(rows)
}
