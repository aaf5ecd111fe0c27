//! The crate's layering, checked: each top-level module may import only modules of a lower
//! layer (docs/architecture.md). Reads the sources, so a new upward `use crate::…` fails here
//! with its file and line.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Bottom to top; a module may use modules of lower layers only.
const LAYERS: &[&[&str]] = &[
    // Vocabulary every step shares.
    &["mode", "workload", "image"],
    &["verdict"],
    // Observers that take plain values.
    &["metrics"],
    // The data path, from the registry up to the review.
    &["registry"],
    &["resolve"],
    &["policy"],
    &["admission"],
    // The two consumers of the pipeline besides the CLI.
    &["audit", "server"],
    // landed.yaml, made of every section above.
    &["config"],
    // The composition root.
    &["cli"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// The top-level modules named after each `crate::` in `line` (`crate::a::b`, `crate::{a, b::c}`).
fn targets(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (at, _) in line.match_indices("crate::") {
        let rest = &line[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if start && (c.is_alphanumeric() || c == '_') => {
                        let name: String = group[i..]
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect();
                        found.push(name);
                        start = false;
                    }
                    c if c.is_whitespace() => {}
                    _ => start = false,
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            found.push(name);
        }
    }
    found
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `use` of a module that is not below the user, as `file:line: a -> b`.
fn upward_imports(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    sources(src, &mut files);
    let mut wrong = Vec::new();
    for file in files {
        let relative = file.strip_prefix(src).expect("under src");
        let first = relative.components().next().expect("a component");
        let module = first.as_os_str().to_string_lossy();
        let module = module.trim_end_matches(".rs");
        let Some(own) = layer_of(module) else {
            continue; // lib.rs, main.rs and this file sit above every layer
        };
        let text = std::fs::read_to_string(&file).expect("readable source");
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for target in targets(line) {
                let fine = target == module
                    || target == "self"
                    || layer_of(&target).is_some_and(|layer| layer < own);
                if !fine {
                    wrong.push(format!(
                        "{}:{}: {module} -> {target}",
                        relative.display(),
                        n + 1
                    ));
                }
            }
        }
    }
    wrong
}

#[test]
fn every_module_imports_only_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let wrong = upward_imports(&src);
    assert!(
        wrong.is_empty(),
        "imports against the layering (docs/architecture.md):\n{}",
        wrong.join("\n")
    );
}

#[test]
fn every_top_level_module_has_a_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("lib.rs");
    let modules: BTreeSet<&str> = lib
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(';'))
        .collect();
    let unplaced: Vec<_> = modules.iter().filter(|m| layer_of(m).is_none()).collect();
    assert!(unplaced.is_empty(), "modules without a layer: {unplaced:?}");
}

#[test]
fn the_check_sees_grouped_and_inline_paths() {
    assert_eq!(
        targets("use crate::{admission::{self, Route}, mode::Mode};"),
        ["admission", "mode"]
    );
    assert_eq!(
        targets("let m = crate::metrics::global(); crate::policy::x()"),
        ["metrics", "policy"]
    );
    // An upward import is caught: policy may not use admission.
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("policy")).expect("mkdir");
    std::fs::write(
        dir.path().join("policy/x.rs"),
        "use crate::admission::Route;\n// crate::cli in a comment is fine\n",
    )
    .expect("write");
    assert_eq!(
        upward_imports(dir.path()),
        ["policy/x.rs:1: policy -> admission"]
    );
}
