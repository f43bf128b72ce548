//! Listener rules against moto through the SDK implementation of the Cloud port: every kind of
//! condition and action the ALB model uses reads back equal to what was written (so a converged
//! listener plans no change), and reordering goes through free slots, which moto requires.

use aws_load_balancer_controller::apply::apply_rule_changes;
use aws_load_balancer_controller::cloud::ports::*;
use aws_load_balancer_controller::cloud::{
    FixedResponseConfig, ListenerInput, LoadBalancerInput, RedirectConfig, RuleAction,
    RuleCondition, RuleContent,
};
use aws_load_balancer_controller::model::{
    IpAddressType, LoadBalancerType, Protocol, Scheme, SubnetMapping, Tags,
};
use aws_load_balancer_controller::plan::rules::{plan_rules, DesiredRule};
use e2e::moto::{create_ip_target_group, create_vpc_with_subnets, MotoServer};

fn rule(priority: i32, conditions: Vec<RuleCondition>, action: RuleAction) -> DesiredRule {
    DesiredRule {
        priority,
        content: RuleContent {
            conditions,
            actions: vec![action],
            transforms: Vec::new(),
        },
        tags: Tags::new(),
    }
}

fn path(value: &str) -> RuleCondition {
    RuleCondition::PathPattern {
        values: vec![value.into()],
    }
}

#[tokio::test]
async fn rules_round_trip_through_moto_and_reorder_through_free_slots() {
    let moto = MotoServer::lease().await;
    let aws = moto.clients().await;
    let (vpc_id, subnets) = create_vpc_with_subnets(
        &aws.ec2,
        7,
        &["us-west-2a", "us-west-2b"],
        "kubernetes.io/role/elb",
    )
    .await;
    let web = create_ip_target_group(&aws.elbv2, "web", &vpc_id).await;
    let api = create_ip_target_group(&aws.elbv2, "api", &vpc_id).await;
    let cloud = moto.cloud().await;
    let load_balancer = cloud
        .create_load_balancer(&LoadBalancerInput {
            name: "k8s-web-66ee2ef97b".into(),
            load_balancer_type: LoadBalancerType::Application,
            scheme: Scheme::Internal,
            ip_address_type: IpAddressType::Ipv4,
            address_pools: Default::default(),
            subnet_mappings: subnets
                .iter()
                .map(|id| SubnetMapping {
                    subnet_id: id.clone(),
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
    let listener = cloud
        .create_listener(&ListenerInput {
            load_balancer_arn: load_balancer.arn,
            port: 80,
            protocol: Protocol::Http,
            default_authentication: None,
            default_action: RuleAction::Forward {
                target_groups: vec![(web.clone(), None)],
                stickiness_seconds: None,
            },
            certificates: Vec::new(),
            ssl_policy: None,
            alpn_policy: None,
            mutual_authentication: None,
            tags: Tags::new(),
        })
        .await
        .unwrap()
        .arn;

    let host = RuleCondition::HostHeader {
        values: vec!["shop.example.com".into()],
    };
    let rules = vec![
        rule(
            1,
            vec![host.clone(), path("/healthz")],
            RuleAction::FixedResponse(FixedResponseConfig {
                status_code: "200".into(),
                content_type: Some("text/plain".into()),
                message_body: Some("ok".into()),
            }),
        ),
        rule(
            2,
            vec![host.clone(), path("/api/*")],
            RuleAction::Forward {
                target_groups: vec![(api.clone(), None)],
                stickiness_seconds: None,
            },
        ),
        rule(
            3,
            vec![
                RuleCondition::HttpHeader {
                    name: "X-Canary".into(),
                    values: vec!["yes".into()],
                },
                RuleCondition::HttpRequestMethod {
                    values: vec!["GET".into()],
                },
                RuleCondition::QueryString {
                    values: vec![(Some("v".into()), "2".into()), (None, "beta".into())],
                },
                RuleCondition::SourceIp {
                    values: vec!["10.0.0.0/8".into()],
                },
            ],
            RuleAction::Forward {
                target_groups: vec![(web.clone(), Some(80)), (api.clone(), Some(20))],
                stickiness_seconds: Some(60),
            },
        ),
        rule(
            4,
            vec![path("/old/*")],
            RuleAction::Redirect(RedirectConfig {
                protocol: Some("HTTPS".into()),
                port: Some("443".into()),
                host: None,
                path: Some("/new/#{path}".into()),
                query: None,
                status_code: "HTTP_301".into(),
            }),
        ),
    ];
    let changes = plan_rules(&rules, &cloud.describe_rules(&listener).await.unwrap());
    apply_rule_changes(&cloud, &listener, &changes)
        .await
        .unwrap();
    let observed = cloud.describe_rules(&listener).await.unwrap();
    for (wanted, held) in rules.iter().zip(&observed) {
        assert_eq!(held.priority, wanted.priority);
        assert!(
            held.content.same_as(&wanted.content),
            "moto holds {:?}, we wrote {:?}",
            held.content,
            wanted.content
        );
    }
    assert!(
        plan_rules(&rules, &observed).is_empty(),
        "a converged listener plans no change"
    );

    // Reverse the order: every rule moves, none is re-created.
    let reversed: Vec<DesiredRule> = rules
        .iter()
        .rev()
        .zip(1..)
        .map(|(r, priority)| DesiredRule {
            priority,
            content: r.content.clone(),
            tags: Tags::new(),
        })
        .collect();
    let changes = plan_rules(&reversed, &observed);
    assert!(changes.create.is_empty() && changes.delete.is_empty() && changes.modify.is_empty());
    cloud.calls.clear();
    apply_rule_changes(&cloud, &listener, &changes)
        .await
        .unwrap();
    assert!(
        cloud.calls.writes().len() <= 2,
        "{:?}",
        cloud.calls.writes()
    );
    let after = cloud.describe_rules(&listener).await.unwrap();
    assert!(plan_rules(&reversed, &after).is_empty(), "{after:?}");
}
