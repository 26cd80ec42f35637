//! The file schema: serde types that mirror Kong's DB-less declarative format, entity by entity.
//!
//! Pipeline position: text -> generic tree -> **these `*Spec` types** -> validate -> compile.
//! Runtime types are never deserialized directly; children written nested inside a parent are
//! kept as raw trees here so that the validator can report every bad entity, not just the first.

use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// Children written inside an entity (`routes` of a service...): walked from the raw tree
/// by the validator, so the entity's own parse skips them instead of copying them.
pub type Nested = serde::de::IgnoredAny;

/// A reference to another entity: by name/username/key, or `{id: ...}` / `{name: ...}`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum RefSpec {
    /// `service: users-service`
    Name(String),
    /// `service: {id: ...}` or `service: {name: ...}`
    Object(RefObjectSpec),
}

/// The object form of a reference.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RefObjectSpec {
    /// The referenced entity's id.
    pub id: Option<String>,
    /// The referenced entity's name (services, routes).
    pub name: Option<String>,
    /// The referenced consumer's username.
    pub username: Option<String>,
}

impl RefSpec {
    /// The string the reference names (an id, a name or a username).
    pub fn key(&self) -> Option<&str> {
        match self {
            RefSpec::Name(s) => Some(s),
            RefSpec::Object(o) => {
                o.id.as_deref()
                    .or(o.name.as_deref())
                    .or(o.username.as_deref())
            }
        }
    }
}

/// A service: where requests go (`url` shorthand or protocol/host/port/path).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    pub id: Option<String>,
    pub name: Option<String>,
    pub url: Option<String>,
    pub protocol: Option<String>,
    pub host: Option<String>,
    pub port: Option<u32>,
    pub path: Option<String>,
    // Signed, so a negative value gets Kong's range message rather than a type error.
    pub retries: Option<i64>,
    pub connect_timeout: Option<i64>,
    pub write_timeout: Option<i64>,
    pub read_timeout: Option<i64>,
    pub enabled: Option<bool>,
    pub tls_verify: Option<bool>,
    pub tls_verify_depth: Option<u32>,
    pub ca_certificates: Option<Vec<String>>,
    pub client_certificate: Option<RefSpec>,
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub routes: Nested,
    #[serde(default)]
    pub plugins: Nested,
    #[serde(rename = "_comment")]
    pub comment: Option<String>,
    #[serde(rename = "_ignore")]
    pub ignore: Option<Vec<Value>>,
}

/// A route: which requests match, and to which service they go.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSpec {
    pub id: Option<String>,
    pub name: Option<String>,
    pub protocols: Option<Vec<String>>,
    pub methods: Option<Vec<String>>,
    pub hosts: Option<Vec<String>>,
    pub paths: Option<Vec<String>>,
    pub headers: Option<BTreeMap<String, Vec<String>>>,
    pub snis: Option<Vec<String>>,
    pub sources: Option<Vec<Value>>,
    pub destinations: Option<Vec<Value>>,
    pub strip_path: Option<bool>,
    pub preserve_host: Option<bool>,
    pub path_handling: Option<String>,
    pub regex_priority: Option<i64>,
    pub https_redirect_status_code: Option<u16>,
    pub request_buffering: Option<bool>,
    pub response_buffering: Option<bool>,
    pub service: Option<RefSpec>,
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub plugins: Nested,
    #[serde(rename = "_comment")]
    pub comment: Option<String>,
    #[serde(rename = "_ignore")]
    pub ignore: Option<Vec<Value>>,
}

/// A consumer: an identity that credentials belong to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumerSpec {
    pub id: Option<String>,
    pub username: Option<String>,
    pub custom_id: Option<String>,
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub jwt_secrets: Nested,
    #[serde(default)]
    pub keyauth_credentials: Nested,
    #[serde(default)]
    pub basicauth_credentials: Nested,
    #[serde(default)]
    pub acls: Nested,
    #[serde(default)]
    pub plugins: Nested,
    #[serde(rename = "_comment")]
    pub comment: Option<String>,
    #[serde(rename = "_ignore")]
    pub ignore: Option<Vec<Value>>,
}

/// A JWT credential of a consumer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtSecretSpec {
    pub id: Option<String>,
    pub key: Option<String>,
    pub secret: Option<String>,
    pub algorithm: Option<String>,
    pub rsa_public_key: Option<String>,
    pub consumer: Option<RefSpec>,
    pub tags: Option<Vec<String>>,
    #[serde(rename = "_comment")]
    pub comment: Option<String>,
    #[serde(rename = "_ignore")]
    pub ignore: Option<Vec<Value>>,
}

/// A key-auth credential of a consumer (`keyauth_credentials`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyAuthSpec {
    pub id: Option<String>,
    pub key: Option<String>,
    pub consumer: Option<RefSpec>,
    pub ttl: Option<u64>,
    pub tags: Option<Vec<String>>,
    #[serde(rename = "_comment")]
    pub comment: Option<String>,
    #[serde(rename = "_ignore")]
    pub ignore: Option<Vec<Value>>,
}

/// A basic-auth credential of a consumer (`basicauth_credentials`; the password as written).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuthSpec {
    pub id: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub consumer: Option<RefSpec>,
    pub tags: Option<Vec<String>>,
    #[serde(rename = "_comment")]
    pub comment: Option<String>,
    #[serde(rename = "_ignore")]
    pub ignore: Option<Vec<Value>>,
}

/// A consumer's membership of a group (`acls`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AclSpec {
    pub id: Option<String>,
    pub group: Option<String>,
    pub consumer: Option<RefSpec>,
    pub tags: Option<Vec<String>>,
    #[serde(rename = "_comment")]
    pub comment: Option<String>,
    #[serde(rename = "_ignore")]
    pub ignore: Option<Vec<Value>>,
}

/// A plugin instance; its `config` is checked against the named plugin's own schema.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginSpec {
    pub id: Option<String>,
    pub name: String,
    pub instance_name: Option<String>,
    pub config: Option<Value>,
    pub service: Option<RefSpec>,
    pub route: Option<RefSpec>,
    pub consumer: Option<RefSpec>,
    pub protocols: Option<Vec<String>>,
    pub enabled: Option<bool>,
    pub tags: Option<Vec<String>>,
    #[serde(rename = "_comment")]
    pub comment: Option<String>,
    #[serde(rename = "_ignore")]
    pub ignore: Option<Vec<Value>>,
}

/// A trusted CA certificate that services name in `ca_certificates`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaCertificateSpec {
    pub id: Option<String>,
    pub cert: String,
    pub cert_digest: Option<String>,
    pub tags: Option<Vec<String>>,
    #[serde(rename = "_comment")]
    pub comment: Option<String>,
}

/// A certificate served by the proxy's TLS listeners for its `snis`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateSpec {
    pub id: Option<String>,
    pub cert: String,
    pub key: String,
    pub cert_alt: Option<String>,
    pub key_alt: Option<String>,
    pub tags: Option<Vec<String>>,
    /// Nested SNIs are gathered as entities of their own.
    pub snis: Option<Value>,
    #[serde(rename = "_comment")]
    pub comment: Option<String>,
}

/// A server name and the certificate served for it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SniSpec {
    pub id: Option<String>,
    pub name: String,
    /// `{ id: ... }` or the id; absent when nested under its certificate.
    pub certificate: Option<RefSpec>,
    pub tags: Option<Vec<String>>,
    #[serde(rename = "_comment")]
    pub comment: Option<String>,
}

/// An upstream: a virtual host name that services point at, balanced over its targets.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamSpec {
    pub id: Option<String>,
    pub name: Option<String>,
    pub algorithm: Option<String>,
    pub hash_on: Option<String>,
    pub hash_fallback: Option<String>,
    pub hash_on_header: Option<String>,
    pub hash_fallback_header: Option<String>,
    pub hash_on_cookie: Option<String>,
    pub hash_on_cookie_path: Option<String>,
    pub hash_on_query_arg: Option<String>,
    pub hash_fallback_query_arg: Option<String>,
    pub hash_on_uri_capture: Option<String>,
    pub hash_fallback_uri_capture: Option<String>,
    pub slots: Option<u32>,
    pub healthchecks: Option<crate::model::healthchecks::Healthchecks>,
    pub host_header: Option<String>,
    pub client_certificate: Option<RefSpec>,
    pub use_srv_name: Option<bool>,
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub targets: Nested,
    #[serde(rename = "_comment")]
    pub comment: Option<String>,
    #[serde(rename = "_ignore")]
    pub ignore: Option<Vec<Value>>,
}

/// A target of an upstream: `host[:port]` and a weight.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    pub id: Option<String>,
    pub target: Option<String>,
    pub weight: Option<u32>,
    pub upstream: Option<RefSpec>,
    pub tags: Option<Vec<String>>,
    #[serde(rename = "_comment")]
    pub comment: Option<String>,
    #[serde(rename = "_ignore")]
    pub ignore: Option<Vec<Value>>,
}
