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
    pub key: String,
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
            key: key.to_string(),
            algorithm,
            material,
            headers: crate::plugins::auth::identity_headers(&consumer, Some(key)),
            consumer,
        }
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
