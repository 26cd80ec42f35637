//! Builds and runs the Pingora server from the node settings: the proxy service on every
//! `proxy_listen` address, the admin service, the health checker and the reloader.

use crate::admin::AdminApp;
use crate::admission::Admission;
use crate::config;
use crate::lasting::Lasting;
use crate::proxy::Gateway;
use crate::reload::Reloader;
use crate::settings::NodeSettings;
use crate::snapshot::Snapshot;
use crate::sni::SniResolver;
use crate::state::State;
use crate::telemetry::access_log::{AccessLog, Target};
use crate::telemetry::Metrics;
use anyhow::Context;
use pingora::listeners::tls::TlsSettings;
use pingora::listeners::ListenerConfig;
use pingora::prelude::*;
use pingora::protocols::l4::stream::L4BufferSettings;
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
    // Nothing here reads how long a connection's reads waited (Pingora patch 46).
    pingora::protocols::l4::stream::set_read_pending_timing(false);
    // The request clock calibrates itself on first use (at most 200 ms): now, not on a request.
    let _ = quanta::Instant::now();

    let state = Arc::new(State::new(snapshot, lasting));
    let metrics = Arc::new(Metrics::default());

    let mut app = pingora::proxy::http_proxy(
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
                tracing: settings.tracing,
            },
            settings.headers,
        ),
    );
    let mut options = pingora::apps::HttpServerOptions::default();
    // Pingora counts reuses after the first request; nginx counts requests.
    options.keepalive_request_limit = Some(settings.keepalive_requests.saturating_sub(1));
    options.h2_idle_timeout = (settings.keepalive_timeout > 0)
        .then(|| std::time::Duration::from_secs(settings.keepalive_timeout));
    options.h1_header_timeout = Some(std::time::Duration::from_secs(
        settings.client_header_timeout,
    ));
    // A plain listener marked `http2` also takes HTTP/2 with prior knowledge (gRPC without
    // TLS); Pingora peeks for the preface on plain connections of this app only then.
    options.h2c = settings.proxy_listen.iter().any(|l| l.http2 && !l.ssl);
    app.server_options = Some(options);
    let limit = connection_limit(&settings);
    let mut proxy = pingora::services::listening::Service::new(
        "skyport proxy".to_string(),
        Admission::new(app, limit, metrics.clone()),
    );
    for l in &settings.proxy_listen {
        if l.ssl {
            let (cert, key) = match (&settings.ssl_cert, &settings.ssl_cert_key) {
                (Some(c), Some(k)) => (c, k),
                _ => anyhow::bail!(
                    "proxy_listen {}: ssl needs ssl_cert and ssl_cert_key",
                    l.addr
                ),
            };
            let default = default_certificate(cert, key)?;
            let mut tls = TlsSettings::with_callbacks(Box::new(crate::sni::ServerNameKeeper))
                .with_context(|| format!("loading ssl_cert {cert} / ssl_cert_key {key}"))?;
            tls.set_cert_resolver(Arc::new(SniResolver::new(state.clone(), Some(default))));
            tls.enable_h2();
            proxy.add_tls_with_settings(&l.addr, None, tls);
        } else {
            // Pingora parses HTTP/1 into its own buffers: a 64 KiB L4 read buffer in front of
            // them only pins memory on every parked keep-alive connection.
            proxy.add_listener(
                ListenerConfig::tcp(l.addr.clone()).l4_buffer(L4BufferSettings::default().read(0)),
            );
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

/// The node's `ssl_cert`/`ssl_cert_key`: served to clients whose server name no configured
/// certificate claims.
fn default_certificate(cert: &str, key: &str) -> anyhow::Result<Arc<rustls::sign::CertifiedKey>> {
    let read = |p: &str| std::fs::read_to_string(p).with_context(|| format!("reading {p}"));
    config::tls::certified_key(&read(cert)?, &read(key)?)
        .map_err(|(_, e)| anyhow::anyhow!("ssl_cert {cert} / ssl_cert_key {key}: {e}"))
}

/// Client connections the proxy admits at once: `max_connections` per worker thread, or with
/// `auto` what the descriptor limit allows (raised to the hard limit first), keeping room for
/// one upstream connection per client and for the rest of the process.
fn connection_limit(settings: &NodeSettings) -> usize {
    const RESERVE: u64 = 256;
    let descriptors = raise_descriptor_limit();
    let threads = settings.worker_threads.max(1) as u64;
    let fits = descriptors.saturating_sub(RESERVE) / 2;
    let limit = match settings.max_connections {
        Some(per_worker) => {
            let total = per_worker.saturating_mul(threads);
            if total > fits {
                log::warn!(
                    "max_connections {per_worker} x {threads} worker threads needs about {} \
                     descriptors; the limit is {descriptors}, so connections may fail past \
                     about {fits} (raise it: ulimit -n, or LimitNOFILE= for systemd)",
                    total * 2 + RESERVE
                );
            }
            total
        }
        None => fits,
    };
    if descriptors < 4096 {
        log::warn!(
            "the descriptor limit is {descriptors}: at most {limit} client connections at once \
             (raise it: ulimit -n, or LimitNOFILE= for systemd)"
        );
    }
    usize::try_from(limit.max(1)).unwrap_or(usize::MAX)
}

/// Raises the soft descriptor limit to the hard one where the OS allows; returns the limit in
/// force.
fn raise_descriptor_limit() -> u64 {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return 1024;
    };
    // An unlimited hard limit still has the kernel's nr_open under it: stay reasonable.
    let want = hard.min(1 << 20);
    if want > soft && setrlimit(Resource::RLIMIT_NOFILE, want, hard).is_ok() {
        return want;
    }
    soft
}
