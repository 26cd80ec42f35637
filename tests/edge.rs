//! The client side of the edge: idle keep-alive connections are closed after
//! `keepalive_timeout`, a request header must arrive whole within `client_header_timeout`,
//! and a connection serves at most `keepalive_requests` requests.

mod common;
use common::{echo_config, Gateway, Upstream};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Reads one response (headers and a `Content-Length` body) from a keep-alive stream.
async fn response(s: &mut tokio::net::TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut chunk))
            .await
            .expect("a response within 10 s");
        // A reset or the end of the stream: what was read so far is the answer.
        let Ok(n @ 1..) = n else { break };
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let len = text[..end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return text;
            }
        }
    }
    String::from_utf8_lossy(&buf).to_string()
}

const GET: &[u8] = b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n";

#[tokio::test]
async fn an_idle_keepalive_connection_is_closed_after_the_timeout() {
    let up = Upstream::http().await;
    let gw = Gateway::start_env(
        &echo_config(&up),
        None,
        &[("SKYPORT_KEEPALIVE_TIMEOUT", "1")],
    )
    .await;
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", gw.port))
        .await
        .expect("connect");
    s.write_all(GET).await.expect("write");
    assert!(response(&mut s).await.starts_with("HTTP/1.1 200"));
    // Nothing more is sent: the gateway closes the connection (bounded wait for EOF).
    let mut rest = [0u8; 64];
    let closed = tokio::time::timeout(Duration::from_secs(10), s.read(&mut rest)).await;
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "the idle connection was closed: {closed:?}"
    );
}

/// A slowloris client: its header arrives one byte at a time, each byte well within every
/// per-read timeout. The total deadline still cuts it off, on a fresh connection and on a
/// reused one, while the keep-alive timeout alone (60 s here) never would.
#[tokio::test]
async fn a_trickling_header_is_cut_off_at_the_total_deadline() {
    let up = Upstream::http().await;
    let gw = Gateway::start_env(
        &echo_config(&up),
        None,
        &[
            ("SKYPORT_CLIENT_HEADER_TIMEOUT", "2"),
            ("SKYPORT_KEEPALIVE_TIMEOUT", "60"),
        ],
    )
    .await;
    for reused in [false, true] {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", gw.port))
            .await
            .expect("connect");
        if reused {
            s.write_all(GET).await.expect("write");
            assert!(response(&mut s).await.starts_with("HTTP/1.1 200"));
        }
        s.write_all(b"GET /x HTTP/1.1\r\n").await.expect("write");
        let started = std::time::Instant::now();
        // One header byte every 200 ms, for at most 20 s: the gateway must close first.
        let mut closed = false;
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if s.write_all(b"a").await.is_err() {
                closed = true;
                break;
            }
            let mut probe = [0u8; 64];
            match tokio::time::timeout(Duration::from_millis(1), s.read(&mut probe)).await {
                Ok(Ok(0)) | Ok(Err(_)) => {
                    closed = true;
                    break;
                }
                Ok(Ok(n)) => panic!(
                    "unexpected answer: {:?}",
                    String::from_utf8_lossy(&probe[..n])
                ),
                Err(_) => {}
            }
        }
        assert!(
            closed,
            "the trickling client (reused: {reused}) was never cut off"
        );
        assert!(
            started.elapsed() >= Duration::from_millis(1900),
            "cut off before the deadline: {:?}",
            started.elapsed()
        );
    }
    // The gateway still serves others.
    let r = common::client()
        .get(gw.url("/x"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_connection_serves_at_most_keepalive_requests() {
    let up = Upstream::http().await;
    let gw = Gateway::start_env(
        &echo_config(&up),
        None,
        &[("SKYPORT_KEEPALIVE_REQUESTS", "2")],
    )
    .await;
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", gw.port))
        .await
        .expect("connect");
    s.write_all(GET).await.expect("write");
    let first = response(&mut s).await;
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    s.write_all(GET).await.expect("write");
    let second = response(&mut s).await;
    assert!(second.starts_with("HTTP/1.1 200"), "{second}");
    // The second answer was the last on this connection.
    let mut rest = [0u8; 64];
    let after = tokio::time::timeout(Duration::from_secs(10), async {
        let _ = s.write_all(GET).await;
        s.read(&mut rest).await
    })
    .await;
    assert!(
        matches!(after, Ok(Ok(0)) | Ok(Err(_))),
        "a third request was not served: {after:?}"
    );
}

/// One header line over nginx's 8 KiB buffer is refused as nginx and Kong refuse it, while
/// the same bytes spread over several lines pass.
#[tokio::test]
async fn a_header_line_over_the_buffer_is_refused() {
    let up = Upstream::http().await;
    let gw = Gateway::start(&echo_config(&up)).await;
    let c = common::client();
    let r = c
        .get(gw.url("/x"))
        .header("x-big", "a".repeat(9000))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 400);
    let text = r.text().await.expect("body");
    assert!(
        text.contains("Request header or cookie too large"),
        "{text}"
    );
    let r = c
        .get(gw.url("/x"))
        .header("x-one", "a".repeat(6000))
        .header("x-two", "a".repeat(6000))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
}

/// Reads until the peer closes (EOF or reset), for at most 10 s; true when it closed.
async fn closed_by_peer(s: &mut tokio::net::TcpStream) -> bool {
    let mut buf = [0u8; 256];
    loop {
        match tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

/// Past `max_connections` a new connection is closed at once and counted, while the
/// established clients keep being served; a place freed is a place for the next client.
#[tokio::test]
async fn max_connections_refuses_new_clients_and_keeps_established_ones() {
    let up = Upstream::http().await;
    let gw = Gateway::start_env(
        &echo_config(&up),
        None,
        &[
            ("SKYPORT_MAX_CONNECTIONS", "2"),
            ("SKYPORT_WORKER_THREADS", "1"),
        ],
    )
    .await;
    let connect = || tokio::net::TcpStream::connect(("127.0.0.1", gw.port));
    // A client that got a place and one answer (the readiness probe's connection may still
    // hold a place for a moment: bounded retries).
    let admitted = || async {
        for _ in 0..50 {
            let mut s = connect().await.expect("connect");
            if s.write_all(GET).await.is_ok() && response(&mut s).await.starts_with("HTTP/1.1 200")
            {
                return Some(s);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    };
    let mut a = admitted().await.expect("a is admitted");
    let b = admitted().await.expect("b is admitted");
    // The third is accepted by the kernel, then closed by the gateway without an answer.
    let mut c = connect().await.expect("connect c");
    let _ = c.write_all(GET).await;
    assert!(
        closed_by_peer(&mut c).await,
        "the third connection was closed"
    );
    // The established ones still work.
    a.write_all(GET).await.expect("write");
    assert!(response(&mut a).await.starts_with("HTTP/1.1 200"));
    // One leaves; a new client gets its place.
    drop(b);
    assert!(
        admitted().await.is_some(),
        "a freed place was given to a new client"
    );
    let metrics = gw.metrics().await;
    let refused = common::metric(&metrics, "skyport_connections_refused_total").unwrap_or(0.0);
    assert!(refused >= 1.0, "refusals counted:\n{metrics}");
}

/// Opens an HTTP/2 connection over TLS (ALPN h2) and sends the preface and SETTINGS.
async fn h2_connection(
    pki: &common::Pki,
    port: u16,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    use rustls::pki_types::pem::PemObject;
    use std::sync::Arc;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(pki.ca_pem.as_bytes()) {
        roots.add(c.expect("ca")).expect("root");
    }
    let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let mut s = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(name, tcp)
        .await
        .expect("tls");
    let mut start = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    start.extend(h2_frame(4, 0, 0, &[])); // SETTINGS
    s.write_all(&start).await.expect("preface");
    s
}

fn h2_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut f = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    f.extend_from_slice(&[kind, flags]);
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// Sends `chunks` one every 200 ms until the gateway closes the connection (at most 20 s);
/// returns how long that took, or `None` if it never did.
async fn h2_trickle(
    s: &mut tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
    chunks: impl Iterator<Item = Vec<u8>>,
) -> Option<Duration> {
    let started = std::time::Instant::now();
    let mut buf = [0u8; 4096];
    for chunk in chunks.take(100) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if s.write_all(&chunk).await.is_err() {
            return Some(started.elapsed());
        }
        // The server's SETTINGS, a GOAWAY: read on until the connection ends.
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(Duration::from_millis(1), s.read(&mut buf)).await
        {
            return Some(started.elapsed());
        }
    }
    None
}

/// HTTP/2 clients that trickle a request header: one byte of a HEADERS frame at a time is
/// cut off by `keepalive_timeout` (for HTTP/2 a total deadline: it runs while no stream has
/// been accepted and frames do not reset it); one CONTINUATION frame at a time is cut off
/// sooner still (the h2 crate's limit on CONTINUATION frames, a GOAWAY).
#[tokio::test]
async fn http2_clients_trickling_a_header_are_cut_off() {
    let pki = common::Pki::new();
    let up = Upstream::http().await;
    let gw = Gateway::start_env(
        &echo_config(&up),
        Some(&pki),
        &[("SKYPORT_KEEPALIVE_TIMEOUT", "2")],
    )
    .await;
    let port = gw.tls_port.expect("tls port");
    // :method GET, :scheme https, :path /, :authority x, then a: <50 bytes>.
    let mut block = vec![0x82, 0x87, 0x84, 0x41, 0x01, b'x', 0x00, 0x01, b'a', 50];
    block.extend([b'b'; 50]);
    let frame = h2_frame(1, 0x5, 1, &block); // HEADERS, END_STREAM | END_HEADERS
    let mut s = h2_connection(&pki, port).await;
    s.write_all(&frame[..9]).await.expect("frame header");
    let bytes = frame[9..].iter().map(|b| vec![*b]);
    let cut = h2_trickle(&mut s, bytes)
        .await
        .expect("the byte trickler was cut off");
    assert!(
        cut >= Duration::from_millis(1500) && cut < Duration::from_secs(10),
        "{cut:?}"
    );

    let mut s = h2_connection(&pki, port).await;
    s.write_all(&h2_frame(1, 0x1, 1, &block[..6]))
        .await
        .expect("headers");
    let more = std::iter::repeat_with(|| h2_frame(9, 0, 1, &[0x00, 0x01, b'a', 0x01, b'b']));
    let cut = h2_trickle(&mut s, more)
        .await
        .expect("the CONTINUATION trickler was cut off");
    assert!(cut < Duration::from_secs(10), "{cut:?}");

    // The gateway still serves others.
    let r = common::client()
        .get(gw.url("/x"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
}
