//! Listener rules against the simulator: the planner's changes, applied, leave exactly the
//! desired rules, with the calls it promised.

use crate::apply::apply_rule_changes;
use crate::cloud::ports::*;
use crate::cloud::simulator::Simulator;
use crate::cloud::{ListenerInput, LoadBalancerInput, RuleAction, RuleContent, TargetGroupInput};
use crate::facts::Subnet;
use crate::model::{
    HealthCheck, IpAddressType, LoadBalancerType, Protocol, Scheme, SubnetMapping, Tags, TargetType,
};
use crate::plan::rules::tests::desired;
use crate::plan::rules::{plan_rules, DesiredRule};

/// An ALB with an HTTP listener, in a simulator.
async fn listener() -> (Simulator, String) {
    let subnets: Vec<Subnet> = ["a", "b"]
        .iter()
        .map(|zone| Subnet {
            subnet_id: format!("subnet-{zone}"),
            vpc_id: "vpc-1".into(),
            availability_zone: format!("us-west-2{zone}"),
            ..Subnet::default()
        })
        .collect();
    let cloud = Simulator::with_subnets(subnets);
    let load_balancer = cloud
        .create_load_balancer(&LoadBalancerInput {
            name: "k8s-web-66ee2ef97b".into(),
            load_balancer_type: LoadBalancerType::Application,
            scheme: Scheme::Internal,
            ip_address_type: IpAddressType::Ipv4,
            address_pools: Default::default(),
            subnet_mappings: ["subnet-a", "subnet-b"]
                .iter()
                .map(|id| SubnetMapping {
                    subnet_id: id.to_string(),
                    allocation_id: None,
                    private_ipv4_address: None,
                    ipv6_address: None,
                    source_nat_ipv6_prefix: None,
                })
                .collect(),
            ipv6_source_nat: None,
            security_groups: Vec::new(),
            tags: Tags::new(),
        })
        .await
        .unwrap();
    let group = cloud
        .create_target_group(&TargetGroupInput {
            name: "default".into(),
            target_type: TargetType::Ip,
            protocol: Protocol::Http,
            protocol_version: None,
            target_control_port: None,
            port: 80,
            ip_address_type: "ipv4".into(),
            vpc_id: "vpc-1".into(),
            health_check: HealthCheck::nlb_default(),
            tags: Tags::new(),
        })
        .await
        .unwrap();
    let listener = cloud
        .create_listener(&ListenerInput {
            load_balancer_arn: load_balancer.arn,
            port: 80,
            protocol: Protocol::Http,
            default_authentication: None,
            default_action: RuleAction::Forward {
                target_groups: vec![(group.arn, None)],
                stickiness_seconds: None,
            },
            certificates: Vec::new(),
            ssl_policy: None,
            alpn_policy: None,
            mutual_authentication: None,
            tags: Tags::new(),
        })
        .await
        .unwrap();
    (cloud, listener.arn)
}

/// Plans against what the simulator holds, applies, and returns the calls made by operation.
async fn converge(
    cloud: &Simulator,
    listener_arn: &str,
    wanted: &[DesiredRule],
) -> Vec<&'static str> {
    let observed = cloud.describe_rules(listener_arn).await.unwrap();
    let changes = plan_rules(wanted, &observed);
    cloud.calls.clear();
    apply_rule_changes(cloud, listener_arn, &changes)
        .await
        .unwrap_or_else(|e| panic!("{changes:?} failed: {e}"));
    let writes = cloud.calls.writes();
    assert_eq!(writes.len(), changes.calls(), "one call per planned change");
    let held: Vec<(i32, RuleContent)> = cloud
        .describe_rules(listener_arn)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.priority, r.content))
        .collect();
    let expected: Vec<(i32, RuleContent)> = wanted
        .iter()
        .map(|r| (r.priority, r.content.clone()))
        .collect();
    assert_eq!(
        held, expected,
        "the listener holds exactly the desired rules"
    );
    let again = plan_rules(wanted, &cloud.describe_rules(listener_arn).await.unwrap());
    assert!(again.is_empty(), "converged: {again:?}");
    writes
}

#[tokio::test]
async fn unchanged_rules_cost_nothing_and_one_changed_path_is_one_modify() {
    let (cloud, listener) = listener().await;
    let first = converge(&cloud, &listener, &desired(&["/a", "/b", "/c"])).await;
    assert_eq!(first, ["CreateRule"; 3]);
    let observed = cloud.describe_rules(&listener).await.unwrap();
    assert!(plan_rules(&desired(&["/a", "/b", "/c"]), &observed).is_empty());
    let writes = converge(&cloud, &listener, &desired(&["/a", "/b2", "/c"])).await;
    assert_eq!(writes, ["ModifyRule"]);
}

#[tokio::test]
async fn inserting_rules_in_the_middle_moves_the_rest_and_creates_only_the_new_ones() {
    let (cloud, listener) = listener().await;
    converge(&cloud, &listener, &desired(&["/a", "/b", "/c", "/d", "/e"])).await;
    let writes = converge(
        &cloud,
        &listener,
        &desired(&["/a", "/b", "/new1", "/new2", "/c", "/d", "/e"]),
    )
    .await;
    let creates = writes.iter().filter(|w| **w == "CreateRule").count();
    let moves = writes.iter().filter(|w| **w == "SetRulePriorities").count();
    assert_eq!(creates, 2, "{writes:?}");
    assert!(moves <= 2, "{writes:?}");
    assert!(
        !writes.contains(&"DeleteRule") && !writes.contains(&"ModifyRule"),
        "{writes:?}"
    );
}

#[tokio::test]
async fn a_swap_goes_through_a_free_slot_and_nothing_is_recreated() {
    let (cloud, listener) = listener().await;
    converge(&cloud, &listener, &desired(&["/a", "/b", "/c"])).await;
    let writes = converge(&cloud, &listener, &desired(&["/b", "/a", "/c"])).await;
    assert_eq!(writes, ["SetRulePriorities", "SetRulePriorities"]);
}

#[tokio::test]
async fn removing_a_rule_deletes_exactly_it_and_shifts_the_others_in_two_calls() {
    let (cloud, listener) = listener().await;
    converge(
        &cloud,
        &listener,
        &desired(&["/a", "/b", "/c", "/d", "/e", "/f"]),
    )
    .await;
    let writes = converge(&cloud, &listener, &desired(&["/a", "/c", "/d", "/e", "/f"])).await;
    assert_eq!(
        writes,
        ["DeleteRule", "SetRulePriorities", "SetRulePriorities"]
    );
}

#[tokio::test]
async fn a_changed_rule_is_modified_not_recreated_even_when_it_moves() {
    let (cloud, listener) = listener().await;
    converge(&cloud, &listener, &desired(&["/a", "/b"])).await;
    let writes = converge(&cloud, &listener, &desired(&["/x", "/y", "/a"])).await;
    assert!(!writes.contains(&"DeleteRule"), "{writes:?}");
    assert_eq!(
        writes.iter().filter(|w| **w == "ModifyRule").count(),
        1,
        "{writes:?}"
    );
}

#[tokio::test]
async fn any_change_of_rules_converges_in_one_pass() {
    // A small deterministic generator: many shapes of before/after, each must converge exactly.
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |bound: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % bound
    };
    let pool = ["/a", "/b", "/c", "/d", "/e", "/f", "/g", "/h"];
    for _ in 0..40 {
        let (cloud, listener) = listener().await;
        for _ in 0..3 {
            let count = next(pool.len() as u64 + 1) as usize;
            let mut paths: Vec<&str> = pool.to_vec();
            for i in (1..paths.len()).rev() {
                paths.swap(i, next(i as u64 + 1) as usize);
            }
            paths.truncate(count);
            converge(&cloud, &listener, &desired(&paths)).await;
        }
    }
}
