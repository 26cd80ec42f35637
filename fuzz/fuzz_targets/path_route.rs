//! Path normalization, route matching and upstream path building: any path (bytes that need
//! not be UTF-8) is normalized idempotently, matched without panicking, and a `strip_path`
//! route's upstream path always stays under its service path.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skyport::router::{normalize::normalize, path::upstream_path, RequestInfo};
use skyport::snapshot::Snapshot;
use std::sync::OnceLock;

const CONFIG: &str = r#"
_format_version: "3.0"
services:
  - name: s
    url: http://127.0.0.1:1/base
    routes:
      - { name: prefix, paths: [/api, /api/v2/] }
      - { name: regex, paths: ["~/users/(?<id>\\d+)$"], methods: [GET] }
      - { name: hosts, hosts: ["*.example.com"], paths: [/] }
      - { name: headers, headers: { x-version: ["~*v[0-9]+"] } }
"#;

fn snapshot() -> &'static Snapshot {
    static S: OnceLock<Snapshot> = OnceLock::new();
    S.get_or_init(|| skyport::config::load(CONFIG).expect("fuzz config loads"))
}

fuzz_target!(|data: &[u8]| {
    let raw = String::from_utf8_lossy(data);
    let path = format!("/{raw}");
    let normal = normalize(&path);
    assert_eq!(normalize(&normal), normal, "normalization is idempotent");
    assert!(normal.starts_with('/'));
    let headers = http::HeaderMap::new();
    let req = RequestInfo {
        method: "GET",
        host: "a.example.com",
        listener_port: 8000,
        path: &normal,
        headers: &headers,
        tls: false,
    };
    if let Some(m) = snapshot().router.find(&req) {
        let up = upstream_path(Some("/base"), &normal, m.path_len);
        assert!(up.starts_with("/base"), "{up} escaped /base");
    }
});
