//! The small marks every part of the report shares: escaping text for HTML, the runs' colours
//! and their legend.

use std::fmt::Write;

use super::replay::Kpis;

const COLOURS: [&str; 8] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f",
];

/// `s` safe in HTML text and attribute values.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The colour of the `i`-th run.
pub fn colour(i: usize) -> &'static str {
    COLOURS[i % COLOURS.len()]
}

/// A swatch and the name of every run.
pub fn legend(h: &mut String, runs: &[(String, Kpis)]) {
    h.push_str("<div class=\"legend\">");
    for (i, (name, _)) in runs.iter().enumerate() {
        let _ = write!(
            h,
            "<span><i class=\"sw\" style=\"background:{}\"></i>{}</span>",
            colour(i),
            esc(name)
        );
    }
    h.push_str("</div>\n");
}
