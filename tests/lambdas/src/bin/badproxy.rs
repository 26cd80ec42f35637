//! Answers something that is not a proxy-integration response.
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|_: LambdaEvent<Value>| async move {
        Ok::<Value, Error>(json!("just a string"))
    }))
    .await
}
