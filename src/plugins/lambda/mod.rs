//! Kong's `aws-lambda` plugin (priority 750): a terminating step. The route's service, if any,
//! is never contacted: the request becomes a Lambda Invoke (SigV4 by the AWS SDK) and the
//! function's answer becomes the response. Better than Kong: AWS failures answer 502/504 with
//! a JSON body naming the cause, TLS to Lambda is verified, and the log tail is forwarded
//! only when `log_type: Tail` is asked for.

pub mod client;
pub mod config;
pub mod payload;
pub mod response;

use crate::error::{Exit, GatewayError};
use crate::plugins::factory::{CheckCtx, Checked, Factory, FieldIssues};
use crate::plugins::{BuildCtx, Flow, Plugin, RequestState, Scope};
use async_trait::async_trait;
use aws_sdk_lambda::error::SdkError;
use aws_sdk_lambda::operation::invoke::InvokeError;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{InvocationType, LogType};
use bytes::Bytes;
use client::ClientKey;
pub use config::LambdaConfig;
use pingora::proxy::Session;
use response::Invoked;
use serde_json::json;
use std::sync::Arc;

/// Lambda's synchronous payload limit; larger bodies are refused (or skipped, as Kong's
/// `skip_large_bodies` does).
const MAX_BODY: usize = 6 * 1024 * 1024;

/// A configured `aws-lambda` instance.
#[derive(Debug)]
pub struct AwsLambda {
    config: LambdaConfig,
    call: Call,
    /// `Err` when no region is known: every request then fails with that reason.
    client: Result<ClientKey, String>,
    function_name: String,
}

/// A gateway-made answer naming what went wrong with Lambda.
fn failure(status: u16, message: &str, cause: String) -> Exit {
    Exit::json(status, &json!({ "message": message, "error": cause }))
}

/// A 502 naming the cause; the full SDK error goes to the log.
fn unreachable_lambda(e: &dyn std::error::Error, cause: &str) -> Exit {
    log::warn!(
        "aws-lambda: {}",
        aws_sdk_lambda::error::DisplayErrorContext(e)
    );
    failure(502, "Bad Gateway", cause.to_string())
}

/// How the function is invoked, read once from `invocation_type` and `log_type`.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// `RequestResponse`, `Event` or `DryRun`.
    pub invocation: InvocationType,
    /// `log_type: Tail`: the log tail comes back and is forwarded.
    pub tail: bool,
}

impl Factory for AwsLambda {
    type Spec = LambdaConfig;
    type Typed = Call;

    fn check(spec: &LambdaConfig, _ctx: &CheckCtx<'_>) -> Result<Call, FieldIssues> {
        let out = spec.check();
        if !out.is_empty() {
            return Err(out);
        }
        let invocation = match spec.invocation_type.as_str() {
            "Event" => InvocationType::Event,
            "DryRun" => InvocationType::DryRun,
            _ => InvocationType::RequestResponse,
        };
        Ok(Call {
            invocation,
            tail: spec.log_type.as_deref() == Some("Tail"),
        })
    }

    fn build(c: &Checked<LambdaConfig, Call>, _ctx: &BuildCtx, _scope: &Scope) -> Arc<dyn Plugin> {
        Arc::new(AwsLambda::new(&c.spec, c.typed.clone()))
    }
}

impl AwsLambda {
    /// Builds an instance; the region comes from the config, else `AWS_REGION` /
    /// `AWS_DEFAULT_REGION` as the node saw them at load.
    pub fn new(c: &LambdaConfig, call: Call) -> AwsLambda {
        let region = c
            .aws_region
            .clone()
            .or_else(|| std::env::var("AWS_REGION").ok())
            .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
            .filter(|r| !r.is_empty());
        let client = match region {
            None => {
                Err("no AWS region configured (set config.aws_region, or AWS_REGION)".to_string())
            }
            Some(region) => Ok(ClientKey {
                aws_key: c.aws_key.clone(),
                aws_secret: c.aws_secret.clone(),
                assume_role_arn: c.aws_assume_role_arn.clone(),
                role_session_name: c.aws_role_session_name.clone(),
                endpoint: c.host.as_ref().map(|h| {
                    let scheme = if c.disable_https { "http" } else { "https" };
                    format!("{scheme}://{h}:{}", c.port)
                }),
                region,
                timeout_ms: c.timeout,
            }),
        };
        AwsLambda {
            config: c.clone(),
            call,
            client,
            function_name: c.function_name.clone().unwrap_or_default(),
        }
    }

    async fn read_body(&self, session: &mut Session) -> Result<Option<Vec<u8>>, GatewayError> {
        let mut body = Vec::new();
        loop {
            match session.read_request_body().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > MAX_BODY {
                        if self.config.skip_large_bodies {
                            // Drain the rest so the connection stays usable; send no body.
                            while let Ok(Some(_)) = session.read_request_body().await {}
                            return Ok(Some(Vec::new()));
                        }
                        return Ok(None);
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(Some(body)),
                Err(_) => return Err(GatewayError::BadRequest),
            }
        }
    }

    async fn invoke(&self, key: &ClientKey, payload: Vec<u8>) -> Result<Invoked, Exit> {
        let client = client::client(key).await;
        let mut call = client
            .invoke()
            .function_name(&self.function_name)
            .invocation_type(self.call.invocation.clone())
            .payload(Blob::new(payload));
        if let Some(q) = &self.config.qualifier {
            call = call.qualifier(q);
        }
        call = call.log_type(if self.call.tail {
            LogType::Tail
        } else {
            LogType::None
        });
        match call.send().await {
            Ok(out) => {
                use aws_sdk_lambda::operation::RequestId;
                Ok(Invoked {
                    status: u16::try_from(out.status_code()).unwrap_or(200),
                    function_error: out.function_error().map(str::to_string),
                    payload: out
                        .payload()
                        .map(|b| Bytes::copy_from_slice(b.as_ref()))
                        .unwrap_or_default(),
                    executed_version: out.executed_version().map(str::to_string),
                    log_result: out
                        .log_result()
                        .map(str::to_string)
                        .filter(|_| self.call.tail),
                    request_id: out.request_id().map(str::to_string),
                })
            }
            Err(e) => self.map_error(e),
        }
    }

    /// AWS failures: a function error reported the emulator's way becomes an unhandled
    /// function error; everything else a 502/504 naming the cause (never the credentials).
    fn map_error(
        &self,
        e: SdkError<InvokeError, aws_sdk_lambda::config::http::HttpResponse>,
    ) -> Result<Invoked, Exit> {
        let timeout = || {
            failure(
                504,
                "Gateway Timeout",
                format!(
                    "Lambda invocation timed out after {} ms",
                    self.config.timeout
                ),
            )
        };
        match &e {
            SdkError::TimeoutError(_) => Err(timeout()),
            SdkError::DispatchFailure(d) if d.is_timeout() => Err(timeout()),
            SdkError::DispatchFailure(d) => {
                let why = if d.is_io() {
                    "connection failed"
                } else {
                    "request could not be sent"
                };
                Err(unreachable_lambda(
                    &e,
                    &format!("could not reach the Lambda endpoint: {why}"),
                ))
            }
            SdkError::ServiceError(se) => {
                let raw = se.raw();
                let status = raw.status().as_u16();
                let body = raw.body().bytes().unwrap_or(&[]);
                let typed = raw.headers().get("x-amzn-errortype").is_some();
                if !typed && status >= 500 {
                    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
                        if v.get("errorMessage").is_some() || v.get("errorType").is_some() {
                            return Ok(Invoked {
                                status: 200,
                                function_error: Some("Unhandled".into()),
                                payload: Bytes::copy_from_slice(body),
                                ..Default::default()
                            });
                        }
                    }
                }
                use aws_sdk_lambda::error::ProvideErrorMetadata;
                let err = se.err();
                let cause = match err {
                    InvokeError::ResourceNotFoundException(_) => "Lambda function not found",
                    InvokeError::TooManyRequestsException(_) => "Lambda throttled the invocation",
                    _ if status == 404 => "Lambda function not found",
                    _ if status == 403 || status == 401 => "AWS denied access to the function",
                    _ if status == 429 => "Lambda throttled the invocation",
                    _ => "Lambda refused the invocation",
                };
                let detail = match (err.code(), err.message()) {
                    (Some(c), Some(m)) => format!("{cause} ({c}: {m})"),
                    (Some(c), None) => format!("{cause} ({c})"),
                    _ => format!("{cause} (HTTP {status})"),
                };
                Err(failure(502, "Bad Gateway", detail))
            }
            _ => Err(unreachable_lambda(
                &e,
                "invalid response from the Lambda endpoint",
            )),
        }
    }
}

#[async_trait]
impl Plugin for AwsLambda {
    fn name(&self) -> &'static str {
        "aws-lambda"
    }

    async fn access(
        &self,
        session: &mut Session,
        state: &mut RequestState,
    ) -> Result<Flow, GatewayError> {
        let key = match &self.client {
            Ok(k) => k,
            Err(why) => {
                return Ok(Flow::Respond(failure(
                    500,
                    "An unexpected error occurred",
                    why.clone(),
                )))
            }
        };
        let Some(body) = self.read_body(session).await? else {
            return Ok(Flow::Respond(failure(
                413,
                "Request Entity Too Large",
                format!(
                    "the request body exceeds Lambda's {} MiB payload limit",
                    MAX_BODY >> 20
                ),
            )));
        };
        let req = session.req_header();
        let client_ip = session
            .client_addr()
            .and_then(|a| a.as_inet())
            .map(|a| a.ip().to_string())
            .unwrap_or_default();
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let uri = req
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
            .to_string();
        let payload = payload::build(
            &self.config,
            &payload::RequestParts {
                method: req.method.as_str(),
                uri: &uri,
                path: req.uri.path(),
                query: req.uri.query(),
                headers: &req.headers,
                body: &body,
                client_ip: &client_ip,
                request_id: state
                    .request_id
                    .as_ref()
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or(""),
                now_ms,
                route_path: state.route_path.as_deref(),
                protocol: match req.version {
                    http::Version::HTTP_10 => "HTTP/1.0",
                    http::Version::HTTP_2 => "HTTP/2.0",
                    _ => "HTTP/1.1",
                },
            },
        );
        let payload =
            serde_json::to_vec(&payload).map_err(|e| GatewayError::Internal(e.to_string()))?;
        let invoked = match self.invoke(key, payload).await {
            Ok(i) => i,
            Err(exit) => return Ok(Flow::Respond(exit)),
        };
        if self.config.is_proxy_integration
            && invoked.function_error.is_none()
            && invoked.status == 200
        {
            return Ok(Flow::Respond(
                match response::proxy_exit(&invoked.payload) {
                    Ok(mut exit) => {
                        exit.proxied = true;
                        exit
                    }
                    Err(reason) => failure(
                        502,
                        "Bad Gateway",
                        format!("could not JSON decode Lambda function response: {reason}"),
                    ),
                },
            ));
        }
        let mut exit = response::default_exit(&invoked, self.config.unhandled_status);
        if self.config.empty_arrays_mode == "legacy" {
            exit.body = response::legacy_empty_arrays(&exit.body);
        }
        exit.proxied = true;
        Ok(Flow::Respond(exit))
    }
}
