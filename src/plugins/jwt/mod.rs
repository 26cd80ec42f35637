//! Kong's `jwt` plugin (priority 1450): finds the token, checks its algorithm, key claim,
//! signature and claims, and names the consumer for the upstream and for later plugins.
//! Every failure answers as Kong does (401, the JSON body, `WWW-Authenticate`).

pub mod config;
pub mod keyring;
pub mod token;
pub mod verified;

use crate::error::{Exit, GatewayError};
use crate::model::jwt_key::JwtAlgorithm;
use crate::plugins::auth::{identify, Anonymous};
use crate::plugins::factory::{CheckCtx, Checked, Factory, FieldIssues};
use crate::plugins::{BuildCtx, Clock, Flow, Plugin, RequestState, Scope};
use async_trait::async_trait;
pub use config::JwtConfig;
use http::HeaderValue;
use keyring::Keyring;
use pingora::proxy::Session;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::sync::Arc;
use token::Member;
use verified::{InstanceTokens, TimeClaims};

/// A configured `jwt` plugin instance.
pub struct Jwt {
    config: JwtConfig,
    /// Where tokens are looked for.
    places: token::Places,
    keyring: Arc<Keyring>,
    clock: Clock,
    /// `WWW-Authenticate` when no token was found.
    challenge: HeaderValue,
    /// `WWW-Authenticate` for every other failure.
    challenge_invalid: HeaderValue,
    /// The anonymous consumer and its identity headers, resolved at load.
    anonymous: Anonymous,
    /// Tokens this instance verified, by their text.
    verified: InstanceTokens,
}

impl std::fmt::Debug for Jwt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwt").field("config", &self.config).finish()
    }
}

/// Why a token was refused: Kong's 401 bodies.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// No token anywhere (the only one with the bare challenge).
    NoToken,
    /// `{"message": ...}` with `error="invalid_token"`.
    Message(String),
    /// Claim failures keyed by claim.
    Claims(Map<String, Value>),
}

impl Factory for Jwt {
    type Spec = JwtConfig;
    type Typed = ();
    const ON_CONSUMERS: bool = false;

    /// An `anonymous` that names no consumer loads, as in Kong: such requests get Kong's 500.
    fn check(spec: &JwtConfig, _ctx: &CheckCtx<'_>) -> Result<(), FieldIssues> {
        let out = spec.check();
        if out.is_empty() {
            Ok(())
        } else {
            Err(out)
        }
    }

    fn build(c: &Checked<JwtConfig, ()>, ctx: &BuildCtx, _scope: &Scope) -> Arc<dyn Plugin> {
        let anonymous = Anonymous::resolve(c.spec.anonymous.as_deref(), &ctx.directory);
        Arc::new(
            Jwt::new(c.spec.clone(), ctx.keyring.clone(), ctx.clock.clone()).anonymous(anonymous),
        )
    }
}

impl Jwt {
    /// Builds the plugin over a snapshot's keyring.
    pub fn new(config: JwtConfig, keyring: Arc<Keyring>, clock: Clock) -> Jwt {
        let realm = config
            .realm
            .as_ref()
            .map(|r| format!("realm=\"{}\"", r.replace('"', "")));
        let challenge = match &realm {
            Some(r) => format!("Bearer {r}"),
            None => "Bearer".to_string(),
        };
        let challenge_invalid = match &realm {
            Some(r) => format!("Bearer {r}, error=\"invalid_token\""),
            None => "Bearer error=\"invalid_token\"".to_string(),
        };
        Jwt {
            anonymous: Anonymous::Off,
            verified: InstanceTokens::default(),
            places: token::Places::new(&config),
            config,
            keyring,
            clock,
            challenge: HeaderValue::from_str(&challenge)
                .unwrap_or(HeaderValue::from_static("Bearer")),
            challenge_invalid: HeaderValue::from_str(&challenge_invalid)
                .unwrap_or(HeaderValue::from_static("Bearer error=\"invalid_token\"")),
        }
    }

    /// The consumer requests that fail authentication continue as (`anonymous`).
    pub fn anonymous(mut self, anonymous: Anonymous) -> Jwt {
        self.anonymous = anonymous;
        self
    }

    /// Authenticates a request given its query string and headers.
    pub fn authenticate(
        &self,
        query: Option<&str>,
        headers: &http::HeaderMap,
    ) -> Result<Arc<keyring::Credential>, Refusal> {
        let token = match token::candidates(&self.places, query, headers) {
            token::Found::Nothing => return Err(Refusal::NoToken),
            token::Found::One(one) => one,
            token::Found::Several => return Err(msg("Multiple tokens provided")),
        };
        // Every check before the time claims depends on the token's text and on this
        // instance's config and keyring only: a token verified before passes them again.
        if let Some(seen) = self.verified.get(&token) {
            check_claims(&self.config, &seen.claims, (self.clock)())?;
            return Ok(seen.credential);
        }
        let decoded = token::decode(&token).ok_or_else(|| msg("Bad token; invalid JSON"))?;
        let (header, payload) = decoded
            .objects()
            .ok_or_else(|| msg("Bad token; invalid JSON"))?;
        let alg = match header.get("alg") {
            Member::Text(a) => JwtAlgorithm::parse(&a),
            _ => None,
        };
        let Some(alg) = alg else {
            return Err(msg("Bad token; invalid alg"));
        };
        if !decoded.signature_decodes() {
            return Err(msg("Bad token; invalid signature"));
        }
        let claim = &self.config.key_claim_name;
        // The claims' member first, even a null one; the header's only when there is none.
        let key = if payload.has(claim) {
            payload.get(claim)
        } else {
            header.get(claim)
        };
        let key = match key {
            Member::Missing => return Err(msg(&format!("No mandatory '{claim}' in claims"))),
            Member::Text(s) if s.is_empty() => {
                return Err(msg(&format!("Invalid '{claim}' in claims")))
            }
            Member::Text(s) => s,
            Member::Other(s) => Cow::Owned(s),
        };
        let credential = self
            .keyring
            .credential(&key)
            .ok_or_else(|| msg(&format!("No credentials found for given '{claim}'")))?;
        if credential.algorithm != alg {
            return Err(msg("Invalid algorithm"));
        }
        let verifier = if self.config.secret_is_base64 && alg.is_hmac() {
            credential.material.verifier_b64.as_ref()
        } else {
            credential.material.verifier.as_ref()
        };
        let verifier = verifier.ok_or_else(|| msg("Invalid key/secret"))?;
        if !verifier.verify_signature(alg, decoded.signing_input.as_bytes(), &decoded.signature) {
            return Err(msg("Invalid signature"));
        }
        let claims = TimeClaims::read(&payload);
        self.verified.keep(&token, credential, claims);
        check_claims(&self.config, &claims, (self.clock)())?;
        Ok(credential.clone())
    }

    fn refusal_exit(&self, r: Refusal) -> Exit {
        match r {
            Refusal::NoToken => Exit::message(401, "Unauthorized")
                .with_header(http::header::WWW_AUTHENTICATE, self.challenge.clone()),
            Refusal::Message(m) => Exit::message(401, &m).with_header(
                http::header::WWW_AUTHENTICATE,
                self.challenge_invalid.clone(),
            ),
            Refusal::Claims(map) => Exit::json(401, &Value::Object(map)).with_header(
                http::header::WWW_AUTHENTICATE,
                self.challenge_invalid.clone(),
            ),
        }
    }
}

fn msg(m: &str) -> Refusal {
    Refusal::Message(m.to_string())
}

/// Kong's claim checks (no leeway): `exp <= now` is expired, `nbf > now` is not yet valid,
/// and `maximum_expiration` bounds `exp - now`.
pub fn check_claims(config: &JwtConfig, claims: &TimeClaims, now: i64) -> Result<(), Refusal> {
    let mut errors = Map::new();
    for claim in &config.claims_to_verify {
        let value = claims.get(claim);
        match (claim.as_str(), value) {
            (_, None) => {
                errors.insert(claim.clone(), Value::from("must be a number"));
            }
            ("exp", Some(exp)) if exp <= now as f64 => {
                errors.insert("exp".into(), Value::from("token expired"));
            }
            ("nbf", Some(nbf)) if nbf > now as f64 => {
                errors.insert("nbf".into(), Value::from("token not valid yet"));
            }
            _ => {}
        }
    }
    if !errors.is_empty() {
        return Err(Refusal::Claims(errors));
    }
    if config.maximum_expiration > 0 {
        let too_long = match claims.exp {
            Some(exp) => exp - now as f64 > config.maximum_expiration as f64,
            None => true,
        };
        if too_long {
            let mut m = Map::new();
            m.insert(
                "exp".into(),
                Value::from("exceeds maximum allowed expiration"),
            );
            return Err(Refusal::Claims(m));
        }
    }
    Ok(())
}

#[async_trait]
impl Plugin for Jwt {
    fn name(&self) -> &'static str {
        "jwt"
    }

    crate::plugins::access_by_admit!();
}

impl Jwt {
    /// The access phase: it never waits, so the proxy calls it directly (`access_now`).
    fn admit(&self, session: &mut Session, state: &mut RequestState) -> Result<Flow, GatewayError> {
        let req = session.req_header();
        if !self.config.run_on_preflight && req.method == http::Method::OPTIONS {
            return Ok(Flow::Continue);
        }
        // Logical OR with an earlier authentication: nothing left to do.
        if self.anonymous.already_authenticated(state) {
            return Ok(Flow::Continue);
        }
        match self.authenticate(req.uri.query(), &req.headers) {
            Ok(credential) => {
                identify(
                    state,
                    &credential.consumer,
                    Some(&credential.key),
                    &credential.headers,
                );
                Ok(Flow::Continue)
            }
            // jwt answers with `kong.response.exit` bodies, not the error template.
            Err(refusal) if matches!(self.anonymous, Anonymous::Off) => {
                Ok(Flow::Respond(self.refusal_exit(refusal)))
            }
            Err(_) => self
                .anonymous
                .fall_back(state, GatewayError::refused(401, "Unauthorized"))
                .map(|()| Flow::Continue),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use token::Object;

    /// `check_claims` over the claims `v`, read as a token's payload is.
    fn check(c: &JwtConfig, v: Value, now: i64) -> Result<(), Refusal> {
        let text = v.to_string();
        let payload = Object::parse(text.as_bytes()).expect("a JSON object");
        check_claims(c, &TimeClaims::read(&payload), now)
    }

    fn cfg(verify: &[&str], max: u64) -> JwtConfig {
        JwtConfig {
            claims_to_verify: verify.iter().map(|s| s.to_string()).collect(),
            maximum_expiration: max,
            ..JwtConfig::default()
        }
    }

    fn refused(r: Result<(), Refusal>) -> Value {
        match r {
            Err(Refusal::Claims(m)) => Value::Object(m),
            other => panic!("expected a claims refusal, got {other:?}"),
        }
    }

    #[test]
    fn exp_is_expired_exactly_at_now() {
        let c = cfg(&["exp"], 0);
        assert!(check(&c, serde_json::json!({"exp": 1001}), 1000).is_ok());
        assert_eq!(
            refused(check(&c, serde_json::json!({"exp": 1000}), 1000)),
            serde_json::json!({"exp": "token expired"})
        );
        assert_eq!(
            refused(check(&c, serde_json::json!({"exp": "soon"}), 1000)),
            serde_json::json!({"exp": "must be a number"})
        );
    }

    #[test]
    fn nbf_is_valid_from_now_on() {
        let c = cfg(&["nbf"], 0);
        assert!(check(&c, serde_json::json!({"nbf": 1000}), 1000).is_ok());
        assert_eq!(
            refused(check(&c, serde_json::json!({"nbf": 1001}), 1000)),
            serde_json::json!({"nbf": "token not valid yet"})
        );
    }

    #[test]
    fn several_claim_failures_are_reported_together() {
        let c = cfg(&["exp", "nbf"], 0);
        assert_eq!(
            refused(check(&c, serde_json::json!({"exp": 5, "nbf": 2000}), 1000)),
            serde_json::json!({"exp": "token expired", "nbf": "token not valid yet"})
        );
    }

    #[test]
    fn maximum_expiration_bounds_the_lifetime() {
        let c = cfg(&["exp"], 60);
        assert!(check(&c, serde_json::json!({"exp": 1060}), 1000).is_ok());
        assert_eq!(
            refused(check(&c, serde_json::json!({"exp": 1061}), 1000)),
            serde_json::json!({"exp": "exceeds maximum allowed expiration"})
        );
    }

    #[test]
    fn claims_are_not_checked_unless_asked() {
        assert!(check(&cfg(&[], 0), serde_json::json!({"exp": 1}), 1000).is_ok());
    }
}
