use super::*;
use crate::model::{IpAddressType, LoadBalancerSpec, LoadBalancerType, Scheme};

const QUOTA: usize = 10;

fn rule(n: usize) -> IngressRule {
    IngressRule {
        protocol: "tcp".into(),
        from_port: 80,
        to_port: 80,
        source: format!("10.0.{n}.0/24"),
    }
}

fn spec(rules: usize) -> SecurityGroupSpec {
    SecurityGroupSpec {
        name: "k8s-web-0123456789".into(),
        description: "managed".into(),
        ingress: (0..rules).map(rule).collect(),
        tags: Tags::from([(
            "ingress.k8s.aws/resource".to_string(),
            MANAGED_GROUP_RESOURCE.to_string(),
        )]),
    }
}

/// A stack wanting `rules` rules on its managed group and a load balancer with `groups`.
fn desired(rules: usize, groups: Vec<SecurityGroupRef>) -> Stack {
    let mut stack = Stack::empty("web");
    stack.security_group = Some(spec(rules));
    stack.load_balancer = Some(LoadBalancerSpec {
        name: "k8s-web-0123456789".into(),
        load_balancer_type: LoadBalancerType::Application,
        scheme: Scheme::Internal,
        ip_address_type: IpAddressType::Ipv4,
        subnet_mappings: Vec::new(),
        ipv6_source_nat: None,
        security_groups: groups,
        attributes: Default::default(),
        wafv2_acl: None,
        address_pools: Default::default(),
        waf_classic_acl: None,
        shield_advanced_protection: None,
        minimum_capacity_units: None,
        tags: Tags::new(),
    });
    stack
}

/// `stack` no longer wanting rule 0.
fn without_rule_0(mut stack: Stack) -> Stack {
    if let Some(spec) = &mut stack.security_group {
        spec.ingress.retain(|r| *r != rule(0));
    }
    stack
}

/// Shard `shard` as AWS holds it, with the rules numbered `rules`.
fn shard(shard: usize, rules: std::ops::Range<usize>) -> ObservedSecurityGroup {
    let spec = spec(0);
    ObservedSecurityGroup {
        id: format!("sg-{shard}"),
        name: shard_name(&spec, shard),
        description: String::new(),
        ingress: rules.map(rule).collect(),
        permissions: Vec::new(),
        tags: shard_tags(&spec, shard),
    }
}

fn plan_of(desired: &Stack, observed: &ObservedStack) -> Result<Vec<Change>, PlanError> {
    let external = Default::default();
    let context = PlanContext {
        external_managed_tags: &external,
        backend_security_group_name: "k8s-traffic-prod-0000000000",
        load_balancer_id: crate::plan::LOAD_BALANCER_ID,
        rules_per_security_group: QUOTA,
    };
    let layout = managed_layout(desired, observed, &context)?;
    let mut changes = Vec::new();
    plan_security_groups(desired, observed, &layout, &context, &mut changes);
    plan_security_group_deletions(&layout, &mut changes);
    Ok(changes)
}

fn observed(groups: Vec<ObservedSecurityGroup>) -> ObservedStack {
    ObservedStack {
        security_groups: groups,
        backend_security_group: Some("sg-backend".into()),
        ..ObservedStack::default()
    }
}

#[test]
fn shards_are_named_and_tagged_after_the_managed_group_and_read_back() {
    let spec = spec(0);
    assert_eq!(shard_name(&spec, 0), "k8s-web-0123456789");
    assert_eq!(shard_name(&spec, 2), "k8s-web-0123456789-3");
    assert_eq!(
        shard_tags(&spec, 2)["ingress.k8s.aws/resource"],
        "ManagedLBSecurityGroup-3"
    );
    assert_eq!(shard_of(&shard_tags(&spec, 0)), 0);
    assert_eq!(shard_of(&shard_tags(&spec, 3)), 3);
    assert_eq!(shard_of(&Tags::new()), 0, "upstream's group has no number");
}

#[test]
fn a_new_stack_fills_each_group_to_the_quota_before_creating_the_next() {
    let changes = plan_of(
        &desired(25, vec![SecurityGroupRef::Managed]),
        &observed(Vec::new()),
    )
    .unwrap();
    let created: Vec<(usize, usize)> = changes
        .iter()
        .filter_map(|change| match change {
            Change::AuthorizeIngress {
                group_id: None,
                shard,
                rules,
            } => Some((*shard, rules.len())),
            _ => None,
        })
        .collect();
    assert_eq!(created, [(0, 10), (1, 10), (2, 5)]);
    assert_eq!(
        changes
            .iter()
            .filter(|c| matches!(c, Change::CreateSecurityGroup { .. }))
            .count(),
        3
    );
}

#[test]
fn a_full_group_revokes_before_it_authorizes_and_a_group_with_room_authorizes_first() {
    // Shard 0 is full: rule 0 leaves, rule 10 replaces it there.
    let wanted = without_rule_0(desired(11, vec![SecurityGroupRef::Managed]));
    let changes = plan_of(&wanted, &observed(vec![shard(0, 0..10)])).unwrap();
    assert!(
        matches!(
            changes.as_slice(),
            [
                Change::RevokeIngress { .. },
                Change::AuthorizeIngress { .. }
            ]
        ),
        "{changes:?}"
    );
    // With room, the new rule comes first: no source is ever without access.
    let wanted = without_rule_0(desired(6, vec![SecurityGroupRef::Managed]));
    let changes = plan_of(&wanted, &observed(vec![shard(0, 0..5)])).unwrap();
    assert!(
        matches!(
            changes.as_slice(),
            [
                Change::AuthorizeIngress { .. },
                Change::RevokeIngress { .. }
            ]
        ),
        "{changes:?}"
    );
}

#[test]
fn fewer_groups_allowed_moves_the_last_shards_rules_into_room_left_and_deletes_it() {
    // Five shards; the backend group now takes one of the load balancer's five places.
    let groups = vec![
        shard(0, 0..10),
        shard(1, 10..20),
        shard(2, 20..25),
        shard(3, 25..30),
        shard(4, 30..35),
    ];
    let wanted = desired(
        35,
        vec![SecurityGroupRef::Managed, SecurityGroupRef::Backend],
    );
    let changes = plan_of(&wanted, &observed(groups)).unwrap();
    assert_eq!(
        changes,
        [
            Change::AuthorizeIngress {
                group_id: Some("sg-2".into()),
                shard: 2,
                rules: (30..35).map(rule).collect(),
            },
            Change::DeleteSecurityGroup {
                group_id: "sg-4".into(),
                name: "k8s-web-0123456789-5".into(),
            },
        ]
    );
}

#[test]
fn a_missing_first_group_is_recreated_and_an_emptied_extra_one_deleted() {
    let changes = plan_of(
        &desired(5, vec![SecurityGroupRef::Managed]),
        &observed(vec![shard(1, 20..25)]),
    )
    .unwrap();
    assert_eq!(
        changes,
        [
            Change::CreateSecurityGroup {
                name: "k8s-web-0123456789".into(),
                shard: 0,
            },
            Change::AuthorizeIngress {
                group_id: None,
                shard: 0,
                rules: (0..5).map(rule).collect(),
            },
            Change::DeleteSecurityGroup {
                group_id: "sg-1".into(),
                name: "k8s-web-0123456789-2".into(),
            },
        ]
    );
}

#[test]
fn more_rules_than_the_groups_left_can_hold_is_an_error_naming_the_counts() {
    let wanted = desired(
        45,
        vec![
            SecurityGroupRef::Managed,
            SecurityGroupRef::Backend,
            SecurityGroupRef::Id("sg-user".into()),
        ],
    );
    let refused = plan_of(&wanted, &observed(Vec::new())).unwrap_err();
    assert!(
        refused.0.contains("needs 45 inbound rules") && refused.0.contains("hold at most 30"),
        "{refused}"
    );
}
