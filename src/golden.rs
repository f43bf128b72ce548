//! Golden-file checks for the tests: every `*.yaml` input of a directory is rendered and compared
//! with the reviewed `*.json` beside it. `UPDATE_GOLDEN=1` rewrites the expected files instead;
//! review the diff before keeping it.

use std::path::{Path, PathBuf};

/// Renders every input of `dir` (at least `minimum` of them) and fails listing each mismatch.
pub fn check_golden_dir(dir: &Path, minimum: usize, render: impl Fn(&Path) -> String) {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    inputs.sort();
    assert!(
        inputs.len() >= minimum,
        "at least {minimum} shapes are covered, found {}",
        inputs.len()
    );
    let mut mismatched = Vec::new();
    for input in inputs {
        let actual = render(&input);
        let expected_path = input.with_extension("json");
        if update {
            std::fs::write(&expected_path, &actual).unwrap_or_else(|e| panic!("{e}"));
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != actual {
            mismatched.push(format!("{}:\n{actual}", expected_path.display()));
        }
    }
    assert!(
        mismatched.is_empty(),
        "results differ from the reviewed files (UPDATE_GOLDEN=1 rewrites them):\n{}",
        mismatched.join("\n")
    );
}
