//! `fulfil journal verify DIR`: what a data folder holds, and whether a start would refuse it.

use std::path::Path;

use clap::Subcommand;
use fulfil::reserve::journal;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum JournalCommand {
    /// Print what a data folder holds (files, records per kind, reservations held) and any
    /// damage; exits non-zero if `fulfil serve` would refuse to start on it.
    Verify {
        /// The data folder (`--data-dir` of `fulfil serve`).
        dir: PathBuf,
    },
}

pub fn verify(dir: &Path) -> anyhow::Result<()> {
    if !dir.is_dir() {
        anyhow::bail!("{}: not a folder", dir.display());
    }
    let report = journal::verify(dir)?;
    if report.files.is_empty() {
        println!("{}: no journal files (a start begins empty)", dir.display());
    }
    if let Some(c) = &report.control {
        println!(
            "{}: the state starts from checkpoint {}; segments {} to {} must be there",
            journal::control_path(dir).display(),
            c.checkpoint,
            c.checkpoint,
            c.newest_segment
        );
    }
    for f in &report.files {
        let kinds: Vec<String> = f.kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
        let complete = match f.complete {
            Some(true) => ", complete",
            Some(false) => ", INCOMPLETE (no closing record)",
            None => "",
        };
        println!(
            "{}: {} records in {} bytes{complete}{}{}",
            f.path.display(),
            f.records,
            f.good_bytes,
            if kinds.is_empty() { "" } else { ": " },
            kinds.join(", ")
        );
        if let Some(d) = &f.damage {
            println!("  damage: {d}");
        }
    }
    match &report.refused {
        None => {
            println!(
                "a start replays {} records (generation {}) and holds {} reservations",
                report.records, report.generation, report.held
            );
            Ok(())
        }
        Some(e) => anyhow::bail!("a start would refuse: {e}"),
    }
}
