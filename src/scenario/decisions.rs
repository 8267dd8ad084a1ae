//! Writing decisions as JSON Lines, one object per order, in input order.

use std::io::Write;

use crate::model::Decision;

/// Writes one decision as one JSON line.
pub fn write_decision(out: &mut impl Write, decision: &Decision) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, decision)?;
    out.write_all(b"\n")
}

/// A decision with whether the search proved it optimal (`false`: it stopped at its budget with
/// a feasible decision) — an addition to the format's fields, as `transit_days` is.
#[derive(serde::Serialize)]
struct Marked<'a> {
    #[serde(flatten)]
    decision: &'a Decision,
    exact: bool,
}

/// Writes decisions in order, each with `"exact"` (false for the places in `inexact`, sorted),
/// serialising in parallel (the bytes are the same as one at a time).
pub fn write_decisions(
    out: &mut impl Write,
    decisions: &[Decision],
    inexact: &[usize],
) -> std::io::Result<()> {
    use rayon::prelude::*;
    const CHUNK: usize = 4096;
    let chunks: Vec<Result<Vec<u8>, serde_json::Error>> = decisions
        .par_chunks(CHUNK)
        .enumerate()
        .map(|(c, chunk)| {
            let mut buf = Vec::with_capacity(chunk.len() * 256);
            for (i, decision) in chunk.iter().enumerate() {
                let exact = inexact.binary_search(&(c * CHUNK + i)).is_err();
                serde_json::to_writer(&mut buf, &Marked { decision, exact })?;
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
