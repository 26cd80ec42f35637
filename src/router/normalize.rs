//! Request path normalization before matching, as Kong does it: decode what needs no
//! escaping, keep reserved characters escaped (hex upper-cased), drop dot segments and
//! merge repeated slashes. Also re-escaping of the path sent upstream.

use percent_encoding::{percent_encode, AsciiSet, CONTROLS};

/// Characters that stay percent-encoded during normalization (RFC 3986 reserved + `%`).
const RESERVED: &[u8] = b"!*'();:@&=+$,/?%#[]";

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes every escape that is not a reserved character; reserved escapes are
/// kept with upper-case hex. Bytes, because a decoded path need not be UTF-8.
fn decode_unreserved(path: &str) -> Vec<u8> {
    let b = path.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex_val(b[i + 1]), hex_val(b[i + 2])) {
                let c = h * 16 + l;
                if RESERVED.contains(&c) {
                    out.push(b'%');
                    out.push(b[i + 1].to_ascii_uppercase());
                    out.push(b[i + 2].to_ascii_uppercase());
                } else {
                    out.push(c);
                }
                i += 3;
                continue;
            }
        }
        if b[i] == b'%' {
            // A `%` that starts no escape is itself escaped, so that the bytes after it,
            // once decoded, cannot form a new escape (`%%32%65` must not become `%2e`).
            out.extend_from_slice(b"%25");
        } else {
            out.push(b[i]);
        }
        i += 1;
    }
    out
}

/// Removes `.` and `..` segments and merges repeated slashes. The result starts with `/`
/// and never climbs above the root.
fn remove_dot_segments(path: &[u8]) -> Vec<u8> {
    let mut segments: Vec<&[u8]> = Vec::new();
    let trailing = path.ends_with(b"/")
        || path.ends_with(b"/.")
        || path.ends_with(b"/..")
        || path == b"."
        || path == b"..";
    for seg in path.split(|&c| c == b'/') {
        match seg {
            b"" | b"." => {}
            b".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = Vec::with_capacity(path.len() + 1);
    for s in &segments {
        out.push(b'/');
        out.extend_from_slice(s);
    }
    if out.is_empty() || trailing {
        out.push(b'/');
    }
    out
}

/// Normalizes a request path (no query string) for matching and upstream path building.
/// Returns bytes rendered losslessly into a `String` by escaping non-UTF-8 sequences.
pub fn normalize(path: &str) -> std::borrow::Cow<'_, str> {
    // Most paths are already normal: nothing to decode, no dot segments, no empty segments.
    let b = path.as_bytes();
    let clean = b.first() == Some(&b'/')
        && !b.contains(&b'%')
        && !path.contains("//")
        && !path.contains("/.");
    if clean {
        return std::borrow::Cow::Borrowed(path);
    }
    let decoded = decode_unreserved(path);
    let cleaned = remove_dot_segments(&decoded);
    std::borrow::Cow::Owned(match String::from_utf8(cleaned) {
        Ok(s) => s,
        // Invalid UTF-8 after decoding: keep the non-ASCII bytes escaped (and only those,
        // so that normalizing again changes nothing) and matching stays exact.
        Err(e) => escape_non_ascii(e.as_bytes()),
    })
}

fn escape_non_ascii(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if b.is_ascii() {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Bytes escaped in a path sent upstream: controls, space, non-ASCII and the characters
/// RFC 3986 does not allow in a path segment. `%` is left alone: escapes are kept as they are.
const NON_PATH: AsciiSet = CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'|')
    .add(b'\\')
    .add(b'^')
    .add(b'#')
    .add(b'?');

/// Re-escapes a normalized path for the upstream request line (spaces become `%20`, etc.).
pub fn escape_for_upstream(path: &str) -> std::borrow::Cow<'_, str> {
    percent_encode(path.as_bytes(), &NON_PATH).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_kong() {
        let cases = [
            ("/", "/"),
            ("/a/b", "/a/b"),
            ("/a//b///c", "/a/b/c"),
            ("/a/./b", "/a/b"),
            ("/a/../b", "/b"),
            ("/../../etc/passwd", "/etc/passwd"),
            ("/a/%2E%2E/b", "/b"),
            ("/a/%2e/b", "/a/b"),
            ("/route%2E%2E/req", "/route../req"),
            ("/a%2Fb", "/a%2Fb"),
            ("/a%2fb", "/a%2Fb"),
            ("/%7Euser", "/~user"),
            ("/a%20b", "/a b"),
            ("/a/b/", "/a/b/"),
            ("/a/b/..", "/a/"),
            ("/a/.", "/a/"),
            ("/%", "/%25"),
            ("", "/"),
            ("/a/b.c/.d", "/a/b.c/.d"),
            ("/%zz", "/%25zz"),
            ("/%4", "/%254"),
            // No double decoding: a lone `%` cannot combine with decoded bytes.
            ("/%%32%65%%32%65/x", "/%252e%252e/x"),
        ];
        for (input, want) in cases {
            assert_eq!(normalize(input), want, "normalize({input})");
        }
    }

    #[test]
    fn invalid_utf8_stays_escaped() {
        assert_eq!(normalize("/a%FFb"), "/a%FFb");
    }

    #[test]
    fn normalizing_twice_changes_nothing() {
        // Found by fuzzing (fuzz/ path_route): a lone `%`, then escapes that decode to hex
        // digits, a control byte and a non-UTF-8 byte.
        for input in [
            "/%%e%%62e\u{1d}%?",
            "/a%FF%1Db",
            "/%C3%A9%FF/%%41",
            "/%2e%%2e/..",
        ] {
            let once = normalize(input).into_owned();
            assert_eq!(normalize(&once), once, "normalize({input:?})");
        }
    }

    #[test]
    fn escapes_for_upstream() {
        assert_eq!(escape_for_upstream("/a b"), "/a%20b");
        assert_eq!(escape_for_upstream("/a%2Fb"), "/a%2Fb");
        assert_eq!(escape_for_upstream("/ü"), "/%C3%BC");
    }
}
