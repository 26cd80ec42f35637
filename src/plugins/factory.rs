//! What a plugin kind provides to be registered: its config schema and checks
//! ([`Factory`]), the config with its checked values ([`Checked`]), and the table row made
//! from it ([`Registration`]).

use super::{BuildCtx, Plugin, Scope};
use crate::model::PluginConfig;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::Arc;

/// Problems in one `config:` block, as `(field path inside config, message)`; the field
/// [`ON_SCOPE`] puts a problem on the plugin entity itself (its scope, not its config).
pub type FieldIssues = Vec<(String, String)>;

/// The field of a problem with where a plugin is applied rather than with its config.
pub const ON_SCOPE: &str = "^";

/// What a plugin's checks may ask about the rest of the file.
pub struct CheckCtx<'a> {
    /// The plugin's name.
    pub name: &'a str,
    /// The instance is scoped to a consumer.
    pub consumer_scoped: bool,
    /// Whether a consumer with this id or username exists.
    pub consumer_exists: &'a dyn Fn(&str) -> bool,
}

/// A plugin's configuration as written (`Spec`, what the admin API shows) with what its
/// checks derived from it once (`Typed`: enums, parsed names).
#[derive(Debug, Serialize)]
pub struct Checked<S, T> {
    /// The configuration with Kong's defaults filled in.
    #[serde(flatten)]
    pub spec: S,
    /// The values parsed from it.
    #[serde(skip)]
    pub typed: T,
}

/// A plugin kind: its config schema, checks and constructor.
pub trait Factory: 'static {
    /// Whether an instance may be scoped to a consumer (Kong's `no_consumer` plugins, the
    /// authentication ones among them, may not).
    const ON_CONSUMERS: bool = true;

    /// The `config:` block, with Kong's fields and defaults (`deny_unknown_fields`).
    type Spec: DeserializeOwned + Serialize + std::fmt::Debug + Send + Sync + 'static;
    /// What the checks derive from the spec (`()` when nothing).
    type Typed: std::fmt::Debug + Send + Sync + 'static;

    /// The config as Kong stores and shows it (e.g. legacy fields mirrored into their new
    /// place); called before [`Factory::check`].
    fn normalize(spec: Self::Spec) -> Self::Spec {
        spec
    }

    /// Every problem of a parsed config at once, or its typed values.
    fn check(spec: &Self::Spec, ctx: &CheckCtx<'_>) -> Result<Self::Typed, FieldIssues>;

    /// The runtime instance of a checked config in its scope. Cannot fail and does no I/O.
    fn build(
        checked: &Checked<Self::Spec, Self::Typed>,
        ctx: &BuildCtx,
        scope: &Scope,
    ) -> Arc<dyn Plugin>;
}

/// One row of the table.
pub struct Registration {
    /// Kong's plugin name.
    pub name: &'static str,
    /// Kong's priority: higher runs earlier.
    pub priority: i32,
    /// Parses and checks a `config:` block (absent = `{}`).
    pub parse: fn(Option<&serde_json::Value>, &CheckCtx<'_>) -> Result<PluginConfig, FieldIssues>,
    /// Builds an instance of a config this row parsed.
    pub build: fn(&PluginConfig, &BuildCtx, &Scope) -> Option<Arc<dyn Plugin>>,
}

impl Registration {
    /// The row of plugin kind `F`.
    pub const fn of<F: Factory>(name: &'static str, priority: i32) -> Registration {
        Registration {
            name,
            priority,
            parse: parse::<F>,
            build: build::<F>,
        }
    }
}

fn parse<F: Factory>(
    raw: Option<&serde_json::Value>,
    ctx: &CheckCtx<'_>,
) -> Result<PluginConfig, FieldIssues> {
    let empty = serde_json::Value::Object(Default::default());
    let raw = raw.unwrap_or(&empty);
    let parsed = crate::lenient::parse::<F::Spec>(raw);
    let mut issues = parsed.problems.clone();
    if ctx.consumer_scoped && !F::ON_CONSUMERS {
        issues.push(on_consumer(ctx));
    }
    let muted = parsed.mutes().to_vec();
    let Some(spec) = parsed.value else {
        return Err(issues);
    };
    let spec = F::normalize(spec);
    let typed = match F::check(&spec, ctx) {
        Ok(t) if issues.is_empty() => t,
        Ok(_) => return Err(issues),
        Err(found) => {
            // A check's finding about a field already reported (and dropped) is a false one.
            issues.extend(found.into_iter().filter(|(at, _)| {
                !muted.iter().any(|m| {
                    if m.is_empty() {
                        at.is_empty()
                    } else {
                        crate::lenient::is_under(at, m)
                    }
                })
            }));
            return Err(issues);
        }
    };
    Ok(PluginConfig::new(Checked::<F::Spec, F::Typed> {
        spec,
        typed,
    }))
}

fn on_consumer(ctx: &CheckCtx<'_>) -> (String, String) {
    (
        ON_SCOPE.into(),
        format!("plugin '{}' cannot be applied to consumers", ctx.name),
    )
}

fn build<F: Factory>(c: &PluginConfig, ctx: &BuildCtx, scope: &Scope) -> Option<Arc<dyn Plugin>> {
    c.get::<Checked<F::Spec, F::Typed>>()
        .map(|checked| F::build(checked, ctx, scope))
}
