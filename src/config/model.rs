//! The validated model: every entity checked, defaults filled in, ids assigned and
//! references resolved to indexes. What `validate` produces and `compile` consumes; also
//! what the admin API shows.

use crate::plugins::PluginConfig;
use serde::Serialize;

/// A service with Kong's defaults filled in.
#[derive(Debug, Clone, Serialize)]
pub struct Service {
    pub id: String,
    pub name: Option<String>,
    pub protocol: String,
    pub host: String,
    pub port: u16,
    pub path: Option<String>,
    pub retries: u32,
    pub connect_timeout: u64,
    pub write_timeout: u64,
    pub read_timeout: u64,
    pub enabled: bool,
    pub tls_verify: Option<bool>,
    /// Ids of the CA certificates that verify this service's TLS.
    pub ca_certificates: Option<Vec<String>>,
    pub tags: Option<Vec<String>>,
}

/// A route with Kong's defaults filled in.
#[derive(Debug, Clone, Serialize)]
pub struct Route {
    pub id: String,
    pub name: Option<String>,
    pub protocols: Vec<String>,
    pub methods: Option<Vec<String>>,
    pub hosts: Option<Vec<String>>,
    pub paths: Option<Vec<String>>,
    pub headers: Option<std::collections::BTreeMap<String, Vec<String>>>,
    pub strip_path: bool,
    pub preserve_host: bool,
    pub path_handling: String,
    pub regex_priority: i64,
    pub https_redirect_status_code: u16,
    pub request_buffering: bool,
    pub response_buffering: bool,
    /// Index into `Model::services`.
    #[serde(skip)]
    pub service: Option<usize>,
    pub tags: Option<Vec<String>>,
}

/// A consumer.
#[derive(Debug, Clone, Serialize)]
pub struct Consumer {
    pub id: String,
    pub username: Option<String>,
    pub custom_id: Option<String>,
    pub tags: Option<Vec<String>>,
}

/// A JWT credential.
#[derive(Debug, Clone, Serialize)]
pub struct JwtSecret {
    pub id: String,
    pub key: String,
    pub secret: String,
    pub algorithm: String,
    pub rsa_public_key: Option<String>,
    /// Index into `Model::consumers`.
    #[serde(skip)]
    pub consumer: usize,
    pub tags: Option<Vec<String>>,
}

/// A plugin instance and its scope.
#[derive(Debug, Clone, Serialize)]
pub struct Plugin {
    pub id: String,
    pub name: String,
    pub instance_name: Option<String>,
    pub config: PluginConfig,
    /// Index into `Model::services`.
    #[serde(skip)]
    pub service: Option<usize>,
    /// Index into `Model::routes`.
    #[serde(skip)]
    pub route: Option<usize>,
    /// Index into `Model::consumers`.
    #[serde(skip)]
    pub consumer: Option<usize>,
    pub protocols: Vec<String>,
    pub enabled: bool,
    pub tags: Option<Vec<String>>,
}

/// A trusted CA certificate (PEM), with its DER certificates decoded at load.
#[derive(Debug, Clone, Serialize)]
pub struct CaCertificate {
    pub id: String,
    pub cert: String,
    #[serde(skip)]
    pub der: Vec<Vec<u8>>,
    pub tags: Option<Vec<String>>,
}

/// The whole validated configuration.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Model {
    pub services: Vec<Service>,
    pub routes: Vec<Route>,
    pub consumers: Vec<Consumer>,
    pub jwt_secrets: Vec<JwtSecret>,
    pub plugins: Vec<Plugin>,
    pub ca_certificates: Vec<CaCertificate>,
    pub upstreams: Vec<Upstream>,
    pub targets: Vec<Target>,
}

/// An upstream with Kong's defaults filled in.
#[derive(Debug, Clone, Serialize)]
pub struct Upstream {
    pub id: String,
    pub name: String,
    pub algorithm: String,
    pub hash_on: String,
    pub hash_fallback: String,
    pub hash_on_header: Option<String>,
    pub hash_fallback_header: Option<String>,
    pub hash_on_query_arg: Option<String>,
    pub hash_fallback_query_arg: Option<String>,
    pub slots: u32,
    pub healthchecks: super::healthchecks::Healthchecks,
    pub host_header: Option<String>,
    pub use_srv_name: bool,
    pub tags: Option<Vec<String>>,
}

/// A target of an upstream.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub id: String,
    /// `host:port` as Kong shows it (the default port 8000 filled in).
    pub target: String,
    /// The host part (no brackets for IPv6).
    #[serde(skip)]
    pub host: String,
    /// The port part.
    #[serde(skip)]
    pub port: u16,
    pub weight: u32,
    /// Index into `Model::upstreams`.
    #[serde(skip)]
    pub upstream: usize,
    pub tags: Option<Vec<String>>,
}
