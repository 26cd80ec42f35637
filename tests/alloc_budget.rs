//! Heap allocations per proxied request, counted exactly, held to a budget: the gateway runs
//! in this process (one worker thread, its own scheduler) under a counting allocator, between
//! a client and an origin that allocate nothing per request (fixed buffers on blocking
//! sockets), so every allocation counted during a run of keep-alive requests is the
//! gateway's. A bare Pingora proxy (no routing, plugins, headers, log or metrics) is measured
//! the same way as the floor.
//!
//! A change that adds allocations to these paths fails here; one that removes some fails
//! too, until the budget is lowered to the new count (the figures in `benches/RESULTS.md`
//! come from this test: `ALLOC_HISTOGRAM=1 cargo test --test alloc_budget -- --nocapture`).
//! Each request's count is taken once the gateway is idle again, and the budget holds the
//! most frequent count: a few requests also pay for once-a-second work (the `Date` header) or
//! start a timer where none was due, so single requests differ by a few.

use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

/// Allocations per plain proxied request (GET, 2-byte answer, keep-alive both sides): the
/// most frequent count over 500 requests.
const PLAIN_BUDGET: u64 = 31;
/// The same through jwt (HS256) + rate-limiting (local, per consumer), one token sent again
/// and again (verified once, then found in the plugin's verified tokens).
const AUTH_BUDGET: u64 = 36;

/// The system allocator, counted.
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn allocations() -> u64 {
    let s = GLOBAL.stats();
    (s.allocations + s.reallocations) as u64
}

/// An origin answering every request on a connection with a fixed 2-byte body.
fn origin() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                let mut have = 0;
                loop {
                    let Ok(n) = conn.read(&mut buf[have..]) else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    have += n;
                    // One request per header end seen (no bodies are sent here).
                    while let Some(end) = find(&buf[..have], b"\r\n\r\n") {
                        let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                        if conn.write_all(answer).is_err() {
                            return;
                        }
                        buf.copy_within(end + 4..have, 0);
                        have -= end + 4;
                    }
                    if have == buf.len() {
                        return;
                    }
                }
            });
        }
    });
    port
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A keep-alive client sending `request` and reading each answer to its end.
struct Client {
    conn: TcpStream,
    buf: [u8; 16384],
}

impl Client {
    fn connect(port: u16) -> Client {
        let conn = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        conn.set_nodelay(true).expect("nodelay");
        Client {
            conn,
            buf: [0; 16384],
        }
    }

    /// Sends one request; returns the status.
    fn send(&mut self, request: &[u8]) -> u16 {
        self.conn.write_all(request).expect("write");
        let mut have = 0;
        loop {
            let n = self.conn.read(&mut self.buf[have..]).expect("read");
            assert!(
                n > 0,
                "the gateway closed the connection after {:?} (request {:?})",
                String::from_utf8_lossy(&self.buf[..have]),
                String::from_utf8_lossy(request)
            );
            have += n;
            let Some(end) = find(&self.buf[..have], b"\r\n\r\n") else {
                continue;
            };
            let head = &self.buf[..end];
            let length = head
                .split(|b| *b == b'\n')
                .find_map(|l| {
                    let l = std::str::from_utf8(l).ok()?.trim();
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .expect("a Content-Length");
            if have >= end + 4 + length {
                let status = std::str::from_utf8(&head[9..12])
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .expect("status");
                return status;
            }
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Pingora's least HTTP/1 proxy: one fixed upstream, no routing, plugins, headers, log or
/// metrics (as `examples/bare_proxy.rs`).
struct Bare {
    upstream: std::net::SocketAddr,
}

#[async_trait::async_trait]
impl pingora::proxy::ProxyHttp for Bare {
    type CTX = ();

    fn new_ctx(&self) {}

    fn init_downstream_modules(&self, _modules: &mut pingora::modules::http::HttpModules) {}

    async fn upstream_peer(
        &self,
        _session: &mut pingora::proxy::Session,
        _ctx: &mut (),
    ) -> pingora::Result<Box<pingora::upstreams::peer::HttpPeer>> {
        Ok(Box::new(pingora::upstreams::peer::HttpPeer::new(
            self.upstream,
            false,
            String::new(),
        )))
    }
}

/// Starts the bare proxy in this process, with Skyport's bench settings; returns its port.
fn bare(upstream: u16) -> u16 {
    let port = free_port();
    let conf = pingora::server::configuration::ServerConf {
        threads: 1,
        work_stealing: false,
        ..Default::default()
    };
    let mut server =
        pingora::server::Server::new_with_opt_and_conf(pingora::prelude::Opt::default(), conf);
    server.bootstrap();
    let upstream = std::net::SocketAddr::from(([127, 0, 0, 1], upstream));
    let mut proxy = pingora::proxy::http_proxy_service(&server.configuration, Bare { upstream });
    proxy.add_tcp(&format!("127.0.0.1:{port}"));
    server.add_service(proxy);
    std::thread::spawn(move || server.run_forever());
    ready(port);
    port
}

/// Waits until the proxy on `port` answers a request (a connection accepted during start-up
/// may be closed unanswered), bounded.
fn ready(port: u16) {
    for _ in 0..500 {
        let answered = TcpStream::connect(("127.0.0.1", port)).is_ok_and(|mut c| {
            let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
            let mut b = [0u8; 12];
            c.write_all(b"GET /plain HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .is_ok()
                && c.read_exact(&mut b).is_ok()
                && b.starts_with(b"HTTP/1.1 200")
        });
        if answered {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("nothing answered on {port}");
}

/// Starts the gateway in this process on `kong.yml`; returns its proxy port.
fn gateway(dir: &std::path::Path, yaml: &str) -> u16 {
    let port = free_port();
    let config = dir.join("kong.yml");
    std::fs::write(&config, yaml).expect("config");
    let env = [
        ("SKYPORT_PROXY_LISTEN", format!("127.0.0.1:{port}")),
        ("SKYPORT_ADMIN_LISTEN", "off".to_string()),
        ("SKYPORT_DECLARATIVE_CONFIG", config.display().to_string()),
        ("SKYPORT_WORKER_THREADS", "1".to_string()),
        ("SKYPORT_WORKER_WORK_STEALING", "off".to_string()),
        ("SKYPORT_WATCH_CONFIG", "off".to_string()),
        (
            "SKYPORT_PID_FILE",
            dir.join("skyport.pid").display().to_string(),
        ),
        (
            "SKYPORT_UPGRADE_SOCK",
            dir.join("upgrade.sock").display().to_string(),
        ),
        ("SKYPORT_LOG_LEVEL", "error".to_string()),
        ("SKYPORT_KEEPALIVE_REQUESTS", "1000000".to_string()),
    ];
    let settings = skyport::settings::NodeSettings::load(
        None,
        env.iter().map(|(k, v)| (k.to_string(), v.clone())),
    )
    .expect("settings");
    skyport::telemetry::init(&settings.log_level);
    let lasting = std::sync::Arc::new(skyport::lasting::Lasting::new(
        settings.rate_limit_store_size,
    ));
    let snapshot = skyport::server::initial_snapshot(&settings, &lasting).expect("config loads");
    std::thread::spawn(move || {
        let _ = skyport::server::run(
            pingora::prelude::Opt::default(),
            settings,
            lasting,
            snapshot,
        );
    });
    ready(port);
    port
}

/// The allocation count once the gateway has finished with the last request (its log phase
/// and the upstream connection's return to the pool run after the answer is sent): unchanged
/// over a millisecond, bounded.
fn settled() -> u64 {
    let mut seen = allocations();
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(1));
        let now = allocations();
        if now == seen {
            return now;
        }
        seen = now;
    }
    seen
}

/// Allocations of each of `n` requests on one connection, after a warm-up (pools, maps and
/// buffers at their steady size): the count most requests have (a few also pay for
/// once-a-second work, such as the `Date` header, or a map growing), and the mean.
fn per_request(port: u16, request: &[u8], n: usize) -> (u64, f64) {
    let mut c = Client::connect(port);
    for _ in 0..200 {
        assert_eq!(c.send(request), 200);
    }
    let mut counts = std::collections::BTreeMap::<u64, usize>::new();
    let start = settled();
    let mut last = start;
    for _ in 0..n {
        assert_eq!(c.send(request), 200);
        let now = settled();
        *counts.entry(now - last).or_default() += 1;
        last = now;
    }
    // The most frequent count: a few requests also pay for once-a-second work (the `Date`
    // header) or a map growing, some start a timer where none was due in the same 10 ms
    // (Pingora's fast timers are shared per deadline; more of them when the machine is
    // slow), and under CPU contention some of a request's late work (its log phase) is
    // counted with the next. Those spread the distribution's upper side, most under load;
    // its peak stays put (the median moved with the load).
    let mode = counts
        .iter()
        .max_by_key(|(count, k)| (**k, std::cmp::Reverse(**count)))
        .map_or(0, |(count, _)| *count);
    if std::env::var_os("ALLOC_HISTOGRAM").is_some() {
        println!("allocations per request (count: requests): {counts:?}");
    }
    (mode, (last - start) as f64 / n as f64)
}

/// A count over the budget is measured again, up to three times in all, and the lowest kept:
/// on a machine busy with other work (a parallel build, the other tests) the timers and late
/// log phases above add to every request for a while, and they only ever add. A change that
/// adds allocations to every request is over the budget in all three.
fn lowest_of_three(budget: u64, mut measure: impl FnMut() -> (u64, f64)) -> (u64, f64) {
    let mut lowest = measure();
    for _ in 1..3 {
        if lowest.0 <= budget {
            break;
        }
        let again = measure();
        if again.0 < lowest.0 {
            lowest = again;
        }
    }
    lowest
}

#[test]
fn allocations_per_request_stay_within_budget() {
    let dir = tempfile::tempdir().expect("dir");
    let up = origin();
    let yaml = format!(
        r#"_format_version: "3.0"
services:
  - name: origin
    url: http://127.0.0.1:{up}
    routes:
      - name: plain
        paths: [/plain]
      - name: auth
        paths: [/auth]
        plugins:
          - name: jwt
            config: {{ uri_param_names: [jwt] }}
          - name: rate-limiting
            config: {{ minute: 100000000, limit_by: consumer, policy: local }}
consumers:
  - username: ann
    jwt_secrets:
      - key: alloc-key
        algorithm: HS256
        secret: alloc-secret-alloc-secret-alloc-secret
"#
    );
    let port = gateway(dir.path(), &yaml);
    let token = token(b"alloc-secret-alloc-secret-alloc-secret");
    let plain = b"GET /plain HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".to_vec();
    let auth = format!("GET /auth?jwt={token} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").into_bytes();
    let n = 500;
    let (plain_count, plain_mean) = lowest_of_three(PLAIN_BUDGET, || per_request(port, &plain, n));
    let (auth_count, auth_mean) = lowest_of_three(AUTH_BUDGET, || per_request(port, &auth, n));
    let (bare_count, bare_mean) = per_request(bare(up), &plain, n);
    println!("bare Pingora: most frequent {bare_count}, mean {bare_mean:.2}");
    assert!(bare_count <= plain_count, "the floor is under Skyport");
    println!(
        "allocations per request (most frequent, mean): plain {plain_count}, {plain_mean:.2}; \
         jwt + rate-limiting {auth_count}, {auth_mean:.2}"
    );
    let check = |what: &str, count: u64, budget: u64| {
        assert!(
            count <= budget,
            "{what}: {count} allocations per request, over the budget of {budget}"
        );
        assert!(
            count == budget,
            "{what}: {count} allocations per request, under the budget of {budget}: \
             lower the budget in tests/alloc_budget.rs to {count}"
        );
    };
    check("plain", plain_count, PLAIN_BUDGET);
    check("jwt + rate-limiting", auth_count, AUTH_BUDGET);
}

/// An HS256 token for the consumer's key.
fn token(secret: &[u8]) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &serde_json::json!({"iss": "alloc-key"}),
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .expect("sign")
}
