//! The moto harness: the SDK clients built by the controller's own configuration code reach
//! moto, a whole load-balancer stack can be created and read back, and a reset wipes it.

use aws_sdk_ec2::types::Filter;
use aws_sdk_elasticloadbalancingv2::types::{Action, ActionTypeEnum, ProtocolEnum, TargetTypeEnum};
use e2e::moto::{create_vpc_with_subnets, MotoServer};

#[tokio::test]
async fn a_load_balancer_stack_is_created_read_back_and_reset_away() {
    let moto = MotoServer::lease().await;
    let aws = moto.clients().await;

    let zones = ["us-west-2a", "us-west-2b", "us-west-2c"];
    let (vpc_id, subnet_ids) =
        create_vpc_with_subnets(&aws.ec2, 0, &zones, "kubernetes.io/role/elb").await;
    let tagged = aws
        .ec2
        .describe_subnets()
        .filters(
            Filter::builder()
                .name("tag:kubernetes.io/role/elb")
                .values("1")
                .build(),
        )
        .filters(Filter::builder().name("vpc-id").values(&vpc_id).build())
        .send()
        .await
        .unwrap();
    let mut zones: Vec<&str> = tagged
        .subnets()
        .iter()
        .filter_map(|s| s.availability_zone())
        .collect();
    zones.sort();
    assert_eq!(zones, ["us-west-2a", "us-west-2b", "us-west-2c"]);

    let created = aws
        .elbv2
        .create_load_balancer()
        .name("k8s-game2048-ingress2-0123456789")
        .set_subnets(Some(subnet_ids.clone()))
        .tags(
            aws_sdk_elasticloadbalancingv2::types::Tag::builder()
                .key("elbv2.k8s.aws/cluster")
                .value("test-cluster")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let load_balancer_arn = created.load_balancers()[0]
        .load_balancer_arn()
        .unwrap()
        .to_string();
    let target_group = aws
        .elbv2
        .create_target_group()
        .name("k8s-game2048-service2-abcdef0123")
        .protocol(ProtocolEnum::Http)
        .port(80)
        .vpc_id(&vpc_id)
        .target_type(TargetTypeEnum::Ip)
        .send()
        .await
        .unwrap();
    let target_group_arn = target_group.target_groups()[0]
        .target_group_arn()
        .unwrap()
        .to_string();
    aws.elbv2
        .create_listener()
        .load_balancer_arn(&load_balancer_arn)
        .protocol(ProtocolEnum::Http)
        .port(80)
        .default_actions(
            Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .target_group_arn(&target_group_arn)
                .build(),
        )
        .send()
        .await
        .unwrap();

    let described = aws
        .elbv2
        .describe_load_balancers()
        .load_balancer_arns(&load_balancer_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(described.load_balancers()[0].availability_zones().len(), 3);
    let tags = aws
        .elbv2
        .describe_tags()
        .resource_arns(&load_balancer_arn)
        .send()
        .await
        .unwrap();
    let cluster_tag = tags.tag_descriptions()[0]
        .tags()
        .iter()
        .find(|t| t.key() == Some("elbv2.k8s.aws/cluster"));
    assert_eq!(cluster_tag.and_then(|t| t.value()), Some("test-cluster"));
    let listeners = aws
        .elbv2
        .describe_listeners()
        .load_balancer_arn(&load_balancer_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(listeners.listeners()[0].port(), Some(80));
    let groups = aws
        .elbv2
        .describe_target_groups()
        .target_group_arns(&target_group_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        groups.target_groups()[0].target_type(),
        Some(&TargetTypeEnum::Ip)
    );

    moto.reset().await;
    let after = aws.elbv2.describe_load_balancers().send().await.unwrap();
    assert!(
        after.load_balancers().is_empty(),
        "reset must remove the load balancer"
    );
    let vpcs = aws
        .ec2
        .describe_vpcs()
        .filters(Filter::builder().name("vpc-id").values(&vpc_id).build())
        .send()
        .await
        .unwrap();
    assert!(vpcs.vpcs().is_empty(), "reset must remove the VPC");
    let groups_after = aws.elbv2.describe_target_groups().send().await.unwrap();
    assert!(
        groups_after.target_groups().is_empty(),
        "reset must remove the target group"
    );
}

#[tokio::test]
async fn a_call_moto_does_not_implement_fails_instead_of_retrying() {
    let moto = MotoServer::lease().await;
    let aws = moto.clients().await;
    let outcome = aws.elbv2.describe_trust_stores().send().await;
    assert!(
        outcome.is_err(),
        "moto 5.2.5 has no trust stores; the call must fail"
    );
}
