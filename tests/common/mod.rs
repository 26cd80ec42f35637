//! Test harness: real servers on 127.0.0.1 with ephemeral ports. `Upstream::http()` and
//! `Upstream::https(&pki)` are echo servers; `Gateway::start(yaml)` runs the real binary.
#![allow(dead_code)]

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A port that was free a moment ago (the gateway binds it itself), never one handed out
/// before in this test process: the kernel may offer a just-released port again, and two
/// gateways of concurrent tests would then both bind it (Pingora listens with SO_REUSEPORT)
/// and share each other's connections.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    for _ in 0..1000 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
    panic!("no fresh port in 1000 tries");
}

/// A CA and a server certificate for `localhost` / 127.0.0.1, made for one test.
pub struct Pki {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

impl Pki {
    pub fn new() -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
        let ca_key = KeyPair::generate().expect("ca key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Skyport Test CA");
        let ca = ca_params.self_signed(&ca_key).expect("ca cert");
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(vec!["localhost".to_string()]).expect("params");
        params
            .subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse().expect("ip")));
        let cert = params.signed_by(&key, &ca, &ca_key).expect("cert");
        Pki {
            ca_pem: ca.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    fn server_config(&self) -> rustls::ServerConfig {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(self.cert_pem.as_bytes())
                .collect::<Result<_, _>>()
                .expect("certs");
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).expect("key");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("server config");
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        cfg
    }
}

/// An echo server: answers every request with a JSON description of it.
/// `/slow/<ms>/...` waits that long first; `/status/<code>` answers that status;
/// `/health` answers what `set_health` last set (200 at first).
pub struct Upstream {
    pub addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    /// The status `/health` answers with (200 until changed).
    health: Arc<std::sync::atomic::AtomicU16>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Upstream {
    pub async fn http() -> Upstream {
        Upstream::start(None).await
    }

    pub async fn https(pki: &Pki) -> Upstream {
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(pki.server_config()));
        Upstream::start(Some(acceptor)).await
    }

    /// `http://127.0.0.1:<port>` (or https).
    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://127.0.0.1:{}", self.addr.port())
    }

    /// Makes `/health` answer `status` from now on.
    pub fn set_health(&self, status: u16) {
        self.health.store(status, Ordering::SeqCst);
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    async fn start(tls: Option<tokio_rustls::TlsAcceptor>) -> Upstream {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        let health = Arc::new(std::sync::atomic::AtomicU16::new(200));
        let health_status = health.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                counter.fetch_add(1, Ordering::SeqCst);
                let tls = tls.clone();
                let health = health_status.clone();
                tokio::spawn(async move {
                    let builder =
                        hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    match tls {
                        None => {
                            let svc = hyper::service::service_fn(move |r| {
                                echo(r, None, health.load(Ordering::SeqCst))
                            });
                            let _ = builder.serve_connection(TokioIo::new(tcp), svc).await;
                        }
                        Some(acceptor) => {
                            let Ok(stream) = acceptor.accept(tcp).await else {
                                return;
                            };
                            let sni = stream.get_ref().1.server_name().map(str::to_string);
                            let svc = hyper::service::service_fn(move |r| {
                                echo(r, sni.clone(), health.load(Ordering::SeqCst))
                            });
                            let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
                        }
                    }
                });
            }
        });
        Upstream {
            addr,
            connections,
            health,
            task,
        }
    }
}

async fn echo(
    req: Request<hyper::body::Incoming>,
    sni: Option<String>,
    health: u16,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let method = req.method().to_string();
    let uri = req.uri().to_string();
    let mut headers = serde_json::Map::new();
    for (k, v) in req.headers() {
        let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
        match headers.get_mut(k.as_str()) {
            Some(serde_json::Value::String(prev)) => {
                *prev = format!("{prev}, {v}");
            }
            _ => {
                headers.insert(k.as_str().to_string(), serde_json::Value::String(v));
            }
        }
    }
    let path = req.uri().path().to_string();
    let body = req.into_body().collect().await?.to_bytes();
    let mut status = 200;
    let mut parts = path.split('/').skip(1);
    match (parts.next(), parts.next()) {
        (Some("slow"), Some(ms)) => {
            let ms: u64 = ms.parse().unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        (Some("status"), Some(code)) => status = code.parse().unwrap_or(200),
        (Some("health"), None) => status = health,
        _ => {}
    }
    // `?respond-header=name:value` adds that header to the answer.
    let extra: Option<(String, String)> = uri
        .split_once('?')
        .and_then(|(_, q)| q.split('&').find_map(|p| p.strip_prefix("respond-header=")))
        .and_then(|kv| kv.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()));
    let json = serde_json::json!({
        "method": method,
        "uri": uri,
        "headers": headers,
        "body": String::from_utf8_lossy(&body),
        "sni": sni,
    });
    let mut answer = Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("via", "1.1 upstream");
    if let Some((k, v)) = extra {
        answer = answer.header(k, v);
    }
    Ok(answer
        .body(Full::new(Bytes::from(json.to_string())))
        .expect("response"))
}

/// A running `skyport start` on ephemeral ports, killed (by PID) when dropped.
pub struct Gateway {
    pub port: u16,
    pub admin_port: u16,
    pub tls_port: Option<u16>,
    child: Child,
    /// The process's environment, to start a successor for a binary upgrade.
    env: Vec<(String, String)>,
    _dir: tempfile::TempDir,
    pub config_path: PathBuf,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Gateway {
    /// The gateway's process id (to signal it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal (e.g. "HUP") to the gateway, by PID.
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.pid().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -{sig} failed");
    }

    pub async fn start(yaml: &str) -> Gateway {
        Gateway::start_with(yaml, None).await
    }

    /// Starts with an extra TLS listener using the given certificate.
    pub async fn start_with(yaml: &str, tls: Option<&Pki>) -> Gateway {
        Gateway::start_env(yaml, tls, &[]).await
    }

    /// Starts with extra `SKYPORT_*` settings.
    pub async fn start_env(yaml: &str, tls: Option<&Pki>, env: &[(&str, &str)]) -> Gateway {
        Gateway::spawn(yaml, tls, env, Stdio::inherit()).await
    }

    /// Starts with extra settings, its error log (stderr) written to `log`.
    pub async fn start_logged(yaml: &str, env: &[(&str, &str)], log: &std::path::Path) -> Gateway {
        let file = std::fs::File::create(log).expect("log file");
        Gateway::spawn(yaml, None, env, Stdio::from(file)).await
    }

    async fn spawn(yaml: &str, tls: Option<&Pki>, env: &[(&str, &str)], stderr: Stdio) -> Gateway {
        let dir = tempfile::tempdir().expect("tempdir");
        let config_path = dir.path().join("kong.yml");
        std::fs::write(&config_path, yaml).expect("write config");
        let port = free_port();
        let admin_port = free_port();
        let mut listen = format!("127.0.0.1:{port}");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_skyport"));
        let mut tls_port = None;
        if let Some(pki) = tls {
            let p = free_port();
            tls_port = Some(p);
            listen.push_str(&format!(", 127.0.0.1:{p} ssl"));
            let cert = dir.path().join("cert.pem");
            let key = dir.path().join("key.pem");
            std::fs::write(&cert, &pki.cert_pem).expect("cert");
            std::fs::write(&key, &pki.key_pem).expect("key");
        }
        let mut all: Vec<(String, String)> = vec![
            ("SKYPORT_PROXY_LISTEN".into(), listen),
            (
                "SKYPORT_ADMIN_LISTEN".into(),
                format!("127.0.0.1:{admin_port}"),
            ),
            (
                "SKYPORT_DECLARATIVE_CONFIG".into(),
                config_path.display().to_string(),
            ),
            ("SKYPORT_WORKER_THREADS".into(), "2".into()),
            ("SKYPORT_LOG_LEVEL".into(), "warn".into()),
            (
                "SKYPORT_UPGRADE_SOCK".into(),
                dir.path().join("upgrade.sock").display().to_string(),
            ),
            (
                "SKYPORT_PID_FILE".into(),
                dir.path().join("skyport.pid").display().to_string(),
            ),
        ];
        // `{port}` in a value stands for the plain proxy port (e.g. listen flags of a test).
        all.extend(
            env.iter()
                .map(|(k, v)| (k.to_string(), v.replace("{port}", &port.to_string()))),
        );
        if tls.is_some() {
            all.push((
                "SKYPORT_SSL_CERT".into(),
                dir.path().join("cert.pem").display().to_string(),
            ));
            all.push((
                "SKYPORT_SSL_CERT_KEY".into(),
                dir.path().join("key.pem").display().to_string(),
            ));
        }
        cmd.envs(all.clone())
            .arg("start")
            .stdout(Stdio::null())
            .stderr(stderr);
        let child = cmd.spawn().expect("spawn skyport");
        let mut gw = Gateway {
            port,
            admin_port,
            tls_port,
            child,
            env: all,
            _dir: dir,
            config_path,
        };
        gw.wait_ready().await;
        gw
    }

    async fn wait_ready(&mut self) {
        let client = reqwest::Client::new();
        let status = format!("http://127.0.0.1:{}/status", self.admin_port);
        for _ in 0..300 {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("skyport exited during start-up: {status}");
            }
            let admin_up = client
                .get(&status)
                .send()
                .await
                .is_ok_and(|r| r.status() == 200 || r.status() == 401);
            let proxy_up = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok();
            // The TLS listener is its own service: it can open after the plain one.
            let tls_up = match self.tls_port {
                Some(p) => tokio::net::TcpStream::connect(("127.0.0.1", p))
                    .await
                    .is_ok(),
                None => true,
            };
            if admin_up && proxy_up && tls_up {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("skyport did not become ready within 15 s");
    }

    /// Starts a successor with `start -u` on the same settings (a binary upgrade); it waits
    /// for this process to hand its sockets over on SIGQUIT.
    pub fn spawn_successor(&self) -> Child {
        Command::new(env!("CARGO_BIN_EXE_skyport"))
            .envs(self.env.clone())
            .args(["start", "-u"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn successor")
    }

    /// Waits (bounded) for the gateway process to exit; true if it did.
    pub async fn wait_exit(&mut self, limit: Duration) -> bool {
        let until = std::time::Instant::now() + limit;
        while std::time::Instant::now() < until {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    /// The running config's version, from the admin API's `/status`.
    pub async fn config_version(&self) -> u64 {
        self.admin_json("/status").await["configuration_version"]
            .as_u64()
            .unwrap_or(0)
    }

    /// Waits (bounded, 5 s) until the running config's version reaches `want`.
    pub async fn wait_config_version(&self, want: u64) {
        for _ in 0..200 {
            if self.config_version().await >= want {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("config version {want} never arrived");
    }

    /// The admin API's `/metrics` text (no admin token).
    pub async fn metrics(&self) -> String {
        self.admin_text("/metrics").await
    }

    /// The text the admin API answers at `path` (no admin token); the answer must be a 200.
    pub async fn admin_text(&self, path: &str) -> String {
        let r = client()
            .get(self.admin(path))
            .send()
            .await
            .expect("admin request");
        let status = r.status();
        let text = r.text().await.expect("admin text");
        assert_eq!(status, 200, "admin {path}: {text}");
        text
    }

    /// `http://127.0.0.1:<admin port><path>`
    pub fn admin(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.admin_port)
    }

    /// The JSON the admin API answers at `path`.
    pub async fn admin_json(&self, path: &str) -> serde_json::Value {
        client()
            .get(self.admin(path))
            .send()
            .await
            .expect("admin request")
            .json()
            .await
            .expect("admin JSON")
    }

    /// `http://127.0.0.1:<proxy port><path>`
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

/// A config with one service (the echo upstream) on every path.
pub fn echo_config(up: &Upstream) -> String {
    format!(
        "_format_version: \"3.0\"\nservices:\n  - name: echo\n    url: {}\n    routes:\n      - paths: [/]\n",
        up.url("http")
    )
}

/// A client that does not follow redirects or use a proxy.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// What the echo upstream saw.
pub async fn echoed(resp: reqwest::Response) -> serde_json::Value {
    assert_eq!(resp.status(), 200, "expected the upstream's 200");
    resp.json().await.expect("echo JSON")
}

/// Sends raw bytes to the port and reads until the peer closes or 5 s pass: what a client
/// sees on the wire.
pub async fn raw(port: u16, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    s.write_all(request).await.expect("write");
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
    String::from_utf8_lossy(&buf).into_owned()
}

/// A real `redis-server` on a free loopback port, stopped (by PID) when dropped.
pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

impl RedisServer {
    pub async fn start() -> RedisServer {
        let mut r = RedisServer {
            port: free_port(),
            child: None,
            dir: tempfile::tempdir().expect("tempdir"),
        };
        r.restart().await;
        r
    }

    /// Kills the server (SIGKILL, by PID).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it (again) on the same port and waits until it answers PING.
    pub async fn restart(&mut self) {
        self.stop();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .current_dir(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (tests/run.sh installs it)");
        self.child = Some(child);
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        for _ in 0..200 {
            if let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await {
                let mut buf = [0u8; 16];
                if s.write_all(b"PING\r\n").await.is_ok()
                    && s.read(&mut buf)
                        .await
                        .is_ok_and(|n| buf[..n].starts_with(b"+PONG"))
                {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("redis-server did not start within 5 s");
    }
}

/// The `cargo-lambda` binary: `$CARGO_LAMBDA`, else the venv tests/run.sh makes, else PATH.
fn cargo_lambda() -> PathBuf {
    if let Some(p) = std::env::var_os("CARGO_LAMBDA") {
        return PathBuf::from(p);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools/venv/bin/cargo-lambda");
    if venv.exists() {
        return venv;
    }
    PathBuf::from("cargo-lambda")
}

/// A real Lambda Invoke API: `cargo lambda watch` running the functions in tests/lambdas
/// (echo, fail, proxy, badproxy, slow), stopped with SIGTERM by PID when dropped.
pub struct LambdaServer {
    pub port: u16,
    child: Child,
}

impl Drop for LambdaServer {
    fn drop(&mut self) {
        // SIGTERM lets watch stop the function processes it started.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..100 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl LambdaServer {
    pub async fn start() -> LambdaServer {
        let port = free_port();
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lambdas");
        let child = Command::new(cargo_lambda())
            .args([
                "lambda",
                "watch",
                "--ignore-changes",
                "-A",
                "127.0.0.1",
                "-P",
                &port.to_string(),
            ])
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cargo-lambda must be installed (tests/run.sh installs it)");
        let mut server = LambdaServer { port, child };
        // An unknown function gets an immediate 404 and runs no code.
        let probe = format!("http://127.0.0.1:{port}/2015-03-31/functions/__ready__/invocations");
        for _ in 0..600 {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("cargo lambda watch exited: {status}");
            }
            if client()
                .post(&probe)
                .body("{}")
                .send()
                .await
                .is_ok_and(|r| r.status() == 404)
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("cargo lambda watch did not become ready within 60 s");
    }
}

/// A stand-in for the Lambda Invoke API, for what `cargo lambda watch` does not do
/// (Event/DryRun invocations, log tails, AWS error types). The function name picks the act.
pub struct FakeLambda {
    pub port: u16,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeLambda {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeLambda {
    pub async fn start() -> FakeLambda {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(fake_invoke);
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tcp), svc)
                        .await;
                });
            }
        });
        FakeLambda { port, task }
    }
}

async fn fake_invoke(
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let name = req.uri().path().split('/').nth(3).unwrap_or("").to_string();
    let header = |k: &str| {
        req.headers()
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let invocation = header("x-amz-invocation-type");
    let log = header("x-amz-log-type");
    let signed = header("authorization").starts_with("AWS4-HMAC-SHA256 Credential=");
    let body = req.into_body().collect().await?.to_bytes();
    let mut r = Response::builder().header("x-amzn-requestid", "fake-request-id");
    let (status, payload) = match name.as_str() {
        _ if !signed => (403, r#"{"message":"missing SigV4 signature"}"#.to_string()),
        "acts" if invocation == "Event" => (202, String::new()),
        "acts" if invocation == "DryRun" => (204, String::new()),
        "acts" => {
            r = r.header("x-amz-executed-version", "$LATEST");
            if log == "Tail" {
                r = r.header("x-amz-log-result", "bG9nIGxpbmU=");
            }
            (
                200,
                format!(r#"{{"got":{}}}"#, String::from_utf8_lossy(&body)),
            )
        }
        "unhandled" => {
            r = r.header("x-amz-function-error", "Unhandled");
            (
                200,
                r#"{"errorMessage":"kaput","errorType":"Error"}"#.to_string(),
            )
        }
        "throttled" => {
            r = r.header("x-amzn-errortype", "TooManyRequestsException");
            (
                429,
                r#"{"Type":"User","message":"Rate Exceeded."}"#.to_string(),
            )
        }
        "denied" => {
            r = r.header("x-amzn-errortype", "AccessDeniedException");
            (
                403,
                r#"{"Message":"User is not authorized to perform: lambda:InvokeFunction"}"#
                    .to_string(),
            )
        }
        _ => {
            r = r.header("x-amzn-errortype", "ResourceNotFoundException");
            (
                404,
                r#"{"Type":"User","Message":"Function not found"}"#.to_string(),
            )
        }
    };
    Ok(r.status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(payload)))
        .expect("response"))
}

/// How a [`BadUpstream`] misbehaves after reading a request.
#[derive(Clone, Copy, Debug)]
pub enum Misbehave {
    /// Resets the connection before answering.
    ResetBeforeResponse,
    /// Sends headers and part of the body, then resets.
    ResetMidBody,
    /// Answers bytes that are not HTTP.
    Garbage,
    /// Never answers (keeps the connection open).
    Hang,
    /// Not a fault: answers as an HTTP/1.0 server does (python's `http.server`), `HTTP/1.0
    /// 200` with a length, then closes.
    Http10,
    /// Answers the first request on a connection (keep-alive, the body is the request line's
    /// target), then closes the connection when the next request on it arrives, unanswered:
    /// a pooled connection the upstream dropped just as it was reused.
    OncePerConnection,
}

/// A TCP server on 127.0.0.1 that misbehaves on every connection; stopped when dropped.
pub struct BadUpstream {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for BadUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl BadUpstream {
    pub async fn start(how: Misbehave) -> BadUpstream {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut tcp, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    // Read the request head (enough for these tests' GETs).
                    let _ = tcp.read(&mut buf).await;
                    let reset = |tcp: tokio::net::TcpStream| {
                        let std = tcp.into_std().expect("std stream");
                        let sock = socket2::Socket::from(std);
                        let _ = sock.set_linger(Some(Duration::ZERO));
                        drop(sock);
                    };
                    match how {
                        Misbehave::ResetBeforeResponse => reset(tcp),
                        Misbehave::ResetMidBody => {
                            let _ = tcp
                                .write_all(
                                    b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\nonly part",
                                )
                                .await;
                            let _ = tcp.flush().await;
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            reset(tcp);
                        }
                        Misbehave::Garbage => {
                            let _ = tcp
                                .write_all(b"SSH-2.0-OpenSSH\r\n\x00\x01\x02\r\n\r\n")
                                .await;
                        }
                        Misbehave::Hang => {
                            let _ = tcp.read(&mut buf).await;
                            tokio::time::sleep(Duration::from_secs(30)).await;
                        }
                        Misbehave::Http10 => {
                            let _ = tcp
                                .write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nold")
                                .await;
                        }
                        Misbehave::OncePerConnection => {
                            let head = String::from_utf8_lossy(&buf);
                            let target = head.split(' ').nth(1).unwrap_or("").to_string();
                            let answer = format!(
                                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{target}",
                                target.len()
                            );
                            let _ = tcp.write_all(answer.as_bytes()).await;
                            // The next request's bytes, then a close without an answer.
                            let _ = tcp.read(&mut buf).await;
                        }
                    }
                });
            }
        });
        BadUpstream { addr, task }
    }

    /// `http://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.addr.port())
    }
}

/// The value of the sample whose name and labels are `series` (`name{labels}`, or `name` alone)
/// in a Prometheus text exposition.
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}
