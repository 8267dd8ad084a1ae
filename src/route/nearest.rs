//! The baseline policy of common order managers: ship the whole order from the nearest node that
//! can; otherwise cover it with as few shipments as possible, taking at each step the node that
//! covers the most remaining units (nearest first among equals), up to `max_shipments`. Under
//! the order rules it takes a ship-together group or an unsplittable line from one node only
//! while it is untouched, and drops its least valuable shipments until each meets
//! `min_shipment_value`.

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
            let mut cover = 0u64;
            covers(
                set,
                &ats[c * nl..(c + 1) * nl],
                &remaining,
                cap[c],
                |_, t| {
                    cover += u64::from(t);
                },
            );
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
        let mut taken = Vec::new();
        covers(
            set,
            &ats[c * nl..(c + 1) * nl],
            &remaining,
            cap[c],
            |li, t| {
                taken.push((li, t));
            },
        );
        for (li, take) in taken {
            // What a group or an unsplittable line does not get here is backordered.
            let line = &set.lines[li];
            remaining[li] = if line.whole || line.group.is_some() {
                0
            } else {
                remaining[li] - take
            };
            cap[c] -= take;
            ats[c * nl + li] -= take;
            takes.push(Take {
                line: line.line as u32,
                candidate: c as u32,
                units: take,
            });
        }
        if remaining.iter().all(|&r| r == 0) {
            break;
        }
    }
    drop_low_value(set, policy, &mut takes);
    takes
}

/// What a node holding `ats` (per line) with `cap` capacity left can take of `remaining`,
/// line by line in order, under the rules: `take(line, units)` for each line it takes from.
/// Allocates nothing: it runs for every candidate of every round.
fn covers(
    set: &CandidateSet,
    ats: &[u32],
    remaining: &[u32],
    mut cap: u32,
    mut take: impl FnMut(usize, u32),
) {
    let untouched = |li: usize| remaining[li] == set.lines[li].qty;
    for (li, line) in set.lines.iter().enumerate() {
        if remaining[li] == 0 {
            continue;
        }
        if let Some(g) = line.group {
            // A group is decided at its first line, all of it from here or none.
            if set.lines[..li].iter().any(|l| l.group == Some(g)) {
                continue;
            }
            let members = || (li..set.lines.len()).filter(|&l| set.lines[l].group == Some(g));
            let units: u32 = members().map(|l| remaining[l]).sum();
            let fits = members().all(|l| untouched(l) && ats[l] >= remaining[l]);
            if fits && units <= cap {
                cap -= units;
                members().for_each(|l| take(l, remaining[l]));
            }
            continue;
        }
        if line.whole && !untouched(li) {
            continue;
        }
        let units = remaining[li].min(ats[li]).min(cap);
        if units > 0 {
            cap -= units;
            take(li, units);
        }
    }
}

/// Drops the least valuable shipment (its units backordered) while the order is split and some
/// shipment is worth less than `min_shipment_value`.
fn drop_low_value(set: &CandidateSet, policy: &Policy, takes: &mut Vec<Take>) {
    let min = policy.min_shipment_value;
    if min <= 0.0 {
        return;
    }
    loop {
        let mut values: Vec<(u32, f64)> = Vec::new();
        for t in takes.iter() {
            let v = set.lines[t.line as usize].unit_price * f64::from(t.units);
            match values.iter_mut().find(|(c, _)| *c == t.candidate) {
                Some((_, total)) => *total += v,
                None => values.push((t.candidate, v)),
            }
        }
        if values.len() < 2 || values.iter().all(|&(_, v)| v >= min - 1e-9) {
            return;
        }
        let Some(&(worst, _)) = values.iter().min_by(|a, b| a.1.total_cmp(&b.1)) else {
            return;
        };
        takes.retain(|t| t.candidate != worst);
    }
}
