//! Headers on the way up and down: X-Forwarded-*, X-Real-IP, Via, the request id, latency
//! headers, and removal of hop-by-hop headers.

use crate::plugins::HeaderCase;
use crate::settings::HeaderSettings;
use http::header::{CONNECTION, TE, UPGRADE};
use http::{HeaderName, HeaderValue};
use pingora::http::{HeaderNames, Replacing, RequestHeader, ResponseHeader, WireFields};
use std::net::IpAddr;

thread_local! {
    /// The last listener port written as a header value on this thread (a node has few).
    static PORT: Remembered<u16> = const { std::cell::RefCell::new(None) };
    /// The last client address written as a header value on this thread (a keep-alive
    /// connection's requests repeat it).
    static CLIENT: Remembered<IpAddr> = const { std::cell::RefCell::new(None) };
}

/// One header value kept with the key it was made for.
type Remembered<K> = std::cell::RefCell<Option<(K, HeaderValue)>>;

/// Short text (an address or a port) owned inline by the shared block of a header value.
struct Text {
    buf: [u8; 48],
    len: usize,
}

impl AsRef<[u8]> for Text {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// `key` formatted as a header value whose clones share its bytes (one allocation), kept in
/// `cell` while the key repeats (none).
fn remembered<K: Copy + PartialEq + std::fmt::Display>(
    cell: &'static std::thread::LocalKey<Remembered<K>>,
    key: K,
) -> Option<HeaderValue> {
    cell.with(|cell| {
        let mut last = cell.borrow_mut();
        if let Some((k, v)) = &*last {
            if *k == key {
                return Some(v.clone());
            }
        }
        use std::io::Write;
        let mut text = Text {
            buf: [0; 48],
            len: 0,
        };
        let mut w = &mut text.buf[..];
        write!(w, "{key}").ok()?;
        text.len = 48 - w.len();
        let v = HeaderValue::from_maybe_shared(bytes::Bytes::from_owner(text)).ok()?;
        *last = Some((key, v.clone()));
        Some(v)
    })
}

/// A listener port as a header value, shared while the port repeats.
fn port_value(port: u16) -> HeaderValue {
    remembered(&PORT, port).unwrap_or_else(|| HeaderValue::from(port))
}

/// A client address as a header value, shared while the address repeats.
fn ip_value(ip: IpAddr) -> Option<HeaderValue> {
    remembered(&CLIENT, ip)
}

pub use crate::values::number;

// The names Skyport writes, spelled as Kong and nginx spell theirs on the wire, parsed when
// compiling: inserting one neither parses nor allocates the name.
/// The request-id header, sent upstream and to the client.
pub static REQUEST_ID: HeaderNames =
    HeaderNames::new_static("x-skyport-request-id", "X-Skyport-Request-Id");
/// Time spent waiting for the upstream's response header, in ms.
pub static UPSTREAM_LATENCY: HeaderNames =
    HeaderNames::new_static("x-skyport-upstream-latency", "X-Skyport-Upstream-Latency");
/// Time spent in Skyport before the request went upstream, in ms.
pub static PROXY_LATENCY: HeaderNames =
    HeaderNames::new_static("x-skyport-proxy-latency", "X-Skyport-Proxy-Latency");
/// Time Skyport took to produce a response it made itself, in ms.
pub static RESPONSE_LATENCY: HeaderNames =
    HeaderNames::new_static("x-skyport-response-latency", "X-Skyport-Response-Latency");

/// The forwarding headers, in the order they are written.
struct Forwarding {
    real_ip: HeaderNames,
    for_: HeaderNames,
    proto: HeaderNames,
    host: HeaderNames,
    port: HeaderNames,
    path: HeaderNames,
    prefix: HeaderNames,
}

static FORWARDING: Forwarding = Forwarding {
    real_ip: HeaderNames::new_static("x-real-ip", "X-Real-IP"),
    for_: HeaderNames::new_static("x-forwarded-for", "X-Forwarded-For"),
    proto: HeaderNames::new_static("x-forwarded-proto", "X-Forwarded-Proto"),
    host: HeaderNames::new_static("x-forwarded-host", "X-Forwarded-Host"),
    port: HeaderNames::new_static("x-forwarded-port", "X-Forwarded-Port"),
    path: HeaderNames::new_static("x-forwarded-path", "X-Forwarded-Path"),
    prefix: HeaderNames::new_static("x-forwarded-prefix", "X-Forwarded-Prefix"),
};

/// What the client side of the connection looked like.
pub struct Downstream<'a> {
    /// Client IP.
    pub client_ip: Option<IpAddr>,
    /// `https` when the client connection is TLS, else `http`: [`HTTPS`] or [`HTTP`].
    pub proto: HeaderValue,
    /// Listener port.
    pub port: u16,
    /// Host name the client asked for (without port), sent on in lower case.
    pub host: &'a [u8],
    /// The raw request path (not normalized, no query).
    pub raw_path: &'a [u8],
    /// `1.1` or `2`: the client's HTTP version, for Via.
    pub version: &'static str,
    /// Which of the fields Skyport adds to the request may already be on it.
    pub sent: Sent,
}

/// Forwarding fields a request may already carry, whose values Skyport's own join: a field
/// marked `false` is known to be absent and is not looked up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sent {
    /// `X-Forwarded-For`.
    pub forwarded_for: bool,
    /// `Via`.
    pub via: bool,
}

impl Sent {
    /// Nothing known: each is looked up.
    pub const ANY: Sent = Sent {
        forwarded_for: true,
        via: true,
    };
}

/// The header names a `Connection` header lists, but for the tokens in `spared` (compared
/// without case; those the caller removes anyway or keeps). Nothing is allocated when every
/// token is spared, the common `Connection: keep-alive` or `close`; a token that is not a
/// valid header name names no header and is left out.
fn connection_listed(headers: &http::HeaderMap, spared: &[&str]) -> Vec<http::HeaderName> {
    headers
        .get_all(CONNECTION)
        .iter()
        .flat_map(|value| unspared(value, spared))
        .filter_map(|token| http::HeaderName::from_bytes(token).ok())
        .collect()
}

/// Whether a `Connection` value lists a token other than the `spared` ones.
fn names_others(value: &HeaderValue, spared: &[&str]) -> bool {
    unspared(value, spared).next().is_some()
}

/// The tokens of a `Connection` value but for the `spared` ones (compared without case).
fn unspared<'a>(value: &'a HeaderValue, spared: &'a [&str]) -> impl Iterator<Item = &'a [u8]> {
    value
        .as_bytes()
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(move |token| {
            !token.is_empty()
                && !spared
                    .iter()
                    .any(|s| token.eq_ignore_ascii_case(s.as_bytes()))
        })
}

/// Removes hop-by-hop headers: those listed in `Connection`, and the fixed set.
pub fn strip_hop_by_hop(req: &mut RequestHeader) {
    // The common case, a request with none of them, costs one pass over the names.
    if !req.headers.keys().any(is_hop_by_hop) {
        return;
    }
    let websocket = req
        .headers
        .get(UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    // The fixed set is removed below; a WebSocket handshake keeps its Upgrade.
    let spared: &[&str] = if websocket {
        &["keep-alive", "proxy-connection", "proxy", "upgrade"]
    } else {
        &[
            "keep-alive",
            "proxy-connection",
            "proxy",
            "upgrade",
            "connection",
        ]
    };
    for name in connection_listed(&req.headers, spared) {
        req.remove_header(&name);
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

/// Removes the hop-by-hop headers of an upstream's answer (RFC 9110 7.6.1): `Keep-Alive`,
/// `Proxy-Connection`, `Upgrade` (unless it switches protocols) and every header the
/// upstream's `Connection` names; the client connection's own headers are Pingora's.
pub fn strip_hop_by_hop_response(resp: &mut ResponseHeader) {
    let switching = resp.status == http::StatusCode::SWITCHING_PROTOCOLS;
    const SPARED: [&str; 4] = ["close", "keep-alive", "proxy-connection", "upgrade"];
    // One pass over the fields: most answers carry only `Connection: keep-alive`, which
    // names nothing to remove.
    let (mut listed, mut fixed) = (false, false);
    // Names compared as names (a standard one by its number), not spelled out as text.
    for (name, value) in resp.headers.iter() {
        if *name == CONNECTION {
            listed |= names_others(value, &SPARED);
        } else if *name == UPGRADE {
            fixed |= !switching;
        } else if *name == KEEP_ALIVE || *name == PROXY_CONNECTION {
            fixed = true;
        }
    }
    if listed && !switching {
        for name in connection_listed(&resp.headers, &SPARED) {
            resp.remove_header(&name);
        }
    }
    if fixed {
        if !switching {
            resp.remove_header(&UPGRADE);
        }
        for name in ["keep-alive", "proxy-connection"] {
            resp.remove_header(name);
        }
    }
}

static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");
static PROXY: HeaderName = HeaderName::from_static("proxy");

/// Whether the name is one `strip_hop_by_hop` may remove (or rewrite, for TE).
fn is_hop_by_hop(name: &http::HeaderName) -> bool {
    [
        &CONNECTION,
        &UPGRADE,
        &TE,
        &KEEP_ALIVE,
        &PROXY_CONNECTION,
        &PROXY,
    ]
    .into_iter()
    .any(|hop| name == hop)
}

/// The names of the fields [`forwarded`] writes, the request id's last: a client's own fields
/// of these names are not sent on (as Kong's `proxy_set_header` replaces them).
static FORWARDED_NAMES: [HeaderName; 9] = [
    http::header::X_REAL_IP,
    http::header::X_FORWARDED_FOR,
    http::header::X_FORWARDED_PROTO,
    http::header::X_FORWARDED_HOST,
    http::header::X_FORWARDED_PORT,
    http::header::X_FORWARDED_PATH,
    http::header::X_FORWARDED_PREFIX,
    http::header::VIA,
    http::header::X_SKYPORT_REQUEST_ID,
];

/// [`FORWARDED_NAMES`] as the fields replace them, with and without the request id's (made
/// when compiling: a request's fields copy one).
static FORWARDED_SETS: [Replacing; 2] = [
    Replacing::new(&FORWARDED_NAMES, u64::MAX),
    Replacing::new(&FORWARDED_NAMES, (1 << (FORWARDED_NAMES.len() - 1)) - 1),
];

static VIA: HeaderNames = HeaderNames::new_static("via", "Via");

/// Bytes of the fixed part of the fields [`forwarded`] writes (names, separators, Skyport's
/// Via entry, an address, a port, a request id), rounded up: the values that vary in length
/// are added to it.
const FORWARDED_BYTES: usize = 320;

/// Sets the X-Real-IP, X-Forwarded-*, Via and (when given) request-id fields of the upstream
/// request: written once in their wire form after the request's own fields, in place of the
/// client's fields of those names (Pingora patch 34), not inserted into its map one by one.
/// `identity` (an authenticated consumer's `X-Consumer-*`) is set the same way, each in place
/// of the client's fields of its name (patch 39); a `None` value only removes them.
pub fn forwarded(
    req: &mut RequestHeader,
    d: &Downstream<'_>,
    prefix: Option<&HeaderValue>,
    request_id: Option<HeaderValue>,
    identity: &[(HeaderCase, Option<HeaderValue>)],
) -> pingora::Result<()> {
    let names = &FORWARDING;
    let replaced = &FORWARDED_SETS[usize::from(request_id.is_none())];
    let first = |sent: bool, name: &HeaderName| {
        sent.then(|| req.headers.get(name))
            .flatten()
            .filter(|v| !v.is_empty())
    };
    let prev_for = first(d.sent.forwarded_for, names.for_.name());
    let prev_via = first(d.sent.via, &http::header::VIA);
    let room = FORWARDED_BYTES
        + d.host.len()
        + d.raw_path.len()
        + prefix.map_or(0, |p| p.len())
        + prev_for.map_or(0, |v| v.len())
        + prev_via.map_or(0, |v| v.len())
        + (identity.iter())
            .map(|(k, v)| line_len(k, v.as_ref().map_or(0, |v| v.len())))
            .sum::<usize>();
    let mut f = WireFields::with_replacing(room, replaced);
    match (d.client_ip, prev_for) {
        // The usual request: the same five lines as the connection's last request.
        (Some(ip), None) => push_connection_fields(&mut f, req, ip, d)?,
        _ => {
            push_client_fields(&mut f, req, d, prev_for);
            push_server_fields(&mut f, d)?;
        }
    }
    f.push_bytes(&names.path, d.raw_path, false)?;
    if let Some(p) = prefix {
        f.push(&names.prefix, p);
    }
    let me = if d.version == "2" { VIA_2 } else { VIA_11 };
    match prev_via {
        Some(prev) => f.push_list(&VIA, prev, &me),
        None => f.push(&VIA, &me),
    }
    if let Some(id) = &request_id {
        f.push(&REQUEST_ID, id);
    }
    for (k, v) in identity {
        if !f.set_standard(k, v.as_ref()) {
            set_field(req, k, v.as_ref())?;
        }
    }
    req.set_wire_fields(f);
    Ok(())
}

/// X-Real-IP and X-Forwarded-For: the client's address, joined to the client's own
/// X-Forwarded-For (`prev_for`).
fn push_client_fields(
    f: &mut WireFields,
    req: &RequestHeader,
    d: &Downstream<'_>,
    prev_for: Option<&HeaderValue>,
) {
    let names = &FORWARDING;
    match d.client_ip.and_then(ip_value) {
        Some(ip) => {
            f.push(&names.real_ip, &ip);
            match prev_for {
                Some(prev) => f.push_list(&names.for_, prev, &ip),
                None => f.push(&names.for_, &ip),
            }
        }
        // No address to add (a connection that is not TCP): the client's own fields go on
        // as they came.
        None => {
            for name in [&names.real_ip, &names.for_] {
                for v in req.headers.get_all(name.name()) {
                    f.push(name, v);
                }
            }
        }
    }
}

/// X-Forwarded-Proto, -Host (lower case, as nginx's `$host` that Kong sends) and -Port.
fn push_server_fields(f: &mut WireFields, d: &Downstream<'_>) -> pingora::Result<()> {
    let names = &FORWARDING;
    f.push(&names.proto, &d.proto);
    f.push_bytes(&names.host, d.host, true)?;
    f.push(&names.port, &port_value(d.port));
    Ok(())
}

/// The forwarding fields a connection's requests repeat (the client's address, the scheme, the
/// host, the port), made for the first and kept while they stay the same.
struct ConnectionFields {
    ip: IpAddr,
    port: u16,
    proto: HeaderValue,
    host: Vec<u8>,
    lines: WireFields,
}

thread_local! {
    /// The last request's [`ConnectionFields`] on this thread (a keep-alive connection's
    /// requests follow each other on one thread).
    static LAST_CONNECTION: std::cell::RefCell<Option<ConnectionFields>> =
        const { std::cell::RefCell::new(None) };
}

/// X-Real-IP, X-Forwarded-For, -Proto, -Host and -Port for a client at `ip` that sent no
/// X-Forwarded-For: copied from the last request's when they are the same, else made.
fn push_connection_fields(
    f: &mut WireFields,
    req: &RequestHeader,
    ip: IpAddr,
    d: &Downstream<'_>,
) -> pingora::Result<()> {
    LAST_CONNECTION.with(|cell| {
        let mut last = cell.borrow_mut();
        let same = last.as_ref().is_some_and(|c| {
            c.ip == ip && c.port == d.port && c.proto == d.proto && c.host == d.host
        });
        if !same {
            let mut lines = WireFields::with_capacity(FORWARDED_BYTES + d.host.len(), &[]);
            push_client_fields(&mut lines, req, d, None);
            push_server_fields(&mut lines, d)?;
            *last = Some(ConnectionFields {
                ip,
                port: d.port,
                proto: d.proto.clone(),
                host: d.host.to_vec(),
                lines,
            });
        }
        if let Some(c) = last.as_ref() {
            f.push_lines_of(&c.lines);
        }
        Ok(())
    })
}

/// Sets `name` on the request's map, replacing the client's fields of that name; `None` only
/// removes them.
pub fn set_field(
    req: &mut RequestHeader,
    name: HeaderCase,
    value: Option<&HeaderValue>,
) -> pingora::Result<()> {
    match value {
        Some(v) => req.insert_header(name, v.clone())?,
        None => {
            req.remove_header(name.name());
        }
    }
    Ok(())
}

/// Bytes of a field's line: its name and a value of `value` bytes.
fn line_len(name: HeaderCase, value: usize) -> usize {
    name.name().as_str().len() + value + 4
}

/// `X-Forwarded-Proto` of a TLS client connection.
pub const HTTPS: HeaderValue = HeaderValue::from_static("https");
/// `X-Forwarded-Proto` of a plain one.
pub const HTTP: HeaderValue = HeaderValue::from_static("http");

// Skyport's own Via entries, checked when compiling: sending one copies no bytes.
const VIA_11: HeaderValue =
    HeaderValue::from_static(concat!("1.1 skyport/", env!("CARGO_PKG_VERSION")));
const VIA_2: HeaderValue =
    HeaderValue::from_static(concat!("2 skyport/", env!("CARGO_PKG_VERSION")));

/// Skyport's Via entry for a message that came over HTTP `version` (`1.1` or `2`), made when
/// compiling.
pub fn via(version: &str) -> HeaderValue {
    if version == "2" {
        VIA_2
    } else {
        VIA_11
    }
}

/// The upstream's side of a proxied answer's Via: its own field as it came, and the protocol
/// version Skyport spoke to it.
pub struct UpstreamVia {
    /// The upstream's Via, when Skyport sends one.
    pub field: Option<HeaderValue>,
    /// `1.1`, or `2` for an HTTP/2 (gRPC) upstream.
    pub version: &'static str,
}

/// The names of the fields [`on_response`] writes, in its order: bit `i` of its mask replaces
/// `ANSWER_NAMES[i]`.
static ANSWER_NAMES: [HeaderName; 4] = [
    http::header::VIA,
    http::header::X_SKYPORT_UPSTREAM_LATENCY,
    http::header::X_SKYPORT_PROXY_LATENCY,
    http::header::X_SKYPORT_REQUEST_ID,
];

/// [`ANSWER_NAMES`] as the answer's fields replace them, by mask (made when compiling).
static ANSWER_SETS: [Replacing; 16] = {
    let mut sets = [Replacing::new(&ANSWER_NAMES, 0); 16];
    let mut which = 1;
    while which < 16 {
        sets[which] = Replacing::new(&ANSWER_NAMES, which as u64);
        which += 1;
    }
    sets
};

/// Bytes of the fields [`on_response`] writes (names, separators, Skyport's Via entry, two
/// latencies, a request id, `Server`), rounded up: the upstream's Via is added to it.
const ANSWER_BYTES: usize = 224;

/// `Server` on a proxied answer that has none.
static SERVER_NAME: HeaderNames = HeaderNames::new_static("server", "Server");
/// Its value, made when compiling.
const SERVER: HeaderValue = HeaderValue::from_static(crate::error::SERVER);

/// Sets Via and the latency and request-id fields of a proxied response, those the `headers`
/// setting lets out: written once in their wire form after the answer's own fields, in place
/// of any of those names the upstream or a plugin set (Pingora patch 35), not inserted into
/// its map one by one; and `Server` when the answer has none. `plugins`' fields (a rate
/// limit's) go first, the same way, each in place of the upstream's of its name (patch 39),
/// `Vary` added to.
pub fn on_response(
    resp: &mut ResponseHeader,
    emit: &HeaderSettings,
    upstream_via: UpstreamVia,
    request_id: &HeaderValue,
    upstream_ms: Option<u64>,
    proxy_ms: Option<u64>,
    plugins: &[(HeaderCase, HeaderValue)],
) -> pingora::Result<()> {
    let upstream_ms = upstream_ms.filter(|_| emit.upstream_latency);
    let proxy_ms = proxy_ms.filter(|_| emit.proxy_latency);
    let which = u64::from(emit.via)
        | u64::from(upstream_ms.is_some()) << 1
        | u64::from(proxy_ms.is_some()) << 2
        | u64::from(emit.request_id) << 3;
    // Kong names itself when the upstream (or a plugin since) left no `Server`.
    let server = emit.server && !resp.headers.contains_key(http::header::SERVER);
    if which == 0 && !server && plugins.is_empty() {
        return Ok(());
    }
    let prev_via = upstream_via.field.as_ref().filter(|v| !v.is_empty());
    let room = ANSWER_BYTES
        + prev_via.map_or(0, |v| v.len())
        + (plugins.iter())
            .map(|(k, v)| line_len(k, v.len()))
            .sum::<usize>();
    let mut f = WireFields::with_replacing(room, &ANSWER_SETS[which as usize]);
    for (k, v) in plugins {
        if k.name() == http::header::VARY {
            f.push(k, v);
        } else if !f.set_standard(k, Some(v)) {
            resp.insert_header(*k, v.clone())?;
        }
    }
    if emit.via {
        let me = via(upstream_via.version);
        match prev_via {
            Some(prev) => f.push_list(&VIA, prev, &me),
            None => f.push(&VIA, &me),
        }
    }
    for (name, ms) in [(&UPSTREAM_LATENCY, upstream_ms), (&PROXY_LATENCY, proxy_ms)] {
        if let Some(ms) = ms {
            match crate::values::shared_number(ms) {
                Some(v) => f.push(name, v),
                None => f.push_bytes(name, itoa::Buffer::new().format(ms).as_bytes(), false)?,
            }
        }
    }
    if emit.request_id {
        f.push(&REQUEST_ID, request_id);
    }
    if server {
        f.push(&SERVER_NAME, &SERVER);
    }
    resp.set_wire_fields(f);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(map: &http::HeaderMap) -> Vec<&str> {
        let mut names: Vec<&str> = map.keys().map(|k| k.as_str()).collect();
        names.sort_unstable();
        names
    }

    #[test]
    fn hop_by_hop_fields_leave_the_request() {
        let mut req = RequestHeader::build("GET", b"/", None).expect("request");
        for (k, v) in [
            ("Connection", "keep-alive, X-Hop, bad name"),
            ("X-Hop", "1"),
            ("Keep-Alive", "timeout=5"),
            ("TE", "gzip, trailers"),
            ("X-End", "1"),
        ] {
            req.append_header(k.to_string(), v).expect("header");
        }
        strip_hop_by_hop(&mut req);
        assert_eq!(names(&req.headers), ["te", "x-end"]);
        assert_eq!(req.headers["te"], "trailers");

        // A WebSocket handshake keeps its Upgrade, even when Connection lists it.
        let mut req = RequestHeader::build("GET", b"/", None).expect("request");
        req.append_header("Connection", "Upgrade").expect("header");
        req.append_header("Upgrade", "websocket").expect("header");
        strip_hop_by_hop(&mut req);
        assert_eq!(names(&req.headers), ["connection", "upgrade"]);

        // A lone `Connection: keep-alive` goes; the other fields stay as they were.
        let mut req = RequestHeader::build("GET", b"/", None).expect("request");
        for (k, v) in [("Host", "h"), ("Connection", "keep-alive"), ("X-End", "1")] {
            req.append_header(k.to_string(), v).expect("header");
        }
        strip_hop_by_hop(&mut req);
        assert_eq!(names(&req.headers), ["host", "x-end"]);

        // Only the first Upgrade decides: an h2c upgrade is removed with its Connection, and
        // a TE that Connection lists goes whole.
        let mut req = RequestHeader::build("GET", b"/", None).expect("request");
        for (k, v) in [
            ("Connection", "Upgrade, TE"),
            ("Upgrade", "h2c"),
            ("Upgrade", "websocket"),
            ("TE", "trailers"),
            ("Proxy", "p"),
            ("X-End", "1"),
        ] {
            req.append_header(k.to_string(), v).expect("header");
        }
        strip_hop_by_hop(&mut req);
        assert_eq!(names(&req.headers), ["x-end"]);
    }

    #[test]
    fn hop_by_hop_fields_leave_the_response() {
        let answer = |status: u16, headers: &[(&str, &str)]| {
            let mut resp = ResponseHeader::build(status, None).expect("response");
            for (k, v) in headers {
                resp.append_header(k.to_string(), *v).expect("header");
            }
            strip_hop_by_hop_response(&mut resp);
            names(&resp.headers).join(" ")
        };
        // The usual answer: nothing to remove.
        assert_eq!(
            answer(200, &[("Connection", "keep-alive"), ("X-End", "1")]),
            "connection x-end"
        );
        assert_eq!(
            answer(
                200,
                &[
                    ("Connection", "Keep-Alive, X-Secret, close"),
                    ("X-Secret", "1"),
                    ("Keep-Alive", "timeout=5"),
                    ("Proxy-Connection", "keep-alive"),
                    ("Upgrade", "h2c"),
                    ("X-End", "1"),
                ]
            ),
            "connection x-end"
        );
        // A header named only by Connection goes too.
        assert_eq!(
            answer(200, &[("Connection", "x-secret"), ("X-Secret", "1")]),
            "connection"
        );
        // ... also when a second Connection line names it, after one that names nothing.
        assert_eq!(
            answer(
                200,
                &[
                    ("Connection", "keep-alive"),
                    ("Connection", " , X-Secret"),
                    ("X-Secret", "1"),
                    ("X-End", "1"),
                ]
            ),
            "connection x-end"
        );
        // Switching protocols keeps Upgrade and what Connection lists.
        assert_eq!(
            answer(
                101,
                &[
                    ("Connection", "Upgrade"),
                    ("Upgrade", "websocket"),
                    ("Keep-Alive", "timeout=5"),
                ]
            ),
            "connection upgrade"
        );
    }

    /// A client side of the connection, its forwarding fields unknown (each looked up).
    fn downstream<'a>(
        client_ip: Option<IpAddr>,
        proto: HeaderValue,
        port: u16,
        host: &'a [u8],
        raw_path: &'a [u8],
        version: &'static str,
    ) -> Downstream<'a> {
        Downstream {
            client_ip,
            proto,
            port,
            host,
            raw_path,
            version,
            sent: Sent::ANY,
        }
    }

    #[test]
    fn forwarding_fields_replace_the_clients() {
        let wire = |client_ip: Option<IpAddr>, request_id: Option<HeaderValue>| {
            let mut req = RequestHeader::build("GET", b"/a", None).expect("request");
            for (k, v) in [
                ("Host", "h"),
                ("X-Forwarded-For", "10.0.0.1"),
                ("X-Forwarded-For", "10.0.0.2"),
                ("X-Real-IP", "10.9.9.9"),
                ("X-Forwarded-Prefix", "/spoofed"),
                ("X-Skyport-Request-Id", "client"),
            ] {
                req.append_header(k.to_string(), v).expect("header");
            }
            let d = downstream(client_ip, HTTPS, 8443, b"Api.Example", b"/a", "2");
            forwarded(&mut req, &d, None, request_id, &[]).expect("fields");
            let mut out = Vec::new();
            req.header_to_h1_wire(&mut out);
            String::from_utf8(out).expect("text")
        };
        let via = format!("Via: 2 skyport/{}\r\n", env!("CARGO_PKG_VERSION"));
        let tail = format!(
            "X-Forwarded-Proto: https\r\nX-Forwarded-Host: api.example\r\n\
             X-Forwarded-Port: 8443\r\nX-Forwarded-Path: /a\r\n{via}"
        );
        assert_eq!(
            wire(
                Some("127.0.0.1".parse().expect("ip")),
                Some(HeaderValue::from_static("id"))
            ),
            format!(
                "Host: h\r\nX-Real-IP: 127.0.0.1\r\n\
                 X-Forwarded-For: 10.0.0.1, 127.0.0.1\r\n{tail}X-Skyport-Request-Id: id\r\n"
            )
        );
        // Without an address the client's own go on as they came; without a request id of
        // Skyport's, the client's stays.
        assert_eq!(
            wire(None, None),
            format!(
                "Host: h\r\nX-Skyport-Request-Id: client\r\nX-Real-IP: 10.9.9.9\r\n\
                 X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-For: 10.0.0.2\r\n{tail}"
            )
        );
    }

    #[test]
    fn a_connections_fields_are_made_again_when_any_part_changes() {
        // One thread, requests in turn: each line follows its own request.
        let fields = |ip: &str, proto: HeaderValue, port: u16, host: &[u8]| {
            let mut req = RequestHeader::build("GET", b"/p", None).expect("request");
            let d = downstream(
                Some(ip.parse().expect("ip")),
                proto,
                port,
                host,
                b"/p",
                "1.1",
            );
            forwarded(&mut req, &d, None, None, &[]).expect("fields");
            let mut out = Vec::new();
            req.header_to_h1_wire(&mut out);
            String::from_utf8(out).expect("text")
        };
        let expect = |ip: &str, proto: &str, port: u16, host: &str| {
            format!(
                "X-Real-IP: {ip}\r\nX-Forwarded-For: {ip}\r\nX-Forwarded-Proto: {proto}\r\n\
                 X-Forwarded-Host: {host}\r\nX-Forwarded-Port: {port}\r\n\
                 X-Forwarded-Path: /p\r\nVia: 1.1 skyport/{}\r\n",
                env!("CARGO_PKG_VERSION")
            )
        };
        let cases = [
            (
                "10.0.0.1",
                HTTP,
                8000,
                &b"A.Example"[..],
                "http",
                "a.example",
            ),
            ("10.0.0.1", HTTP, 8000, b"a.example", "http", "a.example"),
            ("10.0.0.1", HTTP, 8000, b"b.example", "http", "b.example"),
            ("10.0.0.2", HTTP, 8000, b"b.example", "http", "b.example"),
            ("10.0.0.2", HTTPS, 8000, b"b.example", "https", "b.example"),
            ("10.0.0.2", HTTPS, 8443, b"b.example", "https", "b.example"),
            ("::1", HTTPS, 8443, b"b.example", "https", "b.example"),
            ("::1", HTTPS, 8443, b"b.example", "https", "b.example"),
        ];
        for (ip, proto, port, host, scheme, lower) in cases {
            assert_eq!(
                fields(ip, proto, port, host),
                expect(ip, scheme, port, lower),
                "{ip} {scheme} {port} {lower}"
            );
        }
    }

    #[test]
    fn the_replaced_names_are_the_fields_written() {
        let f = &FORWARDING;
        let written = [
            &f.real_ip,
            &f.for_,
            &f.proto,
            &f.host,
            &f.port,
            &f.path,
            &f.prefix,
            &VIA,
            &REQUEST_ID,
        ];
        let names: Vec<&HeaderName> = written.iter().map(|n| n.name()).collect();
        assert_eq!(names, FORWARDED_NAMES.iter().collect::<Vec<_>>());
    }

    #[test]
    fn remembered_values_follow_their_key() {
        let v4: IpAddr = "10.1.2.3".parse().expect("v4");
        let v6: IpAddr = "2001:db8::ffff:255.255.255.255".parse().expect("v6");
        let longest: IpAddr = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"
            .parse()
            .expect("v6");
        assert_eq!(ip_value(v4).expect("v4"), "10.1.2.3");
        assert_eq!(ip_value(v4).expect("again"), "10.1.2.3");
        assert_eq!(ip_value(v6).expect("v6"), v6.to_string().as_str());
        assert_eq!(ip_value(longest).expect("45"), longest.to_string().as_str());
        assert_eq!(ip_value(v4).expect("back"), "10.1.2.3");
        assert_eq!(port_value(8000), "8000");
        assert_eq!(port_value(65535), "65535");
        assert_eq!(port_value(8000), "8000");
    }
}
