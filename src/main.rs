//! The `fulfil` command line: parse, dispatch, and report errors with a non-zero exit.

mod cli;

use clap::Parser;

/// The service and the solvers allocate many small, short-lived buffers from several threads at
/// once (request decoding, plans, journal records); mimalloc's per-thread heaps serve them
/// without the contention of the system allocator (see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    // Every parallel run routes on rayon's threads: give them the stack the search needs for
    // orders of many lines (the pool keeps RAYON_NUM_THREADS; it cannot have been built yet).
    let _ = rayon::ThreadPoolBuilder::new()
        .stack_size(fulfil::route::SEARCH_STACK_BYTES)
        .build_global();
    match cli::run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", message(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

/// The error and its causes in one line, each said once: a cause whose text the line already
/// holds (an error that quotes the one it wraps) is not repeated.
fn message(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}
