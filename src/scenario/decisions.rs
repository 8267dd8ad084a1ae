//! Writing decisions as JSON Lines, one object per order, in input order.

use std::io::Write;

use crate::model::{Decision, Unproven};

/// Writes one decision as one JSON line.
pub fn write_decision(out: &mut impl Write, decision: &Decision) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, decision)?;
    out.write_all(b"\n")
}

/// A decision with whether the search proved it optimal (`false`: it stopped at its budget with
/// a feasible decision) and then, where known, a proven lower bound on the order's optimum
/// (rounded down to the cent) — additions to the format's fields, as `transit_days` is.
#[derive(serde::Serialize)]
struct Marked<'a> {
    #[serde(flatten)]
    decision: &'a Decision,
    exact: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    lower_bound: Option<f64>,
}

/// A lower bound rounded down to the cent (so still a lower bound).
fn cents_down(bound: f64) -> f64 {
    (bound * 100.0).floor() / 100.0
}

/// Writes decisions in order, each with `"exact"` (false for the places in `inexact`, sorted,
/// with their bounds), serialising in parallel (the bytes are the same as one at a time).
pub fn write_decisions(
    out: &mut impl Write,
    decisions: &[Decision],
    inexact: &[Unproven],
) -> std::io::Result<()> {
    use rayon::prelude::*;
    const CHUNK: usize = 4096;
    let chunks: Vec<Result<Vec<u8>, serde_json::Error>> = decisions
        .par_chunks(CHUNK)
        .enumerate()
        .map(|(c, chunk)| {
            let mut buf = Vec::with_capacity(chunk.len() * 256);
            for (i, decision) in chunk.iter().enumerate() {
                let unproven = inexact
                    .binary_search_by_key(&(c * CHUNK + i), |u| u.place)
                    .ok()
                    .map(|at| &inexact[at]);
                let marked = Marked {
                    decision,
                    exact: unproven.is_none(),
                    lower_bound: unproven.and_then(|u| u.lower_bound).map(cents_down),
                };
                serde_json::to_writer(&mut buf, &marked)?;
                buf.push(b'\n');
            }
            Ok(buf)
        })
        .collect();
    for c in chunks {
        out.write_all(&c?)?;
    }
    Ok(())
}
