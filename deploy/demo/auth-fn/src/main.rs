//! The authentication function ("on AWS Lambda"): checks an email and password against the
//! users file and answers `{"statusCode":401}` or `{"statusCode":200,"body":"<JWT>"}`. The JWT
//! is HS256-signed with `JWT_SECRET` and carries `userId`, `email`, `isAdmin`, `iat` and
//! `kid` = `JWT_KID`, the gateway consumer's key.
//!
//! Input: the gateway's `forward_request_body` payload (`request_body_args`), or the
//! credentials at the top level (a direct `aws lambda invoke`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

fn env(name: &str) -> Result<String, Error> {
    std::env::var(name).map_err(|_| format!("{name} is not set").into())
}

fn sign(claims: &Value, secret: &str) -> Result<String, Error> {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let input = format!("{header}.{payload}");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())?;
    mac.update(input.as_bytes());
    Ok(format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    ))
}

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    // The gateway's parsed body arguments; a JSON body sent without a JSON content type
    // arrives only as the raw `request_body`; a direct invoke puts the fields at the top.
    let raw_json = event
        .payload
        .get("request_body")
        .and_then(Value::as_str)
        .and_then(|b| serde_json::from_str::<Value>(b).ok());
    let args = [
        event.payload.get("request_body_args"),
        raw_json.as_ref(),
        Some(&event.payload),
    ]
    .into_iter()
    .flatten()
    .find(|a| a.get("email").is_some())
    .unwrap_or(&event.payload);
    let email = args.get("email").and_then(Value::as_str).unwrap_or("");
    let password = args.get("password").and_then(Value::as_str).unwrap_or("");
    let users: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(env("USERS_FILE")?)?)?;
    let Some(user) = users
        .iter()
        .find(|u| u["email"] == email && u["password"] == password && !email.is_empty())
    else {
        return Ok(json!({"statusCode": 401}));
    };
    let iat = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let claims = json!({
        "userId": user["userId"],
        "email": user["email"],
        "isAdmin": user["isAdmin"],
        "kid": env("JWT_KID")?,
        "iat": iat,
    });
    Ok(json!({"statusCode": 200, "body": sign(&claims, &env("JWT_SECRET")?)?}))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(handler)).await
}
