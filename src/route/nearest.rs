//! The baseline policy of common order managers: ship the whole order from the nearest node that
//! can; otherwise cover it with as few shipments as possible, taking at each step the node that
//! covers the most remaining units (nearest first among equals), up to `max_shipments`.

use super::candidates::CandidateSet;
use super::search::Take;
use crate::model::Policy;

/// The baseline's allocation, as takes of the candidate set's lines.
pub(super) fn plan(set: &CandidateSet, policy: &Policy) -> Vec<Take> {
    let nc = set.candidates.len();
    let nl = set.lines.len();
    let mut ats = vec![0u32; nc * nl];
    for (li, line) in set.lines.iter().enumerate() {
        for h in &line.holders {
            ats[h.candidate as usize * nl + li] = h.ats;
        }
    }
    let mut cap: Vec<u32> = set.candidates.iter().map(|c| c.capacity_left).collect();
    let mut remaining: Vec<u32> = set.lines.iter().map(|l| l.qty).collect();
    let mut takes = Vec::new();
    let nearer = |a: usize, b: usize| {
        let (ca, cb) = (&set.candidates[a], &set.candidates[b]);
        ca.chord2.total_cmp(&cb.chord2).then(ca.node.cmp(&cb.node))
    };
    for _ in 0..policy.max_shipments {
        let mut best: Option<(usize, u64)> = None;
        for c in 0..nc {
            let mut cover: u64 = 0;
            for li in 0..nl {
                cover += u64::from(remaining[li].min(ats[c * nl + li]));
            }
            let cover = cover.min(u64::from(cap[c]));
            if cover == 0 {
                continue;
            }
            let better = match best {
                None => true,
                Some((b, bc)) => cover > bc || (cover == bc && nearer(c, b).is_lt()),
            };
            if better {
                best = Some((c, cover));
            }
        }
        let Some((c, _)) = best else { break };
        for li in 0..nl {
            let take = remaining[li].min(ats[c * nl + li]).min(cap[c]);
            if take > 0 {
                remaining[li] -= take;
                cap[c] -= take;
                ats[c * nl + li] -= take;
                takes.push(Take {
                    line: set.lines[li].line as u32,
                    candidate: c as u32,
                    units: take,
                });
            }
        }
        if remaining.iter().all(|&r| r == 0) {
            break;
        }
    }
    takes
}
