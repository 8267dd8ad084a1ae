//! Writing decisions as JSON Lines, one object per order, in input order.

use std::io::Write;

use crate::model::Decision;

/// Writes one decision as one JSON line.
pub fn write_decision(out: &mut impl Write, decision: &Decision) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, decision)?;
    out.write_all(b"\n")
}

/// Writes decisions in order, serialising in parallel (the bytes are the same as one at a time).
pub fn write_decisions(out: &mut impl Write, decisions: &[Decision]) -> std::io::Result<()> {
    use rayon::prelude::*;
    const CHUNK: usize = 4096;
    let chunks: Vec<Result<Vec<u8>, serde_json::Error>> = decisions
        .par_chunks(CHUNK)
        .map(|chunk| {
            let mut buf = Vec::with_capacity(chunk.len() * 256);
            for d in chunk {
                serde_json::to_writer(&mut buf, d)?;
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
