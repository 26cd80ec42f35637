//! Declarative configuration: the one path from a Kong-format file to a runnable
//! [`Snapshot`], used by `start`, `config check`, reload and `POST /config`.
//!
//! ```text
//! text --parse--> tree --validate--> Model --resolve names--> --compile--> Snapshot
//! ```
//!
//! Parsing and validation are pure; looking up target names is the only I/O and happens
//! before compiling: without blocking a runtime thread on the async path ([`load_async`]),
//! with the system resolver on the blocking one ([`load`], for the CLI before any runtime).

pub mod compile;
mod entities;
pub mod file;
pub mod tls;
pub mod upstreams;
pub mod validate;

pub use crate::issues::Issue;
use crate::lasting::Lasting;
use crate::model::Model;
use crate::snapshot::Snapshot;
use compile::Resolved;
use std::time::Duration;

/// How long one target name may take to resolve at load; it then has no address (logged).
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The text is not YAML/JSON.
    #[error("failed parsing declarative configuration: {0}")]
    Syntax(String),
    /// The text parsed but describes an invalid config; every problem is listed.
    #[error("declarative config is invalid: {} problem(s)", .0.len())]
    Invalid(Vec<Issue>),
}

impl ConfigError {
    /// Every problem as one line each (`path: message`).
    pub fn lines(&self) -> Vec<String> {
        match self {
            ConfigError::Invalid(list) => list.iter().map(ToString::to_string).collect(),
            other => vec![other.to_string()],
        }
    }
}

/// Parses YAML (or JSON, a YAML subset) into a generic tree.
pub fn parse_text(text: &str) -> Result<serde_json::Value, ConfigError> {
    if text.trim().is_empty() {
        return Err(ConfigError::Syntax(
            "expected a declarative configuration, got an empty document".into(),
        ));
    }
    if text.trim_start().starts_with('{') {
        if let Ok(v) = serde_json::from_str(text) {
            return Ok(v);
        }
    }
    serde_saphyr::from_str::<serde_json::Value>(text)
        .map_err(|e| ConfigError::Syntax(e.to_string()))
}

/// MD5 of the config text, as Kong's `configuration_hash` (32 hex chars).
pub fn hash(text: &str) -> String {
    use md5::{Digest, Md5};
    hex::encode(Md5::digest(text.as_bytes()))
}

/// Parses and validates a config text.
pub fn check(text: &str) -> Result<Model, ConfigError> {
    let tree = parse_text(text)?;
    validate::validate(&tree).map_err(ConfigError::Invalid)
}

/// Loads a config with fresh lasting state, resolving target names with the blocking system
/// resolver: for the CLI, tests and benches, never on a runtime thread.
pub fn load(text: &str) -> Result<Snapshot, ConfigError> {
    load_with(text, &Lasting::default())
}

/// Loads a config compiled against `lasting`, resolving target names with the blocking
/// system resolver (startup, before the runtime exists).
pub fn load_with(text: &str, lasting: &Lasting) -> Result<Snapshot, ConfigError> {
    let model = check(text)?;
    let resolved = resolve_blocking(&model);
    Ok(compile::compile(model, hash(text), &resolved, lasting))
}

/// Loads a config compiled against `lasting`, resolving target names concurrently off the
/// runtime's threads, each lookup bounded by a timeout: for reloads and `POST /config`.
pub async fn load_async(text: &str, lasting: &Lasting) -> Result<Snapshot, ConfigError> {
    let model = check(text)?;
    let resolved = resolve_async(&model).await;
    Ok(compile::compile(model, hash(text), &resolved, lasting))
}

/// Reads a declarative config file.
pub fn read_file(path: &std::path::Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// Reads and loads a declarative config file (blocking; see [`load_with`]).
pub fn load_file(path: &std::path::Path, lasting: &Lasting) -> Result<Snapshot, ConfigError> {
    load_with(&read_file(path)?, lasting)
}

fn unresolved(host: &str, e: &dyn std::fmt::Display) {
    log::warn!("target {host} does not resolve: {e}");
}

fn resolve_blocking(model: &Model) -> Resolved {
    use std::net::ToSocketAddrs;
    let mut out = Resolved::new();
    for (host, port) in compile::target_names(model) {
        match (host.as_str(), port).to_socket_addrs() {
            Ok(a) => {
                out.insert((host, port), a.collect());
            }
            Err(e) => unresolved(&host, &e),
        }
    }
    out
}

async fn resolve_async(model: &Model) -> Resolved {
    let lookups = compile::target_names(model)
        .into_iter()
        .map(|(host, port)| async move {
            let lookup = tokio::net::lookup_host((host.as_str(), port));
            let addrs = match tokio::time::timeout(LOOKUP_TIMEOUT, lookup).await {
                Ok(Ok(a)) => a.collect(),
                Ok(Err(e)) => {
                    unresolved(&host, &e);
                    Vec::new()
                }
                Err(_) => {
                    unresolved(&host, &"timed out");
                    Vec::new()
                }
            };
            ((host, port), addrs)
        });
    futures::future::join_all(lookups)
        .await
        .into_iter()
        .filter(|(_, a): &(_, Vec<_>)| !a.is_empty())
        .collect()
}
