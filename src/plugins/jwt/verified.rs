//! Tokens the `jwt` instances have verified, kept by instance and exact text in one cache for
//! the node, bounded by bytes: a token seen again by the instance that verified it skips
//! base64, JSON and the signature, and only its time claims are checked again (they depend on
//! the clock, nothing else does).

use super::keyring::Credential;
use super::token::Object;
use once_cell::sync::Lazy;
use quick_cache::sync::Cache;
use quick_cache::{Equivalent, Weighter};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Bytes of verified tokens the node keeps, all plugin instances together (keys and entries).
pub const CAPACITY_BYTES: u64 = 4 << 20;
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

/// An entry's key: the instance that verified the token, and the token.
#[derive(Debug, Hash, PartialEq, Eq)]
struct Key {
    instance: u64,
    token: Box<str>,
}

/// A key to look up without copying the token (it hashes as [`Key`] does: the same fields in
/// the same order, `&str` as `Box<str>`).
#[derive(Hash)]
struct Lookup<'a> {
    instance: u64,
    token: &'a str,
}

impl Equivalent<Key> for Lookup<'_> {
    fn equivalent(&self, key: &Key) -> bool {
        self.instance == key.instance && self.token == &*key.token
    }
}

#[derive(Debug, Clone)]
struct ByLength;

impl Weighter<Key, Verified> for ByLength {
    fn weight(&self, key: &Key, _: &Verified) -> u64 {
        key.token.len() as u64 + ENTRY_BYTES
    }
}

/// Verified tokens by instance, bounded by bytes ([`NODE`] is the node's).
pub struct VerifiedTokens {
    cache: Cache<Key, Verified, ByLength>,
}

impl std::fmt::Debug for VerifiedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedTokens")
            .field("entries", &self.cache.len())
            .field("bytes", &self.cache.weight())
            .finish()
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

    /// What `token` established when `instance` verified it, if it is still kept.
    fn get(&self, instance: u64, token: &str) -> Option<Verified> {
        self.cache.get(&Lookup { instance, token })
    }

    /// Keeps what verifying `token` established for `instance` (unless the token is too long
    /// to keep).
    fn keep(&self, instance: u64, token: &str, credential: &Arc<Credential>, claims: TimeClaims) {
        if token.len() <= LONGEST_KEPT {
            let verified = Verified {
                credential: credential.clone(),
                claims,
            };
            let token = token.into();
            self.cache.insert(Key { instance, token }, verified);
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

/// The node's verified tokens: however many jwt instances the config has, together they keep
/// at most [`CAPACITY_BYTES`]. An instance's tokens outlive it until evicted (never found
/// again: no later instance has its id).
static NODE: Lazy<VerifiedTokens> = Lazy::new(|| VerifiedTokens::with_capacity(CAPACITY_BYTES));

/// The next instance id.
static NEXT_INSTANCE: AtomicU64 = AtomicU64::new(0);

/// One jwt instance's tokens in a store (the node's, unless a test names another): it finds
/// only what it verified itself, so never what another instance or an earlier config (another
/// keyring, other settings) did.
pub struct InstanceTokens {
    id: u64,
    store: &'static VerifiedTokens,
}

impl std::fmt::Debug for InstanceTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstanceTokens")
            .field("id", &self.id)
            .finish()
    }
}

impl Default for InstanceTokens {
    fn default() -> Self {
        InstanceTokens::in_store(&NODE)
    }
}

impl InstanceTokens {
    /// A new instance's (empty) share of `store`.
    pub fn in_store(store: &'static VerifiedTokens) -> InstanceTokens {
        InstanceTokens {
            id: NEXT_INSTANCE.fetch_add(1, Ordering::Relaxed),
            store,
        }
    }

    /// What `token` established when this instance verified it, if it is still kept.
    pub fn get(&self, token: &str) -> Option<Verified> {
        self.store.get(self.id, token)
    }

    /// Keeps what verifying `token` established (unless the token is too long to keep).
    pub fn keep(&self, token: &str, credential: &Arc<Credential>, claims: TimeClaims) {
        self.store.keep(self.id, token, credential, claims);
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

    /// A store of its own for a test (leaked: a few per test run).
    fn store(bytes: u64) -> &'static VerifiedTokens {
        Box::leak(Box::new(VerifiedTokens::with_capacity(bytes)))
    }

    #[test]
    fn a_kept_token_is_found_by_its_exact_text() {
        let tokens = InstanceTokens::in_store(store(CAPACITY_BYTES));
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
    fn an_instance_never_finds_another_instances_tokens() {
        let node = store(CAPACITY_BYTES);
        let (first, second) = (
            InstanceTokens::in_store(node),
            InstanceTokens::in_store(node),
        );
        first.keep("a.b.c", &credential(), TimeClaims::default());
        assert!(first.get("a.b.c").is_some());
        assert!(
            second.get("a.b.c").is_none(),
            "kept by the first instance only"
        );
        assert_eq!(node.len(), 1);
    }

    #[test]
    fn long_tokens_are_not_kept() {
        let node = store(CAPACITY_BYTES);
        let long = "x".repeat(LONGEST_KEPT + 1);
        InstanceTokens::in_store(node).keep(&long, &credential(), TimeClaims::default());
        assert!(node.is_empty());
    }

    #[test]
    fn the_bytes_held_by_all_instances_stay_under_the_capacity() {
        let capacity = 64 * 1024;
        let node = store(capacity);
        let cred = credential();
        let instances: Vec<InstanceTokens> =
            (0..50).map(|_| InstanceTokens::in_store(node)).collect();
        for i in 0..5_000 {
            instances[i % 50].keep(&format!("{i:0>200}"), &cred, TimeClaims::default());
            assert!(node.bytes() <= capacity, "{} bytes held", node.bytes());
        }
        assert!(!node.is_empty());
        assert!(node.len() < 5_000);
    }
}
