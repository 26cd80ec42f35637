//! CA bundles for upstream TLS, decoded and checked at load, never per request.

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
