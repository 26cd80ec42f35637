//! JWT credentials indexed by key, with secrets decoded and public keys parsed once, when the
//! snapshot is compiled, never per request.

use crate::model::jwt_key::{JwtAlgorithm, KeyMaterial};
use crate::plugins::Consumer;
use std::collections::HashMap;
use std::sync::Arc;

/// One `jwt_secrets` entry, ready to verify tokens.
#[derive(Debug)]
pub struct Credential {
    /// The credential's id.
    pub id: String,
    /// The value the token's key claim carries.
    pub key: Arc<str>,
    /// The algorithm tokens must name.
    pub algorithm: JwtAlgorithm,
    /// The verifiers of its secret or public key.
    pub material: Arc<KeyMaterial>,
    /// Who the credential belongs to.
    pub consumer: Arc<Consumer>,
    /// The upstream identity headers a request authenticated by this credential carries.
    pub headers: crate::plugins::auth::IdentityHeaders,
}

impl Credential {
    /// Prepares a credential from text. `public_key` is the PEM of RS/PS/ES/EdDSA credentials.
    pub fn new(
        id: &str,
        key: &str,
        secret: &str,
        algorithm_name: &str,
        public_key: Option<&str>,
        consumer: Arc<Consumer>,
    ) -> Result<Credential, String> {
        let algorithm = JwtAlgorithm::parse(algorithm_name)
            .ok_or_else(|| format!("unknown algorithm {algorithm_name}"))?;
        let material = KeyMaterial::parse(algorithm, secret, public_key)?;
        Ok(Credential::with_material(
            id,
            key,
            algorithm,
            Arc::new(material),
            consumer,
        ))
    }

    /// A credential from key material validated before.
    pub fn with_material(
        id: &str,
        key: &str,
        algorithm: JwtAlgorithm,
        material: Arc<KeyMaterial>,
        consumer: Arc<Consumer>,
    ) -> Credential {
        Credential {
            id: id.to_string(),
            key: Arc::from(key),
            algorithm,
            material,
            headers: crate::plugins::auth::identity_headers(&consumer, Some(key)),
            consumer,
        }
    }
}

/// All credentials of a snapshot by key (consumers are looked up in the snapshot's
/// [`crate::plugins::auth::Directory`]).
/// Its map hashes with foldhash: the keys come from the config, so a request can only probe
/// the table, not fill it with colliding keys.
#[derive(Debug, Default)]
pub struct Keyring {
    by_key: HashMap<Arc<str>, Arc<Credential>, foldhash::fast::RandomState>,
}

impl Keyring {
    /// Indexes credentials by key.
    pub fn new(credentials: Vec<Credential>) -> Keyring {
        Keyring {
            by_key: credentials
                .into_iter()
                .map(|c| (c.key.clone(), Arc::new(c)))
                .collect(),
        }
    }

    /// The credential whose key is `key`.
    pub fn credential(&self, key: &str) -> Option<&Arc<Credential>> {
        self.by_key.get(key)
    }
}
