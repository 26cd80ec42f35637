//! The JWT extractor and parser, through `Jwt::authenticate`: tokens from the query string,
//! cookies and `Authorization`, or (first byte 0) a token assembled from fuzzed header and
//! payload JSON so the claims checks are reached. Never panics; only the real credential
//! with a correct signature may pass.
#![no_main]

use base64::Engine;
use libfuzzer_sys::fuzz_target;
use skyport::plugins::jwt::config::JwtConfig;
use skyport::plugins::jwt::keyring::{Credential, Keyring};
use skyport::plugins::jwt::Jwt;
use skyport::plugins::Consumer;
use std::sync::{Arc, OnceLock};

fn plugin() -> &'static Jwt {
    static JWT: OnceLock<Jwt> = OnceLock::new();
    JWT.get_or_init(|| {
        let consumer = Arc::new(Consumer {
            id: "c-id".into(),
            username: Some("c".into()),
            custom_id: None,
            groups: Default::default(),
            groups_header: None,
        });
        let cred = Credential::new(
            "cred-id",
            "the-key",
            "s3cret",
            "HS256",
            None,
            consumer.clone(),
        )
        .expect("credential");
        let config = JwtConfig {
            cookie_names: vec!["session".into()],
            claims_to_verify: vec!["exp".into(), "nbf".into()],
            maximum_expiration: 3600,
            ..JwtConfig::default()
        };
        Jwt::new(
            config,
            Arc::new(Keyring::new(vec![cred])),
            Arc::new(|| 1_700_000_000),
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let mut headers = http::HeaderMap::new();
    let mut query = None;
    if let Some((0, rest)) = data.split_first() {
        let mut parts = rest.splitn(3, |b| *b == b'\n');
        let (h, p, s) = (
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
        );
        let token = format!("{}.{}.{}", b64(h), b64(p), b64(s));
        if let Ok(v) = http::HeaderValue::from_str(&format!("Bearer {token}")) {
            headers.insert(http::header::AUTHORIZATION, v);
        }
    } else {
        let text = String::from_utf8_lossy(data);
        let mut lines = text.split('\n');
        query = lines.next().map(str::to_string);
        for (name, line) in [http::header::AUTHORIZATION, http::header::COOKIE]
            .into_iter()
            .zip(lines)
        {
            if let Ok(v) = http::HeaderValue::from_str(line) {
                headers.append(name, v);
            }
        }
    }
    if let Ok(cred) = plugin().authenticate(query.as_deref(), &headers) {
        assert_eq!(cred.key, "the-key");
    }
});
