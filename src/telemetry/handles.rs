//! One route's metric handles, resolved on the route's first request and kept with the
//! compiled route: counting a request then neither hashes label values nor takes a metric
//! family's lock.

use super::Metrics;
use prometheus::{Histogram, IntCounter};
use std::sync::OnceLock;
use std::time::Duration;

/// Statuses labelled by their number; the others by their class.
const STATUSES: [(u16, &str); 16] = [
    (200, "200"),
    (201, "201"),
    (204, "204"),
    (301, "301"),
    (302, "302"),
    (304, "304"),
    (400, "400"),
    (401, "401"),
    (403, "403"),
    (404, "404"),
    (429, "429"),
    (500, "500"),
    (502, "502"),
    (503, "503"),
    (504, "504"),
    (0, "0"),
];
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];
const SLOTS: usize = STATUSES.len() + CLASSES.len();

/// The label of a status and the slot its counter takes in [`RouteMetrics`].
fn status_slot(status: u16) -> (usize, &'static str) {
    if let Some(i) = STATUSES.iter().position(|(c, _)| *c == status) {
        return (i, STATUSES[i].1);
    }
    let class = match status {
        100..=199 => 0,
        200..=299 => 1,
        300..=399 => 2,
        400..=499 => 3,
        _ => 4,
    };
    (STATUSES.len() + class, CLASSES[class])
}

/// The handles of one route's labels (its name, its service's, each status), each made on
/// first use. A route belongs to one process, so to one [`Metrics`].
#[derive(Default)]
pub struct RouteMetrics {
    latency: OnceLock<Histogram>,
    upstream_latency: OnceLock<Histogram>,
    requests: [OnceLock<IntCounter>; SLOTS],
}

impl std::fmt::Debug for RouteMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteMetrics").finish_non_exhaustive()
    }
}

/// What a finished request reports.
pub struct Finished<'a> {
    /// The route's label (its name, else its id); empty without a route.
    pub route: &'a str,
    /// The service's label; empty without one.
    pub service: &'a str,
    /// The status sent to the client (0 when none was).
    pub status: u16,
    /// The whole request.
    pub latency: Duration,
    /// From sending upstream to its response header (to the end when no header came), when
    /// a service was asked.
    pub upstream: Option<Duration>,
}

impl Metrics {
    /// Counts a finished request, by the route's handles when it had a route.
    pub fn observe(&self, route: Option<&RouteMetrics>, f: &Finished<'_>) {
        let (slot, status) = status_slot(f.status);
        let labels = [f.route, f.service, status];
        let Some(h) = route else {
            self.requests.with_label_values(&labels).inc();
            self.latency
                .with_label_values(&[f.route])
                .observe(f.latency.as_secs_f64());
            if let Some(u) = f.upstream {
                self.upstream_latency
                    .with_label_values(&[f.service])
                    .observe(u.as_secs_f64());
            }
            return;
        };
        h.requests[slot]
            .get_or_init(|| self.requests.with_label_values(&labels))
            .inc();
        h.latency
            .get_or_init(|| self.latency.with_label_values(&[f.route]))
            .observe(f.latency.as_secs_f64());
        if let Some(u) = f.upstream {
            h.upstream_latency
                .get_or_init(|| self.upstream_latency.with_label_values(&[f.service]))
                .observe(u.as_secs_f64());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(m: &Metrics) -> String {
        String::from_utf8(m.render()).unwrap_or_default()
    }

    #[test]
    fn statuses_are_labelled_by_number_or_class() {
        assert_eq!(status_slot(200), (0, "200"));
        assert_eq!(status_slot(0).1, "0");
        assert_eq!(status_slot(418).1, "4xx");
        assert_eq!(status_slot(101).1, "1xx");
        assert_eq!(status_slot(599).1, "5xx");
        assert_ne!(status_slot(418).0, status_slot(599).0);
    }

    #[test]
    fn handles_count_as_the_labelled_families_do() {
        let m = Metrics::new();
        let route = RouteMetrics::default();
        let done = |status| Finished {
            route: "r",
            service: "s",
            status,
            latency: Duration::from_millis(2),
            upstream: Some(Duration::from_millis(1)),
        };
        for status in [200, 200, 418, 404] {
            m.observe(Some(&route), &done(status));
        }
        m.observe(None, &done(200));
        // A reload compiles the route again with new, empty handles: they find the same
        // series, so its counts go on.
        let reloaded = RouteMetrics::default();
        m.observe(Some(&reloaded), &done(200));
        let t = text(&m);
        assert!(
            t.contains(r#"skyport_requests_total{route="r",service="s",status="200"} 4"#),
            "{t}"
        );
        assert!(t.contains(r#"status="4xx"} 1"#), "{t}");
        // Another route's handles count under its own route label; the service is shared.
        let other = RouteMetrics::default();
        m.observe(
            Some(&other),
            &Finished {
                route: "q",
                ..done(200)
            },
        );
        let t = text(&m);
        assert!(
            t.contains(r#"skyport_requests_total{route="q",service="s",status="200"} 1"#),
            "{t}"
        );
        assert!(t.contains(r#"status="404"} 1"#), "{t}");
        assert!(
            t.contains(r#"skyport_request_duration_seconds_count{route="r"} 6"#),
            "{t}"
        );
        assert!(
            t.contains(r#"skyport_upstream_duration_seconds_count{service="s"} 7"#),
            "{t}"
        );
    }
}
