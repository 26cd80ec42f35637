//! Kong's `prometheus` plugin through the real gateway: the admin listener's `/metrics` carries
//! Kong's metric families with Kong's names, labels and buckets (parsed with a Prometheus text
//! parser), and the queries of Kong's Grafana dashboard evaluate on them.

mod common;
use common::{client, Gateway, Upstream};
use std::collections::BTreeMap;

fn config(up: &Upstream) -> String {
    format!(
        r#"_format_version: "3.0"
services:
  - name: users
    url: {}
    routes:
      - name: users-route
        paths: [/users]
  - host: 127.0.0.1
    port: {}
    routes:
      - name: orders-route
        paths: [/orders]
consumers:
  - username: ann
    keyauth_credentials: [{{ key: ann-key }}]
plugins:
  - name: prometheus
    config:
      status_code_metrics: true
      latency_metrics: true
      bandwidth_metrics: true
      per_consumer: true
  - name: key-auth
    route: orders-route
"#,
        up.url("http"),
        up.addr.port()
    )
}

async fn scrape(gw: &Gateway) -> prometheus_parse::Scrape {
    let text = gw.metrics().await;
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("exposition")
}

/// `sum by (labels) (metric)` over the samples of one series name.
fn sum_by(s: &prometheus_parse::Scrape, metric: &str, by: &[&str]) -> BTreeMap<Vec<String>, f64> {
    let mut out = BTreeMap::new();
    for sample in s.samples.iter().filter(|x| x.metric == metric) {
        let key = by
            .iter()
            .map(|l| sample.labels.get(l).unwrap_or("").to_string())
            .collect();
        let v = match sample.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => 0.0,
        };
        *out.entry(key).or_insert(0.0) += v;
    }
    out
}

#[tokio::test]
async fn kongs_metric_families_serve_kongs_dashboard() {
    let up = Upstream::http().await;
    let gw = Gateway::start(&config(&up)).await;
    let c = client();
    for _ in 0..3 {
        assert_eq!(
            c.get(gw.url("/users/1"))
                .send()
                .await
                .expect("req")
                .status(),
            200
        );
    }
    assert_eq!(
        c.get(gw.url("/users/status/503"))
            .send()
            .await
            .expect("req")
            .status(),
        503
    );
    let r = c
        .get(gw.url("/orders"))
        .header("apikey", "ann-key")
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 200);
    let r = c.get(gw.url("/orders")).send().await.expect("req");
    assert_eq!(r.status(), 401);
    assert_eq!(
        c.get(gw.url("/nowhere"))
            .send()
            .await
            .expect("req")
            .status(),
        404
    );

    // A request is counted when it is logged, just after its client has the last byte: scrape
    // until the six counted ones are in (bounded).
    let mut s = scrape(&gw).await;
    for _ in 0..100 {
        let counted: f64 = sum_by(&s, "kong_http_requests_total", &[]).values().sum();
        if counted >= 6.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        s = scrape(&gw).await;
    }
    // Dashboard: request rate by service and status, and by source.
    let by = sum_by(
        &s,
        "kong_http_requests_total",
        &["service", "route", "code", "source", "consumer"],
    );
    let key = |v: [&str; 5]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        by.get(&key(["users", "users-route", "200", "service", ""])),
        Some(&3.0),
        "{by:?}"
    );
    assert_eq!(
        by.get(&key(["users", "users-route", "503", "service", ""])),
        Some(&1.0)
    );
    // A service without a name is labelled by its host, as in Kong.
    assert_eq!(
        by.get(&key(["127.0.0.1", "orders-route", "200", "service", "ann"])),
        Some(&1.0)
    );
    assert_eq!(
        by.get(&key(["127.0.0.1", "orders-route", "401", "kong", ""])),
        Some(&1.0)
    );
    assert_eq!(
        by.values().sum::<f64>(),
        6.0,
        "an unmatched request is not counted"
    );
    let workspaces = sum_by(&s, "kong_http_requests_total", &["workspace"]);
    assert_eq!(
        workspaces.keys().collect::<Vec<_>>(),
        [&vec!["default".to_string()]]
    );

    // Dashboard: latency quantiles from Kong's histograms (buckets in ms, Kong's bounds).
    for family in [
        "kong_kong_latency_ms",
        "kong_upstream_latency_ms",
        "kong_request_latency_ms",
    ] {
        let count = sum_by(&s, &format!("{family}_count"), &[]);
        assert!(count.values().sum::<f64>() >= 5.0, "{family}: {count:?}");
    }
    let histogram = s
        .samples
        .iter()
        .find(|x| x.metric == "kong_kong_latency_ms")
        .expect("kong latency histogram");
    let prometheus_parse::Value::Histogram(buckets) = &histogram.value else {
        panic!("not a histogram");
    };
    let bounds: Vec<f64> = buckets.iter().map(|b| b.less_than).collect();
    assert_eq!(&bounds[..4], &[1.0, 2.0, 5.0, 7.0]);

    // Dashboard: bandwidth by direction, connections, node info.
    let bandwidth = sum_by(&s, "kong_bandwidth_bytes", &["direction"]);
    assert!(
        bandwidth
            .get(&vec!["egress".to_string()])
            .is_some_and(|v| *v > 0.0),
        "{bandwidth:?}"
    );
    let conns = sum_by(&s, "kong_nginx_connections_total", &["state"]);
    assert!(conns.contains_key(&vec!["active".to_string()]));
    assert_eq!(sum_by(&s, "kong_node_info", &[]).values().sum::<f64>(), 1.0);
    // Skyport's own metrics stay.
    assert!(s
        .samples
        .iter()
        .any(|x| x.metric == "skyport_requests_total"));
}
