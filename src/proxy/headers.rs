//! Headers on the way up and down: X-Forwarded-*, X-Real-IP, Via, the request id, latency
//! headers, and removal of hop-by-hop headers.

use http::header::{HeaderName, CONNECTION, TE, UPGRADE};
use pingora::http::{RequestHeader, ResponseHeader};

/// The request-id header, sent upstream and to the client.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-skyport-request-id");
/// Time spent waiting for the upstream's response header, in ms.
pub const UPSTREAM_LATENCY: HeaderName = HeaderName::from_static("x-skyport-upstream-latency");
/// Time spent in Skyport before the request went upstream, in ms.
pub const PROXY_LATENCY: HeaderName = HeaderName::from_static("x-skyport-proxy-latency");
/// Time Skyport took to produce a response it made itself, in ms.
pub const RESPONSE_LATENCY: HeaderName = HeaderName::from_static("x-skyport-response-latency");

/// What the client side of the connection looked like.
pub struct Downstream<'a> {
    /// Client IP.
    pub client_ip: Option<String>,
    /// `https` when the client connection is TLS.
    pub proto: &'static str,
    /// Listener port.
    pub port: u16,
    /// Host name the client asked for (without port).
    pub host: &'a str,
    /// The raw request path (not normalized, no query).
    pub raw_path: &'a str,
    /// `1.1` or `2`: the client's HTTP version, for Via.
    pub version: &'static str,
}

/// Removes hop-by-hop headers: those listed in `Connection`, and the fixed set.
pub fn strip_hop_by_hop(req: &mut RequestHeader) {
    let listed: Vec<String> = req
        .headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    let websocket = req
        .headers
        .get(UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    for name in listed {
        if websocket && name == "upgrade" {
            continue;
        }
        req.remove_header(name.as_str());
    }
    for name in ["keep-alive", "proxy-connection", "proxy"] {
        req.remove_header(name);
    }
    if !websocket {
        req.remove_header(&UPGRADE);
        req.remove_header(&CONNECTION);
    }
    let keep_trailers = req
        .headers
        .get(TE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("trailers"))
        });
    req.remove_header(&TE);
    if keep_trailers {
        let _ = req.insert_header(TE, "trailers");
    }
}

/// Sets the X-Forwarded-*, X-Real-IP and Via headers for the upstream request.
pub fn forwarded(
    req: &mut RequestHeader,
    d: &Downstream<'_>,
    prefix: Option<&str>,
) -> pingora::Result<()> {
    if let Some(ip) = &d.client_ip {
        req.insert_header("x-real-ip", ip.as_str())?;
        let xff = match req
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
        {
            Some(prev) if !prev.is_empty() => format!("{prev}, {ip}"),
            _ => ip.clone(),
        };
        req.insert_header("x-forwarded-for", xff)?;
    }
    req.insert_header("x-forwarded-proto", d.proto)?;
    req.insert_header("x-forwarded-host", d.host)?;
    req.insert_header("x-forwarded-port", d.port.to_string())?;
    req.insert_header("x-forwarded-path", d.raw_path)?;
    match prefix {
        Some(p) => req.insert_header("x-forwarded-prefix", p)?,
        None => {
            req.remove_header("x-forwarded-prefix");
        }
    }
    let via = via_value(
        req.headers
            .get(http::header::VIA)
            .and_then(|v| v.to_str().ok()),
        d.version,
    );
    req.insert_header(http::header::VIA, via_header(via))?;
    Ok(())
}

const VIA_11: &str = concat!("1.1 skyport/", env!("CARGO_PKG_VERSION"));
const VIA_2: &str = concat!("2 skyport/", env!("CARGO_PKG_VERSION"));

/// `<previous Via>, <version> skyport/<v>`; no formatting when there is no previous Via.
pub fn via_value(prev: Option<&str>, version: &str) -> std::borrow::Cow<'static, str> {
    let me = if version == "2" { VIA_2 } else { VIA_11 };
    match prev {
        Some(p) if !p.is_empty() => std::borrow::Cow::Owned(format!("{p}, {me}")),
        _ => std::borrow::Cow::Borrowed(me),
    }
}

/// Adds Via and the latency and request-id headers to a proxied response.
pub fn on_response(
    resp: &mut ResponseHeader,
    request_id: &str,
    upstream_ms: Option<u128>,
    proxy_ms: Option<u128>,
) -> pingora::Result<()> {
    let via = via_value(
        resp.headers
            .get(http::header::VIA)
            .and_then(|v| v.to_str().ok()),
        "1.1",
    );
    resp.insert_header(http::header::VIA, via_header(via))?;
    if let Some(ms) = upstream_ms {
        resp.insert_header(UPSTREAM_LATENCY, ms.to_string())?;
    }
    if let Some(ms) = proxy_ms {
        resp.insert_header(PROXY_LATENCY, ms.to_string())?;
    }
    resp.insert_header(REQUEST_ID, request_id)?;
    Ok(())
}

/// A Via value as a header, without copying the common static case.
pub fn via_header(via: std::borrow::Cow<'static, str>) -> http::HeaderValue {
    match via {
        std::borrow::Cow::Borrowed(s) => http::HeaderValue::from_static(s),
        std::borrow::Cow::Owned(s) => {
            http::HeaderValue::from_str(&s).unwrap_or(http::HeaderValue::from_static(VIA_11))
        }
    }
}
