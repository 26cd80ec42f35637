//! Kong's `acl` plugin (priority 950): after authentication, the consumer's groups (`acls`)
//! are checked against `allow` or `deny`; Kong's 403 `You cannot consume this service`, 401
//! when nobody authenticated, and `X-Consumer-Groups` upstream unless hidden.

use crate::error::GatewayError;
use crate::plugins::factory::{CheckCtx, Checked, Factory, FieldIssues};
use crate::plugins::{BuildCtx, Flow, HeaderCase, Plugin, RequestState, Scope};
use async_trait::async_trait;
use http::HeaderValue;
use pingora::http::HeaderNames;
use pingora::proxy::Session;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

static X_CONSUMER_GROUPS_NAMES: HeaderNames =
    HeaderNames::new_static("x-consumer-groups", "X-Consumer-Groups");
const X_CONSUMER_GROUPS: HeaderCase = &X_CONSUMER_GROUPS_NAMES;

/// Kong's `acl` config.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AclConfig {
    pub allow: Option<Vec<String>>,
    pub deny: Option<Vec<String>>,
    pub hide_groups_header: bool,
    pub always_use_authenticated_groups: bool,
}

/// Which list decides.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// Only these groups pass.
    Allow(Vec<String>),
    /// These groups are refused.
    Deny(Vec<String>),
}

/// A configured `acl` instance.
#[derive(Debug)]
pub struct Acl {
    rule: Rule,
    hide_groups_header: bool,
}

fn forbidden() -> GatewayError {
    GatewayError::refused(403, "You cannot consume this service")
}

impl Factory for Acl {
    type Spec = AclConfig;
    type Typed = Rule;
    const ON_CONSUMERS: bool = false;

    fn check(spec: &AclConfig, _ctx: &CheckCtx<'_>) -> Result<Rule, FieldIssues> {
        let set = |l: &Option<Vec<String>>| l.as_ref().is_some_and(|v| !v.is_empty());
        match (set(&spec.allow), set(&spec.deny)) {
            (true, true) => Err(vec![(
                String::new(),
                "only one of these fields must be non-empty: 'config.allow', 'config.deny'".into(),
            )]),
            (false, false) => Err(vec![(
                String::new(),
                "at least one of these fields must be non-empty: 'config.allow', 'config.deny'"
                    .into(),
            )]),
            (true, false) => Ok(Rule::Allow(spec.allow.clone().unwrap_or_default())),
            (false, true) => Ok(Rule::Deny(spec.deny.clone().unwrap_or_default())),
        }
    }

    fn build(c: &Checked<AclConfig, Rule>, _: &BuildCtx, _: &Scope) -> Arc<dyn Plugin> {
        Arc::new(Acl {
            rule: c.typed.clone(),
            hide_groups_header: c.spec.hide_groups_header,
        })
    }
}

#[async_trait]
impl Plugin for Acl {
    fn name(&self) -> &'static str {
        "acl"
    }

    crate::plugins::access_by_admit!();
}

impl Acl {
    /// The access phase: it never waits, so the proxy calls it directly (`access_now`).
    fn admit(
        &self,
        _session: &mut Session,
        state: &mut RequestState,
    ) -> Result<Flow, GatewayError> {
        let Some(consumer) = &state.consumer else {
            return Err(GatewayError::refused(401, "Unauthorized"));
        };
        let groups = &consumer.groups;
        let in_group = |list: &[String]| list.iter().any(|g| groups.contains(g));
        let blocked = match &self.rule {
            // A consumer in no group: refused by an allow list (401 when anonymous).
            Rule::Allow(_) if groups.is_empty() => {
                return Err(if state.credential.is_some() {
                    forbidden()
                } else {
                    GatewayError::refused(401, "Unauthorized")
                });
            }
            Rule::Allow(list) => !in_group(list),
            Rule::Deny(list) => in_group(list),
        };
        if blocked {
            return Err(forbidden());
        }
        if !self.hide_groups_header {
            // Kong joins the consumer's groups; with no groups (a deny list let it through)
            // the header goes out empty.
            let v = consumer
                .groups_header
                .clone()
                .unwrap_or_else(|| HeaderValue::from_static(""));
            state.upstream_headers.push((X_CONSUMER_GROUPS, Some(v)));
        }
        Ok(Flow::Continue)
    }
}
