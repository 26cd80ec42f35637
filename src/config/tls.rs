//! TLS material decoded and checked at load, never per request: CA bundles for upstream
//! TLS, and the certificates (with their keys) the proxy's TLS listeners serve.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

/// Decodes every certificate of a PEM bundle to DER, checking each one parses as X.509.
pub fn pem_certificates(pem: &str) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    for (i, c) in CertificateDer::pem_slice_iter(pem.as_bytes()).enumerate() {
        let der = c.map_err(|e| format!("invalid PEM certificate #{}: {e}", i + 1))?;
        x509_parser::parse_x509_certificate(der.as_ref())
            .map_err(|e| format!("invalid X.509 certificate #{}: {e}", i + 1))?;
        out.push(der.as_ref().to_vec());
    }
    if out.is_empty() {
        return Err("no PEM certificate found (expected -----BEGIN CERTIFICATE-----)".into());
    }
    Ok(out)
}

/// A certificate chain and its private key (PEM), ready to serve: `(field, message)` names
/// what is wrong (Kong's "invalid certificate", "invalid key", "certificate does not match
/// key").
pub fn certified_key(
    cert: &str,
    key: &str,
) -> Result<std::sync::Arc<rustls::sign::CertifiedKey>, (&'static str, String)> {
    use rustls_pki_types::PrivateKeyDer;
    let chain: Vec<CertificateDer<'static>> = pem_certificates(cert)
        .map_err(|e| ("cert", format!("invalid certificate: {e}")))?
        .into_iter()
        .map(CertificateDer::from)
        .collect();
    let key = PrivateKeyDer::from_pem_slice(key.as_bytes())
        .map_err(|e| ("key", format!("invalid key: {e}")))?;
    let provider = rustls::crypto::ring::default_provider();
    let certified =
        rustls::sign::CertifiedKey::from_der(chain, key, &provider).map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => {
                ("cert", "certificate does not match key".to_string())
            }
            e => ("key", format!("invalid key: {e}")),
        })?;
    Ok(std::sync::Arc::new(certified))
}
