//! Golden tests: each Service shape in `golden/*.yaml` is built against the example AWS facts and
//! its whole result (stack and warnings, or the problems) compared with the reviewed
//! `golden/*.json`. `UPDATE_GOLDEN=1` rewrites the expected files; review the diff before keeping it.

use super::{build_service_stack, ServiceBuildInput};
use crate::config::ControllerConfig;
use crate::facts::CloudFacts;
use k8s_openapi::api::core::v1::Service;
use serde_json::json;
use std::path::{Path, PathBuf};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/service/golden")
}

fn example_facts() -> CloudFacts {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/aws-facts.json");
    CloudFacts::from_documents(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn render(service: &Service, config: &ControllerConfig, facts: &CloudFacts) -> String {
    let input = ServiceBuildInput {
        service,
        config,
        facts,
        existing: None,
    };
    let outcome = match build_service_stack(&input) {
        Ok(built) => json!({"stack": built.stack, "warnings": built.warnings}),
        Err(problems) => json!({"problems": problems}),
    };
    serde_json::to_string_pretty(&outcome).unwrap() + "\n"
}

#[test]
fn every_service_shape_builds_its_reviewed_stack() {
    let config = ControllerConfig::new("prod", "vpc-0example");
    let facts = example_facts();
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    inputs.sort();
    assert!(
        inputs.len() >= 15,
        "at least 15 shapes are covered, found {}",
        inputs.len()
    );
    let mut mismatched = Vec::new();
    for input in inputs {
        let service: Service =
            serde_yaml::from_str(&std::fs::read_to_string(&input).unwrap()).unwrap();
        let actual = render(&service, &config, &facts);
        let expected_path = input.with_extension("json");
        if update {
            std::fs::write(&expected_path, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != actual {
            mismatched.push(format!("{}:\n{actual}", expected_path.display()));
        }
    }
    assert!(
        mismatched.is_empty(),
        "stacks differ from the reviewed files (UPDATE_GOLDEN=1 rewrites them):\n{}",
        mismatched.join("\n")
    );
}
