//! Commit requests remembered for a retention window, so a commit retried with its request id
//! (after a timeout, on this replica or another) is answered with the reservation it made and
//! that reservation's current state, never with a second hold.
//!
//! A memo is made with the reservation, in the same record (`Hold::request_id`), so it is
//! durable exactly when the reservation is, and every replica that applies the record knows it.
//! Compaction writes the memos still inside the window as one record
//! ([`Record::CommitRequests`](super::Record)). A memo keeps the reservation's allocations and
//! terms as committed and its last state, so it still answers after the book has forgotten the
//! reservation (a minute after it ended).

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::{HoldTerms, ReservationState};

/// One commit request and the reservation it made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CommitMemo {
    pub request_id: String,
    pub order_id: String,
    /// The order's fingerprint: a request id sent again with another order is refused.
    pub fingerprint: u64,
    pub reservation_id: String,
    /// When the reservation was made (Unix ms): the memo is forgotten a retention window later.
    pub at_ms: u64,
    /// (node_id, sku, units) as committed.
    pub allocations: Vec<(String, String, u32)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub terms: Vec<HoldTerms>,
    /// The reservation's last state seen.
    pub state: ReservationState,
}

/// The memos of one live state (kept by its writer: only changes read and write them).
#[derive(Default)]
pub struct CommitRequests {
    by_request: HashMap<String, CommitMemo>,
    /// Reservation id → request id, to follow a reservation's state.
    by_reservation: HashMap<String, String>,
    /// Request ids oldest first, with when they were made.
    order: VecDeque<(u64, String)>,
}

impl CommitRequests {
    /// The memo of `request_id`, if it is remembered.
    pub fn get(&self, request_id: &str) -> Option<&CommitMemo> {
        self.by_request.get(request_id)
    }

    /// Remembers `memo` (unless it is already older than the window), forgetting memos made
    /// more than `retention_ms` before `now_ms`.
    pub fn remember(&mut self, memo: CommitMemo, now_ms: u64, retention_ms: u64) {
        self.purge(now_ms, retention_ms);
        if memo.at_ms.saturating_add(retention_ms) <= now_ms
            || self.by_request.contains_key(&memo.request_id)
        {
            return;
        }
        self.order.push_back((memo.at_ms, memo.request_id.clone()));
        self.by_reservation
            .insert(memo.reservation_id.clone(), memo.request_id.clone());
        self.by_request.insert(memo.request_id.clone(), memo);
    }

    /// Notes that reservation `id` is now `state` (a no-op for reservations made without a
    /// request id).
    pub fn ended(&mut self, id: &str, state: ReservationState) {
        if let Some(memo) = self
            .by_reservation
            .get(id)
            .and_then(|r| self.by_request.get_mut(r))
        {
            memo.state = state;
        }
    }

    /// Forgets memos made more than `retention_ms` before `now_ms`; returns how many.
    pub fn purge(&mut self, now_ms: u64, retention_ms: u64) -> usize {
        let mut n = 0;
        while let Some((at, _)) = self.order.front() {
            if at.saturating_add(retention_ms) > now_ms {
                break;
            }
            if let Some((_, request_id)) = self.order.pop_front()
                && let Some(memo) = self.by_request.remove(&request_id)
            {
                self.by_reservation.remove(&memo.reservation_id);
                n += 1;
            }
        }
        n
    }

    /// Every memo, oldest first (for a checkpoint).
    pub fn all(&self) -> Vec<CommitMemo> {
        self.order
            .iter()
            .filter_map(|(_, r)| self.by_request.get(r).cloned())
            .collect()
    }

    pub fn len(&self) -> usize {
        self.by_request.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_request.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memo(request: &str, reservation: &str, at_ms: u64) -> CommitMemo {
        CommitMemo {
            request_id: request.into(),
            order_id: format!("o-{request}"),
            fingerprint: 7,
            reservation_id: reservation.into(),
            at_ms,
            allocations: vec![("DC1".into(), "A".into(), 1)],
            terms: Vec::new(),
            state: ReservationState::Held,
        }
    }

    #[test]
    fn memos_follow_their_reservation_and_are_forgotten_after_the_window() {
        let mut m = CommitRequests::default();
        m.remember(memo("q1", "r-1", 1_000), 1_000, 10_000);
        m.remember(memo("q2", "r-2", 5_000), 5_000, 10_000);
        m.ended("r-1", ReservationState::Confirmed);
        assert_eq!(m.get("q1").unwrap().state, ReservationState::Confirmed);
        assert_eq!(m.get("q2").unwrap().state, ReservationState::Held);
        // q1 is 10 s old at 11 000: forgotten; q2 is not.
        assert_eq!(m.purge(11_000, 10_000), 1);
        assert!(m.get("q1").is_none());
        assert_eq!(m.all().len(), 1);
        // The first memo of a request id stays.
        m.remember(memo("q2", "r-9", 12_000), 12_000, 10_000);
        assert_eq!(m.get("q2").unwrap().reservation_id, "r-2");
        // A memo older than the window (replayed late) is not taken.
        m.remember(memo("q3", "r-3", 0), 20_000, 10_000);
        assert!(m.get("q3").is_none());
        assert!(m.is_empty(), "q2 is past its window at 20 000 too");
    }
}
