//! Updates of a kept load balancer and its listeners: security groups, subnets, IP address type,
//! attributes (listed keys only), tags; listeners matched by port, modified in place.

use super::security_groups::ManagedLayout;
use super::{changed_attributes, resolved_default_action, tag_changes, Change, PlanContext};
use crate::model::{LoadBalancerSpec, Protocol, SecurityGroupRef, Stack, NO_WEB_ACL};
use crate::observe::{LoadBalancerState, ObservedStack, TargetGroupState};
use std::collections::{BTreeMap, BTreeSet};

/// The security-group ids a desired load balancer would have now; `None` when one is yet to be created.
fn resolved_security_groups(
    spec: &LoadBalancerSpec,
    observed: &ObservedStack,
    managed: &ManagedLayout,
) -> Option<Vec<String>> {
    let mut ids = Vec::new();
    for group in &spec.security_groups {
        match group {
            SecurityGroupRef::Managed => ids.extend(managed.resolved_ids()?),
            SecurityGroupRef::Backend => ids.push(observed.backend_security_group.clone()?),
            SecurityGroupRef::Id(id) => ids.push(id.clone()),
        }
    }
    Some(ids)
}

pub(super) fn plan_update(
    spec: &LoadBalancerSpec,
    state: &LoadBalancerState,
    observed: &ObservedStack,
    managed: &ManagedLayout,
    context: &PlanContext,
    changes: &mut Vec<Change>,
) {
    let current = &state.load_balancer;
    let arn = current.arn.clone();
    let groups_now: BTreeSet<&String> = current.security_groups.iter().collect();
    let groups_match = resolved_security_groups(spec, observed, managed)
        .is_some_and(|wanted| wanted.iter().collect::<BTreeSet<_>>() == groups_now);
    if !groups_match {
        changes.push(Change::SetSecurityGroups { arn: arn.clone() });
    }
    let subnets_now: BTreeSet<&String> = current
        .subnet_mappings
        .iter()
        .map(|m| &m.subnet_id)
        .collect();
    let subnets_wanted: BTreeSet<&String> =
        spec.subnet_mappings.iter().map(|m| &m.subnet_id).collect();
    if subnets_now != subnets_wanted {
        changes.push(Change::SetSubnets { arn: arn.clone() });
    }
    if current.ip_address_type != spec.ip_address_type {
        changes.push(Change::SetIpAddressType {
            arn: arn.clone(),
            ip_address_type: spec.ip_address_type,
        });
    }
    if spec.address_pools.ipv4_ipam != current.ipv4_ipam_pool {
        changes.push(Change::SetIpamPool {
            arn: arn.clone(),
            pool: spec.address_pools.ipv4_ipam.clone(),
        });
    }
    let attributes = changed_attributes(&spec.attributes, &state.attributes);
    if !attributes.is_empty() {
        changes.push(Change::ModifyLoadBalancerAttributes {
            arn: arn.clone(),
            attributes,
        });
    }
    if let Some(change) = tag_changes(&arn, &spec.tags, &state.tags, context.external_managed_tags)
    {
        changes.push(change);
    }
    plan_add_ons(spec, state, observed, changes);
    match spec.wafv2_acl.as_deref() {
        None => {}
        Some(NO_WEB_ACL) if state.web_acl.is_some() => {
            changes.push(Change::DisassociateWebAcl { arn: arn.clone() })
        }
        Some(NO_WEB_ACL) => {}
        Some(wanted) if state.web_acl.as_deref() != Some(wanted) => {
            changes.push(Change::AssociateWebAcl {
                arn: Some(arn.clone()),
                web_acl_arn: wanted.to_string(),
            })
        }
        Some(_) => {}
    }
}

/// Protections and reservations of a load balancer being created.
pub(super) fn plan_new_add_ons(
    spec: &LoadBalancerSpec,
    observed: &ObservedStack,
    changes: &mut Vec<Change>,
) {
    if let Some(web_acl_id) = spec.waf_classic_acl.as_ref().filter(|a| *a != NO_WEB_ACL) {
        changes.push(Change::AssociateClassicWebAcl {
            arn: None,
            web_acl_id: web_acl_id.clone(),
        });
    }
    if spec.shield_advanced_protection == Some(true) && observed.shield_subscribed {
        changes.push(Change::CreateShieldProtection { arn: None });
    }
    if let Some(units) = spec.minimum_capacity_units.filter(|u| *u > 0) {
        changes.push(Change::SetCapacityReservation {
            arn: None,
            units: Some(units),
        });
    }
}

/// The names of Shield protections this controller (or its predecessor) makes; others are
/// never deleted.
pub const SHIELD_PROTECTION_NAMES: [&str; 2] = [
    "managed by aws-load-balancer-controller",
    "managed by aws-alb-ingress-controller",
];

fn plan_add_ons(
    spec: &LoadBalancerSpec,
    state: &LoadBalancerState,
    observed: &ObservedStack,
    changes: &mut Vec<Change>,
) {
    let arn = &state.load_balancer.arn;
    let current = &state.add_ons;
    match spec.waf_classic_acl.as_deref() {
        Some(NO_WEB_ACL) if current.classic_web_acl.is_some() => {
            changes.push(Change::DisassociateClassicWebAcl { arn: arn.clone() })
        }
        Some(wanted)
            if wanted != NO_WEB_ACL && current.classic_web_acl.as_deref() != Some(wanted) =>
        {
            changes.push(Change::AssociateClassicWebAcl {
                arn: Some(arn.clone()),
                web_acl_id: wanted.to_string(),
            })
        }
        _ => {}
    }
    match (spec.shield_advanced_protection, &current.protection) {
        (Some(true), None) if observed.shield_subscribed => {
            changes.push(Change::CreateShieldProtection {
                arn: Some(arn.clone()),
            })
        }
        (Some(false), Some(protection))
            if SHIELD_PROTECTION_NAMES.contains(&protection.name.as_str()) =>
        {
            changes.push(Change::DeleteShieldProtection {
                id: protection.id.clone(),
            })
        }
        _ => {}
    }
    match spec.minimum_capacity_units {
        Some(0) if current.capacity_units.is_some() => {
            changes.push(Change::SetCapacityReservation {
                arn: Some(arn.clone()),
                units: None,
            })
        }
        Some(units) if units > 0 && current.capacity_units != Some(units) => {
            changes.push(Change::SetCapacityReservation {
                arn: Some(arn.clone()),
                units: Some(units),
            })
        }
        _ => {}
    }
}

pub(super) fn plan_listeners(
    desired: &Stack,
    state: &LoadBalancerState,
    kept: &BTreeMap<String, &TargetGroupState>,
    changes: &mut Vec<Change>,
) {
    let wanted_ports: BTreeSet<i32> = desired.listeners.values().map(|l| l.port).collect();
    for listener in &state.listeners {
        if !wanted_ports.contains(&listener.port) {
            changes.push(Change::DeleteListener {
                arn: listener.arn.clone(),
                port: listener.port,
            });
        }
    }
    for spec in desired.listeners.values() {
        let Some(current) = state.listeners.iter().find(|l| l.port == spec.port) else {
            changes.push(Change::CreateListener { port: spec.port });
            continue;
        };
        let forward_matches = resolved_default_action(spec, kept)
            .is_some_and(|action| action == current.default_action);
        let wanted_authentication = spec
            .default_authentication
            .as_ref()
            .and_then(|auth| auth.resolve(|_| None))
            .map(|auth| auth.as_reported());
        let authentication_matches = wanted_authentication == current.default_authentication;
        // SSL policy and certificates only exist on TLS/HTTPS listeners (some APIs report a policy
        // on others); DescribeListeners returns only the default certificate.
        let secure = matches!(spec.protocol, Protocol::Tls | Protocol::Https);
        let tls_matches = !secure
            || (current.ssl_policy == spec.ssl_policy
                && current.certificates.first() == spec.certificates.first());
        let alpn_matches = spec.alpn_policy.is_none() || spec.alpn_policy == current.alpn_policy;
        // Unset leaves AWS as it is; `off` matches a listener that reports none.
        let mutual_matches = match &spec.mutual_authentication {
            None => true,
            Some(wanted) if wanted.mode == "off" => current
                .mutual_authentication
                .as_ref()
                .is_none_or(|m| m.mode == "off"),
            wanted => *wanted == current.mutual_authentication,
        };
        let same = current.protocol == spec.protocol
            && forward_matches
            && authentication_matches
            && tls_matches
            && alpn_matches
            && mutual_matches;
        if !same {
            changes.push(Change::ModifyListener {
                arn: current.arn.clone(),
                port: spec.port,
            });
        }
        let attributes = changed_attributes(&spec.attributes, &current.attributes);
        if !attributes.is_empty() {
            changes.push(Change::ModifyListenerAttributes {
                arn: current.arn.clone(),
                port: spec.port,
                attributes,
            });
        }
        if secure {
            let wanted: BTreeSet<&String> = spec.certificates.iter().skip(1).collect();
            let attached: BTreeSet<&String> = current.certificates.iter().skip(1).collect();
            let add: Vec<String> = wanted.difference(&attached).map(|c| (*c).clone()).collect();
            let remove: Vec<String> = attached.difference(&wanted).map(|c| (*c).clone()).collect();
            if !add.is_empty() || !remove.is_empty() {
                changes.push(Change::UpdateListenerCertificates {
                    arn: current.arn.clone(),
                    port: spec.port,
                    add,
                    remove,
                });
            }
        }
    }
}
