//! Kong's `basic-auth` plugin (priority 1100): `Authorization: Basic` (or
//! `Proxy-Authorization`) names a consumer whose password matches; Kong's 401
//! `Unauthorized` with `WWW-Authenticate: Basic realm="service"`, `hide_credentials`, the
//! anonymous consumer. Passwords are kept only as Kong stores them (salted SHA-1) and
//! compared in constant time.

use crate::error::GatewayError;
use crate::plugins::auth::{identify, Anonymous, Directory};
use crate::plugins::factory::{CheckCtx, Checked, Factory, FieldIssues};
use crate::plugins::{BuildCtx, Flow, Plugin, RequestState, Scope};
use async_trait::async_trait;
use base64::Engine;
use http::HeaderValue;
use pingora::proxy::Session;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Kong's `basic-auth` config.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BasicAuthConfig {
    pub anonymous: Option<String>,
    pub hide_credentials: bool,
    pub realm: String,
}

impl Default for BasicAuthConfig {
    fn default() -> Self {
        BasicAuthConfig {
            anonymous: None,
            hide_credentials: false,
            realm: "service".into(),
        }
    }
}

/// A configured `basic-auth` instance.
#[derive(Debug)]
pub struct BasicAuth {
    hide_credentials: bool,
    challenge: HeaderValue,
    directory: Arc<Directory>,
    anonymous: Anonymous,
}

impl Factory for BasicAuth {
    type Spec = BasicAuthConfig;
    type Typed = HeaderValue;
    const ON_CONSUMERS: bool = false;

    fn check(spec: &BasicAuthConfig, _ctx: &CheckCtx<'_>) -> Result<HeaderValue, FieldIssues> {
        HeaderValue::from_str(&format!("Basic realm=\"{}\"", spec.realm))
            .map_err(|_| vec![("realm".into(), "invalid value for a header".into())])
    }

    fn build(
        c: &Checked<BasicAuthConfig, HeaderValue>,
        ctx: &BuildCtx,
        _: &Scope,
    ) -> Arc<dyn Plugin> {
        Arc::new(BasicAuth {
            hide_credentials: c.spec.hide_credentials,
            challenge: c.typed.clone(),
            directory: ctx.directory.clone(),
            anonymous: Anonymous::resolve(c.spec.anonymous.as_deref(), &ctx.directory),
        })
    }
}

/// `user:password` of a `Basic` header value (Kong's `\s*[Bb]asic\s*(.+)` then `([^:]+):(.*)`).
fn credentials(value: &HeaderValue) -> Option<(String, String)> {
    let v = value.to_str().ok()?.trim_start();
    let rest = v
        .strip_prefix("Basic")
        .or_else(|| v.strip_prefix("basic"))?;
    let encoded = rest.trim();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    (!user.is_empty()).then(|| (user.to_string(), password.to_string()))
}

impl BasicAuth {
    fn refusal(&self) -> GatewayError {
        GatewayError::Refused {
            status: 401,
            message: "Unauthorized".into(),
            headers: vec![(http::header::WWW_AUTHENTICATE, self.challenge.clone())],
        }
    }

    fn authenticate(
        &self,
        session: &Session,
        state: &mut RequestState,
    ) -> Result<(), GatewayError> {
        let headers = &session.req_header().headers;
        let authorization = headers.get(http::header::AUTHORIZATION);
        let proxy = headers.get(http::header::PROXY_AUTHORIZATION);
        if authorization.is_none() && proxy.is_none() {
            return Err(self.refusal());
        }
        // Kong's order: Proxy-Authorization first; Authorization only when that named no
        // known user. Each header read is hidden; the password is checked only for the
        // user found (no falling back to the other header on a wrong password).
        let hide = |state: &mut RequestState, h: http::HeaderName| {
            if self.hide_credentials {
                state.edits_mut().upstream_removed.push(h);
            }
        };
        hide(state, http::header::PROXY_AUTHORIZATION);
        let user = |h: Option<&HeaderValue>| {
            let (name, password) = h.and_then(credentials)?;
            Some((self.directory.basic_user(&name)?, password))
        };
        let chosen = match user(proxy) {
            Some(found) => found,
            None => {
                hide(state, http::header::AUTHORIZATION);
                user(authorization).ok_or_else(|| self.refusal())?
            }
        };
        let Some(cred) = self.directory.check_password(chosen.0, &chosen.1) else {
            return Err(self.refusal());
        };
        identify(state, &cred.consumer, Some(&cred.username), &cred.headers);
        Ok(())
    }
}

#[async_trait]
impl Plugin for BasicAuth {
    fn name(&self) -> &'static str {
        "basic-auth"
    }

    crate::plugins::access_by_admit!();
}

impl BasicAuth {
    /// The access phase: it never waits, so the proxy calls it directly (`access_now`).
    fn admit(&self, session: &mut Session, state: &mut RequestState) -> Result<Flow, GatewayError> {
        self.anonymous
            .around(state, |state| self.authenticate(session, state))
            .map(|()| Flow::Continue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_parse_as_kong_reads_them() {
        let v = |s: &str| HeaderValue::from_str(s).expect("header");
        let enc = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        assert_eq!(
            credentials(&v(&format!("Basic {}", enc("bob:kong:pass")))),
            Some(("bob".into(), "kong:pass".into()))
        );
        assert_eq!(
            credentials(&v(&format!("  basic   {}", enc("bob:")))),
            Some(("bob".into(), String::new()))
        );
        assert_eq!(credentials(&v(&format!("Basic {}", enc(":pw")))), None);
        assert_eq!(credentials(&v("Bearer abc")), None);
        assert_eq!(credentials(&v("Basic !!!")), None);
    }
}
