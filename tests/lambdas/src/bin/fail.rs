//! Always fails: an unhandled function error.
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|_: LambdaEvent<Value>| async move {
        Err::<Value, Error>("boom: the function failed".into())
    }))
    .await
}
