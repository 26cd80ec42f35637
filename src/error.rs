//! The one place that turns any gateway-made answer into status + headers + body.
//!
//! Two shapes, as Kong has them: *gateway errors* (no route, upstream failure, internal error)
//! use a template chosen from `Accept` and carry the request id; *plugin exits* (a 401 from
//! `jwt`, a 429 from `rate-limiting`) are plain JSON objects built by the plugin.

use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use pingora::http::ResponseHeader;

/// The `Server` header on responses Skyport makes itself.
pub const SERVER: &str = concat!("skyport/", env!("CARGO_PKG_VERSION"));

/// Every failure Skyport answers itself, with Kong's status and message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GatewayError {
    /// No route matched.
    #[error("no Route matched with those values")]
    NoRoute,
    /// The matched route has no service and no plugin answered.
    #[error("no Service found with those values")]
    NoService,
    /// Connect, read or write to the upstream timed out.
    #[error("The upstream server is timing out")]
    UpstreamTimeout,
    /// The upstream refused, reset, or answered garbage.
    #[error("An invalid response was received from the upstream server")]
    UpstreamInvalid,
    /// The service's host name did not resolve.
    #[error("name resolution failed")]
    NameResolution,
    /// Every target of the service's upstream is down or disabled.
    #[error("failure to get a peer from the ring-balancer")]
    NoPeer,
    /// Anything unexpected; the detail goes to the log, not to the client.
    #[error("An unexpected error occurred")]
    Internal(String),
    /// A malformed request.
    #[error("Bad request")]
    BadRequest,
    /// TRACE, or a method the gateway refuses.
    #[error("Method not allowed")]
    MethodNotAllowed,
    /// An https-only route reached over plain http (426 with `Upgrade`, or a redirect).
    #[error("Please use HTTPS protocol")]
    UseHttps {
        /// 426, or 301/302/307/308.
        status: u16,
        /// Where a redirect points (`https://host/uri`).
        location: String,
    },
    /// A gRPC request over plain HTTP/2 matched a route of `grpcs` only: Kong answers 200
    /// with gRPC status 1 (cancelled) and no body.
    #[error("gRPC request matched gRPCs route")]
    GrpcsOnly,
    /// A rate limit was hit (`rate-limiting`'s `error_code` and `error_message`).
    #[error("{message}")]
    Limited {
        /// The status to answer with (default 429).
        status: u16,
        /// The message (default `API rate limit exceeded`).
        message: String,
    },
    /// A plugin refused the request with Kong's error template (`kong.response.error`): an
    /// authentication failure, a denied address or group, an oversized body.
    #[error("{message}")]
    Refused {
        /// The status (401, 403, 411, 413, 417 ...).
        status: u16,
        /// The message in the body.
        message: std::borrow::Cow<'static, str>,
        /// Extra headers (e.g. `WWW-Authenticate`).
        headers: Vec<(HeaderName, HeaderValue)>,
    },
    /// The request body is larger than `client_max_body_size`.
    #[error("Request size limit exceeded")]
    BodyTooLarge,
    /// The request header block is too large.
    #[error("Request header or cookie too large")]
    HeaderTooLarge,
    /// The client went silent while sending its body.
    #[error("Request timeout")]
    RequestTimeout,
}

impl GatewayError {
    /// A plugin's refusal with Kong's error template.
    pub fn refused(
        status: u16,
        message: impl Into<std::borrow::Cow<'static, str>>,
    ) -> GatewayError {
        GatewayError::Refused {
            status,
            message: message.into(),
            headers: Vec::new(),
        }
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> u16 {
        match self {
            GatewayError::NoRoute => 404,
            GatewayError::NoService | GatewayError::NameResolution | GatewayError::NoPeer => 503,
            GatewayError::UpstreamTimeout => 504,
            GatewayError::UpstreamInvalid => 502,
            GatewayError::Internal(_) => 500,
            GatewayError::BadRequest | GatewayError::HeaderTooLarge => 400,
            GatewayError::MethodNotAllowed => 405,
            GatewayError::GrpcsOnly => 200,
            GatewayError::BodyTooLarge => 413,
            GatewayError::RequestTimeout => 408,
            GatewayError::UseHttps { status, .. }
            | GatewayError::Limited { status, .. }
            | GatewayError::Refused { status, .. } => *status,
        }
    }

    /// Errors of the proxying layer (nginx-level in Kong) fall back to the request's
    /// content type and then to text; routing and plugin errors default to JSON.
    fn proxy_level(&self) -> bool {
        matches!(
            self,
            GatewayError::UpstreamTimeout
                | GatewayError::UpstreamInvalid
                | GatewayError::BadRequest
                | GatewayError::BodyTooLarge
                | GatewayError::HeaderTooLarge
                | GatewayError::RequestTimeout
        )
    }

    /// Maps a Pingora error raised while proxying to the answer the client gets: a failure
    /// Skyport decided itself rides in the error's cause and is answered as it is; the rest
    /// by Pingora's error type and source.
    pub fn from_proxy_error(e: &pingora::Error) -> GatewayError {
        use pingora::ErrorSource;
        use pingora::ErrorType::*;
        if let Some(own) = e.root_cause().downcast_ref::<GatewayError>() {
            return own.clone();
        }
        match e.etype() {
            ReadTimedout if e.esource() == &ErrorSource::Downstream => GatewayError::RequestTimeout,
            ConnectTimedout | ReadTimedout | WriteTimedout | TLSHandshakeTimedout => {
                GatewayError::UpstreamTimeout
            }
            HTTPStatus(413) => GatewayError::BodyTooLarge,
            HTTPStatus(code) if *code == 400 || *code == 431 => GatewayError::BadRequest,
            InvalidHTTPHeader | H1Error | H2Error if e.esource() == &ErrorSource::Downstream => {
                GatewayError::BadRequest
            }
            Custom(_) | CustomCode(_, _) if e.esource() == &ErrorSource::Internal => {
                GatewayError::Internal(e.to_string())
            }
            _ => GatewayError::UpstreamInvalid,
        }
    }
}

/// The body formats a gateway error can be rendered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Text,
    Html,
    Xml,
}

impl Format {
    fn mime(self) -> &'static str {
        match self {
            Format::Json => "application/json; charset=utf-8",
            Format::Text => "text/plain; charset=utf-8",
            Format::Html => "text/html; charset=utf-8",
            Format::Xml => "application/xml; charset=utf-8",
        }
    }

    /// Kong's format for one media type (`tools/http.lua get_mime_type`): `*/*` and anything
    /// unknown is JSON, `text/*` text, `application/*` JSON.
    fn of_media_type(m: &str) -> Format {
        let m = m
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match m.split_once('/') {
            Some(("text", "*" | "plain")) => Format::Text,
            Some(("text", "html")) => Format::Html,
            Some(("application", "xml")) => Format::Xml,
            _ => Format::Json,
        }
    }

    /// Kong's choice from an `Accept` (or `Content-Type`) header: the first media type of the
    /// highest quality; JSON when there is none (`get_response_type`).
    pub fn negotiate(accept: Option<&str>) -> Format {
        let mut best = (0.0_f32, Format::Json);
        for part in accept.unwrap_or("").split(',') {
            let mut pieces = part.split(';');
            let media = pieces.next().unwrap_or("").trim();
            if media.is_empty() {
                continue;
            }
            let q = pieces
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|v| v.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if q > best.0 {
                best = (q, Format::of_media_type(media));
            }
        }
        best.1
    }
}

/// What the client asked for, as far as error rendering cares.
#[derive(Debug, Default, Clone, Copy)]
pub struct RenderHints<'a> {
    /// The request's `Accept` header.
    pub accept: Option<&'a str>,
    /// The request's `Content-Type` header.
    pub content_type: Option<&'a str>,
    /// A HEAD request gets headers only.
    pub head: bool,
}

/// A rendered response: the header and (for non-HEAD requests) the body.
pub struct Rendered {
    /// Status and headers.
    pub header: ResponseHeader,
    /// The body, empty for HEAD.
    pub body: Bytes,
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Renders a gateway error with Kong's templates.
pub fn render_error(err: &GatewayError, hints: RenderHints<'_>, request_id: &str) -> Rendered {
    // As Kong: an nginx-level error (upstream failures, bad requests) reads `Accept`, else
    // `Content-Type`, else `error_default_type` (text/plain); the others read `Accept` only.
    let format = if err.proxy_level() {
        Format::negotiate(Some(
            hints.accept.or(hints.content_type).unwrap_or("text/plain"),
        ))
    } else {
        Format::negotiate(hints.accept)
    };
    let msg = err.to_string();
    if *err == GatewayError::GrpcsOnly {
        let grpc = [
            (
                HeaderName::from_static("grpc-status"),
                HeaderValue::from_static("1"),
            ),
            (
                HeaderName::from_static("grpc-message"),
                HeaderValue::from_static("gRPC request matched gRPCs route"),
            ),
        ];
        let ct = HeaderValue::from_static("application/grpc");
        return build(200, ct, &grpc, Bytes::new(), hints.head);
    }
    let body = match format {
        Format::Json => format!(
            "{{\n  \"message\":{},\n  \"request_id\":\"{request_id}\"\n}}",
            serde_json::Value::String(msg)
        ),
        Format::Text => format!("{msg}\nrequest_id: {request_id}\n"),
        Format::Html => format!(
            "<!doctype html>\n<html>\n  <head>\n    <meta charset=\"utf-8\">\n    <title>Error</title>\n  </head>\n  <body>\n    <h1>Error</h1>\n    <p>{}.</p>\n    <p>request_id: {request_id}</p>\n  </body>\n</html>\n",
            escape_html(&msg)
        ),
        Format::Xml => format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<error>\n  <message>{}</message>\n  <requestid>{request_id}</requestid>\n</error>\n",
            escape_html(&msg)
        ),
    };
    let mut extra = Vec::with_capacity(1);
    if let GatewayError::UseHttps { status, location } = err {
        if *status == 426 {
            extra.push((
                http::header::CONNECTION,
                HeaderValue::from_static("Upgrade"),
            ));
            extra.push((
                http::header::UPGRADE,
                HeaderValue::from_static("TLS/1.2, HTTP/1.1"),
            ));
        } else if let Ok(v) = HeaderValue::from_str(location) {
            extra.push((http::header::LOCATION, v));
        }
    }
    if let GatewayError::Refused { headers, .. } = err {
        extra.extend(headers.iter().cloned());
    }
    if err.status() == 405 {
        extra.push((
            http::header::ALLOW,
            HeaderValue::from_static("GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"),
        ));
    }
    build(
        err.status(),
        HeaderValue::from_static(format.mime()),
        &extra,
        Bytes::from(body),
        hints.head,
    )
}

/// A plugin's answer: a status, extra headers and a JSON body (Kong's `kong.response.exit`).
#[derive(Debug, Clone)]
pub struct Exit {
    /// Status code.
    pub status: u16,
    /// Headers added to the answer.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The body bytes.
    pub body: Bytes,
    /// The body's content type.
    pub content_type: HeaderValue,
    /// The answer comes from a service the plugin called (Lambda): it carries `Via` as
    /// proxied answers do.
    pub proxied: bool,
}

impl Exit {
    /// A JSON exit `{"message": msg}`.
    pub fn message(status: u16, msg: &str) -> Exit {
        Exit::json(status, &serde_json::json!({ "message": msg }))
    }

    /// A JSON exit with any JSON body.
    pub fn json(status: u16, body: &serde_json::Value) -> Exit {
        Exit {
            status,
            headers: Vec::new(),
            body: Bytes::from(body.to_string()),
            content_type: HeaderValue::from_static("application/json; charset=utf-8"),
            proxied: false,
        }
    }

    /// An exit with no body (and no `Content-Type`), as Kong's `kong.response.exit(status)`.
    pub fn empty(status: u16) -> Exit {
        Exit {
            status,
            headers: Vec::new(),
            body: Bytes::new(),
            content_type: HeaderValue::from_static(""),
            proxied: false,
        }
    }

    /// Adds a header to the exit.
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Exit {
        self.headers.push((name, value));
        self
    }
}

/// Renders a plugin exit.
pub fn render_exit(exit: &Exit, head: bool) -> Rendered {
    build(
        exit.status,
        exit.content_type.clone(),
        &exit.headers,
        exit.body.clone(),
        head,
    )
}

fn build(
    status: u16,
    content_type: HeaderValue,
    extra: &[(HeaderName, HeaderValue)],
    body: Bytes,
    head: bool,
) -> Rendered {
    // Every value here is a valid header by construction, so a failure would be a
    // programming error; fall back to a bare 500 header rather than panic.
    let header = (|| -> pingora::Result<ResponseHeader> {
        // `Server` is the proxy's to add (it follows the `headers` setting).
        let mut h = ResponseHeader::build(status, Some(4 + extra.len()))?;
        if !content_type.is_empty() {
            h.insert_header(http::header::CONTENT_TYPE, content_type)?;
        }
        h.insert_header(http::header::CONTENT_LENGTH, body.len().to_string())?;
        for (k, v) in extra {
            h.append_header(k.clone(), v.clone())?;
        }
        Ok(h)
    })()
    .or_else(|_| ResponseHeader::build(500, None))
    .unwrap_or_else(|_| ResponseHeader::build_no_case(500, None).expect("static 500 header"));
    Rendered {
        header,
        body: if head { Bytes::new() } else { body },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_of(err: &GatewayError, accept: Option<&str>) -> (u16, String, String) {
        let r = render_error(
            err,
            RenderHints {
                accept,
                ..Default::default()
            },
            "abc",
        );
        let ct = r
            .header
            .headers
            .get("content-type")
            .map(|v| v.to_str().unwrap_or("").to_string())
            .unwrap_or_default();
        (
            r.header.status.as_u16(),
            ct,
            String::from_utf8_lossy(&r.body).into_owned(),
        )
    }

    #[test]
    fn every_error_class_has_kongs_status_and_message() {
        let cases = [
            (
                GatewayError::NoRoute,
                404,
                "no Route matched with those values",
            ),
            (
                GatewayError::NoService,
                503,
                "no Service found with those values",
            ),
            (
                GatewayError::UpstreamTimeout,
                504,
                "The upstream server is timing out",
            ),
            (
                GatewayError::UpstreamInvalid,
                502,
                "An invalid response was received from the upstream server",
            ),
            (GatewayError::NameResolution, 503, "name resolution failed"),
            (
                GatewayError::NoPeer,
                503,
                "failure to get a peer from the ring-balancer",
            ),
            (
                GatewayError::Internal("x".into()),
                500,
                "An unexpected error occurred",
            ),
            (GatewayError::BadRequest, 400, "Bad request"),
            (GatewayError::MethodNotAllowed, 405, "Method not allowed"),
            (
                GatewayError::HeaderTooLarge,
                400,
                "Request header or cookie too large",
            ),
        ];
        for (err, status, msg) in cases {
            let (s, ct, body) = body_of(&err, Some("application/json"));
            assert_eq!(s, status);
            assert!(ct.starts_with("application/json"));
            assert_eq!(
                body,
                format!("{{\n  \"message\":\"{msg}\",\n  \"request_id\":\"abc\"\n}}")
            );
        }
    }

    #[test]
    fn proxy_errors_map_to_kongs_answers() {
        use pingora::{Error, ErrorSource as S, ErrorType as T};
        let cases: Vec<(Box<Error>, S, GatewayError)> = vec![
            (
                Error::new(T::ReadTimedout),
                S::Downstream,
                GatewayError::RequestTimeout,
            ),
            (
                Error::new(T::ReadTimedout),
                S::Upstream,
                GatewayError::UpstreamTimeout,
            ),
            (
                Error::new(T::ConnectTimedout),
                S::Upstream,
                GatewayError::UpstreamTimeout,
            ),
            (
                Error::new(T::WriteTimedout),
                S::Upstream,
                GatewayError::UpstreamTimeout,
            ),
            (
                Error::new(T::TLSHandshakeTimedout),
                S::Upstream,
                GatewayError::UpstreamTimeout,
            ),
            (
                Error::new(T::HTTPStatus(413)),
                S::Downstream,
                GatewayError::BodyTooLarge,
            ),
            (
                Error::new(T::HTTPStatus(400)),
                S::Downstream,
                GatewayError::BadRequest,
            ),
            (
                Error::new(T::HTTPStatus(431)),
                S::Downstream,
                GatewayError::BadRequest,
            ),
            (
                Error::new(T::InvalidHTTPHeader),
                S::Downstream,
                GatewayError::BadRequest,
            ),
            (
                Error::new(T::H1Error),
                S::Downstream,
                GatewayError::BadRequest,
            ),
            (
                Error::new(T::H2Error),
                S::Downstream,
                GatewayError::BadRequest,
            ),
            (
                Error::new(T::H1Error),
                S::Upstream,
                GatewayError::UpstreamInvalid,
            ),
            (
                Error::new(T::InvalidHTTPHeader),
                S::Upstream,
                GatewayError::UpstreamInvalid,
            ),
            (
                Error::new(T::ConnectRefused),
                S::Upstream,
                GatewayError::UpstreamInvalid,
            ),
            (
                Error::new(T::ConnectionClosed),
                S::Upstream,
                GatewayError::UpstreamInvalid,
            ),
            (
                Error::new(T::TLSHandshakeFailure),
                S::Upstream,
                GatewayError::UpstreamInvalid,
            ),
            (
                Error::because(T::ConnectNoRoute, "x", GatewayError::NameResolution),
                S::Upstream,
                GatewayError::NameResolution,
            ),
            (
                Error::because(T::ConnectNoRoute, "x", GatewayError::NoPeer),
                S::Upstream,
                GatewayError::NoPeer,
            ),
            (
                Error::because(T::InternalError, "x", GatewayError::NoService),
                S::Internal,
                GatewayError::NoService,
            ),
        ];
        for (mut e, source, want) in cases {
            let label = format!("{:?} from {source:?}", e.etype());
            e.esource = source;
            assert_eq!(GatewayError::from_proxy_error(&e), want, "{label}");
        }
        let mut custom = Error::new(T::Custom("boom"));
        custom.esource = S::Internal;
        assert!(matches!(
            GatewayError::from_proxy_error(&custom),
            GatewayError::Internal(_)
        ));
    }

    #[test]
    fn accept_picks_the_template() {
        let (_, ct, body) = body_of(&GatewayError::NoRoute, Some("text/html;q=0.5, text/plain"));
        assert!(ct.starts_with("text/plain"));
        assert_eq!(
            body,
            "no Route matched with those values\nrequest_id: abc\n"
        );
        let (_, ct, body) = body_of(&GatewayError::NoRoute, Some("application/xml"));
        assert!(ct.starts_with("application/xml"));
        assert!(body.contains("<message>no Route matched with those values</message>"));
        let (_, ct, _) = body_of(&GatewayError::NoRoute, Some("text/html"));
        assert!(ct.starts_with("text/html"));
    }

    #[test]
    fn defaults_json_for_routing_and_text_for_upstream_errors_without_accept() {
        let (_, ct, _) = body_of(&GatewayError::NoRoute, None);
        assert!(ct.starts_with("application/json"));
        let (_, ct, _) = body_of(&GatewayError::UpstreamTimeout, None);
        assert!(ct.starts_with("text/plain"));
        // Kong's error handler: `*/*` (what curl sends) and unknown types are JSON.
        let (_, ct, _) = body_of(&GatewayError::UpstreamTimeout, Some("*/*"));
        assert!(ct.starts_with("application/json"));
        let (_, ct, _) = body_of(&GatewayError::UpstreamInvalid, Some("image/png"));
        assert!(ct.starts_with("application/json"));
        let (_, ct, _) = body_of(&GatewayError::UpstreamInvalid, Some("text/*"));
        assert!(ct.starts_with("text/plain"));
        let (_, ct, _) = body_of(
            &GatewayError::NoRoute,
            Some("text/plain;q=0.5, text/html;q=0.5"),
        );
        assert!(
            ct.starts_with("text/plain"),
            "the first of the highest quality"
        );
    }
}
