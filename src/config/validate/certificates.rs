//! The pass over `certificates` and `snis` (nested under a certificate or naming one): each
//! certificate's chain and key decoded and matched once, each server name checked as Kong's
//! wildcard host names are and claimed by one certificate only.

use super::common::{assign_id, parse, unique, HashMap, Raw};
use super::Validation;
use crate::config::file::{CertificateSpec, RefSpec, SniSpec};
use crate::issues::join;
use crate::model::certificates::{ServerCertificate, Sni};

/// Certificates first (SNIs refer to them), then SNIs.
pub(super) fn certificates(v: &mut Validation, certs: &[Raw<'_>], snis: &[Raw<'_>]) {
    let mut ids = HashMap::default();
    let mut by_id: HashMap<String, usize> = HashMap::default();
    for raw in certs {
        let Some(spec) = parse::<CertificateSpec>(raw.value, &raw.path, &mut v.issues) else {
            // Keep indexes aligned for the SNIs nested under it.
            v.model.certificates.push(placeholder());
            continue;
        };
        let id = assign_id(
            "certificates",
            spec.id.as_deref(),
            &spec.cert,
            &raw.path,
            &mut ids,
            &mut v.issues,
        );
        let certified = match crate::config::tls::certified_key(&spec.cert, &spec.key) {
            Ok(k) => Some(k),
            Err((field, message)) => {
                v.issues.push(join(&raw.path, field), message);
                None
            }
        };
        if let (Some(c), Some(k)) = (&spec.cert_alt, &spec.key_alt) {
            if let Err((field, message)) = crate::config::tls::certified_key(c, k) {
                // Kong's own wording for the alternative pair.
                let message = message.replace(
                    "certificate does not match key",
                    "alternative certificate does not match key",
                );
                v.issues
                    .push(join(&raw.path, &format!("{field}_alt")), message);
            }
        } else if spec.cert_alt.is_some() != spec.key_alt.is_some() {
            v.issues.push(
                &raw.path,
                "all or none of these fields must be set: 'cert_alt', 'key_alt'",
            );
        }
        by_id.insert(id.clone(), v.model.certificates.len());
        v.model.certificates.push(ServerCertificate {
            id,
            cert: spec.cert,
            key: spec.key,
            cert_alt: spec.cert_alt,
            key_alt: spec.key_alt,
            tags: spec.tags,
            certified,
        });
    }
    let mut sni_ids = HashMap::default();
    let mut names = HashMap::default();
    for raw in snis {
        // A nested SNI may be written as its bare name.
        let spec = match raw.value.as_str() {
            Some(name) => Some(SniSpec {
                id: None,
                name: name.to_string(),
                certificate: None,
                tags: None,
                comment: None,
            }),
            None => parse::<SniSpec>(raw.value, &raw.path, &mut v.issues),
        };
        let Some(spec) = spec else { continue };
        if let Err(message) = check_sni(&spec.name) {
            v.issues.push(join(&raw.path, "name"), message);
        }
        let name = spec.name.to_ascii_lowercase();
        unique("snis", "name", &name, &raw.path, &mut names, &mut v.issues);
        let id = assign_id(
            "snis",
            spec.id.as_deref(),
            &name,
            &raw.path,
            &mut sni_ids,
            &mut v.issues,
        );
        let certificate = match (raw.parent, &spec.certificate) {
            (Some(p), _) => Some(p),
            (None, Some(RefSpec::Name(id))) => resolve(v, &by_id, id, &raw.path),
            (None, Some(RefSpec::Object(o))) => match &o.id {
                Some(id) => resolve(v, &by_id, id, &raw.path),
                None => {
                    v.issues
                        .push(join(&raw.path, "certificate.id"), "required field missing");
                    None
                }
            },
            (None, None) => {
                v.issues
                    .push(join(&raw.path, "certificate"), "required field missing");
                None
            }
        };
        if let Some(certificate) = certificate {
            v.model.snis.push(Sni {
                id,
                name,
                certificate,
                tags: spec.tags,
            });
        }
    }
}

fn resolve(
    v: &mut Validation,
    by_id: &HashMap<String, usize>,
    id: &str,
    path: &str,
) -> Option<usize> {
    let found = by_id.get(&id.to_ascii_lowercase()).copied();
    if found.is_none() {
        v.issues.push(
            join(path, "certificate"),
            format!("invalid reference 'certificate: {id}' (no such entry in 'certificates')"),
        );
    }
    found
}

fn placeholder() -> ServerCertificate {
    ServerCertificate {
        id: String::new(),
        cert: String::new(),
        key: String::new(),
        cert_alt: None,
        key_alt: None,
        tags: None,
        certified: None,
    }
}

/// Kong's `wildcard_host`: a `*` only as the first or last character, at most one, and with
/// it replaced by a label the name must be a valid host name.
fn check_sni(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("required field missing".into());
    }
    if let Some(i) = name.find('*') {
        if i != 0 && i != name.len() - 1 {
            return Err("wildcard must be leftmost or rightmost character".into());
        }
        if name.matches('*').count() > 1 {
            return Err("only one wildcard must be specified".into());
        }
    }
    let host = name.replace('*', "wildcard");
    let ok = host.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    if ok {
        Ok(())
    } else {
        Err(format!("invalid value: {host}"))
    }
}
