//! What the demo's users and orders services share: reading the identity the gateway let
//! through (the JWT payload; the gateway already verified the signature), JSON data files,
//! and a tiny HTTP server (plain or TLS) on hyper.

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::future::Future;
use std::sync::Arc;

/// Who is calling: the claims of the bearer token the gateway verified.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: i64,
    pub email: String,
    pub is_admin: bool,
}

/// The caller named by the `Authorization: Bearer <jwt>` header, if its payload carries
/// `userId`, `email` and `isAdmin`.
pub fn caller<B>(req: &Request<B>) -> Option<Caller> {
    use base64::Engine;
    let auth = req.headers().get("authorization")?.to_str().ok()?;
    let token = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("bearer "))?;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    Some(Caller {
        user_id: claims.get("userId")?.as_i64()?,
        email: claims.get("email")?.as_str()?.to_string(),
        is_admin: claims.get("isAdmin")?.as_bool()?,
    })
}

/// Loads a JSON array from a file.
pub fn load(path: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path} is not a JSON array: {e}"))
}

/// A JSON response.
pub fn json(status: u16, body: &Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap_or_default()
}

/// A plain-text response.
pub fn text(status: u16, body: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap_or_default()
}

/// The request path without the route prefix the gateway may or may not have stripped
/// (`/users/3` and `/3` both become `["3"]`).
pub fn segments<'a, B>(req: &'a Request<B>, prefix: &str) -> Vec<&'a str> {
    let path = req.uri().path();
    let path = path.strip_prefix(prefix).unwrap_or(path);
    path.split('/').filter(|s| !s.is_empty()).collect()
}

/// A self-signed certificate for `localhost`/127.0.0.1; returns the TLS config and the
/// certificate's PEM (which the gateway is given as a trusted CA).
pub fn self_signed() -> (Arc<rustls::ServerConfig>, String) {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).expect("params");
    params
        .subject_alt_names
        .push(rcgen::SanType::IpAddress([127, 0, 0, 1].into()));
    params.is_ca = rcgen::IsCa::ExplicitNoCa;
    let cert = params.self_signed(&key).expect("cert");
    let der = rustls::pki_types::CertificateDer::from(cert.der().to_vec());
    let pk = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).expect("private key");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![der], pk)
        .expect("tls config");
    (Arc::new(cfg), cert.pem())
}

/// Serves `handler` on `addr` (TLS when `tls` is given) until the process ends.
pub async fn serve<F, Fut>(addr: &str, tls: Option<Arc<rustls::ServerConfig>>, handler: F)
where
    F: Fn(Request<hyper::body::Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .unwrap_or_else(|e| panic!("cannot listen on {addr}: {e}"));
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let handler = handler.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let h = handler.clone();
                async move { Ok::<_, std::convert::Infallible>(h(req).await) }
            });
            let http = hyper::server::conn::http1::Builder::new();
            match acceptor {
                Some(a) => {
                    if let Ok(stream) = a.accept(tcp).await {
                        let _ = http.serve_connection(TokioIo::new(stream), svc).await;
                    }
                }
                None => {
                    let _ = http.serve_connection(TokioIo::new(tcp), svc).await;
                }
            }
        });
    }
}
