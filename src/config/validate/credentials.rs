//! The passes over the credentials and groups of consumers: `keyauth_credentials`,
//! `basicauth_credentials` and `acls`, nested under a consumer or naming one.

use super::common::{assign_id, parse, random_token, unique, HashMap, Raw};
use super::Validation;
use crate::config::file::{AclSpec, BasicAuthSpec, KeyAuthSpec, RefSpec};
use crate::issues::join;
use crate::model::{basic_auth_hash, Acl, BasicAuthCredential, KeyAuthCredential};

/// The consumer an entry belongs to: its parent, or the one it names.
pub(super) fn owner(v: &mut Validation, raw: &Raw<'_>, named: Option<&RefSpec>) -> Option<usize> {
    match (named, raw.parent) {
        (_, Some(p)) => Some(p),
        (Some(r), None) => v
            .consumers
            .resolve(r, &join(&raw.path, "consumer"), &mut v.issues),
        (None, None) => {
            v.issues
                .push(join(&raw.path, "consumer"), "required field missing");
            None
        }
    }
}

/// A required string field, reported when missing or empty.
fn required(
    v: &mut Validation,
    raw: &Raw<'_>,
    field: &str,
    value: Option<String>,
) -> Option<String> {
    match value.filter(|s| !s.is_empty()) {
        Some(s) => Some(s),
        None => {
            v.issues
                .push(join(&raw.path, field), "required field missing");
            None
        }
    }
}

/// API keys (a missing key is generated, as Kong does).
pub(super) fn keyauth_credentials(v: &mut Validation, raws: &[Raw<'_>]) {
    let (mut ids, mut keys) = (HashMap::default(), HashMap::default());
    for raw in raws {
        let Some(spec) = parse::<KeyAuthSpec>(raw.value, &raw.path, &mut v.issues) else {
            continue;
        };
        let consumer = owner(v, raw, spec.consumer.as_ref());
        let key = match spec.key {
            Some(k) if k.is_empty() => {
                v.issues
                    .push(join(&raw.path, "key"), "length must be at least 1");
                continue;
            }
            Some(k) => k,
            None => random_token(),
        };
        unique(
            "keyauth_credentials",
            "key",
            &key,
            &raw.path,
            &mut keys,
            &mut v.issues,
        );
        let id = assign_id(
            "keyauth_credentials",
            spec.id.as_deref(),
            &key,
            &raw.path,
            &mut ids,
            &mut v.issues,
        );
        if let Some(consumer) = consumer {
            v.model.keyauth_credentials.push(KeyAuthCredential {
                id,
                key,
                ttl: spec.ttl,
                consumer,
                tags: spec.tags,
            });
        }
    }
}

/// Username/password credentials; only the hash of the password is kept.
pub(super) fn basicauth_credentials(v: &mut Validation, raws: &[Raw<'_>]) {
    let (mut ids, mut names) = (HashMap::default(), HashMap::default());
    for raw in raws {
        let Some(spec) = parse::<BasicAuthSpec>(raw.value, &raw.path, &mut v.issues) else {
            continue;
        };
        let consumer = owner(v, raw, spec.consumer.as_ref());
        let username = required(v, raw, "username", spec.username);
        let password = required(v, raw, "password", spec.password);
        let Some(username) = username else { continue };
        unique(
            "basicauth_credentials",
            "username",
            &username,
            &raw.path,
            &mut names,
            &mut v.issues,
        );
        let id = assign_id(
            "basicauth_credentials",
            spec.id.as_deref(),
            &username,
            &raw.path,
            &mut ids,
            &mut v.issues,
        );
        if let (Some(consumer), Some(password)) = (consumer, password) {
            let hash = basic_auth_hash(&v.model.consumers[consumer].id, &password);
            v.model.basicauth_credentials.push(BasicAuthCredential {
                id,
                username,
                password: hash,
                consumer,
                tags: spec.tags,
            });
        }
    }
}

/// Group memberships (one per consumer and group).
pub(super) fn acls(v: &mut Validation, raws: &[Raw<'_>]) {
    let (mut ids, mut pairs) = (HashMap::default(), HashMap::default());
    for raw in raws {
        let Some(spec) = parse::<AclSpec>(raw.value, &raw.path, &mut v.issues) else {
            continue;
        };
        let consumer = owner(v, raw, spec.consumer.as_ref());
        let Some(group) = required(v, raw, "group", spec.group) else {
            continue;
        };
        let Some(consumer) = consumer else { continue };
        let consumer_id = v.model.consumers[consumer].id.clone();
        let key = format!("{consumer_id}:{group}");
        unique("acls", "group", &key, &raw.path, &mut pairs, &mut v.issues);
        let id = assign_id(
            "acls",
            spec.id.as_deref(),
            &key,
            &raw.path,
            &mut ids,
            &mut v.issues,
        );
        v.model.acls.push(Acl {
            id,
            group,
            consumer,
            tags: spec.tags,
        });
    }
}
