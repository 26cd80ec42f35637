//! An API-Gateway-style (proxy integration) answer: status, headers and a body built from
//! the event (`{"status": 418}` in the event picks the status).
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|e: LambdaEvent<Value>| async move {
        let status = e
            .payload
            .pointer("/request_body_args/status")
            .and_then(Value::as_u64)
            .unwrap_or(201);
        Ok::<Value, Error>(json!({
            "statusCode": status,
            "headers": {"X-Fn": "proxy", "Content-Type": "application/json"},
            "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
            "body": e.payload.to_string(),
            "isBase64Encoded": false
        }))
    }))
    .await
}
