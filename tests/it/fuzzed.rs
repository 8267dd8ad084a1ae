//! The three fuzz targets of `fuzz/` as property tests that run in `cargo test`: scenario
//! loading, journal recovery and request conversion take damaged or arbitrary input and answer
//! with a value or a typed error — never a panic. (`scripts/fuzz.sh` runs the coverage-guided
//! versions for as long as it is given.)

use std::path::Path;
use std::sync::Arc;

use fulfil::live::{Live, LiveOptions};
use fulfil::reserve::journal::{JournalStore, RecoverMode, read_frames, segment_path};
use fulfil::route::{PolicyKind, Router, Untouched};
use fulfil::service::pb;
use proptest::prelude::*;
use prost::Message;

use super::support::root;

fn c1() -> std::path::PathBuf {
    root().join("tests/conformance/c1-rules")
}

/// A file's bytes with `edits` applied: (position, what) — overwrite a byte, cut the rest, or
/// repeat a stretch.
fn damaged(mut bytes: Vec<u8>, edits: &[(usize, u8, u8)]) -> Vec<u8> {
    for &(at, kind, value) in edits {
        if bytes.is_empty() {
            break;
        }
        let at = at % bytes.len();
        match kind % 4 {
            0 => bytes[at] = value,
            1 => bytes.truncate(at),
            2 => {
                let piece: Vec<u8> = bytes[at..(at + usize::from(value)).min(bytes.len())].to_vec();
                bytes.splice(at..at, piece);
            }
            _ => bytes.insert(at, value),
        }
    }
    bytes
}

fn edits() -> impl Strategy<Value = Vec<(usize, u8, u8)>> {
    proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..6)
}

/// The files c1 has (it has no calendars or inbound).
const FILES: &[&str] = fulfil::scenario::NETWORK_FILES.split_at(6).0;

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn a_damaged_scenario_loads_or_says_where_it_is_wrong(file in 0..FILES.len(), e in edits()) {
        let dir = tempfile::tempdir().expect("temp");
        super::service::copy_scenario(&c1(), dir.path());
        let path = dir.path().join(FILES[file]);
        let bytes = std::fs::read(&path).unwrap_or_default();
        std::fs::write(&path, damaged(bytes, &e)).expect("write");
        match fulfil::scenario::load_snapshot(dir.path()) {
            Ok(snapshot) => {
                let _ = fulfil::scenario::read_orders(&dir.path().join("orders.csv"), &snapshot);
            }
            Err(err) => prop_assert!(!err.to_string().is_empty()),
        }
    }

    #[test]
    fn a_damaged_journal_replays_or_is_refused_never_panics(e in edits(), truncate in any::<bool>()) {
        let data = tempfile::tempdir().expect("temp");
        let journal = written_journal(data.path());
        let bytes = std::fs::read(&journal).expect("segment");
        let _ = read_frames(&journal, &bytes);
        std::fs::write(&journal, damaged(bytes, &e)).expect("write");
        let mode = if truncate { RecoverMode::Truncate } else { RecoverMode::Refuse };
        let store = Arc::new(JournalStore::new(data.path(), mode));
        let mut options = LiveOptions::new(c1());
        options.data_dir = Some(data.path().to_owned());
        options.recover = mode;
        if let Ok(live) = Live::open_with(options, Some(store)) {
            // Whatever survived is a consistent book: no reservation over its stock.
            let state = live.load();
            prop_assert!(state.book.held_count() <= 8);
        }
    }

    #[test]
    fn arbitrary_bytes_as_a_request_convert_or_name_the_field(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let snapshot = fulfil::scenario::load_snapshot(&c1()).expect("c1");
        if let Ok(req) = pb::RouteOrderRequest::decode(&bytes[..])
            && let Some(order) = req.order
            && let Ok(order) = fulfil::service::order_of(&order, &snapshot, "order")
        {
            let _ = Router::new().route(&snapshot, &Untouched, &order, PolicyKind::Optimal);
        }
        if let Ok(node) = pb::Node::decode(&bytes[..]) {
            let _ = fulfil::service::node_of(&node, 0);
        }
    }

    #[test]
    fn odd_orders_convert_and_route_or_name_the_field(order in odd_order()) {
        let snapshot = fulfil::scenario::load_snapshot(&c1()).expect("c1");
        match fulfil::service::order_of(&order, &snapshot, "order") {
            Ok(o) => {
                if let Ok(r) = Router::new().route(&snapshot, &Untouched, &o, PolicyKind::Optimal) {
                    let c = &r.decision.cost;
                    let parts = c.shipping + c.handling + c.split + c.backorder
                        + c.late.unwrap_or(0.0);
                    prop_assert!((c.total - parts).abs() < 1e-6, "cost = sum of parts");
                }
            }
            Err(status) => prop_assert!(status.message().contains("order"), "{}", status.message()),
        }
    }
}

/// Orders with odd values where a client can put them: ids, coordinates (NaN, infinite, out of
/// range), services, SKUs, quantities, groups, prices, channels, dates.
fn odd_order() -> impl Strategy<Value = pb::Order> {
    let coordinate = prop_oneof![
        Just(None),
        Just(Some(f64::NAN)),
        Just(Some(f64::INFINITY)),
        (-200.0f64..200.0).prop_map(Some),
        (40.0f64..41.5).prop_map(Some),
    ];
    let line = (
        prop_oneof![Just("A".to_owned()), Just("B".to_owned()), "[A-Z\\-]{0,4}"],
        0u32..5,
        prop_oneof![Just(String::new()), "g[0-3]"],
        prop_oneof![Just(0.0), Just(f64::NAN), -5.0f64..50.0],
    )
        .prop_map(|(sku, qty, group, unit_price)| pb::Line {
            sku,
            qty,
            group,
            unit_price,
        });
    (
        "[a-z0-9]{0,6}",
        coordinate.clone(),
        coordinate,
        0i32..6,
        proptest::collection::vec(line, 0..8),
        prop_oneof![Just(String::new()), Just("web".to_owned()), "[a-z]{0,3}"],
        prop_oneof![
            Just("2026-03-01T09:00:00Z".to_owned()),
            Just(String::new()),
            "[0-9T:\\-Z]{0,22}"
        ],
    )
        .prop_map(
            |(order_id, lat, lon, service, lines, channel, created_at)| pb::Order {
                order_id,
                lat,
                lon,
                service,
                lines,
                channel,
                created_at,
                ..Default::default()
            },
        )
}

/// A data folder whose journal holds commits, a release and inventory changes; its segment.
fn written_journal(data: &Path) -> std::path::PathBuf {
    let mut options = LiveOptions::new(c1());
    options.data_dir = Some(data.to_owned());
    let live = Live::open(options).expect("opens");
    let snapshot = live.load().snapshot.clone();
    let mut names = fulfil::scenario::Interner::default();
    let orders = fulfil::scenario::read_orders_unresolved(&c1().join("orders.csv"), &mut names)
        .expect("orders");
    let mut ids = Vec::new();
    for o in orders.iter().take(6) {
        let pb_order = fulfil::service::order_pb(o, &names);
        let order = fulfil::service::order_of(&pb_order, &snapshot, "order").expect("converts");
        if let Ok(c) = live.route(&order, false) {
            ids.extend(c.reservation_id);
        }
    }
    if let Some(id) = ids.first() {
        let _ = live.release(id);
    }
    drop(live);
    (1..10)
        .rev()
        .map(|g| segment_path(data, g))
        .find(|p| p.exists())
        .expect("a segment")
}
