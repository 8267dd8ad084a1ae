//! The one validator of network changes. A change that arrives over the wire is turned into the
//! text its record holds and parsed by the same scenario parser a replay uses, so what is
//! accepted live is exactly what replays; anything the round trip would alter (a padded id, a
//! number that does not survive) is refused before it is recorded.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::error::ChangeProblem;
use super::error::LiveError;
use crate::model::{Node, Policy};
use crate::reserve::journal::{create_private, create_private_dir};
use crate::scenario::{
    LoadError, NETWORK_FILES, nodes_csv, parse_nodes, parse_policy, parse_skus, skus_csv,
};
use crate::snapshot::Snapshot;

/// The `nodes.csv` text of an upsert, checked: it parses under the scenario rules into exactly
/// the nodes given.
pub fn nodes_text(nodes: &[Node]) -> Result<String, LiveError> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (index, n) in nodes.iter().enumerate() {
        let bad = |reason: String| LiveError::InvalidNode {
            index,
            node_id: n.id.clone(),
            reason,
        };
        if n.id.trim().is_empty() {
            return Err(bad("node_id is empty".into()));
        }
        if n.id.trim() != n.id || n.id.chars().any(char::is_control) {
            return Err(bad(
                "node_id has leading or trailing spaces or control characters".into(),
            ));
        }
        if let Some(first) = seen.insert(&n.id, index) {
            return Err(bad(format!("node_id repeats nodes[{first}]")));
        }
    }
    let text = nodes_csv(nodes);
    let parsed = parse_nodes(&text).map_err(|e| node_error(nodes, &e))?;
    if let Some((index, n)) = parsed
        .iter()
        .zip(nodes)
        .enumerate()
        .find_map(|(i, (p, n))| (p != n).then_some((i, n)))
    {
        return Err(LiveError::InvalidNode {
            index,
            node_id: n.id.clone(),
            reason: "does not survive the journal's nodes.csv round trip".into(),
        });
    }
    Ok(text)
}

/// The `skus.csv` text of SKUs, checked by the scenario's SKU parser (ids, weights, flags) and
/// the round trip through it.
pub fn skus_text(skus: &[crate::model::Sku]) -> Result<String, LiveError> {
    let bad = |index: usize, reason: String| LiveError::InvalidSku {
        index,
        sku: skus[index].id.clone(),
        reason,
    };
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, k) in skus.iter().enumerate() {
        if k.id.trim().is_empty() || k.id.trim() != k.id || k.id.chars().any(char::is_control) {
            return Err(bad(
                i,
                "sku is empty, or has spaces or control characters at an end".into(),
            ));
        }
        if !(k.weight_kg.is_finite() && k.weight_kg > 0.0) {
            return Err(bad(
                i,
                format!("weight_kg: expected a weight > 0, found {}", k.weight_kg),
            ));
        }
        if let Some(first) = seen.insert(&k.id, i) {
            return Err(bad(i, format!("sku repeats skus[{first}]")));
        }
    }
    let text = skus_csv(skus);
    let parsed = parse_skus(&text).map_err(|e| LiveError::InvalidSetting {
        setting: "skus",
        reason: e.to_string(),
    })?;
    if let Some(i) = parsed.iter().zip(skus).position(|(p, k)| p != k) {
        return Err(bad(
            i,
            "does not survive the journal's skus.csv round trip".into(),
        ));
    }
    Ok(text)
}

/// A parse error of the text [`nodes_csv`] wrote, pointed at the node: line 2 is `nodes[0]`.
fn node_error(nodes: &[Node], e: &LoadError) -> LiveError {
    let Some(d) = e.details() else {
        return LiveError::InvalidSetting {
            setting: "nodes",
            reason: e.to_string(),
        };
    };
    let index = d.line.map_or(0, |l| l.saturating_sub(2) as usize);
    LiveError::InvalidNode {
        index,
        node_id: nodes.get(index).map(|n| n.id.clone()).unwrap_or_default(),
        reason: match &d.column {
            Some(c) => format!("{c}: {}", d.message),
            None => d.message.clone(),
        },
    }
}

/// The `policy.toml` text of a policy, checked by the scenario's policy parser.
pub fn policy_text(policy: &Policy) -> Result<(String, Policy), LiveError> {
    let text = toml::to_string(policy).map_err(|e| LiveError::InvalidSetting {
        setting: "policy",
        reason: e.to_string(),
    })?;
    let parsed = parse_policy(Path::new("policy"), &text)?;
    Ok((text, parsed))
}

/// The new on_hand of an adjustment: below zero stops at zero (more was sold than was known);
/// above what a count can hold is refused.
pub fn adjusted(on_hand: u32, adjust: i64) -> Result<u32, ChangeProblem> {
    let v = i64::from(on_hand).saturating_add(adjust);
    u32::try_from(v.max(0)).map_err(|_| ChangeProblem::Overflow { on_hand, adjust })
}

/// Network files a scenario may leave out.
const OPTIONAL_FILES: [&str; 3] = ["policy.toml", "calendars.toml", "inbound.csv"];

/// Copies the network files of `dir` into `data/scenarios/<sha256>/` (synced), and returns the
/// copy's folder and hash. A replay loads the copy, never `dir`.
pub fn keep_scenario(dir: &Path, data: &Path) -> Result<(PathBuf, String), LiveError> {
    let io = |path: &Path, e: std::io::Error| LoadError::Io {
        path: path.to_owned(),
        error: e,
    };
    let mut files = Vec::new();
    let mut hash = Sha256::new();
    for name in NETWORK_FILES {
        let path = dir.join(name);
        match std::fs::read(&path) {
            Ok(bytes) => {
                hash.update(name.as_bytes());
                hash.update((bytes.len() as u64).to_le_bytes());
                hash.update(&bytes);
                files.push((name, bytes));
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound && OPTIONAL_FILES.contains(&name) => {}
            Err(e) => return Err(io(&path, e).into()),
        }
    }
    let sha: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let copy = scenario_copy(data, &sha);
    let tmp = copy.with_extension("tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    create_private_dir(&tmp).map_err(|e| io(&tmp, e))?;
    for (name, bytes) in &files {
        use std::io::Write;
        let path = tmp.join(name);
        create_private(&path)
            .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
            .map_err(|e| io(&path, e))?;
    }
    let _ = std::fs::remove_dir_all(&copy);
    std::fs::rename(&tmp, &copy).map_err(|e| io(&copy, e))?;
    std::fs::File::open(copy.parent().unwrap_or(data))
        .and_then(|f| f.sync_all())
        .map_err(|e| io(&copy, e))?;
    Ok((copy, sha))
}

/// Where the copy of the scenario with hash `sha` is kept.
pub fn scenario_copy(data: &Path, sha: &str) -> PathBuf {
    data.join("scenarios").join(sha)
}

/// Removes the kept scenario copies other than `keep` (once no checkpoint names them).
pub fn forget_scenarios(data: &Path, keep: Option<&str>) {
    let Ok(entries) = std::fs::read_dir(data.join("scenarios")) else {
        return;
    };
    for e in entries.flatten() {
        if keep != e.file_name().to_str() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// The snapshot a scenario folder loads to, refused if it has no nodes.
pub fn scenario_snapshot(dir: &Path) -> Result<Snapshot, LiveError> {
    let snapshot = crate::scenario::load_snapshot(dir)?;
    if snapshot.nodes().is_empty() {
        return Err(LiveError::EmptyNetwork);
    }
    Ok(snapshot)
}
