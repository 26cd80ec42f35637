//! The immutable runtime view of one loaded config, shared as `Arc<Snapshot>`: the router,
//! the compiled routes with their plugin chains, the compiled services, and the validated
//! model the admin API shows. A request sees one snapshot from start to end.

use crate::model::Model;
use crate::plugins::Chain;
use crate::router::Router;
use crate::upstream::ServicePeer;
use std::sync::Arc;

/// A route, compiled for the request path.
#[derive(Debug)]
pub struct RouteRuntime {
    /// The route's id.
    pub id: String,
    /// The route's name.
    pub name: Option<String>,
    /// Index into `Snapshot::services`.
    pub service: Option<usize>,
    /// The service's id, shared with plugins (`limit_by: service`).
    pub service_id: Option<Arc<str>>,
    /// The route's first path as written (Kong's `http.route` span attribute).
    pub first_path: Option<Arc<str>>,
    /// Strip the matched path prefix before proxying.
    pub strip_path: bool,
    /// Send the client's Host upstream.
    pub preserve_host: bool,
    /// The route's protocols leave out plain `http`: such requests are told to use HTTPS.
    pub https_only: bool,
    /// 426 (upgrade required) or the 3xx redirect sent to plain-http requests of an https-only route.
    pub https_redirect_status_code: u16,
    /// A gRPC route (`grpc`/`grpcs` in its protocols): only gRPC requests over HTTP/2 pass.
    pub grpc: bool,
    /// A gRPC route without `grpc`: gRPC over plain HTTP/2 is refused.
    pub grpcs_only: bool,
    /// Plugins that apply, highest priority first.
    pub chain: Arc<Chain>,
    /// For consumers that have plugins of their own here: the chain once they are
    /// authenticated (Kong's precedence, consumer-scoped instances included), by consumer id.
    pub consumer_chains: ConsumerChains,
    /// The route's metric handles, made on its first request.
    pub metrics: crate::telemetry::handles::RouteMetrics,
}

/// Chains by consumer id, hashed with foldhash: looked up on every request of a route that has
/// consumer plugins, and the ids are the configuration's (a client cannot fill the table).
pub type ConsumerChains =
    std::collections::HashMap<String, Arc<Chain>, foldhash::fast::RandomState>;

/// One loaded configuration.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// When the config was loaded (Unix seconds; the entities' `created_at`).
    pub loaded_at: i64,
    /// MD5 of the config text (Kong's `configuration_hash`); all zeros when empty.
    pub hash: String,
    /// The validated entities.
    pub model: Arc<Model>,
    /// The route table.
    pub router: Router,
    /// Compiled routes, indexed like `model.routes`.
    pub routes: Vec<RouteRuntime>,
    /// Compiled services, indexed like `model.services`.
    pub services: Vec<Arc<ServicePeer>>,
    /// Compiled upstreams by name.
    pub balancers: std::collections::HashMap<String, Arc<crate::upstream::balancer::Balancer>>,
    /// Server name -> index into `model.certificates`, for the TLS listeners.
    pub certs: crate::model::certificates::CertIndex,
}

impl Snapshot {
    /// The snapshot of a node started without a declarative config: every request 404s.
    pub fn empty() -> Snapshot {
        Snapshot {
            hash: "0".repeat(32),
            ..Default::default()
        }
    }

    /// True when no config has been loaded.
    pub fn is_empty(&self) -> bool {
        self.hash.bytes().all(|b| b == b'0')
    }
}

impl Snapshot {
    /// The certificate to serve for a client's server name (SNI), if one is configured.
    pub fn certificate_for(&self, server_name: &str) -> Option<Arc<rustls::sign::CertifiedKey>> {
        let i = self.certs.find(server_name)?;
        self.model.certificates.get(i)?.certified.clone()
    }
}
