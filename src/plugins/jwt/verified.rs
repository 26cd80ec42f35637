//! Tokens a `jwt` instance has verified, kept by their exact text in a cache bounded by bytes:
//! a token seen again skips base64, JSON and the signature, and only its time claims are
//! checked again (they depend on the clock, nothing else does).

use super::keyring::Credential;
use super::token::Object;
use quick_cache::sync::Cache;
use quick_cache::Weighter;
use std::sync::Arc;

/// Bytes of verified tokens one plugin instance keeps (keys and entries together).
pub const CAPACITY_BYTES: u64 = 1 << 20;
/// A token longer than this is verified every time, never kept.
pub const LONGEST_KEPT: usize = 8 * 1024;
/// What an entry costs beside its token's text (the map slot, the credential handle, the
/// claims and the cache's bookkeeping), counted against [`CAPACITY_BYTES`].
const ENTRY_BYTES: u64 = 96;

/// The registered time claims of a token, as numbers (`None`: absent or not a number).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TimeClaims {
    /// `exp`.
    pub exp: Option<f64>,
    /// `nbf`.
    pub nbf: Option<f64>,
}

impl TimeClaims {
    /// Reads `exp` and `nbf` from a token's claims.
    pub fn read(payload: &Object<'_>) -> TimeClaims {
        TimeClaims {
            exp: payload.number("exp"),
            nbf: payload.number("nbf"),
        }
    }

    /// The claim `name` (`exp` or `nbf`; the config allows no other).
    pub fn get(&self, name: &str) -> Option<f64> {
        match name {
            "exp" => self.exp,
            "nbf" => self.nbf,
            _ => None,
        }
    }
}

/// What a verified token established: whose it is, and its time claims.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The credential whose key and algorithm the token named and whose secret signed it.
    pub credential: Arc<Credential>,
    /// Its time claims, checked against the clock on every request.
    pub claims: TimeClaims,
}

#[derive(Debug, Clone)]
struct ByLength;

impl Weighter<Box<str>, Verified> for ByLength {
    fn weight(&self, token: &Box<str>, _: &Verified) -> u64 {
        token.len() as u64 + ENTRY_BYTES
    }
}

/// The verified tokens of one plugin instance (it lives and dies with the instance, so with
/// the snapshot whose keyring verified them).
pub struct VerifiedTokens {
    cache: Cache<Box<str>, Verified, ByLength>,
}

impl std::fmt::Debug for VerifiedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedTokens")
            .field("entries", &self.cache.len())
            .field("bytes", &self.cache.weight())
            .finish()
    }
}

impl Default for VerifiedTokens {
    fn default() -> Self {
        VerifiedTokens::with_capacity(CAPACITY_BYTES)
    }
}

impl VerifiedTokens {
    /// A cache holding up to `bytes` of tokens and entries (it allocates as it fills).
    pub fn with_capacity(bytes: u64) -> VerifiedTokens {
        let estimated = (bytes / (ENTRY_BYTES + 256)).max(1) as usize;
        VerifiedTokens {
            cache: Cache::with_weighter(estimated, bytes, ByLength),
        }
    }

    /// What `token` established when it was verified, if it is still kept.
    pub fn get(&self, token: &str) -> Option<Verified> {
        self.cache.get(token)
    }

    /// Keeps what verifying `token` established (unless the token is too long to keep).
    pub fn keep(&self, token: &str, credential: &Arc<Credential>, claims: TimeClaims) {
        if token.len() <= LONGEST_KEPT {
            let verified = Verified {
                credential: credential.clone(),
                claims,
            };
            self.cache.insert(token.into(), verified);
        }
    }

    /// Bytes held now, as the bound counts them.
    pub fn bytes(&self) -> u64 {
        self.cache.weight()
    }

    /// Tokens held now.
    pub fn len(&self) -> usize {
        self.cache.len()
    }

    /// Whether no token is held.
    pub fn is_empty(&self) -> bool {
        self.cache.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::Consumer;

    fn credential() -> Arc<Credential> {
        let consumer = Arc::new(Consumer {
            id: "c1".into(),
            username: Some("alice".into()),
            ..Consumer::default()
        });
        Arc::new(Credential::new("k1", "key", "secret", "HS256", None, consumer).expect("valid"))
    }

    #[test]
    fn a_kept_token_is_found_by_its_exact_text() {
        let tokens = VerifiedTokens::default();
        let cred = credential();
        let claims = TimeClaims {
            exp: Some(10.0),
            nbf: None,
        };
        tokens.keep("a.b.c", &cred, claims);
        let seen = tokens.get("a.b.c").expect("kept");
        assert!(Arc::ptr_eq(&seen.credential, &cred));
        assert_eq!(seen.claims, claims);
        assert!(tokens.get("a.b.d").is_none());
        assert!(tokens.get("a.b.c ").is_none());
    }

    #[test]
    fn long_tokens_are_not_kept() {
        let tokens = VerifiedTokens::default();
        let long = "x".repeat(LONGEST_KEPT + 1);
        tokens.keep(&long, &credential(), TimeClaims::default());
        assert!(tokens.is_empty());
    }

    #[test]
    fn the_bytes_held_stay_under_the_capacity() {
        let capacity = 64 * 1024;
        let tokens = VerifiedTokens::with_capacity(capacity);
        let cred = credential();
        for i in 0..5_000 {
            tokens.keep(&format!("{i:0>200}"), &cred, TimeClaims::default());
            assert!(tokens.bytes() <= capacity, "{} bytes held", tokens.bytes());
        }
        assert!(!tokens.is_empty());
        assert!(tokens.len() < 5_000);
    }
}
