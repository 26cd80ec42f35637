//! Key material checked at load, never per request: CA bundles for upstream TLS and the
//! public keys of JWT credentials.

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

/// Checks that an asymmetric JWT credential carries a public key that parses.
pub fn check_public_key(algorithm: &str, key: Option<&str>) -> Result<(), String> {
    use crate::plugins::{jwt::keyring::Credential, Consumer};
    if key.is_none() && matches!(&algorithm[..2], "RS" | "PS" | "ES" | "Ed") {
        return Err(format!(
            "required field missing (algorithm {algorithm} needs a public key)"
        ));
    }
    let nobody = std::sync::Arc::new(Consumer {
        id: String::new(),
        username: None,
        custom_id: None,
    });
    let kind = match &algorithm[..2] {
        "ES" => "EC",
        "Ed" => "Ed25519",
        _ => "RSA",
    };
    Credential::new("", "", "", algorithm, key, nobody)
        .map(|_| ())
        .map_err(|_| format!("invalid key: not a PEM-encoded {kind} public key"))
}
