//! Reading a small request body in the access phase (plugins that look into it): Pingora
//! replays a body read there to the upstream, up to [`MAX_BODY`]; a larger one is not read
//! whole, and what was read ahead is handed back to be sent first.

use crate::error::GatewayError;
use bytes::Bytes;
use pingora::proxy::Session;

/// The most of a body read in the access phase (Pingora's replay buffer).
pub const MAX_BODY: usize = 64 * 1024;

/// Reads the whole body when it is at most [`MAX_BODY`]: `Ok(Ok(body))`; otherwise what was
/// read so far (`Ok(Err(prefix))`), to be sent ahead of the rest unchanged.
pub async fn read_body(session: &mut Session) -> Result<Result<Bytes, Bytes>, GatewayError> {
    let declared = session
        .req_header()
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY) {
        return Ok(Err(Bytes::new()));
    }
    // Pingora replays a body read here to the upstream (up to MAX_BODY).
    session.enable_retry_buffering();
    let mut body = bytes::BytesMut::new();
    loop {
        match session.read_request_body().await {
            Ok(Some(chunk)) => {
                body.extend_from_slice(&chunk);
                if body.len() > MAX_BODY {
                    return Ok(Err(body.freeze()));
                }
            }
            Ok(None) => return Ok(Ok(body.freeze())),
            Err(_) => return Err(GatewayError::BadRequest),
        }
    }
}

/// The bodies Kong's plugins read (`kong.request.get_body`): JSON and form-encoded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BodyKind {
    Json,
    Form,
}

/// The kind of a request's body, from its `Content-Type`.
pub fn kind(headers: &http::HeaderMap) -> Option<BodyKind> {
    let ct = headers
        .get(http::header::CONTENT_TYPE)?
        .to_str()
        .ok()?
        .to_ascii_lowercase();
    if ct.contains("application/json") {
        Some(BodyKind::Json)
    } else if ct.contains("application/x-www-form-urlencoded") {
        Some(BodyKind::Form)
    } else {
        None
    }
}
