//! Pipeline tests: Service → desired stack → observe/plan/apply against the simulator.

use super::*;
use crate::cloud::ports::*;
use crate::cloud::simulator::Simulator;
use crate::cloud::{ErrorKind, LoadBalancerInput, TargetGroupInput};
use crate::facts::CloudFacts;
use crate::model::Tags;
use crate::model::{
    HealthCheck, IpAddressType, LoadBalancerType, Protocol, Scheme, SubnetMapping, TargetType,
};
use crate::service::{build_service_stack, stack_id, ServiceBuildInput};
use k8s_openapi::api::core::v1::Service;
use std::path::Path;

fn facts() -> CloudFacts {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/aws-facts.json");
    CloudFacts::from_documents(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn config() -> ControllerConfig {
    ControllerConfig::new("prod", "vpc-0example")
}

fn simulator() -> Simulator {
    Simulator::with_subnets(facts().subnets)
}

/// A two-port instance-mode Service, internet-facing, with the given extra annotations.
fn service(name: &str, annotations: &[(&str, &str)]) -> Service {
    let mut all = serde_json::Map::new();
    for (key, value) in [
        ("aws-load-balancer-type", "external"),
        ("aws-load-balancer-nlb-target-type", "instance"),
        ("aws-load-balancer-scheme", "internet-facing"),
    ]
    .iter()
    .chain(annotations)
    {
        all.insert(
            format!("service.beta.kubernetes.io/{key}"),
            serde_json::json!(value),
        );
    }
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "namespace": "shop", "uid": format!("uid-{name}"), "annotations": all},
        "spec": {"type": "LoadBalancer", "ports": [
            {"name": "http", "port": 80, "targetPort": 8080, "nodePort": 30080, "protocol": "TCP"},
            {"name": "https", "port": 443, "targetPort": 8443, "nodePort": 30443, "protocol": "TCP"}
        ]}
    }))
    .unwrap()
}

fn desired(service: &Service) -> Stack {
    let facts = facts();
    let config = config();
    let input = ServiceBuildInput {
        service,
        config: &config,
        facts: &facts,
        existing: None,
    };
    build_service_stack(&input).unwrap().stack
}

async fn deploy(
    cloud: &Simulator,
    service: &Service,
    stack: &Stack,
) -> Result<Deployed, DeployError> {
    deploy_stack(
        cloud,
        stack,
        &StackIdentity::for_service("prod", &stack_id(service)),
        &config(),
    )
    .await
}

fn assert_one_complete_stack(cloud: &Simulator, context: &str) {
    assert_eq!(
        cloud.load_balancer_names().len(),
        1,
        "{context}: load balancers {:?}",
        cloud.load_balancer_names()
    );
    assert_eq!(
        cloud.target_group_names().len(),
        2,
        "{context}: target groups"
    );
    assert_eq!(cloud.listener_ports().len(), 2, "{context}: listeners");
    assert_eq!(
        cloud.security_group_names().len(),
        2,
        "{context}: managed + backend security groups"
    );
}

#[tokio::test]
async fn first_deploy_creates_everything_and_the_second_writes_nothing() {
    let cloud = simulator();
    let web = service("web", &[]);
    let stack = desired(&web);
    let first = deploy(&cloud, &web, &stack).await.unwrap();
    assert_one_complete_stack(&cloud, "after the first deploy");
    assert!(first
        .applied
        .dns_name
        .as_deref()
        .is_some_and(|dns| dns.ends_with(".elb.us-west-2.amazonaws.com")));
    assert_eq!(
        cloud.load_balancer_names(),
        [stack.load_balancer.as_ref().unwrap().name.clone()]
    );

    cloud.calls.clear();
    let second = deploy(&cloud, &web, &stack).await.unwrap();
    assert!(second.plan.is_empty(), "unexpected plan:\n{}", second.plan);
    assert!(
        cloud.calls.writes().is_empty(),
        "writes: {:?}",
        cloud.calls.writes()
    );
    assert!(
        cloud.calls.reads().len() <= 8,
        "a drift check of a 2-port NLB reads at most 8 times: {:?}",
        cloud.calls.reads()
    );
}

#[tokio::test]
async fn drift_check_reads_do_not_grow_with_other_load_balancers() {
    let cloud = simulator();
    let web = service("web", &[]);
    deploy(&cloud, &web, &desired(&web)).await.unwrap();
    cloud.calls.clear();
    deploy(&cloud, &web, &desired(&web)).await.unwrap();
    let alone = cloud.calls.reads();
    for index in 0..5 {
        let other = service(&format!("other{index}"), &[]);
        deploy(&cloud, &other, &desired(&other)).await.unwrap();
    }
    cloud.calls.clear();
    deploy(&cloud, &web, &desired(&web)).await.unwrap();
    assert_eq!(
        cloud.calls.reads(),
        alone,
        "reads with 5 other NLBs in the account"
    );
}

#[tokio::test]
async fn an_annotation_change_modifies_only_what_it_affects() {
    let cloud = simulator();
    let before = service("web", &[]);
    deploy(&cloud, &before, &desired(&before)).await.unwrap();
    let after = service(
        "web",
        &[(
            "aws-load-balancer-target-group-attributes.443",
            "deregistration_delay.timeout_seconds=15",
        )],
    );
    cloud.calls.clear();
    let deployed = deploy(&cloud, &after, &desired(&after)).await.unwrap();
    assert_eq!(
        cloud.calls.writes(),
        ["ModifyTargetGroupAttributes"],
        "plan:\n{}",
        deployed.plan
    );
    let name = &desired(&after).target_groups["shop/web:443"].name;
    let attributes = cloud.target_group_attributes_by_name(name).unwrap();
    assert_eq!(attributes["deregistration_delay.timeout_seconds"], "15");
}

#[tokio::test]
async fn a_scheme_change_replaces_the_load_balancer_and_keeps_the_target_groups() {
    let cloud = simulator();
    let public = service("web", &[]);
    deploy(&cloud, &public, &desired(&public)).await.unwrap();
    let target_groups = cloud.target_group_names();
    let internal = service("web", &[("aws-load-balancer-scheme", "internal")]);
    let internal = {
        let mut service = internal;
        let annotations = service.metadata.annotations.as_mut().unwrap();
        annotations.insert(
            "service.beta.kubernetes.io/aws-load-balancer-scheme".into(),
            "internal".into(),
        );
        service
    };
    let wanted = desired(&internal);
    cloud.calls.clear();
    deploy(&cloud, &internal, &wanted).await.unwrap();
    assert_eq!(
        cloud.load_balancer_names(),
        [wanted.load_balancer.as_ref().unwrap().name.clone()]
    );
    assert_eq!(
        cloud.target_group_names(),
        target_groups,
        "target groups are not replaced by a scheme change"
    );
    assert_eq!(cloud.listener_ports().len(), 2);
    let writes = cloud.calls.writes();
    assert_eq!(
        writes
            .iter()
            .filter(|w| **w == "DeleteLoadBalancer")
            .count(),
        1
    );
    assert_eq!(
        writes
            .iter()
            .filter(|w| **w == "CreateLoadBalancer")
            .count(),
        1
    );
}

#[tokio::test]
async fn a_target_type_change_replaces_target_groups_and_moves_the_listeners() {
    let cloud = simulator();
    let instance = service("web", &[]);
    deploy(&cloud, &instance, &desired(&instance))
        .await
        .unwrap();
    let old_groups = cloud.target_group_names();
    let mut ip = service("web", &[]);
    ip.metadata.annotations.as_mut().unwrap().insert(
        "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type".into(),
        "ip".into(),
    );
    let wanted = desired(&ip);
    deploy(&cloud, &ip, &wanted).await.unwrap();
    let mut new_groups: Vec<String> = wanted
        .target_groups
        .values()
        .map(|tg| tg.name.clone())
        .collect();
    new_groups.sort();
    let mut now = cloud.target_group_names();
    now.sort();
    assert_eq!(now, new_groups);
    assert!(
        old_groups.iter().all(|old| !now.contains(old)),
        "old target groups are deleted"
    );
    cloud.calls.clear();
    deploy(&cloud, &ip, &wanted).await.unwrap();
    assert!(
        cloud.calls.writes().is_empty(),
        "converged: {:?}",
        cloud.calls.writes()
    );
}

#[tokio::test]
async fn deleting_removes_exactly_our_resources_and_leaves_look_alikes() {
    let cloud = simulator();
    let web = service("web", &[]);
    let stack = desired(&web);
    let look_alike = LoadBalancerInput {
        name: "k8s-shop-web-lookalike".into(),
        load_balancer_type: LoadBalancerType::Network,
        scheme: Scheme::InternetFacing,
        ip_address_type: IpAddressType::Ipv4,
        address_pools: Default::default(),
        subnet_mappings: vec![SubnetMapping {
            subnet_id: "subnet-0a1c0ffee0000001".into(),
            allocation_id: None,
            private_ipv4_address: None,
            ipv6_address: None,
            source_nat_ipv6_prefix: None,
        }],
        ipv6_source_nat: None,
        security_groups: Vec::new(),
        tags: Tags::from([("service.k8s.aws/stack".into(), "shop/web".into())]),
    };
    cloud.create_load_balancer(&look_alike).await.unwrap();
    let untagged_group = TargetGroupInput {
        name: "hand-made".into(),
        target_type: TargetType::Ip,
        protocol: Protocol::Tcp,
        protocol_version: None,
        target_control_port: None,
        port: 80,
        ip_address_type: "ipv4".into(),
        vpc_id: "vpc-0example".into(),
        health_check: HealthCheck::nlb_default(),
        tags: Tags::new(),
    };
    cloud.create_target_group(&untagged_group).await.unwrap();
    deploy(&cloud, &web, &stack).await.unwrap();

    let deleted = deploy(&cloud, &web, &Stack::empty(&stack.id))
        .await
        .unwrap();
    assert_eq!(deleted.applied.dns_name, None);
    assert_eq!(
        cloud.load_balancer_names(),
        ["k8s-shop-web-lookalike"],
        "a look-alike without the cluster tag stays"
    );
    assert_eq!(cloud.target_group_names(), ["hand-made"]);
    assert!(cloud.listener_ports().is_empty());
    assert_eq!(
        cloud.security_group_names(),
        [crate::naming::backend_security_group_name("prod")],
        "the shared backend group stays"
    );
}

#[tokio::test]
async fn deletion_protection_stops_the_delete_and_keeps_the_load_balancer() {
    let cloud = simulator();
    let protected = service(
        "web",
        &[(
            "aws-load-balancer-attributes",
            "deletion_protection.enabled=true",
        )],
    );
    let stack = desired(&protected);
    deploy(&cloud, &protected, &stack).await.unwrap();
    let outcome = deploy(&cloud, &protected, &Stack::empty(&stack.id)).await;
    match outcome {
        Err(DeployError::Apply(error)) => {
            assert_eq!(error.error.kind, ErrorKind::Invalid, "{error}")
        }
        other => panic!("expected the delete to be refused, got {other:?}"),
    }
    assert_eq!(cloud.load_balancer_names().len(), 1);
}

/// The write operations of a clean deploy, in order, as (operation, occurrence) pairs.
fn occurrences(writes: &[&'static str]) -> Vec<(&'static str, usize)> {
    let mut seen = std::collections::BTreeMap::new();
    writes
        .iter()
        .map(|operation| {
            let count = seen.entry(*operation).or_insert(0);
            *count += 1;
            (*operation, *count)
        })
        .collect()
}

#[tokio::test]
async fn a_failure_at_any_write_of_a_create_converges_with_exactly_one_load_balancer() {
    let web = service(
        "web",
        &[(
            "aws-load-balancer-attributes",
            "load_balancing.cross_zone.enabled=true",
        )],
    );
    let stack = desired(&web);
    let clean = simulator();
    deploy(&clean, &web, &stack).await.unwrap();
    let steps = occurrences(&clean.calls.writes());
    assert!(steps.len() >= 8, "a create has many steps: {steps:?}");
    for (operation, occurrence) in steps {
        let cloud = simulator();
        cloud.fail_call(operation, occurrence, ErrorKind::Throttled);
        assert!(
            deploy(&cloud, &web, &stack).await.is_err(),
            "{operation} #{occurrence} was injected to fail"
        );
        deploy(&cloud, &web, &stack)
            .await
            .unwrap_or_else(|e| panic!("retry after {operation} #{occurrence}: {e}"));
        assert_one_complete_stack(&cloud, &format!("after a failed {operation} #{occurrence}"));
        cloud.calls.clear();
        deploy(&cloud, &web, &stack).await.unwrap();
        assert!(
            cloud.calls.writes().is_empty(),
            "converged after {operation} #{occurrence}: {:?}",
            cloud.calls.writes()
        );
    }
}

#[tokio::test]
async fn a_failure_at_any_write_of_a_delete_converges_with_nothing_left() {
    let web = service("web", &[]);
    let stack = desired(&web);
    let empty = Stack::empty(&stack.id);
    let clean = simulator();
    deploy(&clean, &web, &stack).await.unwrap();
    clean.calls.clear();
    deploy(&clean, &web, &empty).await.unwrap();
    let steps = occurrences(&clean.calls.writes());
    assert!(steps.len() >= 3, "a delete has several steps: {steps:?}");
    for (operation, occurrence) in steps {
        let cloud = simulator();
        deploy(&cloud, &web, &stack).await.unwrap();
        cloud.fail_call(operation, occurrence, ErrorKind::Other);
        assert!(
            deploy(&cloud, &web, &empty).await.is_err(),
            "{operation} #{occurrence} was injected to fail"
        );
        deploy(&cloud, &web, &empty)
            .await
            .unwrap_or_else(|e| panic!("retry after {operation} #{occurrence}: {e}"));
        assert!(
            cloud.load_balancer_names().is_empty() && cloud.target_group_names().is_empty(),
            "after a failed {operation} #{occurrence}"
        );
        assert_eq!(
            cloud.security_group_names().len(),
            1,
            "only the shared backend group is left"
        );
    }
}

#[tokio::test]
async fn listener_certificates_beyond_the_default_are_attached_and_reconciled() {
    let cloud = simulator();
    let with = |certificates: &str| {
        service(
            "web",
            &[
                ("aws-load-balancer-ssl-cert", certificates),
                ("aws-load-balancer-ssl-ports", "443"),
            ],
        )
    };
    let first = with("arn:cert/a, arn:cert/b");
    deploy(&cloud, &first, &desired(&first)).await.unwrap();
    assert_eq!(
        cloud.listener_certificates(443),
        ["arn:cert/a", "arn:cert/b"]
    );
    cloud.calls.clear();
    deploy(&cloud, &first, &desired(&first)).await.unwrap();
    assert!(
        cloud.calls.writes().is_empty(),
        "writes: {:?}",
        cloud.calls.writes()
    );

    let swapped = with("arn:cert/a, arn:cert/c");
    cloud.calls.clear();
    deploy(&cloud, &swapped, &desired(&swapped)).await.unwrap();
    assert_eq!(
        cloud.calls.writes(),
        ["AddListenerCertificates", "RemoveListenerCertificates"]
    );
    assert_eq!(
        cloud.listener_certificates(443),
        ["arn:cert/a", "arn:cert/c"]
    );

    let new_default = with("arn:cert/d, arn:cert/c");
    cloud.calls.clear();
    deploy(&cloud, &new_default, &desired(&new_default))
        .await
        .unwrap();
    assert_eq!(cloud.calls.writes(), ["ModifyListener"]);
    assert_eq!(
        cloud.listener_certificates(443),
        ["arn:cert/d", "arn:cert/c"]
    );
}

#[tokio::test]
async fn a_managed_group_left_detached_by_a_failed_delete_is_deleted_later() {
    let cloud = simulator();
    let managed = service("web", &[]);
    deploy(&cloud, &managed, &desired(&managed)).await.unwrap();
    let own = TestGroup::create(&cloud, "users-own").await;
    let switched = service(
        "web",
        &[("aws-load-balancer-security-groups", "sg-placeholder")],
    );
    let mut wanted = desired_with_groups(&switched, &own);
    // The switch detaches the managed group, then its delete fails once.
    cloud.fail_call("DeleteSecurityGroup", 1, ErrorKind::InUse);
    assert!(deploy(&cloud, &switched, &wanted).await.is_err());
    assert_eq!(
        cloud.security_group_names().len(),
        3,
        "managed, backend and the user's group"
    );
    wanted = desired_with_groups(&switched, &own);
    deploy(&cloud, &switched, &wanted).await.unwrap();
    let mut left = cloud.security_group_names();
    left.sort();
    let mut expected = vec![
        crate::naming::backend_security_group_name("prod"),
        "users-own".to_string(),
    ];
    expected.sort();
    assert_eq!(
        left, expected,
        "the detached managed group is found by its tags and deleted"
    );
}

/// A user-made security group in the simulator.
struct TestGroup {
    id: String,
}

impl TestGroup {
    async fn create(cloud: &Simulator, name: &str) -> Self {
        let input = crate::cloud::SecurityGroupInput {
            name: name.into(),
            description: "made by hand".into(),
            vpc_id: "vpc-0example".into(),
            tags: Tags::from([("Name".into(), name.into())]),
        };
        Self {
            id: cloud.create_security_group(&input).await.unwrap(),
        }
    }
}

/// The desired stack of `service` when it names `group` as its only security group.
fn desired_with_groups(service: &Service, group: &TestGroup) -> Stack {
    let mut service = service.clone();
    service.metadata.annotations.as_mut().unwrap().insert(
        "service.beta.kubernetes.io/aws-load-balancer-security-groups".into(),
        group.id.clone(),
    );
    let mut facts = facts();
    facts.security_groups.push(crate::facts::SecurityGroup {
        group_id: group.id.clone(),
        group_name: "users-own".into(),
        vpc_id: "vpc-0example".into(),
        ..crate::facts::SecurityGroup::default()
    });
    let config = config();
    let input = ServiceBuildInput {
        service: &service,
        config: &config,
        facts: &facts,
        existing: None,
    };
    build_service_stack(&input).unwrap().stack
}

mod alb_rules;

#[tokio::test]
async fn ipv6_source_nat_prefixes_go_on_the_subnet_mappings_at_create_then_cost_no_write() {
    let cloud = simulator();
    let service = service(
        "nat",
        &[
            ("aws-load-balancer-ip-address-type", "dualstack"),
            ("aws-load-balancer-enable-prefix-for-ipv6-source-nat", "on"),
            (
                "aws-load-balancer-source-nat-ipv6-prefixes",
                "auto_assigned, 2600:1f14:aaa:b100:0:1::/80",
            ),
        ],
    );
    let stack = desired(&service);
    let deployed = deploy(&cloud, &service, &stack).await.unwrap();
    let arn = deployed.applied.load_balancer_arn.unwrap();
    let described = crate::cloud::LoadBalancing::describe_load_balancers(&cloud, &[arn])
        .await
        .unwrap();
    let prefixes: Vec<Option<&str>> = described[0]
        .subnet_mappings
        .iter()
        .map(|m| m.source_nat_ipv6_prefix.as_deref())
        .collect();
    assert_eq!(
        prefixes,
        [Some("auto_assigned"), Some("2600:1f14:aaa:b100:0:1::/80")]
    );
    cloud.calls.clear();
    deploy(&cloud, &service, &stack).await.unwrap();
    assert!(
        cloud.calls.writes().is_empty(),
        "{:?}",
        cloud.calls.writes()
    );
}
