//! Upstreams: a service becomes a ready-made `HttpPeer` template (TLS, SNI, CA, timeouts,
//! keep-alive pooling) at compile time; per request only the address is filled in.

pub mod balancer;
pub mod dns;
pub mod health;
pub mod probe;
pub mod trust;

use crate::model::{CaCertificate, Service};
use http::HeaderValue;
use pingora::upstreams::peer::HttpPeer;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// How long an idle pooled upstream connection is kept (Kong's `upstream_keepalive_idle_timeout`).
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// A service, compiled for proxying.
#[derive(Debug)]
pub struct ServicePeer {
    /// The service's id.
    pub id: String,
    /// The service's name.
    pub name: Option<String>,
    /// The host name or IP literal.
    pub host: String,
    /// The port.
    pub port: u16,
    /// The service path (`None` = `/`).
    pub base_path: Option<String>,
    /// The service path (`/` when none) as bytes an upstream request line can share.
    pub base_bytes: bytes::Bytes,
    /// `Host` sent upstream when `preserve_host` is off (`host[:port]`, port when non-default).
    pub host_header: HeaderValue,
    /// Extra attempts after a failed connect.
    pub retries: u32,
    /// The address when the host is an IP literal (no DNS needed).
    pub ip: Option<IpAddr>,
    /// The upstream when the host names one: targets are picked by it.
    pub balancer: Option<Arc<balancer::Balancer>>,
    /// The peer at the service's address (a placeholder until resolved unless `ip`): shared
    /// as it is when the address is fixed, copied per attempt otherwise.
    template: Arc<HttpPeer>,
}

/// Concurrent requests one HTTP/2 connection to a gRPC service carries.
const GRPC_STREAMS: usize = 100;

/// A pool key for a set of CA certificates.
fn group_key(ca_ids: &[String]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    ca_ids.hash(&mut h);
    h.finish() | 1
}

impl ServicePeer {
    /// Compiles a validated service (its host, port and CA ids were checked).
    pub fn new(
        svc: &Service,
        cas: &[CaCertificate],
        balancer: Option<Arc<balancer::Balancer>>,
    ) -> ServicePeer {
        let tls = svc.protocol.is_tls();
        let bare = svc.host.trim_start_matches('[').trim_end_matches(']');
        let ip = bare.parse::<IpAddr>().ok();
        // The address is a placeholder; `peer()` fills in the resolved one.
        let placeholder = SocketAddr::new(ip.unwrap_or(IpAddr::from([0, 0, 0, 0])), svc.port);
        // The SNI only matters over TLS; left empty otherwise, the per-attempt copy of the
        // peer allocates nothing for it.
        let sni = if tls { bare.to_string() } else { String::new() };
        let mut peer = HttpPeer::new(placeholder, tls, sni);
        let o = &mut peer.options;
        o.connection_timeout = Some(Duration::from_millis(svc.connect_timeout));
        o.total_connection_timeout = Some(Duration::from_millis(svc.connect_timeout));
        o.read_timeout = Some(Duration::from_millis(svc.read_timeout));
        o.write_timeout = Some(Duration::from_millis(svc.write_timeout));
        o.idle_timeout = Some(IDLE_TIMEOUT);
        if svc.protocol.is_grpc() {
            // gRPC is HTTP/2 only: ALPN h2 over TLS, prior knowledge (h2c) without; streams
            // of many requests share one connection.
            o.set_http_version(2, 2);
            o.max_h2_streams = GRPC_STREAMS;
        }
        let verify = svc.tls_verify.unwrap_or(true);
        o.verify_cert = verify;
        o.verify_hostname = verify;
        if let Some(ids) = &svc.ca_certificates {
            o.ca = Some(trust::trust(ids, cas));
            // Pingora's pool key leaves the CA out: keep connections verified against one
            // trust set from being reused by a service that trusts another.
            peer.group_key = group_key(ids);
        }
        // The template is final from here: its pool key hashed once (Pingora patch 47); the
        // per-attempt copies (`peer`) hash their own fields.
        peer.freeze_reuse_hash();
        ServicePeer {
            id: svc.id.clone(),
            name: svc.name.clone(),
            host: bare.to_string(),
            port: svc.port,
            base_path: svc.path.clone(),
            base_bytes: match &svc.path {
                Some(p) => bytes::Bytes::from_owner(p.clone().into_bytes()),
                None => bytes::Bytes::from_static(b"/"),
            },
            host_header: svc.host_header.clone(),
            retries: svc.retries,
            ip,
            balancer,
            template: Arc::new(peer),
        }
    }

    /// The peer of every attempt, when the service's address is an IP literal and no upstream
    /// picks targets: made once, shared (Pingora patch 40), its address the service's.
    pub fn fixed_peer(&self) -> Option<&Arc<HttpPeer>> {
        (self.ip.is_some() && self.balancer.is_none()).then_some(&self.template)
    }

    /// A peer for one attempt, at the given address.
    pub fn peer(&self, addr: SocketAddr) -> Box<HttpPeer> {
        let mut p = HttpPeer::clone(&self.template);
        p._address = pingora::protocols::l4::socket::SocketAddr::Inet(addr);
        Box::new(p)
    }

    /// A peer for one attempt at a target of the service's upstream (its host is the SNI).
    pub fn member_peer(&self, m: &balancer::Member) -> Box<HttpPeer> {
        let mut p = self.peer(m.addr);
        if p.is_tls() {
            p.sni.clone_from(&m.host);
        }
        p
    }
}
