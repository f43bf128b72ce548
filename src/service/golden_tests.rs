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
    crate::golden::check_golden_dir(&golden_dir(), 15, |input| {
        let service: Service =
            serde_yaml::from_str(&std::fs::read_to_string(input).unwrap()).unwrap();
        render(&service, &config, &facts)
    });
}
