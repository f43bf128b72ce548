//! Golden tests: each file in `golden/*.yaml` holds Ingresses, their Services and optionally
//! IngressClasses and IngressClassParams (an IngressClass `alb` for this controller always
//! exists). Every group found is loaded and run through the Ingress pipeline offline against the
//! example AWS facts (`pipeline::ingress::run_group`, as `plan` does), and the whole
//! result (stack and held members, or the group's error) is compared with the reviewed
//! `golden/*.json`. `UPDATE_GOLDEN=1` rewrites the expected files; review the diff.

use super::class::ClassContext;
use super::group::{groups_of, load_group};
use crate::config::ControllerConfig;
use crate::crd::ingress_class_params::IngressClassParams;
use crate::facts::CloudFacts;
use crate::pipeline::ingress::{run_group, GroupOutcome, GroupRun};
use crate::pipeline::{NoCluster, Offline};
use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ingress/golden")
}

fn example_facts() -> CloudFacts {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/aws-facts.json");
    CloudFacts::from_documents(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[derive(Default)]
struct Objects {
    ingresses: Vec<Ingress>,
    services: Vec<Service>,
    classes: Vec<IngressClass>,
    params: Vec<IngressClassParams>,
    secrets: Vec<Secret>,
}

fn read(path: &Path) -> Objects {
    let mut objects = Objects::default();
    objects.classes.push(
        serde_json::from_value(
            json!({"metadata": {"name": "alb"}, "spec": {"controller": "ingress.k8s.aws/alb"}}),
        )
        .unwrap(),
    );
    let text = std::fs::read_to_string(path).unwrap();
    for document in serde_yaml::Deserializer::from_str(&text) {
        let value = Value::deserialize(document).unwrap();
        match value["kind"].as_str() {
            Some("Ingress") => objects
                .ingresses
                .push(serde_json::from_value(value).unwrap()),
            Some("Service") => objects
                .services
                .push(serde_json::from_value(value).unwrap()),
            Some("IngressClass") => objects.classes.push(serde_json::from_value(value).unwrap()),
            Some("Secret") => objects.secrets.push(serde_json::from_value(value).unwrap()),
            Some("IngressClassParams") => {
                objects.params.push(serde_json::from_value(value).unwrap())
            }
            other => panic!("{}: unexpected kind {other:?}", path.display()),
        }
    }
    objects
}

fn render(objects: &Objects, config: &ControllerConfig, facts: &CloudFacts) -> String {
    let namespaces = BTreeMap::new();
    let context = ClassContext {
        ingress_class_flag: "alb",
        classes: &objects.classes,
        params: &objects.params,
        namespace_labels: &namespaces,
    };
    let mut groups: Vec<_> = objects
        .ingresses
        .iter()
        .flat_map(|ingress| groups_of(ingress, &context))
        .collect();
    groups.sort();
    groups.dedup();
    let mut outcome = serde_json::Map::new();
    for id in groups {
        let result = match load_group(&id, &objects.ingresses, &context) {
            Err(error) => json!({"error": error.to_string()}),
            Ok(group) => {
                let oidc_clients = super::auth::oidc_clients_from(
                    &objects.secrets,
                    &super::auth::oidc_secret_names(&group.members, &objects.services),
                );
                let run = GroupRun {
                    id: &id,
                    group: &group,
                    services: &objects.services,
                    oidc_clients: &oidc_clients,
                    previous: &BTreeMap::new(),
                };
                let aws = Offline { facts, config };
                let held = group.held.iter().map(|(ingress, problem)| {
                    format!("{}: {problem}", super::member::ingress_key(ingress))
                });
                let outcome =
                    futures::executor::block_on(run_group(&aws, &NoCluster, &run, UNIX_EPOCH));
                match outcome.unwrap() {
                    GroupOutcome::Built(run) => json!({
                        "stack": run.built.stack,
                        "held": held.chain(run.built.held.iter().map(|p| p.to_string())).collect::<Vec<_>>(),
                    }),
                    GroupOutcome::Unbuildable(error) => json!({"error": error}),
                }
            }
        };
        outcome.insert(id.stack_id(), result);
    }
    serde_json::to_string_pretty(&Value::Object(outcome)).unwrap() + "\n"
}

#[test]
fn every_ingress_shape_builds_its_reviewed_stack() {
    let mut config = ControllerConfig::new("prod", "vpc-0example");
    // Only `create-acm-cert` shapes use it (the gate is off by default, as upstream).
    config.feature_gates.certificate_management = true;
    let facts = example_facts();
    crate::golden::check_golden_dir(&golden_dir(), 20, |input| {
        render(&read(input), &config, &facts)
    });
}
