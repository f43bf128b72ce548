//! The frontend NLB of an Ingress group (upstream's §4.14): a Network Load Balancer whose TCP
//! listeners forward to `alb` target groups holding the group's ALB, built from the members'
//! `frontend-nlb-*` annotations. Pure.
//!
//! A member's malformed value holds that member (like any other of its annotations); members
//! disagreeing fail the group, naming them. Every member's ALB ports are fronted: each mapped to
//! itself, or through the member's `frontend-nlb-listener-port-mapping` (`nlbPort=albPort`,
//! entries naming a port the member does not listen on are skipped). It does not register the
//! ALB (the deploy step does, once the ALB exists).

use super::input::{identity_tags, tracking_tags, IngressBuildInput};
use super::listen::listen_ports;
use super::member::{
    annotations, problem, HealthCheckWishes, Member, MemberFrontend, MemberProblem, INGRESS_PREFIX,
};
use super::settings::{agreed, asked_by, choices, resolve_security_groups};
use crate::model::{
    FrontendNlb, HealthCheck, ListenerAction, ListenerSpec, LoadBalancerSpec, LoadBalancerType,
    Protocol, Scheme, SubnetMapping, Tags, TargetGroupSpec, TargetType, FRONTEND_NLB_ID,
};
use crate::naming::{frontend_nlb_name, frontend_nlb_target_group_name};
use crate::subnets::{choose_subnets, SubnetRequest};
use std::collections::BTreeMap;

const ROUTING_POLICY: &str = "dns_record.client_routing_policy";
const ROUTING_POLICIES: [&str; 3] = [
    "availability_zone_affinity",
    "partial_availability_zone_affinity",
    "any_availability_zone",
];

/// Whether the discover step must list the VPC's security groups (named by a member).
pub fn needs_security_group_lookup(members: &[Member]) -> bool {
    members.iter().any(|member| {
        let read = annotations(member);
        read.contains("security-groups") || read.contains("frontend-nlb-security-groups")
    })
}

fn port_number(member: &Member, what: &str, text: &str) -> Result<i32, MemberProblem> {
    match text.trim().parse::<i32>() {
        Ok(port) if (1..=65535).contains(&port) => Ok(port),
        _ => Err(problem(
            member,
            format!("{INGRESS_PREFIX}{what}: {text:?} is not a port (1-65535)"),
        )),
    }
}

/// Reads and checks a member's `frontend-nlb-*` annotations.
/// The member's frontend NLB annotations, validated; parsed once, kept on the member (the
/// build's first pass and the frontend NLB ask).
pub(super) fn member_frontend(member: &Member) -> Result<MemberFrontend, MemberProblem> {
    member
        .parsed
        .frontend
        .get_or_init(|| parse_member_frontend(member))
        .clone()
}

fn parse_member_frontend(member: &Member) -> Result<MemberFrontend, MemberProblem> {
    let read = annotations(member);
    let failed = |error: crate::annotations::AnnotationError| problem(member, error.to_string());
    let key = |suffix: &str| format!("frontend-nlb-{suffix}");
    let integer = |suffix: &str| read.integer(&key(suffix)).map_err(failed);
    let scheme = read.string(&key("scheme")).map(str::to_string);
    if let Some(text) = scheme.as_deref().filter(|s| Scheme::parse(s).is_none()) {
        return Err(problem(
            member,
            format!(
                "{INGRESS_PREFIX}frontend-nlb-scheme: {text:?} is not internal or internet-facing"
            ),
        ));
    }
    let port_mapping = match read
        .string_map("frontend-nlb-listener-port-mapping")
        .map_err(failed)?
    {
        None => None,
        Some(map) => {
            let what = "frontend-nlb-listener-port-mapping";
            let mut ports = BTreeMap::new();
            for (nlb, alb) in map {
                ports.insert(
                    port_number(member, what, &nlb)?,
                    port_number(member, what, &alb)?,
                );
            }
            Some(ports)
        }
    };
    let port = read.string(&key("healthcheck-port")).map(str::to_string);
    if let Some(text) = port.as_deref().filter(|p| *p != "traffic-port") {
        port_number(member, "frontend-nlb-healthcheck-port", text)?;
    }
    let protocol = read
        .string(&key("healthcheck-protocol"))
        .map(str::to_string);
    if let Some(text) = protocol
        .as_deref()
        .filter(|p| !matches!(*p, "HTTP" | "HTTPS"))
    {
        return Err(problem(
            member,
            format!(
                "{INGRESS_PREFIX}frontend-nlb-healthcheck-protocol: {text:?} is not HTTP or HTTPS"
            ),
        ));
    }
    let attributes = read.string_map(&key("attributes")).map_err(failed)?;
    if let Some(policy) = attributes.as_ref().and_then(|a| a.get(ROUTING_POLICY)) {
        if !ROUTING_POLICIES.contains(&policy.as_str()) {
            return Err(problem(
                member,
                format!(
                    "{INGRESS_PREFIX}frontend-nlb-attributes: {ROUTING_POLICY} {policy:?} is not one of {}",
                    ROUTING_POLICIES.join(", ")
                ),
            ));
        }
    }
    Ok(MemberFrontend {
        enabled: read.boolean("enable-frontend-nlb").map_err(failed)?,
        scheme,
        subnets: read.string_list(&key("subnets")),
        security_groups: read.string_list(&key("security-groups")),
        port_mapping,
        eip_allocations: read.string_list(&key("eip-allocations")),
        health_check: HealthCheckWishes {
            port,
            protocol,
            path: read.string(&key("healthcheck-path")).map(str::to_string),
            interval: integer("healthcheck-interval-seconds")?,
            timeout: integer("healthcheck-timeout-seconds")?,
            healthy: integer("healthcheck-healthy-threshold-count")?,
            unhealthy: integer("healthcheck-unhealthy-threshold-count")?,
            success_codes: read
                .string(&key("healthcheck-success-codes"))
                .map(str::to_string),
        },
        attributes,
        tags: read.string_map(&key("tags")).map_err(failed)?,
    })
}

fn joined_map(map: &BTreeMap<String, String>) -> String {
    map.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The members' agreed health check for one NLB port; defaults where none is given.
fn health_check(port: i32, wishes: &[(String, MemberFrontend)]) -> Result<HealthCheck, String> {
    let pick = |what: &str, get: &dyn Fn(&HealthCheckWishes) -> Option<String>| {
        agreed(
            &format!("frontend NLB health check {what} of port {port}"),
            &choices(wishes, |w| get(&w.health_check)),
        )
    };
    let number = |what: &str, get: &dyn Fn(&HealthCheckWishes) -> Option<i32>, default: i32| {
        pick(what, &|h| get(h).map(|n| n.to_string()))
            .map(|v| v.and_then(|v| v.parse().ok()).unwrap_or(default))
    };
    let protocol = match pick("protocol", &|h| h.protocol.clone())?.as_deref() {
        Some("HTTPS") => Protocol::Https,
        _ => Protocol::Http,
    };
    Ok(HealthCheck {
        protocol,
        port: pick("port", &|h| h.port.clone())?.unwrap_or_else(|| "traffic-port".into()),
        path: Some(pick("path", &|h| h.path.clone())?.unwrap_or_else(|| "/".into())),
        interval_seconds: number("interval", &|h| h.interval, 15)?,
        timeout_seconds: number("timeout", &|h| h.timeout, 5)?,
        // Upstream's documentation says 3; its code uses 2 (kept).
        healthy_threshold: number("healthy threshold", &|h| h.healthy, 2)?,
        unhealthy_threshold: number("unhealthy threshold", &|h| h.unhealthy, 2)?,
        success_codes: Some(
            pick("success codes", &|h| h.success_codes.clone())?.unwrap_or_else(|| "200".into()),
        ),
        grpc_success_codes: None,
    })
}

/// One NLB port: the ALB port it forwards to, and the members fronted on it.
struct FrontedPort {
    alb_port: i32,
    members: Vec<(String, MemberFrontend)>,
}

/// The NLB's ports, checking that one NLB port maps to one ALB port across members.
fn port_plan(
    members: &[Member],
    wishes: &[(String, MemberFrontend)],
) -> Result<BTreeMap<i32, FrontedPort>, String> {
    let mut ports: BTreeMap<i32, FrontedPort> = BTreeMap::new();
    for (member, (key, wish)) in members.iter().zip(wishes) {
        let alb_ports: Vec<i32> = listen_ports(member)
            .map(|ports| ports.into_keys().collect())
            .unwrap_or_default();
        let mapped: Vec<(i32, i32)> = match &wish.port_mapping {
            Some(mapping) => mapping
                .iter()
                .filter(|(_, alb)| alb_ports.contains(alb))
                .map(|(nlb, alb)| (*nlb, *alb))
                .collect(),
            None => alb_ports.iter().map(|p| (*p, *p)).collect(),
        };
        for (nlb, alb) in mapped {
            let entry = ports.entry(nlb).or_insert_with(|| FrontedPort {
                alb_port: alb,
                members: Vec::new(),
            });
            if entry.alb_port != alb {
                return Err(format!(
                    "members map frontend NLB port {nlb} to different ALB ports: {} and {alb} ({key})",
                    entry.alb_port
                ));
            }
            entry.members.push((key.clone(), wish.clone()));
        }
    }
    Ok(ports)
}

/// The group's frontend NLB, when its members enable one. `alb` is the group's ALB, `user_tags`
/// the group's tags (the ALB's, used when no member sets `frontend-nlb-tags`).
pub(super) fn frontend_nlb(
    input: &IngressBuildInput,
    members: &[Member],
    alb: &LoadBalancerSpec,
    user_tags: &Tags,
) -> Result<Option<FrontendNlb>, String> {
    let wishes: Vec<(String, MemberFrontend)> = members
        .iter()
        .map(|m| (m.key(), member_frontend(m).unwrap_or_default()))
        .collect();
    let enabled = agreed(
        "enable-frontend-nlb",
        &choices(&wishes, |w| w.enabled.map(|b| b.to_string())),
    )?;
    if enabled.as_deref() != Some("true") {
        return Ok(None);
    }
    let scheme = agreed(
        "frontend NLB scheme",
        &choices(&wishes, |w| w.scheme.clone()),
    )?
    .and_then(|s| Scheme::parse(&s))
    .unwrap_or(input.config.default_scheme);
    // Lists compared ignoring order (the first member's order is used), as upstream.
    let unordered = |list: &Vec<String>| {
        let mut sorted = list.clone();
        sorted.sort();
        sorted.join(",")
    };
    let first_list = |get: &dyn Fn(&MemberFrontend) -> Option<Vec<String>>| {
        wishes.iter().find_map(|(_, w)| get(w))
    };
    agreed(
        "frontend NLB subnets",
        &choices(&wishes, |w| w.subnets.as_ref().map(unordered)),
    )?;
    let explicit_subnets = first_list(&|w| w.subnets.clone());
    let subnets = choose_subnets(
        input.facts,
        &SubnetRequest {
            cluster_name: &input.config.cluster_name,
            vpc_id: &input.config.vpc_id,
            scheme,
            load_balancer_type: LoadBalancerType::Network,
            ip_address_type: alb.ip_address_type,
            explicit: explicit_subnets.as_deref(),
            cluster_tag_check: input.config.feature_gates.subnets_cluster_tag_check,
        },
    )
    .map_err(|e| match explicit_subnets {
        Some(_) => format!(
            "frontend NLB: {e}{}",
            asked_by(&wishes, "frontend-nlb-subnets", |w| w.subnets.is_some())
        ),
        None => format!("frontend NLB: {e}"),
    })?;
    agreed(
        "frontend NLB Elastic IP allocations",
        &choices(&wishes, |w| w.eip_allocations.as_ref().map(unordered)),
    )?;
    let allocations = first_list(&|w| w.eip_allocations.clone());
    if let Some(allocations) = &allocations {
        if scheme != Scheme::InternetFacing {
            return Err("frontend NLB: Elastic IP allocations need an internet-facing NLB".into());
        }
        if allocations.len() != subnets.len() {
            return Err(format!(
                "frontend NLB: {} Elastic IP allocations for {} subnets (one per subnet)",
                allocations.len(),
                subnets.len()
            ));
        }
    }
    let security_groups = match agreed(
        "frontend NLB security groups",
        &choices(&wishes, |w| w.security_groups.as_ref().map(|l| l.join(","))),
    )? {
        Some(joined) => {
            let entries: Vec<String> = joined.split(',').map(str::to_string).collect();
            resolve_security_groups(input.facts, &input.config.vpc_id, &entries).map_err(|e| {
                format!(
                    "frontend NLB: {e}{}",
                    asked_by(&wishes, "frontend-nlb-security-groups", |w| {
                        w.security_groups.is_some()
                    })
                )
            })?
        }
        None => alb.security_groups.clone(),
    };
    let attributes = agreed(
        "frontend NLB attributes",
        &choices(&wishes, |w| w.attributes.as_ref().map(joined_map)),
    )?
    .and_then(|_| wishes.iter().find_map(|(_, w)| w.attributes.clone()))
    .unwrap_or_default();
    agreed(
        "frontend NLB tags",
        &choices(&wishes, |w| w.tags.as_ref().map(joined_map)),
    )?;
    let own_tags = wishes.iter().find_map(|(_, w)| w.tags.clone());
    let tags = |resource_id: &str| match &own_tags {
        // The frontend's own tags replace the group's and the default tags (upstream).
        Some(own) => {
            let mut tags = own.clone();
            tags.extend(identity_tags(input, resource_id));
            tags
        }
        None => tracking_tags(input, resource_id, user_tags),
    };

    let mut frontend = FrontendNlb {
        load_balancer: LoadBalancerSpec {
            name: frontend_nlb_name(&alb.name),
            load_balancer_type: LoadBalancerType::Network,
            scheme,
            ip_address_type: alb.ip_address_type,
            subnet_mappings: subnets
                .iter()
                .enumerate()
                .map(|(index, subnet)| SubnetMapping {
                    subnet_id: subnet.subnet_id.clone(),
                    allocation_id: allocations.as_ref().and_then(|a| a.get(index).cloned()),
                    private_ipv4_address: None,
                    ipv6_address: None,
                    source_nat_ipv6_prefix: None,
                })
                .collect(),
            security_groups,
            attributes,
            wafv2_acl: None,
            ipv6_source_nat: None,
            address_pools: Default::default(),
            waf_classic_acl: None,
            shield_advanced_protection: None,
            minimum_capacity_units: None,
            tags: tags(FRONTEND_NLB_ID),
        },
        listeners: BTreeMap::new(),
        target_groups: BTreeMap::new(),
        alb_ports: BTreeMap::new(),
    };
    for (nlb_port, fronted) in port_plan(members, &wishes)? {
        let alb_port = fronted.alb_port;
        let health_check = health_check(nlb_port, &fronted.members)?;
        let target_group_id = format!("{FRONTEND_NLB_ID}-tg-TCP-{nlb_port}");
        let listener_id = format!("{FRONTEND_NLB_ID}-ls-TCP-{nlb_port}");
        frontend.target_groups.insert(
            target_group_id.clone(),
            TargetGroupSpec {
                name: frontend_nlb_target_group_name(
                    &input.config.cluster_name,
                    input.group_id,
                    nlb_port,
                    &health_check.port,
                    health_check.protocol.as_str(),
                ),
                target_type: TargetType::Alb,
                protocol: Protocol::Tcp,
                protocol_version: None,
                target_control_port: None,
                port: nlb_port,
                ip_address_type: "ipv4".into(),
                vpc_id: input.config.vpc_id.clone(),
                health_check,
                attributes: BTreeMap::new(),
                tags: tags(&target_group_id),
                binding: None,
            },
        );
        frontend.listeners.insert(
            listener_id.clone(),
            ListenerSpec {
                port: nlb_port,
                protocol: Protocol::Tcp,
                default_action: ListenerAction::forward_to(&target_group_id),
                default_authentication: None,
                certificates: Vec::new(),
                ssl_policy: None,
                alpn_policy: None,
                mutual_authentication: None,
                attributes: BTreeMap::new(),
                tags: tags(&listener_id),
            },
        );
        frontend.alb_ports.insert(target_group_id, alb_port);
    }
    Ok(Some(frontend))
}
