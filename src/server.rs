//! Builds and runs the Pingora server from the node settings: the proxy service on every
//! `proxy_listen` address, the admin service, the health checker and the reloader.

use crate::admin::AdminApp;
use crate::config;
use crate::lasting::Lasting;
use crate::proxy::Gateway;
use crate::reload::Reloader;
use crate::settings::NodeSettings;
use crate::snapshot::Snapshot;
use crate::state::State;
use crate::telemetry::access_log::{AccessLog, Target};
use crate::telemetry::Metrics;
use anyhow::Context;
use pingora::listeners::tls::TlsSettings;
use pingora::prelude::*;
use pingora::server::configuration::ServerConf;
use std::sync::Arc;

/// Loads the declarative config named by the settings (or the empty one), compiled against
/// the node's lasting state.
pub fn initial_snapshot(
    settings: &NodeSettings,
    lasting: &Lasting,
) -> Result<Snapshot, config::ConfigError> {
    match &settings.declarative_config {
        Some(p) => config::load_file(p, lasting),
        None => Ok(Snapshot::empty()),
    }
}

/// Runs the gateway until it is told to stop. `opt` carries Pingora's -d/-u/-t flags.
pub fn run(
    mut opt: Opt,
    settings: NodeSettings,
    lasting: Arc<Lasting>,
    snapshot: Snapshot,
) -> anyhow::Result<()> {
    let conf = ServerConf {
        daemon: opt.daemon,
        threads: settings.worker_threads,
        pid_file: settings.pid_file.clone(),
        error_log: settings.error_log.clone(),
        upgrade_sock: settings.upgrade_sock.clone(),
        grace_period_seconds: Some(settings.grace_period),
        graceful_shutdown_timeout_seconds: Some(settings.graceful_shutdown_timeout),
        upstream_keepalive_pool_size: settings.upstream_keepalive_pool_size,
        work_stealing: settings.worker_work_stealing,
        ..ServerConf::default()
    };
    // `-c` named our settings file, not a Pingora YAML; Pingora gets its conf from us.
    opt.conf = None;
    let mut server = Server::new_with_opt_and_conf(opt, conf);
    server.bootstrap();

    let state = Arc::new(State::new(snapshot, lasting));
    let metrics = Arc::new(Metrics::default());

    let mut proxy = pingora::proxy::http_proxy_service_with_name(
        &server.configuration,
        Gateway::new(
            state.clone(),
            metrics.clone(),
            Arc::new(AccessLog::new(Target::parse(&settings.access_log))),
            crate::proxy::Limits {
                max_body: settings.client_max_body_size,
                max_header: settings.client_max_header_size,
                max_header_line: settings.large_client_header_buffers.1,
                body_timeout: std::time::Duration::from_secs(settings.client_body_timeout),
                keepalive_timeout: settings.keepalive_timeout,
            },
            settings.headers,
        ),
        "skyport proxy",
    );
    if let Some(app) = proxy.app_logic_mut() {
        let mut options = pingora::apps::HttpServerOptions::default();
        // Pingora counts reuses after the first request; nginx counts requests.
        options.keepalive_request_limit = Some(settings.keepalive_requests.saturating_sub(1));
        options.h2_idle_timeout = (settings.keepalive_timeout > 0)
            .then(|| std::time::Duration::from_secs(settings.keepalive_timeout));
        app.server_options = Some(options);
    }
    for l in &settings.proxy_listen {
        if l.ssl {
            let (cert, key) = match (&settings.ssl_cert, &settings.ssl_cert_key) {
                (Some(c), Some(k)) => (c, k),
                _ => anyhow::bail!(
                    "proxy_listen {}: ssl needs ssl_cert and ssl_cert_key",
                    l.addr
                ),
            };
            let mut tls = TlsSettings::intermediate(cert, key)
                .with_context(|| format!("loading ssl_cert {cert} / ssl_cert_key {key}"))?;
            tls.enable_h2();
            proxy.add_tls_with_settings(&l.addr, None, tls);
        } else {
            proxy.add_tcp(&l.addr);
        }
    }
    server.add_service(proxy);

    if !settings.admin_listen.is_empty() {
        let mut admin = pingora::services::listening::Service::new(
            "skyport admin".to_string(),
            AdminApp {
                state: state.clone(),
                metrics: metrics.clone(),
                token: settings.admin_token.clone(),
            },
        );
        for l in &settings.admin_listen {
            admin.add_tcp(&l.addr);
        }
        admin.threads = Some(1);
        server.add_service(admin);
    }

    server.add_service(background_service(
        "skyport health checks",
        crate::checker::Checker {
            state: state.clone(),
        },
    ));
    server.add_service(background_service(
        "skyport reload",
        Reloader {
            state,
            metrics,
            path: settings.declarative_config.clone(),
            watch: settings.watch_config,
        },
    ));
    if !server.configuration.daemon {
        // Pingora writes the pid file in daemon mode only; `skyport reload|stop` need it always.
        if let Err(e) = std::fs::write(&settings.pid_file, std::process::id().to_string()) {
            log::warn!("cannot write pid file {}: {e}", settings.pid_file);
        }
    }
    server.run_forever();
}
