//! Backends the controller may refuse, by flag and feature gate: a missing Service or action
//! answers 503 by default and holds the member when not tolerated; ip targets need
//! `EnableIPTargetType`. The group's other members go on in every case.

use super::*;
use crate::config::ControllerConfig;
use crate::facts::CloudFacts;
use crate::ingress::build::build_ingress_stack;
use crate::ingress::input::{BuiltIngressStack, IngressBuildInput};
use k8s_openapi::api::core::v1::Service;

fn facts() -> CloudFacts {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/aws-facts.json");
    CloudFacts::from_documents(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn member(name: &str, extra: Value, backend: Value) -> Ingress {
    let mut annotations = json!({"alb.ingress.kubernetes.io/group.name": "web"});
    annotations
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    ingress(
        "shop",
        name,
        annotations,
        json!({"ingressClassName": "alb", "rules": [{"http": {"paths": [
            {"path": format!("/{name}"), "pathType": "Prefix", "backend": backend}
        ]}}]}),
    )
}

fn web_service() -> Service {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": "shop", "uid": "u-web"},
        "spec": {"type": "NodePort", "ports": [{"port": 80, "targetPort": 8080, "nodePort": 30080}]}
    }))
    .unwrap()
}

fn good() -> Ingress {
    member(
        "good",
        json!({}),
        json!({"service": {"name": "web", "port": {"number": 80}}}),
    )
}

fn build(ingresses: &[Ingress], config: &ControllerConfig) -> BuiltIngressStack {
    let world = World::new();
    let id = GroupId::Explicit("web".into());
    let group = load_group(&id, ingresses, &world.context()).unwrap();
    let facts = facts();
    build_ingress_stack(&IngressBuildInput {
        group_id: &id,
        members: &group.members,
        services: &[web_service()],
        config,
        facts: &facts,
        existing: None,
        previous: &BTreeMap::new(),
        held_at_load: &[],
        oidc_clients: &Default::default(),
    })
    .unwrap()
}

fn held_reasons(built: &BuiltIngressStack) -> Vec<String> {
    built.held.iter().map(|h| format!("{h:?}")).collect()
}

#[test]
fn missing_services_and_actions_answer_503_unless_not_tolerated() {
    let missing_service = member(
        "nosvc",
        json!({}),
        json!({"service": {"name": "gone", "port": {"number": 80}}}),
    );
    let missing_action = member(
        "noaction",
        json!({}),
        json!({"service": {"name": "absent", "port": {"name": "use-annotation"}}}),
    );
    let members = [good(), missing_service, missing_action];
    let mut config = ControllerConfig::new("prod", "vpc-0example");
    let tolerated = build(&members, &config);
    assert!(tolerated.held.is_empty(), "{:?}", held_reasons(&tolerated));
    assert_eq!(tolerated.stack.rules.len(), 3, "two of them answer 503");

    config.tolerate_missing_backend_service = false;
    config.tolerate_missing_backend_action = false;
    let strict = build(&members, &config);
    let reasons = held_reasons(&strict);
    assert_eq!(strict.held.len(), 2, "{reasons:?}");
    assert!(reasons
        .iter()
        .any(|r| r.contains("backend Service gone does not exist")));
    assert!(reasons
        .iter()
        .any(|r| r.contains("actions.absent is missing")));
    assert_eq!(strict.stack.rules.len(), 1, "the good member goes on");
}

#[test]
fn ip_targets_need_their_feature_gate() {
    let ip = member(
        "pods",
        json!({"alb.ingress.kubernetes.io/target-type": "ip"}),
        json!({"service": {"name": "web", "port": {"number": 80}}}),
    );
    let members = [good(), ip];
    let mut config = ControllerConfig::new("prod", "vpc-0example");
    assert!(build(&members, &config).held.is_empty());
    config.feature_gates.ip_target_type = false;
    let gated = build(&members, &config);
    let reasons = held_reasons(&gated);
    assert_eq!(gated.held.len(), 1, "{reasons:?}");
    assert!(reasons[0].contains("EnableIPTargetType"), "{reasons:?}");
    assert_eq!(gated.stack.rules.len(), 1, "the instance member goes on");
}
