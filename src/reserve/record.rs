//! What a store records: one [`Record`] per acknowledged change, in the one total order in which
//! the live state applied them. Every store (the journal, the in-memory store of the tests) keeps
//! the same records; replaying them in order rebuilds the state they describe.

use serde::{Deserialize, Serialize};

use super::ReservationState;
use super::reroutes::Reroutes;

/// One acknowledged change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    /// An order's units and capacity were reserved.
    Reserve(Hold),
    /// A held reservation's order was re-routed (a store rejected it, came up short, or the
    /// customer amended it): the reservation's units and capacity are given back, the on-hand
    /// corrections of a short pick applied, and the reservation taken again as `hold` says —
    /// one record, so after a crash all of it happened or none.
    Reroute(Reroute),
    /// Several orders were reserved together (a committed batch): one record, so on disk they
    /// are all there or none is.
    ReserveMany {
        holds: Vec<Hold>,
    },
    /// Reservation ids from here on are numbered from `next` at least (written by compaction,
    /// so that an id is never given twice, even after the reservation is forgotten).
    ReservationIds {
        next: u64,
    },
    /// The last sequence number applied from an inventory source (written by compaction).
    SourceSequence {
        source: String,
        sequence: u64,
    },
    /// A reservation that has ended (written by compaction so its final state can still be read
    /// and a repeated release or confirmation stays a no-op). Changes no stock.
    Ended {
        id: String,
        order_id: String,
        /// released, confirmed or expired.
        state: String,
        /// When it is forgotten (Unix ms).
        expires_ms: u64,
        /// Its re-routing state (so a retried request keeps its answer).
        #[serde(default, skip_serializing_if = "Reroutes::is_empty")]
        reroutes: Reroutes,
    },
    /// Commit requests still inside their retention window, oldest first (written by
    /// compaction, so a retried commit is still recognised after it).
    CommitRequests {
        requests: Vec<super::CommitMemo>,
    },
    /// Capacity used on a day beyond what held reservations account for: the units of
    /// confirmed orders, which were picked that day (written by compaction).
    CapacityUsed {
        day: Option<i32>,
        /// (node_id, units).
        used: Vec<(String, u32)>,
    },
    Release {
        id: String,
    },
    Confirm {
        id: String,
    },
    Expire {
        id: String,
    },
    /// A change of stock level from an inventory source.
    Inventory {
        node_id: String,
        sku: String,
        set_on_hand: Option<u32>,
        adjust: Option<i64>,
        safety_stock: Option<u32>,
        source: String,
        sequence: u64,
    },
    /// The whole network was replaced by a scenario folder. `sha256` (absent in journals of
    /// earlier versions) names the copy of its network files kept in the data folder, which is
    /// what a replay reads, so it never depends on the folder named by `path` or on the working
    /// folder of the server.
    LoadScenario {
        path: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sha256: Option<String>,
    },
    /// Nodes were added or replaced (`nodes.csv` text of the changed nodes).
    UpsertNodes {
        nodes_csv: String,
    },
    /// SKUs were added or replaced (`skus.csv` text of the changed SKUs).
    UpsertSkus {
        skus_csv: String,
    },
    /// Rates were replaced (`rates.csv` text).
    ReplaceRates {
        rates_csv: String,
    },
    /// The policy was replaced (`policy.toml` text).
    ReplacePolicy {
        policy_toml: String,
    },
    /// The last record of every checkpoint: the number of records before it. A checkpoint
    /// without it is incomplete.
    CheckpointEnd {
        records: u64,
    },
    /// The first record of every journal segment, written and flushed when the segment is
    /// created: its generation. A segment the journal's control file counts on that does not
    /// start with it was emptied or replaced. Never replayed.
    SegmentStart {
        generation: u64,
    },
}

/// One reservation as journaled.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hold {
    pub id: String,
    pub order_id: String,
    pub day: Option<i32>,
    /// (node_id, sku, qty).
    pub allocations: Vec<(String, String, u32)>,
    /// When it was made (Unix ms) and for how long it is held (ms).
    pub at_ms: u64,
    pub ttl_ms: u64,
    /// What the order asked for (destination, service, lines, day, deliver_by) as a hash, so a retried
    /// commit of the same order is told apart from another order under the same id (0: not
    /// known, as in journals of earlier versions).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub fingerprint: u64,
    /// Per shipment, what the router chose beyond the units (scenario format v2: the service,
    /// the inbound floor and units), so the reservation prices as it was decided (absent in
    /// journals of earlier versions: the defaults).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub terms: Vec<HoldTerms>,
    /// The order by name, rejections, attention and recent requests (absent in journals of
    /// earlier versions).
    #[serde(default, skip_serializing_if = "Reroutes::is_empty")]
    pub reroutes: Reroutes,
    /// The commit's request id, if the caller gave one: a retry with it within the retention
    /// window is answered with this reservation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// A re-route as journaled (see [`Record::Reroute`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reroute {
    /// `reject`, `short_pick` or `amend`.
    pub cause: String,
    /// Units found missing: on_hand goes down by them, (node_id, sku, units).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub corrections: Vec<(String, String, u32)>,
    /// The reservation after (same id).
    pub hold: Hold,
}

/// A shipment's terms as recorded: node, service, inbound floor (a day number) and units.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldTerms {
    pub node_id: String,
    pub service: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor: Option<i32>,
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub inbound_units: u32,
}

fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

impl Record {
    /// The record that ends reservation `id` in `state` (`None` for `Held`).
    pub fn end(id: &str, state: ReservationState) -> Option<Record> {
        let id = id.to_owned();
        match state {
            ReservationState::Released => Some(Record::Release { id }),
            ReservationState::Confirmed => Some(Record::Confirm { id }),
            ReservationState::Expired => Some(Record::Expire { id }),
            ReservationState::Held => None,
        }
    }

    /// The reservation a release, confirmation or expiry record ends, and how.
    pub fn ending(&self) -> Option<(&str, ReservationState)> {
        match self {
            Record::Release { id } => Some((id, ReservationState::Released)),
            Record::Confirm { id } => Some((id, ReservationState::Confirmed)),
            Record::Expire { id } => Some((id, ReservationState::Expired)),
            _ => None,
        }
    }

    /// The record's kind as written in the journal (`reserve`, `release`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Record::Reserve(_) => "reserve",
            Record::Reroute(_) => "reroute",
            Record::ReserveMany { .. } => "reserve_many",
            Record::ReservationIds { .. } => "reservation_ids",
            Record::SourceSequence { .. } => "source_sequence",
            Record::Ended { .. } => "ended",
            Record::CommitRequests { .. } => "commit_requests",
            Record::CapacityUsed { .. } => "capacity_used",
            Record::Release { .. } => "release",
            Record::Confirm { .. } => "confirm",
            Record::Expire { .. } => "expire",
            Record::Inventory { .. } => "inventory",
            Record::LoadScenario { .. } => "load_scenario",
            Record::UpsertNodes { .. } => "upsert_nodes",
            Record::UpsertSkus { .. } => "upsert_skus",
            Record::ReplaceRates { .. } => "replace_rates",
            Record::ReplacePolicy { .. } => "replace_policy",
            Record::CheckpointEnd { .. } => "checkpoint_end",
            Record::SegmentStart { .. } => "segment_start",
        }
    }
}
