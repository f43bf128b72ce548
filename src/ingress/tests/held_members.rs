use super::*;
use crate::config::ControllerConfig;
use crate::facts::CloudFacts;
use crate::ingress::build::build_ingress_stack;
use crate::ingress::input::{IngressBuildInput, MemberContribution};

fn facts() -> CloudFacts {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/aws-facts.json");
    CloudFacts::from_documents(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn web_member(name: &str, path: &str, path_type: &str) -> Ingress {
    ingress(
        "shop",
        name,
        json!({"alb.ingress.kubernetes.io/group.name": "web"}),
        json!({"ingressClassName": "alb", "rules": [{"http": {"paths": [
            {"path": path, "pathType": path_type, "backend": {"service": {"name": "gone", "port": {"number": 80}}}}
        ]}}]}),
    )
}

fn build(
    ingresses: &[Ingress],
    previous: &BTreeMap<String, MemberContribution>,
) -> Result<crate::ingress::input::BuiltIngressStack, String> {
    let world = World::new();
    let id = GroupId::Explicit("web".into());
    let group = load_group(&id, ingresses, &world.context()).unwrap();
    let held_at_load: Vec<String> = group
        .held
        .iter()
        .map(|(i, _)| crate::ingress::group::ingress_key(i))
        .collect();
    let config = ControllerConfig::new("prod", "vpc-0example");
    let facts = facts();
    build_ingress_stack(&IngressBuildInput {
        group_id: &id,
        members: &group.members,
        services: &[],
        config: &config,
        facts: &facts,
        existing: None,
        previous,
        held_at_load: &held_at_load,
        oidc_clients: &Default::default(),
    })
}

fn rule_paths(built: &crate::ingress::input::BuiltIngressStack) -> Vec<(String, String)> {
    built
        .stack
        .rules
        .iter()
        .map(|(id, rule)| (id.clone(), format!("{:?}", rule.conditions)))
        .collect()
}

#[test]
fn a_held_member_keeps_its_rules_in_place_and_the_others_go_on() {
    let good = [
        web_member("a", "/a", "Prefix"),
        web_member("b", "/b", "Prefix"),
    ];
    let first = build(&good, &BTreeMap::new()).unwrap();
    assert_eq!(first.stack.rules.len(), 2);

    // a breaks, b adds nothing new: a's rule stays at its priority, b's too.
    let broken = [
        web_member("a", "/a*", "Exact"),
        web_member("b", "/b", "Prefix"),
    ];
    let second = build(&broken, &first.contributions).unwrap();
    assert_eq!(second.held.len(), 1);
    assert_eq!(second.held[0].ingress, "shop/a");
    assert_eq!(
        rule_paths(&second),
        rule_paths(&first),
        "nothing of a is lost"
    );

    // Without what a had (e.g. after a restart) only b's rule is built.
    let cold = build(&broken, &BTreeMap::new()).unwrap();
    assert_eq!(cold.stack.rules.len(), 1);

    // A member held for its group.order keeps its rule too (after the others).
    let mut bad_order = web_member("a", "/a", "Prefix");
    bad_order.metadata.annotations.as_mut().unwrap().insert(
        "alb.ingress.kubernetes.io/group.order".into(),
        "5000".into(),
    );
    let third = build(
        &[bad_order, web_member("b", "/b", "Prefix")],
        &first.contributions,
    )
    .unwrap();
    assert_eq!(third.stack.rules.len(), 2, "a's rule is kept");

    // When no member builds, nothing may be deleted: the group fails instead.
    let all_broken = [
        web_member("a", "/a*", "Exact"),
        web_member("b", "/b*", "Exact"),
    ];
    let error = build(&all_broken, &first.contributions).unwrap_err();
    assert!(
        error.contains("shop/a") && error.contains("shop/b"),
        "{error}"
    );
}
