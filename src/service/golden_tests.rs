//! Golden tests: each Service shape in `golden/*.yaml` is run through the Service pipeline
//! offline (`pipeline::service::run_service`, as `plan` does) against the example AWS facts, and
//! its whole result (stack and warnings, or the problems) compared with the reviewed
//! `golden/*.json`. `UPDATE_GOLDEN=1` rewrites the expected files; review the diff before keeping it.

use crate::config::ControllerConfig;
use crate::facts::CloudFacts;
use crate::pipeline::service::{run_service, ServiceOutcome};
use crate::pipeline::{NoCluster, Offline};
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
    let aws = Offline { facts, config };
    let outcome = futures::executor::block_on(run_service(&aws, &NoCluster, service, None));
    let outcome = match outcome.unwrap() {
        ServiceOutcome::Built(run) => json!({"stack": *run.stack, "warnings": run.warnings}),
        ServiceOutcome::Invalid(problems) => json!({"problems": problems}),
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
