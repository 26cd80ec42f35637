//! A plugin's [`UpstreamEdit`] applied to the upstream request: headers before the gateway's
//! own, then the request line, Host and body length; and the body swapped as it streams.

use crate::plugins::UpstreamEdit;
use bytes::Bytes;
use pingora::http::RequestHeader;
use pingora::Result;

/// Headers set or removed, by the names configured (case kept for HTTP/1).
pub fn headers(e: &UpstreamEdit, upstream: &mut RequestHeader) -> Result<()> {
    for (name, values) in &e.headers {
        upstream.remove_header(name.as_str());
        for v in values {
            upstream.append_header(name.clone(), v.clone())?;
        }
    }
    Ok(())
}

/// Method, path, query, Host and the replaced body's length.
pub fn request_line(e: &mut UpstreamEdit, upstream: &mut RequestHeader) -> Result<()> {
    // A new attempt (a retry) sends the replacement body again.
    e.body_sent = false;
    if let Some(m) = &e.method {
        upstream.set_method(m.clone());
    }
    if e.path.is_some() || e.query.is_some() {
        let path = e.path.as_deref().unwrap_or(upstream.uri.path());
        let query = match &e.query {
            Some(q) => Some(q.as_str()),
            None => upstream.uri.query(),
        };
        let text = match query.filter(|q| !q.is_empty()) {
            Some(q) => format!("{path}?{q}"),
            None => path.to_string(),
        };
        let uri = http::Uri::try_from(text).map_err(|e| {
            pingora::Error::because(
                pingora::ErrorType::InternalError,
                "request-transformer made an invalid upstream URI",
                e,
            )
        })?;
        upstream.set_uri(uri);
    }
    if let Some(h) = &e.host {
        upstream.insert_header(http::header::HOST, h.clone())?;
    }
    if let Some(b) = &e.body {
        upstream.remove_header(&http::header::TRANSFER_ENCODING);
        upstream.insert_header(http::header::CONTENT_LENGTH, b.len().to_string())?;
    }
    Ok(())
}

/// One step of the request body: the replacement goes out in place of the first chunk (or of
/// the end of an empty body) and nothing after it; bytes read ahead go before the next chunk.
pub fn request_body(e: &mut UpstreamEdit, chunk: &mut Option<Bytes>) {
    if let Some(b) = &e.body {
        *chunk = (!e.body_sent).then(|| b.clone());
        e.body_sent = true;
        return;
    }
    if let Some(prefix) = e.body_prefix.take() {
        let mut joined = bytes::BytesMut::from(&prefix[..]);
        if let Some(c) = chunk.take() {
            joined.extend_from_slice(&c);
        }
        *chunk = Some(joined.freeze());
    }
}
