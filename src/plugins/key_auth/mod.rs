//! Kong's `key-auth` plugin (priority 1250): an API key in a header or the query string
//! names the consumer. Kong's 401s (`No API key found in request`, `Unauthorized`,
//! `Duplicate API key found`) with `WWW-Authenticate: Key`, `hide_credentials`, the
//! anonymous consumer ("logical OR" with other auth plugins) and `run_on_preflight`.

use crate::error::GatewayError;
use crate::plugins::auth::{identify, Anonymous};
use crate::plugins::factory::{CheckCtx, Checked, Factory, FieldIssues};
use crate::plugins::{BuildCtx, Flow, Plugin, RequestState, Scope};
use async_trait::async_trait;
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
        if spec.key_in_body {
            out.push((
                "key_in_body".into(),
                "reading keys from the request body is not supported by Skyport yet".into(),
            ));
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
        state: &mut RequestState,
    ) -> Result<(), GatewayError> {
        let req = session.req_header();
        let (raw, index) = match self.find(req) {
            Found::Duplicate => return Err(self.refusal("Duplicate API key found")),
            Found::None => return Err(self.refusal("No API key found in request")),
            Found::Key(k, i) => (k, i),
        };
        let key = percent_encoding::percent_decode_str(raw).decode_utf8_lossy();
        if self.config.hide_credentials {
            state
                .upstream_removed
                .push(self.names.headers[index].clone());
            state
                .query_removed
                .push(self.config.key_names[index].clone());
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
}

#[async_trait]
impl Plugin for KeyAuth {
    fn name(&self) -> &'static str {
        "key-auth"
    }

    async fn access(
        &self,
        session: &mut Session,
        state: &mut RequestState,
    ) -> Result<Flow, GatewayError> {
        if !self.config.run_on_preflight && session.req_header().method == http::Method::OPTIONS {
            return Ok(Flow::Continue);
        }
        self.anonymous
            .around(state, |state| self.authenticate(session, state))
            .map(|()| Flow::Continue)
    }
}
