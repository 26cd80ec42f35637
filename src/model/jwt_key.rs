//! Key material of JWT credentials, decoded and parsed once at validation: the algorithm as
//! an enum and the verifier of its secret or public key.

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Serialize;

/// The algorithms a JWT credential (and a token) may name, as Kong spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum JwtAlgorithm {
    HS256,
    HS384,
    HS512,
    RS256,
    RS384,
    RS512,
    ES256,
    ES384,
    ES512,
    PS256,
    PS384,
    PS512,
    EdDSA,
}

impl JwtAlgorithm {
    /// Every algorithm, in Kong's order.
    pub const ALL: [JwtAlgorithm; 13] = [
        JwtAlgorithm::HS256,
        JwtAlgorithm::HS384,
        JwtAlgorithm::HS512,
        JwtAlgorithm::RS256,
        JwtAlgorithm::RS384,
        JwtAlgorithm::RS512,
        JwtAlgorithm::ES256,
        JwtAlgorithm::ES384,
        JwtAlgorithm::ES512,
        JwtAlgorithm::PS256,
        JwtAlgorithm::PS384,
        JwtAlgorithm::PS512,
        JwtAlgorithm::EdDSA,
    ];

    /// Kong's name (`HS256`).
    pub fn name(self) -> &'static str {
        match self {
            JwtAlgorithm::HS256 => "HS256",
            JwtAlgorithm::HS384 => "HS384",
            JwtAlgorithm::HS512 => "HS512",
            JwtAlgorithm::RS256 => "RS256",
            JwtAlgorithm::RS384 => "RS384",
            JwtAlgorithm::RS512 => "RS512",
            JwtAlgorithm::ES256 => "ES256",
            JwtAlgorithm::ES384 => "ES384",
            JwtAlgorithm::ES512 => "ES512",
            JwtAlgorithm::PS256 => "PS256",
            JwtAlgorithm::PS384 => "PS384",
            JwtAlgorithm::PS512 => "PS512",
            JwtAlgorithm::EdDSA => "EdDSA",
        }
    }

    /// The algorithm a name denotes.
    pub fn parse(name: &str) -> Option<JwtAlgorithm> {
        JwtAlgorithm::ALL.into_iter().find(|a| a.name() == name)
    }

    /// `jsonwebtoken`'s algorithm (ES512 has none there: aws-lc-rs verifies it).
    pub fn jsonwebtoken(self) -> Option<Algorithm> {
        Some(match self {
            JwtAlgorithm::HS256 => Algorithm::HS256,
            JwtAlgorithm::HS384 => Algorithm::HS384,
            JwtAlgorithm::HS512 => Algorithm::HS512,
            JwtAlgorithm::RS256 => Algorithm::RS256,
            JwtAlgorithm::RS384 => Algorithm::RS384,
            JwtAlgorithm::RS512 => Algorithm::RS512,
            JwtAlgorithm::PS256 => Algorithm::PS256,
            JwtAlgorithm::PS384 => Algorithm::PS384,
            JwtAlgorithm::PS512 => Algorithm::PS512,
            JwtAlgorithm::ES256 => Algorithm::ES256,
            JwtAlgorithm::ES384 => Algorithm::ES384,
            JwtAlgorithm::EdDSA => Algorithm::EdDSA,
            JwtAlgorithm::ES512 => return None,
        })
    }

    /// HMAC with a shared secret.
    pub fn is_hmac(self) -> bool {
        matches!(
            self,
            JwtAlgorithm::HS256 | JwtAlgorithm::HS384 | JwtAlgorithm::HS512
        )
    }

    /// The kind of public key the algorithm verifies with (None for HMAC).
    fn key_kind(self) -> Option<&'static str> {
        match self.name().get(..2) {
            Some("HS") => None,
            Some("ES") => Some("EC"),
            Some("Ed") => Some("Ed25519"),
            _ => Some("RSA"),
        }
    }
}

/// How a credential's signatures are checked.
pub enum Verifier {
    /// HS*: the secret's HMAC key (its inner and outer hash states) made once, at load.
    Hmac(JwtAlgorithm, Box<aws_lc_rs::hmac::Key>),
    /// Any algorithm `jsonwebtoken` implements.
    Jwt(DecodingKey),
    /// ES512 (P-521), which `jsonwebtoken` lacks: the raw public point for aws-lc-rs.
    Es512(Vec<u8>),
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verifier::Hmac(..) => "Verifier::Hmac",
            Verifier::Jwt(_) => "Verifier::Jwt",
            Verifier::Es512(_) => "Verifier::Es512",
        })
    }
}

impl Verifier {
    /// Checks `signature` (base64url) over `message`. Any malformed input is `false`.
    pub fn verify(&self, alg: JwtAlgorithm, message: &[u8], signature: &str) -> bool {
        self.verify_signature(alg, message, &Signature::new(signature))
    }

    /// As [`Verifier::verify`], for a signature already read.
    pub fn verify_signature(&self, alg: JwtAlgorithm, message: &[u8], sig: &Signature) -> bool {
        let signature = sig.text;
        match (self, alg.jsonwebtoken()) {
            (Verifier::Hmac(key_alg, key), _) if *key_alg == alg => sig
                .bytes()
                .is_some_and(|s| aws_lc_rs::hmac::verify(key, message, s).is_ok()),
            (Verifier::Jwt(key), Some(alg)) => {
                jsonwebtoken::crypto::verify(signature, message, key, alg).unwrap_or(false)
            }
            (Verifier::Es512(point), None) => {
                use aws_lc_rs::signature::{UnparsedPublicKey, ECDSA_P521_SHA512_FIXED};
                let Some(sig) = decode_b64url(signature) else {
                    return false;
                };
                UnparsedPublicKey::new(&ECDSA_P521_SHA512_FIXED, point)
                    .verify(message, &sig)
                    .is_ok()
            }
            _ => false,
        }
    }
}

/// A token's signature part, decoded once as `jsonwebtoken` decodes it (base64url without
/// padding) when that gives at most 96 bytes (an HMAC is at most 64).
#[derive(Debug)]
pub struct Signature<'a> {
    /// The part as the token has it.
    pub text: &'a str,
    bytes: [u8; 96],
    len: Option<usize>,
}

impl<'a> Signature<'a> {
    /// Reads the signature part `text`.
    pub fn new(text: &'a str) -> Self {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut bytes = [0u8; 96];
        let len = URL_SAFE_NO_PAD.decode_slice(text, &mut bytes).ok();
        Signature { text, bytes, len }
    }

    /// The decoded bytes (`None`: not unpadded base64url, or longer than 96 bytes).
    pub fn bytes(&self) -> Option<&[u8]> {
        self.len.and_then(|n| self.bytes.get(..n))
    }

    /// Whether the part decodes as [`decode_b64url`] decodes (any base64 Kong reads).
    pub fn decodes(&self) -> bool {
        self.len.is_some() || is_b64url(self.text)
    }
}

/// The ways a base64url part is read, tried in order: base64url without its padding, then
/// the standard alphabet (padded or not).
fn b64_readings(s: &str) -> [(&'static base64::engine::GeneralPurpose, &str); 2] {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    [(&URL_SAFE_NO_PAD, s.trim_end_matches('=')), (&STANDARD, s)]
}

/// Decodes base64url (as [`decode_b64url`] does) onto the end of `out`; `None` (with `out`
/// as it was) when the text is not base64.
pub fn decode_b64url_into(s: &str, out: &mut Vec<u8>) -> Option<()> {
    use base64::Engine;
    let len = out.len();
    for (engine, text) in b64_readings(s) {
        if engine.decode_vec(text, out).is_ok() {
            return Some(());
        }
        out.truncate(len);
    }
    None
}

/// Whether `s` decodes as [`decode_b64url`] decodes (without keeping the bytes: signatures up
/// to 768 bytes are decoded on the stack).
pub fn is_b64url(s: &str) -> bool {
    use base64::Engine;
    let mut buf = [0u8; 768];
    b64_readings(s)
        .iter()
        .any(|(engine, text)| engine.decode_slice(text, &mut buf).is_ok())
        || (s.len() > buf.len() && decode_b64url(s).is_some())
}

/// Decodes base64url, with or without padding, falling back to the standard alphabet.
pub fn decode_b64url(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    decode_b64url_into(s, &mut out).map(|()| out)
}

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

/// The verifiers of one credential.
#[derive(Debug)]
pub struct KeyMaterial {
    /// The verifier for the secret as written (HS*) or the public key.
    pub verifier: Option<Verifier>,
    /// HS* only: the verifier when the plugin says `secret_is_base64` (None: not base64).
    pub verifier_b64: Option<Verifier>,
}

impl KeyMaterial {
    /// Prepares the verifiers of a credential; asymmetric algorithms need a PEM public key
    /// that parses. The error names the field's problem as `config check` shows it.
    pub fn parse(
        alg: JwtAlgorithm,
        secret: &str,
        public_key: Option<&str>,
    ) -> Result<KeyMaterial, String> {
        let Some(kind) = alg.key_kind() else {
            let hmac = |secret: &[u8]| {
                use aws_lc_rs::hmac::{Key, HMAC_SHA256, HMAC_SHA384, HMAC_SHA512};
                let digest = match alg {
                    JwtAlgorithm::HS384 => HMAC_SHA384,
                    JwtAlgorithm::HS512 => HMAC_SHA512,
                    _ => HMAC_SHA256,
                };
                Verifier::Hmac(alg, Box::new(Key::new(digest, secret)))
            };
            return Ok(KeyMaterial {
                verifier: Some(hmac(secret.as_bytes())),
                verifier_b64: decode_b64url(secret).map(|bytes| hmac(&bytes)),
            });
        };
        let Some(pem) = public_key else {
            return Err(format!(
                "required field missing (algorithm {} needs a public key)",
                alg.name()
            ));
        };
        let invalid = |_| format!("invalid key: not a PEM-encoded {kind} public key");
        let verifier = if alg == JwtAlgorithm::ES512 {
            Verifier::Es512(es512_point(pem).map_err(invalid)?)
        } else {
            let k = match kind {
                "RSA" => DecodingKey::from_rsa_pem(pem.as_bytes()),
                "EC" => DecodingKey::from_ec_pem(pem.as_bytes()),
                _ => DecodingKey::from_ed_pem(pem.as_bytes()),
            };
            Verifier::Jwt(k.map_err(|e| invalid(e.to_string()))?)
        };
        Ok(KeyMaterial {
            verifier: Some(verifier),
            verifier_b64: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_keys_made_once_verify_as_jsonwebtoken_does() {
        use jsonwebtoken::{encode, EncodingKey, Header};
        let claims = serde_json::json!({ "iss": "k" });
        for (alg, jwt_alg) in [
            (JwtAlgorithm::HS256, Algorithm::HS256),
            (JwtAlgorithm::HS384, Algorithm::HS384),
            (JwtAlgorithm::HS512, Algorithm::HS512),
        ] {
            let token = encode(
                &Header::new(jwt_alg),
                &claims,
                &EncodingKey::from_secret(b"s3cret"),
            )
            .expect("token");
            let (input, sig) = token.rsplit_once('.').expect("three parts");
            let material = KeyMaterial::parse(alg, "s3cret", None).expect("material");
            let v = material.verifier.expect("verifier");
            assert!(v.verify(alg, input.as_bytes(), sig), "{alg:?}");
            let via_jsonwebtoken = Verifier::Jwt(DecodingKey::from_secret(b"s3cret"));
            assert!(via_jsonwebtoken.verify(alg, input.as_bytes(), sig));
            // another secret, another message, another algorithm, a padded or empty signature
            let other = KeyMaterial::parse(alg, "other", None).expect("material");
            assert!(!other
                .verifier
                .expect("v")
                .verify(alg, input.as_bytes(), sig));
            assert!(!v.verify(alg, b"tampered", sig));
            let wrong = if alg == JwtAlgorithm::HS256 {
                JwtAlgorithm::HS512
            } else {
                JwtAlgorithm::HS256
            };
            assert!(!v.verify(wrong, input.as_bytes(), sig));
            assert!(!v.verify(alg, input.as_bytes(), &format!("{sig}=")));
            assert!(!v.verify(alg, input.as_bytes(), ""));
        }
        // secret_is_base64: the decoded secret is the key
        let material = KeyMaterial::parse(JwtAlgorithm::HS256, "czNjcmV0", None).expect("m");
        let token = encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(b"s3cret"),
        )
        .expect("token");
        let (input, sig) = token.rsplit_once('.').expect("three parts");
        let b64 = material.verifier_b64.expect("base64 verifier");
        assert!(b64.verify(JwtAlgorithm::HS256, input.as_bytes(), sig));
    }

    #[test]
    fn names_round_trip_and_keys_are_required_where_asymmetric() {
        for a in JwtAlgorithm::ALL {
            assert_eq!(JwtAlgorithm::parse(a.name()), Some(a));
        }
        assert_eq!(JwtAlgorithm::parse("HS999"), None);
        assert!(KeyMaterial::parse(JwtAlgorithm::HS256, "s", None).is_ok());
        let e = KeyMaterial::parse(JwtAlgorithm::RS256, "", None).err();
        assert!(e.is_some_and(|e| e.starts_with("required field missing")));
        let e = KeyMaterial::parse(JwtAlgorithm::ES256, "", Some("nope")).err();
        assert_eq!(
            e.as_deref(),
            Some("invalid key: not a PEM-encoded EC public key")
        );
    }
}
