// Copyright 2026 Cloudflare, Inc.
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
// Modified by the Skyport authors (2026): see vendor/PATCHES.md for each change.

use crate::*;
use bytes::Bytes;
use http::header;

#[derive(Debug, Clone)]
pub struct CaseHeaderName(Bytes);

impl CaseHeaderName {
    pub fn new(name: String) -> Self {
        CaseHeaderName(name.into())
    }
}

impl CaseHeaderName {
    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }

    pub fn from_slice(buf: &[u8]) -> Self {
        CaseHeaderName(Bytes::copy_from_slice(buf))
    }
}

/// A trait that converts into case-sensitive header names.
pub trait IntoCaseHeaderName {
    fn into_case_header_name(self) -> CaseHeaderName;

    /// The header's name and the case it is written in. By default the name is parsed from the
    /// case, which allocates for a name outside `http`'s standard set; a [`HeaderName`] or a
    /// [`HeaderNames`] made once skips the parse.
    fn into_header_names(self) -> Result<(HeaderName, CaseHeaderName)>
    where
        Self: Sized,
    {
        let case = self.into_case_header_name();
        let name = HeaderName::try_from(case.as_slice())
            .or_err(InvalidHTTPHeader, "invalid header name")?;
        Ok((name, case))
    }

    /// The header's name and, when it is not written in its canonical case (see
    /// [`is_canonical_case`]), the case it is written in. By default the case is compared
    /// with the canonical one; names made once know the answer already.
    fn into_name_and_case(self) -> Result<(HeaderName, Option<CaseHeaderName>)>
    where
        Self: Sized,
    {
        let (name, case) = self.into_header_names()?;
        let canonical = is_canonical_case(&name, case.as_slice());
        Ok((name, (!canonical).then_some(case)))
    }
}

/// A header's name and the case to write it in, made once (at start-up, say) so that
/// inserting the header does not parse or allocate the name again.
#[derive(Debug, Clone)]
pub struct HeaderNames {
    name: HeaderName,
    case: CaseHeaderName,
    /// `case` is each dash-separated word of `name` capitalised (checked once, when made).
    capitalised: bool,
}

impl HeaderNames {
    /// `case` as written on the wire, e.g. `X-Request-Id`.
    pub fn from_static(case: &'static str) -> Result<Self> {
        let name = HeaderName::try_from(case).or_err(InvalidHTTPHeader, "invalid header name")?;
        // The name's bytes are shared from here on: clones of it do not allocate.
        let _ = name.clone();
        Ok(HeaderNames {
            capitalised: is_capitalised(name.as_str().as_bytes(), case.as_bytes()),
            name,
            case: CaseHeaderName(Bytes::from_static(case.as_bytes())),
        })
    }

    /// A name known when compiling: `name` as `http` keeps it (lower case) and `case` as
    /// written on the wire. Panics (when compiling, in a `const` or `static`) if they are not
    /// the same name or `name` is not a valid lower-case header name.
    pub const fn new_static(name: &'static str, case: &'static str) -> Self {
        let (lower, written) = (name.as_bytes(), case.as_bytes());
        assert!(lower.len() == written.len(), "name and case differ");
        let mut i = 0;
        while i < lower.len() {
            assert!(
                lower[i] == written[i].to_ascii_lowercase(),
                "name and case differ"
            );
            i += 1;
        }
        HeaderNames {
            name: HeaderName::from_static(name),
            case: CaseHeaderName(Bytes::from_static(case.as_bytes())),
            capitalised: is_capitalised(lower, written),
        }
    }

    /// The header as written on the wire.
    pub fn case(&self) -> &str {
        // Made from a `&str` (new_static) or a `HeaderName` (from_static): UTF-8.
        std::str::from_utf8(self.case.as_slice()).unwrap_or_default()
    }

    /// The header as written on the wire, as bytes (no UTF-8 check).
    pub(crate) fn case_bytes(&self) -> &[u8] {
        self.case.as_slice()
    }

    /// The (lower-case) header name.
    pub fn name(&self) -> &HeaderName {
        &self.name
    }
}

impl HeaderNames {
    /// Whether `case` is the name's canonical case: known from when the names were made,
    /// unless the name is one of the standard ones with a spelling of their own.
    fn is_canonical(&self) -> bool {
        match titled_header_name_str(&self.name) {
            Some(titled) => titled.as_bytes() == self.case.as_slice(),
            None => self.capitalised,
        }
    }
}

impl IntoCaseHeaderName for HeaderNames {
    fn into_case_header_name(self) -> CaseHeaderName {
        self.case
    }

    fn into_header_names(self) -> Result<(HeaderName, CaseHeaderName)> {
        Ok((self.name, self.case))
    }

    fn into_name_and_case(self) -> Result<(HeaderName, Option<CaseHeaderName>)> {
        let canonical = self.is_canonical();
        Ok((self.name, (!canonical).then_some(self.case)))
    }
}

impl IntoCaseHeaderName for &HeaderNames {
    fn into_case_header_name(self) -> CaseHeaderName {
        self.case.clone()
    }

    fn into_header_names(self) -> Result<(HeaderName, CaseHeaderName)> {
        Ok((self.name.clone(), self.case.clone()))
    }

    fn into_name_and_case(self) -> Result<(HeaderName, Option<CaseHeaderName>)> {
        let case = (!self.is_canonical()).then(|| self.case.clone());
        Ok((self.name.clone(), case))
    }
}

impl IntoCaseHeaderName for CaseHeaderName {
    fn into_case_header_name(self) -> CaseHeaderName {
        self
    }
}

impl IntoCaseHeaderName for String {
    fn into_case_header_name(self) -> CaseHeaderName {
        CaseHeaderName(self.into())
    }
}

impl IntoCaseHeaderName for &'static str {
    fn into_case_header_name(self) -> CaseHeaderName {
        CaseHeaderName(self.into())
    }
}

impl IntoCaseHeaderName for HeaderName {
    fn into_case_header_name(self) -> CaseHeaderName {
        CaseHeaderName(titled_header_name(&self))
    }

    fn into_header_names(self) -> Result<(HeaderName, CaseHeaderName)> {
        let case = CaseHeaderName(titled_header_name(&self));
        Ok((self, case))
    }

    fn into_name_and_case(self) -> Result<(HeaderName, Option<CaseHeaderName>)> {
        let case = header_name_case(&self);
        Ok((self, case))
    }
}

impl IntoCaseHeaderName for &HeaderName {
    fn into_case_header_name(self) -> CaseHeaderName {
        CaseHeaderName(titled_header_name(self))
    }

    fn into_header_names(self) -> Result<(HeaderName, CaseHeaderName)> {
        Ok((self.clone(), CaseHeaderName(titled_header_name(self))))
    }

    fn into_name_and_case(self) -> Result<(HeaderName, Option<CaseHeaderName>)> {
        Ok((self.clone(), header_name_case(self)))
    }
}

/// The case a [`HeaderName`] given without one is written in, when it is not its canonical
/// case: a listed name's usual spelling (`ETag`, `X-Real-IP` ...) is canonical; another name
/// is written as `http` keeps it (lower case), as it always was.
fn header_name_case(name: &HeaderName) -> Option<CaseHeaderName> {
    if titled_header_name_str(name).is_some() {
        return None;
    }
    let lower = name.as_str().as_bytes();
    (!is_capitalised(lower, lower)).then(|| CaseHeaderName(Bytes::copy_from_slice(lower)))
}

impl IntoCaseHeaderName for Bytes {
    fn into_case_header_name(self) -> CaseHeaderName {
        CaseHeaderName(self)
    }
}

/// Whether `case` is the lower-case name `lower` with each dash-separated word capitalised
/// (`X-Forwarded-For`). A `const fn`, so that names known when compiling are checked then.
const fn is_capitalised(lower: &[u8], case: &[u8]) -> bool {
    if lower.len() != case.len() {
        return false;
    }
    let mut start = true;
    let mut i = 0;
    while i < lower.len() {
        let want = if start {
            lower[i].to_ascii_uppercase()
        } else {
            lower[i]
        };
        if case[i] != want {
            return false;
        }
        start = lower[i] == b'-';
        i += 1;
    }
    true
}

/// Whether `case` is the name's canonical case: the usual spelling of a listed name (`ETag`,
/// `TE`, `WWW-Authenticate`, `X-Real-IP`, `X-RateLimit-Limit-Minute` ...), else each
/// dash-separated word capitalised
/// (`X-Forwarded-For`). A name in its canonical case needs no record of how it was written.
pub(crate) fn is_canonical_case(name: &HeaderName, case: &[u8]) -> bool {
    match canonical_standard(name) {
        Some(canonical) => canonical == case,
        None => is_capitalised(name.as_str().as_bytes(), case),
    }
}

/// Writes the name in its canonical case (see [`is_canonical_case`]).
pub(crate) fn put_canonical_case(name: &HeaderName, buf: &mut impl bytes::BufMut) {
    if let Some(canonical) = canonical_standard(name) {
        buf.put_slice(canonical);
        return;
    }
    // Copied in pieces through a small buffer, capitalised there, written a piece at a time.
    let mut piece = [0u8; 64];
    let mut start = true;
    for part in name.as_str().as_bytes().chunks(piece.len()) {
        let out = &mut piece[..part.len()];
        out.copy_from_slice(part);
        for b in out.iter_mut() {
            if start {
                b.make_ascii_uppercase();
            }
            start = *b == b'-';
        }
        buf.put_slice(out);
    }
}

/// The name in its canonical case, as a case name (allocates for a name outside the
/// standard list).
pub(crate) fn canonical_case(name: &HeaderName) -> CaseHeaderName {
    match canonical_standard(name) {
        Some(canonical) => CaseHeaderName(Bytes::from_static(canonical)),
        None => {
            let mut buf = Vec::with_capacity(name.as_str().len());
            put_canonical_case(name, &mut buf);
            CaseHeaderName(buf.into())
        }
    }
}

fn titled_header_name(header_name: &HeaderName) -> Bytes {
    titled_header_name_str(header_name).map_or_else(
        || Bytes::copy_from_slice(header_name.as_str().as_bytes()),
        |s| Bytes::from_static(s.as_bytes()),
    )
}

/// The usual spelling of each listed name (the others: `None`), at the name's standard index:
/// one load per lookup, where matching name after name cost a comparison per listed name.
static TITLED: [Option<&str>; header::STANDARD_HEADER_COUNT] = titled_table();

/// The listed names and their usual spellings.
const LISTED: &[(HeaderName, &str)] = &[
    (header::ACCEPT_RANGES, "Accept-Ranges"),
    (header::AGE, "Age"),
    (header::CACHE_CONTROL, "Cache-Control"),
    (header::CONNECTION, "Connection"),
    (header::CONTENT_TYPE, "Content-Type"),
    (header::CONTENT_ENCODING, "Content-Encoding"),
    (header::CONTENT_LENGTH, "Content-Length"),
    (header::DATE, "Date"),
    (header::TRANSFER_ENCODING, "Transfer-Encoding"),
    (header::HOST, "Host"),
    (header::SERVER, "Server"),
    (header::SET_COOKIE, "Set-Cookie"),
    (header::VIA, "Via"),
    (header::LOCATION, "Location"),
    (header::VARY, "Vary"),
    (header::ETAG, "ETag"),
    (header::LAST_MODIFIED, "Last-Modified"),
    (header::EXPIRES, "Expires"),
    (header::USER_AGENT, "User-Agent"),
    (header::ACCEPT, "Accept"),
    (header::ACCEPT_ENCODING, "Accept-Encoding"),
    (header::AUTHORIZATION, "Authorization"),
    (header::TE, "TE"),
    (header::WWW_AUTHENTICATE, "WWW-Authenticate"),
    // Names whose usual spelling is not each dash-separated word capitalised: `X-Real-IP`
    // as nginx's documentation spells it, and the names Kong adds to requests and answers
    // (standard names in Skyport's copy of `http`, so told apart by their index).
    (header::X_REAL_IP, "X-Real-IP"),
    (header::X_CONSUMER_ID, "X-Consumer-ID"),
    (header::X_CONSUMER_CUSTOM_ID, "X-Consumer-Custom-ID"),
    (header::KONG_REQUEST_ID, "Kong-Request-ID"),
    (header::RATELIMIT_LIMIT, "RateLimit-Limit"),
    (header::RATELIMIT_REMAINING, "RateLimit-Remaining"),
    (header::RATELIMIT_RESET, "RateLimit-Reset"),
    (header::X_RATELIMIT_LIMIT_SECOND, "X-RateLimit-Limit-Second"),
    (header::X_RATELIMIT_LIMIT_MINUTE, "X-RateLimit-Limit-Minute"),
    (header::X_RATELIMIT_LIMIT_HOUR, "X-RateLimit-Limit-Hour"),
    (header::X_RATELIMIT_LIMIT_DAY, "X-RateLimit-Limit-Day"),
    (header::X_RATELIMIT_LIMIT_MONTH, "X-RateLimit-Limit-Month"),
    (header::X_RATELIMIT_LIMIT_YEAR, "X-RateLimit-Limit-Year"),
    (
        header::X_RATELIMIT_REMAINING_SECOND,
        "X-RateLimit-Remaining-Second",
    ),
    (
        header::X_RATELIMIT_REMAINING_MINUTE,
        "X-RateLimit-Remaining-Minute",
    ),
    (
        header::X_RATELIMIT_REMAINING_HOUR,
        "X-RateLimit-Remaining-Hour",
    ),
    (
        header::X_RATELIMIT_REMAINING_DAY,
        "X-RateLimit-Remaining-Day",
    ),
    (
        header::X_RATELIMIT_REMAINING_MONTH,
        "X-RateLimit-Remaining-Month",
    ),
    (
        header::X_RATELIMIT_REMAINING_YEAR,
        "X-RateLimit-Remaining-Year",
    ),
];

const fn titled_table() -> [Option<&'static str>; header::STANDARD_HEADER_COUNT] {
    let mut table = [None; header::STANDARD_HEADER_COUNT];
    let mut i = 0;
    while i < LISTED.len() {
        match LISTED[i].0.standard_index() {
            Some(at) => table[at] = Some(LISTED[i].1),
            None => panic!("a listed name is not a standard name"),
        }
        i += 1;
    }
    table
}

#[inline]
pub(crate) fn titled_header_name_str(header_name: &HeaderName) -> Option<&'static str> {
    TITLED[header_name.standard_index()?]
}

/// Room for the longest standard name.
const LONGEST_STANDARD: usize = 40;

/// A standard name in its canonical case.
struct Spelling {
    bytes: [u8; LONGEST_STANDARD],
    len: u8,
}

/// Each standard name in its canonical case (the listed spelling, else each dash-separated
/// word capitalised), at the name's standard index: written with one copy, compared with
/// one `memcmp`, where capitalising went byte by byte at every written field.
static CANONICAL: [Spelling; header::STANDARD_HEADER_COUNT] = canonical_table();

const fn canonical_table() -> [Spelling; header::STANDARD_HEADER_COUNT] {
    const EMPTY: Spelling = Spelling {
        bytes: [0; LONGEST_STANDARD],
        len: 0,
    };
    let mut table = [EMPTY; header::STANDARD_HEADER_COUNT];
    let mut at = 0;
    while at < header::STANDARD_HEADER_COUNT {
        let lower = header::STANDARD_HEADER_NAMES[at].as_bytes();
        let titled = TITLED[at];
        assert!(
            lower.len() <= LONGEST_STANDARD,
            "a standard name is too long"
        );
        let mut i = 0;
        let mut start = true;
        while i < lower.len() {
            table[at].bytes[i] = match titled {
                Some(t) => t.as_bytes()[i],
                None if start => lower[i].to_ascii_uppercase(),
                None => lower[i],
            };
            start = lower[i] == b'-';
            i += 1;
        }
        table[at].len = lower.len() as u8;
        at += 1;
    }
    table
}

/// A standard name in its canonical case; `None` for another name.
#[inline]
fn canonical_standard(name: &HeaderName) -> Option<&'static [u8]> {
    let spelling = &CANONICAL[name.standard_index()?];
    Some(&spelling.bytes[..spelling.len as usize])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_known_when_compiling() {
        const NAMES: HeaderNames = HeaderNames::new_static("x-consumer-id", "X-Consumer-ID");
        let (name, case) = NAMES.into_header_names().unwrap();
        assert_eq!(name.as_str(), "x-consumer-id");
        assert_eq!(case.as_slice(), b"X-Consumer-ID");
        assert_eq!(NAMES.case(), "X-Consumer-ID");
        const VARY: HeaderNames = HeaderNames::new_static("vary", "Vary");
        assert_eq!(VARY.name(), header::VARY);
    }

    #[test]
    fn every_standard_name_has_its_canonical_spelling() {
        for lower in header::STANDARD_HEADER_NAMES {
            let name = HeaderName::from_static(lower);
            let canonical = canonical_standard(&name).unwrap();
            match titled_header_name_str(&name) {
                Some(listed) => assert_eq!(canonical, listed.as_bytes()),
                None => assert!(is_capitalised(lower.as_bytes(), canonical), "{lower}"),
            }
            assert!(is_canonical_case(&name, canonical));
            let mut written = Vec::new();
            put_canonical_case(&name, &mut written);
            assert_eq!(written, canonical);
        }
        assert_eq!(
            canonical_standard(&header::X_FORWARDED_PROTO).unwrap(),
            b"X-Forwarded-Proto"
        );
        assert_eq!(canonical_standard(&header::TE).unwrap(), b"TE");
        assert_eq!(canonical_standard(&HeaderName::from_static("x-own")), None);
    }

    #[test]
    #[should_panic(expected = "name and case differ")]
    fn header_names_must_agree() {
        let _ = HeaderNames::new_static("x-a", "X-B");
    }

    #[test]
    fn header_names_made_once_carry_both_forms() {
        let names = HeaderNames::from_static("X-Request-Id").unwrap();
        let (name, case) = (&names).into_header_names().unwrap();
        assert_eq!(name.as_str(), "x-request-id");
        assert_eq!(case.as_slice(), b"X-Request-Id");
        assert!(HeaderNames::from_static("bad name").is_err());
        let (name, case) = header::VIA.into_header_names().unwrap();
        assert_eq!((name, case.as_slice()), (header::VIA, &b"Via"[..]));
        let (name, case) = "X-Custom".into_header_names().unwrap();
        assert_eq!(
            (name.as_str(), case.as_slice()),
            ("x-custom", &b"X-Custom"[..])
        );
        assert!("bad name".into_header_names().is_err());
    }

    #[test]
    fn test_case_header_name() {
        assert_eq!("FoO".into_case_header_name().as_slice(), b"FoO");
        assert_eq!("FoO".to_string().into_case_header_name().as_slice(), b"FoO");
        assert_eq!(header::SERVER.into_case_header_name().as_slice(), b"Server");
    }
}
