//! The house's rules, checked on the source: the core knows nothing of transport or the async
//! runtime, and no module reaches up to a layer above it (the arrows of `ARCHITECTURE.md`).

use std::path::{Path, PathBuf};

/// Each module of the library and the modules it may name (`crate::…`); anything else it names
/// is an arrow pointing the wrong way.
const LAYERS: &[(&str, &[&str])] = &[
    ("model", &[]),
    ("cancel", &[]),
    ("snapshot", &["model"]),
    ("scenario", &["model", "snapshot"]),
    ("route", &["model", "cancel", "snapshot"]),
    ("batch", &["model", "cancel", "snapshot", "route"]),
    ("reserve", &["model", "snapshot", "route"]),
    ("lookahead", &["model", "cancel", "snapshot", "route"]),
    (
        "simulate",
        &[
            "model",
            "cancel",
            "snapshot",
            "scenario",
            "route",
            "batch",
            "lookahead",
        ],
    ),
    (
        "live",
        &[
            "model",
            "cancel",
            "snapshot",
            "scenario",
            "route",
            "batch",
            "reserve",
            "lookahead",
        ],
    ),
    (
        "service",
        &[
            "model",
            "cancel",
            "snapshot",
            "scenario",
            "route",
            "batch",
            "reserve",
            "simulate",
            "live",
            "lookahead",
        ],
    ),
];

/// Words the core may not use: the transport, its encoding, the async runtime.
const TRANSPORT: &[&str] = &["tonic", "prost", "tokio", "tower", "hyper", "http::"];

const MODULES: &[&str] = &[
    "model",
    "cancel",
    "snapshot",
    "scenario",
    "route",
    "batch",
    "reserve",
    "lookahead",
    "simulate",
    "live",
    "service",
    "cli",
];

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("source folder") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// Code lines (comments left out) of every file of module `m`, with file and line number.
fn code_lines(m: &str) -> Vec<(PathBuf, usize, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(m);
    let mut out = Vec::new();
    for file in rust_files(&dir) {
        let text = std::fs::read_to_string(&file).expect("readable");
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if !code.trim().is_empty() {
                out.push((file.clone(), i + 1, code.to_owned()));
            }
        }
    }
    assert!(
        !out.is_empty(),
        "no source found for `{m}` in {}",
        dir.display()
    );
    out
}

/// `file:line: what` for every code line of the modules `ms` where `problems` finds something.
fn scan<'m>(
    ms: impl Iterator<Item = &'m str>,
    problems: impl Fn(&str, &str) -> Vec<String>,
) -> Vec<String> {
    let mut found = Vec::new();
    for m in ms {
        for (file, line, code) in code_lines(m) {
            for p in problems(m, &code) {
                found.push(format!("{}:{line}: {p}", file.display()));
            }
        }
    }
    found
}

fn allowed(m: &str) -> &'static [&'static str] {
    LAYERS
        .iter()
        .find(|(name, _)| *name == m)
        .map_or(&[], |(_, a)| a)
}

#[test]
fn no_module_names_a_layer_above_it() {
    let wrong = scan(LAYERS.iter().map(|(m, _)| *m), |m, code| {
        MODULES
            .iter()
            .filter(|o| **o != m && !allowed(m).contains(o))
            .filter(|o| {
                [format!("crate::{o}::"), format!("crate::{o};")]
                    .iter()
                    .any(|p| code.contains(p.as_str()))
                    || code.contains("crate::{")
            })
            .map(|o| format!("`{m}` names `{o}`"))
            .collect()
    });
    assert!(
        wrong.is_empty(),
        "arrows pointing up:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_core_has_no_transport_types() {
    let core = LAYERS.iter().map(|(m, _)| *m).filter(|m| *m != "service");
    let wrong = scan(core, |m, code| {
        TRANSPORT
            .iter()
            .filter(|word| {
                code.match_indices(**word).any(|(at, _)| {
                    let before = code[..at].chars().next_back();
                    !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
                })
            })
            .map(|word| format!("`{m}` uses `{word}`"))
            .collect()
    });
    assert!(
        wrong.is_empty(),
        "transport in the core:\n{}",
        wrong.join("\n")
    );
}

/// The sibling files `text` (a file of a room) names through `super::` — `super::x::…`,
/// `super::x;` and each first segment of `super::{x, y::Z}` — among `siblings`. Names read
/// through the facade (`super::Type`, re-exported by `mod.rs`) are not resolved to a file.
fn sibling_uses(text: &str, siblings: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut push = |seg: &str| {
        let seg = seg.trim();
        let first = seg.split("::").next().unwrap_or("").trim();
        if siblings.iter().any(|s| s == first) && !out.iter().any(|o: &String| o == first) {
            out.push(first.to_owned());
        }
    };
    for (at, _) in text.match_indices("super::") {
        let rest = &text[at + "super::".len()..];
        // A nested module's `super::super::` (a file's tests) is not the file's own import.
        if rest.starts_with("super::") || text[..at].ends_with("super::") {
            continue;
        }
        if let Some(inner) = rest.strip_prefix('{') {
            let inner = &inner[..inner.find('}').unwrap_or(inner.len())];
            inner.split(',').for_each(&mut push);
        } else {
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            push(&rest[..end]);
        }
    }
    out
}

/// Every folder under `dir` (itself included).
fn folders(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_owned()];
    for entry in std::fs::read_dir(dir).expect("source folder") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(folders(&path));
        }
    }
    out
}

#[test]
fn no_two_files_of_a_room_import_each_other() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut circles = Vec::new();
    for m in MODULES {
        for dir in folders(&src.join(m)) {
            // The files of one folder (a submodule folder counts as its name), mod.rs aside: it is
            // the facade every file may read through.
            let mut files: Vec<(String, PathBuf)> = Vec::new();
            for entry in std::fs::read_dir(&dir).expect("folder") {
                let path = entry.expect("entry").path();
                let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
                if path.is_dir() {
                    files.push((stem.to_owned(), path.join("mod.rs")));
                } else if path.extension().is_some_and(|e| e == "rs") && stem != "mod" {
                    files.push((stem.to_owned(), path));
                }
            }
            let names: Vec<String> = files.iter().map(|(n, _)| n.clone()).collect();
            let uses: Vec<Vec<usize>> = files
                .iter()
                .map(|(_, path)| {
                    let text = std::fs::read_to_string(path).unwrap_or_default();
                    let code: String = text
                        .lines()
                        .map(|l| l.split("//").next().unwrap_or(""))
                        .collect::<Vec<_>>()
                        .join("\n");
                    sibling_uses(&code, &names)
                        .iter()
                        .filter_map(|u| names.iter().position(|n| n == u))
                        .collect()
                })
                .collect();
            // A file that reaches itself through its imports sits on a circle.
            for start in 0..files.len() {
                let mut seen = vec![false; files.len()];
                let mut todo = uses[start].clone();
                while let Some(f) = todo.pop() {
                    if f == start {
                        circles.push(format!("{}/{}", dir.display(), names[start]));
                        break;
                    }
                    if !std::mem::replace(&mut seen[f], true) {
                        todo.extend(&uses[f]);
                    }
                }
            }
        }
    }
    assert!(
        circles.is_empty(),
        "files on an import circle inside their room:\n{}",
        circles.join("\n")
    );
}
