//! Compiling: no failure, no I/O, precedence resolved once, lasting state reused.

use super::{compile, target_names, Resolved};
use crate::lasting::Lasting;
use crate::model::Model;
use std::net::SocketAddr;

fn model(yaml: &str) -> Model {
    crate::config::check(yaml).expect("valid config")
}

const PLUGINS: &str = r#"_format_version: "3.0"
services:
- name: s
  url: http://127.0.0.1:9
  plugins:
  - name: rate-limiting
    config: {minute: 10}
  routes:
  - name: a
    paths: [/a]
    plugins:
    - name: rate-limiting
      config: {minute: 3}
  - name: b
    paths: [/b]
plugins:
- name: jwt
- name: rate-limiting
  config: {minute: 100}
"#;

#[test]
fn each_route_gets_the_most_specific_instance_in_priority_order() {
    let snap = compile(
        model(PLUGINS),
        "h".into(),
        &Resolved::new(),
        &Lasting::default(),
    );
    let names = |r: usize| -> Vec<&str> {
        snap.routes[r]
            .chain
            .plugins
            .iter()
            .map(|p| p.name())
            .collect()
    };
    assert_eq!(names(0), ["jwt", "rate-limiting"]);
    assert_eq!(names(1), ["jwt", "rate-limiting"]);
    let limits = |r: usize| format!("{:?}", snap.routes[r].chain.plugins[1]);
    assert!(
        limits(0).contains("3)"),
        "route a: its own limit: {}",
        limits(0)
    );
    assert!(
        limits(1).contains("10)"),
        "route b: the service's: {}",
        limits(1)
    );
    assert_eq!(snap.router.len(), 2, "one entry per path");
}

const UPSTREAM: &str = r#"_format_version: "3.0"
upstreams:
- name: up
  targets:
  - target: backend.test:8080
  - target: 127.0.0.1:9001
services:
- name: s
  host: up
  routes:
  - name: r
    paths: [/]
"#;

#[test]
fn target_names_arrive_resolved_and_compile_does_no_lookup() {
    let m = model(UPSTREAM);
    assert_eq!(target_names(&m), [("backend.test".to_string(), 8080)]);
    let lasting = Lasting::default();
    let unresolved = compile(m.clone(), "h".into(), &Resolved::new(), &lasting);
    let members = |s: &crate::snapshot::Snapshot| -> Vec<SocketAddr> {
        s.balancers["up"].members.iter().map(|m| m.addr).collect()
    };
    assert_eq!(
        members(&unresolved),
        ["127.0.0.1:9001".parse().expect("addr")]
    );
    let mut resolved = Resolved::new();
    let addr: SocketAddr = "127.0.0.2:8080".parse().expect("addr");
    resolved.insert(("backend.test".into(), 8080), vec![addr]);
    let snap = compile(m, "h".into(), &resolved, &lasting);
    assert_eq!(members(&snap)[0], addr);
}

#[test]
fn health_survives_a_recompile_with_the_same_lasting_state() {
    let lasting = Lasting::default();
    let first = compile(model(UPSTREAM), "1".into(), &Resolved::new(), &lasting);
    let t = crate::upstream::health::Thresholds {
        tcp_failures: 1,
        ..Default::default()
    };
    let member = first.balancers["up"].members[0].clone();
    member
        .health
        .report(crate::upstream::health::Event::TcpFailure, &t);
    let second = compile(model(UPSTREAM), "2".into(), &Resolved::new(), &lasting);
    assert!(!second.balancers["up"].members[0].health.is_up());
    let fresh = compile(
        model(UPSTREAM),
        "3".into(),
        &Resolved::new(),
        &Lasting::default(),
    );
    assert!(fresh.balancers["up"].members[0].health.is_up());
}
