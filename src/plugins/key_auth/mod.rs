//! Kong's `key-auth` plugin (priority 1250): an API key in a header or the query string
//! names the consumer. Kong's 401s (`No API key found in request`, `Unauthorized`,
//! `Duplicate API key found`) with `WWW-Authenticate: Key`, `hide_credentials`, the
//! anonymous consumer ("logical OR" with other auth plugins) and `run_on_preflight`.

use crate::error::GatewayError;
use crate::plugins::auth::{identify, Anonymous};
use crate::plugins::body::BodyKind;
use crate::plugins::factory::{CheckCtx, Checked, Factory, FieldIssues};
use crate::plugins::{BuildCtx, Flow, Plugin, RequestState, Scope};
use async_trait::async_trait;
use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use pingora::proxy::Session;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Kong's `key-auth` config.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct KeyAuthConfig {
    pub key_names: Vec<String>,
    pub hide_credentials: bool,
    pub anonymous: Option<String>,
    pub key_in_header: bool,
    pub key_in_query: bool,
    pub key_in_body: bool,
    pub run_on_preflight: bool,
    pub realm: Option<String>,
}

impl Default for KeyAuthConfig {
    fn default() -> Self {
        KeyAuthConfig {
            key_names: vec!["apikey".into()],
            hide_credentials: false,
            anonymous: None,
            key_in_header: true,
            key_in_query: true,
            key_in_body: false,
            run_on_preflight: true,
            realm: None,
        }
    }
}

/// Kong's check of a header name (`typedefs.header_name`).
pub fn header_name(field: String, name: &str, out: &mut FieldIssues) -> Option<HeaderName> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()) {
        Ok(h) if ok => Some(h),
        _ => {
            out.push((
                field,
                format!(
                    "bad header name '{name}', allowed characters are A-Z, a-z, 0-9, '_', and '-'"
                ),
            ));
            None
        }
    }
}

/// The key names as headers, and the challenge.
#[derive(Debug)]
pub struct Names {
    headers: Vec<HeaderName>,
    challenge: HeaderValue,
}

/// A configured `key-auth` instance.
#[derive(Debug)]
pub struct KeyAuth {
    config: KeyAuthConfig,
    names: Arc<Names>,
    directory: Arc<crate::plugins::auth::Directory>,
    anonymous: Anonymous,
}

impl Factory for KeyAuth {
    type Spec = KeyAuthConfig;
    type Typed = Arc<Names>;
    const ON_CONSUMERS: bool = false;

    fn check(spec: &KeyAuthConfig, _ctx: &CheckCtx<'_>) -> Result<Arc<Names>, FieldIssues> {
        let mut out = Vec::new();
        let headers: Vec<HeaderName> = spec
            .key_names
            .iter()
            .enumerate()
            .filter_map(|(i, n)| header_name(format!("key_names[{i}]"), n, &mut out))
            .collect();
        if spec.key_names.is_empty() {
            out.push(("key_names".into(), "length must be at least 1".into()));
        }
        let challenge = match &spec.realm {
            Some(r) => HeaderValue::from_str(&format!("Key realm=\"{r}\"")),
            None => Ok(HeaderValue::from_static("Key")),
        };
        let challenge = challenge.unwrap_or_else(|_| {
            out.push(("realm".into(), "invalid value for a header".into()));
            HeaderValue::from_static("Key")
        });
        if out.is_empty() {
            Ok(Arc::new(Names { headers, challenge }))
        } else {
            Err(out)
        }
    }

    fn build(c: &Checked<KeyAuthConfig, Arc<Names>>, ctx: &BuildCtx, _: &Scope) -> Arc<dyn Plugin> {
        Arc::new(KeyAuth {
            config: c.spec.clone(),
            names: c.typed.clone(),
            directory: ctx.directory.clone(),
            anonymous: Anonymous::resolve(c.spec.anonymous.as_deref(), &ctx.directory),
        })
    }
}

/// Where the key was found.
enum Found<'a> {
    None,
    Duplicate,
    Key(&'a str, usize),
}

impl KeyAuth {
    fn refusal(&self, message: &'static str) -> GatewayError {
        GatewayError::Refused {
            status: 401,
            message: message.into(),
            headers: vec![(http::header::WWW_AUTHENTICATE, self.names.challenge.clone())],
        }
    }

    /// The first key name present in the headers, then the query (Kong's order per name).
    fn find<'a>(&self, req: &'a pingora::http::RequestHeader) -> Found<'a> {
        for (i, name) in self.names.headers.iter().enumerate() {
            if self.config.key_in_header {
                let mut values = req.headers.get_all(name).iter();
                match (values.next(), values.next()) {
                    (Some(_), Some(_)) => return Found::Duplicate,
                    (Some(v), None) => {
                        if let Ok(k) = v.to_str() {
                            return Found::Key(k, i);
                        }
                    }
                    _ => {}
                }
            }
            if self.config.key_in_query {
                let wanted = self.config.key_names[i].as_str();
                let mut hits = req.uri.query().into_iter().flat_map(|q| {
                    q.split('&')
                        .filter(move |p| p.split('=').next() == Some(wanted))
                });
                match (hits.next(), hits.next()) {
                    (Some(_), Some(_)) => return Found::Duplicate,
                    // `?apikey` without `=` is not a string in Kong: no key there.
                    (Some(p), None) => {
                        if let Some((_, v)) = p.split_once('=') {
                            return Found::Key(v, i);
                        }
                    }
                    _ => {}
                }
            }
        }
        Found::None
    }

    fn authenticate(
        &self,
        session: &Session,
        body: Option<&(BodyKey, Bytes, BodyKind)>,
        state: &mut RequestState,
    ) -> Result<(), GatewayError> {
        let req = session.req_header();
        let (key, index, from_body) = match (self.find(req), body.map(|b| &b.0)) {
            (Found::Duplicate, _) | (Found::None, Some(BodyKey::Duplicate)) => {
                return Err(self.refusal("Duplicate API key found"))
            }
            (Found::Key(k, i), _) => (
                percent_encoding::percent_decode_str(k)
                    .decode_utf8_lossy()
                    .into_owned(),
                i,
                false,
            ),
            (Found::None, Some(BodyKey::Key(k, i))) => (k.clone(), *i, true),
            (Found::None, _) => return Err(self.refusal("No API key found in request")),
        };
        if self.config.hide_credentials {
            let edits = state.edits_mut();
            edits
                .upstream_removed
                .push(self.names.headers[index].clone());
            edits
                .query_removed
                .push(self.config.key_names[index].clone());
            if let (true, Some((_, bytes, kind))) = (from_body, body) {
                let edit = state.upstream_edit.get_or_insert_with(Box::default);
                edit.body = Some(kind.without(bytes, &self.config.key_names[index]));
            }
        }
        if key.is_empty() {
            return Err(self.refusal("No API key found in request"));
        }
        let Some(cred) = self.directory.api_key(&key) else {
            return Err(self.refusal("Unauthorized"));
        };
        identify(state, &cred.consumer, Some(&cred.id), &cred.headers);
        Ok(())
    }

    /// Kong's `key_in_body`: the first key name found in a JSON or form body.
    async fn body_key(
        &self,
        session: &mut Session,
        state: &mut RequestState,
    ) -> Result<Option<(BodyKey, Bytes, BodyKind)>, GatewayError> {
        let Some(kind) = crate::plugins::body::kind(&session.req_header().headers) else {
            return Ok(None);
        };
        let body = match crate::plugins::body::read_body(session).await? {
            Ok(b) => b,
            Err(prefix) => {
                // Too large to read: Kong's get_body fails and finds nothing there either.
                if !prefix.is_empty() {
                    state
                        .upstream_edit
                        .get_or_insert_with(Box::default)
                        .body_prefix = Some(prefix);
                }
                return Ok(None);
            }
        };
        for (i, name) in self.config.key_names.iter().enumerate() {
            match kind.field(&body, name) {
                BodyField::Absent => {}
                BodyField::Many => return Ok(Some((BodyKey::Duplicate, body, kind))),
                BodyField::One(k) => return Ok(Some((BodyKey::Key(k, i), body, kind))),
            }
        }
        Ok(None)
    }
}

/// A key found in the body.
pub enum BodyKey {
    Key(String, usize),
    Duplicate,
}

enum BodyField {
    Absent,
    One(String),
    Many,
}

impl BodyKind {
    /// The body without the key field (`hide_credentials`).
    fn without(self, body: &[u8], name: &str) -> Bytes {
        match self {
            BodyKind::Json => match serde_json::from_slice::<serde_json::Value>(body) {
                Ok(serde_json::Value::Object(mut m)) => {
                    m.remove(name);
                    Bytes::from(serde_json::to_vec(&m).unwrap_or_default())
                }
                _ => Bytes::copy_from_slice(body),
            },
            BodyKind::Form => {
                let mut out = form_urlencoded::Serializer::new(String::new());
                for (k, v) in form_urlencoded::parse(body).filter(|(k, _)| k != name) {
                    out.append_pair(&k, &v);
                }
                Bytes::from(out.finish())
            }
        }
    }

    fn field(self, body: &[u8], name: &str) -> BodyField {
        match self {
            BodyKind::Json => match serde_json::from_slice::<serde_json::Value>(body) {
                Ok(serde_json::Value::Object(m)) => match m.get(name) {
                    Some(serde_json::Value::String(s)) => BodyField::One(s.clone()),
                    Some(serde_json::Value::Array(_) | serde_json::Value::Object(_)) => {
                        BodyField::Many
                    }
                    _ => BodyField::Absent,
                },
                _ => BodyField::Absent,
            },
            BodyKind::Form => {
                let values: Vec<String> = form_urlencoded::parse(body)
                    .filter(|(k, _)| k == name)
                    .map(|(_, v)| v.into_owned())
                    .collect();
                match values.as_slice() {
                    [] => BodyField::Absent,
                    [one] => BodyField::One(one.clone()),
                    _ => BodyField::Many,
                }
            }
        }
    }
}

#[async_trait]
impl Plugin for KeyAuth {
    fn name(&self) -> &'static str {
        "key-auth"
    }

    /// Decided at once unless the key can only be in the body (`key_in_body`, and none in
    /// the query or headers): then `access` reads it.
    fn access_now(
        &self,
        session: &mut Session,
        state: &mut RequestState,
    ) -> Option<Result<Flow, GatewayError>> {
        if !self.config.run_on_preflight && session.req_header().method == http::Method::OPTIONS {
            return Some(Ok(Flow::Continue));
        }
        if self.config.key_in_body && matches!(self.find(session.req_header()), Found::None) {
            return None;
        }
        Some(
            self.anonymous
                .around(state, |state| self.authenticate(session, None, state))
                .map(|()| Flow::Continue),
        )
    }

    async fn access(
        &self,
        session: &mut Session,
        state: &mut RequestState,
    ) -> Result<Flow, GatewayError> {
        if let Some(done) = self.access_now(session, state) {
            return done;
        }
        // The key can only be in the body.
        let body = self.body_key(session, state).await?;
        self.anonymous
            .around(state, |state| {
                self.authenticate(session, body.as_ref(), state)
            })
            .map(|()| Flow::Continue)
    }
}
