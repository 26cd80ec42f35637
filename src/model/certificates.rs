//! Kong's `certificates` and `snis`: the certificates the proxy's TLS listeners serve, each
//! parsed into a ready-to-serve key at load, and the lookup from a client's SNI to one of
//! them (exact name first, then one wildcard label at the start, then at the end, as Kong).

use rustls::sign::CertifiedKey;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;

/// A certificate (PEM chain and key), with the key ready for handshakes.
#[derive(Debug, Clone, Serialize)]
pub struct ServerCertificate {
    pub id: String,
    pub cert: String,
    /// Shown redacted by the admin API.
    pub key: String,
    pub cert_alt: Option<String>,
    pub key_alt: Option<String>,
    pub tags: Option<Vec<String>>,
    #[serde(skip)]
    pub certified: Option<Arc<CertifiedKey>>,
}

/// A server name served with a certificate (index into `Model::certificates`).
#[derive(Debug, Clone, Serialize)]
pub struct Sni {
    pub id: String,
    pub name: String,
    #[serde(skip)]
    pub certificate: usize,
    pub tags: Option<Vec<String>>,
}

/// SNI -> certificate index, built once per snapshot.
#[derive(Debug, Default)]
pub struct CertIndex {
    names: HashMap<String, usize>,
}

impl CertIndex {
    pub fn new(snis: &[Sni]) -> CertIndex {
        CertIndex {
            names: snis
                .iter()
                .map(|s| (s.name.to_ascii_lowercase(), s.certificate))
                .collect(),
        }
    }

    /// The certificate for a client's server name: the exact name, else `*.` + the name
    /// without its first label (when at least two labels remain), else the name without its
    /// last label + `.*` (Kong's runloop/certificate.lua).
    pub fn find(&self, server_name: &str) -> Option<usize> {
        if self.names.is_empty() {
            return None;
        }
        let name = server_name.to_ascii_lowercase();
        if let Some(i) = self.names.get(&name) {
            return Some(*i);
        }
        if let Some((_, rest)) = name.split_once('.').filter(|(_, rest)| rest.contains('.')) {
            if let Some(i) = self.names.get(&format!("*.{rest}")) {
                return Some(*i);
            }
        }
        let (head, _) = name.rsplit_once('.')?;
        self.names.get(&format!("{head}.*")).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sni(name: &str, certificate: usize) -> Sni {
        Sni {
            id: String::new(),
            name: name.into(),
            certificate,
            tags: None,
        }
    }

    #[test]
    fn exact_then_leading_then_trailing_wildcard() {
        let idx = CertIndex::new(&[
            sni("api.example.com", 0),
            sni("*.example.com", 1),
            sni("shop.*", 2),
            sni("*.test", 3),
        ]);
        assert_eq!(idx.find("API.example.com"), Some(0));
        assert_eq!(idx.find("www.example.com"), Some(1));
        assert_eq!(idx.find("a.b.example.com"), None);
        assert_eq!(idx.find("shop.test"), Some(2));
        // `*.test` is never looked up: Kong makes a leading wildcard only over two labels.
        assert_eq!(idx.find("other.test"), None);
    }
}
