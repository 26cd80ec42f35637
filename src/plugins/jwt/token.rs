//! Finding and decoding the token: query parameters, cookies and `Bearer` headers as Kong
//! reads them, then the three base64url parts with their JSON.

use super::JwtConfig;
use crate::model::jwt_key::{decode_b64url_into, Signature};
use http::{HeaderMap, HeaderName};
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;

/// The tokens a request carries in the configured places, as far as Kong's checks need them.
#[derive(Debug, PartialEq)]
pub enum Found<'a> {
    /// None at all.
    Nothing,
    /// One token (perhaps in several places).
    One(Cow<'a, str>),
    /// Two or more different tokens.
    Several,
}

/// Where an instance looks for tokens, its header names parsed once, at load (a name that
/// does not parse names no field: it is left out).
#[derive(Debug, Clone)]
pub struct Places {
    uri_params: Vec<String>,
    cookies: Vec<String>,
    headers: Vec<HeaderName>,
}

impl Places {
    /// The places `config` names.
    pub fn new(config: &JwtConfig) -> Places {
        Places {
            uri_params: config.uri_param_names.clone(),
            cookies: config.cookie_names.clone(),
            headers: config
                .header_names
                .iter()
                .filter_map(|n| HeaderName::from_bytes(n.as_bytes()).ok())
                .collect(),
        }
    }
}

/// The distinct tokens the request carries in the configured places, looked for in Kong's
/// order (query, cookies, headers).
pub fn candidates<'a>(
    places: &Places,
    query: Option<&'a str>,
    headers: &'a HeaderMap,
) -> Found<'a> {
    let mut found = Found::Nothing;
    let mut push = |t: Cow<'a, str>| {
        if t.is_empty() {
            return;
        }
        found = match std::mem::replace(&mut found, Found::Several) {
            Found::Nothing => Found::One(t),
            Found::One(x) if x == t => Found::One(x),
            _ => Found::Several,
        };
    };
    if let Some(q) = query {
        // Taken as decoded, not trimmed (as Kong reads query arguments).
        for (k, v) in form_urlencoded::parse(q.as_bytes()) {
            if places.uri_params.iter().any(|n| *n == k) {
                push(v);
            }
        }
    }
    if !places.cookies.is_empty() {
        for header in headers.get_all(http::header::COOKIE) {
            let Ok(text) = header.to_str() else { continue };
            for pair in text.split(';') {
                if let Some((k, v)) = pair.trim().split_once('=') {
                    if places.cookies.iter().any(|n| n == k.trim()) {
                        push(Cow::Borrowed(v.trim().trim_matches('"').trim()));
                    }
                }
            }
        }
    }
    for name in &places.headers {
        // Only the first occurrence of a header counts, as in Kong.
        let Some(value) = headers.get(name).and_then(|v| v.to_str().ok()) else {
            continue;
        };
        if let Some(token) = bearer(value) {
            push(Cow::Borrowed(token));
        }
    }
    found
}

/// The token of a value holding `Bearer <token>` (or `bearer`), found as Kong's pattern
/// `\s*[Bb]earer\s+(.+)` finds it: anywhere in the value, the first place the word is
/// followed by white space and something else.
fn bearer(value: &str) -> Option<&str> {
    let bytes = value.as_bytes();
    let mut from = 0;
    while let Some(i) = bytes[from..]
        .windows(6)
        .position(|w| w == b"Bearer" || w == b"bearer")
    {
        let at = from + i;
        let rest = &value[at + 6..];
        if rest.starts_with(|c: char| c.is_ascii_whitespace()) {
            let token = rest.trim();
            if !token.is_empty() {
                return Some(token);
            }
        }
        from = at + 1;
    }
    None
}

/// A token split into its parts, header and payload decoded from base64url (not yet read as
/// JSON: see [`Decoded::objects`]).
#[derive(Debug)]
pub struct Decoded<'a> {
    /// The decoded header, then the decoded payload.
    json: Vec<u8>,
    header_len: usize,
    /// `header.payload`, the signed bytes.
    pub signing_input: &'a str,
    /// The signature, decoded once.
    pub signature: Signature<'a>,
}

/// Splits a token and decodes its header and payload; `None` for anything that is not three
/// parts with base64url header and payload. As in Kong, the third part is the rest of the
/// token after the second dot (further dots make it a signature that does not decode).
pub fn decode(token: &str) -> Option<Decoded<'_>> {
    let mut parts = token.splitn(3, '.');
    let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
    // One buffer for both parts (base64 turns 4 characters into 3 bytes).
    let mut json = Vec::with_capacity((h.len() + p.len()) / 4 * 3 + 6);
    decode_b64url_into(h, &mut json)?;
    let header_len = json.len();
    decode_b64url_into(p, &mut json)?;
    Some(Decoded {
        json,
        header_len,
        signing_input: &token[..h.len() + 1 + p.len()],
        signature: Signature::new(s),
    })
}

impl Decoded<'_> {
    /// Whether the signature part is base64 (checked after the header's algorithm, as Kong
    /// does, to answer "invalid signature" before any key is looked up).
    pub fn signature_decodes(&self) -> bool {
        self.signature.decodes()
    }

    /// The header and the claims as JSON objects; `None` unless both are objects whose
    /// member names are all distinct.
    pub fn objects(&self) -> Option<(Object<'_>, Object<'_>)> {
        let (header, payload) = self.json.split_at(self.header_len);
        Some((Object::parse(header)?, Object::parse(payload)?))
    }
}

/// A JSON object read from a token: its members by name, each value left as its JSON text
/// until it is asked for. A token with a duplicate name (two `alg`s, two `kid`s) is refused
/// rather than read one way here and another elsewhere (RFC 7515 section 5.2 allows either).
#[derive(Debug)]
pub struct Object<'a> {
    /// Sorted by name.
    members: Vec<(Cow<'a, str>, &'a RawValue)>,
}

/// A member's value, as the checks read it.
#[derive(Debug, PartialEq)]
pub enum Member<'a> {
    /// Absent, or JSON `null`.
    Missing,
    /// A JSON string, unescaped.
    Text(Cow<'a, str>),
    /// Any other JSON value, as compact JSON text (`123`, `true`, `{"a":1}`).
    Other(String),
}

impl<'a> Object<'a> {
    /// Reads a JSON object; `None` for invalid JSON, another type or a repeated name.
    pub fn parse(json: &'a [u8]) -> Option<Object<'a>> {
        let mut members = serde_json::from_slice::<Members<'a>>(json).ok()?.0;
        members.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        if members.windows(2).any(|w| w[0].0 == w[1].0) {
            return None;
        }
        Some(Object { members })
    }

    fn raw(&self, name: &str) -> Option<&'a RawValue> {
        self.members
            .binary_search_by(|(n, _)| n.as_ref().cmp(name))
            .ok()
            .map(|i| self.members[i].1)
    }

    /// Whether the object has a member `name` (even `null`).
    pub fn has(&self, name: &str) -> bool {
        self.raw(name).is_some()
    }

    /// The member `name`.
    pub fn get(&self, name: &str) -> Member<'a> {
        let Some(raw) = self.raw(name) else {
            return Member::Missing;
        };
        let text = raw.get();
        if text == "null" {
            return Member::Missing;
        }
        if let Ok(s) = serde_json::from_str::<&'a str>(text) {
            return Member::Text(Cow::Borrowed(s));
        }
        match serde_json::from_str::<Value>(text) {
            Ok(Value::String(s)) => Member::Text(Cow::Owned(s)),
            Ok(v) => Member::Other(v.to_string()),
            Err(_) => Member::Missing,
        }
    }

    /// The member `name` when it is a JSON number.
    pub fn number(&self, name: &str) -> Option<f64> {
        let text = self.raw(name)?.get();
        if text.starts_with(['-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9']) {
            serde_json::from_str::<f64>(text).ok()
        } else {
            None
        }
    }
}

/// The members of a JSON object in document order, names unescaped (borrowed when they have
/// no escapes) and values as their JSON text.
struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> serde::Deserialize<'de> for Members<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Members<'de>, A::Error> {
                let mut members = Vec::with_capacity(a.size_hint().unwrap_or(4));
                while let Some((k, v)) = a.next_entry::<Name<'de>, &'de RawValue>()? {
                    members.push((k.0, v));
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(Visitor)
    }
}

/// A member name, borrowed from the JSON when it has no escapes.
struct Name<'a>(Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for Name<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(v)))
            }
        }
        d.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn places() -> Places {
        Places::new(&JwtConfig {
            cookie_names: vec!["session".into()],
            ..JwtConfig::default()
        })
    }

    #[test]
    fn finds_tokens_in_query_cookie_and_header_once_each() {
        let mut h = HeaderMap::new();
        h.insert("authorization", "Bearer  abc ".parse().expect("value"));
        h.append("cookie", "a=1; session=def".parse().expect("value"));
        // "abc" from the query and the header counts once; the cookie's differs.
        assert_eq!(
            candidates(&places(), Some("jwt=abc&x=1"), &h),
            Found::Several
        );
        let mut only_header = HeaderMap::new();
        only_header.insert("authorization", "Bearer  abc ".parse().expect("value"));
        assert_eq!(
            candidates(&places(), Some("jwt=abc&x=1"), &only_header),
            Found::One(Cow::Borrowed("abc"))
        );
        assert_eq!(
            candidates(&places(), Some("jwt=abc&jwt=xyz"), &HeaderMap::new()),
            Found::Several
        );
        assert_eq!(
            candidates(&places(), Some("jwt="), &HeaderMap::new()),
            Found::Nothing
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
        // Anywhere in the value, the first place it is followed by white space and more.
        assert_eq!(bearer("Token Bearer x"), Some("x"));
        assert_eq!(bearer("Bearerx Bearer\ty z"), Some("y z"));
        assert_eq!(bearer("xbearer  y"), Some("y"));
    }

    #[test]
    fn query_tokens_are_taken_as_decoded() {
        assert_eq!(
            candidates(&places(), Some("jwt=%20abc"), &HeaderMap::new()),
            Found::One(Cow::Owned(" abc".to_string()))
        );
        assert_eq!(
            candidates(&places(), Some("jwt=abc&jwt=abc"), &HeaderMap::new()),
            Found::One(Cow::Borrowed("abc"))
        );
    }

    #[test]
    fn decode_rejects_malformed_tokens() {
        assert!(decode("a.b").is_none());
        // A fourth part belongs to the signature, which then does not decode.
        let four = decode("eyJhbGciOiJIUzI1NiJ9.e30.c2ln.c2ln").expect("three parts");
        assert_eq!(four.signature.text, "c2ln.c2ln");
        assert!(!four.signature_decodes());
        assert!(decode("!!.e30.sig").is_none());
        // {"alg":"HS256"} . {} . sig
        let ok = decode("eyJhbGciOiJIUzI1NiJ9.e30.c2ln").expect("decodes");
        let (header, payload) = ok.objects().expect("objects");
        assert_eq!(header.get("alg"), Member::Text(Cow::Borrowed("HS256")));
        assert_eq!(payload.get("alg"), Member::Missing);
        assert_eq!(ok.signing_input, "eyJhbGciOiJIUzI1NiJ9.e30");
        assert!(ok.signature_decodes());
        let objects = |header: &[u8], payload: &[u8]| {
            use base64::Engine;
            let b64 = |s: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
            let token = format!("{}.{}.c2ln", b64(header), b64(payload));
            decode(&token).is_some_and(|d| d.objects().is_some())
        };
        // A duplicate member is refused, also when spelled with an escape.
        assert!(!objects(br#"{"alg":"HS256","alg":"none"}"#, b"{}"));
        assert!(!objects(
            br#"{"alg":"HS256"}"#,
            br#"{"iss":"a","\u0069ss":"b"}"#
        ));
        // A JSON array payload is not a claims object; trailing text is not JSON.
        assert!(!objects(br#"{"alg":"HS256"}"#, b"[]"));
        assert!(!objects(br#"{"alg":"HS256"}"#, b"{} x"));
        assert!(objects(br#" {"alg" : "HS256"} "#, b"{}"));
    }

    #[test]
    fn members_read_as_the_checks_need_them() {
        let json = br#"{"s":"a\"b","n":12.5,"z":null,"o":{ "k" : [1, 2] },"i":-3,"t":"7"}"#;
        let o = Object::parse(json).expect("object");
        assert_eq!(o.get("s"), Member::Text(Cow::Owned("a\"b".to_string())));
        assert_eq!(o.get("z"), Member::Missing);
        assert!(o.has("z"));
        assert_eq!(o.get("nope"), Member::Missing);
        assert!(!o.has("nope"));
        assert_eq!(o.get("o"), Member::Other(r#"{"k":[1,2]}"#.to_string()));
        assert_eq!(o.get("n"), Member::Other("12.5".to_string()));
        assert_eq!(o.number("n"), Some(12.5));
        assert_eq!(o.number("i"), Some(-3.0));
        assert_eq!(o.number("t"), None, "a string is not a number");
        assert_eq!(o.number("z"), None);
    }
}
