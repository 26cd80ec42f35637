//! Skyport: an API gateway on Pingora that serves Kong's declarative configuration.
//!
//! The pipeline, one way: a `kong.yml` is parsed ([`config::file`]), validated into a
//! [`config::model::Model`] with every problem named by path ([`config::validate`]), compiled
//! into an immutable [`snapshot::Snapshot`] ([`config::compile`]) and installed in one
//! `ArcSwap` ([`state`]). Each request takes that snapshot once, is matched by the
//! [`router`], runs its route's [`plugins`] chain, and is proxied to a pooled
//! [`upstream`] by [`proxy`]; every answer Skyport makes itself is rendered by [`error`].

pub mod admin;
pub mod cli;
pub mod config;
pub mod error;
pub mod plugins;
pub mod proxy;
pub mod reload;
pub mod router;
pub mod server;
pub mod snapshot;
pub mod state;
pub mod telemetry;
pub mod upstream;
