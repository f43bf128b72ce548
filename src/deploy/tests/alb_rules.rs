//! Listener rules through the whole deploy: created with the stack, untouched when unchanged,
//! reordered gently, gone with the stack.

use super::*;

/// The Service stack turned into an ALB with HTTP listeners answering 404 by default and rules
/// for `paths` (in priority order) on port 80, forwarding to its first target group.
fn alb_stack(service: &Service, paths: &[&str]) -> Stack {
    use crate::cloud::{FixedResponseConfig, RuleCondition};
    use crate::model::{ListenerAction, RuleSpec};
    let mut stack = desired(service);
    if let Some(lb) = stack.load_balancer.as_mut() {
        lb.load_balancer_type = LoadBalancerType::Application;
    }
    for listener in stack.listeners.values_mut() {
        listener.protocol = Protocol::Http;
        listener.default_action = ListenerAction::FixedResponse(FixedResponseConfig {
            status_code: "404".into(),
            content_type: Some("text/plain".into()),
            message_body: None,
        });
    }
    let target_group = stack.target_groups.keys().next().unwrap().clone();
    for (path, priority) in paths.iter().zip(1..) {
        stack.rules.insert(
            format!("80:{priority}"),
            RuleSpec {
                transforms: Vec::new(),
                port: 80,
                priority,
                conditions: vec![RuleCondition::PathPattern {
                    values: vec![path.to_string()],
                }],
                actions: vec![ListenerAction::forward_to(&target_group)],
                tags: Tags::new(),
            },
        );
    }
    stack
}

#[tokio::test]
async fn alb_rules_are_created_with_the_stack_kept_reordered_gently_and_gone_with_it() {
    let cloud = simulator();
    let web = service("web", &[]);
    deploy(&cloud, &web, &alb_stack(&web, &["/api/*", "/web/*"]))
        .await
        .unwrap();
    let paths = |ps: &[&str]| ps.iter().map(|p| p.to_string()).collect::<Vec<_>>();
    assert_eq!(
        cloud.rule_paths(),
        [(80, 1, paths(&["/api/*"])), (80, 2, paths(&["/web/*"]))]
    );

    cloud.calls.clear();
    deploy(&cloud, &web, &alb_stack(&web, &["/api/*", "/web/*"]))
        .await
        .unwrap();
    assert!(
        cloud.calls.writes().is_empty(),
        "{:?}",
        cloud.calls.writes()
    );

    cloud.calls.clear();
    deploy(
        &cloud,
        &web,
        &alb_stack(&web, &["/web/*", "/api/*", "/new/*"]),
    )
    .await
    .unwrap();
    let writes = cloud.calls.writes();
    assert!(
        !writes.contains(&"DeleteRule") && !writes.contains(&"ModifyRule"),
        "reordering moves rules: {writes:?}"
    );
    assert_eq!(writes.iter().filter(|w| **w == "CreateRule").count(), 1);
    assert_eq!(
        cloud.rule_paths(),
        [
            (80, 1, paths(&["/web/*"])),
            (80, 2, paths(&["/api/*"])),
            (80, 3, paths(&["/new/*"]))
        ]
    );

    deploy(&cloud, &web, &Stack::empty(&stack_id(&web)))
        .await
        .unwrap();
    assert!(cloud.rule_paths().is_empty());
    assert!(cloud.load_balancer_names().is_empty());
    assert!(cloud.target_group_names().is_empty());
}
