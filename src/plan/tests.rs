use super::*;
use crate::cloud::{
    ObservedListener, ObservedLoadBalancer, ObservedSecurityGroup, ObservedTargetGroup, RuleAction,
};
use crate::model::{HealthCheck, LoadBalancerType, Protocol, Scheme, TargetType};
use crate::observe::LoadBalancerState;

fn context() -> (BTreeSet<String>, String) {
    (BTreeSet::new(), "k8s-traffic-prod-6754af9632".to_string())
}

fn observed_stack(load_balancer_resource_id: Option<&str>) -> ObservedStack {
    let health_check = HealthCheck::nlb_default();
    ObservedStack {
        load_balancers: vec![LoadBalancerState {
            web_acl: None,
            add_ons: Default::default(),
            load_balancer: ObservedLoadBalancer {
                arn: "arn:lb".into(),
                name: "k8s-shop-web-0000000000".into(),
                load_balancer_type: LoadBalancerType::Network,
                scheme: Scheme::Internal,
                ip_address_type: IpAddressType::Ipv4,
                subnet_mappings: Vec::new(),
                security_groups: vec!["sg-managed".into()],
                dns_name: "lb.example".into(),
                state: "active".into(),
                ipv4_ipam_pool: None,
            },
            resource_id: load_balancer_resource_id.map(str::to_string),
            tags: Tags::new(),
            attributes: BTreeMap::new(),
            listeners: vec![ObservedListener {
                arn: "arn:listener".into(),
                load_balancer_arn: "arn:lb".into(),
                port: 80,
                protocol: Protocol::Tcp,
                default_action: RuleAction::Forward {
                    target_groups: vec![("arn:tg".into(), None)],
                    stickiness_seconds: None,
                },
                default_authentication: None,
                certificates: Vec::new(),
                ssl_policy: None,
                alpn_policy: None,
                mutual_authentication: None,
                attributes: BTreeMap::new(),
            }],
        }],
        target_groups: vec![TargetGroupState {
            target_group: ObservedTargetGroup {
                arn: "arn:tg".into(),
                name: "k8s-shop-web-1111111111".into(),
                target_type: TargetType::Ip,
                protocol: Protocol::Tcp,
                protocol_version: None,
                port: 8080,
                vpc_id: "vpc-1".into(),
                ip_address_type: "ipv4".into(),
                health_check,
                load_balancer_arns: vec!["arn:lb".into()],
            },
            resource_id: Some("shop/web:80".into()),
            tags: Tags::new(),
            attributes: BTreeMap::new(),
            targets: Vec::new(),
        }],
        security_groups: vec![ObservedSecurityGroup {
            id: "sg-managed".into(),
            name: "k8s-shop-web-2222222222".into(),
            description: String::new(),
            ingress: Vec::new(),
            permissions: Vec::new(),
            tags: Tags::new(),
        }],
        backend_security_group: Some("sg-backend".into()),
        shield_subscribed: false,
        certificates: Vec::new(),
    }
}

#[test]
fn an_empty_stack_deletes_the_load_balancer_then_target_groups_then_the_security_group() {
    let (external, backend) = context();
    let context = PlanContext {
        external_managed_tags: &external,
        backend_security_group_name: &backend,
        load_balancer_id: LOAD_BALANCER_ID,
        rules_per_security_group: 60,
    };
    let planned = plan(
        &Stack::empty("shop/web"),
        &observed_stack(Some(LOAD_BALANCER_ID)),
        &context,
    )
    .unwrap();
    let kinds: Vec<String> = planned.changes.iter().map(|c| c.to_string()).collect();
    assert_eq!(
        kinds,
        [
            "delete load balancer k8s-shop-web-0000000000 (no longer wanted)",
            "delete target group k8s-shop-web-1111111111",
            "delete security group k8s-shop-web-2222222222",
        ]
    );
    assert!(planned.changes.iter().all(Change::is_delete));
}

#[test]
fn a_load_balancer_with_the_stack_tags_but_no_resource_id_is_not_touched() {
    let (external, backend) = context();
    let context = PlanContext {
        external_managed_tags: &external,
        backend_security_group_name: &backend,
        load_balancer_id: LOAD_BALANCER_ID,
        rules_per_security_group: 60,
    };
    let refused = plan(&Stack::empty("shop/web"), &observed_stack(None), &context);
    assert!(
        refused.is_err(),
        "nothing is deleted when ownership is unclear"
    );
}
