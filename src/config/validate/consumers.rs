//! The passes over consumers and their JWT credentials.

use super::common::{assign_id, parse, random_token, unique, HashMap, Raw};
use super::Validation;
use crate::config::file::{ConsumerSpec, JwtSecretSpec};
use crate::issues::join;
use crate::model::jwt_key::{JwtAlgorithm, KeyMaterial};
use crate::model::{Consumer, JwtSecret};
use std::sync::Arc;

/// Consumers, indexed by id, username and custom id.
pub(super) fn consumers(v: &mut Validation, raws: &[Raw<'_>]) {
    let mut ids = HashMap::default();
    let mut usernames = HashMap::default();
    let mut custom_ids = HashMap::default();
    for (i, raw) in raws.iter().enumerate() {
        for k in ["username", "custom_id"] {
            if let Some(n) = raw.str_field(k) {
                v.consumers.by_key.insert(n.to_string(), i);
                if k == "username" {
                    v.consumers.add_name(n);
                }
            }
        }
        let spec = parse::<ConsumerSpec>(raw.value, &raw.path, &mut v.issues);
        let key = spec
            .as_ref()
            .and_then(|s| s.username.clone().or(s.custom_id.clone()))
            .unwrap_or_else(|| raw.path.clone());
        let id = assign_id(
            "consumers",
            spec.as_ref().and_then(|s| s.id.as_deref()),
            &key,
            &raw.path,
            &mut ids,
            &mut v.issues,
        );
        v.consumers.by_key.insert(id.clone(), i);
        // A consumer that failed to parse was reported; it still takes its place.
        let (username, custom_id, tags) = match spec {
            Some(s) => (
                s.username.filter(|s| !s.is_empty()),
                s.custom_id.filter(|s| !s.is_empty()),
                s.tags,
            ),
            None => (None, Some(String::new()), None),
        };
        if username.is_none() && custom_id.is_none() {
            v.issues.push(
                raw.path.clone(),
                "at least one of these fields must be non-empty: 'custom_id', 'username'",
            );
        }
        if let Some(u) = &username {
            unique(
                "consumers",
                "username",
                u,
                &raw.path,
                &mut usernames,
                &mut v.issues,
            );
        }
        if let Some(c) = custom_id.as_ref().filter(|c| !c.is_empty()) {
            unique(
                "consumers",
                "custom_id",
                c,
                &raw.path,
                &mut custom_ids,
                &mut v.issues,
            );
        }
        v.model.consumers.push(Consumer {
            id,
            username,
            custom_id: custom_id.filter(|c| !c.is_empty()),
            tags,
        });
    }
}

/// JWT credentials, each key material parsed once.
pub(super) fn jwt_secrets(v: &mut Validation, raws: &[Raw<'_>]) {
    let mut ids = HashMap::default();
    let mut keys = HashMap::default();
    for raw in raws {
        let Some(spec) = parse::<JwtSecretSpec>(raw.value, &raw.path, &mut v.issues) else {
            continue;
        };
        let consumer = super::credentials::owner(v, raw, spec.consumer.as_ref());
        let key = spec.key.clone().unwrap_or_else(random_token);
        if key.is_empty() {
            v.issues.push(join(&raw.path, "key"), "must not be empty");
        }
        unique(
            "jwt_secrets",
            "key",
            &key,
            &raw.path,
            &mut keys,
            &mut v.issues,
        );
        let id = assign_id(
            "jwt_secrets",
            spec.id.as_deref(),
            &key,
            &raw.path,
            &mut ids,
            &mut v.issues,
        );
        let written = spec.algorithm.as_deref().unwrap_or("HS256");
        let Some(algorithm) = JwtAlgorithm::parse(written) else {
            let names: Vec<&str> = JwtAlgorithm::ALL.iter().map(|a| a.name()).collect();
            v.issues.push(
                join(&raw.path, "algorithm"),
                format!("expected one of: {} (got \"{written}\")", names.join(", ")),
            );
            continue;
        };
        let secret = spec.secret.unwrap_or_else(random_token);
        let material = match KeyMaterial::parse(algorithm, &secret, spec.rsa_public_key.as_deref())
        {
            Ok(m) => m,
            Err(e) => {
                v.issues.push(join(&raw.path, "rsa_public_key"), e);
                continue;
            }
        };
        if let Some(consumer) = consumer {
            v.model.jwt_secrets.push(JwtSecret {
                id,
                key,
                secret,
                algorithm,
                rsa_public_key: spec.rsa_public_key,
                material: Arc::new(material),
                consumer,
                tags: spec.tags,
            });
        }
    }
}
