//! The orders service ("a container on AWS EC2", plain HTTP): `GET /:userId` lists a user's
//! orders (any user's for an admin, one's own otherwise), `GET /public` is open; anything
//! else without a valid identity is 403.
//!
//! Usage: orders-service ADDR DATA_FILE

use serde_json::{json, Value};
use skyport_demo_services::{caller, json, load, segments, serve, text};
use std::sync::Arc;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (addr, data) = match args.as_slice() {
        [_, a, d] => (a.clone(), d.clone()),
        _ => {
            eprintln!("usage: orders-service ADDR DATA_FILE");
            std::process::exit(2);
        }
    };
    let orders = Arc::new(load(&data));
    eprintln!("orders-service: http://{addr}");
    serve(&addr, None, move |req| {
        let orders = orders.clone();
        async move {
            let segs = segments(&req, "/orders");
            if req.method() == hyper::Method::GET && segs == ["public"] {
                return text(200, "Orders Service: PUBLIC ENDPOINT");
            }
            let Some(who) = caller(&req) else {
                return json(403, &json!({"message": "Forbidden: no valid identity"}));
            };
            match (req.method().as_str(), segs.as_slice()) {
                ("GET", [id]) => {
                    let id: i64 = id.parse().unwrap_or(-1);
                    if !who.is_admin && who.user_id != id {
                        return json(403, &json!({"message": format!("Forbidden: {} may only list their own orders", who.email)}));
                    }
                    json(200, &Value::Array(orders.iter().filter(|o| o["userId"] == id).cloned().collect()))
                }
                _ => json(403, &json!({"message": "Forbidden"})),
            }
        }
    })
    .await;
}
