//! Operations under load: 20+ config swaps (SIGHUP, file change, admin call) and a binary
//! upgrade (`start -u` + SIGQUIT) while thousands of requests run on keep-alive and fresh
//! connections, with zero failed requests; SIGTERM lets an in-flight request finish.

mod common;
use common::{client, Gateway, Upstream};
use serde_json::Value;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn config(up: &Upstream, variant: usize) -> String {
    format!(
        "_format_version: \"3.0\"\nservices:\n  - name: s\n    url: {}/v{variant}\n    routes:\n      - {{ name: r, paths: [/] }}\n",
        up.url("http")
    )
}

#[derive(Default)]
struct Tally {
    ok: AtomicUsize,
    failed: AtomicUsize,
    /// Requests whose connection was closed under them before any response and that
    /// succeeded when sent again (what HTTP clients do for idempotent requests, RFC 9112
    /// section 9.3.1): an old process closes its idle connections at shutdown. A refused
    /// connection is never retried: it would mean the listener went away.
    retried: AtomicUsize,
}

/// Bounded load: `keepalive` clients on one pooled connection each and `fresh` clients
/// opening a new connection per request, each sending until `stop` or `per_client` requests.
fn load(
    gw: &Gateway,
    keepalive: usize,
    fresh: usize,
    per_client: usize,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    for i in 0..keepalive + fresh {
        let (url, stop, tally) = (gw.url("/x"), stop.clone(), tally.clone());
        let is_fresh = i >= keepalive;
        tasks.push(tokio::spawn(async move {
            let pooled = client();
            for _ in 0..per_client {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let c = if is_fresh {
                    reqwest::Client::builder()
                        .no_proxy()
                        .pool_max_idle_per_host(0)
                        .build()
                        .expect("client")
                } else {
                    pooled.clone()
                };
                let ok = match c.get(&url).send().await {
                    Ok(r) => r.status() == 200 && r.bytes().await.is_ok(),
                    Err(e) if e.is_request() && !e.is_connect() => {
                        let again = client().get(&url).send().await;
                        let ok = matches!(again, Ok(r) if r.status() == 200);
                        if ok {
                            tally.retried.fetch_add(1, Ordering::Relaxed);
                        }
                        ok
                    }
                    Err(_) => false,
                };
                if ok {
                    tally.ok.fetch_add(1, Ordering::Relaxed);
                } else {
                    tally.failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    tasks
}

#[tokio::test]
async fn twenty_one_reloads_under_load_drop_nothing() {
    let up = Upstream::http().await;
    let gw = Gateway::start(&config(&up, 0)).await;
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let tasks = load(&gw, 6, 2, 1500, stop.clone(), tally.clone());

    let mut v = gw.config_version().await;
    for i in 1..=21 {
        let yaml = config(&up, i);
        match i % 3 {
            // The file changes, then SIGHUP (whichever comes first reloads it; once).
            0 => {
                std::fs::write(&gw.config_path, &yaml).expect("write");
                gw.signal("HUP");
            }
            // The file changes and the watcher notices.
            1 => std::fs::write(&gw.config_path, &yaml).expect("write"),
            // The admin API.
            _ => {
                let r = client()
                    .post(gw.admin("/config"))
                    .body(yaml)
                    .send()
                    .await
                    .expect("post");
                assert_eq!(r.status(), 201);
            }
        }
        v += 1;
        gw.wait_config_version(v).await;
        let seen: Value = client()
            .get(gw.url("/probe"))
            .send()
            .await
            .expect("req")
            .json()
            .await
            .expect("json");
        assert_eq!(seen["uri"], format!("/v{i}/probe"), "swap {i} is live");
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.expect("load task");
    }
    let (ok, failed) = (
        tally.ok.load(Ordering::Relaxed),
        tally.failed.load(Ordering::Relaxed),
    );
    assert_eq!(
        failed,
        0,
        "{failed} of {} requests failed across 21 reloads",
        ok + failed
    );
    assert!(ok >= 500, "the load ran ({ok} requests)");
    assert_eq!(gw.config_version().await, 22);
}

#[tokio::test]
async fn binary_upgrade_under_load_drops_nothing() {
    let up = Upstream::http().await;
    let mut old = Gateway::start_env(
        &config(&up, 0),
        None,
        &[
            ("SKYPORT_GRACE_PERIOD", "1"),
            ("SKYPORT_GRACEFUL_SHUTDOWN_TIMEOUT", "1"),
        ],
    )
    .await;
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let tasks = load(&old, 6, 2, 100_000, stop.clone(), tally.clone());
    // Let traffic flow on the old process first.
    while tally.ok.load(Ordering::Relaxed) < 200 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut new = old.spawn_successor();
    old.signal("QUIT");
    assert!(
        old.wait_exit(Duration::from_secs(30)).await,
        "the old process hands over and exits"
    );
    // The successor now owns the sockets: traffic keeps flowing to it.
    let before = tally.ok.load(Ordering::Relaxed);
    while tally.ok.load(Ordering::Relaxed) < before + 200 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.expect("load task");
    }
    assert!(
        matches!(new.try_wait(), Ok(None)),
        "the successor is running"
    );
    let status = client()
        .get(old.admin("/status/ready"))
        .send()
        .await
        .expect("admin handed over too");
    assert_eq!(status.status(), 200);
    let _ = new.kill();
    let _ = new.wait();
    let (ok, failed) = (
        tally.ok.load(Ordering::Relaxed),
        tally.failed.load(Ordering::Relaxed),
    );
    assert_eq!(
        failed,
        0,
        "{failed} of {} requests failed during the upgrade",
        ok + failed
    );
}

#[tokio::test]
async fn sigterm_lets_an_in_flight_request_finish() {
    let up = Upstream::http().await;
    let mut gw = Gateway::start_env(
        &config(&up, 0),
        None,
        &[
            ("SKYPORT_GRACE_PERIOD", "5"),
            ("SKYPORT_GRACEFUL_SHUTDOWN_TIMEOUT", "1"),
        ],
    )
    .await;
    let url = gw.url("/slow/1500");
    let slow =
        tokio::spawn(async move { client().get(url).send().await.map(|r| r.status().as_u16()) });
    // The request is in flight once the upstream has its connection.
    while up.connections() == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    gw.signal("TERM");
    let status = slow
        .await
        .expect("task")
        .expect("the in-flight request completes");
    assert_eq!(status, 200);
    assert!(
        gw.wait_exit(Duration::from_secs(20)).await,
        "the gateway exits after the grace period"
    );
}

#[tokio::test]
async fn access_log_lines_describe_each_request() {
    let up = Upstream::http().await;
    let log = tempfile::NamedTempFile::new().expect("log file");
    let path = log.path().display().to_string();
    let gw = Gateway::start_env(&config(&up, 0), None, &[("SKYPORT_ACCESS_LOG", &path)]).await;
    let r = client().get(gw.url("/logged")).send().await.expect("req");
    let id = r.headers()["x-skyport-request-id"]
        .to_str()
        .expect("id")
        .to_string();
    assert_eq!(r.status(), 200);
    let mut line = None;
    for _ in 0..100 {
        let text = std::fs::read_to_string(log.path()).unwrap_or_default();
        if let Some(l) = text.lines().find(|l| l.contains(&id)) {
            line = Some(l.to_string());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let line: Value = serde_json::from_str(&line.expect("an access-log line for the request"))
        .expect("JSON line");
    assert_eq!(line["status"], 200);
    assert_eq!(line["method"], "GET");
    assert_eq!(line["path"], "/logged");
    assert_eq!(line["route"], "r");
    assert_eq!(line["service"], "s");
    assert_eq!(line["client"], "127.0.0.1");
    assert!(line["latency_ms"].as_f64().is_some());
}

#[tokio::test]
async fn daemon_mode_with_pid_file_reload_and_stop_commands() {
    let up = Upstream::http().await;
    let dir = tempfile::tempdir().expect("dir");
    let kong = dir.path().join("kong.yml");
    std::fs::write(&kong, config(&up, 0)).expect("config");
    let (port, admin) = (common::free_port(), common::free_port());
    let pid_file = dir.path().join("skyport.pid");
    let env = [
        ("SKYPORT_PROXY_LISTEN", format!("127.0.0.1:{port}")),
        ("SKYPORT_ADMIN_LISTEN", format!("127.0.0.1:{admin}")),
        ("SKYPORT_DECLARATIVE_CONFIG", kong.display().to_string()),
        ("SKYPORT_PID_FILE", pid_file.display().to_string()),
        (
            "SKYPORT_ERROR_LOG",
            dir.path().join("error.log").display().to_string(),
        ),
        (
            "SKYPORT_UPGRADE_SOCK",
            dir.path().join("up.sock").display().to_string(),
        ),
        ("SKYPORT_WATCH_CONFIG", "off".to_string()),
        ("SKYPORT_GRACE_PERIOD", "1".to_string()),
    ];
    let skyport = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_skyport"))
            .envs(env.iter().map(|(k, v)| (k.to_string(), v.clone())))
            .args(args)
            .output()
            .expect("run skyport")
    };
    let started = skyport(&["start", "-d"]);
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    // The daemon writes its pid file and serves.
    let mut pid = None;
    for _ in 0..200 {
        pid = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|t| t.trim().parse::<i32>().ok());
        let admin_up = client()
            .get(format!("http://127.0.0.1:{admin}/status/ready"))
            .send()
            .await
            .is_ok();
        let proxy_up = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok();
        if pid.is_some() && admin_up && proxy_up {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pid = pid.expect("the daemon wrote its pid file");
    let _guard = KillOnDrop(pid);
    let seen: Value = client()
        .get(format!("http://127.0.0.1:{port}/a"))
        .send()
        .await
        .expect("req")
        .json()
        .await
        .expect("json");
    assert_eq!(seen["uri"], "/v0/a");

    std::fs::write(&kong, config(&up, 1)).expect("new config");
    let reload = skyport(&["reload"]);
    assert!(
        reload.status.success(),
        "{}",
        String::from_utf8_lossy(&reload.stderr)
    );
    let mut live = false;
    for _ in 0..100 {
        let seen: Value = client()
            .get(format!("http://127.0.0.1:{port}/a"))
            .send()
            .await
            .expect("req")
            .json()
            .await
            .expect("json");
        if seen["uri"] == "/v1/a" {
            live = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(live, "skyport reload applied the new file");

    let stop = skyport(&["stop"]);
    assert!(
        stop.status.success(),
        "{}",
        String::from_utf8_lossy(&stop.stderr)
    );
    let mut gone = false;
    for _ in 0..300 {
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(gone, "skyport stop ended the daemon");
}

/// Never leave a daemon this test started behind, whatever fails: SIGKILL by PID on drop.
struct KillOnDrop(i32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if std::path::Path::new(&format!("/proc/{}", self.0)).exists() {
            let _ = std::process::Command::new("kill")
                .args(["-9", &self.0.to_string()])
                .status();
        }
    }
}

/// A Kong deployment's environment starts Skyport unchanged: `KONG_*` settings with Kong's
/// listen syntax; a `SKYPORT_*` one wins over its Kong name; a Kong setting with no
/// equivalent is named in one warning; one that would change behaviour is refused.
#[tokio::test]
async fn a_gateway_starts_from_kongs_environment() {
    let up = Upstream::http().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let yml = dir.path().join("kong.yml");
    std::fs::write(&yml, config(&up, 1)).expect("write");
    let (port, admin) = (common::free_port(), common::free_port());
    let log = dir.path().join("stderr.log");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_skyport"))
        .arg("start")
        .env("KONG_DATABASE", "off")
        .env("KONG_DECLARATIVE_CONFIG", &yml)
        .env(
            "KONG_PROXY_LISTEN",
            format!("127.0.0.1:{port} reuseport backlog=16384"),
        )
        .env("KONG_ADMIN_LISTEN", "127.0.0.1:1 http2")
        .env("SKYPORT_ADMIN_LISTEN", format!("127.0.0.1:{admin}"))
        .env("KONG_LOG_LEVEL", "notice")
        .env("KONG_NGINX_WORKER_PROCESSES", "1")
        .env("KONG_PLUGINS", "bundled")
        .env("KONG_PREFIX", dir.path())
        .env("KONG_NGINX_PROXY_PROXY_BUFFER_SIZE", "160k")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("spawn");
    let c = client();
    let mut answered = None;
    for _ in 0..300 {
        if let Ok(r) = c.get(format!("http://127.0.0.1:{port}/x")).send().await {
            answered = Some(r.status().as_u16());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = c
        .get(format!("http://127.0.0.1:{admin}/status"))
        .send()
        .await
        .map(|r| r.status().as_u16());
    let pid_written = dir.path().join("skyport.pid").exists();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(answered, Some(200), "proxied on KONG_PROXY_LISTEN");
    assert_eq!(
        status.ok(),
        Some(200),
        "SKYPORT_ADMIN_LISTEN won over KONG_ADMIN_LISTEN"
    );
    assert!(pid_written, "the pid file under KONG_PREFIX");
    let stderr = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(
        stderr
            .matches("KONG_NGINX_PROXY_PROXY_BUFFER_SIZE has no Skyport equivalent")
            .count(),
        1,
        "{stderr}"
    );
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_skyport"))
        .args(["start", "-t"])
        .env("KONG_PROXY_LISTEN", "127.0.0.1:8000 proxy_protocol")
        .env("KONG_DATABASE", "postgres")
        .output()
        .expect("run");
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("proxy_protocol is not supported"), "{err}");
    assert!(
        err.contains("KONG_DATABASE: Skyport serves a declarative config only"),
        "{err}"
    );
}
