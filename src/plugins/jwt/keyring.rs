//! JWT credentials indexed by key, with secrets decoded and public keys parsed once, when the
//! snapshot is compiled, never per request.

use crate::plugins::Consumer;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey};
use std::collections::HashMap;
use std::sync::Arc;

/// How a credential's signatures are checked.
pub enum Verifier {
    /// Any algorithm `jsonwebtoken` implements.
    Jwt(DecodingKey),
    /// ES512 (P-521), which `jsonwebtoken` lacks: the raw public point for aws-lc-rs.
    Es512(Vec<u8>),
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verifier::Jwt(_) => "Verifier::Jwt",
            Verifier::Es512(_) => "Verifier::Es512",
        })
    }
}

impl Verifier {
    /// Checks `signature` (base64url) over `message`. Any malformed input is `false`.
    pub fn verify(&self, alg: Algorithm, message: &[u8], signature: &str) -> bool {
        match self {
            Verifier::Jwt(key) => {
                jsonwebtoken::crypto::verify(signature, message, key, alg).unwrap_or(false)
            }
            Verifier::Es512(point) => {
                use aws_lc_rs::signature::{UnparsedPublicKey, ECDSA_P521_SHA512_FIXED};
                let Some(sig) = decode_b64url(signature) else {
                    return false;
                };
                UnparsedPublicKey::new(&ECDSA_P521_SHA512_FIXED, point)
                    .verify(message, &sig)
                    .is_ok()
            }
        }
    }
}

/// One `jwt_secrets` entry, ready to verify tokens.
#[derive(Debug)]
pub struct Credential {
    /// The credential's id.
    pub id: String,
    /// The value the token's key claim carries.
    pub key: String,
    /// Kong's algorithm name, e.g. `HS256` or `ES512`.
    pub algorithm: String,
    /// The verifier for the secret as written (HS*) or the public key.
    pub verifier: Option<Verifier>,
    /// HS* only: the verifier when the plugin says `secret_is_base64` (None: not base64).
    pub verifier_b64: Option<Verifier>,
    /// Who the credential belongs to.
    pub consumer: Arc<Consumer>,
    /// The upstream identity headers a request authenticated by this credential carries.
    pub headers: super::IdentityHeaders,
}

/// Decodes base64url, with or without padding, falling back to the standard alphabet.
pub fn decode_b64url(s: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let trimmed = s.trim_end_matches('=');
    URL_SAFE_NO_PAD
        .decode(trimmed)
        .ok()
        .or_else(|| STANDARD.decode(s).ok())
}

/// Kong's algorithm names mapped to `jsonwebtoken`'s (ES512 has none there).
pub fn algorithm(name: &str) -> Option<Algorithm> {
    Some(match name {
        "HS256" => Algorithm::HS256,
        "HS384" => Algorithm::HS384,
        "HS512" => Algorithm::HS512,
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "EdDSA" => Algorithm::EdDSA,
        _ => return None,
    })
}

/// The algorithms a token may name.
pub const ALGORITHMS: [&str; 13] = [
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256",
    "ES384", "ES512", "EdDSA",
];

fn es512_point(pem: &str) -> Result<Vec<u8>, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::SubjectPublicKeyInfoDer;
    let der = SubjectPublicKeyInfoDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| format!("invalid key: {e}"))?;
    let (_, spki) =
        <x509_parser::x509::SubjectPublicKeyInfo as x509_parser::prelude::FromDer<_>>::from_der(
            der.as_ref(),
        )
        .map_err(|e| format!("invalid key: {e}"))?;
    Ok(spki.subject_public_key.data.to_vec())
}

impl Credential {
    /// Prepares a credential. `public_key` is the PEM of RS/PS/ES/EdDSA credentials.
    pub fn new(
        id: &str,
        key: &str,
        secret: &str,
        algorithm_name: &str,
        public_key: Option<&str>,
        consumer: Arc<Consumer>,
    ) -> Result<Credential, String> {
        let (verifier, verifier_b64) = match &algorithm_name[..2] {
            "HS" => {
                let plain = Verifier::Jwt(DecodingKey::from_secret(secret.as_bytes()));
                let b64 = decode_b64url(secret)
                    .map(|bytes| Verifier::Jwt(DecodingKey::from_secret(&bytes)));
                (Some(plain), b64)
            }
            _ => {
                let v = match (algorithm_name, public_key) {
                    (_, None) => None,
                    ("ES512", Some(pem)) => Some(Verifier::Es512(es512_point(pem)?)),
                    (a, Some(pem)) => {
                        let k = match &a[..2] {
                            "RS" | "PS" => DecodingKey::from_rsa_pem(pem.as_bytes()),
                            "ES" => DecodingKey::from_ec_pem(pem.as_bytes()),
                            _ => DecodingKey::from_ed_pem(pem.as_bytes()),
                        };
                        Some(Verifier::Jwt(k.map_err(|e| format!("invalid key: {e}"))?))
                    }
                };
                (v, None)
            }
        };
        Ok(Credential {
            id: id.to_string(),
            key: key.to_string(),
            algorithm: algorithm_name.to_string(),
            verifier,
            verifier_b64,
            headers: super::identity_headers(&consumer, Some(key)),
            consumer,
        })
    }
}

/// All credentials of a snapshot by key, and consumers by id and username (for `anonymous`).
#[derive(Debug, Default)]
pub struct Keyring {
    by_key: HashMap<String, Arc<Credential>>,
    consumers: HashMap<String, Arc<Consumer>>,
}

impl Keyring {
    /// Indexes credentials and consumers.
    pub fn new(credentials: Vec<Credential>, consumers: &[Arc<Consumer>]) -> Keyring {
        let mut index = HashMap::with_capacity(consumers.len() * 2);
        for c in consumers {
            index.insert(c.id.clone(), c.clone());
            if let Some(u) = &c.username {
                index.insert(u.clone(), c.clone());
            }
        }
        Keyring {
            by_key: credentials
                .into_iter()
                .map(|c| (c.key.clone(), Arc::new(c)))
                .collect(),
            consumers: index,
        }
    }

    /// The credential whose key is `key`.
    pub fn credential(&self, key: &str) -> Option<&Arc<Credential>> {
        self.by_key.get(key)
    }

    /// A consumer by id or username.
    pub fn consumer(&self, id_or_name: &str) -> Option<&Arc<Consumer>> {
        self.consumers.get(id_or_name)
    }
}
