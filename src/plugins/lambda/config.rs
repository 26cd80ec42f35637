//! The `aws-lambda` plugin's configuration schema: Kong's fields, defaults and checks.

use serde::{Deserialize, Serialize};

/// Kong's `aws-lambda` plugin config.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LambdaConfig {
    pub aws_key: Option<String>,
    pub aws_secret: Option<String>,
    pub aws_assume_role_arn: Option<String>,
    pub aws_role_session_name: String,
    pub aws_sts_endpoint_url: Option<String>,
    pub aws_region: Option<String>,
    pub aws_imds_protocol_version: String,
    pub function_name: Option<String>,
    pub qualifier: Option<String>,
    pub invocation_type: String,
    /// `None` unless set: Skyport then asks for no log tail and forwards none.
    pub log_type: Option<String>,
    pub host: Option<String>,
    pub port: u16,
    pub disable_https: bool,
    pub timeout: u64,
    pub keepalive: u64,
    pub unhandled_status: Option<u16>,
    pub forward_request_method: bool,
    pub forward_request_uri: bool,
    pub forward_request_headers: bool,
    pub forward_request_body: bool,
    pub is_proxy_integration: bool,
    pub awsgateway_compatible: bool,
    pub proxy_url: Option<String>,
    pub skip_large_bodies: bool,
    pub base64_encode_body: bool,
    pub empty_arrays_mode: String,
}

impl Default for LambdaConfig {
    fn default() -> Self {
        LambdaConfig {
            aws_key: None,
            aws_secret: None,
            aws_assume_role_arn: None,
            aws_role_session_name: "kong".into(),
            aws_sts_endpoint_url: None,
            aws_region: None,
            aws_imds_protocol_version: "v1".into(),
            function_name: None,
            qualifier: None,
            invocation_type: "RequestResponse".into(),
            log_type: None,
            host: None,
            port: 443,
            disable_https: false,
            timeout: 60_000,
            keepalive: 60_000,
            unhandled_status: None,
            forward_request_method: false,
            forward_request_uri: false,
            forward_request_headers: false,
            forward_request_body: false,
            is_proxy_integration: false,
            awsgateway_compatible: false,
            proxy_url: None,
            skip_large_bodies: true,
            base64_encode_body: true,
            empty_arrays_mode: "legacy".into(),
        }
    }
}

impl LambdaConfig {
    /// Field-level problems, as `(field, message)` pairs.
    pub fn check(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if self.aws_key.is_some() != self.aws_secret.is_some() {
            out.push((
                String::new(),
                "all or none of these fields must be set: 'config.aws_key', 'config.aws_secret'"
                    .into(),
            ));
        }
        if self.function_name.as_deref().unwrap_or("").is_empty() {
            out.push(("function_name".into(), "required field missing".into()));
        }
        let one_of = |field: &str, v: &str, allowed: &[&str], out: &mut Vec<(String, String)>| {
            if !allowed.contains(&v) {
                out.push((
                    field.into(),
                    format!("expected one of: {} (got \"{v}\")", allowed.join(", ")),
                ));
            }
        };
        one_of(
            "invocation_type",
            &self.invocation_type,
            &["RequestResponse", "Event", "DryRun"],
            &mut out,
        );
        if let Some(l) = &self.log_type {
            one_of("log_type", l, &["Tail", "None"], &mut out);
        }
        one_of(
            "aws_imds_protocol_version",
            &self.aws_imds_protocol_version,
            &["v1", "v2"],
            &mut out,
        );
        one_of(
            "empty_arrays_mode",
            &self.empty_arrays_mode,
            &["legacy", "correct"],
            &mut out,
        );
        if let Some(s) = self.unhandled_status {
            if !(100..=999).contains(&s) {
                out.push((
                    "unhandled_status".into(),
                    "value should be between 100 and 999".into(),
                ));
            }
        }
        if let Some(p) = &self.proxy_url {
            if !p.starts_with("http://") {
                out.push(("proxy_url".into(), "proxy_url scheme must be http".into()));
            }
        }
        if self.timeout == 0 {
            out.push(("timeout".into(), "value must be greater than 0".into()));
        }
        out
    }
}
