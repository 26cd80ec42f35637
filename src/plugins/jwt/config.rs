//! The `jwt` plugin's configuration schema: Kong's fields, defaults and load-time checks.

use serde::{Deserialize, Serialize};

/// Kong's `jwt` plugin config (`config:` of a `name: jwt` plugin entry).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct JwtConfig {
    /// Query parameters inspected for a token.
    pub uri_param_names: Vec<String>,
    /// Cookies inspected for a token.
    pub cookie_names: Vec<String>,
    /// Headers inspected for `Bearer <token>`.
    pub header_names: Vec<String>,
    /// Registered claims to verify: `exp`, `nbf`.
    pub claims_to_verify: Vec<String>,
    /// The claim (payload first, then JOSE header) naming the credential key.
    pub key_claim_name: String,
    /// HS* secrets are base64url-encoded in the credential.
    pub secret_is_base64: bool,
    /// Consumer id or username to fall back to when authentication fails.
    pub anonymous: Option<String>,
    /// Authenticate `OPTIONS` requests too.
    pub run_on_preflight: bool,
    /// Longest allowed token lifetime in seconds (0 = off).
    pub maximum_expiration: u64,
    /// Realm named in `WWW-Authenticate`.
    pub realm: Option<String>,
}

impl Default for JwtConfig {
    fn default() -> Self {
        JwtConfig {
            uri_param_names: vec!["jwt".into()],
            cookie_names: Vec::new(),
            header_names: vec!["authorization".into()],
            claims_to_verify: Vec::new(),
            key_claim_name: "iss".into(),
            secret_is_base64: false,
            anonymous: None,
            run_on_preflight: true,
            maximum_expiration: 0,
            realm: None,
        }
    }
}

impl JwtConfig {
    /// Field-level problems, as `(field, message)` pairs.
    pub fn check(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (i, c) in self.claims_to_verify.iter().enumerate() {
            if c != "exp" && c != "nbf" {
                out.push((
                    format!("claims_to_verify[{i}]"),
                    format!("expected one of: exp, nbf (got \"{c}\")"),
                ));
            }
        }
        if self.maximum_expiration > 31_536_000 {
            out.push((
                "maximum_expiration".into(),
                "value should be between 0 and 31536000".into(),
            ));
        }
        if self.maximum_expiration > 0 && !self.claims_to_verify.iter().any(|c| c == "exp") {
            out.push((
                "claims_to_verify".into(),
                "expected to contain: exp (required by maximum_expiration)".into(),
            ));
        }
        if self.key_claim_name.is_empty() {
            out.push(("key_claim_name".into(), "must not be empty".into()));
        }
        out
    }
}
