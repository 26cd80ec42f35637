//! The client side of the edge: idle keep-alive connections are closed after
//! `keepalive_timeout`, and a connection serves at most `keepalive_requests` requests.

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
            .expect("a response within 10 s")
            .expect("read");
        if n == 0 {
            break;
        }
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
