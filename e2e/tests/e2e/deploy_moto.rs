//! The AWS half of a reconcile against moto, through the SDK implementation of the Cloud port:
//! a Service's NLB stack is created with upstream's tags, a second deploy writes nothing, and
//! deploying the empty stack removes every resource of the stack.

use aws_load_balancer_controller::cloud::ports::*;
use aws_load_balancer_controller::cloud::sdk::SdkCloud;
use aws_load_balancer_controller::config::ControllerConfig;
use aws_load_balancer_controller::deploy::deploy_stack;
use aws_load_balancer_controller::facts::CloudFacts;
use aws_load_balancer_controller::model::Stack;
use aws_load_balancer_controller::observe::StackIdentity;
use aws_load_balancer_controller::service::{build_service_stack, ServiceBuildInput};
use e2e::moto::{create_vpc_with_subnets, MotoServer};
use k8s_openapi::api::core::v1::Service;
use serde_json::json;

fn service() -> Service {
    serde_json::from_value(json!({
        "metadata": {"name": "echo", "namespace": "demo", "uid": "6a1f0c9e-0000-4000-8000-000000000001", "annotations": {
            "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
            "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing",
            "service.beta.kubernetes.io/aws-load-balancer-target-group-attributes": "deregistration_delay.timeout_seconds=30"
        }},
        "spec": {"type": "LoadBalancer", "loadBalancerClass": "service.k8s.aws/nlb", "ports": [
            {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"},
            {"name": "dns", "port": 53, "targetPort": 5353, "protocol": "UDP"}
        ]}
    }))
    .unwrap()
}

#[tokio::test]
async fn a_service_stack_is_created_converged_and_deleted_in_moto() {
    let moto = MotoServer::lease().await;
    let aws = moto.clients().await;
    let (vpc_id, _) = create_vpc_with_subnets(
        &aws.ec2,
        0,
        &["us-west-2a", "us-west-2b", "us-west-2c"],
        "kubernetes.io/role/elb",
    )
    .await;
    let config = ControllerConfig::new("e2e-cluster", &vpc_id);
    let cloud = SdkCloud::new(
        &aws_load_balancer_controller::aws_clients::load_sdk_config(&moto.settings()).await,
    );
    let facts = CloudFacts {
        subnets: cloud.describe_subnets(&vpc_id).await.unwrap(),
        ..CloudFacts::default()
    };
    let service = service();
    let built = build_service_stack(&ServiceBuildInput {
        service: &service,
        config: &config,
        facts: &facts,
        existing: None,
    })
    .unwrap();
    let identity = StackIdentity::for_service("e2e-cluster", "demo/echo");

    let created = deploy_stack(&cloud, &built.stack, &identity, &config)
        .await
        .unwrap();
    assert!(created.applied.dns_name.is_some());
    let described = aws.elbv2.describe_load_balancers().send().await.unwrap();
    let load_balancer = &described.load_balancers()[0];
    assert_eq!(described.load_balancers().len(), 1);
    assert_eq!(
        load_balancer.load_balancer_name(),
        Some(built.stack.load_balancer.as_ref().unwrap().name.as_str())
    );
    assert_eq!(load_balancer.availability_zones().len(), 3);
    let tags = aws
        .elbv2
        .describe_tags()
        .resource_arns(load_balancer.load_balancer_arn().unwrap())
        .send()
        .await
        .unwrap();
    let tags: Vec<(String, String)> = tags.tag_descriptions()[0]
        .tags()
        .iter()
        .map(|t| (t.key().unwrap().to_string(), t.value().unwrap().to_string()))
        .collect();
    for expected in [
        ("elbv2.k8s.aws/cluster", "e2e-cluster"),
        ("service.k8s.aws/stack", "demo/echo"),
        ("service.k8s.aws/resource", "LoadBalancer"),
    ] {
        assert!(
            tags.contains(&(expected.0.to_string(), expected.1.to_string())),
            "missing tag {expected:?} in {tags:?}"
        );
    }
    let listeners = aws
        .elbv2
        .describe_listeners()
        .load_balancer_arn(load_balancer.load_balancer_arn().unwrap())
        .send()
        .await
        .unwrap();
    let mut ports: Vec<i32> = listeners
        .listeners()
        .iter()
        .filter_map(|l| l.port())
        .collect();
    ports.sort();
    assert_eq!(ports, [53, 80]);
    let groups = aws.elbv2.describe_target_groups().send().await.unwrap();
    assert_eq!(groups.target_groups().len(), 2);

    cloud.calls.clear();
    let second = deploy_stack(&cloud, &built.stack, &identity, &config)
        .await
        .unwrap();
    assert!(
        second.plan.is_empty(),
        "a second deploy changes nothing in moto:\n{}",
        second.plan
    );
    assert!(
        cloud.calls.writes().is_empty(),
        "writes: {:?}",
        cloud.calls.writes()
    );

    deploy_stack(&cloud, &Stack::empty("demo/echo"), &identity, &config)
        .await
        .unwrap();
    assert!(aws
        .elbv2
        .describe_load_balancers()
        .send()
        .await
        .unwrap()
        .load_balancers()
        .is_empty());
    assert!(aws
        .elbv2
        .describe_target_groups()
        .send()
        .await
        .unwrap()
        .target_groups()
        .is_empty());
}

#[tokio::test]
async fn targets_are_synced_into_a_moto_target_group() {
    use aws_load_balancer_controller::cloud::Target;
    use aws_load_balancer_controller::targets::sync_targets;
    use e2e::moto::{create_ip_target_group, registered_targets};
    use std::collections::BTreeSet;
    let moto = MotoServer::lease().await;
    let aws = moto.clients().await;
    let (vpc_id, _) =
        create_vpc_with_subnets(&aws.ec2, 2, &["us-west-2a"], "kubernetes.io/role/elb").await;
    let arn = create_ip_target_group(&aws.elbv2, "k8s-demo-echo-targets01", &vpc_id).await;
    let cloud = SdkCloud::new(
        &aws_load_balancer_controller::aws_clients::load_sdk_config(&moto.settings()).await,
    );
    let target = |ip: &str| Target {
        id: ip.to_string(),
        port: 8080,
    };
    let three = BTreeSet::from([
        target("10.2.0.11"),
        target("10.2.0.12"),
        target("10.2.0.13"),
    ]);
    sync_targets(&cloud, &arn, &three).await.unwrap();
    let expected: BTreeSet<String> = ["10.2.0.11:8080", "10.2.0.12:8080", "10.2.0.13:8080"]
        .iter()
        .map(|t| t.to_string())
        .collect();
    assert_eq!(registered_targets(&aws.elbv2, &arn).await, expected);
    let one = BTreeSet::from([target("10.2.0.12")]);
    let changes = sync_targets(&cloud, &arn, &one).await.unwrap();
    assert_eq!(changes.changes.deregister.len(), 2);
    assert_eq!(
        registered_targets(&aws.elbv2, &arn).await,
        BTreeSet::from(["10.2.0.12:8080".to_string()])
    );
}
