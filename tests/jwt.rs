//! The `jwt` plugin through the real gateway to a real upstream: every row of Kong's failure
//! table, every algorithm family with keys made here, token places, `kid`, claims, anonymous,
//! preflight, the upstream headers, and the scenario's own token.

mod common;
use base64::Engine;
use common::{client, echoed, Gateway, Upstream};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

const SCENARIO_KEY: &str = "G7lSenm1yjPeJUUEOMDDULj1BfuMDHUV";
const SCENARIO_SECRET: &str = "Too many secrets.";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Asymmetric keys made for this test run: (algorithm, private PKCS#8 PEM, public PEM).
struct Keys {
    rsa: (String, String),
    ec256: (String, String),
    ec384: (String, String),
    ec521: (String, String),
    ed: (String, String),
}

fn keypair(alg: &'static rcgen::SignatureAlgorithm) -> (String, String) {
    let k = rcgen::KeyPair::generate_for(alg).expect("key");
    (k.serialize_pem(), k.public_key_pem())
}

impl Keys {
    fn new() -> Keys {
        Keys {
            rsa: keypair(&rcgen::PKCS_RSA_SHA256),
            ec256: keypair(&rcgen::PKCS_ECDSA_P256_SHA256),
            ec384: keypair(&rcgen::PKCS_ECDSA_P384_SHA384),
            ec521: keypair(&rcgen::PKCS_ECDSA_P521_SHA512),
            ed: keypair(&rcgen::PKCS_ED25519),
        }
    }
}

fn indent(pem: &str) -> String {
    pem.trim_end().replace('\n', "\n          ")
}

fn config(up: &str, k: &Keys) -> String {
    let mut secrets = String::new();
    for alg in ["HS256", "HS384", "HS512"] {
        secrets.push_str(&format!(
            "      - {{ key: k-{alg}, secret: s3cret-{alg}, algorithm: {alg} }}\n"
        ));
    }
    for (alg, public) in [
        ("RS256", &k.rsa.1),
        ("RS384", &k.rsa.1),
        ("RS512", &k.rsa.1),
        ("PS256", &k.rsa.1),
        ("PS384", &k.rsa.1),
        ("PS512", &k.rsa.1),
        ("ES256", &k.ec256.1),
        ("ES384", &k.ec384.1),
        ("ES512", &k.ec521.1),
        ("EdDSA", &k.ed.1),
    ] {
        secrets.push_str(&format!(
            "      - key: k-{alg}\n        algorithm: {alg}\n        rsa_public_key: |\n          {}\n",
            indent(public)
        ));
    }
    format!(
        r#"_format_version: "3.0"
services:
  - name: api
    url: {up}
    routes:
      - {{ name: any, paths: [/any] }}
      - {{ name: kid, paths: [/kid] }}
      - {{ name: claims, paths: [/claims] }}
      - {{ name: realm, paths: [/realm] }}
      - {{ name: b64, paths: [/b64] }}
      - {{ name: max, paths: [/max] }}
      - {{ name: anon, paths: [/anon] }}
      - {{ name: cookie, paths: [/cookie] }}
      - {{ name: preflight, paths: [/preflight] }}
consumers:
  - username: alice
    custom_id: a-1
    jwt_secrets:
{secrets}      - {{ key: k-b64, secret: "{b64secret}", algorithm: HS256 }}
      - {{ key: k-notb64, secret: "not base64!", algorithm: HS256 }}
  - username: auth-service-consumer
    jwt_secrets:
      - {{ key: {SCENARIO_KEY}, secret: "{SCENARIO_SECRET}", algorithm: HS256 }}
  - username: anon
plugins:
  - {{ name: jwt, route: any }}
  - {{ name: jwt, route: kid, config: {{ key_claim_name: kid }} }}
  - {{ name: jwt, route: claims, config: {{ claims_to_verify: [exp, nbf] }} }}
  - {{ name: jwt, route: realm, config: {{ realm: skyport }} }}
  - {{ name: jwt, route: b64, config: {{ secret_is_base64: true }} }}
  - {{ name: jwt, route: max, config: {{ claims_to_verify: [exp], maximum_expiration: 60 }} }}
  - {{ name: jwt, route: anon, config: {{ anonymous: anon }} }}
  - {{ name: jwt, route: cookie, config: {{ cookie_names: [session], header_names: [] , uri_param_names: [] }} }}
  - {{ name: jwt, route: preflight, config: {{ run_on_preflight: false }} }}
"#,
        b64secret = b64(b"raw secret bytes \x01\x02"),
    )
}

fn hs(alg: Algorithm, secret: &[u8], claims: &Value) -> String {
    encode(&Header::new(alg), claims, &EncodingKey::from_secret(secret)).expect("sign")
}

fn sign(alg: Algorithm, k: &Keys, claims: &Value) -> String {
    let key = match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            let secret = format!("s3cret-{alg:?}");
            return hs(alg, secret.as_bytes(), claims);
        }
        Algorithm::ES256 => EncodingKey::from_ec_pem(k.ec256.0.as_bytes()),
        Algorithm::ES384 => EncodingKey::from_ec_pem(k.ec384.0.as_bytes()),
        Algorithm::EdDSA => EncodingKey::from_ed_pem(k.ed.0.as_bytes()),
        _ => EncodingKey::from_rsa_pem(k.rsa.0.as_bytes()),
    };
    encode(&Header::new(alg), claims, &key.expect("encoding key")).expect("sign")
}

/// ES512 is signed with aws-lc-rs directly (jsonwebtoken has no P-521).
fn sign_es512(k: &Keys, claims: &Value) -> String {
    use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P521_SHA512_FIXED_SIGNING};
    use rustls::pki_types::pem::PemObject;
    let der =
        rustls::pki_types::PrivatePkcs8KeyDer::from_pem_slice(k.ec521.0.as_bytes()).expect("pkcs8");
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P521_SHA512_FIXED_SIGNING, der.secret_pkcs8_der())
        .expect("p521");
    let input = format!(
        "{}.{}",
        b64(br#"{"alg":"ES512","typ":"JWT"}"#),
        b64(claims.to_string().as_bytes())
    );
    let sig = pair
        .sign(&aws_lc_rs::rand::SystemRandom::new(), input.as_bytes())
        .expect("sign");
    format!("{input}.{}", b64(sig.as_ref()))
}

async fn get(gw: &Gateway, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut req = client().get(gw.url(path));
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    req.send().await.expect("request")
}

/// GET with one extra request header.
async fn get_with(
    gw: &Gateway,
    path: &str,
    name: &str,
    value: impl AsRef<str>,
) -> reqwest::Response {
    client()
        .get(gw.url(path))
        .header(name, value.as_ref())
        .send()
        .await
        .expect("request")
}

async fn refused(resp: reqwest::Response) -> (String, Value) {
    assert_eq!(resp.status(), 401);
    let www = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap_or("").to_string())
        .unwrap_or_default();
    (www, resp.json().await.expect("json body"))
}

async fn setup() -> (Upstream, Gateway, Keys) {
    let keys = Keys::new();
    let up = Upstream::http().await;
    let gw = Gateway::start(&config(&up.url("http"), &keys)).await;
    (up, gw, keys)
}

#[tokio::test]
async fn every_algorithm_family_verifies_and_forwards_the_consumer() {
    let (_up, gw, k) = setup().await;
    for alg in [
        Algorithm::HS256,
        Algorithm::HS384,
        Algorithm::HS512,
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ] {
        let name = if alg == Algorithm::EdDSA {
            "EdDSA".to_string()
        } else {
            format!("{alg:?}")
        };
        let token = sign(alg, &k, &json!({"iss": format!("k-{name}")}));
        let resp = get(&gw, "/any", Some(&token)).await;
        assert_eq!(resp.status(), 200, "{name}");
        let seen = echoed(resp).await;
        let h = &seen["headers"];
        assert_eq!(h["x-consumer-username"], "alice", "{name}");
        assert_eq!(h["x-consumer-custom-id"], "a-1");
        assert_eq!(h["x-credential-identifier"], format!("k-{name}"));
        assert_eq!(h["x-consumer-id"].as_str().map(str::len), Some(36));
        assert_eq!(
            h["authorization"],
            format!("Bearer {token}"),
            "the token is forwarded unchanged"
        );

        // The same token with its signature from another token is refused.
        let other = sign(alg, &k, &json!({"iss": format!("k-{name}"), "x": 1}));
        let forged = format!(
            "{}.{}",
            token.rsplit_once('.').expect("parts").0,
            other.rsplit_once('.').expect("parts").1
        );
        let (_, body) = refused(get(&gw, "/any", Some(&forged)).await).await;
        assert_eq!(body, json!({"message": "Invalid signature"}), "{name}");
    }
    let es512 = sign_es512(&k, &json!({"iss": "k-ES512"}));
    let seen = echoed(get(&gw, "/any", Some(&es512)).await).await;
    assert_eq!(seen["headers"]["x-credential-identifier"], "k-ES512");
    let (_, body) = refused(get(&gw, "/any", Some(&format!("{}AAAA", es512))).await).await;
    assert_eq!(body, json!({"message": "Invalid signature"}));

    // A malformed ECDSA signature (wrong length) is a 401 here, not Kong's 500.
    let es = sign(Algorithm::ES256, &k, &json!({"iss": "k-ES256"}));
    let short = format!(
        "{}.{}",
        es.rsplit_once('.').expect("parts").0,
        b64(b"short")
    );
    let (_, body) = refused(get(&gw, "/any", Some(&short)).await).await;
    assert_eq!(body, json!({"message": "Invalid signature"}));
}

#[tokio::test]
async fn kongs_failure_table() {
    let (_up, gw, k) = setup().await;
    let good = sign(Algorithm::HS256, &k, &json!({"iss": "k-HS256"}));

    let (www, body) = refused(get(&gw, "/any", None).await).await;
    assert_eq!(
        (www.as_str(), body),
        ("Bearer", json!({"message": "Unauthorized"}))
    );
    let (www, _) = refused(get(&gw, "/realm", None).await).await;
    assert_eq!(www, "Bearer realm=\"skyport\"");
    let (www, body) = refused(get(&gw, "/realm", Some("x.y.z")).await).await;
    assert_eq!(www, "Bearer realm=\"skyport\", error=\"invalid_token\"");
    assert_eq!(body, json!({"message": "Bad token; invalid JSON"}));

    let other = sign(Algorithm::HS256, &k, &json!({"iss": "k-HS256", "n": 2}));
    let resp = get_with(
        &gw,
        &format!("/any?jwt={other}"),
        "authorization",
        format!("Bearer {good}"),
    )
    .await;
    let (www, body) = refused(resp).await;
    assert_eq!(www, "Bearer error=\"invalid_token\"");
    assert_eq!(body, json!({"message": "Multiple tokens provided"}));
    let resp = get_with(
        &gw,
        &format!("/any?jwt={good}"),
        "authorization",
        format!("Bearer {good}"),
    )
    .await;
    assert_eq!(resp.status(), 200, "the same token twice is one token");
    // Kong's pattern finds the word anywhere in the header.
    let resp = get_with(&gw, "/any", "authorization", format!("Token Bearer {good}")).await;
    assert_eq!(resp.status(), 200, "Bearer after another word");
    let seen = echoed(resp).await;
    assert_eq!(seen["headers"]["x-consumer-username"], "alice");
    assert_eq!(seen["headers"]["x-credential-identifier"], "k-HS256");

    let cases: Vec<(String, Value)> = vec![
        (
            "abc.def".into(),
            json!({"message": "Bad token; invalid JSON"}),
        ),
        (
            format!(
                "{}.{}.",
                b64(br#"{"alg":"none"}"#),
                b64(br#"{"iss":"k-HS256"}"#)
            ),
            json!({"message": "Bad token; invalid alg"}),
        ),
        (
            format!(
                "{}.{}.c2ln",
                b64(br#"{"typ":"JWT"}"#),
                b64(br#"{"iss":"k-HS256"}"#)
            ),
            json!({"message": "Bad token; invalid alg"}),
        ),
        // Kong splits at the first two dots: a fourth part makes a signature that does not
        // decode, refused before any key is looked up.
        (
            format!(
                "{}.{}.c2ln.c2ln",
                b64(br#"{"alg":"HS256"}"#),
                b64(br#"{"iss":"nobody"}"#)
            ),
            json!({"message": "Bad token; invalid signature"}),
        ),
        (
            format!(
                "{}.{}.!!",
                b64(br#"{"alg":"HS256"}"#),
                b64(br#"{"iss":"k-HS256"}"#)
            ),
            json!({"message": "Bad token; invalid signature"}),
        ),
        (
            hs(Algorithm::HS256, b"x", &json!({"sub": "me"})),
            json!({"message": "No mandatory 'iss' in claims"}),
        ),
        (
            hs(Algorithm::HS256, b"x", &json!({"iss": ""})),
            json!({"message": "Invalid 'iss' in claims"}),
        ),
        (
            hs(Algorithm::HS256, b"x", &json!({"iss": "nobody"})),
            json!({"message": "No credentials found for given 'iss'"}),
        ),
        (
            hs(
                Algorithm::HS512,
                b"s3cret-HS256",
                &json!({"iss": "k-HS256"}),
            ),
            json!({"message": "Invalid algorithm"}),
        ),
        (
            hs(Algorithm::HS256, b"wrong", &json!({"iss": "k-HS256"})),
            json!({"message": "Invalid signature"}),
        ),
    ];
    for (token, want) in cases {
        let (www, body) = refused(get(&gw, "/any", Some(&token)).await).await;
        assert_eq!(body, want, "token {token}");
        assert_eq!(www, "Bearer error=\"invalid_token\"");
    }

    // secret_is_base64: a secret that is not base64 cannot verify anything.
    let t = hs(
        Algorithm::HS256,
        b"not base64!",
        &json!({"iss": "k-notb64"}),
    );
    let (_, body) = refused(get(&gw, "/b64", Some(&t)).await).await;
    assert_eq!(body, json!({"message": "Invalid key/secret"}));
    let t = hs(
        Algorithm::HS256,
        b"raw secret bytes \x01\x02",
        &json!({"iss": "k-b64"}),
    );
    assert_eq!(get(&gw, "/b64", Some(&t)).await.status(), 200);
}

#[tokio::test]
async fn claims_expiry_and_maximum_expiration() {
    let (_up, gw, k) = setup().await;
    let n = now();
    let t = |c: Value| sign(Algorithm::HS256, &k, &c);
    assert_eq!(
        get(
            &gw,
            "/claims",
            Some(&t(json!({"iss": "k-HS256", "exp": n + 600, "nbf": n - 5})))
        )
        .await
        .status(),
        200
    );
    let (_, body) = refused(
        get(
            &gw,
            "/claims",
            Some(&t(json!({"iss": "k-HS256", "exp": n - 600, "nbf": n - 5}))),
        )
        .await,
    )
    .await;
    assert_eq!(body, json!({"exp": "token expired"}));
    let (_, body) = refused(
        get(
            &gw,
            "/claims",
            Some(&t(
                json!({"iss": "k-HS256", "exp": n + 600, "nbf": n + 600}),
            )),
        )
        .await,
    )
    .await;
    assert_eq!(body, json!({"nbf": "token not valid yet"}));
    let (_, body) = refused(get(&gw, "/claims", Some(&t(json!({"iss": "k-HS256"})))).await).await;
    assert_eq!(
        body,
        json!({"exp": "must be a number", "nbf": "must be a number"})
    );
    // Without claims_to_verify an expired token passes, as in Kong.
    assert_eq!(
        get(
            &gw,
            "/any",
            Some(&t(json!({"iss": "k-HS256", "exp": n - 600})))
        )
        .await
        .status(),
        200
    );

    assert_eq!(
        get(
            &gw,
            "/max",
            Some(&t(json!({"iss": "k-HS256", "exp": n + 30})))
        )
        .await
        .status(),
        200
    );
    let (_, body) = refused(
        get(
            &gw,
            "/max",
            Some(&t(json!({"iss": "k-HS256", "exp": n + 3600}))),
        )
        .await,
    )
    .await;
    assert_eq!(body, json!({"exp": "exceeds maximum allowed expiration"}));
}

#[tokio::test]
async fn token_places_kid_anonymous_and_preflight() {
    let (_up, gw, k) = setup().await;
    let good = sign(Algorithm::HS256, &k, &json!({"iss": "k-HS256"}));

    let resp = client()
        .get(gw.url(&format!("/any?jwt={good}")))
        .send()
        .await
        .expect("req");
    assert_eq!(resp.status(), 200, "token in the query");
    let resp = get_with(&gw, "/any", "authorization", format!("bearer {good}")).await;
    assert_eq!(resp.status(), 200, "lower-case bearer");
    let resp = get_with(&gw, "/any", "authorization", format!("BEARER {good}")).await;
    assert_eq!(resp.status(), 401, "BEARER is not recognised");

    let resp = get_with(&gw, "/cookie", "cookie", format!("a=b; session={good}")).await;
    assert_eq!(resp.status(), 200, "token in a cookie");
    let (_, body) = refused(get(&gw, "/cookie", Some(&good)).await).await;
    assert_eq!(
        body,
        json!({"message": "Unauthorized"}),
        "headers are not read when header_names is empty"
    );

    // kid in the payload, then in the JOSE header.
    let in_payload = sign(Algorithm::HS256, &k, &json!({"kid": "k-HS256"}));
    assert_eq!(get(&gw, "/kid", Some(&in_payload)).await.status(), 200);
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("k-HS256".into());
    let in_header = encode(
        &header,
        &json!({"sub": "x"}),
        &EncodingKey::from_secret(b"s3cret-HS256"),
    )
    .expect("sign");
    assert_eq!(get(&gw, "/kid", Some(&in_header)).await.status(), 200);
    let (_, body) = refused(get(&gw, "/kid", Some(&good)).await).await;
    assert_eq!(body, json!({"message": "No mandatory 'kid' in claims"}));

    // Anonymous: a failure lets the request through as the anonymous consumer.
    let resp = get_with(&gw, "/anon", "x-anonymous-consumer", "forged").await;
    let seen = echoed(resp).await;
    assert_eq!(seen["headers"]["x-anonymous-consumer"], "true");
    assert_eq!(seen["headers"]["x-consumer-username"], "anon");
    assert!(seen["headers"].get("x-credential-identifier").is_none());
    let resp = client()
        .get(gw.url("/anon"))
        .header("authorization", format!("Bearer {good}"))
        .header("x-anonymous-consumer", "forged")
        .header("x-consumer-username", "mallory")
        .header("x-consumer-username", "eve")
        .header("x-consumer-id", "forged-id")
        .header("x-credential-identifier", "forged-key")
        .send()
        .await
        .expect("req");
    let seen = echoed(resp).await;
    assert!(
        seen["headers"].get("x-anonymous-consumer").is_none(),
        "a client cannot claim to be anonymous"
    );
    // Each identity field is the consumer's alone: none of the client's is joined to it.
    assert_eq!(seen["headers"]["x-consumer-username"], "alice");
    assert_eq!(
        seen["headers"]["x-consumer-id"].as_str().map(str::len),
        Some(36)
    );
    assert_eq!(seen["headers"]["x-credential-identifier"], "k-HS256");

    // Preflight.
    let resp = client()
        .request(reqwest::Method::OPTIONS, gw.url("/preflight"))
        .send()
        .await
        .expect("req");
    assert_eq!(resp.status(), 200, "run_on_preflight: false skips OPTIONS");
    let resp = client()
        .request(reqwest::Method::OPTIONS, gw.url("/any"))
        .send()
        .await
        .expect("req");
    assert_eq!(resp.status(), 401, "run_on_preflight defaults to true");
}

#[tokio::test]
async fn the_scenarios_token_passes_and_a_forged_one_does_not() {
    let up = Upstream::http().await;
    let yaml = format!(
        r#"_format_version: "3.0"
services:
  - name: users-service
    url: {}
    routes: [{{ name: users-route, paths: [/users] }}]
consumers:
  - username: auth-service-consumer
    jwt_secrets:
      - {{ key: {SCENARIO_KEY}, secret: "{SCENARIO_SECRET}", algorithm: HS256 }}
plugins:
  - {{ name: jwt, service: users-service, config: {{ key_claim_name: kid }} }}
"#,
        up.url("http")
    );
    let gw = Gateway::start(&yaml).await;
    let claims = json!({"userId": 1, "email": "admin@example.com", "isAdmin": true, "iat": now(), "kid": SCENARIO_KEY});
    let token = hs(Algorithm::HS256, SCENARIO_SECRET.as_bytes(), &claims);
    let seen = echoed(get(&gw, "/users", Some(&token)).await).await;
    assert_eq!(
        seen["headers"]["x-consumer-username"],
        "auth-service-consumer"
    );
    assert_eq!(seen["headers"]["x-credential-identifier"], SCENARIO_KEY);
    let forged = hs(Algorithm::HS256, b"Not the secret.", &claims);
    let (www, body) = refused(get(&gw, "/users", Some(&forged)).await).await;
    assert_eq!(www, "Bearer error=\"invalid_token\"");
    assert_eq!(body, json!({"message": "Invalid signature"}));
}

/// A token verified once is kept by its text (`jwt::verified`): sent again it must still meet
/// its time claims at that moment, and a new config (new secret) must not accept it.
#[tokio::test]
async fn a_token_seen_before_is_checked_again_where_it_can_change() {
    let (up, gw, k) = setup().await;
    let n = now();
    let t = |c: Value| sign(Algorithm::HS256, &k, &c);
    // Valid now, expired within two seconds; and not valid for two seconds, then valid.
    let ending = t(json!({"iss": "k-HS256", "exp": n + 2, "nbf": n - 5}));
    let starting = t(json!({"iss": "k-HS256", "exp": n + 600, "nbf": n + 2}));
    for _ in 0..2 {
        // The kept token names its consumer upstream as the verified one did.
        let seen = echoed(get(&gw, "/claims", Some(&ending)).await).await;
        assert_eq!(seen["headers"]["x-consumer-username"], "alice");
        assert_eq!(seen["headers"]["x-credential-identifier"], "k-HS256");
        let (www, body) = refused(get(&gw, "/claims", Some(&starting)).await).await;
        assert_eq!(www, "Bearer error=\"invalid_token\"");
        assert_eq!(body, json!({"nbf": "token not valid yet"}));
    }
    // Polled (bounded) until the clock passes both: each answer is one Kong gives.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let (mut ended, mut started) = (false, false);
    while !(ended && started) {
        assert!(
            std::time::Instant::now() < deadline,
            "claims never rechecked"
        );
        let r = get(&gw, "/claims", Some(&ending)).await;
        if r.status() == 401 {
            let (www, body) = refused(r).await;
            assert_eq!(www, "Bearer error=\"invalid_token\"");
            assert_eq!(body, json!({"exp": "token expired"}));
            ended = true;
        } else {
            assert_eq!(r.status(), 200);
            assert!(!ended, "an expired token passed again");
        }
        let r = get(&gw, "/claims", Some(&starting)).await;
        if r.status() == 200 {
            started = true;
        } else {
            let (_, body) = refused(r).await;
            assert_eq!(body, json!({"nbf": "token not valid yet"}));
            assert!(!started, "a valid token was refused again");
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // The same token, kept by the old config, meets the new config's secret and fails.
    let good = t(json!({"iss": "k-HS256"}));
    assert_eq!(get(&gw, "/any", Some(&good)).await.status(), 200);
    assert_eq!(get(&gw, "/any", Some(&good)).await.status(), 200);
    let changed = config(&up.url("http"), &k).replace("s3cret-HS256", "n3w-s3cret-HS256");
    let r = client()
        .post(gw.admin("/config"))
        .header("content-type", "application/yaml")
        .body(changed)
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 201);
    let (www, body) = refused(get(&gw, "/any", Some(&good)).await).await;
    assert_eq!(www, "Bearer error=\"invalid_token\"");
    assert_eq!(body, json!({"message": "Invalid signature"}));
    let renewed = hs(
        Algorithm::HS256,
        b"n3w-s3cret-HS256",
        &json!({"iss": "k-HS256"}),
    );
    assert_eq!(get(&gw, "/any", Some(&renewed)).await.status(), 200);
}
