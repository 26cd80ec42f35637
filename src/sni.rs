//! The certificate the proxy's TLS listeners present to each client: the running config's
//! certificate for the client's server name (Kong's `certificates` and `snis`, swapped with
//! every reload), else the node's `ssl_cert`; and the server name each client sent, kept with
//! its connection for routes' `snis`.

use crate::router::ClientServerName;
use crate::state::State;
use async_trait::async_trait;
use pingora::listeners::TlsAccept;
use pingora::protocols::tls::TlsRef;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::sync::Arc;

pub struct SniResolver {
    state: Arc<State>,
    default: Option<Arc<CertifiedKey>>,
}

impl SniResolver {
    pub fn new(state: Arc<State>, default: Option<Arc<CertifiedKey>>) -> SniResolver {
        SniResolver { state, default }
    }
}

impl std::fmt::Debug for SniResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SniResolver")
            .field("default", &self.default.is_some())
            .finish()
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        hello
            .server_name()
            .and_then(|name| self.state.load().certificate_for(name))
            .or_else(|| self.default.clone())
    }
}

/// Keeps the server name of each TLS handshake on its connection (`SslDigest::extension`).
pub struct ServerNameKeeper;

#[async_trait]
impl TlsAccept for ServerNameKeeper {
    async fn handshake_complete_callback(
        &self,
        ssl: &TlsRef,
    ) -> Option<Arc<dyn std::any::Any + Send + Sync>> {
        let name = ssl.server_name()?;
        Some(Arc::new(ClientServerName(name.into())))
    }
}
