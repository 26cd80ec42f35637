//! `skyport config check` against golden files: every config error class prints its exact
//! message with its path, and a valid file prints `parse successful`.
//! Regenerate after an intended change with `UPDATE_GOLDEN=1 cargo test --test config_check`.

use std::path::Path;
use std::process::Command;

fn check(file: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_skyport"))
        .args(["config", "check"])
        .arg(file.file_name().expect("name"))
        .current_dir(file.parent().expect("dir"))
        .output()
        .expect("run skyport");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn every_fixture_matches_its_golden_output() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    assert!(files.len() >= 8, "fixtures missing");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    for file in files {
        let (ok, text) = check(&file);
        let golden = file.with_extension("out");
        let valid = file.file_stem().is_some_and(|s| s == "scenario");
        if ok != valid {
            failures.push(format!("{}: exit success = {ok}\n{text}", file.display()));
        }
        if update {
            std::fs::write(&golden, &text).expect("write golden");
            continue;
        }
        let want = std::fs::read_to_string(&golden).unwrap_or_default();
        if want != text {
            failures.push(format!(
                "{}:\n--- want\n{want}\n--- got\n{text}",
                file.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn config_init_writes_a_valid_starter_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("kong.yml");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_skyport"))
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("run")
    };
    let first = run(&["config", "init"]);
    assert!(first.status.success());
    assert!(std::fs::read_to_string(&file)
        .expect("written")
        .contains("_format_version: \"3.0\""));
    let (ok, text) = check(&file);
    assert!(ok, "{text}");
    assert_eq!(text, "parse successful\n");
    std::fs::write(&file, "mine").expect("write");
    let second = run(&["config", "init", "kong.yml"]);
    assert!(!second.status.success());
    assert_eq!(std::fs::read_to_string(&file).expect("kept"), "mine");
    assert!(String::from_utf8_lossy(&second.stderr).contains("already exists"));
}

#[test]
fn version_prints_the_crate_version() {
    let out = Command::new(env!("CARGO_BIN_EXE_skyport"))
        .arg("version")
        .output()
        .expect("run");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("skyport {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn start_refuses_bad_node_settings_and_bad_config() {
    let out = Command::new(env!("CARGO_BIN_EXE_skyport"))
        .args(["start", "-t"])
        .env("SKYPORT_PROXY_LISTEN", "nowhere")
        .env("SKYPORT_WORKER_THREADS", "many")
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("proxy_listen: invalid address \"nowhere\""),
        "{err}"
    );
    assert!(
        err.contains("worker_threads: expected a whole number (got \"many\")"),
        "{err}"
    );

    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config");
    let out = Command::new(env!("CARGO_BIN_EXE_skyport"))
        .args(["start", "-t"])
        .env("SKYPORT_DECLARATIVE_CONFIG", fixtures.join("routes.yml"))
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "routes[0].service: invalid reference 'service: user' (no such entry in 'services'); known: users-service"
        ),
        "{err}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_skyport"))
        .args(["start", "-t"])
        .env("SKYPORT_DECLARATIVE_CONFIG", fixtures.join("scenario.yml"))
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
