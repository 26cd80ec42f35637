//! Finding and decoding the token: query parameters, cookies and `Bearer` headers as Kong
//! reads them, then the three base64url parts with their JSON.

use super::JwtConfig;
use crate::model::jwt_key::decode_b64url;
use http::HeaderMap;
use serde_json::{Map, Value};

/// Every distinct token the request carries in the configured places, in Kong's order
/// (query, cookies, headers).
pub fn candidates(config: &JwtConfig, query: Option<&str>, headers: &HeaderMap) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |t: &str| {
        let t = t.trim();
        if !t.is_empty() && !out.iter().any(|x| x == t) {
            out.push(t.to_string());
        }
    };
    if let Some(q) = query {
        for (k, v) in form_urlencoded::parse(q.as_bytes()) {
            if config.uri_param_names.iter().any(|n| *n == k) {
                push(&v);
            }
        }
    }
    if !config.cookie_names.is_empty() {
        for header in headers.get_all(http::header::COOKIE) {
            let Ok(text) = header.to_str() else { continue };
            for pair in text.split(';') {
                if let Some((k, v)) = pair.trim().split_once('=') {
                    if config.cookie_names.iter().any(|n| n == k.trim()) {
                        push(v.trim().trim_matches('"'));
                    }
                }
            }
        }
    }
    for name in &config.header_names {
        // Only the first occurrence of a header counts, as in Kong.
        let Some(value) = headers.get(name.as_str()).and_then(|v| v.to_str().ok()) else {
            continue;
        };
        if let Some(token) = bearer(value) {
            push(token);
        }
    }
    out
}

/// The token of a `Bearer <token>` (or `bearer`) value.
fn bearer(value: &str) -> Option<&str> {
    let v = value.trim_start();
    let rest = v
        .strip_prefix("Bearer")
        .or_else(|| v.strip_prefix("bearer"))?;
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let token = rest.trim();
    (!token.is_empty()).then_some(token)
}

/// A token split into its parts, header and payload decoded.
#[derive(Debug)]
pub struct Decoded<'a> {
    /// The JOSE header.
    pub header: Map<String, Value>,
    /// The claims.
    pub payload: Map<String, Value>,
    /// `header.payload`, the signed bytes.
    pub signing_input: &'a str,
    /// The base64url signature.
    pub signature: &'a str,
}

/// Splits and decodes a token; `None` for anything that is not three base64url JSON parts.
pub fn decode(token: &str) -> Option<Decoded<'_>> {
    let mut parts = token.split('.');
    let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let object = |part: &str| -> Option<Map<String, Value>> {
        serde_json::from_slice::<UniqueObject>(&decode_b64url(part)?)
            .ok()
            .map(|o| o.0)
    };
    Some(Decoded {
        header: object(h)?,
        payload: object(p)?,
        signing_input: &token[..h.len() + 1 + p.len()],
        signature: s,
    })
}

/// A JSON object whose member names are all distinct. A token with a duplicate name (two
/// `alg`s, two `kid`s) is refused rather than read one way here and another elsewhere
/// (RFC 7515 section 5.2 allows either).
struct UniqueObject(Map<String, Value>);

impl<'de> serde::Deserialize<'de> for UniqueObject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = UniqueObject;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<UniqueObject, A::Error> {
                let mut m = Map::new();
                while let Some((k, v)) = a.next_entry::<String, Value>()? {
                    if m.contains_key(&k) {
                        return Err(serde::de::Error::custom(format!("duplicate member {k}")));
                    }
                    m.insert(k, v);
                }
                Ok(UniqueObject(m))
            }
        }
        d.deserialize_map(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> JwtConfig {
        JwtConfig {
            cookie_names: vec!["session".into()],
            ..JwtConfig::default()
        }
    }

    #[test]
    fn finds_tokens_in_query_cookie_and_header_once_each() {
        let mut h = HeaderMap::new();
        h.insert("authorization", "Bearer  abc ".parse().expect("value"));
        h.append("cookie", "a=1; session=def".parse().expect("value"));
        assert_eq!(
            candidates(&cfg(), Some("jwt=abc&x=1"), &h),
            vec!["abc", "def"]
        );
        assert_eq!(
            candidates(&cfg(), Some("jwt=abc&jwt=xyz"), &HeaderMap::new()),
            vec!["abc", "xyz"]
        );
    }

    #[test]
    fn only_bearer_and_lowercase_bearer_count() {
        assert_eq!(bearer("Bearer x"), Some("x"));
        assert_eq!(bearer("bearer x"), Some("x"));
        assert_eq!(bearer("BEARER x"), None);
        assert_eq!(bearer("Basic x"), None);
        assert_eq!(bearer("Bearerx"), None);
        assert_eq!(bearer("Bearer "), None);
    }

    #[test]
    fn decode_rejects_malformed_tokens() {
        assert!(decode("a.b").is_none());
        assert!(decode("a.b.c.d").is_none());
        assert!(decode("!!.e30.sig").is_none());
        // {"alg":"HS256"} . {} . sig
        let ok = decode("eyJhbGciOiJIUzI1NiJ9.e30.c2ln").expect("decodes");
        assert_eq!(ok.header["alg"], "HS256");
        assert_eq!(ok.signing_input, "eyJhbGciOiJIUzI1NiJ9.e30");
        // {"alg":"HS256","alg":"none"}: a duplicate member is refused.
        use base64::Engine;
        let dup = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"alg":"HS256","alg":"none"}"#);
        assert!(decode(&format!("{dup}.e30.c2ln")).is_none());
        // A JSON array payload is not a claims object.
        assert!(decode("eyJhbGciOiJIUzI1NiJ9.W10.c2ln").is_none());
    }
}
