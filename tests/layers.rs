//! The crate's structure as `src/lib.rs` states it: every `crate::` import of a top-level
//! module points to a lower layer, so no module imports one above it or beside it and no two
//! import each other. (Read from the source text; a unit-test module may reach anywhere.)

use std::collections::BTreeSet;
use std::path::Path;

/// Top-level modules by layer, top first (as in `src/lib.rs`).
const LAYERS: &[&[&str]] = &[
    &["main", "cli"],
    &["server"],
    &["proxy", "admin", "reload", "checker", "admission", "sni"],
    &["config", "state"],
    &["lasting", "snapshot"],
    &["plugins", "upstream"],
    &["model"],
    &["router", "error", "telemetry", "settings", "issues"],
    &["lenient", "spans", "values"],
];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The text of a file without its `#[cfg(test)] mod tests { ... }` tail.
fn without_tests(text: &str) -> &str {
    match text.find("#[cfg(test)]\nmod tests {") {
        Some(i) => &text[..i],
        None => text,
    }
}

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src").flatten() {
        let p = entry.path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn imports_point_down_the_layers_only() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut wrong = BTreeSet::new();
    let mut seen = 0;
    for file in files {
        let rel = file.strip_prefix(&src).expect("under src");
        let top = rel
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .unwrap_or("")
            .trim_end_matches(".rs")
            .to_string();
        if top == "lib" || rel.ends_with("tests.rs") {
            continue;
        }
        let from = layer(&top).unwrap_or_else(|| panic!("{top} is in no layer of src/lib.rs"));
        let text = std::fs::read_to_string(&file).expect("read");
        for (i, _) in without_tests(&text).match_indices("crate::") {
            let rest = &text[i + "crate::".len()..];
            let dep: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            let Some(to) = layer(&dep) else { continue };
            seen += 1;
            if dep != top && to <= from {
                wrong.insert(format!("{} -> {dep}", rel.display()));
            }
        }
    }
    assert!(seen > 50, "the imports were read ({seen})");
    assert!(
        wrong.is_empty(),
        "imports that do not point down:\n{wrong:#?}"
    );
}
