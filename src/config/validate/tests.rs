//! The validation passes, one behaviour each.

use super::validate;
use crate::model::jwt_key::JwtAlgorithm;
use crate::model::{BalanceAlgorithm, HashOn, Model, Protocol};
use crate::router::PathMatcher;

fn valid(yaml: &str) -> Model {
    let tree = crate::config::parse_text(yaml).expect("parses");
    match validate(&tree) {
        Ok(m) => m,
        Err(issues) => panic!("expected valid, got {issues:?}"),
    }
}

fn problems(yaml: &str) -> Vec<String> {
    let tree = crate::config::parse_text(yaml).expect("parses");
    match validate(&tree) {
        Ok(_) => Vec::new(),
        Err(issues) => issues.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn top_level_keys_are_checked_and_legacy_files_turn_regex_paths() {
    assert_eq!(
        problems("_format_version: \"4.0\"\nservicez: []\n"),
        [
            "_format_version: expected one of: 1.1, 2.1, 3.0 (got \"4.0\")",
            "servicez: unknown field (expected one of: _format_version, _transform, services, routes, consumers, jwt_secrets, keyauth_credentials, basicauth_credentials, acls, plugins, ca_certificates, upstreams, targets, certificates, snis)",
        ]
    );
    // Kong 3.x loads 1.1 and 2.1 files, turning their regex paths into `~` paths.
    for version in ["1.1", "2.1"] {
        let m = valid(&format!(
            "_format_version: \"{version}\"\nservices:\n- name: s\n  url: http://127.0.0.1:9\n  routes:\n  - name: r\n    paths: [\"/users/\\\\d+$\", /plain]\n"
        ));
        assert!(matches!(
            m.routes[0].matchers.paths.as_slice(),
            [PathMatcher::Regex(_), PathMatcher::Prefix(_)]
        ));
    }
}

#[test]
fn services_and_routes_carry_typed_values_and_compiled_matchers() {
    let m = valid(
        r#"_format_version: "3.0"
services:
- name: users
  url: https://users.internal:8443/v1
  routes:
  - name: r
    protocols: [https]
    hosts: ["*.example.com"]
    headers: {x-version: ["2", "~*^beta"]}
    paths: [/users]
"#,
    );
    let svc = &m.services[0];
    assert_eq!(svc.protocol, Protocol::Https);
    assert_eq!(svc.host_header, "users.internal:8443");
    let r = &m.routes[0];
    assert_eq!(r.protocols, [Protocol::Https]);
    assert_eq!(r.service, Some(0));
    assert_eq!(r.matchers.hosts.len(), 1);
    assert_eq!(r.matchers.headers[0].values, ["2"]);
    assert_eq!(r.matchers.headers[0].regexes.len(), 1);
    assert!(matches!(&r.matchers.paths[..], [PathMatcher::Prefix(p)] if p == "/users"));
}

#[test]
fn a_broken_service_keeps_the_others_resolvable() {
    let p = problems(
        r#"_format_version: "3.0"
services:
- name: broken
  url: "not a url"
- name: good
  url: http://127.0.0.1:9
routes:
- name: r
  service: good
  paths: [/]
"#,
    );
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].starts_with("services[0].url: invalid url"), "{p:?}");
}

#[test]
fn consumers_and_credentials_are_parsed_once() {
    let m = valid(
        r#"_format_version: "3.0"
consumers:
- username: alice
  jwt_secrets:
  - key: k1
    secret: s3cret
    algorithm: HS384
"#,
    );
    let s = &m.jwt_secrets[0];
    assert_eq!(s.algorithm, JwtAlgorithm::HS384);
    assert_eq!(s.consumer, 0);
    assert!(s.material.verifier.is_some());
    // A consumer that fails to parse is reported once, with no follow-up about its name.
    let p = problems("_format_version: \"3.0\"\nconsumers:\n- username: bob\n  nick: b\n");
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with("consumers[0].nick: unknown field"),
        "{p:?}"
    );
}

#[test]
fn upstreams_carry_their_algorithm_and_hash_inputs() {
    let m = valid(
        r#"_format_version: "3.0"
upstreams:
- name: up
  algorithm: consistent-hashing
  hash_on: header
  hash_on_header: X-User
  hash_fallback: ip
  targets:
  - target: 127.0.0.1:9001
"#,
    );
    let up = &m.upstreams[0];
    assert_eq!(up.algorithm, BalanceAlgorithm::ConsistentHashing);
    assert!(matches!(&up.hashing.0, HashOn::Header(h) if h == "x-user"));
    assert_eq!(up.hashing.1, HashOn::Ip);
    assert_eq!((m.targets[0].port, m.targets[0].upstream), (9001, 0));
}

#[test]
fn plugins_are_checked_by_their_registry_entry() {
    let p = problems(
        r#"_format_version: "3.0"
consumers:
- username: alice
  plugins:
  - name: jwt
plugins:
- name: oauth2
- name: rate-limiting
  config: {minute: 5, limit_by: header}
- name: jwt
  config: {anonymous: nobody}
- name: key-auth
  consumer: alice
"#,
    );
    assert_eq!(
        p,
        [
            "consumers[0].plugins[0]: plugin 'jwt' cannot be applied to consumers",
            "plugins[0].name: plugin 'oauth2' is not supported by Skyport (known plugins: correlation-id, cors, jwt, key-auth, basic-auth, ip-restriction, request-size-limiting, acl, rate-limiting, request-transformer, response-transformer, aws-lambda, proxy-cache, opentelemetry, prometheus, http-log, file-log, request-termination)",
            "plugins[1].config.header_name: required field missing (limit_by is header)",
            "plugins[3]: plugin 'key-auth' cannot be applied to consumers",
        ]
    );
    let m =
        valid("_format_version: \"3.0\"\nplugins:\n- name: rate-limiting\n  config: {minute: 5}\n");
    let shown = serde_json::to_value(&m.plugins[0].config).expect("serializes");
    assert_eq!(shown["minute"], 5.0);
    assert_eq!(shown["policy"], "local", "the admin API shows the defaults");
}

#[test]
fn kong_accepts_what_deck_and_public_files_write() {
    // `url` with protocol/host/port/path (Supabase's file): the url's parts win.
    let m = valid(
        "_format_version: \"3.0\"\nservices:\n- name: s\n  url: http://a.internal:9000/x\n  protocol: https\n  host: b.internal\n  port: 443\n",
    );
    let s = &m.services[0];
    assert_eq!(
        (s.host.as_str(), s.port, s.protocol),
        ("a.internal", 9000, Protocol::Http)
    );
    assert_eq!(s.path.as_deref(), Some("/x"));
    // deck writes Kong's default cookie path out.
    valid("_format_version: \"3.0\"\nupstreams:\n- name: up\n  hash_on_cookie_path: /\n  use_srv_name: false\n");
    // A template placeholder is no host name.
    assert_eq!(
        problems("_format_version: \"3.0\"\nupstreams:\n- name: up\n  targets:\n  - target: <VARIABLES_HOST>:8080\n"),
        ["upstreams[0].targets[0].target: Invalid target ('<VARIABLES_HOST>:8080'); not a valid hostname or ip address"]
    );
}
