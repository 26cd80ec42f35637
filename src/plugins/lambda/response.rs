//! Mapping what Lambda returned to what the client gets: Lambda's status and payload by
//! default, or the function's own status/headers/body with `is_proxy_integration`.

use crate::error::Exit;
use base64::Engine;
use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use serde_json::Value;

/// A completed invocation.
#[derive(Debug, Default)]
pub struct Invoked {
    /// 200 (RequestResponse), 202 (Event) or 204 (DryRun).
    pub status: u16,
    /// `Unhandled` / `Handled` when the function failed.
    pub function_error: Option<String>,
    /// The function's answer.
    pub payload: Bytes,
    /// The version that ran.
    pub executed_version: Option<String>,
    /// Base64 log tail (only when `log_type: Tail` was asked for).
    pub log_result: Option<String>,
    /// AWS request id.
    pub request_id: Option<String>,
}

const JSON: HeaderValue = HeaderValue::from_static("application/json");

fn push(headers: &mut Vec<(HeaderName, HeaderValue)>, name: &'static str, value: Option<&str>) {
    if let Some(v) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
        headers.push((HeaderName::from_static(name), v));
    }
}

/// Kong's `empty_arrays_mode: legacy`: every empty array of a JSON answer becomes `{}`.
pub fn legacy_empty_arrays(payload: &Bytes) -> Bytes {
    fn fix(v: &mut Value) {
        match v {
            Value::Array(a) if a.is_empty() => *v = Value::Object(Default::default()),
            Value::Array(a) => a.iter_mut().for_each(fix),
            Value::Object(m) => m.values_mut().for_each(fix),
            _ => {}
        }
    }
    match serde_json::from_slice::<Value>(payload) {
        Ok(mut v) => {
            fix(&mut v);
            serde_json::to_vec(&v)
                .map(Bytes::from)
                .unwrap_or_else(|_| payload.clone())
        }
        Err(_) => payload.clone(),
    }
}

/// Default mapping: Lambda's status (or `unhandled_status` for an unhandled function error),
/// Lambda's headers, the payload unchanged.
pub fn default_exit(inv: &Invoked, unhandled_status: Option<u16>) -> Exit {
    let mut headers = Vec::new();
    push(&mut headers, "x-amzn-requestid", inv.request_id.as_deref());
    push(
        &mut headers,
        "x-amz-executed-version",
        inv.executed_version.as_deref(),
    );
    push(
        &mut headers,
        "x-amz-function-error",
        inv.function_error.as_deref(),
    );
    push(&mut headers, "x-amz-log-result", inv.log_result.as_deref());
    let status = match (&inv.function_error, unhandled_status) {
        (Some(e), Some(s)) if e == "Unhandled" => s,
        _ => inv.status,
    };
    Exit {
        status,
        headers,
        body: inv.payload.clone(),
        content_type: JSON,
        proxied: false,
    }
}

/// Proxy-integration mapping; `Err` is the reason the response is unusable.
pub fn proxy_exit(payload: &[u8]) -> Result<Exit, String> {
    let v: Value = serde_json::from_slice(payload).map_err(|e| e.to_string())?;
    let obj = v.as_object().ok_or("expected a JSON object")?;
    let status = match obj.get("statusCode") {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|s| s.fract() == 0.0 && (100.0..=599.0).contains(s))
    .ok_or("statusCode validation failed")? as u16;
    let mut headers: Vec<(HeaderName, HeaderValue)> = Vec::new();
    let mut content_type = None;
    let mut add =
        |k: &str, v: &Value, headers: &mut Vec<(HeaderName, HeaderValue)>| -> Result<(), String> {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Number(_) | Value::Bool(_) => v.to_string(),
                _ => return Err(format!("header '{k}' must be a string")),
            };
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| format!("invalid header name '{k}'"))?;
            let value = HeaderValue::from_str(&text)
                .map_err(|_| format!("invalid value for header '{k}'"))?;
            // Framing is ours to decide.
            if matches!(
                name.as_str(),
                "content-length" | "transfer-encoding" | "connection" | "keep-alive"
            ) {
                return Ok(());
            }
            if name == http::header::CONTENT_TYPE {
                content_type = Some(value);
            } else {
                headers.retain(|(n, _)| n != name);
                headers.push((name, value));
            }
            Ok(())
        };
    match obj.get("headers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(h)) => {
            for (k, v) in h {
                add(k, v, &mut headers)?;
            }
        }
        Some(_) => return Err("headers must be a table".into()),
    }
    match obj.get("multiValueHeaders") {
        None | Some(Value::Null) => {}
        Some(Value::Object(h)) => {
            for (k, v) in h {
                match v {
                    Value::Array(values) => {
                        let name = HeaderName::from_bytes(k.as_bytes())
                            .map_err(|_| format!("invalid header name '{k}'"))?;
                        headers.retain(|(n, _)| *n != name);
                        for item in values {
                            let mut one = Vec::new();
                            add(k, item, &mut one)?;
                            headers.extend(one);
                        }
                    }
                    other => add(k, other, &mut headers)?,
                }
            }
        }
        Some(_) => return Err("multiValueHeaders must be a table".into()),
    }
    let encoded = match obj.get("isBase64Encoded") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err("isBase64Encoded must be a boolean".into()),
    };
    let body = match obj.get("body") {
        None | Some(Value::Null) => Bytes::new(),
        Some(Value::String(s)) if encoded => Bytes::from(
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|e| format!("body is not valid base64: {e}"))?,
        ),
        Some(Value::String(s)) => Bytes::from(s.clone()),
        Some(_) => return Err("body must be a string".into()),
    };
    Ok(Exit {
        status,
        headers,
        body,
        content_type: content_type.unwrap_or(JSON),
        proxied: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_integration_maps_status_headers_and_body() {
        let e = proxy_exit(br#"{"statusCode":"201","headers":{"X-A":"1","Content-Type":"text/plain"},"multiValueHeaders":{"Set-Cookie":["a=1","b=2"]},"body":"hi"}"#).expect("valid");
        assert_eq!(e.status, 201);
        assert_eq!(e.content_type, "text/plain");
        assert_eq!(&e.body[..], b"hi");
        let cookies: Vec<_> = e
            .headers
            .iter()
            .filter(|(k, _)| k == "set-cookie")
            .map(|(_, v)| v.clone())
            .collect();
        assert_eq!(cookies, vec!["a=1", "b=2"]);
        let e = proxy_exit(br#"{"statusCode":200,"isBase64Encoded":true,"body":"aGk="}"#)
            .expect("valid");
        assert_eq!(&e.body[..], b"hi");
    }

    #[test]
    fn proxy_integration_violations_name_the_reason() {
        let cases: [(&[u8], &str); 6] = [
            (br#"{"statusCode":700}"#, "statusCode validation failed"),
            (br#"{"body":"x"}"#, "statusCode validation failed"),
            (
                br#"{"statusCode":200,"headers":[1]}"#,
                "headers must be a table",
            ),
            (br#"{"statusCode":200,"body":{}}"#, "body must be a string"),
            (
                br#"{"statusCode":200,"isBase64Encoded":"yes"}"#,
                "isBase64Encoded must be a boolean",
            ),
            (br#"[1,2]"#, "expected a JSON object"),
        ];
        for (payload, want) in cases {
            assert_eq!(proxy_exit(payload).err().as_deref(), Some(want));
        }
        assert!(proxy_exit(b"not json").is_err());
    }

    #[test]
    fn unhandled_status_replaces_the_status_of_unhandled_errors_only() {
        let inv = Invoked {
            status: 200,
            function_error: Some("Unhandled".into()),
            ..Default::default()
        };
        assert_eq!(default_exit(&inv, Some(502)).status, 502);
        assert_eq!(default_exit(&inv, None).status, 200);
    }
}
