//! Reading `orders.csv`: rows grouped into orders, validated and resolved against a snapshot.

use std::collections::HashMap;
use std::path::Path;

use chrono::DateTime;

use super::LoadError;
use super::table::{Row, Table};
use crate::model::{Destination, NodeId, Order, OrderLine, Service, SkuId, group_index};
use crate::snapshot::Snapshot;

/// The order-level fields every row of one order must repeat.
#[derive(PartialEq)]
struct Header {
    created_at: Option<i64>,
    lat: Option<f64>,
    lon: Option<f64>,
    service: Service,
    pickup_node: Option<NodeId>,
    deliver_by: Option<crate::model::Day>,
    channel: Option<String>,
}

/// How order rows name SKUs and nodes: resolved against a snapshot, or interned as they come.
pub trait Resolve {
    fn sku(&mut self, id: &str) -> Option<SkuId>;
    fn node(&mut self, id: &str) -> Option<NodeId>;
}

impl Resolve for &Snapshot {
    fn sku(&mut self, id: &str) -> Option<SkuId> {
        self.sku_id(id)
    }
    fn node(&mut self, id: &str) -> Option<NodeId> {
        self.node_id(id)
    }
}

/// Accepts every name, numbering them in order of first use (for a client that sends orders to
/// a server, which resolves the names itself).
#[derive(Default, Debug)]
pub struct Interner {
    pub skus: Vec<String>,
    pub nodes: Vec<String>,
    sku_ids: HashMap<String, SkuId>,
    node_ids: HashMap<String, NodeId>,
}

impl Resolve for &mut Interner {
    fn sku(&mut self, id: &str) -> Option<SkuId> {
        if let Some(k) = self.sku_ids.get(id) {
            return Some(*k);
        }
        let k = SkuId(self.skus.len() as u32);
        self.skus.push(id.to_owned());
        self.sku_ids.insert(id.to_owned(), k);
        Some(k)
    }
    fn node(&mut self, id: &str) -> Option<NodeId> {
        if let Some(n) = self.node_ids.get(id) {
            return Some(*n);
        }
        let n = NodeId(self.nodes.len() as u32);
        self.nodes.push(id.to_owned());
        self.node_ids.insert(id.to_owned(), n);
        Some(n)
    }
}

/// Reads an orders file, in the order of each order's first row. A file is read one row at a
/// time (nothing of a row is kept but its order), so millions of orders load in about the
/// memory of the orders themselves.
pub fn read_orders(path: &Path, snapshot: &Snapshot) -> Result<Vec<Order>, LoadError> {
    orders_from_file(path, snapshot)
}

/// Reads an orders file checking everything but whether SKUs and nodes exist; names are
/// interned in `names`.
pub fn read_orders_unresolved(path: &Path, names: &mut Interner) -> Result<Vec<Order>, LoadError> {
    orders_from_file(path, names)
}

/// Reads orders from any reader (`path` names it in errors).
pub fn read_orders_from(
    path: &Path,
    reader: impl std::io::Read,
    snapshot: &Snapshot,
) -> Result<Vec<Order>, LoadError> {
    let table = Table::from_reader(path, reader, &["order_id", "sku", "qty"])?;
    orders_from_table(&table, snapshot)
}

fn orders_from_file(path: &Path, snapshot: impl Resolve) -> Result<Vec<Order>, LoadError> {
    const REQUIRED: &[&str] = &["order_id", "sku", "qty"];
    if path.as_os_str() == "-" {
        let table = Table::read(path, REQUIRED)?;
        return orders_from_table(&table, snapshot);
    }
    let mut grouped = Grouped::new(snapshot);
    Table::stream(path, REQUIRED, |row| grouped.add(&row))?;
    Ok(grouped.orders)
}

fn orders_from_table(table: &Table, snapshot: impl Resolve) -> Result<Vec<Order>, LoadError> {
    let mut grouped = Grouped::new(snapshot);
    for row in table.rows() {
        grouped.add(&row)?;
    }
    Ok(grouped.orders)
}

/// Rows grouped into orders as they come.
struct Grouped<R> {
    snapshot: R,
    orders: Vec<Order>,
    headers: Vec<(Header, u64)>,
    by_id: HashMap<String, usize>,
}

impl<R: Resolve> Grouped<R> {
    fn new(snapshot: R) -> Self {
        Grouped {
            snapshot,
            orders: Vec::new(),
            headers: Vec::new(),
            by_id: HashMap::new(),
        }
    }

    /// Adds one row: a new order, or a line of one seen before.
    fn add(&mut self, row: &Row<'_>) -> Result<(), LoadError> {
        let Grouped {
            snapshot,
            orders,
            headers,
            by_id,
        } = self;
        let id = row.string("order_id")?;
        let header = read_header(row, snapshot)?;
        let sku_text = row.string("sku")?;
        let sku = snapshot.sku(sku_text).ok_or_else(|| {
            row.error("sku", format!("unknown SKU `{sku_text}` (not in skus.csv)"))
        })?;
        let qty = row.u32("qty", 1)?;
        let group = row.cell("group");
        let unit_price = row.non_negative("unit_price", 0.0)?;
        match by_id.get(id) {
            Some(&i) => {
                let (first, first_line) = &headers[i];
                if let Some(column) = first_difference(first, &header) {
                    return Err(row.error(
                        column,
                        format!(
                            "order `{id}` disagrees with its first row (line {first_line}) on `{column}`"
                        ),
                    ));
                }
                let order = &mut orders[i];
                let line = new_line(row, order, sku, qty, group, unit_price)?;
                match order.lines.iter_mut().find(|l| l.sku == sku) {
                    Some(first) => merge_line(row, first, &line, sku_text)?,
                    None => order.lines.push(line),
                }
            }
            None => {
                let destination = match header.service {
                    Service::Pickup => {
                        Destination::Pickup(header.pickup_node.ok_or_else(|| {
                            row.error("pickup_node", "required for a pickup order")
                        })?)
                    }
                    _ => Destination::Address {
                        lat: header.lat.ok_or_else(|| {
                            row.error("lat", "required unless service is `pickup`")
                        })?,
                        lon: header.lon.ok_or_else(|| {
                            row.error("lon", "required unless service is `pickup`")
                        })?,
                    },
                };
                let created = row.cell("created_at");
                by_id.insert(id.to_owned(), orders.len());
                let channel = header.channel.clone();
                let mut order = Order {
                    id: id.to_owned(),
                    created_at: (!created.is_empty()).then(|| created.to_owned()),
                    day: header.created_at.map(|t| t.div_euclid(86_400) as i32),
                    created: header.created_at,
                    deliver_by: header.deliver_by,
                    service: header.service,
                    destination,
                    lines: Vec::new(),
                    groups: Vec::new(),
                    channel,
                    exclude: Vec::new(),
                };
                let line = new_line(row, &mut order, sku, qty, group, unit_price)?;
                order.lines.push(line);
                orders.push(order);
                headers.push((header, row.line));
            }
        }
        Ok(())
    }
}

/// A line of `order` from one row, its group named in `order.groups` (version 2).
fn new_line(
    row: &Row<'_>,
    order: &mut Order,
    sku: SkuId,
    qty: u32,
    group: &str,
    unit_price: f64,
) -> Result<OrderLine, LoadError> {
    let group =
        group_index(&mut order.groups, group).map_err(|e| row.error("group", e.to_string()))?;
    Ok(OrderLine {
        sku,
        qty,
        group,
        unit_price,
    })
}

/// Adds a repeated row of a SKU to its first line: the same group and unit price, or an error.
fn merge_line(
    row: &Row<'_>,
    first: &mut OrderLine,
    line: &OrderLine,
    sku_text: &str,
) -> Result<(), LoadError> {
    if first.group != line.group {
        return Err(row.error(
            "group",
            format!("SKU `{sku_text}` is repeated in this order with another group"),
        ));
    }
    if first.unit_price != line.unit_price {
        return Err(row.error(
            "unit_price",
            format!("SKU `{sku_text}` is repeated in this order with another unit_price"),
        ));
    }
    first.qty = first
        .qty
        .checked_add(line.qty)
        .ok_or_else(|| row.error("qty", format!("total quantity of `{sku_text}` overflows")))?;
    Ok(())
}

fn read_header(row: &Row<'_>, snapshot: &mut impl Resolve) -> Result<Header, LoadError> {
    let created_text = row.cell("created_at");
    let created_at = if created_text.is_empty() {
        None
    } else {
        let t = DateTime::parse_from_rfc3339(created_text).map_err(|e| {
            row.error(
                "created_at",
                format!("expected an RFC 3339 timestamp, found `{created_text}` ({e})"),
            )
        })?;
        Some(t.timestamp())
    };
    let service_text = row.cell("service");
    let service = if service_text.is_empty() {
        Service::Ground
    } else {
        service_text.parse().map_err(|()| {
            row.error(
                "service",
                format!(
                    "expected `ground`, `two_day`, `next_day`, `same_day`, `pickup` or `auto`, found `{service_text}`"
                ),
            )
        })?
    };
    let pickup_text = row.cell("pickup_node");
    let pickup_node = if pickup_text.is_empty() {
        None
    } else if service != Service::Pickup {
        return Err(row.error(
            "pickup_node",
            format!("given for a `{service}` order; only pickup orders name a pickup node"),
        ));
    } else {
        Some(snapshot.node(pickup_text).ok_or_else(|| {
            row.error(
                "pickup_node",
                format!("unknown node `{pickup_text}` (not in nodes.csv)"),
            )
        })?)
    };
    let (lat, lon) = if service == Service::Pickup {
        (row.opt_f64("lat")?, row.opt_f64("lon")?)
    } else {
        (Some(row.latitude("lat")?), Some(row.longitude("lon")?))
    };
    let deliver_by = row.opt_day("deliver_by")?;
    if created_at.is_none() {
        if deliver_by.is_some() {
            return Err(row.error(
                "deliver_by",
                "an order with a deliver_by date needs a created_at timestamp",
            ));
        }
        if service == Service::Auto {
            return Err(row.error(
                "service",
                "an order with service `auto` needs a created_at timestamp",
            ));
        }
    }
    Ok(Header {
        created_at,
        lat,
        lon,
        service,
        pickup_node,
        deliver_by,
        channel: Some(row.cell("channel"))
            .filter(|c| !c.is_empty())
            .map(str::to_owned),
    })
}

fn first_difference(a: &Header, b: &Header) -> Option<&'static str> {
    if a.created_at != b.created_at {
        Some("created_at")
    } else if a.lat != b.lat {
        Some("lat")
    } else if a.lon != b.lon {
        Some("lon")
    } else if a.service != b.service {
        Some("service")
    } else if a.pickup_node != b.pickup_node {
        Some("pickup_node")
    } else if a.deliver_by != b.deliver_by {
        Some("deliver_by")
    } else if a.channel != b.channel {
        Some("channel")
    } else {
        None
    }
}
