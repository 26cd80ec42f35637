//! The files in deploy/ stay valid: every manifest parses as YAML with the fields a cluster
//! needs, the ConfigMap's kong.yml loads with the gateway's own loader, and the systemd unit
//! checks the config before starting and reloading.

use serde_json::Value;
use std::path::Path;

fn yaml(path: &str) -> Value {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    let text = std::fs::read_to_string(&full).expect("manifest");
    serde_saphyr::from_str::<Value>(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn kubernetes_manifests_are_valid_and_consistent() {
    let cm = yaml("deploy/kubernetes/configmap.yaml");
    assert_eq!(cm["kind"], "ConfigMap");
    let kong = cm["data"]["kong.yml"]
        .as_str()
        .expect("kong.yml in the ConfigMap");
    if let Err(e) = skyport::config::load(kong) {
        panic!("the ConfigMap's kong.yml does not load: {:?}", e.lines());
    }

    let dep = yaml("deploy/kubernetes/deployment.yaml");
    assert_eq!(dep["kind"], "Deployment");
    let c = &dep["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/status/ready");
    assert_eq!(
        dep["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"],
        true
    );
    assert_eq!(
        dep["spec"]["template"]["spec"]["volumes"][0]["configMap"]["name"],
        cm["metadata"]["name"]
    );
    let env: Vec<&str> = c["env"]
        .as_array()
        .expect("env")
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert!(
        env.contains(&"SKYPORT_ADMIN_TOKEN"),
        "the admin API beyond loopback needs a token"
    );

    let svc = yaml("deploy/kubernetes/service.yaml");
    assert_eq!(svc["kind"], "Service");
    assert_eq!(
        svc["spec"]["selector"],
        dep["spec"]["selector"]["matchLabels"]
    );
    let hpa = yaml("deploy/kubernetes/hpa.yaml");
    assert_eq!(hpa["kind"], "HorizontalPodAutoscaler");
    assert_eq!(
        hpa["spec"]["scaleTargetRef"]["name"],
        dep["metadata"]["name"]
    );
    let pdb = yaml("deploy/kubernetes/pdb.yaml");
    assert_eq!(pdb["kind"], "PodDisruptionBudget");
    assert_eq!(
        pdb["spec"]["selector"]["matchLabels"],
        dep["spec"]["selector"]["matchLabels"]
    );
}

#[test]
fn systemd_unit_checks_before_start_and_reload() {
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/systemd/skyport.service"),
    )
    .expect("unit");
    assert!(unit.contains("ExecStartPre=/usr/local/bin/skyport start -t"));
    assert!(unit.contains("ExecReload=/usr/local/bin/skyport config check"));
    assert!(unit.contains("ExecReload=/bin/kill -HUP $MAINPID"));
    assert!(unit.contains("Type=forking") && unit.contains("PIDFile="));
}

#[test]
fn container_runs_as_non_root_with_mounted_config() {
    let df = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/container/Dockerfile"),
    )
    .expect("Dockerfile");
    assert!(df.contains("USER 10001"));
    assert!(df.contains("SKYPORT_DECLARATIVE_CONFIG=/etc/skyport/kong.yml"));
    assert!(df.contains("cargo build --release --locked"));
}
