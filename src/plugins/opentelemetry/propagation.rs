//! Trace context in request headers, as Kong's propagation module reads and writes it: the
//! formats `w3c`, `b3` (multi and single header), `jaeger`, `ot`, `datadog`, `aws`, `gcp` and
//! `instana`; ids are kept as Kong keeps them (trace ids padded to 16 bytes at the front, the
//! size they came in remembered for the formats that can send 8).

use http::{HeaderMap, HeaderName};

/// A header format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    W3c,
    B3,
    B3Single,
    Jaeger,
    Ot,
    Datadog,
    Aws,
    Gcp,
    Instana,
}

impl Format {
    /// Kong's names, in Kong's order.
    pub const ALL: [(&'static str, Format); 9] = [
        ("w3c", Format::W3c),
        ("b3", Format::B3),
        ("b3-single", Format::B3Single),
        ("jaeger", Format::Jaeger),
        ("ot", Format::Ot),
        ("datadog", Format::Datadog),
        ("aws", Format::Aws),
        ("gcp", Format::Gcp),
        ("instana", Format::Instana),
    ];

    /// The format of a Kong name.
    pub fn parse(name: &str) -> Option<Format> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
    }

    /// The extraction order of Kong's legacy `header_type` settings.
    pub const LEGACY_ORDER: [Format; 8] = [
        Format::B3,
        Format::W3c,
        Format::Jaeger,
        Format::Ot,
        Format::Datadog,
        Format::Aws,
        Format::Gcp,
        Format::Instana,
    ];
}

/// A trace context, extracted or to inject.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// The trace id, padded to 16 bytes.
    pub trace_id: Option<[u8; 16]>,
    /// The trace id's size as it came, in bytes.
    pub trace_id_size: usize,
    /// The caller's span (the parent of the gateway's root span).
    pub span_id: Option<[u8; 8]>,
    /// The caller's parent span.
    pub parent_id: Option<[u8; 8]>,
    /// The caller's sampling decision.
    pub sampled: Option<bool>,
    /// B3's debug flag.
    pub debug: bool,
    /// B3 came as a single header (`preserve` answers in kind).
    pub single_header: bool,
}

/// Bytes of a hex string (an odd length gets a leading zero, as Kong's `from_hex`).
fn hex(s: &str) -> Option<Vec<u8>> {
    let digit = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let b = s.as_bytes();
    if b.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(b.len().div_ceil(2));
    let (head, rest) = b.split_at(b.len() % 2);
    if let Some(h) = head.first() {
        out.push(digit(*h)?);
    }
    for pair in rest.chunks_exact(2) {
        out.push(digit(pair[0])? << 4 | digit(pair[1])?);
    }
    Some(out)
}

/// Bytes of a decimal number, big-endian without leading zero bytes.
fn decimal(s: &str) -> Option<Vec<u8>> {
    let n: u128 = s.parse().ok()?;
    let bytes = n.to_be_bytes();
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(15);
    Some(bytes[first..].to_vec())
}

/// Kong's `to_id_size`: the last `N` bytes, or zeros in front.
fn sized<const N: usize>(id: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    if id.len() >= N {
        out.copy_from_slice(&id[id.len() - N..]);
    } else {
        out[N - id.len()..].copy_from_slice(id);
    }
    out
}

/// A header's value when the client sent it once; `Some("")` (invalid everywhere) when it
/// was repeated or is not text, as Kong's extractors ignore a header given twice.
fn one(h: &HeaderMap, name: HeaderName) -> Option<&str> {
    let mut all = h.get_all(name).iter();
    let first = all.next()?;
    if all.next().is_some() {
        return Some("");
    }
    Some(first.to_str().unwrap_or(""))
}

fn any(h: &HeaderMap, names: &[HeaderName]) -> bool {
    names.iter().any(|n| h.contains_key(n))
}

/// The header names read, made once.
const fn n(name: &'static str) -> HeaderName {
    HeaderName::from_static(name)
}
const TRACEPARENT: HeaderName = n("traceparent");
const B3: HeaderName = n("b3");
const TRACESTATE: HeaderName = n("tracestate");
const B3_TRACE: HeaderName = n("x-b3-traceid");
const B3_SPAN: HeaderName = n("x-b3-spanid");
const B3_PARENT: HeaderName = n("x-b3-parentspanid");
const B3_SAMPLED: HeaderName = n("x-b3-sampled");
const B3_FLAGS: HeaderName = n("x-b3-flags");
const UBER: HeaderName = n("uber-trace-id");
const OT_SAMPLED: HeaderName = n("ot-tracer-sampled");
const OT_TRACE: HeaderName = n("ot-tracer-traceid");
const OT_SPAN: HeaderName = n("ot-tracer-spanid");
const DD_TRACE: HeaderName = n("x-datadog-trace-id");
const DD_PARENT: HeaderName = n("x-datadog-parent-id");
const DD_PRIORITY: HeaderName = n("x-datadog-sampling-priority");
const AMZN: HeaderName = n("x-amzn-trace-id");
const GCP: HeaderName = n("x-cloud-trace-context");
const INSTANA_T: HeaderName = n("x-instana-t");
const INSTANA_S: HeaderName = n("x-instana-s");
const INSTANA_L: HeaderName = n("x-instana-l");

/// Raw ids as an extractor found them (before Kong's resizing).
#[derive(Default)]
struct Raw {
    trace_id: Option<Vec<u8>>,
    span_id: Option<Vec<u8>>,
    parent_id: Option<Vec<u8>>,
    sampled: Option<bool>,
    debug: bool,
    single_header: bool,
}

impl Raw {
    fn into_context(self) -> Context {
        Context {
            trace_id_size: self.trace_id.as_ref().map_or(0, Vec::len),
            trace_id: self.trace_id.as_deref().map(sized::<16>),
            span_id: self.span_id.as_deref().map(sized::<8>),
            parent_id: self.parent_id.as_deref().map(sized::<8>),
            sampled: self.sampled,
            debug: self.debug,
            single_header: self.single_header,
        }
    }
}

/// The context of the first format in `order` whose headers the request carries (Kong:
/// a format whose headers are present but invalid still ends the search, with what it could
/// read); None when none is present.
pub fn extract(order: &[Format], h: &HeaderMap) -> Option<(Format, Context)> {
    order.iter().find_map(|f| {
        let raw = match f {
            Format::W3c => w3c(h),
            Format::B3 | Format::B3Single => b3(h),
            Format::Jaeger => jaeger(h),
            Format::Ot => ot(h),
            Format::Datadog => datadog(h),
            Format::Aws => aws(h),
            Format::Gcp => gcp(h),
            Format::Instana => instana(h),
        }?;
        Some((*f, raw.into_context()))
    })
}

fn w3c(h: &HeaderMap) -> Option<Raw> {
    let v = one(h, TRACEPARENT)?;
    let mut parts = v.split('-');
    let (Some(version), Some(trace), Some(parent), Some(flags), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let nonzero = |s: &str| s.bytes().any(|b| b != b'0');
    if version != "00"
        || trace.len() != 32
        || parent.len() != 16
        || flags.len() != 2
        || !nonzero(trace)
        || !nonzero(parent)
    {
        return None;
    }
    let flags = u8::from_str_radix(flags, 16).ok()?;
    Some(Raw {
        trace_id: Some(hex(trace)?),
        span_id: Some(hex(parent)?),
        sampled: Some(flags & 1 == 1),
        ..Raw::default()
    })
}

fn b3(h: &HeaderMap) -> Option<Raw> {
    const NAMES: [HeaderName; 7] = [
        B3, TRACESTATE, B3_TRACE, B3_SPAN, B3_PARENT, B3_SAMPLED, B3_FLAGS,
    ];
    if !any(h, &NAMES) {
        return None;
    }
    let mut raw = Raw::default();
    let single = one(h, B3).map(str::to_string).or_else(|| {
        h.get_all(TRACESTATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.strip_prefix("b3=").map(str::to_string))
    });
    if let Some(single) = single {
        raw.single_header = true;
        b3_single(&single, &mut raw);
    }
    // The multi-header form fills what the single header left out.
    let sampled = match one(h, B3_SAMPLED) {
        Some("1" | "true") => Some(true),
        Some("0" | "false") => Some(false),
        _ => None,
    };
    raw.sampled = raw.sampled.or(sampled);
    if one(h, B3_FLAGS) == Some("1") {
        raw.sampled = raw.sampled.or(Some(true));
        raw.debug = true;
    }
    let id = |name: HeaderName, lens: &[usize]| -> Result<Option<Vec<u8>>, ()> {
        match one(h, name) {
            None => Ok(None),
            Some(v) if lens.contains(&v.len()) => hex(v).map(Some).ok_or(()),
            Some(_) => Err(()),
        }
    };
    let (t, s, p) = (
        id(B3_TRACE, &[16, 32]),
        id(B3_SPAN, &[16]),
        id(B3_PARENT, &[16]),
    );
    if let (Ok(t), Ok(s), Ok(p)) = (t, s, p) {
        raw.trace_id = raw.trace_id.take().or(t);
        raw.span_id = raw.span_id.take().or(s);
        raw.parent_id = raw.parent_id.take().or(p);
    }
    if raw.trace_id.is_none() {
        raw.span_id = None;
        raw.parent_id = None;
    }
    Some(raw)
}

/// `b3: {trace}-{span}[-{sampled}[-{parent}]]`, or just the sampling state.
fn b3_single(v: &str, raw: &mut Raw) {
    match v {
        "1" => raw.sampled = Some(true),
        "d" => {
            raw.sampled = Some(true);
            raw.debug = true;
        }
        "0" => raw.sampled = Some(false),
        _ => {
            let parts: Vec<&str> = v.split('-').collect();
            let (trace, span) = (parts[0], parts.get(1).copied().unwrap_or(""));
            let sampled = parts.get(2).copied().unwrap_or("");
            let parent = parts.get(3).copied().unwrap_or("");
            let valid = parts.len() <= 4
                && matches!(trace.len(), 16 | 32)
                && span.len() == 16
                && matches!(sampled, "" | "0" | "1" | "d")
                && (parent.is_empty() || parent.len() == 16);
            let ids = (hex(trace), hex(span));
            let (true, (Some(t), Some(s))) = (valid, ids) else {
                return;
            };
            raw.trace_id = Some(t);
            raw.span_id = Some(s);
            raw.parent_id = hex(parent);
            match sampled {
                "1" => raw.sampled = Some(true),
                "d" => {
                    raw.sampled = Some(true);
                    raw.debug = true;
                }
                "0" => raw.sampled = Some(false),
                _ => {}
            }
        }
    }
}

fn jaeger(h: &HeaderMap) -> Option<Raw> {
    let v = one(h, UBER)?;
    let parts: Vec<&str> = v.split(':').collect();
    let [trace, span, parent, flags] = parts[..] else {
        return None;
    };
    let zero = |s: &str| s.bytes().all(|b| b == b'0');
    if trace.len() > 32 || zero(trace) || span.len() > 16 || zero(span) {
        return None;
    }
    if !matches!(flags.len(), 1 | 2) {
        return None;
    }
    let flags = u8::from_str_radix(flags, 16).ok()?;
    Some(Raw {
        trace_id: Some(hex(trace)?),
        span_id: Some(hex(span)?),
        parent_id: Some(hex(parent)?),
        sampled: Some(flags & 1 == 1),
        ..Raw::default()
    })
}

fn ot(h: &HeaderMap) -> Option<Raw> {
    if !any(h, &[OT_SAMPLED, OT_TRACE, OT_SPAN]) {
        return None;
    }
    let sampled = match one(h, OT_SAMPLED) {
        Some("1" | "true") => Some(true),
        Some("0" | "false") => Some(false),
        _ => None,
    };
    let trace = one(h, OT_TRACE).map(|v| {
        matches!(v.len(), 16 | 32)
            .then(|| hex(v))
            .flatten()
            .ok_or(())
    });
    let span = one(h, OT_SPAN).map(|v| (v.len() == 16).then(|| hex(v)).flatten().ok_or(()));
    let mut raw = Raw {
        sampled,
        ..Raw::default()
    };
    if let (Some(Ok(t)), None | Some(Ok(_))) = (&trace, &span) {
        raw.trace_id = Some(t.clone());
        raw.span_id = span.and_then(Result::ok);
    }
    Some(raw)
}

fn datadog(h: &HeaderMap) -> Option<Raw> {
    if !any(h, &[DD_TRACE, DD_PARENT, DD_PRIORITY]) {
        return None;
    }
    let sampled = match one(h, DD_PRIORITY) {
        None => None,
        Some("1" | "2") => Some(true),
        Some("0" | "-1") => Some(false),
        Some(_) => return None,
    };
    let trace = one(h, DD_TRACE).and_then(|v| decimal(v.trim()));
    let parent = one(h, DD_PARENT).and_then(|v| decimal(v.trim()));
    Some(Raw {
        span_id: trace.as_ref().and(parent),
        trace_id: trace,
        sampled,
        ..Raw::default()
    })
}

fn aws(h: &HeaderMap) -> Option<Raw> {
    let v = one(h, AMZN)?;
    let mut raw = Raw::default();
    for pair in v.split(';') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = value.trim();
        match key.trim() {
            "Root" => {
                let parts: Vec<&str> = value.split('-').collect();
                let ["1", stamp, unique] = parts[..] else {
                    return None;
                };
                if value.len() != 35 || stamp.len() != 8 || unique.len() != 24 {
                    return None;
                }
                raw.trace_id = Some(hex(&format!("{stamp}{unique}"))?);
            }
            "Parent" => {
                if value.len() != 16 {
                    return None;
                }
                raw.span_id = Some(hex(value)?);
            }
            "Sampled" => match value {
                "0" => raw.sampled = Some(false),
                "1" => raw.sampled = Some(true),
                _ => return None,
            },
            _ => {}
        }
    }
    Some(raw)
}

fn gcp(h: &HeaderMap) -> Option<Raw> {
    let v = one(h, GCP)?;
    let (trace, rest) = v.split_once('/')?;
    let (span, flags) = match rest.split_once(";o=") {
        Some((s, f)) if f.len() == 1 && f.bytes().all(|b| b.is_ascii_digit()) => (s, Some(f)),
        Some(_) => return None,
        None => (rest, None),
    };
    let lower_hex = |s: &str| s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if trace.len() != 32
        || !lower_hex(trace)
        || span.is_empty()
        || span.len() > 20
        || !span.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    Some(Raw {
        trace_id: Some(hex(trace)?),
        span_id: Some(decimal(span)?),
        sampled: Some(flags == Some("1")),
        ..Raw::default()
    })
}

fn instana(h: &HeaderMap) -> Option<Raw> {
    if !any(h, &[INSTANA_T, INSTANA_S, INSTANA_L]) {
        return None;
    }
    let leading_hex = |v: &str| {
        let end = v
            .bytes()
            .position(|b| !b.is_ascii_hexdigit())
            .unwrap_or(v.len());
        hex(&v[..end])
    };
    let trace = leading_hex(one(h, INSTANA_T)?);
    let span = leading_hex(one(h, INSTANA_S)?);
    let level = one(h, INSTANA_L).and_then(|l| l.chars().next());
    Some(Raw {
        trace_id: trace,
        span_id: span,
        sampled: Some(level == Some('1')),
        ..Raw::default()
    })
}

/// Headers carrying `ctx` in `format`, or Kong's reason it cannot.
pub fn inject(format: Format, ctx: &Context) -> Result<Vec<(&'static str, String)>, String> {
    let allowed: &[usize] = match format {
        Format::B3 | Format::B3Single | Format::Jaeger | Format::Instana => &[16, 8],
        Format::Ot => &[8, 16],
        Format::Datadog => &[8],
        Format::W3c | Format::Aws | Format::Gcp => &[16],
    };
    let size = if allowed.contains(&ctx.trace_id_size) {
        ctx.trace_id_size
    } else {
        allowed[0]
    };
    let trace = ctx.trace_id.map(|t| t[16 - size..].to_vec());
    let needs_ids = !matches!(
        format,
        Format::B3 | Format::B3Single | Format::Datadog | Format::Instana
    );
    let name = Format::ALL
        .iter()
        .find(|(_, f)| *f == format)
        .map_or("", |(n, _)| *n);
    if needs_ids && (trace.is_none() || ctx.span_id.is_none()) {
        return Err(format!(
            "{name} injector context is invalid: field trace_id not found in context"
        ));
    }
    let hexs = |b: &[u8]| ::hex::encode(b);
    let th = trace.as_deref().map(hexs).unwrap_or_default();
    let sh = ctx.span_id.map(|s| hexs(&s)).unwrap_or_default();
    let bit = |s: bool| if s { "1" } else { "0" };
    let sampled = ctx.sampled.unwrap_or(false);
    let out = match format {
        Format::W3c => vec![(
            "traceparent",
            format!("00-{th}-{sh}-{}", if sampled { "01" } else { "00" }),
        )],
        Format::B3 => {
            let mut v = Vec::new();
            if trace.is_some() && ctx.span_id.is_some() {
                v.push(("x-b3-traceid", th));
                v.push(("x-b3-spanid", sh));
                if let Some(p) = ctx.parent_id {
                    v.push(("x-b3-parentspanid", hexs(&p)));
                }
            }
            if ctx.debug {
                v.push(("x-b3-flags", "1".to_string()));
            } else {
                v.push(("x-b3-sampled", bit(sampled).to_string()));
            }
            v
        }
        Format::B3Single => {
            let flag = if ctx.debug {
                Some("d")
            } else {
                ctx.sampled.map(bit)
            };
            let value = if trace.is_none() || ctx.span_id.is_none() {
                flag.unwrap_or("0").to_string()
            } else {
                let mut v = format!("{th}-{sh}");
                if let Some(f) = flag {
                    v = format!("{v}-{f}");
                }
                if let Some(p) = ctx.parent_id {
                    v = format!("{v}-{}", hexs(&p));
                }
                v
            };
            vec![("b3", value)]
        }
        Format::Jaeger => vec![(
            "uber-trace-id",
            format!(
                "{th}:{sh}:{}:{}",
                ctx.parent_id.map_or("0".to_string(), |p| hexs(&p)),
                if sampled { "01" } else { "00" }
            ),
        )],
        Format::Ot => {
            let mut v = vec![("ot-tracer-traceid", th), ("ot-tracer-spanid", sh)];
            if let Some(s) = ctx.sampled {
                v.push(("ot-tracer-sampled", bit(s).to_string()));
            }
            v
        }
        Format::Datadog => {
            let dec = |b: &[u8]| u64::from_be_bytes(sized::<8>(b)).to_string();
            let mut v = Vec::new();
            if let Some(t) = &trace {
                v.push(("x-datadog-trace-id", dec(t)));
            }
            if let Some(s) = ctx.span_id {
                v.push(("x-datadog-parent-id", dec(&s)));
            }
            if let Some(s) = ctx.sampled {
                v.push(("x-datadog-sampling-priority", bit(s).to_string()));
            }
            v
        }
        Format::Aws => vec![(
            "x-amzn-trace-id",
            format!(
                "Root=1-{}-{};Parent={sh};Sampled={}",
                &th[..8],
                &th[8..],
                bit(sampled)
            ),
        )],
        Format::Gcp => vec![(
            "x-cloud-trace-context",
            format!(
                "{th}/{};o={}",
                ctx.span_id.map_or(0, u64::from_be_bytes),
                bit(sampled)
            ),
        )],
        Format::Instana => {
            let mut v = vec![("x-instana-t", th), ("x-instana-s", sh)];
            if let Some(s) = ctx.sampled {
                v.push(("x-instana-l", bit(s).to_string()));
            }
            v
        }
    };
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().expect("value"));
        }
        h
    }

    #[test]
    fn w3c_in_and_out() {
        let h = headers(&[(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )]);
        let (f, ctx) = extract(&[Format::W3c], &h).expect("found");
        assert_eq!(f, Format::W3c);
        assert_eq!(ctx.sampled, Some(true));
        assert_eq!(ctx.trace_id_size, 16);
        let out = inject(Format::W3c, &ctx).expect("injected");
        assert_eq!(
            out,
            vec![(
                "traceparent",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_string()
            )]
        );
        // Invalid: version, zero ids, lengths.
        for bad in [
            "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            "00-0af7651916cd43dd-b7ad6b7169203331-01",
        ] {
            assert_eq!(
                extract(&[Format::W3c], &headers(&[("traceparent", bad)])),
                None
            );
        }
    }

    #[test]
    fn b3_keeps_a_64_bit_trace_id_and_answers_in_kind() {
        let h = headers(&[("b3", "80f198ee56343ba8-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90")]);
        let (_, ctx) = extract(&Format::LEGACY_ORDER, &h).expect("found");
        assert!(ctx.single_header);
        assert_eq!(ctx.trace_id_size, 8);
        assert_eq!(ctx.trace_id.expect("id")[..8], [0u8; 8]);
        let out = inject(Format::B3Single, &ctx).expect("injected");
        assert_eq!(
            out[0].1,
            "80f198ee56343ba8-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90"
        );
        // W3C has only 128-bit ids: the padded one is sent.
        let w3c = inject(Format::W3c, &ctx).expect("injected");
        assert_eq!(
            w3c[0].1,
            "00-000000000000000080f198ee56343ba8-e457b5a2e4d86bd1-01"
        );
        let multi = headers(&[
            ("x-b3-traceid", "463ac35c9f6413ad48485a3953bb6124"),
            ("x-b3-spanid", "a2fb4a1d1a96d312"),
            ("x-b3-flags", "1"),
        ]);
        let (_, ctx) = extract(&[Format::B3], &multi).expect("found");
        assert!(ctx.debug && ctx.sampled == Some(true));
        let out = inject(Format::B3, &ctx).expect("injected");
        assert!(out.contains(&("x-b3-flags", "1".to_string())));
    }

    #[test]
    fn the_other_formats_round_trip() {
        let cases: [(Format, &[(&'static str, &str)]); 6] = [
            (
                Format::Jaeger,
                &[(
                    "uber-trace-id",
                    "0af7651916cd43dd8448eb211c80319c:b7ad6b7169203331:0000000000000000:01",
                )],
            ),
            (
                Format::Ot,
                &[
                    ("ot-tracer-traceid", "0af7651916cd43dd8448eb211c80319c"),
                    ("ot-tracer-spanid", "b7ad6b7169203331"),
                    ("ot-tracer-sampled", "1"),
                ],
            ),
            (
                Format::Datadog,
                &[
                    ("x-datadog-trace-id", "1234567890123"),
                    ("x-datadog-parent-id", "987654321"),
                    ("x-datadog-sampling-priority", "1"),
                ],
            ),
            (
                Format::Aws,
                &[(
                    "x-amzn-trace-id",
                    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
                )],
            ),
            (
                Format::Gcp,
                &[(
                    "x-cloud-trace-context",
                    "105445aa7843bc8bf206b12000100000/2;o=1",
                )],
            ),
            (
                Format::Instana,
                &[
                    ("x-instana-t", "0af7651916cd43dd8448eb211c80319c"),
                    ("x-instana-s", "b7ad6b7169203331"),
                    ("x-instana-l", "1"),
                ],
            ),
        ];
        for (format, given) in cases {
            let (f, ctx) = extract(&[format], &headers(given)).expect("found");
            assert_eq!(f, format);
            assert_eq!(ctx.sampled, Some(true), "{format:?}");
            let out = inject(format, &ctx).expect("injected");
            for (name, value) in given {
                let sent = out.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
                let expected = match (format, *name) {
                    (Format::Jaeger, _) => {
                        "0af7651916cd43dd8448eb211c80319c:b7ad6b7169203331:0000000000000000:01"
                    }
                    _ => value,
                };
                assert_eq!(sent, Some(expected), "{format:?} {name}");
            }
        }
    }

    #[test]
    fn a_present_but_broken_format_still_ends_the_search() {
        // Kong's legacy order reads b3 first; any b3 header (here only `tracestate`) makes
        // it the format found, even without ids.
        let h = headers(&[
            ("tracestate", "vendor=1"),
            (
                "traceparent",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            ),
        ]);
        let (f, ctx) = extract(&Format::LEGACY_ORDER, &h).expect("found");
        assert_eq!(f, Format::B3);
        assert_eq!(ctx.trace_id, None);
    }
}
