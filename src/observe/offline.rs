//! Observing a stack from recorded AWS facts instead of AWS: the offline `plan` reads
//! `describe-load-balancers`, `describe-target-groups`, `describe-listeners`, `describe-tags`,
//! `describe-security-groups` output (and attributes by ARN) and gets the same [`ObservedStack`]
//! the controller observes, so the same `plan` computes the changes.

use super::{
    classify_security_groups, LoadBalancerState, ObservedStack, StackIdentity, TargetGroupState,
};
use crate::cloud::{
    ObservedListener, ObservedLoadBalancer, ObservedSecurityGroup, ObservedTargetGroup, RuleAction,
};
use crate::facts::{CloudFacts, KeyValue};
use crate::model::{
    HealthCheck, IngressRule, IpAddressType, LoadBalancerType, Protocol, Scheme, SubnetMapping,
    Tags, TargetType,
};
use std::collections::BTreeMap;

fn attribute_map(values: Option<&Vec<KeyValue>>) -> BTreeMap<String, String> {
    values
        .into_iter()
        .flatten()
        .map(|kv| (kv.key.clone(), kv.value.clone()))
        .collect()
}

fn tags_by_arn(facts: &CloudFacts) -> BTreeMap<&str, Tags> {
    facts
        .tag_descriptions
        .iter()
        .map(|d| {
            (
                d.resource_arn.as_str(),
                d.tags
                    .iter()
                    .map(|t| (t.key.clone(), t.value.clone()))
                    .collect(),
            )
        })
        .collect()
}

fn listener(recorded: &crate::facts::Listener) -> ObservedListener {
    let action = recorded.default_actions.first();
    let tuples = action
        .and_then(|a| a.forward_config.as_ref())
        .map(|c| c.target_groups.clone())
        .unwrap_or_default();
    let target_groups = if tuples.len() > 1 {
        tuples
            .into_iter()
            .map(|t| (t.target_group_arn, t.weight))
            .collect()
    } else {
        action
            .and_then(|a| a.target_group_arn.clone())
            .map(|arn| vec![(arn, None)])
            .unwrap_or_default()
    };
    ObservedListener {
        arn: recorded.listener_arn.clone(),
        load_balancer_arn: recorded.load_balancer_arn.clone(),
        port: recorded.port,
        protocol: Protocol::parse_or_tcp(&recorded.protocol),
        default_action: RuleAction::Forward {
            target_groups,
            stickiness_seconds: None,
        },
        default_authentication: None,
        certificates: recorded
            .certificates
            .iter()
            .map(|c| c.certificate_arn.clone())
            .collect(),
        ssl_policy: recorded.ssl_policy.clone(),
        alpn_policy: recorded.alpn_policy.first().cloned(),
        mutual_authentication: None,
        attributes: BTreeMap::new(),
    }
}

fn load_balancer(recorded: &crate::facts::LoadBalancer) -> Option<ObservedLoadBalancer> {
    Some(ObservedLoadBalancer {
        arn: recorded.load_balancer_arn.clone(),
        name: recorded.load_balancer_name.clone(),
        load_balancer_type: LoadBalancerType::parse(&recorded.load_balancer_type)?,
        scheme: Scheme::parse(&recorded.scheme).unwrap_or(Scheme::Internal),
        ip_address_type: IpAddressType::parse_or_ipv4(&recorded.ip_address_type),
        subnet_mappings: recorded
            .availability_zones
            .iter()
            .map(|zone| {
                let address = zone.load_balancer_addresses.first();
                SubnetMapping {
                    subnet_id: zone.subnet_id.clone(),
                    allocation_id: address.and_then(|a| a.allocation_id.clone()),
                    private_ipv4_address: address.and_then(|a| a.private_ipv4_address.clone()),
                    ipv6_address: address.and_then(|a| a.ipv6_address.clone()),
                    source_nat_ipv6_prefix: None,
                }
            })
            .collect(),
        security_groups: recorded.security_groups.clone(),
        dns_name: recorded.dns_name.clone(),
        state: recorded
            .state
            .as_ref()
            .map(|s| s.code.clone())
            .unwrap_or_default(),
        ipv4_ipam_pool: None,
    })
}

fn target_group(recorded: &crate::facts::TargetGroup) -> ObservedTargetGroup {
    let health_protocol = Protocol::parse_or_tcp(&recorded.health_check_protocol);
    let http = matches!(health_protocol, Protocol::Http | Protocol::Https);
    ObservedTargetGroup {
        arn: recorded.target_group_arn.clone(),
        name: recorded.target_group_name.clone(),
        target_type: TargetType::from_aws(&recorded.target_type).unwrap_or(TargetType::Instance),
        protocol: Protocol::parse_or_tcp(&recorded.protocol),
        protocol_version: recorded.protocol_version.clone(),
        port: recorded.port,
        vpc_id: recorded.vpc_id.clone(),
        ip_address_type: recorded
            .ip_address_type
            .clone()
            .unwrap_or_else(|| "ipv4".to_string()),
        health_check: HealthCheck {
            protocol: health_protocol,
            port: recorded.health_check_port.clone(),
            path: recorded.health_check_path.clone().filter(|_| http),
            interval_seconds: recorded.health_check_interval_seconds,
            timeout_seconds: recorded.health_check_timeout_seconds,
            healthy_threshold: recorded.healthy_threshold_count,
            unhealthy_threshold: recorded.unhealthy_threshold_count,
            success_codes: recorded
                .matcher
                .as_ref()
                .and_then(|m| m.http_code.clone())
                .filter(|_| http),
            grpc_success_codes: recorded
                .matcher
                .as_ref()
                .and_then(|m| m.grpc_code.clone())
                .filter(|_| http),
        },
        load_balancer_arns: recorded.load_balancer_arns.clone(),
    }
}

fn security_group(recorded: &crate::facts::SecurityGroup) -> ObservedSecurityGroup {
    let mut ingress = Vec::new();
    for permission in &recorded.ip_permissions {
        let sources = permission
            .ip_ranges
            .iter()
            .map(|r| r.cidr.clone())
            .chain(permission.ipv6_ranges.iter().map(|r| r.cidr.clone()))
            .chain(permission.prefix_list_ids.iter().map(|p| p.id.clone()));
        for source in sources {
            ingress.push(IngressRule {
                protocol: permission.ip_protocol.clone(),
                from_port: permission.from_port,
                to_port: permission.to_port,
                source,
            });
        }
    }
    ingress.sort();
    ObservedSecurityGroup {
        id: recorded.group_id.clone(),
        name: recorded.group_name.clone(),
        description: recorded.description.clone(),
        ingress,
        permissions: Vec::new(),
        tags: recorded.tags(),
    }
}

/// What the recorded facts hold for `identity`, found by tags exactly as `observe_stack` finds it.
pub fn observe_from_facts(
    facts: &CloudFacts,
    identity: &StackIdentity,
    vpc_id: &str,
) -> ObservedStack {
    let wanted = identity.tags();
    let tags = tags_by_arn(facts);
    let carries = |arn: &str| {
        tags.get(arn)
            .is_some_and(|t| wanted.iter().all(|(k, v)| t.get(k) == Some(v)))
    };
    let resource_id = |arn: &str| {
        tags.get(arn)
            .and_then(|t| t.get(&identity.resource_tag_key).cloned())
    };
    let mut observed = ObservedStack::default();
    for recorded in facts
        .load_balancers
        .iter()
        .filter(|lb| carries(&lb.load_balancer_arn))
    {
        let Some(load_balancer) = load_balancer(recorded) else {
            continue;
        };
        let arn = recorded.load_balancer_arn.as_str();
        observed.load_balancers.push(LoadBalancerState {
            web_acl: None,
            add_ons: Default::default(),
            resource_id: resource_id(arn),
            tags: tags.get(arn).cloned().unwrap_or_default(),
            attributes: attribute_map(facts.load_balancer_attributes.get(arn)),
            listeners: facts
                .listeners
                .iter()
                .filter(|l| l.load_balancer_arn == arn)
                .map(listener)
                .collect(),
            load_balancer,
        });
    }
    for recorded in facts
        .target_groups
        .iter()
        .filter(|tg| carries(&tg.target_group_arn))
    {
        let arn = recorded.target_group_arn.as_str();
        observed.target_groups.push(TargetGroupState {
            resource_id: resource_id(arn),
            tags: tags.get(arn).cloned().unwrap_or_default(),
            attributes: attribute_map(facts.target_group_attributes.get(arn)),
            targets: Vec::new(),
            target_group: target_group(recorded),
        });
    }
    let groups = facts
        .security_groups
        .iter()
        .filter(|g| g.vpc_id == vpc_id || g.vpc_id.is_empty())
        .map(security_group)
        .collect();
    classify_security_groups(identity, groups, &mut observed);
    observed
}
