//! The validated model: every entity checked, defaults filled in, ids assigned, references
//! resolved to indexes, closed sets as enums and matchers compiled. What `config::validate`
//! produces, what `config::compile`, the upstreams and the plugins consume, and what the
//! admin API shows. It sits below all of them and imports none of them.

pub mod certificates;
pub mod healthchecks;
pub mod jwt_key;
pub mod plugin;

use crate::router::{HeaderRule, HostRule, PathMatcher};
pub use plugin::PluginConfig;
use serde::Serialize;
use std::sync::Arc;

/// A service with Kong's defaults filled in.
#[derive(Debug, Clone, Serialize)]
pub struct Service {
    pub id: String,
    pub name: Option<String>,
    pub protocol: Protocol,
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
    /// `Host` sent upstream when `preserve_host` is off (`host[:port]`, port when non-default).
    #[serde(skip)]
    pub host_header: http::HeaderValue,
}

/// A route with Kong's defaults filled in.
#[derive(Debug, Clone, Serialize)]
pub struct Route {
    pub id: String,
    pub name: Option<String>,
    pub protocols: Vec<Protocol>,
    pub methods: Option<Vec<String>>,
    pub hosts: Option<Vec<String>>,
    pub paths: Option<Vec<String>>,
    pub headers: Option<std::collections::BTreeMap<String, Vec<String>>>,
    pub snis: Option<Vec<String>>,
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
    /// `hosts`, `headers` and `paths` compiled for the router (in the order written).
    #[serde(skip)]
    pub matchers: RouteMatchers,
}

/// A route's matching rules, compiled once at validation.
#[derive(Debug, Clone, Default)]
pub struct RouteMatchers {
    /// One rule per `hosts` entry.
    pub hosts: Vec<HostRule>,
    /// One rule per `headers` name.
    pub headers: Vec<HeaderRule>,
    /// One matcher per `paths` entry.
    pub paths: Vec<PathMatcher>,
    /// One matcher per `snis` entry.
    pub snis: Vec<crate::router::HostMatcher>,
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
    pub algorithm: jwt_key::JwtAlgorithm,
    pub rsa_public_key: Option<String>,
    /// The verifiers of the secret or public key, parsed once.
    #[serde(skip)]
    pub material: Arc<jwt_key::KeyMaterial>,
    /// Index into `Model::consumers`.
    #[serde(skip)]
    pub consumer: usize,
    pub tags: Option<Vec<String>>,
}

/// A key-auth credential.
#[derive(Debug, Clone, Serialize)]
pub struct KeyAuthCredential {
    pub id: String,
    pub key: String,
    pub ttl: Option<u64>,
    /// Index into `Model::consumers`.
    #[serde(skip)]
    pub consumer: usize,
    pub tags: Option<Vec<String>>,
}

/// A basic-auth credential; the password is kept only as Kong stores it: the hex SHA-1 of
/// the password followed by the consumer's id.
#[derive(Debug, Clone, Serialize)]
pub struct BasicAuthCredential {
    pub id: String,
    pub username: String,
    pub password: String,
    /// Index into `Model::consumers`.
    #[serde(skip)]
    pub consumer: usize,
    pub tags: Option<Vec<String>>,
}

/// Kong's stored form of a basic-auth password: hex SHA-1 of the password followed by the
/// consumer's id.
pub fn basic_auth_hash(consumer_id: &str, password: &str) -> String {
    use aws_lc_rs::digest::{digest, SHA1_FOR_LEGACY_USE_ONLY};
    let salted = format!("{password}{consumer_id}");
    hex::encode(digest(&SHA1_FOR_LEGACY_USE_ONLY, salted.as_bytes()))
}

/// A consumer's membership of a group.
#[derive(Debug, Clone, Serialize)]
pub struct Acl {
    pub id: String,
    pub group: String,
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
    pub keyauth_credentials: Vec<KeyAuthCredential>,
    pub basicauth_credentials: Vec<BasicAuthCredential>,
    pub acls: Vec<Acl>,
    pub plugins: Vec<Plugin>,
    pub ca_certificates: Vec<CaCertificate>,
    pub certificates: Vec<certificates::ServerCertificate>,
    pub snis: Vec<certificates::Sni>,
    pub upstreams: Vec<Upstream>,
    pub targets: Vec<Target>,
}

/// An upstream with Kong's defaults filled in.
#[derive(Debug, Clone, Serialize)]
pub struct Upstream {
    pub id: String,
    pub name: String,
    pub algorithm: BalanceAlgorithm,
    pub hash_on: HashKind,
    pub hash_fallback: HashKind,
    pub hash_on_header: Option<String>,
    pub hash_fallback_header: Option<String>,
    pub hash_on_query_arg: Option<String>,
    pub hash_fallback_query_arg: Option<String>,
    pub slots: u32,
    /// `hash_on` and `hash_fallback` with the header or argument each names.
    #[serde(skip)]
    pub hashing: (HashOn, HashOn),
    pub healthchecks: healthchecks::Healthchecks,
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

/// How an upstream picks a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BalanceAlgorithm {
    /// Weighted round-robin.
    RoundRobin,
    /// Ketama consistent hashing on `hash_on`.
    ConsistentHashing,
}

/// Which part of a request a consistent-hashing upstream hashes on (`hash_on`, `hash_fallback`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HashKind {
    None,
    Consumer,
    Ip,
    Header,
    Path,
    QueryArg,
}

/// A hash input with what it names: the typed form the balancer uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashOn {
    /// Nothing to hash: requests spread.
    None,
    /// The authenticated consumer's id.
    Consumer,
    /// The client's address.
    Ip,
    /// A request header's values.
    Header(http::HeaderName),
    /// The request path.
    Path,
    /// A query argument's value.
    QueryArg(String),
}

/// A protocol of a service or route that Skyport serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Http,
    Https,
    /// gRPC over HTTP/2 without TLS (h2c).
    Grpc,
    /// gRPC over HTTP/2 with TLS.
    Grpcs,
    /// WebSocket without TLS (Kong Enterprise's protocol; HTTP/1.1 upgrades).
    Ws,
    /// WebSocket over TLS.
    Wss,
}

impl Protocol {
    /// Kong's spelling of a protocol Skyport serves.
    pub fn parse(s: &str) -> Option<Protocol> {
        match s {
            "http" => Some(Protocol::Http),
            "https" => Some(Protocol::Https),
            "grpc" => Some(Protocol::Grpc),
            "grpcs" => Some(Protocol::Grpcs),
            "ws" => Some(Protocol::Ws),
            "wss" => Some(Protocol::Wss),
            _ => None,
        }
    }

    /// Spoken over TLS.
    pub fn is_tls(self) -> bool {
        matches!(self, Protocol::Https | Protocol::Grpcs | Protocol::Wss)
    }

    /// WebSocket (a route of these alone matches only WebSocket handshakes).
    pub fn is_websocket(self) -> bool {
        matches!(self, Protocol::Ws | Protocol::Wss)
    }

    /// gRPC (HTTP/2 only).
    pub fn is_grpc(self) -> bool {
        matches!(self, Protocol::Grpc | Protocol::Grpcs)
    }
}
