//! One target's active probe: pingora-load-balancing's HTTP (or TCP) health check, built from
//! `healthchecks.active` (https probes trust what the upstream's services trust), and the
//! mapping of its outcome to a health [`Event`].

use super::health::Event;
use crate::model::healthchecks::{Active, CheckKind};
use http::HeaderValue;
use pingora::lb::health_check::{HealthCheck, HttpHealthCheck, TcpHealthCheck};
use pingora::lb::Backend;
use pingora::ErrorType;
use std::time::Duration;

/// A probe ready to run against one address.
pub struct Probe {
    check: Box<dyn HealthCheck + Send + Sync>,
    timeout: Duration,
    healthy: Vec<u16>,
    unhealthy: Vec<u16>,
}

/// The error type a probe's validator raises for a status outside the healthy list.
const STATUS: &str = "probe status";

impl Probe {
    /// Builds the probe of a target (`host` is its name, `host_header` what `Host` says).
    pub fn new(
        cfg: &Active,
        host: &str,
        host_header: &HeaderValue,
        trust: Option<super::trust::TrustList>,
    ) -> Probe {
        let timeout = Duration::from_secs_f64(cfg.timeout.max(0.001));
        let tls = cfg.kind == CheckKind::Https;
        let sni = cfg.https_sni.clone().unwrap_or_else(|| host.to_string());
        let check: Box<dyn HealthCheck + Send + Sync> = if cfg.kind == CheckKind::Tcp {
            let mut c = TcpHealthCheck::default();
            c.peer_template.options.connection_timeout = Some(timeout);
            Box::new(c)
        } else {
            let mut c = HttpHealthCheck::new(&sni, tls);
            let o = &mut c.peer_template.options;
            o.connection_timeout = Some(timeout);
            o.total_connection_timeout = Some(timeout);
            o.read_timeout = Some(timeout);
            o.write_timeout = Some(timeout);
            o.verify_cert = cfg.https_verify_certificate;
            o.verify_hostname = cfg.https_verify_certificate;
            o.ca = trust;
            c.peer_template.sni = sni;
            if let Ok(path) = http::Uri::try_from(cfg.http_path.as_str()) {
                c.req.set_uri(path);
            }
            let _ = c.req.insert_header(http::header::HOST, host_header.clone());
            let _ = c
                .req
                .insert_header(http::header::USER_AGENT, "skyport-healthcheck");
            for (name, values) in &cfg.headers {
                for v in values {
                    let _ = c.req.append_header(name.clone(), v.as_str());
                }
            }
            let healthy = cfg.healthy.http_statuses.clone();
            c.validator = Some(Box::new(move |resp| {
                let code = resp.status.as_u16();
                if healthy.contains(&code) {
                    Ok(())
                } else {
                    pingora::Error::e_explain(ErrorType::CustomCode(STATUS, code), "health check")
                }
            }));
            Box::new(c)
        };
        Probe {
            check,
            timeout,
            healthy: cfg.healthy.http_statuses.clone(),
            unhealthy: cfg.unhealthy.http_statuses.clone(),
        }
    }

    /// Probes `addr` once; None when the answer counts neither way (a status in no list).
    pub async fn run(&self, addr: std::net::SocketAddr) -> Option<Event> {
        let backend = Backend {
            addr: pingora::protocols::l4::socket::SocketAddr::Inet(addr),
            weight: 1,
            ext: Default::default(),
        };
        // The probe's own timeouts bound each step; this bounds the whole.
        let outcome = tokio::time::timeout(self.timeout * 2, self.check.check(&backend)).await;
        match outcome {
            Err(_) => Some(Event::Timeout),
            Ok(Ok(())) => Some(Event::Success),
            Ok(Err(e)) => match e.etype() {
                ErrorType::CustomCode(STATUS, code) => {
                    if self.unhealthy.contains(code) {
                        Some(Event::HttpFailure)
                    } else if self.healthy.contains(code) {
                        Some(Event::Success)
                    } else {
                        None
                    }
                }
                ErrorType::ConnectTimedout | ErrorType::ReadTimedout | ErrorType::WriteTimedout => {
                    Some(Event::Timeout)
                }
                _ => Some(Event::TcpFailure),
            },
        }
    }
}
