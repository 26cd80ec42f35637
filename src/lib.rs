//! Skyport: an API gateway on Pingora that serves Kong's declarative configuration.
//!
//! The pipeline, one way: a `kong.yml` is parsed ([`config::file`]), validated into a
//! [`model::Model`] with every problem named by path ([`config::validate`], one pass per
//! entity kind, plugin configs checked by their [`plugins::registry`] row), its target names
//! looked up ([`config::load_async`]), compiled into an immutable [`snapshot::Snapshot`]
//! ([`config::compile`], which cannot fail and does no I/O) and installed in one `ArcSwap`
//! ([`state`]), which also owns what outlives a snapshot ([`lasting`]: target health,
//! rate-limit counters, Redis connections). Each request takes that snapshot once, is
//! matched by the [`router`], runs its route's [`plugins`] chain at Kong's phases, and is
//! proxied to a pooled [`upstream`] by [`proxy`]; every answer Skyport makes itself is
//! rendered by [`error`].
//!
//! Layers, top to bottom; a module imports only from layers below it, never above, and no
//! two modules import each other:
//!
//! ```text
//! main -> cli
//! server
//! proxy, admin, reload, checker, admission, sni (server-level services)
//! config (file, validate, compile), state
//! lasting, snapshot
//! plugins, upstream
//! model                                   (validated entities: enums, compiled matchers, keys)
//! router, error, telemetry, settings, issues
//! lenient, spans, values                  (field-by-field parsing in Kong's schema phrases; a
//!                                          request's trace and the tracing settings; shared
//!                                          header values)
//! ```

// No function of the gateway over 150 lines (clippy.toml); tests may script longer stories.
#![warn(clippy::too_many_lines)]

pub mod admin;
pub mod admission;
pub mod checker;
pub mod cli;
pub mod config;
pub mod error;
pub mod issues;
pub mod lasting;
pub mod lenient;
pub mod model;
pub mod plugins;
pub mod proxy;
pub mod reload;
pub mod router;
pub mod server;
pub mod settings;
pub mod snapshot;
pub mod sni;
pub mod spans;
pub mod state;
pub mod telemetry;
pub mod upstream;
pub mod values;
