//! Declarative configuration: `load(text)` is the one path from a Kong-format file to a
//! runnable [`Snapshot`], used by `start`, `config check`, reload and `POST /config`.
//!
//! ```text
//! text --parse--> tree --validate--> Model --compile--> Snapshot --ArcSwap--> requests
//! ```

pub mod compile;
mod entities;
pub mod file;
pub mod healthchecks;
pub mod model;
pub mod node;
pub mod tls;
pub mod upstreams;
pub mod validate;

use crate::snapshot::Snapshot;
pub use validate::Issue;

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

/// Loads a declarative config from text into a runnable snapshot.
pub fn load(text: &str) -> Result<Snapshot, ConfigError> {
    let tree = parse_text(text)?;
    let model = validate::validate(&tree).map_err(ConfigError::Invalid)?;
    compile::compile(model, hash(text)).map_err(ConfigError::Invalid)
}

/// Reads and loads a declarative config file.
pub fn load_file(path: &std::path::Path) -> Result<Snapshot, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    load(&text)
}
