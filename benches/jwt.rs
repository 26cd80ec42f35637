//! What authentication costs on the hot path: one `jwt` check (extract, decode, look up,
//! verify, claims) per token for HS256, RS256 and ES256, and HS256 with 10 to 100,000
//! consumers. Informs the jwt + rate-limiting throughput target of the performance issue.
//!
//! Run: `cargo bench --bench jwt`

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use skyport::plugins::jwt::keyring::{Credential, Keyring};
use skyport::plugins::jwt::{Jwt, JwtConfig};
use skyport::plugins::system_clock;
use skyport::plugins::Consumer;
use std::sync::Arc;

fn bench(c: &mut Criterion) {
    let consumer = Arc::new(Consumer {
        id: "c0ffee00-0000-4000-8000-000000000000".into(),
        username: Some("alice".into()),
        custom_id: None,
        groups: Default::default(),
        groups_header: None,
    });
    let rsa = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).expect("rsa");
    let ec = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("ec");
    let creds = vec![
        Credential::new("1", "k-hs", "bench-secret", "HS256", None, consumer.clone()).expect("hs"),
        Credential::new(
            "2",
            "k-rs",
            "",
            "RS256",
            Some(&rsa.public_key_pem()),
            consumer.clone(),
        )
        .expect("rs"),
        Credential::new(
            "3",
            "k-es",
            "",
            "ES256",
            Some(&ec.public_key_pem()),
            consumer.clone(),
        )
        .expect("es"),
    ];
    let keyring = Arc::new(Keyring::new(creds));
    let plugin = Jwt::new(JwtConfig::default(), keyring.clone(), system_clock());
    // A fresh instance keeps no verified token: its first authentication verifies.
    let fresh = || Jwt::new(JwtConfig::default(), keyring.clone(), system_clock());
    let tokens = [
        (
            "HS256",
            Algorithm::HS256,
            EncodingKey::from_secret(b"bench-secret"),
            "k-hs",
        ),
        (
            "RS256",
            Algorithm::RS256,
            EncodingKey::from_rsa_pem(rsa.serialize_pem().as_bytes()).expect("rsa key"),
            "k-rs",
        ),
        (
            "ES256",
            Algorithm::ES256,
            EncodingKey::from_ec_pem(ec.serialize_pem().as_bytes()).expect("ec key"),
            "k-es",
        ),
    ];
    let mut group = c.benchmark_group("jwt_verify");
    for (name, alg, key, iss) in tokens {
        let token = encode(
            &Header::new(alg),
            &serde_json::json!({"iss": iss, "sub": "bench"}),
            &key,
        )
        .expect("sign");
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "authorization",
            format!("Bearer {token}").parse().expect("header"),
        );
        assert!(
            plugin.authenticate(None, &headers).is_ok(),
            "{name} token must verify"
        );
        // Verified: the token's first request (decoded, signature checked).
        group.bench_function(name, |b| {
            b.iter_batched(
                fresh,
                |p| black_box(p.authenticate(None, black_box(&headers)).is_ok()),
                BatchSize::SmallInput,
            )
        });
        // Kept: the same token again (found by its text, time claims checked).
        group.bench_function(format!("{name} kept"), |b| {
            b.iter(|| black_box(plugin.authenticate(None, black_box(&headers)).is_ok()))
        });
    }
    group.finish();
    scale(c);
}

/// HS256 authentication with 10 to 100,000 consumers (one credential each), checking the
/// last one: the lookup must not grow with the number of consumers.
fn scale(c: &mut Criterion) {
    let mut group = c.benchmark_group("jwt_consumers");
    for n in [10usize, 1_000, 100_000] {
        let consumers: Vec<Arc<Consumer>> = (0..n)
            .map(|i| {
                Arc::new(Consumer {
                    id: format!("00000000-0000-4000-8000-{i:012}"),
                    username: Some(format!("user-{i}")),
                    custom_id: None,
                    groups: Default::default(),
                    groups_header: None,
                })
            })
            .collect();
        let creds: Vec<Credential> = consumers
            .iter()
            .enumerate()
            .map(|(i, c)| {
                Credential::new(
                    &i.to_string(),
                    &format!("key-{i}"),
                    "s3cret",
                    "HS256",
                    None,
                    c.clone(),
                )
                .expect("credential")
            })
            .collect();
        let keyring = Arc::new(Keyring::new(creds));
        // A fresh instance per iteration: the key is looked up, not a kept token found.
        let fresh = || Jwt::new(JwtConfig::default(), keyring.clone(), system_clock());
        let plugin = fresh();
        let token = encode(
            &Header::new(Algorithm::HS256),
            &serde_json::json!({ "iss": format!("key-{}", n - 1) }),
            &EncodingKey::from_secret(b"s3cret"),
        )
        .expect("sign");
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "authorization",
            format!("Bearer {token}").parse().expect("header"),
        );
        assert!(plugin.authenticate(None, &headers).is_ok());
        group.bench_function(n.to_string(), |b| {
            b.iter_batched(
                fresh,
                |p| black_box(p.authenticate(None, black_box(&headers)).is_ok()),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
