//! The users service ("on Google App Engine", HTTPS): `GET /users` lists every user for an
//! admin, `GET /users/:userId` returns a user's own record (any record for an admin),
//! `GET /public` is open. Anything else without a valid identity is 403.
//!
//! Usage: users-service ADDR DATA_FILE CERT_OUT (writes its self-signed certificate there).

use serde_json::{json, Value};
use skyport_demo_services::{caller, json, load, segments, self_signed, serve, text};
use std::sync::Arc;

fn public(mut user: Value) -> Value {
    if let Some(m) = user.as_object_mut() {
        m.remove("password");
    }
    user
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (addr, data, cert_out) = match args.as_slice() {
        [_, a, d, c] => (a.clone(), d.clone(), c.clone()),
        _ => {
            eprintln!("usage: users-service ADDR DATA_FILE CERT_OUT");
            std::process::exit(2);
        }
    };
    let users = Arc::new(load(&data));
    let (tls, pem) = self_signed();
    std::fs::write(&cert_out, pem).unwrap_or_else(|e| panic!("cannot write {cert_out}: {e}"));
    eprintln!("users-service: https://{addr}");
    serve(&addr, Some(tls), move |req| {
        let users = users.clone();
        async move {
            let segs = segments(&req, "/users");
            if req.method() == hyper::Method::GET && segs == ["public"] {
                return text(200, "Users Service: PUBLIC ENDPOINT");
            }
            let Some(who) = caller(&req) else {
                return json(403, &json!({"message": "Forbidden: no valid identity"}));
            };
            match (req.method().as_str(), segs.as_slice()) {
                ("GET", []) if who.is_admin => json(200, &Value::Array(users.iter().cloned().map(public).collect())),
                ("GET", []) => json(403, &json!({"message": "Forbidden: only admins may list users"})),
                ("GET", [id]) => {
                    let id: i64 = id.parse().unwrap_or(-1);
                    if !who.is_admin && who.user_id != id {
                        return json(403, &json!({"message": format!("Forbidden: {} may only read their own record", who.email)}));
                    }
                    match users.iter().find(|u| u["userId"] == id) {
                        Some(u) => json(200, &public(u.clone())),
                        None => json(404, &json!({"message": "no such user"})),
                    }
                }
                _ => json(403, &json!({"message": "Forbidden"})),
            }
        }
    })
    .await;
}
