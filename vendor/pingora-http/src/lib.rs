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

//! HTTP header objects that preserve http header cases
//!
//! Although HTTP header names are supposed to be case-insensitive for compatibility, proxies
//! ideally shouldn't alter the HTTP traffic, especially the headers they don't need to read.
//!
//! This crate provide structs and methods to preserve the headers in order to build a transparent
//! proxy.

#![allow(clippy::new_without_default)]

use bytes::BufMut;
use http::header::{AsHeaderName, HeaderName, HeaderValue};
use http::request::Parts as ReqParts;
use http::response::Parts as RespParts;
use http::uri::Uri;
use pingora_error::{ErrorType::*, OrErr, Result};
use std::borrow::Cow;
use std::ops::Deref;

pub use http::method::Method;
pub use http::status::StatusCode;
pub use http::version::Version;
pub use http::HeaderMap as HMap;

pub mod authority;
use authority::{raw_target_authority, RawTargetAuthority};

mod case_header_name;
use case_header_name::CaseHeaderName;
pub use case_header_name::{HeaderNames, IntoCaseHeaderName};

mod wire_fields;
pub use wire_fields::{Replacing, WireFields};

pub mod prelude {
    pub use crate::RequestHeader;
    pub use crate::ResponseHeader;
}

/* the written case of the header names not in their canonical case (see
`case_header_name::is_canonical_case`): a name the map holds has one case per value, in the
order of its values in the map of header values; any other name is written in its canonical
case. Most names on the wire (`Host`, `Content-Type`, `X-Forwarded-For` ...) are canonical,
so the map is usually empty and costs neither an allocation nor a lookup.
HMap({
    "foo": ["Foo", "foO", "FoO"]
})
*/
#[derive(Debug, Clone, Default)]
struct CaseMap {
    names: Cases,
    /// One bit per recorded name (see [`CaseMap::bit`]): a name whose bit is clear is not
    /// recorded, found without hashing it. Bits of removed names may stay set.
    filter: u64,
}

/// Recorded names up to which the cases are kept in a short list: searching a few entries in
/// order costs less than hashing a name, and one allocation less than a map. More names (a
/// client writing every name in lower case, say) move to a hashed map, so a long header
/// costs no more per field than before.
const FEW_CASES: usize = 16;

#[derive(Debug, Clone)]
enum Cases {
    /// Each recorded value's name and case, a name's cases in the order of its values.
    Few(Vec<(HeaderName, CaseHeaderName)>),
    /// The same, by name.
    Many(HMap<CaseHeaderName>),
}

impl Default for Cases {
    fn default() -> Self {
        Cases::Few(Vec::new())
    }
}

impl CaseMap {
    /// The filter bit of `name`, from its length and last byte.
    fn bit(name: &HeaderName) -> u64 {
        let name = name.as_str().as_bytes();
        let last = usize::from(name.last().copied().unwrap_or(0));
        1 << ((name.len() + 7 * last) & 63)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        match &self.names {
            Cases::Few(v) => v.len(),
            Cases::Many(m) => m.len(),
        }
    }

    fn is_empty(&self) -> bool {
        match &self.names {
            Cases::Few(v) => v.is_empty(),
            Cases::Many(m) => m.is_empty(),
        }
    }

    /// Whether `name` has its cases recorded.
    fn holds(&self, name: &HeaderName) -> bool {
        // An empty map (the usual case) answers without the name's bit being worked out.
        self.filter != 0
            && self.filter & Self::bit(name) != 0
            && match &self.names {
                Cases::Few(v) => v.iter().any(|(n, _)| n == name),
                Cases::Many(m) => m.contains_key(name),
            }
    }

    /// The recorded cases of `name`, in the order of its values.
    fn cases<'a>(&'a self, name: &'a HeaderName) -> impl Iterator<Item = &'a CaseHeaderName> {
        let (few, many) = match &self.names {
            Cases::Few(v) => (Some(v), None),
            Cases::Many(m) => (None, Some(m)),
        };
        let few = few
            .into_iter()
            .flatten()
            .filter(move |(n, _)| n == name)
            .map(|(_, c)| c);
        let many = many.into_iter().flat_map(move |m| m.get_all(name).iter());
        few.chain(many)
    }

    fn append(&mut self, name: &HeaderName, case: CaseHeaderName) -> Result<()> {
        self.filter |= Self::bit(name);
        if let Cases::Few(v) = &mut self.names {
            if v.len() < FEW_CASES {
                if v.capacity() == 0 {
                    v.reserve_exact(FEW_CASES / 2);
                }
                v.push((name.clone(), case));
                return Ok(());
            }
            // Too many for a list: the same entries, by name.
            let mut m = HMap::with_capacity(FEW_CASES * 2);
            for (n, c) in v.drain(..) {
                m.try_append(n, c)
                    .or_err(InvalidHTTPHeader, "header name map size overflows MAX_SIZE")?;
            }
            self.names = Cases::Many(m);
        }
        if let Cases::Many(m) = &mut self.names {
            m.try_append(name.clone(), case)
                .or_err(InvalidHTTPHeader, "header name map size overflows MAX_SIZE")?;
        }
        Ok(())
    }

    fn insert(&mut self, name: &HeaderName, case: CaseHeaderName) -> Result<()> {
        match &mut self.names {
            Cases::Few(v) => {
                v.retain(|(n, _)| n != name);
                self.append(name, case)
            }
            Cases::Many(m) => {
                self.filter |= Self::bit(name);
                m.try_insert(name.clone(), case)
                    .or_err(InvalidHTTPHeader, "header name map size overflows MAX_SIZE")?;
                Ok(())
            }
        }
    }

    /// Forgets the cases of `name`.
    fn remove_name(&mut self, name: &HeaderName) {
        match &mut self.names {
            Cases::Few(v) => v.retain(|(n, _)| n != name),
            Cases::Many(m) => {
                m.remove(name);
            }
        }
        if self.is_empty() {
            self.filter = 0;
        }
    }

    /// Forgets the cases of `name`, just removed from `value_map` (a name given as text is
    /// found by the map; the list keeps only the names `value_map` still has).
    fn remove<K: AsHeaderName, T>(&mut self, name: K, value_map: &HMap<T>) {
        match &mut self.names {
            Cases::Few(v) => v.retain(|(n, _)| value_map.contains_key(n)),
            Cases::Many(m) => {
                m.remove(name);
            }
        }
        if self.is_empty() {
            self.filter = 0;
        }
    }
}

pub enum HeaderNameVariant<'a> {
    Case(&'a CaseHeaderName),
    Titled(&'a str),
}

/// The HTTP request header type.
///
/// This type is similar to [http::request::Parts] but preserves header name case.
/// It also preserves request path even if it is not UTF-8.
///
/// [RequestHeader] implements [Deref] for [http::request::Parts] so it can be used as it in most
/// places. Mutable access to the underlying parts is intentionally not provided because header and
/// URI mutations must use methods on [RequestHeader] to preserve its internal state.
///
/// ```compile_fail
/// use pingora_http::RequestHeader;
///
/// let mut request = RequestHeader::build("GET", b"/", None).unwrap();
/// request.headers.remove("user-agent");
/// ```
#[derive(Debug)]
pub struct RequestHeader {
    base: ReqParts,
    header_name_map: Option<CaseMap>,
    raw_target: RawTarget,
    // whether we send END_STREAM with HEADERS for h2 requests
    send_end_stream: bool,
    // fields a proxy added, in their wire form (Skyport patch 34)
    wire_fields: WireFields,
}

/// How a request-target is stored, and how [`RequestHeader::raw_path`] recovers it.
///
/// Whether the target round-trips through the URI and whether it is valid UTF-8 are two
/// separate questions with only three valid combinations, so they are one value rather
/// than two fields that could disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RawTarget {
    /// The URI round-trips the target, so no separate copy is kept: origin-form,
    /// asterisk-form and query-only targets come back out of it byte-identical, and the
    /// empty target, having no bytes to reproduce, resolves to "/".
    FromUri,
    /// The target is kept verbatim for the wire rather than recovered from the URI, because
    /// the URI is not guaranteed to reproduce it: absolute-form contributes only its path
    /// component. Covers every non-origin-form target, including the authority-form CONNECT
    /// target and opaque or unclassifiable ones, whose bytes the URI happens to hold whole.
    Verbatim(Box<[u8]>),
    /// As [`Self::Verbatim`], but the target is not valid UTF-8, so the URI holds a lossy
    /// rendering of it and [`RequestHeader::raw_path_is_utf8`] reports false.
    Lossy(Box<[u8]>),
}

impl RawTarget {
    /// The stored bytes, or `None` when the URI is the source of truth.
    fn bytes(&self) -> Option<&[u8]> {
        match self {
            Self::FromUri => None,
            Self::Verbatim(target) | Self::Lossy(target) => Some(target.as_ref()),
        }
    }

    /// Whether the target is valid UTF-8, i.e. the URI is not a lossy rendering of it.
    ///
    /// Matched exhaustively: a new variant must state its encoding rather than inherit a
    /// default, because HTTP/2 egress refuses to forward a target this reports as lossy.
    fn is_utf8(&self) -> bool {
        match self {
            Self::FromUri | Self::Verbatim(_) => true,
            Self::Lossy(_) => false,
        }
    }
}

impl AsRef<ReqParts> for RequestHeader {
    fn as_ref(&self) -> &ReqParts {
        &self.base
    }
}

impl Deref for RequestHeader {
    type Target = ReqParts;

    fn deref(&self) -> &Self::Target {
        &self.base
    }
}

impl RequestHeader {
    fn new_no_case(size_hint: Option<usize>) -> Self {
        let mut base = empty_req_parts();
        base.headers.reserve(http_header_map_upper_bound(size_hint));
        RequestHeader {
            base,
            header_name_map: None,
            raw_target: RawTarget::FromUri,
            send_end_stream: true,
            wire_fields: WireFields::default(),
        }
    }

    /// Create a new [RequestHeader] with the given method and path.
    ///
    /// The `path` can be non UTF-8.
    pub fn build(
        method: impl TryInto<Method>,
        path: &[u8],
        size_hint: Option<usize>,
    ) -> Result<Self> {
        let mut req = Self::build_no_case(method, path, size_hint)?;
        // Empty until a name comes in a case other than its canonical one: no allocation.
        req.header_name_map = Some(CaseMap::default());
        Ok(req)
    }

    /// Create a new [RequestHeader] with the given method and path without preserving header case.
    ///
    /// A [RequestHeader] created from this type is more space efficient than those from [Self::build()].
    ///
    /// Use this method if reading from or writing to HTTP/2 sessions where header case doesn't matter anyway.
    pub fn build_no_case(
        method: impl TryInto<Method>,
        path: &[u8],
        size_hint: Option<usize>,
    ) -> Result<Self> {
        let mut req = Self::new_no_case(size_hint);
        req.base.method = method
            .try_into()
            .explain_err(InvalidHTTPHeader, |_| "invalid method")?;
        req.set_raw_path(path)?;
        Ok(req)
    }

    /// Append the header name and value to `self`.
    ///
    /// If there are already some headers under the same name, a new value will be added without
    /// any others being removed.
    pub fn append_header(
        &mut self,
        name: impl IntoCaseHeaderName,
        value: impl TryInto<HeaderValue>,
    ) -> Result<bool> {
        let header_value = value
            .try_into()
            .explain_err(InvalidHTTPHeader, |_| "invalid value while append")?;
        append_header_value(
            self.header_name_map.as_mut(),
            &mut self.base.headers,
            name,
            header_value,
        )
    }

    /// Insert the header name and value to `self`.
    ///
    /// Different from [Self::append_header()], this method will replace all other existing headers
    /// under the same name (case-insensitive).
    pub fn insert_header(
        &mut self,
        name: impl IntoCaseHeaderName,
        value: impl TryInto<HeaderValue>,
    ) -> Result<()> {
        let header_value = value
            .try_into()
            .explain_err(InvalidHTTPHeader, |_| "invalid value while insert")?;
        insert_header_value(
            self.header_name_map.as_mut(),
            &mut self.base.headers,
            name,
            header_value,
        )
    }

    /// Skyport patch 45: sets the value of a field the request carries once, in its usual case
    /// (no case recorded for it), in place: what [Self::insert_header] would do, without
    /// reserving a slot first (`http`'s insert does, so an exactly full map grows even when
    /// the name is already there) and without touching the case map. `false`, changing
    /// nothing, when the field is absent, repeated, or has a recorded case.
    pub fn replace_single_value(&mut self, name: &HeaderName, value: &HeaderValue) -> bool {
        if self.header_name_map.as_ref().is_some_and(|m| m.holds(name)) {
            return false;
        }
        let mut values = self.base.headers.get_all(name).iter();
        if values.next().is_none() || values.next().is_some() {
            return false;
        }
        match self.base.headers.get_mut(name) {
            Some(v) => {
                *v = value.clone();
                true
            }
            None => false,
        }
    }

    /// Makes room for `additional` more headers in the header's value map, so that adding them
    /// does not grow it one step at a time (the map of written cases is usually empty and is
    /// left so).
    pub fn reserve(&mut self, additional: usize) {
        reserve(&mut self.base.headers, additional);
    }

    /// Remove all headers under the name
    pub fn remove_header<'a, N: ?Sized>(&mut self, name: &'a N) -> Option<HeaderValue>
    where
        &'a N: 'a + AsHeaderName,
    {
        remove_header(self.header_name_map.as_mut(), &mut self.base.headers, name)
    }

    /// Write the header to the `buf` in HTTP/1.1 wire format.
    ///
    /// The header case will be preserved.
    ///
    /// The [WireFields] set on the request come after the map's fields, and replace those of
    /// the names they list.
    pub fn header_to_h1_wire(&self, buf: &mut impl BufMut) {
        if self.wire_fields.is_empty() {
            header_to_h1_wire(self.header_name_map.as_ref(), &self.base.headers, None, buf)
        } else {
            header_to_h1_wire(
                self.header_name_map.as_ref(),
                &self.base.headers,
                Some(&self.wire_fields),
                buf,
            );
            buf.put_slice(self.wire_fields.lines());
        }
    }

    /// Sets fields written after the map's in the request's HTTP/1 form, replacing the map's
    /// fields of the names they list (Skyport patch 34); replaces any set before. They are
    /// not in [Self::headers], nor seen by [Self::map] or [Self::case_header_iter]:
    /// [Self::as_owned_parts] and the conversion into [ReqParts] fold them in.
    pub fn set_wire_fields(&mut self, fields: WireFields) {
        self.wire_fields = fields;
    }

    /// The fields set with [Self::set_wire_fields].
    pub fn wire_fields(&self) -> &WireFields {
        &self.wire_fields
    }

    /// If case sensitivity is enabled, returns an iterator to iterate over case-sensitive header names and values.
    /// Otherwise returns an empty iterator.
    ///
    /// Headers of the same name are visited in insertion order.
    pub fn case_header_iter(&self) -> impl Iterator<Item = (CaseHeaderName, &HeaderValue)> + '_ {
        case_header_iter(self.header_name_map.as_ref(), &self.base.headers)
    }

    /// Returns true if the request has case-sensitive headers.
    pub fn has_case(&self) -> bool {
        self.header_name_map.is_some()
    }

    pub fn map<F: FnMut(HeaderNameVariant, &HeaderValue) -> Result<()>>(
        &self,
        mut f: F,
    ) -> Result<()> {
        map_fields(self.header_name_map.as_ref(), &self.base.headers, &mut f)
    }

    /// Return mutable access to the request extensions.
    pub fn extensions_mut(&mut self) -> &mut http::Extensions {
        &mut self.base.extensions
    }

    /// Set the request method
    pub fn set_method(&mut self, method: Method) {
        self.base.method = method;
    }

    /// Set the request URI
    pub fn set_uri(&mut self, uri: http::Uri) {
        self.base.uri = uri;
        // The Uri is now the sole source of the target, so drop any stored bytes: they
        // would otherwise be used when serializing.
        self.raw_target = RawTarget::FromUri;
    }

    /// Set the request target directly via raw bytes.
    ///
    /// Generally prefer [`Self::set_uri()`] to modify the header's URI if able.
    ///
    /// This API is to allow supporting non UTF-8 cases, and request-targets that are not
    /// in origin-form ([RFC 9112 section 3.2]).
    ///
    /// Origin-form and asterisk-form targets round-trip through the URI. Absolute-form and
    /// the authority-form CONNECT target do not, so they are additionally kept verbatim for
    /// [`Self::raw_path()`]. For those two forms the URI carries only the path component,
    /// which means [`http::Uri::path()`] returns a path rather than a whole URL and
    /// [`http::Uri::authority()`] is left unset.
    ///
    /// Any fragment is dropped: it is not part of the request-target and must not be sent
    /// upstream.
    ///
    /// [RFC 9112 section 3.2]: https://www.rfc-editor.org/rfc/rfc9112.html#section-3.2
    pub fn set_raw_path(&mut self, path: &[u8]) -> Result<()> {
        // Everything is computed before anything is stored: a rejected target must
        // leave the existing one intact.
        let parsed = parse_request_target(path)?;
        self.base.uri = parsed.uri;
        // Origin-form and asterisk-form store RawTarget::FromUri, so a reused header
        // (e.g. a CONNECT mutated into a normal request) cannot serialize a stale
        // target.
        self.raw_target = parsed.raw_target;
        Ok(())
    }

    /// Set whether we send an END_STREAM on H2 request HEADERS if body is empty.
    pub fn set_send_end_stream(&mut self, send_end_stream: bool) {
        self.send_end_stream = send_end_stream;
    }

    /// Returns if we support sending an END_STREAM on H2 request HEADERS if body is empty,
    /// returns None if not H2.
    pub fn send_end_stream(&self) -> Option<bool> {
        if self.base.version != Version::HTTP_2 {
            return None;
        }
        Some(self.send_end_stream)
    }

    /// Return the request target in its raw format, as it should appear on the wire.
    ///
    /// For origin-form and asterisk-form this is the path and query. For absolute-form and
    /// the authority-form CONNECT target it is the whole target as received, less any
    /// fragment.
    ///
    /// Non-UTF8 is supported; [`Self::raw_path_is_utf8()`] reports whether these bytes are
    /// valid UTF-8 or were replaced lossily in the URI.
    pub fn raw_path(&self) -> &[u8] {
        self.raw_target.bytes().unwrap_or_else(|| {
            self.base
                .uri
                .path_and_query()
                .map(|path| path.as_str().as_bytes())
                .or_else(|| {
                    self.base
                        .uri
                        .authority()
                        .map(|authority| authority.as_str().as_bytes())
                })
                .unwrap_or_default()
        })
    }

    /// Whether [`Self::raw_path`] is valid UTF-8 without lossy replacement.
    pub fn raw_path_is_utf8(&self) -> bool {
        self.raw_target.is_utf8()
    }

    /// Return the file extension of the path
    pub fn uri_file_extension(&self) -> Option<&str> {
        // get everything after the last '.' in path
        let (_, ext) = self
            .uri
            .path_and_query()
            .and_then(|pq| pq.path().rsplit_once('.'))?;
        Some(ext)
    }

    /// Set http version
    pub fn set_version(&mut self, version: Version) {
        self.base.version = version;
    }

    /// Clone `self` into [http::request::Parts].
    ///
    /// [ReqParts] has nowhere to keep a request-target that does not round-trip through the
    /// URI, so an absolute-form or CONNECT target does not survive the conversion:
    /// rebuilding a [RequestHeader] from the result serializes the URI's origin-form path
    /// instead of the original bytes. [Clone] keeps it; [Self::set_raw_path()] restores it.
    ///
    /// The [WireFields] set on the request are folded into the copy's map.
    pub fn as_owned_parts(&self) -> ReqParts {
        let mut parts = clone_req_parts(&self.base, 0);
        if !self.wire_fields.is_empty() {
            // Made from checked names and values: the fold does not fail.
            let _ = self.wire_fields.fold_into(&mut parts.headers);
        }
        parts
    }
}

impl RequestHeader {
    /// A clone whose value map has room for `room` more fields without growing (Skyport patch
    /// 33). A proxy's upstream copy is made this way with the room its
    /// `ProxyHttp::upstream_request_room` names: the fields it adds (forwarding fields, Via, a
    /// request id ...) would otherwise grow the map on every request. [Clone] makes no room.
    pub fn clone_with_room(&self, room: usize) -> Self {
        Self {
            base: clone_req_parts(&self.base, room),
            header_name_map: self.header_name_map.clone(),
            raw_target: self.raw_target.clone(),
            send_end_stream: self.send_end_stream,
            wire_fields: self.wire_fields.clone(),
        }
    }
}

impl Clone for RequestHeader {
    fn clone(&self) -> Self {
        self.clone_with_room(0)
    }
}

/// Header case is not recovered, because [ReqParts] keeps none, and neither is a
/// request-target that does not round-trip through the URI: the target is taken from the
/// URI rather than the absolute-form or CONNECT bytes a [RequestHeader] preserves. Set one
/// with [Self::set_raw_path()].
impl From<ReqParts> for RequestHeader {
    fn from(parts: ReqParts) -> RequestHeader {
        Self {
            base: parts,
            header_name_map: None,
            // The Uri is the only target available here, so it is the one that serializes.
            raw_target: RawTarget::FromUri,
            send_end_stream: true,
            wire_fields: WireFields::default(),
        }
    }
}

impl From<RequestHeader> for ReqParts {
    /// The [WireFields] set on the request are folded into the map.
    fn from(req: RequestHeader) -> ReqParts {
        let mut parts = req.base;
        if !req.wire_fields.is_empty() {
            // Made from checked names and values: the fold does not fail.
            let _ = req.wire_fields.fold_into(&mut parts.headers);
        }
        parts
    }
}

/// The HTTP response header type.
///
/// This type is similar to [http::response::Parts] but preserves header name case.
/// [ResponseHeader] implements [Deref] for [http::response::Parts] so it can be used as it in most
/// places. Mutable access to the underlying parts is intentionally not provided because header
/// mutations must use methods on [ResponseHeader] to preserve its internal state.
///
/// ```compile_fail
/// use pingora_http::ResponseHeader;
///
/// let mut response = ResponseHeader::build(200, None).unwrap();
/// response.headers.remove("server");
/// ```
#[derive(Debug)]
pub struct ResponseHeader {
    base: RespParts,
    // an ordered header map to store the original case of each header name
    header_name_map: Option<CaseMap>,
    // the reason phrase of the response, if unset, a default one will be used
    reason_phrase: Option<String>,
    // fields a proxy added, in their wire form (Skyport patch 35)
    wire_fields: WireFields,
}

impl AsRef<RespParts> for ResponseHeader {
    fn as_ref(&self) -> &RespParts {
        &self.base
    }
}

impl Deref for ResponseHeader {
    type Target = RespParts;

    fn deref(&self) -> &Self::Target {
        &self.base
    }
}

impl Clone for ResponseHeader {
    fn clone(&self) -> Self {
        Self {
            base: clone_resp_parts(&self.base),
            header_name_map: self.header_name_map.clone(),
            reason_phrase: self.reason_phrase.clone(),
            wire_fields: self.wire_fields.clone(),
        }
    }
}

// The `ResponseHeader` will be the no case variant, because `RespParts` keeps no header case
impl From<RespParts> for ResponseHeader {
    fn from(parts: RespParts) -> ResponseHeader {
        Self {
            base: parts,
            header_name_map: None,
            reason_phrase: None,
            wire_fields: WireFields::default(),
        }
    }
}

impl From<ResponseHeader> for RespParts {
    /// The [WireFields] set on the response are folded into the map.
    fn from(resp: ResponseHeader) -> RespParts {
        let mut parts = resp.base;
        if !resp.wire_fields.is_empty() {
            // Made from checked names and values: the fold does not fail.
            let _ = resp.wire_fields.fold_into(&mut parts.headers);
        }
        parts
    }
}

impl From<Box<ResponseHeader>> for Box<RespParts> {
    /// The [WireFields] set on the response are folded into the map.
    fn from(resp: Box<ResponseHeader>) -> Box<RespParts> {
        Box::new(RespParts::from(*resp))
    }
}

impl ResponseHeader {
    fn new(size_hint: Option<usize>) -> Self {
        let mut resp_header = Self::new_no_case(size_hint);
        // Empty until a name comes in a case other than its canonical one: no allocation.
        resp_header.header_name_map = Some(CaseMap::default());
        resp_header
    }

    fn new_no_case(size_hint: Option<usize>) -> Self {
        let mut base = empty_resp_parts();
        base.headers.reserve(http_header_map_upper_bound(size_hint));
        ResponseHeader {
            base,
            header_name_map: None,
            reason_phrase: None,
            wire_fields: WireFields::default(),
        }
    }

    /// Create a new [ResponseHeader] with the given status code.
    pub fn build(code: impl TryInto<StatusCode>, size_hint: Option<usize>) -> Result<Self> {
        let mut resp = Self::new(size_hint);
        resp.base.status = code
            .try_into()
            .explain_err(InvalidHTTPHeader, |_| "invalid status")?;
        Ok(resp)
    }

    /// Create a new [ResponseHeader] with the given status code without preserving header case.
    ///
    /// A [ResponseHeader] created from this type is more space efficient than those from [Self::build()].
    ///
    /// Use this method if reading from or writing to HTTP/2 sessions where header case doesn't matter anyway.
    pub fn build_no_case(code: impl TryInto<StatusCode>, size_hint: Option<usize>) -> Result<Self> {
        let mut resp = Self::new_no_case(size_hint);
        resp.base.status = code
            .try_into()
            .explain_err(InvalidHTTPHeader, |_| "invalid status")?;
        Ok(resp)
    }

    /// Append the header name and value to `self`.
    ///
    /// If there are already some headers under the same name, a new value will be added without
    /// any others being removed.
    pub fn append_header(
        &mut self,
        name: impl IntoCaseHeaderName,
        value: impl TryInto<HeaderValue>,
    ) -> Result<bool> {
        let header_value = value
            .try_into()
            .explain_err(InvalidHTTPHeader, |_| "invalid value while append")?;
        append_header_value(
            self.header_name_map.as_mut(),
            &mut self.base.headers,
            name,
            header_value,
        )
    }

    /// Insert the header name and value to `self`.
    ///
    /// Different from [Self::append_header()], this method will replace all other existing headers
    /// under the same name (case insensitive).
    pub fn insert_header(
        &mut self,
        name: impl IntoCaseHeaderName,
        value: impl TryInto<HeaderValue>,
    ) -> Result<()> {
        let header_value = value
            .try_into()
            .explain_err(InvalidHTTPHeader, |_| "invalid value while insert")?;
        insert_header_value(
            self.header_name_map.as_mut(),
            &mut self.base.headers,
            name,
            header_value,
        )
    }

    /// Makes room for `additional` more headers in the header's value map, so that adding them
    /// does not grow it one step at a time (the map of written cases is usually empty and is
    /// left so).
    pub fn reserve(&mut self, additional: usize) {
        reserve(&mut self.base.headers, additional);
    }

    /// Remove all headers under the name
    pub fn remove_header<'a, N: ?Sized>(&mut self, name: &'a N) -> Option<HeaderValue>
    where
        &'a N: 'a + AsHeaderName,
    {
        remove_header(self.header_name_map.as_mut(), &mut self.base.headers, name)
    }

    /// Write the header to the `buf` in HTTP/1.1 wire format.
    ///
    /// The header case will be preserved.
    ///
    /// The [WireFields] set on the response come after the map's fields, and replace those of
    /// the names they list.
    pub fn header_to_h1_wire(&self, buf: &mut impl BufMut) {
        if self.wire_fields.is_empty() {
            header_to_h1_wire(self.header_name_map.as_ref(), &self.base.headers, None, buf)
        } else {
            header_to_h1_wire(
                self.header_name_map.as_ref(),
                &self.base.headers,
                Some(&self.wire_fields),
                buf,
            );
            buf.put_slice(self.wire_fields.lines());
        }
    }

    /// Sets fields written after the map's in the response's HTTP/1 form, replacing the map's
    /// fields of the names they list (Skyport patch 35); replaces any set before. They are
    /// not in [Self::headers], nor seen by [Self::map] or [Self::case_header_iter]:
    /// [Self::as_owned_parts] and the conversion into [RespParts] fold them in.
    pub fn set_wire_fields(&mut self, fields: WireFields) {
        self.wire_fields = fields;
    }

    /// The fields set with [Self::set_wire_fields].
    pub fn wire_fields(&self) -> &WireFields {
        &self.wire_fields
    }

    /// If case sensitivity is enabled, returns an iterator to iterate over case-sensitive header names and values.
    /// Otherwise returns an empty iterator.
    ///
    /// Headers of the same name are visited in insertion order.
    pub fn case_header_iter(&self) -> impl Iterator<Item = (CaseHeaderName, &HeaderValue)> + '_ {
        case_header_iter(self.header_name_map.as_ref(), &self.base.headers)
    }

    /// Returns true if the response has case-sensitive headers.
    pub fn has_case(&self) -> bool {
        self.header_name_map.is_some()
    }

    pub fn map<F: FnMut(HeaderNameVariant, &HeaderValue) -> Result<()>>(
        &self,
        mut f: F,
    ) -> Result<()> {
        map_fields(self.header_name_map.as_ref(), &self.base.headers, &mut f)
    }

    /// Return mutable access to the response extensions.
    pub fn extensions_mut(&mut self) -> &mut http::Extensions {
        &mut self.base.extensions
    }

    /// Set the status code
    pub fn set_status(&mut self, status: impl TryInto<StatusCode>) -> Result<()> {
        self.base.status = status
            .try_into()
            .explain_err(InvalidHTTPHeader, |_| "invalid status")?;
        Ok(())
    }

    /// Set the HTTP version
    pub fn set_version(&mut self, version: Version) {
        self.base.version = version
    }

    /// Set the HTTP reason phase. If `None`, a default reason phase will be used
    pub fn set_reason_phrase(&mut self, reason_phrase: Option<&str>) -> Result<()> {
        // No need to allocate memory to store the phrase if it is the default one.
        if reason_phrase == self.base.status.canonical_reason() {
            self.reason_phrase = None;
            return Ok(());
        }

        // TODO: validate it "*( HTAB / SP / VCHAR / obs-text )"
        self.reason_phrase = reason_phrase.map(str::to_string);
        Ok(())
    }

    /// Get the HTTP reason phase. If [Self::set_reason_phrase()] is never called
    /// or set to `None`, a default reason phase will be used
    pub fn get_reason_phrase(&self) -> Option<&str> {
        self.reason_phrase
            .as_deref()
            .or_else(|| self.base.status.canonical_reason())
    }

    /// Clone `self` into [http::response::Parts].
    ///
    /// The [WireFields] set on the response are folded into the copy's map.
    pub fn as_owned_parts(&self) -> RespParts {
        let mut parts = clone_resp_parts(&self.base);
        if !self.wire_fields.is_empty() {
            // Made from checked names and values: the fold does not fail.
            let _ = self.wire_fields.fold_into(&mut parts.headers);
        }
        parts
    }

    /// Helper function to set the HTTP content length on the response header.
    pub fn set_content_length(&mut self, len: usize) -> Result<()> {
        self.insert_header(http::header::CONTENT_LENGTH, len)
    }
}

/// Build a [Uri] carrying only a path-and-query component. `target` is the original
/// request-target, used for error context.
fn path_and_query_uri(path_and_query: &str, target: &str) -> Result<Uri> {
    Uri::builder()
        .path_and_query(path_and_query)
        .build()
        .explain_err(InvalidHTTPHeader, |_| format!("invalid uri {target}"))
}

/// A request-target parsed into the pieces a [RequestHeader] stores.
struct ParsedRequestTarget {
    /// The [Uri] to store, carrying at most a path-and-query component.
    uri: Uri,
    /// How the target is recovered for the wire.
    raw_target: RawTarget,
}

/// Parse a request-target (RFC 9112 §3.2) into the pieces to store on the header.
fn parse_request_target(target: &[u8]) -> Result<ParsedRequestTarget> {
    // A fragment is not part of the request-target (§3.2) and is separated from the URI
    // before dereference (RFC 3986 §3.5), so it must not reach the upstream request-line.
    // `#` is ASCII, so stripping it here rather than after the UTF-8 check applies the
    // same rule to targets that are not valid UTF-8, which are forwarded verbatim. Both
    // authority classifiers terminate at `#` as well, so dropping it cannot change the
    // authority they reconcile against `Host`.
    let target = match target.iter().position(|&byte| byte == b'#') {
        Some(fragment_start) => &target[..fragment_start],
        None => target,
    };

    // Forms the Uri round-trips on its own, so they need no separate copy: origin-form
    // (§3.2.1), asterisk-form (§3.2.4) and query-only targets all come back out of the
    // Uri byte-identical, so anything reaching the wire from them is unchanged. A target
    // the fragment strip left empty is the one exception: it has no bytes to reproduce,
    // and path_and_query() renders it as "/".
    if target.is_empty() || matches!(target.first(), Some(b'/' | b'?')) || target == b"*" {
        return Ok(match std::str::from_utf8(target) {
            Ok(target) => ParsedRequestTarget {
                uri: path_and_query_uri(target, target)?,
                raw_target: RawTarget::FromUri,
            },
            // Put a valid UTF-8 rendering into the Uri for read-only access, and keep the
            // original bytes for the wire.
            Err(_) => {
                let lossy = String::from_utf8_lossy(target);
                ParsedRequestTarget {
                    uri: path_and_query_uri(&lossy, &lossy)?,
                    raw_target: RawTarget::Lossy(target.into()),
                }
            }
        });
    }

    // Absolute-form (§3.2.2) and the authority-form CONNECT target (§3.2.3) are kept
    // verbatim for raw_path(). Which bytes reach the Uri depends on the form: an
    // absolute-form target contributes only its path component, so callers reading
    // uri.path() see a path rather than a whole URL, while a target that carries no
    // absolute-form authority has no such component to isolate and reaches the Uri whole.
    //
    // Scheme and authority are deliberately left off the Uri. The proxy layer
    // reconciles the target's authority against `Host` by parsing these raw bytes;
    // populating uri.authority() here would send that reconciliation down its URI
    // branch instead, rewriting the target on egress.
    //
    // For absolute-form, the authority boundary comes from the same classifier the
    // proxy layer reconciles with, so the path extracted here cannot disagree with the
    // authority validated there. A second parser with its own idea of where the
    // authority ends would let targets like `foo:bar://host/admin` yield a path that
    // was never validated.
    // from_utf8_lossy allocates only to substitute replacement characters, so it borrows
    // exactly when the target is already valid UTF-8.
    let lossy_target = String::from_utf8_lossy(target);
    let uri = match raw_target_authority(target) {
        RawTargetAuthority::Absolute { path_and_query, .. } => {
            // The classifier splits on ASCII delimiters only, so this is a suffix of the
            // target and is lossy exactly when the target is.
            let path_and_query = String::from_utf8_lossy(path_and_query);
            match path_and_query.as_ref() {
                "" => Uri::default(),
                // "http://host?q=1" has no path, but origin-form requires at least "/"
                // (§3.2.1), so anchor the component to the root.
                pq if !pq.starts_with('/') => path_and_query_uri(&format!("/{pq}"), &lossy_target)?,
                pq => path_and_query_uri(pq, &lossy_target)?,
            }
        }
        // No absolute-form authority: authority-form CONNECT (§3.2.3), opaque custom
        // schemes, and ambiguous targets. Storing these as path-and-query depends on how
        // permissive the linked http crate is. Rejection prevents header construction,
        // including every CONNECT, which has no other target form.
        //
        // Anchor the Uri to the root. `raw_target` preserves the bytes for the wire, while
        // rooting prevents an unvalidated target fragment from becoming a path; see the
        // security note above and the `://` cases in
        // test_unclassifiable_targets_are_anchored_to_the_root.
        RawTargetAuthority::None | RawTargetAuthority::AmbiguousAuthority => Uri::default(),
    };
    Ok(ParsedRequestTarget {
        uri,
        raw_target: match lossy_target {
            Cow::Borrowed(_) => RawTarget::Verbatim(target.into()),
            Cow::Owned(_) => RawTarget::Lossy(target.into()),
        },
    })
}

/// Empty request parts (GET, `/`, HTTP/1.1, no fields), made directly: `http`'s builder moves
/// the parts through a `Result` at every step.
fn empty_req_parts() -> ReqParts {
    http::Request::new(()).into_parts().0
}

/// Empty response parts (200, HTTP/1.1, no fields), made directly as [empty_req_parts].
fn empty_resp_parts() -> RespParts {
    http::Response::new(()).into_parts().0
}

/// A copy of the parts; the header map with room for `room` more fields (none: a plain clone).
fn clone_req_parts(me: &ReqParts, room: usize) -> ReqParts {
    let mut parts = empty_req_parts();
    parts.method = me.method.clone();
    parts.uri = me.uri.clone();
    parts.version = me.version;
    parts.headers = if room == 0 {
        me.headers.clone()
    } else {
        me.headers.clone_with_room(room)
    };
    parts.extensions = me.extensions.clone();
    parts
}

fn clone_resp_parts(me: &RespParts) -> RespParts {
    let mut parts = empty_resp_parts();
    parts.status = me.status;
    parts.version = me.version;
    parts.headers = me.headers.clone();
    parts.extensions = me.extensions.clone();
    parts
}

// This function returns an upper bound on the size of the header map used inside the http crate.
// As of version 0.2, there is a limit of 1 << 15 (32,768) items inside the map. There is an
// assertion against this size inside the crate, so we want to avoid panicking by not exceeding this
// upper bound.
fn http_header_map_upper_bound(size_hint: Option<usize>) -> usize {
    // Even though the crate has 1 << 15 as the max size, calls to `with_capacity` invoke a
    // function that returns the size + size / 3.
    //
    // See https://github.com/hyperium/http/blob/34a9d6bdab027948d6dea3b36d994f9cbaf96f75/src/header/map.rs#L3220
    //
    // Therefore we set our max size to be even lower, so we guarantee ourselves we won't hit that
    // upper bound in the crate. Any way you cut it, 4,096 headers is insane.
    const PINGORA_MAX_HEADER_COUNT: usize = 4096;
    const INIT_HEADER_SIZE: usize = 8;

    // We select the size hint or the max size here, ensuring that we pick a value substantially lower
    // than 1 << 15 with room to grow the header map.
    std::cmp::min(
        size_hint.unwrap_or(INIT_HEADER_SIZE),
        PINGORA_MAX_HEADER_COUNT,
    )
}

#[inline]
fn append_header_value<T>(
    name_map: Option<&mut CaseMap>,
    value_map: &mut HMap<T>,
    name: impl IntoCaseHeaderName,
    value: T,
) -> Result<bool> {
    let (header_name, case) = name.into_name_and_case()?;
    if let Some(name_map) = name_map {
        record_appended_case(name_map, value_map, &header_name, case)?;
    }

    // Non-panicking `try_append`: the infallible `append` calls
    // `.expect("size overflows MAX_SIZE")` internally, which would abort the
    // process if the map ever exceeded `http`'s `MAX_SIZE` (1 << 15).
    value_map.try_append(header_name, value).or_err(
        InvalidHTTPHeader,
        "header value map size overflows MAX_SIZE",
    )
}

/// Keeps the case map in step with a value appended under `name`, before it is appended;
/// `case` is `None` when the value's name comes in its canonical case.
fn record_appended_case<T>(
    name_map: &mut CaseMap,
    value_map: &HMap<T>,
    name: &HeaderName,
    case: Option<CaseHeaderName>,
) -> Result<()> {
    if name_map.holds(name) {
        // The name's values have their cases recorded: this one's too, whatever it is.
        let case = case.unwrap_or_else(|| case_header_name::canonical_case(name));
        name_map.append(name, case)?;
    } else if let Some(case) = case {
        // The name's earlier values, if any, were written in the canonical case: record them
        // so, then this one as it came.
        for _ in value_map.get_all(name) {
            name_map.append(name, case_header_name::canonical_case(name))?;
        }
        name_map.append(name, case)?;
    }
    Ok(())
}

/// Reserves room for `additional` entries in the value map, without panicking on overflow (a
/// failed reservation leaves the map to grow as it goes). The case map is left as it is:
/// usually empty, it would be allocated for nothing.
fn reserve<T>(value_map: &mut HMap<T>, additional: usize) {
    let _ = value_map.try_reserve(additional);
}

#[inline]
fn insert_header_value<T>(
    name_map: Option<&mut CaseMap>,
    value_map: &mut HMap<T>,
    name: impl IntoCaseHeaderName,
    value: T,
) -> Result<()> {
    let (header_name, case) = name.into_name_and_case()?;
    if let Some(name_map) = name_map {
        // The value replaces the name's values: its case replaces theirs.
        if let Some(case) = case {
            name_map.insert(&header_name, case)?;
        } else if name_map.holds(&header_name) {
            name_map.remove_name(&header_name);
        }
    }
    value_map.try_insert(header_name, value).or_err(
        InvalidHTTPHeader,
        "header value map size overflows MAX_SIZE",
    )?;
    Ok(())
}

// the &N here is to avoid clone(). None Copy type like String can impl AsHeaderName
#[inline]
fn remove_header<'a, T, N: ?Sized>(
    name_map: Option<&mut CaseMap>,
    value_map: &mut HMap<T>,
    name: &'a N,
) -> Option<T>
where
    &'a N: 'a + AsHeaderName,
{
    let removed = value_map.remove(name);
    if removed.is_some() {
        if let Some(name_map) = name_map.filter(|m| !m.is_empty()) {
            name_map.remove(name, value_map);
        }
    }
    removed
}

/// Build a [`HeaderValue`] from owned bytes, normalizing the value per RFC
/// 9110 section 5.5 and RFC 9112 section 5.2: obs-fold continuations
/// collapse to a single SP, and any stray CR / LF / NUL is replaced with SP.
/// Zero-copy when the input contains no CR/LF/NUL.
///
/// # Precondition
///
/// Input must come from a conformant HTTP/1.1 parser: bytes must satisfy
/// the `field-content` grammar (SP, HTAB, `%x21-7E`, `obs-text` `%x80-FF`),
/// with CR/LF/NUL only appearing as part of an obs-fold or as invalid bytes
/// that this function will replace with SP. All workspace callers satisfy
/// this via httparse.
///
/// # Panics
///
/// Debug builds panic on precondition violation via the sanity check in
/// [`HeaderValue::from_maybe_shared_unchecked`]. Release builds skip the
/// check; invalid input is undefined behavior per the `http` crate.
pub fn header_value_from_raw(raw: impl Into<bytes::Bytes>) -> HeaderValue {
    let normalized = normalize_field_value(raw.into());
    // SAFETY: `normalize_field_value` replaces all CR/LF/NUL with SP; by
    // precondition the remaining bytes pass the `http` crate's `is_valid`
    // byte-set check (other controls except HTAB are not expected here). The
    // crate's documented safety contract names "valid UTF-8", but its
    // internal use of the bytes never relies on UTF-8 in release. Matches
    // long-standing precedent.
    unsafe { HeaderValue::from_maybe_shared_unchecked(normalized) }
}

/// A [`HeaderValue`] of bytes an HTTP/1 parser took from a header section, holding no obs-fold
/// (no LF): the parser leaves no CR or NUL in such a value either, so it is not scanned for
/// them again as [`header_value_from_raw`] does (Skyport patch 38).
///
/// Precondition: as [`header_value_from_raw`]'s, and no CR, LF or NUL in `raw` (debug builds
/// check both).
pub fn header_value_unfolded(raw: bytes::Bytes) -> HeaderValue {
    debug_assert!(!raw.iter().any(|b| matches!(b, b'\r' | b'\n' | b'\0')));
    // SAFETY: as `header_value_from_raw`'s, with no CR/LF/NUL to replace.
    unsafe { HeaderValue::from_maybe_shared_unchecked(raw) }
}

/// Build a [`HeaderValue`] from a borrowed slice, normalizing obs-fold per
/// RFC 9112 section 5.2. The slice is copied into an owned buffer.
///
/// Precondition and panic behavior are the same as [`header_value_from_raw`].
pub fn header_value_from_slice(raw: &[u8]) -> HeaderValue {
    header_value_from_raw(bytes::Bytes::copy_from_slice(raw))
}

/// Normalize a header field value per RFC 9110 section 5.5 and RFC 9112
/// section 5.2:
///
/// - Each CRLF + WSP obs-fold continuation collapses to a single SP
///   ([RFC 9112 section 5.2]).
/// - Any standalone CR, LF, or NUL (not part of an obs-fold being collapsed)
///   is replaced with a single SP ([RFC 9110 section 5.5]).
/// - Other CTL characters are retained, as RFC 9110 section 5.5 permits.
///
/// Zero-copy when the input contains no CR, LF, or NUL.
/// Example: `b"obs\r\n fold\r\n\t line"` becomes `b"obs fold line"`.
///
/// [RFC 9112 section 5.2]: https://datatracker.ietf.org/doc/html/rfc9112#section-5.2
/// [RFC 9110 section 5.5]: https://datatracker.ietf.org/doc/html/rfc9110#section-5.5
fn normalize_field_value(raw: bytes::Bytes) -> bytes::Bytes {
    // Fast path: no CR/LF/NUL, nothing to do.
    if !raw.iter().any(|b| matches!(b, b'\r' | b'\n' | b'\0')) {
        return raw;
    }

    // No LF means no obs-fold (which requires CRLF). Replace each stray CR
    // or NUL with SP per RFC 9110 section 5.5.
    let Some(first_nl) = raw.iter().position(|b| *b == b'\n') else {
        let replaced: Vec<u8> = raw
            .iter()
            .map(|&b| if matches!(b, b'\r' | b'\0') { b' ' } else { b })
            .collect();
        return bytes::Bytes::from(replaced);
    };

    // Mid-segment CRs (and NULs) — which boundary trimming can't reach because
    // they're not at a segment boundary — are replaced with SP at copy time
    // per RFC 9110 section 5.5. Empty continuations contribute no SP, so
    // leading/trailing newlines don't introduce spurious whitespace.
    fn push_with_replacement(dst: &mut Vec<u8>, src: &[u8]) {
        dst.extend(
            src.iter()
                .map(|&b| if matches!(b, b'\r' | b'\0') { b' ' } else { b }),
        );
    }

    // Trim ASCII whitespace at segment boundaries (we split on `\n`) so the
    // trailing `\r` of each CRLF is absorbed into the obs-fold collapse along
    // with the fold's SP/HTAB run.
    let head = raw[..first_nl].trim_ascii_end();
    let mut unfolded = Vec::with_capacity(raw.len());
    push_with_replacement(&mut unfolded, head);
    for line in raw[first_nl + 1..].split(|b| *b == b'\n') {
        let line = line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        if !unfolded.is_empty() {
            unfolded.push(b' ');
        }
        push_with_replacement(&mut unfolded, line);
    }
    bytes::Bytes::from(unfolded)
}

#[inline]
/// The map's fields in their wire form, but for those of the names `replaced` lists.
fn header_to_h1_wire(
    key_map: Option<&CaseMap>,
    value_map: &HMap,
    replaced: Option<&WireFields>,
    buf: &mut impl BufMut,
) {
    const CRLF: &[u8; 2] = b"\r\n";
    const HEADER_KV_DELIMITER: &[u8; 2] = b": ";

    if let Some(key_map) = key_map {
        for (name, val) in written_fields(key_map, value_map, replaced) {
            match name {
                Written::Case(case) => buf.put_slice(case.as_slice()),
                Written::Canonical(name) => case_header_name::put_canonical_case(name, buf),
            }
            buf.put_slice(HEADER_KV_DELIMITER);
            buf.put_slice(val.as_ref());
            buf.put_slice(CRLF);
        }
    } else {
        for (header, value) in value_map
            .iter()
            .filter(|(n, _)| !replaced.is_some_and(|r| r.replaces(n)))
        {
            let titled_header =
                case_header_name::titled_header_name_str(header).unwrap_or(header.as_str());
            buf.put_slice(titled_header.as_bytes());
            buf.put_slice(HEADER_KV_DELIMITER);
            buf.put_slice(value.as_ref());
            buf.put_slice(CRLF);
        }
    }
}

/// How a field's name is written: as recorded, or in its canonical case.
enum Written<'a> {
    Case(&'a CaseHeaderName),
    Canonical(&'a HeaderName),
}

/// Every field of `value_map` in order, with the case its name is written in.
fn written_fields<'a>(
    name_map: &'a CaseMap,
    value_map: &'a HMap,
    replaced: Option<&'a WireFields>,
) -> impl Iterator<Item = (Written<'a>, &'a HeaderValue)> + 'a {
    let mut current = None;
    // A replaced name is left out with all its values: the cases of the names written stay
    // aligned with their values.
    let fields = value_map
        .iter()
        .filter(move |(n, _)| !replaced.is_some_and(|r| r.replaces(n)));
    fields.map(move |(name, value)| {
        if name_map.is_empty() {
            return (Written::Canonical(name), value);
        }
        // A name's values come one after the other: whether it has recorded cases is found
        // once, mostly by the case map's filter, without hashing the name.
        if !matches!(&current, Some((n, _)) if *n == name) {
            let cases = name_map.holds(name).then(|| name_map.cases(name));
            current = Some((name, cases));
        }
        let case = current
            .as_mut()
            .and_then(|(_, cases)| cases.as_mut())
            .and_then(|cases| cases.next());
        (case.map_or(Written::Canonical(name), Written::Case), value)
    })
}

#[inline]
fn case_header_iter<'a>(
    name_map: Option<&'a CaseMap>,
    value_map: &'a HMap,
) -> impl Iterator<Item = (CaseHeaderName, &'a HeaderValue)> + 'a {
    name_map.into_iter().flat_map(|name_map| {
        written_fields(name_map, value_map, None).map(|(name, value)| match name {
            Written::Case(case) => (case.clone(), value),
            Written::Canonical(name) => (case_header_name::canonical_case(name), value),
        })
    })
}

/// Calls `f` with each field, its name as written.
fn map_fields<F: FnMut(HeaderNameVariant, &HeaderValue) -> Result<()>>(
    key_map: Option<&CaseMap>,
    value_map: &HMap,
    f: &mut F,
) -> Result<()> {
    if let Some(key_map) = key_map {
        for (name, value) in written_fields(key_map, value_map, None) {
            match name {
                Written::Case(case) => f(HeaderNameVariant::Case(case), value)?,
                Written::Canonical(name) => {
                    let case = case_header_name::canonical_case(name);
                    f(HeaderNameVariant::Case(&case), value)?
                }
            }
        }
    } else {
        for (header, value) in value_map {
            let titled_header =
                case_header_name::titled_header_name_str(header).unwrap_or(header.as_str());
            f(HeaderNameVariant::Titled(titled_header), value)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    // Skyport patch 45.
    #[test]
    fn a_single_field_in_its_usual_case_is_replaced_in_place() {
        let host = http::header::HOST;
        let new = HeaderValue::from_static("upstream");
        let mut req = RequestHeader::build("GET", b"/", None).expect("request");
        assert!(!req.replace_single_value(&host, &new), "absent");
        req.append_header("Host", "client").expect("host");
        req.append_header("Accept", "*/*").expect("accept");
        assert!(req.replace_single_value(&host, &new));
        let mut wire = Vec::new();
        req.header_to_h1_wire(&mut wire);
        assert_eq!(wire, b"Host: upstream\r\nAccept: */*\r\n".as_slice());

        // Repeated, or written in a case of its own: left to insert_header.
        req.append_header("Host", "second").expect("host");
        assert!(!req.replace_single_value(&host, &new));
        let mut req = RequestHeader::build("GET", b"/", None).expect("request");
        req.append_header("hOsT", "client").expect("host");
        assert!(!req.replace_single_value(&host, &new));
        assert_eq!(req.headers["host"], "client");
    }

    use super::*;

    #[test]
    fn wire_fields_come_last_and_replace_their_names() {
        static FOR: HeaderNames = HeaderNames::new_static("x-forwarded-for", "X-Forwarded-For");
        static REPLACED: [HeaderName; 2] = [
            HeaderName::from_static("x-forwarded-for"),
            HeaderName::from_static("x-forwarded-prefix"),
        ];
        // With a case map that records a name (`x-forwarded-for` in lower case), and without.
        // `ACCEPT` is recorded as written when the case is kept: the recorded cases stay
        // aligned with their values when a name before them is left out.
        for (keep_case, accept) in [(true, "ACCEPT"), (false, "Accept")] {
            let mut req = if keep_case {
                RequestHeader::build("GET", b"/", None).unwrap()
            } else {
                RequestHeader::build_no_case("GET", b"/", None).unwrap()
            };
            req.append_header("Host", "h").unwrap();
            req.append_header("x-forwarded-for", "1.1.1.1").unwrap();
            req.append_header("x-forwarded-for", "2.2.2.2").unwrap();
            req.append_header("X-Forwarded-Prefix", "/p").unwrap();
            req.append_header("ACCEPT", "*/*").unwrap();
            let mut fields = WireFields::with_capacity(64, &REPLACED);
            fields.push_list(
                &FOR,
                &HeaderValue::from_static("1.1.1.1, 2.2.2.2"),
                &HeaderValue::from_static("3.3.3.3"),
            );
            req.set_wire_fields(fields);
            let mut wire = Vec::new();
            req.header_to_h1_wire(&mut wire);
            assert_eq!(
                String::from_utf8(wire).unwrap(),
                format!(
                    "Host: h\r\n{accept}: */*\r\nX-Forwarded-For: 1.1.1.1, 2.2.2.2, 3.3.3.3\r\n"
                )
            );
            // The map itself keeps the client's fields; its HTTP/2 form is the wire's.
            assert_eq!(req.headers.get_all("x-forwarded-for").iter().count(), 2);
            let parts = req.as_owned_parts();
            let xff: Vec<_> = parts.headers.get_all("x-forwarded-for").iter().collect();
            assert_eq!(xff, ["1.1.1.1, 2.2.2.2, 3.3.3.3"]);
            assert!(parts.headers.get("x-forwarded-prefix").is_none());
            assert_eq!(parts.headers.len(), 3);
            // A copy keeps them; the conversion into parts folds them too.
            let copy = req.clone_with_room(4);
            assert_eq!(copy.wire_fields(), req.wire_fields());
            let parts = ReqParts::from(copy);
            assert_eq!(
                parts.headers["x-forwarded-for"],
                "1.1.1.1, 2.2.2.2, 3.3.3.3"
            );
        }
    }

    #[test]
    fn a_responses_wire_fields_come_last_and_replace_their_names() {
        static VIA: HeaderNames = HeaderNames::new_static("via", "Via");
        static ID: HeaderNames = HeaderNames::new_static("x-id", "X-Id");
        static NAMES: [HeaderName; 2] = [
            HeaderName::from_static("via"),
            HeaderName::from_static("x-id"),
        ];
        for keep_case in [true, false] {
            let mut resp = if keep_case {
                ResponseHeader::build(200, None).unwrap()
            } else {
                ResponseHeader::build_no_case(200, None).unwrap()
            };
            resp.append_header("Via", "1.1 origin").unwrap();
            resp.append_header("x-id", "theirs").unwrap();
            resp.append_header("Content-Length", "2").unwrap();
            // Via replaced, the map's X-Id kept.
            let mut fields = WireFields::with_capacity_replacing(64, &NAMES, 0b01);
            fields.push_list(
                &VIA,
                &HeaderValue::from_static("1.1 origin"),
                &HeaderValue::from_static("1.1 me"),
            );
            resp.set_wire_fields(fields);
            let mut wire = Vec::new();
            resp.header_to_h1_wire(&mut wire);
            // (A name outside the standard set keeps its lower case either way.)
            assert_eq!(
                String::from_utf8(wire).unwrap(),
                "x-id: theirs\r\nContent-Length: 2\r\nVia: 1.1 origin, 1.1 me\r\n"
            );
            // The map is the upstream's; the HTTP/2 form, a clone's parts and the conversion
            // are the wire's.
            assert_eq!(resp.headers["via"], "1.1 origin");
            let parts = resp.as_owned_parts();
            assert_eq!(parts.headers["via"], "1.1 origin, 1.1 me");
            assert_eq!(parts.headers["x-id"], "theirs");
            assert_eq!(parts.headers.len(), 3);
            let copy = resp.clone();
            assert_eq!(copy.wire_fields(), resp.wire_fields());
            let parts = *Box::<RespParts>::from(Box::new(copy));
            assert_eq!(parts.headers["via"], "1.1 origin, 1.1 me");

            // Two fields, both names replaced: the map's X-Id goes.
            let mut fields = WireFields::with_capacity_replacing(64, &NAMES, 0b11);
            fields.push(&ID, &HeaderValue::from_static("ours"));
            resp.set_wire_fields(fields);
            let parts = RespParts::from(resp);
            let ids: Vec<_> = parts.headers.get_all("x-id").iter().collect();
            assert_eq!(ids, ["ours"]);
            assert!(parts.headers.get("via").is_none());
        }
    }

    #[test]
    fn x_real_ip_is_canonical_as_nginx_spells_it() {
        static REAL_IP: HeaderNames = HeaderNames::new_static("x-real-ip", "X-Real-IP");
        let mut req = RequestHeader::build("GET", b"/", None).unwrap();
        req.insert_header(&REAL_IP, "10.0.0.1").unwrap();
        req.insert_header("X-Forwarded-For", "10.0.0.1").unwrap();
        // Both names are in their canonical case: nothing recorded.
        assert!(req.header_name_map.as_ref().map_or(true, |m| m.is_empty()));
        let mut wire = vec![];
        req.header_to_h1_wire(&mut wire);
        assert_eq!(
            wire,
            b"X-Real-IP: 10.0.0.1\r\nX-Forwarded-For: 10.0.0.1\r\n"
        );

        // Another spelling from a client is kept as it came.
        let mut other = RequestHeader::build("GET", b"/", None).unwrap();
        other.insert_header("X-Real-Ip", "1").unwrap();
        other.append_header("x-real-ip", "2").unwrap();
        let mut wire = vec![];
        other.header_to_h1_wire(&mut wire);
        assert_eq!(wire, b"X-Real-Ip: 1\r\nx-real-ip: 2\r\n");
    }

    #[test]
    fn kong_names_are_canonical_as_kong_spells_them() {
        use case_header_name::HeaderNames;
        static CONSUMER: HeaderNames = HeaderNames::new_static("x-consumer-id", "X-Consumer-ID");
        static LIMIT: HeaderNames =
            HeaderNames::new_static("x-ratelimit-limit-minute", "X-RateLimit-Limit-Minute");
        static REMAINING: HeaderNames =
            HeaderNames::new_static("ratelimit-remaining", "RateLimit-Remaining");
        let mut resp = ResponseHeader::build(200, None).unwrap();
        resp.insert_header(&LIMIT, "5").unwrap();
        resp.insert_header(&REMAINING, "4").unwrap();
        resp.append_header("X-Consumer-Custom-ID", "c").unwrap();
        resp.insert_header(http::header::X_CONSUMER_ID, "u")
            .unwrap();
        resp.insert_header(&CONSUMER, "v").unwrap();
        // All in their canonical case (a bare name is written in it too): nothing recorded.
        assert!(resp.header_name_map.as_ref().map_or(true, |m| m.is_empty()));
        let mut wire = vec![];
        resp.header_to_h1_wire(&mut wire);
        assert_eq!(
            String::from_utf8(wire).unwrap(),
            "X-RateLimit-Limit-Minute: 5\r\nRateLimit-Remaining: 4\r\n\
             X-Consumer-Custom-ID: c\r\nX-Consumer-ID: v\r\n"
        );

        // Other spellings are kept as they came.
        let mut other = RequestHeader::build("GET", b"/", None).unwrap();
        other.insert_header("X-Consumer-Id", "1").unwrap();
        other
            .append_header("x-ratelimit-limit-minute", "2")
            .unwrap();
        other.append_header("X-Forwarded-For", "3").unwrap();
        other.append_header("x-forwarded-host", "4").unwrap();
        let mut wire = vec![];
        other.header_to_h1_wire(&mut wire);
        assert_eq!(
            String::from_utf8(wire).unwrap(),
            "X-Consumer-Id: 1\r\nx-ratelimit-limit-minute: 2\r\nX-Forwarded-For: 3\r\n\
             x-forwarded-host: 4\r\n"
        );
    }

    #[test]
    fn parts_made_without_the_builder_keep_defaults_and_copies() {
        let empty = RequestHeader::build_no_case("GET", b"/", None).unwrap();
        assert_eq!(empty.version, http::Version::HTTP_11);
        let resp = ResponseHeader::build(204, None).unwrap();
        assert_eq!(resp.version, http::Version::HTTP_11);
        assert_eq!(resp.as_owned_parts().status, 204);

        let mut req = RequestHeader::build("PUT", b"/a?b=c", None).unwrap();
        req.set_version(http::Version::HTTP_10);
        req.insert_header("X-One", "1").unwrap();
        req.append_header("x-one", "2").unwrap();
        req.base.extensions.insert(7u8);
        let copy = req.clone();
        assert_eq!(copy.method, http::Method::PUT);
        assert_eq!(copy.uri, "/a?b=c");
        assert_eq!(copy.version, http::Version::HTTP_10);
        assert_eq!(copy.headers, req.headers);
        assert_eq!(copy.extensions.get::<u8>(), Some(&7));
        let mut wire = vec![];
        copy.header_to_h1_wire(&mut wire);
        assert_eq!(wire, b"X-One: 1\r\nx-one: 2\r\n");
    }

    #[test]
    fn reserve_makes_room_and_keeps_the_order() {
        let mut req = RequestHeader::build("GET", b"/", Some(1)).unwrap();
        req.insert_header("X-First", "1").unwrap();
        req.reserve(16);
        assert!(req.headers.capacity() >= 17);
        for i in 0..16 {
            req.append_header(format!("X-Name-{i}"), i.to_string())
                .unwrap();
        }
        let mut wire = vec![];
        req.header_to_h1_wire(&mut wire);
        let wire = String::from_utf8(wire).unwrap();
        assert!(wire.starts_with("X-First: 1\r\nX-Name-0: 0\r\n"), "{wire}");
        assert!(wire.ends_with("X-Name-15: 15\r\n"), "{wire}");

        let mut resp = ResponseHeader::build(200, Some(1)).unwrap();
        resp.reserve(4);
        resp.insert_header("Via", "1.1 x").unwrap();
        assert_eq!(resp.headers["via"], "1.1 x");
    }

    /// The header as written on the wire, and how many cases its case map holds.
    fn wire_and_recorded(req: &RequestHeader) -> (String, usize) {
        let mut buf = vec![];
        req.header_to_h1_wire(&mut buf);
        let recorded = req.header_name_map.as_ref().map_or(0, |m| m.len());
        (String::from_utf8(buf).unwrap(), recorded)
    }

    #[test]
    fn only_names_outside_their_canonical_case_are_recorded() {
        // Canonical names (standard spellings, capitalised words) need no record.
        let mut req = RequestHeader::build("GET", b"/", None).unwrap();
        for (name, value) in [
            ("Host", "x"),
            ("ETag", "\"1\""),
            ("TE", "trailers"),
            ("WWW-Authenticate", "Basic"),
            ("X-Forwarded-For", "1.2.3.4"),
            ("Accept-Language", "en"),
        ] {
            req.append_header(name, value).unwrap();
        }
        req.insert_header(http::header::CONTENT_LENGTH, "0")
            .unwrap();
        let (wire, recorded) = wire_and_recorded(&req);
        assert_eq!(
            wire,
            "Host: x\r\nETag: \"1\"\r\nTE: trailers\r\nWWW-Authenticate: Basic\r\n\
             X-Forwarded-For: 1.2.3.4\r\nAccept-Language: en\r\nContent-Length: 0\r\n"
        );
        assert_eq!(recorded, 0);

        // Others are kept as written: lower case, odd capitals, a standard name spelt otherwise.
        let mut req = RequestHeader::build("GET", b"/", None).unwrap();
        for (name, value) in [
            ("host", "x"),
            ("X-Real-IP", "1.2.3.4"),
            ("Etag", "\"1\""),
            ("x-api-key", "k"),
        ] {
            req.append_header(name, value).unwrap();
        }
        req.insert_header(http::header::HeaderName::from_static("x-lower"), "1")
            .unwrap();
        let (wire, recorded) = wire_and_recorded(&req);
        assert_eq!(
            wire,
            "host: x\r\nX-Real-IP: 1.2.3.4\r\nEtag: \"1\"\r\nx-api-key: k\r\nx-lower: 1\r\n"
        );
        // `X-Real-IP` is that name's canonical case (as nginx spells it): not recorded.
        assert_eq!(recorded, 4);
    }

    #[test]
    fn many_recorded_names_keep_their_cases_past_the_short_list() {
        // More names outside their canonical case than the short list holds, one of them
        // with values in two cases, then removals and a replacement on either side.
        for count in [FEW_CASES - 2, FEW_CASES + 8] {
            let mut req = RequestHeader::build("GET", b"/", None).unwrap();
            let mut want = String::new();
            for i in 0..count {
                let name = format!("x-h{i}");
                req.append_header(name.clone(), i.to_string()).unwrap();
                want.push_str(&format!("{name}: {i}\r\n"));
                if i == 1 {
                    req.append_header("X-H0", "again").unwrap();
                }
            }
            let (wire, recorded) = wire_and_recorded(&req);
            // `x-h0`'s two values come one after the other, each in its own case.
            let want = want.replacen("x-h0: 0\r\n", "x-h0: 0\r\nX-H0: again\r\n", 1);
            assert_eq!(wire, want, "{count} names");
            // The second `X-H0` is canonical but recorded beside the first value's case.
            assert_eq!(recorded, count + 1, "{count} names");

            req.remove_header("x-h0");
            req.remove_header(&http::header::HeaderName::from_static("x-h1"));
            req.insert_header("X-H2", "2").unwrap();
            req.insert_header("x-H3", "3").unwrap();
            let (wire, recorded) = wire_and_recorded(&req);
            // (Removing moves the map's last field into the gap: the order is `http`'s.)
            let lines: Vec<&str> = wire.split_terminator("\r\n").collect();
            assert_eq!(lines.len(), count - 2, "{wire}");
            for line in ["X-H2: 2", "x-H3: 3", "x-h4: 4"] {
                assert!(lines.contains(&line), "{count} names, {line}: {wire}");
            }
            assert!(!wire.to_lowercase().contains("x-h0:"), "{wire}");
            assert!(!wire.contains("x-h1:"), "{wire}");
            // x-h0, x-h1 gone; X-H2 canonical now.
            assert_eq!(recorded, count - 3, "{count} names");
        }
    }

    #[test]
    fn names_made_once_know_whether_their_case_is_recorded() {
        static CAPITALISED: HeaderNames =
            HeaderNames::new_static("x-forwarded-for", "X-Forwarded-For");
        static ODD: HeaderNames = HeaderNames::new_static("x-user-id", "X-User-ID");
        static STANDARD: HeaderNames = HeaderNames::new_static("etag", "ETag");
        static STANDARD_ODD: HeaderNames = HeaderNames::new_static("etag", "Etag");
        let mut req = RequestHeader::build("GET", b"/", None).unwrap();
        req.insert_header(&CAPITALISED, "1").unwrap();
        req.insert_header(&STANDARD, "\"e\"").unwrap();
        req.insert_header(http::header::VIA, "1.1 x").unwrap();
        assert_eq!(wire_and_recorded(&req).1, 0);
        req.insert_header(&ODD, "2").unwrap();
        req.append_header(STANDARD_ODD.clone(), "\"f\"").unwrap();
        let (wire, recorded) = wire_and_recorded(&req);
        assert_eq!(
            wire,
            "X-Forwarded-For: 1\r\nETag: \"e\"\r\nEtag: \"f\"\r\nVia: 1.1 x\r\nX-User-ID: 2\r\n"
        );
        assert_eq!(recorded, 3);
        let runtime = HeaderNames::from_static("X-User-ID").unwrap();
        req.insert_header(&runtime, "3").unwrap();
        assert!(wire_and_recorded(&req).0.ends_with("X-User-ID: 3\r\n"));
    }

    #[test]
    fn canonical_case_is_written_as_it_is_recognised() {
        let long = format!("{}-{}", "a".repeat(63), "b".repeat(70));
        for lower in [
            "x",
            "x-y",
            "a-b-c-d",
            "x--y",
            "x-1a",
            "-x",
            "x-",
            long.as_str(),
        ] {
            let name = HeaderName::from_bytes(lower.as_bytes()).unwrap();
            let mut written = vec![];
            case_header_name::put_canonical_case(&name, &mut written);
            assert!(
                case_header_name::is_canonical_case(&name, &written),
                "{lower}"
            );
            assert!(written.eq_ignore_ascii_case(lower.as_bytes()), "{lower}");
        }
        let name = HeaderName::from_bytes(long.as_bytes()).unwrap();
        let mut written = vec![];
        case_header_name::put_canonical_case(&name, &mut written);
        assert_eq!(
            String::from_utf8(written).unwrap(),
            format!("A{}-B{}", "a".repeat(62), "b".repeat(69))
        );
    }

    #[test]
    fn one_names_values_keep_their_own_cases() {
        // Canonical first, then another case: the first is recorded as canonical.
        let mut req = RequestHeader::build("GET", b"/", None).unwrap();
        req.append_header("X-Tag", "1").unwrap();
        req.append_header("Other", "o").unwrap();
        req.append_header("X-TAG", "2").unwrap();
        req.append_header("X-Tag", "3").unwrap();
        let (wire, recorded) = wire_and_recorded(&req);
        assert_eq!(wire, "X-Tag: 1\r\nX-TAG: 2\r\nX-Tag: 3\r\nOther: o\r\n");
        assert_eq!(recorded, 3);
        let cases: Vec<_> = req
            .case_header_iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    String::from_utf8_lossy(k.as_slice()),
                    v.to_str().unwrap()
                )
            })
            .collect();
        assert_eq!(cases, ["X-Tag=1", "X-TAG=2", "X-Tag=3", "Other=o"]);

        // Inserting in the canonical case drops the record; removing drops it too.
        req.insert_header("X-Tag", "4").unwrap();
        assert_eq!(
            wire_and_recorded(&req),
            ("X-Tag: 4\r\nOther: o\r\n".into(), 0)
        );
        req.insert_header("x-tag", "5").unwrap();
        assert_eq!(
            wire_and_recorded(&req),
            ("x-tag: 5\r\nOther: o\r\n".into(), 1)
        );
        req.remove_header("X-TAG");
        assert_eq!(wire_and_recorded(&req), ("Other: o\r\n".into(), 0));

        // Many recorded names: every filter bit set, so a name not recorded (Plain) is told
        // apart by its lookup.
        let mut req = RequestHeader::build("GET", b"/", None).unwrap();
        let mut expected = String::new();
        for i in 0..80 {
            req.append_header(format!("x-n{i}"), "a").unwrap();
            req.append_header(format!("X-N{i}"), "b").unwrap();
            expected.push_str(&format!("x-n{i}: a\r\nX-N{i}: b\r\n"));
        }
        req.append_header("Plain", "p").unwrap();
        expected.push_str("Plain: p\r\n");
        assert_eq!(wire_and_recorded(&req), (expected, 160));

        // A clone writes the same.
        let clone = req.clone();
        assert_eq!(wire_and_recorded(&clone), wire_and_recorded(&req));
    }

    #[test]
    fn header_map_upper_bound() {
        assert_eq!(8, http_header_map_upper_bound(None));
        assert_eq!(16, http_header_map_upper_bound(Some(16)));
        assert_eq!(4096, http_header_map_upper_bound(Some(7777)));
    }

    #[test]
    fn test_single_header() {
        let mut req = RequestHeader::build("GET", b"/", None).unwrap();
        req.insert_header("foo", "bar").unwrap();
        req.insert_header("FoO", "Bar").unwrap();
        let mut buf: Vec<u8> = vec![];
        req.header_to_h1_wire(&mut buf);
        assert_eq!(buf, b"FoO: Bar\r\n");
        req.case_header_iter().enumerate().for_each(|(i, (k, v))| {
            let name = String::from_utf8_lossy(k.as_slice()).into_owned();
            let value = String::from_utf8_lossy(v.as_ref()).into_owned();
            match i + 1 {
                1 => {
                    assert_eq!(name, "FoO");
                    assert_eq!(value, "Bar");
                }
                _ => panic!("too many headers"),
            }
        });

        let mut resp = ResponseHeader::new(None);
        resp.insert_header("foo", "bar").unwrap();
        resp.insert_header("FoO", "Bar").unwrap();
        let mut buf: Vec<u8> = vec![];
        resp.header_to_h1_wire(&mut buf);
        assert_eq!(buf, b"FoO: Bar\r\n");
        resp.case_header_iter().enumerate().for_each(|(i, (k, v))| {
            let name = String::from_utf8_lossy(k.as_slice()).into_owned();
            let value = String::from_utf8_lossy(v.as_ref()).into_owned();
            match i + 1 {
                1 => {
                    assert_eq!(name, "FoO");
                    assert_eq!(value, "Bar");
                }
                _ => panic!("too many headers"),
            }
        });
    }

    #[test]
    fn test_single_header_no_case() {
        let mut req = RequestHeader::new_no_case(None);
        req.insert_header("foo", "bar").unwrap();
        req.insert_header("FoO", "Bar").unwrap();
        let mut buf: Vec<u8> = vec![];
        req.header_to_h1_wire(&mut buf);
        assert_eq!(buf, b"foo: Bar\r\n");
        assert!(req.case_header_iter().next().is_none());

        let mut resp = ResponseHeader::new_no_case(None);
        resp.insert_header("foo", "bar").unwrap();
        resp.insert_header("FoO", "Bar").unwrap();
        let mut buf: Vec<u8> = vec![];
        resp.header_to_h1_wire(&mut buf);
        assert_eq!(buf, b"foo: Bar\r\n");
        assert!(resp.case_header_iter().next().is_none());
    }

    #[test]
    fn test_multiple_header() {
        let mut req = RequestHeader::build("GET", b"/", None).unwrap();
        req.append_header("FoO", "Bar").unwrap();
        req.append_header("fOO", "bar").unwrap();
        req.append_header("BAZ", "baR").unwrap();
        req.append_header(http::header::CONTENT_LENGTH, "0")
            .unwrap();
        req.append_header("a", "b").unwrap();
        req.remove_header("a");
        let mut buf: Vec<u8> = vec![];
        req.header_to_h1_wire(&mut buf);
        assert_eq!(
            buf,
            b"FoO: Bar\r\nfOO: bar\r\nBAZ: baR\r\nContent-Length: 0\r\n"
        );
        req.case_header_iter().enumerate().for_each(|(i, (k, v))| {
            let name = String::from_utf8_lossy(k.as_slice()).into_owned();
            let value = String::from_utf8_lossy(v.as_ref()).into_owned();
            match i + 1 {
                1 => {
                    assert_eq!(name, "FoO");
                    assert_eq!(value, "Bar");
                }
                2 => {
                    assert_eq!(name, "fOO");
                    assert_eq!(value, "bar");
                }
                3 => {
                    assert_eq!(name, "BAZ");
                    assert_eq!(value, "baR");
                }
                4 => {
                    assert_eq!(name, "Content-Length");
                    assert_eq!(value, "0");
                }
                _ => panic!("too many headers"),
            }
        });

        let mut resp = ResponseHeader::new(None);
        resp.append_header("FoO", "Bar").unwrap();
        resp.append_header("fOO", "bar").unwrap();
        resp.append_header("BAZ", "baR").unwrap();
        resp.append_header(http::header::CONTENT_LENGTH, "0")
            .unwrap();
        resp.append_header("a", "b").unwrap();
        resp.remove_header("a");
        let mut buf: Vec<u8> = vec![];
        resp.header_to_h1_wire(&mut buf);
        assert_eq!(
            buf,
            b"FoO: Bar\r\nfOO: bar\r\nBAZ: baR\r\nContent-Length: 0\r\n"
        );
        resp.case_header_iter().enumerate().for_each(|(i, (k, v))| {
            let name = String::from_utf8_lossy(k.as_slice()).into_owned();
            let value = String::from_utf8_lossy(v.as_ref()).into_owned();
            match i + 1 {
                1 => {
                    assert_eq!(name, "FoO");
                    assert_eq!(value, "Bar");
                }
                2 => {
                    assert_eq!(name, "fOO");
                    assert_eq!(value, "bar");
                }
                3 => {
                    assert_eq!(name, "BAZ");
                    assert_eq!(value, "baR");
                }
                4 => {
                    assert_eq!(name, "Content-Length");
                    assert_eq!(value, "0");
                }
                _ => panic!("too many headers"),
            }
        });
    }

    // These two no longer need patched_http1: the target carries no representable
    // path-and-query, so the Uri is rooted without consulting the linked http crate.
    #[test]
    fn test_invalid_path() {
        let raw_path = b"Hello\xF0\x90\x80World";
        let req = RequestHeader::build("GET", &raw_path[..], None).unwrap();
        assert_eq!("/", req.uri.path_and_query().unwrap());
        assert_eq!(raw_path, req.raw_path());
        assert!(!req.raw_path_is_utf8());
    }

    #[test]
    fn test_override_invalid_path() {
        let raw_path = b"Hello\xF0\x90\x80World";
        let mut req = RequestHeader::build("GET", &raw_path[..], None).unwrap();
        assert_eq!("/", req.uri.path_and_query().unwrap());
        assert_eq!(raw_path, req.raw_path());

        let new_path = "/HelloWorld";
        req.set_uri(Uri::builder().path_and_query(new_path).build().unwrap());
        assert_eq!(new_path, req.uri.path_and_query().unwrap());
        assert_eq!(new_path.as_bytes(), req.raw_path());
        assert!(req.raw_path_is_utf8());
    }

    #[test]
    fn test_invalid_path_with_leading_slash_reaches_the_uri() {
        // The same bytes in origin-form take the early return, which stores the lossy
        // rendering instead of rooting: from_utf8_lossy always yields valid UTF-8, and the
        // high bytes it produces are accepted as a path without relying on the linked http
        // crate. Contrast test_invalid_path, where these bytes have no leading slash and so
        // no representable component at all.
        for (raw_path, expected) in [
            (&b"/Hello\xF0\x90\x80World"[..], "/Hello\u{FFFD}World"),
            (b"/Hello\xF0\x90\x80World?q=1", "/Hello\u{FFFD}World?q=1"),
            (b"/\xF0\x90\x80", "/\u{FFFD}"),
        ] {
            let req = RequestHeader::build("GET", raw_path, None).unwrap();
            let label = String::from_utf8_lossy(raw_path);
            assert_eq!(expected, req.uri.path_and_query().unwrap(), "{label}");
            assert_eq!(raw_path, req.raw_path(), "{label}");
            assert!(!req.raw_path_is_utf8(), "{label}");
        }
    }

    #[test]
    fn test_absolute_form_http() {
        // The Uri exposes the path component, while raw_path() keeps the target
        // verbatim for the wire.
        let req = RequestHeader::build("GET", b"http://host/path?query=1", None).unwrap();
        assert_eq!("/path?query=1", req.uri.path_and_query().unwrap().as_str());
        assert_eq!("/path", req.uri.path());
        assert_eq!(b"http://host/path?query=1", req.raw_path());
    }

    #[test]
    fn test_absolute_form_https() {
        let req = RequestHeader::build("GET", b"https://example.com/a/b/c?d=e", None).unwrap();
        assert_eq!("/a/b/c?d=e", req.uri.path_and_query().unwrap().as_str());
        assert_eq!("/a/b/c", req.uri.path());
    }

    #[test]
    fn test_absolute_form_no_path() {
        // No path component, so the Uri is left at its default of "/".
        let req = RequestHeader::build("GET", b"http://host", None).unwrap();
        assert_eq!("/", req.uri.path());
        assert_eq!(Some("/"), req.uri.path_and_query().map(|pq| pq.as_str()));
        assert_eq!(b"http://host", req.raw_path());
    }

    #[test]
    fn test_absolute_form_root() {
        let req = RequestHeader::build("GET", b"http://host/", None).unwrap();
        assert_eq!("/", req.uri.path());
    }

    #[test]
    fn test_absolute_form_no_path_with_query() {
        // "http://host?query" has no path; origin-form requires at least "/"
        // (§3.2.1), so the query is anchored to the root on the stored Uri.
        let req = RequestHeader::build("GET", b"http://host?query=1", None).unwrap();
        assert_eq!("/", req.uri.path());
        assert_eq!(Some("query=1"), req.uri.query());
        assert_eq!("/?query=1", req.uri.path_and_query().unwrap().as_str());
        assert_eq!(b"http://host?query=1", req.raw_path());
    }

    #[test]
    fn test_absolute_form_uri_has_no_authority() {
        // Scheme and authority are deliberately kept off the Uri: the proxy layer
        // reconciles the target authority against `Host` from the raw bytes, and a
        // populated uri.authority() would divert it to rewriting the target instead.
        let req = RequestHeader::build("GET", b"http://host:8080/path?q=1", None).unwrap();
        assert_eq!(None, req.uri.scheme_str());
        assert_eq!(None, req.uri.authority());
        assert_eq!("/path", req.uri.path());
        assert_eq!(b"http://host:8080/path?q=1", req.raw_path());
    }

    #[test]
    fn test_fragment_is_not_forwarded() {
        // A fragment is not part of the request-target (§3.2) and is separated from the
        // URI before dereference (RFC 3986 §3.5), so it must not reach the upstream
        // request-line.
        for (target, raw, path) in [
            (&b"http://host/p#frag"[..], &b"http://host/p"[..], "/p"),
            (b"http://host#frag", b"http://host", "/"),
            (b"http://host?q=1#frag", b"http://host?q=1", "/"),
            // Both authority classifiers terminate at `#`, so a fragment cannot smuggle
            // userinfo or a second authority past `Host` reconciliation.
            (b"http://host#@evil.example/", b"http://host", "/"),
        ] {
            let req = RequestHeader::build("GET", target, None).unwrap();
            let target = String::from_utf8_lossy(target);
            assert_eq!(raw, req.raw_path(), "{target}");
            assert_eq!(path, req.uri.path(), "{target}");
        }

        // Origin-form fragments are already dropped by the Uri, so stripping here keeps
        // absolute-form consistent with origin-form rather than diverging from it.
        let req = RequestHeader::build("GET", b"/p#frag", None).unwrap();
        assert_eq!(b"/p", req.raw_path());

        // CONNECT reconciles `Host` against the `#`-truncated prefix, so the stored
        // bytes are exactly the ones that were validated.
        let req = RequestHeader::build("CONNECT", b"host:443#x", None).unwrap();
        assert_eq!(b"host:443", req.raw_path());

        // `#` is ASCII, so the strip applies to targets that are not valid UTF-8 too.
        // Those are forwarded verbatim, so a fragment left on them would reach the wire.
        let req = RequestHeader::build("GET", b"http://host/p\xff#frag", None).unwrap();
        assert_eq!(b"http://host/p\xff", req.raw_path());
        assert!(!req.raw_path_is_utf8());

        // Origin-form takes the early return, so it reaches the strip by a different path
        // than the absolute-form case above. Stripping before the UTF-8 check is what keeps
        // the two consistent: the Uri drops a fragment on its own, but these bytes go to
        // the wire verbatim, and `validate_connect_authority` truncates at `#` regardless.
        let req = RequestHeader::build("GET", b"/a\xff#frag", None).unwrap();
        assert_eq!(b"/a\xff", req.raw_path());
        assert!(!req.raw_path_is_utf8());
    }

    #[test]
    fn test_target_that_is_only_a_fragment_falls_back_to_root() {
        // Stripping the fragment can leave nothing behind. There is nothing useful to keep
        // verbatim for an empty target, so it resolves through the Uri, which renders it as
        // "/" -- the same target these produced before, now stated by the variant rather
        // than inferred from a zero-length byte vector.
        for target in [&b""[..], b"#", b"#frag", b"#/admin"] {
            let req = RequestHeader::build("GET", target, None).unwrap();
            let label = String::from_utf8_lossy(target);
            assert_eq!(b"/", req.raw_path(), "{label}");
            assert_eq!(RawTarget::FromUri, req.raw_target, "{label}");
        }

        // Asterisk-form and query-only targets survive their fragment rather than
        // collapsing to the root, because the Uri round-trips both.
        let req = RequestHeader::build("OPTIONS", b"*#frag", None).unwrap();
        assert_eq!(b"*", req.raw_path());
        assert_eq!(Some("*"), req.uri.path_and_query().map(|pq| pq.as_str()));

        let req = RequestHeader::build("GET", b"?q=1#frag", None).unwrap();
        assert_eq!(b"?q=1", req.raw_path());
        assert_eq!(Some("q=1"), req.uri.query());
    }

    #[test]
    fn test_non_utf8_target_still_yields_a_path() {
        // The classifier reads raw bytes, so a non-UTF-8 target must not fall back to
        // putting the whole URL into the Uri: uri.path() is what applications route on,
        // and it has to agree with the authority that was validated.
        let req = RequestHeader::build("GET", b"http://host/p\xff", None).unwrap();
        assert_eq!(b"http://host/p\xff", req.raw_path());
        assert!(!req.raw_path_is_utf8());
        assert_eq!(None, req.uri.authority());
        assert_eq!("/p\u{FFFD}", req.uri.path());

        // The authority-form CONNECT target is preserved in raw_path even when non-UTF-8.
        // Its Uri is rooted like any other target with no absolute-form authority.
        let req = RequestHeader::build("CONNECT", b"ho\xffst:443", None).unwrap();
        assert_eq!(b"ho\xffst:443", req.raw_path());
        assert_eq!("/", req.uri.path());
        assert!(!req.raw_path_is_utf8());

        // Origin-form keeps its lossy rendering and its original bytes.
        let req = RequestHeader::build("GET", b"/p-\xff", None).unwrap();
        assert_eq!(b"/p-\xff", req.raw_path());
        assert_eq!("/p-\u{FFFD}", req.uri.path());
    }

    #[test]
    fn test_query_only_target_keeps_its_query() {
        // "?q=1" carries no authority and no path, but it does carry a query. Dropping it
        // would leave filters and cache keys reading a query-less Uri while the upstream
        // receives the query.
        let req = RequestHeader::build("GET", b"?q=1", None).unwrap();
        assert_eq!(b"?q=1", req.raw_path());
        assert_eq!(Some("q=1"), req.uri.query());
        assert_eq!("/", req.uri.path());
        assert_eq!(RawTarget::FromUri, req.raw_target);
    }

    #[test]
    fn test_set_uri_clears_non_origin_form_target() {
        // A filter rewriting the target through set_uri must not leave absolute-form or
        // CONNECT bytes behind to be serialized.
        let mut req = RequestHeader::build("GET", b"http://host/abs?q=1", None).unwrap();
        req.set_uri("/replaced".parse().unwrap());
        assert_eq!(b"/replaced", req.raw_path());
        assert_eq!(RawTarget::FromUri, req.raw_target);

        let mut req = RequestHeader::build("CONNECT", b"example.com:443", None).unwrap();
        req.set_uri("/replaced".parse().unwrap());
        assert_eq!(b"/replaced", req.raw_path());
        assert!(req.raw_path_is_utf8());
    }

    #[test]
    fn test_unclassifiable_targets_are_anchored_to_the_root() {
        // Targets without absolute-form authority remain in raw_path() for the wire and
        // have a rooted Uri, independent of the linked http crate. A second parser
        // splitting at the first "://" could extract "/admin", although the reconciled
        // classifier stops at the first scheme-terminating colon and never validates that
        // path; rooting proves no such path was extracted.
        for target in [
            &b"foo:bar://evil.example/admin"[..],
            b"myproto:x://evil.example/admin",
            b"myproto:opaque",
        ] {
            let req = RequestHeader::build("GET", target, None).unwrap();
            let label = String::from_utf8_lossy(target);
            assert_eq!(
                RawTargetAuthority::None,
                raw_target_authority(req.raw_path()),
                "{label}"
            );
            // No absolute-form authority means no path component to isolate, so "/admin"
            // cannot appear here.
            assert_eq!("/", req.uri.path(), "{label}");
            // Wire serialization uses raw_path(), which is verbatim.
            assert_eq!(target, req.raw_path(), "{label}");
        }

        // An ambiguous authority is anchored for the same reason: normalization could move
        // the authority boundary, so no path split out of it would be trustworthy.
        let req = RequestHeader::build("GET", b"http:///path", None).unwrap();
        assert_eq!("/", req.uri.path());
        assert_eq!(b"http:///path", req.raw_path());
    }

    #[test]
    fn test_relative_target_without_a_scheme_is_anchored_to_the_root() {
        // These targets have neither an authority nor a valid path-and-query, so their
        // bytes remain in raw_path() for the H1 wire while the Uri is rooted. H2 egress
        // derives :path from the Uri; "/" is required because "foo/bar" is not an absolute
        // path and therefore is invalid for :path (RFC 9113 section 8.3.1). See
        // test_h2_path_is_rooted_for_targets_with_no_authority for this trade.
        for target in [&b"foo/bar"[..], b"host/admin", b"foo", b"foo?q=1"] {
            let req = RequestHeader::build("GET", target, None).unwrap();
            let label = String::from_utf8_lossy(target);
            assert_eq!(
                RawTargetAuthority::None,
                raw_target_authority(req.raw_path()),
                "{label}"
            );
            assert_eq!("/", req.uri.path_and_query().unwrap(), "{label}");
            assert_eq!(target, req.raw_path(), "{label}");
        }
    }

    #[test]
    fn test_origin_form_raw_path_is_byte_identical() {
        // Origin-form is the hot path and must round-trip through the Uri untouched.
        for target in [
            &b"/"[..],
            b"/index.html",
            b"/a/b/c?d=e&f=g",
            b"/%2e%2e/x",
            b"/a+b/c%20d",
            b"*",
        ] {
            let req = RequestHeader::build("GET", target, None).unwrap();
            assert_eq!(
                target,
                req.raw_path(),
                "{}",
                String::from_utf8_lossy(target)
            );
            assert!(req.raw_path_is_utf8());
        }
    }

    // Skyport patch 33: a request cloned with room keeps every field and takes that many more
    // without its value map growing.
    #[test]
    fn cloned_request_has_room_for_a_proxys_fields() {
        let mut req = RequestHeader::build("GET", b"/", Some(3)).unwrap();
        req.insert_header("Host", "example.com").unwrap();
        req.insert_header("user-agent", "t").unwrap();
        req.append_header("accept", "a").unwrap();
        req.append_header("accept", "b").unwrap();
        const ROOM: usize = 16;
        let mut copy = req.clone_with_room(ROOM);
        assert_eq!(copy.headers, req.headers);
        assert_eq!(copy.raw_path(), req.raw_path());
        let room = copy.headers.capacity();
        assert!(room >= req.headers.len() + ROOM, "{room}");
        for n in 0..ROOM {
            copy.insert_header(format!("x-added-{n}"), "v").unwrap();
        }
        assert_eq!(copy.headers.capacity(), room);
        assert_eq!(copy.headers.get_all("accept").iter().count(), 2);
        // A plain clone and the parts handed out are plain copies.
        assert_eq!(req.clone().headers, req.headers);
        assert_eq!(req.as_owned_parts().headers, req.headers);
    }

    #[test]
    fn test_non_origin_form_survives_clone_and_parts_round_trip() {
        let req = RequestHeader::build("GET", b"http://host:8080/p?q=1", None).unwrap();

        let cloned = req.clone();
        assert_eq!(req.raw_path(), cloned.raw_path());
        assert_eq!(req.uri.path(), cloned.uri.path());
        assert_eq!(req.raw_path_is_utf8(), cloned.raw_path_is_utf8());

        // ReqParts carries no raw target, so the round-trip falls back to the Uri and
        // yields the origin-form path rather than the original absolute-form target.
        let from_parts = RequestHeader::from(req.as_owned_parts());
        assert_eq!(b"/p?q=1", from_parts.raw_path());
        assert!(from_parts.raw_path_is_utf8());
    }

    #[test]
    fn test_connect_authority_form() {
        // Authority-form (§3.2.3) is CONNECT's only target form and must reach the tunnel
        // destination verbatim through raw_path(). Storing "example.com:443" as
        // path-and-query makes construction depend on whether the linked http version
        // requires origin-form's leading slash; rejection would break every CONNECT, not
        // one field. Rooting the Uri makes construction version-independent.
        let req = RequestHeader::build("CONNECT", b"example.com:443", None).unwrap();
        assert_eq!(b"example.com:443", req.raw_path());
        assert_eq!(None, req.uri.authority());
        assert_eq!("/", req.uri.path());
    }

    #[test]
    fn test_connect_authority_form_shapes_pass_through() {
        // Parsing deliberately does not validate the authority grammar: that belongs to
        // the authority module, which applications running custom protocols can opt out
        // of. What this level guarantees is that whichever shape arrives reaches the
        // tunnel destination byte-identically, covering both the IP-literal and reg-name
        // forms of RFC 3986 §3.2.2. The entire target is preserved in raw_path() for the wire.
        for target in [
            &b"[v7.x]:443"[..],
            b"[vF.a:b~!$&'()*+,;=]:8443",
            b"[::1]:443",
            b"[2001:db8::1]:8443",
            b"127.0.0.1:443",
            b"sub.example.com:8080",
            b"host-with-dash:1",
            b"a_b:443",
        ] {
            let req = RequestHeader::build("CONNECT", target, None).unwrap();
            let label = String::from_utf8_lossy(target);
            assert_eq!(target, req.raw_path(), "{label}");
            // These invalid path-and-query forms must construct regardless of which http
            // version is linked.
            assert_eq!("/", req.uri.path(), "{label}");
        }
    }

    #[test]
    fn test_set_raw_path_replaces_all_target_state() {
        // set_raw_path computes every field before storing any of them, so a mutation
        // leaves nothing from the previous target behind.
        //
        // The rejection half of that contract is not covered here: the pinned http
        // fork accepts every request-target, including spaces and control bytes, so
        // the error path is unreachable in this configuration. Forbidden bytes are
        // caught when the request-line is serialized instead.
        let mut req = RequestHeader::build("GET", b"/path-\xff", None).unwrap();
        assert!(!req.raw_path_is_utf8());
        assert!(matches!(req.raw_target, RawTarget::Lossy(_)));

        req.set_raw_path(b"/plain").unwrap();
        assert_eq!(b"/plain", req.raw_path());
        assert_eq!("/plain", req.uri.path());
        assert!(req.raw_path_is_utf8());
        assert_eq!(RawTarget::FromUri, req.raw_target);

        req.set_raw_path(b"http://host/abs?q=1").unwrap();
        assert_eq!(b"http://host/abs?q=1", req.raw_path());
        assert_eq!("/abs", req.uri.path());
        assert!(req.raw_path_is_utf8());
    }

    #[test]
    fn test_raw_target_variant_per_request_target_form() {
        // The variant alone decides both the wire bytes and whether they are UTF-8.
        // Storing "is there a stored copy" and "is it UTF-8" as separate fields allowed a
        // fourth, meaningless combination, and an empty stored copy that read as an empty
        // request-target rather than as "defer to the Uri".
        let req = RequestHeader::build("GET", b"http://host/path", None).unwrap();
        assert_eq!(
            RawTarget::Verbatim(b"http://host/path".to_vec().into()),
            req.raw_target
        );
        assert!(req.raw_path_is_utf8());

        let req = RequestHeader::build("CONNECT", b"example.com:443", None).unwrap();
        assert_eq!(
            RawTarget::Verbatim(b"example.com:443".to_vec().into()),
            req.raw_target
        );
        assert!(req.raw_path_is_utf8());

        let req = RequestHeader::build("GET", b"/path-\xff", None).unwrap();
        assert_eq!(
            RawTarget::Lossy(b"/path-\xff".to_vec().into()),
            req.raw_target
        );
        assert!(!req.raw_path_is_utf8());

        for target in [&b"/path"[..], b"*"] {
            let req = RequestHeader::build("GET", target, None).unwrap();
            let label = String::from_utf8_lossy(target);
            assert_eq!(RawTarget::FromUri, req.raw_target, "{label}");
            assert!(req.raw_path_is_utf8(), "{label}");
        }
    }

    #[test]
    fn test_set_raw_path_clears_stale_connect_fallback() {
        // Reusing a header: the CONNECT authority-form target must not survive into
        // a subsequent origin-form request via a stale RawTarget::Verbatim.
        let mut req = RequestHeader::build("CONNECT", b"example.com:443", None).unwrap();
        assert_eq!(b"example.com:443", req.raw_path());
        req.set_method(Method::GET);
        req.set_raw_path(b"/ok").unwrap();
        assert_eq!(b"/ok", req.raw_path());
        assert_eq!("/ok", req.uri.path());
    }

    #[test]
    fn test_absolute_form_set_raw_path_mutation() {
        // The mutation path, not just construction via build().
        let mut req = RequestHeader::build("GET", b"/original", None).unwrap();
        assert_eq!("/original", req.uri.path());
        req.set_raw_path(b"http://host/mutated?q=1").unwrap();
        assert_eq!("/mutated?q=1", req.uri.path_and_query().unwrap().as_str());
        assert_eq!("/mutated", req.uri.path());
    }

    #[test]
    fn test_absolute_form_with_port() {
        let req = RequestHeader::build("GET", b"http://host:8080/path", None).unwrap();
        assert_eq!("/path", req.uri.path());
    }

    #[test]
    fn test_absolute_form_uppercase_scheme() {
        // RFC 3986 §3.1: scheme is case-insensitive.
        let req = RequestHeader::build("GET", b"HTTP://HOST/path", None).unwrap();
        assert_eq!("/path", req.uri.path());
    }

    #[test]
    fn test_absolute_form_non_http_scheme() {
        // scheme().is_some() admits any valid scheme, not just http/https.
        let req = RequestHeader::build("GET", b"ftp://host/path", None).unwrap();
        assert_eq!("/path", req.uri.path());
    }

    #[test]
    fn test_origin_form_unchanged() {
        let req = RequestHeader::build("GET", b"/path?q=1", None).unwrap();
        assert_eq!("/path?q=1", req.uri.path_and_query().unwrap().as_str());
    }

    #[test]
    fn test_origin_form_with_scheme_in_query() {
        // An origin-form path whose query contains "://" must not be mistaken
        // for absolute-form (guarded by the starts_with('/') fast path).
        let req = RequestHeader::build("GET", b"/redir?url=http://other", None).unwrap();
        assert_eq!(
            "/redir?url=http://other",
            req.uri.path_and_query().unwrap().as_str()
        );
    }

    #[test]
    fn test_asterisk_form_unchanged() {
        let req = RequestHeader::build("OPTIONS", b"*", None).unwrap();
        assert_eq!("*", req.uri.path_and_query().unwrap().as_str());
    }

    #[test]
    fn test_authority_form_raw_path() {
        let mut req = RequestHeader::new_no_case(None);
        req.set_method(Method::CONNECT);
        req.set_uri(Uri::builder().authority("pingora.org:443").build().unwrap());

        assert!(req.uri.path_and_query().is_none());
        assert_eq!(b"pingora.org:443", req.raw_path());
        assert!(req.raw_path_is_utf8());
    }

    #[test]
    fn test_reason_phrase() {
        let mut resp = ResponseHeader::new(None);
        let reason = resp.get_reason_phrase().unwrap();
        assert_eq!(reason, "OK");

        resp.set_reason_phrase(Some("FooBar")).unwrap();
        let reason = resp.get_reason_phrase().unwrap();
        assert_eq!(reason, "FooBar");

        resp.set_reason_phrase(Some("OK")).unwrap();
        let reason = resp.get_reason_phrase().unwrap();
        assert_eq!(reason, "OK");

        resp.set_reason_phrase(None).unwrap();
        let reason = resp.get_reason_phrase().unwrap();
        assert_eq!(reason, "OK");
    }

    #[test]
    fn set_test_send_end_stream() {
        let mut req = RequestHeader::build("GET", b"/", None).unwrap();
        req.set_send_end_stream(true);

        // None for requests that are not h2
        assert!(req.send_end_stream().is_none());

        let mut req = RequestHeader::build("GET", b"/", None).unwrap();
        req.set_version(Version::HTTP_2);

        // Some(true) by default for h2
        assert!(req.send_end_stream().unwrap());

        req.set_send_end_stream(false);
        // Some(false)
        assert!(!req.send_end_stream().unwrap());
    }

    #[test]
    fn set_test_set_content_length() {
        let mut resp = ResponseHeader::new(None);
        resp.set_content_length(10).unwrap();

        assert_eq!(
            b"10",
            resp.headers
                .get(http::header::CONTENT_LENGTH)
                .map(|d| d.as_bytes())
                .unwrap()
        );
    }

    #[test]
    fn normalize_field_value_no_fold_is_zero_copy() {
        // The value has no newline at all -> the input `Bytes` must be
        // returned untouched (same allocation). We assert pointer/length
        // identity via `Bytes::ptr_eq` semantics: cloning a `Bytes` shares
        // the same underlying buffer, so comparing byte content + length
        // is sufficient to confirm no allocation happened.
        let input = bytes::Bytes::from_static(b"text/html; charset=utf-8");
        let out = normalize_field_value(input.clone());
        assert_eq!(out, input);
        assert_eq!(out.as_ptr(), input.as_ptr());
    }

    #[test]
    fn normalize_field_value_single_fold() {
        // CRLF + SP continuation collapses to a single SP.
        let input = bytes::Bytes::from_static(b"obs\r\n fold");
        assert_eq!(&normalize_field_value(input)[..], b"obs fold");
    }

    #[test]
    fn normalize_field_value_multiple_folds_mixed_ws() {
        // "obs\r\n fold\r\n\t line" -> "obs fold line". Each fold becomes
        // exactly one SP regardless of how many SP/HTAB chars the
        // continuation indented with.
        let input = bytes::Bytes::from_static(b"obs\r\n fold\r\n\t line");
        assert_eq!(&normalize_field_value(input)[..], b"obs fold line");
    }

    #[test]
    fn normalize_field_value_collapses_long_indent() {
        // Real-world CSP-style values often indent continuations with many
        // spaces. All of that indent collapses to a single SP.
        let input =
            bytes::Bytes::from_static(b"default-src 'self';\r\n        script-src 'self' blob:");
        assert_eq!(
            &normalize_field_value(input)[..],
            b"default-src 'self'; script-src 'self' blob:"
        );
    }

    #[test]
    fn normalize_field_value_removes_all_cr_and_lf() {
        // After normalization no CR or LF byte may survive in the value
        // (each obs-fold collapses to a single SP).
        let input = bytes::Bytes::from_static(b"a\r\n b\r\n c\r\n d");
        let out = normalize_field_value(input);
        assert!(!out.contains(&b'\r'));
        assert!(!out.contains(&b'\n'));
        assert_eq!(&out[..], b"a b c d");
    }

    #[test]
    fn normalize_field_value_bare_lf() {
        // Defensive: bare LF (no preceding CR) is also treated as a fold,
        // since the implementation splits on `\n` alone.
        let input = bytes::Bytes::from_static(b"obs\n fold");
        assert_eq!(&normalize_field_value(input)[..], b"obs fold");
    }

    #[test]
    fn normalize_field_value_empty() {
        let input = bytes::Bytes::new();
        let out = normalize_field_value(input.clone());
        assert_eq!(out, input);
    }

    #[test]
    fn header_value_from_raw_round_trip() {
        // End-to-end: a folded value parses into a HeaderValue whose bytes
        // contain no CR/LF and equal the normalized form.
        let hv = header_value_from_raw(bytes::Bytes::from_static(
            b"default-src 'self';\r\n script-src 'self'",
        ));
        assert_eq!(hv.as_bytes(), b"default-src 'self'; script-src 'self'");
    }

    #[test]
    fn header_value_unfolded_keeps_the_bytes() {
        let raw = bytes::Bytes::from_static(b"text/plain; q=\"a b\"\t\x80");
        let hv = header_value_unfolded(raw.clone());
        assert_eq!(hv.as_bytes(), &raw[..]);
        assert_eq!(hv, header_value_from_raw(raw));
    }

    #[test]
    fn header_value_from_raw_passthrough() {
        // No fold -> bytes preserved exactly.
        let hv = header_value_from_raw(bytes::Bytes::from_static(b"application/json"));
        assert_eq!(hv.as_bytes(), b"application/json");
    }

    // The remaining tests pin down the contract on edge-case inputs.
    // `header_value_from_raw` is `pub`, so any caller (not just our own
    // httparse-driven paths) can pass arbitrary bytes; these cases
    // document what they will get back.

    #[test]
    fn normalize_field_value_leading_newline_no_spurious_space() {
        // A value starting with a fold collapses to just the continuation,
        // with no spurious leading SP.
        let input = bytes::Bytes::from_static(b"\r\n fold");
        assert_eq!(&normalize_field_value(input)[..], b"fold");
    }

    #[test]
    fn normalize_field_value_trailing_newline_no_spurious_space() {
        // A trailing CRLF (or CRLF + WSP that ends the value) is dropped
        // without leaving a trailing SP.
        let input = bytes::Bytes::from_static(b"foo\r\n");
        assert_eq!(&normalize_field_value(input)[..], b"foo");

        let input = bytes::Bytes::from_static(b"a\r\n b\r\n");
        assert_eq!(&normalize_field_value(input)[..], b"a b");
    }

    #[test]
    fn normalize_field_value_only_newlines() {
        // Pathological input made entirely of newlines collapses to empty.
        assert_eq!(
            &normalize_field_value(bytes::Bytes::from_static(b"\r\n"))[..],
            b""
        );
        assert_eq!(
            &normalize_field_value(bytes::Bytes::from_static(b"\n"))[..],
            b""
        );
        assert_eq!(
            &normalize_field_value(bytes::Bytes::from_static(b"\r\n\r\n"))[..],
            b""
        );
    }

    #[test]
    fn normalize_field_value_replaces_bare_cr_with_sp() {
        // Per RFC 9110 section 5.5, stray CR / LF / NUL within a field
        // value MUST be replaced with SP (not stripped, not left in place).
        let cases: &[(&[u8], &[u8])] = &[
            (b"foo\rbar", b"foo bar"),
            (b"foo\r", b"foo "),
            (b"\rfoo", b" foo"),
            (b"\r", b" "),
            (b"\r\r\r", b"   "),
        ];
        for (input, expected) in cases {
            let out = normalize_field_value(bytes::Bytes::copy_from_slice(input));
            assert_eq!(&out[..], *expected, "input = {input:?}");
            assert!(!out.contains(&b'\r'));
            assert!(!out.contains(&b'\n'));
            assert!(!out.contains(&b'\0'));
        }
    }

    #[test]
    fn normalize_field_value_replaces_cr_mid_segment_with_sp() {
        // Mid-segment CR (sits inside a segment, not at a boundary the
        // trim helpers reach) is replaced with SP per RFC 9110 section 5.5.
        let input = bytes::Bytes::from_static(b"foo\rbar\r\n baz");
        assert_eq!(&normalize_field_value(input)[..], b"foo bar baz");
    }

    #[test]
    fn normalize_field_value_replaces_nul_with_sp() {
        // NUL within a field value MUST be replaced with SP per RFC 9110
        // section 5.5. Covers NUL standalone, between CR and LF, and after
        // CRLF.
        let cases: &[(&[u8], &[u8])] = &[
            (b"foo\0bar", b"foo bar"),
            (b"\0\0\0", b"   "),
            (b"foo\0", b"foo "),
            // NUL between CR and LF: each is a stray byte -> three SPs.
            (b"foo\r\0\nbar", b"foo   bar"),
            // NUL after CRLF: CRLF treated as a fold boundary (one SP),
            // NUL replaced with one SP -> two SPs total.
            (b"foo\r\n\0bar", b"foo  bar"),
        ];
        for (input, expected) in cases {
            let out = normalize_field_value(bytes::Bytes::copy_from_slice(input));
            assert_eq!(&out[..], *expected, "input = {input:?}");
            assert!(!out.contains(&b'\r'));
            assert!(!out.contains(&b'\n'));
            assert!(!out.contains(&b'\0'));
        }
    }

    #[test]
    fn header_value_from_raw_handles_invalid_bytes() {
        // Bare CR and NUL aren't valid `field-content`, but
        // `normalize_field_value` replaces them with SP before the
        // unchecked constructor sees them, so no invalid byte ever reaches
        // `HeaderValue`.
        let hv = header_value_from_raw(bytes::Bytes::from_static(b"foo\rbar\0baz"));
        assert_eq!(hv.as_bytes(), b"foo bar baz");
    }
}
