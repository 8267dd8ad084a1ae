//! Who may call what: bearer tokens with roles, read from `--auth-file`, and the one table of
//! the role each rpc needs (the table in `rpcs.rs`). The envelope (`layers.rs`) authenticates every call to a
//! `fulfil.v1` service and checks the role the rpc needs whatever its body says; a handler whose
//! request can also commit (`dry_run: false`, `commit: true`) asks for the higher role with
//! [`require`]. Health and reflection are open.
//!
//! The file holds SHA-256 digests, never tokens: a presented token is hashed and compared with
//! every entry in constant time, so neither the file nor the timing tells a token.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tonic::Status;

/// A token's role. `admin` may do everything; the others may do what `reader` may and their own
/// calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Dry-run routing, fulfilment options, reading reservations and the snapshot.
    Reader,
    /// Reader, and committing routes and every reservation call (release, confirm, reject,
    /// amend).
    Router,
    /// Reader, and the inventory stream.
    Inventory,
    /// Reader, and simulations and dry-run re-optimization.
    Planner,
    /// Everything, including loading scenarios, replacing nodes, rates and policy, and
    /// committing re-optimization.
    Admin,
}

impl Role {
    /// Whether a caller of this role may make a call that needs `needed`.
    pub fn allows(self, needed: Role) -> bool {
        self == Role::Admin || self == needed || needed == Role::Reader
    }

    pub fn name(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Router => "router",
            Role::Inventory => "inventory",
            Role::Planner => "planner",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The caller of a call, put in the request's extensions by the envelope.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The token's name (`anonymous` when the server runs without an auth file).
    pub name: Arc<str>,
    pub role: Role,
    /// The SHA-256 of the token it presented (none when anonymous): a long call checks that
    /// the token is still in force with [`Tokens::still_allows`].
    digest: Option<[u8; 32]>,
}

impl Caller {
    /// The caller when no auth file is configured: may do everything.
    pub fn anonymous() -> Caller {
        Caller {
            name: Arc::from("anonymous"),
            role: Role::Admin,
            digest: None,
        }
    }

    /// `PERMISSION_DENIED` naming the role needed, unless the caller has it.
    pub fn check(&self, rpc: &str, needed: Role) -> Result<(), Status> {
        if self.role.allows(needed) {
            Ok(())
        } else {
            Err(Status::permission_denied(format!(
                "{rpc} needs the {needed} role; token `{}` has the {} role",
                self.name, self.role
            )))
        }
    }
}

/// Checks, in a handler, that the caller may make the committing form of `rpc` (`needed`):
/// PERMISSION_DENIED otherwise. Logs an audit line for the change.
pub fn require<T>(request: &tonic::Request<T>, rpc: &str, needed: Role) -> Result<(), Status> {
    let caller = request
        .extensions()
        .get::<Caller>()
        .ok_or_else(|| Status::permission_denied(format!("{rpc}: no caller on the request")))?;
    caller.check(rpc, needed)?;
    audit(caller, rpc);
    Ok(())
}

/// UNAUTHENTICATED once `caller`'s token is no longer in force with `role` (a reload removed
/// it or changed its role): a long call (the inventory stream, a simulation) asks as it goes
/// and ends. Always fine on a server without tokens.
pub fn still_in_force(
    tokens: &arc_swap::ArcSwapOption<Tokens>,
    caller: Option<&Caller>,
    role: Role,
) -> Result<(), Status> {
    let Some(tokens) = &*tokens.load() else {
        return Ok(());
    };
    match caller {
        Some(c) if tokens.still_allows(c, role) => Ok(()),
        _ => Err(Status::unauthenticated(
            "the token of this call is no longer in force (the auth file was reloaded): \
             nothing sent or computed since counts",
        )),
    }
}

/// One line per call that changes state, naming the token that made it. A server without an
/// auth file has only the anonymous caller, and its call lines (`fulfil::calls`) already name
/// every change: it writes none.
pub fn audit(caller: &Caller, rpc: &str) {
    if caller.digest.is_none() {
        return;
    }
    tracing::info!(target: "fulfil::audit", token = %caller.name, role = %caller.role, rpc, "change requested");
}

/// The tokens of an auth file.
#[derive(Debug)]
pub struct Tokens {
    entries: Vec<Entry>,
}

#[derive(Debug)]
struct Entry {
    name: Arc<str>,
    role: Role,
    sha256: [u8; 32],
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    token: Vec<TokenEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenEntry {
    name: String,
    role: Role,
    sha256: String,
}

/// Why an auth file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum AuthFileError {
    #[error("cannot read the auth file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("auth file {}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

impl Tokens {
    /// Reads and checks an auth file.
    pub fn load(path: &Path) -> Result<Tokens, AuthFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| AuthFileError::Read {
            path: path.to_owned(),
            source,
        })?;
        Tokens::parse(&text).map_err(|message| AuthFileError::Invalid {
            path: path.to_owned(),
            message,
        })
    }

    /// Parses an auth file's text: `[[token]]` tables of `name`, `role`, `sha256` (64 hex
    /// digits), names unique, at least one token.
    pub fn parse(text: &str) -> Result<Tokens, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        if file.token.is_empty() {
            return Err("holds no [[token]] entry (every call would be refused)".into());
        }
        let mut entries: Vec<Entry> = Vec::with_capacity(file.token.len());
        for (i, t) in file.token.into_iter().enumerate() {
            let at = format!("token {} (`{}`)", i + 1, t.name);
            if t.name.trim().is_empty() {
                return Err(format!("token {}: name is empty", i + 1));
            }
            if entries.iter().any(|e| *e.name == *t.name) {
                return Err(format!("{at}: the name is used twice"));
            }
            let mut sha256 = [0u8; 32];
            hex::decode_to_slice(t.sha256.trim(), &mut sha256).map_err(|_| {
                format!("{at}: sha256 must be 64 hex digits (the SHA-256 of the token)")
            })?;
            entries.push(Entry {
                name: Arc::from(t.name),
                role: t.role,
                sha256,
            });
        }
        Ok(Tokens { entries })
    }

    /// The caller a bearer token belongs to. Every entry is compared, in constant time.
    pub fn find(&self, token: &str) -> Option<Caller> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut found = None;
        for e in &self.entries {
            if bool::from(e.sha256.ct_eq(&digest)) {
                found = Some(Caller {
                    name: e.name.clone(),
                    role: e.role,
                    digest: Some(e.sha256),
                });
            }
        }
        found
    }

    /// Whether `caller`'s token is still among these with a role that allows `needed` (a long
    /// call asks on every message, so a token removed by a reload ends the calls it opened).
    /// The anonymous caller of a server without tokens is never in force here.
    pub fn still_allows(&self, caller: &Caller, needed: Role) -> bool {
        let Some(digest) = caller.digest else {
            return false;
        };
        let mut allowed = false;
        for e in &self.entries {
            if bool::from(e.sha256.ct_eq(&digest)) {
                allowed = e.role.allows(needed);
            }
        }
        allowed
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The caller of a call's `authorization: Bearer TOKEN` metadata.
pub fn authenticate(tokens: &Tokens, header: Option<&http::HeaderValue>) -> Result<Caller, Status> {
    let value = header
        .ok_or_else(|| Status::unauthenticated("missing `authorization: Bearer TOKEN` metadata"))?;
    let token = value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Status::unauthenticated("authorization metadata is not `Bearer TOKEN`"))?;
    tokens
        .find(token)
        .ok_or_else(|| Status::unauthenticated("unknown token"))
}

/// A fresh random token and its auth-file entry (`fulfil token new`).
pub fn new_token(name: &str, role: Role) -> (String, String) {
    use rand::RngCore;
    // `rand::rng()` is a CSPRNG seeded from the operating system (and reseeded).
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = format!("fulfil_{}", hex::encode(bytes));
    let digest = hex::encode(Sha256::digest(token.as_bytes()));
    let entry = format!(
        "[[token]]\nname = {}\nrole = \"{role}\"\nsha256 = \"{digest}\"\n",
        toml::Value::String(name.to_owned())
    );
    (token, entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_allow_reader_calls_their_own_and_admin_everything() {
        assert!(Role::Router.allows(Role::Reader));
        assert!(Role::Router.allows(Role::Router));
        assert!(!Role::Router.allows(Role::Inventory));
        assert!(!Role::Planner.allows(Role::Admin));
        assert!(!Role::Reader.allows(Role::Router));
        assert!(Role::Admin.allows(Role::Inventory));
    }

    #[test]
    fn the_table_names_every_rpc() {
        let needed = |path: &str| super::super::rpcs::of(path).role;
        assert_eq!(needed("/grpc.health.v1.Health/Check"), None);
        assert_eq!(needed("/made.Up/Path"), Some(Role::Reader));
        assert_eq!(needed("/fulfil.v1.Network/LoadScenario"), Some(Role::Admin));
        assert_eq!(
            needed("/fulfil.v1.Network/StreamInventory"),
            Some(Role::Inventory)
        );
        assert_eq!(needed("/fulfil.v1.Reservations/Get"), Some(Role::Reader));
        assert_eq!(needed("/fulfil.v1.Reservations/Amend"), Some(Role::Router));
        assert_eq!(needed("/fulfil.v1.Routing/RouteOrder"), Some(Role::Reader));
        assert_eq!(needed("/fulfil.v1.Planning/Simulate"), Some(Role::Planner));
    }

    #[test]
    fn a_new_token_is_found_by_its_entry_and_nothing_else_is() {
        let (token, entry) = new_token("checkout \"eu\"", Role::Router);
        let tokens = Tokens::parse(&entry).expect("its own entry parses");
        let caller = tokens.find(&token).expect("found");
        assert_eq!(
            (&*caller.name, caller.role),
            ("checkout \"eu\"", Role::Router)
        );
        assert!(tokens.find(&format!("{token}x")).is_none());
        assert!(!entry.contains(&token), "the entry never holds the token");
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let bad = |t: &str| Tokens::parse(t).expect_err(t);
        assert!(bad("").contains("no [[token]]"));
        assert!(bad("[[token]]\nname='a'\nrole='root'\nsha256='00'").contains("role"));
        let short = "[[token]]\nname='a'\nrole='admin'\nsha256='abc'";
        assert!(bad(short).contains("64 hex digits"));
        let h = "0".repeat(64);
        let twice = format!(
            "[[token]]\nname='a'\nrole='admin'\nsha256='{h}'\n[[token]]\nname='a'\nrole='reader'\nsha256='{h}'"
        );
        assert!(bad(&twice).contains("used twice"));
        assert!(bad("[[token]]\nname='a'\nrole='admin'\nsha256='x'\ntoken='t'").contains("token"));
    }
}
