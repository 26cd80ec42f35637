//! The multi-cloud demo end to end: `deploy/demo/run.sh --check` builds and starts the users
//! service (HTTPS), the orders service, the auth function on a local Lambda and the gateway,
//! then asserts every step of the scenario's walkthrough.

use std::process::Command;

#[test]
fn the_demo_walkthrough_passes_every_step() {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/demo/run.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg("--check")
        .output()
        .expect("run the demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "demo --check failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    assert!(
        stdout.contains("walkthrough: every step answered as the scenario says"),
        "{stdout}"
    );
    assert!(!stdout.contains('✘'), "{stdout}");
}
