//! The demo's walkthrough: the scenario, step by step, against a running gateway. Prints each
//! request with the real answer; with `--check` it also asserts each answer and exits 1 if
//! any is wrong.
//!
//! Usage: walkthrough GATEWAY_URL ADMIN_URL [--check]

use serde_json::{json, Value};
use ureq::Agent;

struct Run {
    agent: Agent,
    gateway: String,
    admin: String,
    check: bool,
    failures: usize,
}

struct Answer {
    status: u16,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

impl Run {
    fn call(&self, method: &str, url: &str, token: Option<&str>, body: Option<&Value>) -> Answer {
        let shown_auth = token
            .map(|_| " -H 'Authorization: Bearer $TOKEN'")
            .unwrap_or("");
        let shown_body = body.map(|b| format!(" -d '{b}'")).unwrap_or_default();
        println!("\n$ curl -X {method} {url}{shown_auth}{shown_body}");
        let result = match (method, body) {
            ("POST", Some(b)) => {
                let mut r = self
                    .agent
                    .post(url)
                    .header("content-type", "application/json");
                if let Some(t) = token {
                    r = r.header("authorization", &format!("Bearer {t}"));
                }
                r.send(b.to_string())
            }
            _ => {
                let mut r = self.agent.get(url);
                if let Some(t) = token {
                    r = r.header("authorization", &format!("Bearer {t}"));
                }
                r.call()
            }
        };
        let answer = match result {
            Ok(mut resp) => Answer {
                status: resp.status().as_u16(),
                body: resp.body_mut().read_to_string().unwrap_or_default(),
            },
            Err(e) => Answer {
                status: 0,
                body: format!("request failed: {e}"),
            },
        };
        let shown = serde_json::from_str::<Value>(&answer.body)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| answer.body.clone());
        println!("HTTP {}\n{shown}", answer.status);
        answer
    }

    fn gw(&self, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> Answer {
        self.call(method, &format!("{}{path}", self.gateway), token, body)
    }

    fn expect(&mut self, what: &str, ok: bool) {
        if self.check {
            println!("{} {what}", if ok { "  ✔" } else { "  ✘" });
            if !ok {
                self.failures += 1;
            }
        }
    }

    fn step(&self, title: &str) {
        println!("\n── {title}");
    }
}

/// The claims of a JWT (unverified: only to show what the function put in it).
fn claims(token: &str) -> Value {
    use base64::Engine;
    token
        .split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null)
}

fn login(run: &mut Run, email: &str, password: &str) -> Option<String> {
    let a = run.gw(
        "POST",
        "/login",
        None,
        Some(&json!({"email": email, "password": password})),
    );
    let token = a.json()["body"].as_str().map(str::to_string);
    run.expect(
        "200 with {\"statusCode\":200,\"body\":\"<JWT>\"}",
        a.status == 200 && a.json()["statusCode"] == 200 && token.is_some(),
    );
    token
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: walkthrough GATEWAY_URL ADMIN_URL [--check]");
        std::process::exit(2);
    }
    let agent: Agent = Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut run = Run {
        agent,
        gateway: args[1].trim_end_matches('/').to_string(),
        admin: args[2].trim_end_matches('/').to_string(),
        check: args.iter().any(|a| a == "--check"),
        failures: 0,
    };

    run.step("1. Without a token, the gateway's jwt plugin turns every request away");
    for path in ["/users/public", "/orders/public"] {
        let a = run.gw("GET", path, None, None);
        run.expect(
            "401 Unauthorized",
            a.status == 401 && a.json() == json!({"message": "Unauthorized"}),
        );
    }

    run.step(
        "2. /login has no upstream: the gateway invokes the auth function on (local) AWS Lambda",
    );
    let a = run.gw(
        "POST",
        "/login",
        None,
        Some(&json!({"email": "ada@example.com", "password": "wrong"})),
    );
    run.expect(
        "{\"statusCode\":401} for a wrong password",
        a.status == 200 && a.json() == json!({"statusCode": 401}),
    );
    let Some(admin_token) = login(&mut run, "ada@example.com", "admin-pass") else {
        println!("\nno token, cannot go on");
        std::process::exit(1);
    };
    println!("TOKEN claims: {}", claims(&admin_token));

    run.step("3. The token's kid is the gateway consumer's JWT key (admin API)");
    let a = run.call(
        "GET",
        &format!("{}/consumers/auth-service-consumer/jwt", run.admin),
        None,
        None,
    );
    let key = a.json()["data"][0]["key"].as_str().map(str::to_string);
    let kid = claims(&admin_token)["kid"].as_str().map(str::to_string);
    run.expect(
        "the consumer's key equals the token's kid",
        key.is_some() && key == kid,
    );

    run.step("4. With the token, the users service (HTTPS, \"App Engine\") and orders service (\"EC2\") answer");
    let a = run.gw("GET", "/users", Some(&admin_token), None);
    run.expect(
        "an admin lists every user",
        a.status == 200 && a.json().as_array().is_some_and(|u| u.len() == 3),
    );
    let a = run.gw("GET", "/orders/1", Some(&admin_token), None);
    run.expect(
        "orders of user 1",
        a.status == 200 && a.json().as_array().is_some_and(|o| !o.is_empty()),
    );

    run.step("5. A non-admin user sees only their own records");
    let Some(bob) = login(&mut run, "bob@example.com", "bob-pass") else {
        std::process::exit(1);
    };
    let a = run.gw("GET", "/users/2", Some(&bob), None);
    run.expect(
        "Bob reads his own record",
        a.status == 200 && a.json()["email"] == "bob@example.com",
    );
    let a = run.gw("GET", "/users/1", Some(&bob), None);
    run.expect(
        "but not Ada's (403 from the users service)",
        a.status == 403,
    );
    let a = run.gw("GET", "/orders/2", Some(&bob), None);
    run.expect(
        "Bob lists his own orders",
        a.status == 200 && a.json().as_array().is_some_and(|o| o.len() == 2),
    );
    let a = run.gw("GET", "/orders/3", Some(&bob), None);
    run.expect("but not Cleo's", a.status == 403);

    run.step("6. Rate limits: 3 /users calls and 10 /orders calls a minute");
    let a = run.gw("GET", "/users", Some(&admin_token), None);
    run.expect(
        "the 4th /users call this minute is refused: 429 API rate limit exceeded",
        a.status == 429 && a.json()["message"] == "API rate limit exceeded",
    );
    let mut last = Answer {
        status: 0,
        body: String::new(),
    };
    for _ in 0..7 {
        last = run.gw("GET", "/orders/1", Some(&admin_token), None);
    }
    let ten_ok = last.status == 200;
    let a = run.gw("GET", "/orders/1", Some(&admin_token), None);
    run.expect(
        "the 11th /orders call this minute is refused: 429 API rate limit exceeded",
        ten_ok && a.status == 429 && a.json()["message"] == "API rate limit exceeded",
    );

    if run.check {
        if run.failures == 0 {
            println!("\nwalkthrough: every step answered as the scenario says");
        } else {
            println!(
                "\nwalkthrough: {} step(s) answered differently",
                run.failures
            );
            std::process::exit(1);
        }
    }
}
