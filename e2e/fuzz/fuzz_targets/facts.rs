//! Any text as `plan --facts`: read, then the example manifests planned over it. Nothing may
//! panic.
#![no_main]

use aws_load_balancer_controller::config::ControllerConfig;
use aws_load_balancer_controller::dry_run::dry_run;
use aws_load_balancer_controller::facts::CloudFacts;
use aws_load_balancer_controller::manifests::read_manifests;
use libfuzzer_sys::fuzz_target;

const EXAMPLE_MANIFESTS: &str = include_str!("../../../examples/ingresses.yaml");

fuzz_target!(|text: &str| {
    let Ok(facts) = CloudFacts::from_documents(text) else {
        return;
    };
    let objects = read_manifests("ingresses.yaml", EXAMPLE_MANIFESTS).expect("the example manifests");
    let _ = dry_run(&objects, &ControllerConfig::new("demo", "vpc-0example"), &facts);
});
