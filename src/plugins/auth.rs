//! What the authentication plugins share, as Kong's auth plugins do: the identity headers
//! sent upstream for a consumer, recording who authenticated, the anonymous consumer of the
//! "logical OR" flow, and the snapshot's [`Directory`] of consumers, API keys and basic-auth
//! credentials (looked up in O(1); keys by their SHA-256, so a lookup reveals nothing of a
//! key through timing).

use super::{Consumer, HeaderCase, RequestState};
use crate::error::GatewayError;
use http::HeaderValue;
use pingora::http::HeaderNames;
use std::collections::HashMap;
use std::sync::Arc;

static X_CONSUMER_ID_NAMES: HeaderNames = HeaderNames::new_static("x-consumer-id", "X-Consumer-ID");
const X_CONSUMER_ID: HeaderCase = &X_CONSUMER_ID_NAMES;
static X_CONSUMER_USERNAME_NAMES: HeaderNames =
    HeaderNames::new_static("x-consumer-username", "X-Consumer-Username");
const X_CONSUMER_USERNAME: HeaderCase = &X_CONSUMER_USERNAME_NAMES;
static X_CONSUMER_CUSTOM_ID_NAMES: HeaderNames =
    HeaderNames::new_static("x-consumer-custom-id", "X-Consumer-Custom-ID");
const X_CONSUMER_CUSTOM_ID: HeaderCase = &X_CONSUMER_CUSTOM_ID_NAMES;
static X_CREDENTIAL_IDENTIFIER_NAMES: HeaderNames =
    HeaderNames::new_static("x-credential-identifier", "X-Credential-Identifier");
const X_CREDENTIAL_IDENTIFIER: HeaderCase = &X_CREDENTIAL_IDENTIFIER_NAMES;
static X_ANONYMOUS_CONSUMER_NAMES: HeaderNames =
    HeaderNames::new_static("x-anonymous-consumer", "X-Anonymous-Consumer");
const X_ANONYMOUS_CONSUMER: HeaderCase = &X_ANONYMOUS_CONSUMER_NAMES;

/// Kong's upstream identity headers for a consumer, built once per credential (and for the
/// anonymous consumer) when the snapshot is compiled: `X-Consumer-*`, the credential's
/// identifier, and `X-Anonymous-Consumer`. A `None` value removes a header the client sent.
pub type IdentityHeaders = Arc<[(HeaderCase, Option<HeaderValue>)]>;

/// Builds the identity headers of a consumer authenticated by `credential` (or anonymous).
pub fn identity_headers(consumer: &Consumer, credential: Option<&str>) -> IdentityHeaders {
    let value = |v: &str| HeaderValue::from_str(v).ok();
    let anonymous = credential
        .is_none()
        .then(|| HeaderValue::from_static("true"));
    Arc::from(vec![
        (X_CONSUMER_ID, value(&consumer.id)),
        (
            X_CONSUMER_CUSTOM_ID,
            consumer.custom_id.as_deref().and_then(value),
        ),
        (
            X_CONSUMER_USERNAME,
            consumer.username.as_deref().and_then(value),
        ),
        (X_CREDENTIAL_IDENTIFIER, credential.and_then(value)),
        (X_ANONYMOUS_CONSUMER, anonymous),
    ])
}

/// Records the authenticated consumer for the upstream and for later plugins.
pub fn identify(
    state: &mut RequestState,
    consumer: &Arc<Consumer>,
    credential: Option<&Arc<str>>,
    headers: &IdentityHeaders,
) {
    state.identity = Some(headers.clone());
    state.consumer = Some(consumer.clone());
    state.credential = credential.cloned();
}

/// The anonymous consumer of an auth plugin, resolved when the snapshot is compiled.
#[derive(Debug, Clone)]
pub enum Anonymous {
    /// No `anonymous`: a failed authentication is answered.
    Off,
    /// The consumer requests that fail authentication continue as.
    As(Arc<Consumer>, IdentityHeaders),
    /// `anonymous` names no consumer: Kong's 500 for such requests.
    Missing(String),
}

impl Anonymous {
    /// Resolves `anonymous` (an id or username) in the directory.
    pub fn resolve(anonymous: Option<&str>, directory: &Directory) -> Anonymous {
        match anonymous {
            None => Anonymous::Off,
            Some(a) => match directory.consumer(a) {
                Some(c) => Anonymous::As(c.clone(), identity_headers(c, None)),
                None => Anonymous::Missing(a.to_string()),
            },
        }
    }

    /// The "logical OR" flow: with `anonymous` set, a request another auth plugin already
    /// authenticated with a credential passes untouched.
    pub fn already_authenticated(&self, state: &RequestState) -> bool {
        !matches!(self, Anonymous::Off) && state.consumer.is_some() && state.credential.is_some()
    }

    /// Kong's flow around one authentication attempt: skipped when another plugin already
    /// authenticated (with `anonymous` set); on failure, the anonymous consumer or the
    /// refusal.
    pub fn around(
        &self,
        state: &mut RequestState,
        authenticate: impl FnOnce(&mut RequestState) -> Result<(), GatewayError>,
    ) -> Result<(), GatewayError> {
        if self.already_authenticated(state) {
            return Ok(());
        }
        match authenticate(state) {
            Ok(()) => Ok(()),
            Err(refusal) => self.fall_back(state, refusal),
        }
    }

    /// After a failed authentication: continue as the anonymous consumer, or answer
    /// `refusal` (no `anonymous`), or Kong's 500 (an `anonymous` that names nobody).
    pub fn fall_back(
        &self,
        state: &mut RequestState,
        refusal: GatewayError,
    ) -> Result<(), GatewayError> {
        match self {
            Anonymous::Off => Err(refusal),
            Anonymous::As(consumer, headers) => {
                identify(state, consumer, None, headers);
                Ok(())
            }
            Anonymous::Missing(a) => Err(GatewayError::refused(
                500,
                format!("anonymous consumer {a} is configured but doesn't exist"),
            )),
        }
    }
}

/// A key-auth credential, ready to authenticate.
#[derive(Debug)]
pub struct ApiKey {
    /// Who the key belongs to.
    pub consumer: Arc<Consumer>,
    /// The credential's id (Kong's `X-Credential-Identifier` for key-auth).
    pub id: Arc<str>,
    /// The upstream identity headers of a request authenticated by it.
    pub headers: IdentityHeaders,
}

/// A basic-auth credential, ready to authenticate.
#[derive(Debug)]
pub struct Password {
    /// The username (Kong's `X-Credential-Identifier` for basic-auth).
    pub username: Arc<str>,
    /// Who the credential belongs to.
    pub consumer: Arc<Consumer>,
    /// Hex SHA-1 of the password and the consumer id (Kong's stored form).
    pub hash: String,
    /// The upstream identity headers of a request authenticated by it.
    pub headers: IdentityHeaders,
}

/// A map filled from the config and probed by requests (foldhash: requests cannot add keys,
/// so they cannot make them collide).
type Index<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// The consumers and credentials of one snapshot.
#[derive(Debug, Default)]
pub struct Directory {
    consumers: Index<String, Arc<Consumer>>,
    keys: Index<[u8; 32], Arc<ApiKey>>,
    passwords: Index<String, Arc<Password>>,
}

/// SHA-256 of an API key: what the directory is keyed by.
fn key_digest(key: &str) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

impl Directory {
    /// Indexes consumers by id and username, API keys and basic-auth usernames.
    pub fn new(
        consumers: &[Arc<Consumer>],
        keys: impl IntoIterator<Item = (String, ApiKey)>,
        passwords: impl IntoIterator<Item = (String, Password)>,
    ) -> Directory {
        let mut index = Index::with_capacity_and_hasher(consumers.len() * 2, Default::default());
        for c in consumers {
            index.insert(c.id.clone(), c.clone());
            if let Some(u) = &c.username {
                index.insert(u.clone(), c.clone());
            }
        }
        Directory {
            consumers: index,
            keys: keys
                .into_iter()
                .map(|(k, v)| (key_digest(&k), Arc::new(v)))
                .collect(),
            passwords: passwords
                .into_iter()
                .map(|(u, p)| (u, Arc::new(p)))
                .collect(),
        }
    }

    /// A consumer by id or username.
    pub fn consumer(&self, id_or_name: &str) -> Option<&Arc<Consumer>> {
        self.consumers.get(id_or_name)
    }

    /// The credential of an API key.
    pub fn api_key(&self, key: &str) -> Option<&Arc<ApiKey>> {
        self.keys.get(&key_digest(key))
    }

    /// The basic-auth credential of a username, password unchecked.
    pub fn basic_user(&self, username: &str) -> Option<&Arc<Password>> {
        self.passwords.get(username)
    }

    /// `cred` when `password` is its password (compared in constant time).
    pub fn check_password<'a>(
        &self,
        cred: &'a Arc<Password>,
        password: &str,
    ) -> Option<&'a Arc<Password>> {
        let given = crate::model::basic_auth_hash(&cred.consumer.id, password);
        aws_lc_rs::constant_time::verify_slices_are_equal(given.as_bytes(), cred.hash.as_bytes())
            .ok()
            .map(|()| cred)
    }
}
