//! Lambda clients: one per distinct credentials/region/endpoint/timeout, shared by every
//! plugin instance and kept across reloads. Built on first use inside the proxy's runtime
//! (never before Pingora's daemon fork), then reused with its pooled connections.

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use aws_sdk_lambda::config::{Credentials, Region};
use aws_sdk_lambda::Client;
use once_cell::sync::Lazy;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::OnceCell;

/// What makes two clients different.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientKey {
    /// Static access key id (with the secret), or `None` for the default chain.
    pub aws_key: Option<String>,
    /// Static secret access key.
    pub aws_secret: Option<String>,
    /// Role to assume on top of the base credentials.
    pub assume_role_arn: Option<String>,
    /// Session name for the assumed role.
    pub role_session_name: String,
    /// Region.
    pub region: String,
    /// `scheme://host:port`, or `None` for AWS's own endpoint.
    pub endpoint: Option<String>,
    /// Operation timeout.
    pub timeout_ms: u64,
}

type Slot = Arc<OnceCell<Client>>;
static CLIENTS: Lazy<Mutex<HashMap<ClientKey, Slot>>> = Lazy::new(Default::default);

/// The shared client for `key`, built on first use.
pub async fn client(key: &ClientKey) -> Client {
    let slot = {
        let mut all = CLIENTS.lock().unwrap_or_else(|e| e.into_inner());
        all.entry(key.clone()).or_default().clone()
    };
    slot.get_or_init(|| build(key)).await.clone()
}

async fn build(key: &ClientKey) -> Client {
    let timeout = Duration::from_millis(key.timeout_ms.max(1));
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(key.region.clone()))
        // A function error must never run the function again: no SDK retries.
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(timeout)
                .connect_timeout(timeout.min(Duration::from_secs(10)))
                .build(),
        );
    if let (Some(k), Some(s)) = (&key.aws_key, &key.aws_secret) {
        loader = loader.credentials_provider(Credentials::new(k, s, None, None, "skyport-config"));
    }
    if let Some(ep) = &key.endpoint {
        loader = loader.endpoint_url(ep);
    }
    let mut sdk = loader.load().await;
    if let Some(arn) = &key.assume_role_arn {
        let role = aws_config::sts::AssumeRoleProvider::builder(arn)
            .session_name(key.role_session_name.clone())
            .configure(&sdk)
            .build()
            .await;
        sdk = sdk
            .into_builder()
            .credentials_provider(aws_sdk_lambda::config::SharedCredentialsProvider::new(role))
            .build();
    }
    Client::new(&sdk)
}
