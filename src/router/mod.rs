//! Route matching and ranking exactly as Kong's default router: every configured attribute
//! must match, and among matches the highest [`Priority`] wins, ties broken by route id.
//!
//! A route with several paths becomes one [`Entry`] per path so that each path competes
//! with its own length. Entries are sorted once, when the snapshot is compiled.

pub mod normalize;
pub mod path;

use regex::Regex;
use std::cmp::Ordering;

/// How a route's path matches.
#[derive(Debug, Clone)]
pub enum PathMatcher {
    /// A plain prefix (`/users`).
    Prefix(String),
    /// A `~` regex, anchored at the start.
    Regex(Regex),
}

impl PathMatcher {
    /// A prefix path other than `/` as a header value whose clones share its bytes.
    pub fn prefix_header(&self) -> Option<http::HeaderValue> {
        match self {
            PathMatcher::Prefix(p) if p != "/" => {
                let v = http::HeaderValue::from_maybe_shared(bytes::Bytes::from_owner(
                    p.clone().into_bytes(),
                ))
                .ok()?;
                Some(v)
            }
            _ => None,
        }
    }

    /// The path as the route wrote it, without the `~` of a regex (Kong's matched `uri`).
    pub fn source(&self) -> &str {
        match self {
            PathMatcher::Prefix(p) => p,
            PathMatcher::Regex(r) => {
                let s = r.as_str();
                s.strip_prefix("^(?:")
                    .and_then(|s| s.strip_suffix(')'))
                    .unwrap_or(s)
            }
        }
    }
}

/// The server name a client sent in its TLS handshake, kept with its connection for the
/// router's `snis` rules.
#[derive(Debug)]
pub struct ClientServerName(pub Box<str>);

/// How one configured host matches the request's Host.
#[derive(Debug, Clone, PartialEq)]
pub enum HostMatcher {
    /// `api.example.com`
    Exact(String),
    /// `*.example.com`: stored as `.example.com`.
    Suffix(String),
    /// `example.*`: stored as `example.`.
    Prefix(String),
}

/// One configured host, with the listener port it requires when written `host:port`.
#[derive(Debug, Clone, PartialEq)]
pub struct HostRule {
    /// The name part.
    pub matcher: HostMatcher,
    /// The port part, if any.
    pub port: Option<u16>,
}

impl HostRule {
    /// Parses a configured host (`*.example.com`, `example.*`, `a.example.com:8000`).
    pub fn parse(raw: &str) -> Result<HostRule, String> {
        let lower = raw.to_ascii_lowercase();
        let (name, port) = split_host_port(&lower);
        let port = match port {
            Some(p) => Some(
                p.parse::<u16>()
                    .map_err(|_| format!("invalid port in host \"{raw}\""))?,
            ),
            None => None,
        };
        let stars = name.matches('*').count();
        let matcher = if stars == 0 {
            HostMatcher::Exact(name.to_string())
        } else if stars == 1 && name.starts_with("*.") && name.len() > 2 {
            HostMatcher::Suffix(name[1..].to_string())
        } else if stars == 1 && name.ends_with(".*") && name.len() > 2 {
            HostMatcher::Prefix(name[..name.len() - 1].to_string())
        } else {
            return Err(format!(
                "invalid wildcard: must be placed at leftmost or rightmost label (got \"{raw}\")"
            ));
        };
        if name.is_empty() {
            return Err("host must not be empty".into());
        }
        Ok(HostRule { matcher, port })
    }

    fn is_wildcard(&self) -> bool {
        !matches!(self.matcher, HostMatcher::Exact(_))
    }

    fn matches(&self, host: &str, listener_port: u16) -> bool {
        if self.port.is_some_and(|p| p != listener_port) {
            return false;
        }
        self.matcher.matches(host)
    }
}

impl HostMatcher {
    /// Whether a name (a Host without its port, or a TLS server name) matches.
    pub fn matches(&self, host: &str) -> bool {
        match self {
            HostMatcher::Exact(h) => host.eq_ignore_ascii_case(h),
            HostMatcher::Suffix(s) => {
                host.len() > s.len()
                    && host.as_bytes()[host.len() - s.len()..].eq_ignore_ascii_case(s.as_bytes())
            }
            HostMatcher::Prefix(p) => {
                host.len() > p.len()
                    && host.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes())
            }
        }
    }
}

/// The host a request names, read as nginx reads `$host` (which Kong routes on and forwards):
/// up to the first colon (or the closing bracket of an IPv6 literal), without one trailing
/// dot; `None` for a field nginx answers with 400 (no host left, two dots in a row, a space or
/// control character, a slash, anywhere in the field). Checked against nginx 1.22: a backslash
/// and bytes past ASCII are accepted, `a:b:c` names `a`, `[::1]:8:9` names `[::1]`.
/// The host keeps its case; callers compare without case or lower-case it.
pub fn request_host(raw: &str) -> Option<&str> {
    // One pass, one table load per byte: the bytes nginx refuses anywhere in the field, and
    // two dots in a row (a host is a few dozen bytes; this runs per request).
    let mut prev = PLAIN;
    for &c in raw.as_bytes() {
        let kind = HOST_BYTES[usize::from(c)];
        if kind == REFUSED || (kind == DOT && prev == DOT) {
            return None;
        }
        prev = kind;
    }
    let host = host_of(raw);
    (!host.is_empty()).then_some(host)
}

// What a byte of a Host field is to [`request_host`].
const PLAIN: u8 = 0;
const DOT: u8 = 1;
/// A space or control character, DEL, or a slash.
const REFUSED: u8 = 2;

static HOST_BYTES: [u8; 256] = {
    let mut t = [PLAIN; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = match c as u8 {
            b'.' => DOT,
            0..=b' ' | 0x7f | b'/' => REFUSED,
            _ => PLAIN,
        };
        c += 1;
    }
    t
};

/// The host part of a field [`request_host`] has accepted: up to the first colon, or through
/// the `]` of a field that starts with `[`, without one trailing dot.
pub fn host_of(raw: &str) -> &str {
    let b = raw.as_bytes();
    let end = if b.first() == Some(&b'[') {
        b.iter().position(|&c| c == b']').map_or(b.len(), |i| i + 1)
    } else {
        b.iter().position(|&c| c == b':').unwrap_or(b.len())
    };
    let host = &raw[..end];
    host.strip_suffix('.').unwrap_or(host)
}

/// A header field's text when it is UTF-8 (nginx takes any byte past ASCII in a Host; `http`'s
/// `to_str` only visible ASCII).
pub fn field_text(v: &http::HeaderValue) -> Option<&str> {
    std::str::from_utf8(v.as_bytes()).ok()
}

/// Splits `host[:port]` (with `[v6]:port` support) into its parts.
pub fn split_host_port(raw: &str) -> (&str, Option<&str>) {
    if let Some(rest) = raw.strip_prefix('[') {
        if let Some(end) = rest.find(']') {
            let port = rest[end + 1..].strip_prefix(':');
            return (&raw[..end + 2], port);
        }
        return (raw, None);
    }
    // Bytes, not chars: a host is short and ASCII, and this runs on every request.
    let b = raw.as_bytes();
    match b.iter().rposition(|&c| c == b':') {
        Some(i) if !b[..i].contains(&b':') => (&raw[..i], Some(&raw[i + 1..])),
        _ => (raw, None),
    }
}

/// One header condition: any of the values (case-insensitive), or a `~*` regex.
#[derive(Debug, Clone)]
pub struct HeaderRule {
    /// The header's name.
    pub name: http::HeaderName,
    /// Lower-case plain values.
    pub values: Vec<String>,
    /// Case-insensitive regexes.
    pub regexes: Vec<Regex>,
}

impl HeaderRule {
    fn matches(&self, value: &[u8]) -> bool {
        let Ok(v) = std::str::from_utf8(value) else {
            return false;
        };
        self.values.iter().any(|x| x.eq_ignore_ascii_case(v))
            || self.regexes.iter().any(|r| r.is_match(v))
    }
}

/// Kong's route priority, compared field by field (highest wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Priority {
    /// How many attribute kinds the route sets (methods, hosts, headers, paths, snis).
    pub attributes: u8,
    /// All hosts are plain names (no wildcard).
    pub plain_hosts: bool,
    /// Number of header conditions.
    pub headers: usize,
    /// The path is a regex.
    pub regex: bool,
    /// `regex_priority` (regex paths only).
    pub regex_priority: i64,
    /// Length of the prefix path.
    pub prefix_len: usize,
}

/// One matchable unit: a route with one of its paths (or with none).
#[derive(Debug, Clone)]
pub struct Entry {
    /// Index of the route in the snapshot.
    pub route: usize,
    /// The route's id, the final tie-breaker.
    pub route_id: String,
    /// Upper-case methods; empty = any.
    pub methods: Vec<String>,
    /// Hosts; empty = any.
    pub hosts: Vec<HostRule>,
    /// Header conditions; all must hold.
    pub headers: Vec<HeaderRule>,
    /// The path, if the route has paths (shared with the requests it matches).
    pub path: Option<std::sync::Arc<PathMatcher>>,
    /// The rank.
    pub priority: Priority,
    /// The route accepts requests that arrived over TLS (`https` in its protocols).
    pub tls_ok: bool,
    /// TLS server names (`snis`); empty = any. Only requests over TLS are held to them.
    pub snis: Vec<HostMatcher>,
    /// The route's protocols are `ws`/`wss` alone: only WebSocket handshakes match.
    pub websocket_only: bool,
    /// A prefix path as a shared header value (`X-Forwarded-Prefix` when it is stripped).
    pub prefix_header: Option<http::HeaderValue>,
}

impl Entry {
    /// Computes the entry's priority from its attributes.
    pub fn rank(&mut self, regex_priority: i64, has_snis: bool) {
        let attributes = [
            !self.methods.is_empty(),
            !self.hosts.is_empty(),
            !self.headers.is_empty(),
            self.path.is_some(),
            has_snis || !self.snis.is_empty(),
        ]
        .iter()
        .filter(|b| **b)
        .count() as u8;
        let regex = matches!(self.path.as_deref(), Some(PathMatcher::Regex(_)));
        self.priority = Priority {
            attributes,
            plain_hosts: !self.hosts.is_empty() && !self.hosts.iter().any(HostRule::is_wildcard),
            headers: self.headers.len(),
            regex,
            regex_priority: if regex { regex_priority } else { 0 },
            prefix_len: match self.path.as_deref() {
                Some(PathMatcher::Prefix(p)) => p.len(),
                _ => 0,
            },
        };
    }
}

/// What the router needs to know about a request.
pub struct RequestInfo<'a> {
    /// The method, upper-case.
    pub method: &'a str,
    /// Host name without port.
    pub host: &'a str,
    /// The port of the listener the request came in on.
    pub listener_port: u16,
    /// The normalized path.
    pub path: &'a str,
    /// The request headers.
    pub headers: &'a http::HeaderMap,
    /// The request arrived over TLS.
    pub tls: bool,
    /// The server name the client sent in its TLS handshake.
    pub sni: Option<&'a str>,
    /// The request is a WebSocket handshake (`Upgrade: websocket`).
    pub websocket: bool,
}

/// The route that matched, and how much of the path its prefix or regex took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    /// Index of the route in the snapshot.
    pub route: usize,
    /// Bytes of the normalized path matched by the route's path (`None`: matched without path).
    pub path_len: Option<usize>,
    /// The entry that matched (see [`Router::path_of`]).
    pub entry: usize,
}

/// Entry positions by prefix path.
type PrefixMap = std::collections::HashMap<String, Vec<usize>, foldhash::fast::RandomState>;

/// The compiled route table: entries in priority order, plus an index of prefix paths so
/// that a lookup touches only the entries whose prefix the request path starts with (and
/// the few without a prefix path), whatever the number of routes.
#[derive(Debug, Default)]
pub struct Router {
    entries: Vec<Entry>,
    /// Entry positions (ascending = higher priority first) by prefix path. Hashed with
    /// foldhash, seeded per process: a lookup hashes a part of the request path once per
    /// distinct prefix length, and SipHash cost about 160 instructions a probe; the keys are
    /// the configuration's, so a client cannot fill the table.
    by_prefix: PrefixMap,
    /// The distinct prefix lengths, to probe only lengths that exist.
    prefix_lengths: Vec<usize>,
    /// Entries without a prefix path (regex paths, path-less routes), in priority order.
    unindexed: Vec<usize>,
}

impl Router {
    /// How many entries (route paths) the table holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no route can match.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Builds the table, ranking entries highest priority first.
    pub fn new(mut entries: Vec<Entry>) -> Router {
        entries.sort_by(|a, b| match b.priority.cmp(&a.priority) {
            Ordering::Equal => a.route_id.cmp(&b.route_id),
            o => o,
        });
        let mut by_prefix = PrefixMap::default();
        let mut unindexed = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            match e.path.as_deref() {
                Some(PathMatcher::Prefix(p)) => by_prefix.entry(p.clone()).or_default().push(i),
                _ => unindexed.push(i),
            }
        }
        let mut prefix_lengths: Vec<usize> = by_prefix.keys().map(String::len).collect();
        prefix_lengths.sort_unstable();
        prefix_lengths.dedup();
        Router {
            entries,
            by_prefix,
            prefix_lengths,
            unindexed,
        }
    }

    /// Finds the best route for a request: the first entry in priority order, among those
    /// the path can match, whose every attribute matches.
    pub fn find(&self, req: &RequestInfo<'_>) -> Option<Match> {
        let mut best: Option<(usize, Match)> = None;
        let consider = |list: &[usize], best: &mut Option<(usize, Match)>| {
            for &i in list {
                if best.as_ref().is_some_and(|(b, _)| i >= *b) {
                    return;
                }
                if let Some(mut m) = self.try_entry(&self.entries[i], req) {
                    m.entry = i;
                    *best = Some((i, m));
                    return;
                }
            }
        };
        consider(&self.unindexed, &mut best);
        for &n in &self.prefix_lengths {
            if n > req.path.len() {
                break;
            }
            if let Some(list) = req.path.get(..n).and_then(|p| self.by_prefix.get(p)) {
                consider(list, &mut best);
            }
        }
        best.map(|(_, m)| m)
    }

    /// Whether one entry matches the request, and how much of the path it took.
    fn try_entry(&self, e: &Entry, req: &RequestInfo<'_>) -> Option<Match> {
        if (req.tls && !e.tls_ok) || (e.websocket_only && !req.websocket) {
            return None;
        }
        // As Kong: `snis` hold only for requests over TLS, which must have sent a match.
        if req.tls
            && !e.snis.is_empty()
            && !req.sni.is_some_and(|n| e.snis.iter().any(|m| m.matches(n)))
        {
            return None;
        }
        if !e.methods.is_empty() && !e.methods.iter().any(|m| m == req.method) {
            return None;
        }
        if !e.hosts.is_empty()
            && !e
                .hosts
                .iter()
                .any(|h| h.matches(req.host, req.listener_port))
        {
            return None;
        }
        for rule in &e.headers {
            if !req
                .headers
                .get_all(&rule.name)
                .iter()
                .any(|v| rule.matches(v.as_bytes()))
            {
                return None;
            }
        }
        let path_len = match e.path.as_deref() {
            None => None,
            Some(PathMatcher::Prefix(p)) => {
                if !req.path.starts_with(p.as_str()) {
                    return None;
                }
                Some(p.len())
            }
            Some(PathMatcher::Regex(r)) => match r.find(req.path) {
                Some(m) if m.start() == 0 => Some(m.end()),
                _ => return None,
            },
        };
        Some(Match {
            route: e.route,
            path_len,
            entry: 0,
        })
    }

    /// The prefix header value of the entry a match was made by (see [`Entry::prefix_header`]).
    pub fn prefix_header_of(&self, m: &Match) -> Option<&http::HeaderValue> {
        self.entries
            .get(m.entry)
            .and_then(|e| e.prefix_header.as_ref())
    }

    /// The route path a match was made by (`None`: the route has no paths).
    pub fn path_of(&self, m: &Match) -> Option<&std::sync::Arc<PathMatcher>> {
        self.entries.get(m.entry).and_then(|e| e.path.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(
        route: usize,
        id: &str,
        path: Option<&str>,
        methods: &[&str],
        hosts: &[&str],
    ) -> Entry {
        let mut e = Entry {
            route,
            route_id: id.into(),
            methods: methods.iter().map(|m| m.to_string()).collect(),
            hosts: hosts
                .iter()
                .map(|h| HostRule::parse(h).expect("host"))
                .collect(),
            headers: Vec::new(),
            path: path.map(|p| {
                std::sync::Arc::new(match p.strip_prefix('~') {
                    Some(re) => PathMatcher::Regex(Regex::new(&format!("^(?:{re})")).expect("re")),
                    None => PathMatcher::Prefix(p.into()),
                })
            }),
            priority: Priority::default(),
            tls_ok: true,
            snis: Vec::new(),
            websocket_only: false,
            prefix_header: None,
        };
        e.prefix_header = e.path.as_deref().and_then(PathMatcher::prefix_header);
        e.rank(0, false);
        e
    }

    fn find(r: &Router, method: &str, host: &str, path: &str) -> Option<usize> {
        let headers = http::HeaderMap::new();
        r.find(&RequestInfo {
            method,
            host,
            listener_port: 8000,
            path,
            headers: &headers,
            tls: false,
            sni: None,
            websocket: false,
        })
        .map(|m| m.route)
    }

    #[test]
    fn longer_prefix_wins() {
        let r = Router::new(vec![
            entry(0, "a", Some("/"), &[], &[]),
            entry(1, "b", Some("/users"), &[], &[]),
        ]);
        assert_eq!(find(&r, "GET", "x", "/users/1"), Some(1));
        assert_eq!(find(&r, "GET", "x", "/orders"), Some(0));
    }

    #[test]
    fn regex_beats_longer_prefix() {
        let r = Router::new(vec![
            entry(0, "a", Some("/users/123/orders"), &[], &[]),
            entry(1, "b", Some(r"~/users/\d+"), &[], &[]),
        ]);
        assert_eq!(find(&r, "GET", "x", "/users/123/orders"), Some(1));
    }

    #[test]
    fn more_attributes_win_and_plain_host_beats_wildcard() {
        let r = Router::new(vec![
            entry(0, "a", Some("/api/long/path"), &[], &[]),
            entry(1, "b", Some("/api"), &["GET"], &[]),
            entry(2, "c", Some("/api"), &["GET"], &["*.example.com"]),
            entry(3, "d", Some("/api"), &["GET"], &["api.example.com"]),
        ]);
        assert_eq!(
            find(&r, "GET", "api.example.com", "/api/long/path"),
            Some(3)
        );
        assert_eq!(
            find(&r, "GET", "www.example.com", "/api/long/path"),
            Some(2)
        );
        assert_eq!(find(&r, "GET", "other", "/api/long/path"), Some(1));
        assert_eq!(find(&r, "POST", "other", "/api/long/path"), Some(0));
    }

    #[test]
    fn ties_break_by_route_id() {
        let r = Router::new(vec![
            entry(0, "b", Some("/x"), &[], &[]),
            entry(1, "a", Some("/x"), &[], &[]),
        ]);
        assert_eq!(find(&r, "GET", "h", "/x"), Some(1));
    }

    #[test]
    fn host_wildcards_and_ports() {
        let suffix = HostRule::parse("*.example.com").expect("parse");
        assert!(suffix.matches("a.example.com", 1));
        assert!(!suffix.matches("example.com", 1));
        let prefix = HostRule::parse("example.*").expect("parse");
        assert!(prefix.matches("example.org", 1));
        assert!(!prefix.matches("wexample.org", 1));
        let port = HostRule::parse("a.com:8000").expect("parse");
        assert!(port.matches("A.com", 8000));
        assert!(!port.matches("a.com", 8443));
        assert!(HostRule::parse("a.*.com").is_err());
        assert!(HostRule::parse("*.a.*").is_err());
    }

    #[test]
    fn splits_host_and_port() {
        assert_eq!(split_host_port("a.com:80"), ("a.com", Some("80")));
        assert_eq!(split_host_port("a.com"), ("a.com", None));
        assert_eq!(split_host_port("[::1]:8000"), ("[::1]", Some("8000")));
        assert_eq!(split_host_port("::1"), ("::1", None));
    }

    #[test]
    fn reads_the_request_host_as_nginx_does() {
        for (raw, host) in [
            ("a.com", Some("a.com")),
            ("A.Com:8000", Some("A.Com")),
            ("a.com.", Some("a.com")),
            ("a.com.:80", Some("a.com")),
            ("[::1]:8000", Some("[::1]")),
            ("", None),
            (":80", None),
            (".", None),
            ("a..com", None),
            ("a..", None),
            ("a\u{7f}b", None),
            ("a b", None),
            ("a\tb", None),
            ("a/b", None),
            ("a\\b", Some("a\\b")),
            // The host ends at the first colon; the whole field is checked.
            ("a:b:c", Some("a")),
            ("A.:", Some("A")),
            ("a:80.", Some("a")),
            ("a:b..c", None),
            ("a: b", None),
            ("[::1]:8:9", Some("[::1]")),
            ("[::1", Some("[::1")),
            ("[::1]x", Some("[::1]")),
            (".a", Some(".a")),
            ("ab\u{e9}", Some("ab\u{e9}")),
        ] {
            assert_eq!(request_host(raw), host, "{raw:?}");
        }
    }

    #[test]
    fn the_prefix_index_finds_what_a_full_scan_finds() {
        // Prefix paths that are prefixes of each other (string prefixes, not segments),
        // methods, and a few regex routes, checked against a plain scan in priority order.
        let prefixes = [
            "/", "/a", "/ab", "/abc", "/a/b", "/b", "/ba", "/api", "/apiv2", "/api/v1",
        ];
        let mut entries = Vec::new();
        for (i, p) in prefixes.iter().enumerate() {
            let methods: &[&str] = if i % 3 == 0 { &["POST"] } else { &[] };
            entries.push(entry(i, &format!("id{i:02}"), Some(p), methods, &[]));
        }
        entries.push(entry(20, "re1", Some(r"~/a\w+/\d+"), &[], &[]));
        entries.push(entry(21, "re2", Some(r"~/b"), &["GET"], &[]));
        entries.push(entry(22, "nopath", None, &["DELETE"], &[]));
        let r = Router::new(entries);
        let headers = http::HeaderMap::new();
        for path in [
            "/",
            "/a",
            "/ab",
            "/abc/1",
            "/abd/2",
            "/a/b/c",
            "/b",
            "/ba",
            "/bx",
            "/api",
            "/apiv2/x",
            "/api/v1/x",
            "/zzz",
            "/a/",
        ] {
            for method in ["GET", "POST", "DELETE"] {
                let req = RequestInfo {
                    method,
                    host: "h",
                    listener_port: 80,
                    path,
                    headers: &headers,
                    tls: false,
                    sni: None,
                    websocket: false,
                };
                let scan = r
                    .entries
                    .iter()
                    .enumerate()
                    .find_map(|(i, e)| r.try_entry(e, &req).map(|m| Match { entry: i, ..m }));
                assert_eq!(r.find(&req), scan, "{method} {path}");
            }
        }
    }
}
