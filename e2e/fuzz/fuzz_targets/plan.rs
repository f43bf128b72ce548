//! Any text as the manifests of `plan`: read, then every Service and Ingress group built and
//! planned over the example facts, and rendered. Nothing may panic.
#![no_main]

use aws_load_balancer_controller::config::ControllerConfig;
use aws_load_balancer_controller::dry_run::{dry_run, render_problems, render_table};
use aws_load_balancer_controller::facts::CloudFacts;
use aws_load_balancer_controller::manifests::read_manifests;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const EXAMPLE_FACTS: &str = include_str!("../../../examples/aws-facts.json");

fn facts() -> &'static CloudFacts {
    static FACTS: OnceLock<CloudFacts> = OnceLock::new();
    FACTS.get_or_init(|| CloudFacts::from_documents(EXAMPLE_FACTS).expect("the example facts"))
}

fuzz_target!(|text: &str| {
    let Ok(objects) = read_manifests("fuzzed.yaml", text) else {
        return;
    };
    let config = ControllerConfig::new("demo", "vpc-0example");
    let report = dry_run(&objects, &config, facts());
    let _ = render_table(&report);
    let _ = render_problems(&report);
});
