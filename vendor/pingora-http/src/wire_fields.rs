// Copyright 2026 the Skyport authors
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
// http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.
//
// Added by the Skyport authors (2026) to this copy of pingora-http: see vendor/PATCHES.md,
// patches 34, 35, 36, 39, 44 and 48.

//! Fields a proxy adds to a message it sends on (the request upstream, the answer to the
//! client), kept in their HTTP/1 wire form.

use crate::case_header_name::HeaderNames;
use http::header::{HeaderName, HeaderValue, STANDARD_HEADER_COUNT, STANDARD_HEADER_NAMES};
use http::HeaderMap;
use pingora_error::{Error, ErrorType::InvalidHTTPHeader, OkOrErr, OrErr, Result};

/// Fields written after a [crate::RequestHeader]'s or a [crate::ResponseHeader]'s own, each
/// `Name: value\r\n`, and the names they replace: a field of the message's map with one of
/// those names is not sent.
///
/// A proxy that sets the same few fields on every request (forwarding fields, `Via`, a request
/// id) writes them here once instead of inserting each into the request's header map, where
/// each insert hashes the name, probes the table, and the field is copied out again when the
/// request is written. The lines are made only from checked names ([HeaderNames]) and from
/// values checked as [HeaderValue] checks them, so no line can carry a CR, an LF or a bad name.
///
/// The fields are not in the message's `headers`: a reader of the map does not see them. The
/// message's HTTP/1 form writes them; `as_owned_parts` (the HTTP/2 path), a clone's and the
/// conversion into `http`'s parts fold them into the map.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WireFields {
    lines: Vec<u8>,
    replaced: &'static [HeaderName],
    // bit `i` set: `replaced[i]` is replaced
    mask: u64,
    // the replaced names that are standard, a bit each by standard index (patch 36)
    standard: [u64; STANDARD_WORDS],
    // whether a replaced name is not standard (those are compared one by one)
    custom: bool,
}

/// Words of a set of standard names.
const STANDARD_WORDS: usize = STANDARD_HEADER_COUNT.div_ceil(64);

/// The names a [WireFields] replaces, worked out from a static list and a choice of its names
/// (Skyport patch 48): made by a `const fn`, so a proxy's sets can be `static`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replacing {
    replaced: &'static [HeaderName],
    mask: u64,
    standard: [u64; STANDARD_WORDS],
    custom: bool,
}

impl Replacing {
    /// The names of `names` whose bit is set in `which` (bit `i` for `names[i]`; at most 64
    /// names), as [WireFields::with_capacity_replacing] takes them.
    pub const fn new(names: &'static [HeaderName], which: u64) -> Self {
        let all = match names.len() {
            0 => 0,
            n @ 1..=63 => (1u64 << n) - 1,
            _ => u64::MAX,
        };
        let mut set = Replacing {
            replaced: names,
            mask: which & all,
            standard: [0; STANDARD_WORDS],
            custom: false,
        };
        let mut i = 0;
        while i < names.len() && i < 64 {
            if set.mask >> i & 1 == 1 {
                match names[i].standard_index() {
                    Some(at) => set.standard[at / 64] |= 1 << (at % 64),
                    None => set.custom = true,
                }
            }
            i += 1;
        }
        set
    }
}

const SEPARATOR: &[u8] = b": ";
const CRLF: &[u8] = b"\r\n";

impl WireFields {
    /// Room for `bytes` of lines; the fields will replace the map's fields named in `replaced`
    /// (which should name every field pushed, or the map's field of that name goes too).
    pub fn with_capacity(bytes: usize, replaced: &'static [HeaderName]) -> Self {
        Self::with_capacity_replacing(bytes, replaced, u64::MAX)
    }

    /// As [Self::with_capacity], but only the names of `names` whose bit is set in `which` (bit
    /// `i` for `names[i]`; at most 64 names) are replaced: a proxy whose added fields depend
    /// on its settings or on the message keeps one static list of names.
    pub fn with_capacity_replacing(bytes: usize, names: &'static [HeaderName], which: u64) -> Self {
        Self::with_replacing(bytes, &Replacing::new(names, which))
    }

    /// As [Self::with_capacity_replacing], with the set of names worked out beforehand (Skyport
    /// patch 48): a proxy makes its few sets once, when compiling, and each message's fields
    /// copy one instead of looking up every name again.
    pub fn with_replacing(bytes: usize, set: &Replacing) -> Self {
        WireFields {
            lines: Vec::with_capacity(bytes),
            replaced: set.replaced,
            mask: set.mask,
            standard: set.standard,
            custom: set.custom,
        }
    }

    /// Adds `name: value`.
    pub fn push(&mut self, name: &HeaderNames, value: &HeaderValue) {
        self.start(name);
        self.lines.extend_from_slice(value.as_bytes());
        self.lines.extend_from_slice(CRLF);
    }

    /// Adds `name: first, then`: a list field joined with one more member.
    pub fn push_list(&mut self, name: &HeaderNames, first: &HeaderValue, then: &HeaderValue) {
        self.start(name);
        self.lines.extend_from_slice(first.as_bytes());
        self.lines.extend_from_slice(b", ");
        self.lines.extend_from_slice(then.as_bytes());
        self.lines.extend_from_slice(CRLF);
    }

    /// Adds `name: value` for a value not yet checked, in ASCII lower case when `lower`; fails,
    /// adding nothing, on a byte no field value may carry (as [HeaderValue::from_bytes]).
    pub fn push_bytes(&mut self, name: &HeaderNames, value: &[u8], lower: bool) -> Result<()> {
        if !value.iter().all(|&b| is_value_byte(b)) {
            return Error::e_explain(InvalidHTTPHeader, "invalid value while adding a wire field");
        }
        self.start(name);
        let at = self.lines.len();
        self.lines.extend_from_slice(value);
        if lower {
            self.lines[at..].make_ascii_lowercase();
        }
        self.lines.extend_from_slice(CRLF);
        Ok(())
    }

    /// Adds `name: value` (nothing with `None`) and replaces the map's fields of that name,
    /// which must be one of `http`'s standard names (patch 39): a field whose name depends
    /// on the message (an identity, a rate limit) needs no place in a static list. `false`,
    /// adding and replacing nothing, for any other name (set it in the map instead). Adding
    /// a name twice writes both lines.
    pub fn set_standard(&mut self, name: &HeaderNames, value: Option<&HeaderValue>) -> bool {
        let Some(at) = name.name().standard_index() else {
            return false;
        };
        self.standard[at / 64] |= 1 << (at % 64);
        if let Some(v) = value {
            self.push(name, v);
        }
        true
    }

    /// Whether a field of the map named `name` is replaced (not written).
    #[inline]
    pub fn replaces(&self, name: &HeaderName) -> bool {
        match name.standard_index() {
            // One load: most of a message's names are standard.
            Some(at) => self.standard[at / 64] >> (at % 64) & 1 == 1,
            None => self.custom && self.replaced_custom().any(|n| n == name),
        }
    }

    /// The names replaced that are outside the standard set.
    fn replaced_custom(&self) -> impl Iterator<Item = &'static HeaderName> + '_ {
        let replaced: &'static [HeaderName] = self.replaced;
        replaced
            .iter()
            .enumerate()
            .filter(|(i, n)| self.mask >> i & 1 == 1 && n.standard_index().is_none())
            .map(|(_, n)| n)
    }

    /// The standard names replaced, by their index.
    fn replaced_standard(&self) -> impl Iterator<Item = usize> + '_ {
        self.standard.iter().enumerate().flat_map(|(i, &word)| {
            let mut bits = word;
            std::iter::from_fn(move || {
                let at = bits.trailing_zeros() as usize;
                bits &= bits.checked_sub(1)?;
                Some(i * 64 + at)
            })
        })
    }

    /// Adds the lines of `other` as they are, not its replaced names (Skyport patch 44): a proxy
    /// that writes the same fields for many messages (a connection's forwarding fields) makes
    /// them once and copies them; this one's names to replace should cover them.
    pub fn push_lines_of(&mut self, other: &WireFields) {
        self.lines.extend_from_slice(&other.lines);
    }

    /// The lines, as written.
    pub fn lines(&self) -> &[u8] {
        &self.lines
    }

    /// Whether there is nothing to write and nothing to replace.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty() && self.mask == 0 && self.standard.iter().all(|w| *w == 0)
    }

    /// The map's fields with the replaced names removed and these fields added: the same
    /// fields as the wire form, for a map that is sent as a map (HTTP/2).
    pub(crate) fn fold_into(&self, headers: &mut HeaderMap) -> Result<()> {
        for at in self.replaced_standard() {
            headers.remove(HeaderName::from_static(STANDARD_HEADER_NAMES[at]));
        }
        for name in self.replaced_custom() {
            headers.remove(name);
        }
        for line in self.lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let at = line
                .windows(SEPARATOR.len())
                .position(|w| w == SEPARATOR)
                .or_err(InvalidHTTPHeader, "wire field without a separator")?;
            let name = HeaderName::from_bytes(&line[..at])
                .or_err(InvalidHTTPHeader, "invalid wire field name")?;
            let value = HeaderValue::from_bytes(&line[at + SEPARATOR.len()..])
                .or_err(InvalidHTTPHeader, "invalid wire field value")?;
            headers.append(name, value);
        }
        Ok(())
    }

    fn start(&mut self, name: &HeaderNames) {
        self.lines.extend_from_slice(name.case_bytes());
        self.lines.extend_from_slice(SEPARATOR);
    }
}

/// A byte [HeaderValue] accepts: visible ASCII, space, tab and bytes past ASCII.
fn is_value_byte(b: u8) -> bool {
    b == b'\t' || (b >= 0x20 && b != 0x7f)
}

#[cfg(test)]
mod tests {
    use super::*;

    static REAL_IP: HeaderNames = HeaderNames::new_static("x-real-ip", "X-Real-IP");
    static VIA: HeaderNames = HeaderNames::new_static("via", "Via");
    static REPLACED: [HeaderName; 2] = [
        HeaderName::from_static("x-real-ip"),
        HeaderName::from_static("via"),
    ];

    #[test]
    fn lines_are_written_and_folded_back() {
        let mut f = WireFields::with_capacity(64, &REPLACED);
        f.push(&REAL_IP, &HeaderValue::from_static("10.0.0.1"));
        f.push_list(
            &VIA,
            &HeaderValue::from_static("1.1 edge"),
            &HeaderValue::from_static("1.1 me"),
        );
        assert!(f.push_bytes(&REAL_IP, b"a\r\nb", false).is_err());
        assert_eq!(
            f.lines(),
            b"X-Real-IP: 10.0.0.1\r\nVia: 1.1 edge, 1.1 me\r\n".as_slice()
        );
        assert!(f.replaces(&http::header::VIA));
        assert!(!f.replaces(&http::header::HOST));

        let mut map = HeaderMap::new();
        map.append("via", HeaderValue::from_static("1.1 edge"));
        map.append("host", HeaderValue::from_static("h"));
        f.fold_into(&mut map).expect("fold");
        assert_eq!(map["via"], "1.1 edge, 1.1 me");
        assert_eq!(map["x-real-ip"], "10.0.0.1");
        assert_eq!(map["host"], "h");
        assert_eq!(map.len(), 3);

        let mut f = WireFields::with_capacity(8, &REPLACED);
        f.push_bytes(&REAL_IP, b"Host.Example", true)
            .expect("value");
        assert_eq!(f.lines(), b"X-Real-IP: host.example\r\n".as_slice());
    }

    // Skyport patch 44.
    #[test]
    fn another_set_of_lines_is_copied_without_its_names() {
        let mut block = WireFields::with_capacity(32, &[]);
        block.push(&REAL_IP, &HeaderValue::from_static("10.0.0.1"));
        let mut f = WireFields::with_capacity(64, &REPLACED[1..]);
        f.push_lines_of(&block);
        f.push(&VIA, &HeaderValue::from_static("1.1 me"));
        assert_eq!(
            f.lines(),
            b"X-Real-IP: 10.0.0.1\r\nVia: 1.1 me\r\n".as_slice()
        );
        // The names to replace are this one's only.
        assert!(f.replaces(&http::header::VIA));
        assert!(!f.replaces(&HeaderName::from_static("x-real-ip")));
    }

    // Skyport patch 48.
    #[test]
    fn a_set_made_when_compiling_replaces_as_one_made_per_message() {
        static MIXED: [HeaderName; 3] = [
            HeaderName::from_static("x-not-standard"),
            HeaderName::from_static("via"),
            HeaderName::from_static("x-real-ip"),
        ];
        static SETS: [Replacing; 8] = {
            let mut sets = [Replacing::new(&MIXED, 0); 8];
            let mut which = 0;
            while which < 8 {
                sets[which] = Replacing::new(&MIXED, which as u64);
                which += 1;
            }
            sets
        };
        let names = [
            HeaderName::from_static("x-not-standard"),
            http::header::VIA,
            HeaderName::from_static("x-real-ip"),
            http::header::HOST,
            HeaderName::from_static("x-other"),
        ];
        for (which, set) in SETS.iter().enumerate() {
            let made = WireFields::with_capacity_replacing(8, &MIXED, which as u64);
            let copied = WireFields::with_replacing(8, set);
            assert_eq!(made, copied);
            assert_eq!(made.is_empty(), which == 0);
            for (i, name) in names.iter().enumerate() {
                assert_eq!(
                    copied.replaces(name),
                    i < 3 && which >> i & 1 == 1,
                    "{which} {name}"
                );
            }
        }
        // Bits past the list choose nothing.
        assert_eq!(Replacing::new(&MIXED, 0b1000), Replacing::new(&MIXED, 0));
    }

    #[test]
    fn only_the_chosen_names_are_replaced() {
        // Via only: the map's X-Real-IP stays, in the fold too.
        let mut f = WireFields::with_capacity_replacing(32, &REPLACED, 0b10);
        f.push(&VIA, &HeaderValue::from_static("1.1 me"));
        assert!(f.replaces(&http::header::VIA));
        assert!(!f.replaces(&HeaderName::from_static("x-real-ip")));
        let mut map = HeaderMap::new();
        map.append("via", HeaderValue::from_static("1.1 edge"));
        map.append("x-real-ip", HeaderValue::from_static("10.0.0.9"));
        f.fold_into(&mut map).expect("fold");
        assert_eq!(map["via"], "1.1 me");
        assert_eq!(map["x-real-ip"], "10.0.0.9");

        // A name outside the standard set is replaced too, and only when chosen.
        static MIXED: [HeaderName; 2] = [
            HeaderName::from_static("x-not-standard"),
            HeaderName::from_static("via"),
        ];
        let f = WireFields::with_capacity_replacing(8, &MIXED, 0b01);
        assert!(f.replaces(&HeaderName::from_static("x-not-standard")));
        assert!(!f.replaces(&HeaderName::from_static("x-other")));
        assert!(!f.replaces(&http::header::VIA));
        let f = WireFields::with_capacity(8, &MIXED);
        assert!(f.replaces(&http::header::VIA));
        let f = WireFields::with_capacity_replacing(8, &MIXED, 0b10);
        assert!(!f.replaces(&HeaderName::from_static("x-not-standard")));

        // A standard name set one at a time is replaced, its field written, in the fold too;
        // another name is refused and changes nothing.
        static CONSUMER: HeaderNames = HeaderNames::new_static("x-consumer-id", "X-Consumer-ID");
        static HOST: HeaderNames = HeaderNames::new_static("host", "Host");
        static OTHER: HeaderNames = HeaderNames::new_static("x-not-standard", "X-Not-Standard");
        let mut f = WireFields::with_capacity_replacing(32, &REPLACED, 0);
        assert!(f.is_empty());
        assert!(f.set_standard(&CONSUMER, Some(&HeaderValue::from_static("c1"))));
        assert!(f.set_standard(&HOST, None));
        assert!(!f.set_standard(&OTHER, Some(&HeaderValue::from_static("x"))));
        assert!(!f.is_empty());
        assert_eq!(f.lines(), b"X-Consumer-ID: c1\r\n".as_slice());
        assert!(f.replaces(&HeaderName::from_static("x-consumer-id")));
        assert!(f.replaces(&http::header::HOST));
        assert!(!f.replaces(&HeaderName::from_static("x-not-standard")));
        assert!(!f.replaces(&http::header::VIA));
        let mut map = HeaderMap::new();
        map.append("x-consumer-id", HeaderValue::from_static("spoofed"));
        map.append("host", HeaderValue::from_static("h"));
        map.append("via", HeaderValue::from_static("1.1 edge"));
        f.fold_into(&mut map).expect("fold");
        assert_eq!(
            map.get_all("x-consumer-id").iter().collect::<Vec<_>>(),
            ["c1"]
        );
        assert!(map.get("host").is_none());
        assert_eq!(map["via"], "1.1 edge");
        assert_eq!(map.len(), 2);

        // Nothing chosen and nothing written: empty. Bits past the list choose nothing.
        assert!(WireFields::with_capacity_replacing(8, &REPLACED, 0).is_empty());
        assert!(WireFields::with_capacity_replacing(8, &REPLACED, 0b100).is_empty());
        assert!(!WireFields::with_capacity_replacing(8, &REPLACED, 0b1).is_empty());
    }
}
