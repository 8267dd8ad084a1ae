//! Writing decisions as JSON Lines, one object per order, in input order.

use std::io::Write;

use crate::model::{Decision, Unproven, cents_down};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CostBreakdown;

    fn decision(id: &str, total: f64) -> Decision {
        Decision {
            order_id: id.to_owned(),
            shipments: Vec::new(),
            backordered: Vec::new(),
            promise_date: None,
            late_days: None,
            opportunity_cost: None,
            cost: CostBreakdown {
                total,
                ..Default::default()
            },
        }
    }

    #[test]
    fn an_unproven_decision_carries_its_bound_rounded_down_to_the_cent() {
        let decisions = [decision("a", 10.0), decision("b", 12.5), decision("c", 9.0)];
        let unproven = [
            Unproven {
                place: 1,
                cost: 12.5,
                lower_bound: Some(11.239),
            },
            Unproven {
                place: 2,
                cost: 9.0,
                lower_bound: None,
            },
        ];
        let mut out = Vec::new();
        write_decisions(&mut out, &decisions, &unproven).expect("writes");
        let text = String::from_utf8(out).expect("utf-8");
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].ends_with(r#""exact":true}"#), "{}", lines[0]);
        assert!(
            lines[1].ends_with(r#""exact":false,"lower_bound":11.23}"#),
            "{}",
            lines[1]
        );
        assert!(lines[2].ends_with(r#""exact":false}"#), "{}", lines[2]);
    }
}
