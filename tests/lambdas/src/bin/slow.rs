//! Takes 3 seconds (for timeout tests).
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|_: LambdaEvent<Value>| async move {
        tokio::time::sleep(std::time::Duration::from_secs(3)).await;
        Ok::<Value, Error>(json!({"slow": true}))
    }))
    .await
}
