//! Kong's `certificates` and `snis` at the TLS listener: the certificate a client is shown
//! follows its server name (exact, wildcard), the node's `ssl_cert` is the default, a reload
//! swaps certificates without a restart, and the admin API lists them with keys redacted.

mod common;
use common::{client, Gateway, Pki, Upstream};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::sync::Arc;
use std::time::Duration;

/// A CA of this test and a leaf certificate for `name` it signed: (cert PEM, key PEM).
struct TestCa {
    cert: rcgen::Certificate,
    key: rcgen::KeyPair,
}

impl TestCa {
    fn new() -> TestCa {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
        let key = KeyPair::generate().expect("ca key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).expect("ca");
        TestCa { cert, key }
    }

    fn leaf(&self, name: &str) -> (String, String) {
        let key = rcgen::KeyPair::generate().expect("key");
        let params = rcgen::CertificateParams::new(vec![name.to_string()]).expect("params");
        let cert = params.signed_by(&key, &self.cert, &self.key).expect("leaf");
        (cert.pem(), key.serialize_pem())
    }
}

/// The end-entity certificate the gateway shows a client asking for `sni` (verified against
/// `roots` and the name), or why the client refused it.
async fn try_shown(port: u16, sni: &str, roots: &[&str]) -> Result<Vec<u8>, String> {
    let mut store = rustls::RootCertStore::empty();
    for pem in roots {
        for c in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            store.add(c.expect("root")).expect("add root");
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(store)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let name = ServerName::try_from(sni.to_string()).expect("name");
    let tls = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_rustls::TlsConnector::from(Arc::new(cfg)).connect(name, tcp),
    )
    .await
    .expect("handshake within 10 s")
    .map_err(|e| e.to_string())?;
    let (_, conn) = tls.get_ref();
    Ok(conn.peer_certificates().expect("peer certificates")[0]
        .as_ref()
        .to_vec())
}

async fn shown(port: u16, sni: &str, roots: &[&str]) -> Vec<u8> {
    try_shown(port, sni, roots)
        .await
        .unwrap_or_else(|e| panic!("handshake for {sni}: {e}"))
}

fn der(pem: &str) -> Vec<u8> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()
        .expect("a certificate")
        .expect("pem")
        .as_ref()
        .to_vec()
}

fn indent(pem: &str) -> String {
    pem.lines()
        .map(|l| format!("      {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn config(up: &Upstream, certs: &[(&(String, String), &[&str])]) -> String {
    let mut yaml = format!(
        "_format_version: \"3.0\"\nservices:\n  - name: echo\n    url: {}\n    routes: [{{ paths: [/] }}]\ncertificates:\n",
        up.url("http")
    );
    for ((cert, key), snis) in certs {
        yaml.push_str(&format!(
            "  - cert: |\n{}\n    key: |\n{}\n    snis: [{}]\n",
            indent(cert),
            indent(key),
            snis.join(", ")
        ));
    }
    yaml
}

#[tokio::test]
async fn the_certificate_follows_the_server_name_and_reloads() {
    let pki = Pki::new();
    let ca = TestCa::new();
    let ca_pem = ca.cert.pem();
    let api = ca.leaf("api.example.test");
    let shop = ca.leaf("www.shop.test");
    let up = Upstream::http().await;
    let yaml = config(
        &up,
        &[(&api, &["api.example.test"]), (&shop, &["\"*.shop.test\""])],
    );
    let gw = Gateway::start_with(&yaml, Some(&pki)).await;
    let port = gw.tls_port.expect("tls port");
    let roots = [ca_pem.as_str(), pki.ca_pem.as_str()];

    assert_eq!(shown(port, "api.example.test", &roots).await, der(&api.0));
    assert_eq!(shown(port, "www.shop.test", &roots).await, der(&shop.0));
    // No certificate claims it: the node's ssl_cert.
    assert_eq!(shown(port, "localhost", &roots).await, der(&pki.cert_pem));

    // The admin API lists them, keys redacted.
    let certs = gw.admin_json("/certificates").await;
    let list = certs["data"].as_array().expect("data");
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["key"], "<redacted>");
    assert_eq!(list[0]["snis"], serde_json::json!(["api.example.test"]));
    let snis = gw.admin_json("/snis/api.example.test").await;
    assert_eq!(snis["certificate"]["id"], list[0]["id"]);
    let text = serde_json::to_string(&certs).expect("json");
    assert!(!text.contains("PRIVATE KEY"), "{text}");

    // A reload gives api.example.test a new certificate, without a restart.
    let api2 = ca.leaf("api.example.test");
    let version = gw.config_version().await;
    let r = client()
        .post(gw.admin("/config"))
        .header("content-type", "application/yaml")
        .body(config(&up, &[(&api2, &["api.example.test"])]))
        .send()
        .await
        .expect("post config");
    assert!(
        r.status().is_success(),
        "{}",
        r.text().await.unwrap_or_default()
    );
    gw.wait_config_version(version + 1).await;
    assert_eq!(shown(port, "api.example.test", &roots).await, der(&api2.0));
    // The wildcard's certificate is gone with it: the default (for localhost) is shown again,
    // which a client asking for www.shop.test refuses.
    let refused = try_shown(port, "www.shop.test", &roots)
        .await
        .expect_err("the default certificate does not name www.shop.test");
    assert!(refused.contains("localhost"), "{refused}");
}
