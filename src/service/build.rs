//! Assembles a Service's whole stack: scheme, subnets and their static addresses, security
//! groups (managed frontend group with its inbound rules, shared backend group, or the user's),
//! tags, then the listeners and target groups. A Service that is not ours, or is being deleted,
//! builds the empty stack.

use super::listeners::{build_listener, plan_ports};
use super::settings::ServiceSettings;
use super::target_groups::build_target_group;
use super::{is_managed, stack_id, Problem, ANNOTATION_PREFIX};
use crate::config::ControllerConfig;
use crate::facts::{CloudFacts, Subnet};
use crate::model::{
    ExistingLoadBalancer, IngressRule, IpAddressType, LoadBalancerSpec, LoadBalancerType, Scheme,
    SecurityGroupRef, SecurityGroupSpec, Stack, SubnetMapping, Tags,
};
use crate::naming::{service_load_balancer_name, service_security_group_name};
use crate::subnets::{choose_subnets, SubnetRequest};
use k8s_openapi::api::core::v1::Service;
use std::net::IpAddr;

pub struct ServiceBuildInput<'a> {
    pub service: &'a Service,
    pub config: &'a ControllerConfig,
    pub facts: &'a CloudFacts,
    /// The NLB AWS already holds for this Service, if any: its scheme is kept when none is
    /// annotated, and its subnets when none are given and the scheme is unchanged.
    pub existing: Option<&'a ExistingLoadBalancer>,
}

/// A built stack, with the problems that did not stop it (upstream drops them silently).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltStack {
    pub stack: Stack,
    pub warnings: Vec<Problem>,
}

fn key(suffix: &str) -> String {
    format!("{ANNOTATION_PREFIX}{suffix}")
}

/// Tracking tags first, then `--default-tags` over the annotation's tags.
fn resource_tags(input: &ServiceBuildInput, settings: &ServiceSettings, resource_id: &str) -> Tags {
    let mut tags = settings.additional_tags.clone();
    tags.extend(input.config.default_tags.clone());
    tags.insert(
        "elbv2.k8s.aws/cluster".into(),
        input.config.cluster_name.clone(),
    );
    tags.insert("service.k8s.aws/stack".into(), stack_id(input.service));
    tags.insert("service.k8s.aws/resource".into(), resource_id.to_string());
    tags
}

/// IPv6 source NAT with upstream's rules: `on` needs a dualstack NLB whose subnets all have an
/// IPv6 CIDR; the prefixes need `on` too, one per subnet (by position), each `auto_assigned` or
/// a /80 inside that subnet's IPv6 CIDR, and go on the subnet mappings.
fn ipv6_source_nat(
    subnets: &[Subnet],
    settings: &ServiceSettings,
    ip_type: IpAddressType,
    mappings: &mut [SubnetMapping],
    problems: &mut Vec<Problem>,
) {
    let flag = "aws-load-balancer-enable-prefix-for-ipv6-source-nat";
    let list = "aws-load-balancer-source-nat-ipv6-prefixes";
    let networks = |subnet: &Subnet| -> Vec<ipnet::Ipv6Net> {
        subnet
            .ipv6_cidrs()
            .iter()
            .filter_map(|c| c.parse().ok())
            .collect()
    };
    if settings.ipv6_source_nat == Some(true) {
        if ip_type == IpAddressType::Ipv4 {
            problems.push(Problem::new(key(flag), "needs a dualstack load balancer"));
        }
        for subnet in subnets.iter().filter(|s| networks(s).is_empty()) {
            problems.push(Problem::new(
                key(flag),
                format!("subnet {} has no IPv6 CIDR", subnet.subnet_id),
            ));
        }
    }
    let Some(prefixes) = &settings.source_nat_ipv6_prefixes else {
        return;
    };
    if ip_type == IpAddressType::Ipv4 {
        problems.push(Problem::new(key(list), "needs a dualstack load balancer"));
        return;
    }
    if settings.ipv6_source_nat != Some(true) {
        problems.push(Problem::new(key(list), format!("needs {flag}: on")));
        return;
    }
    if prefixes.len() != subnets.len() {
        problems.push(Problem::new(
            key(list),
            format!(
                "{} values for {} subnets: give one per subnet",
                prefixes.len(),
                subnets.len()
            ),
        ));
        return;
    }
    for ((prefix, subnet), mapping) in prefixes.iter().zip(subnets).zip(mappings.iter_mut()) {
        if prefix == "auto_assigned" {
            mapping.source_nat_ipv6_prefix = Some(prefix.clone());
            continue;
        }
        let inside = match prefix.parse::<ipnet::Ipv6Net>() {
            Ok(net) if net.prefix_len() != 80 => Err(format!("{prefix:?} is not a /80 prefix")),
            Ok(net) => {
                if networks(subnet).iter().any(|n| n.contains(&net)) {
                    Ok(())
                } else {
                    Err(format!(
                        "{prefix:?} is not inside subnet {}'s IPv6 CIDR",
                        subnet.subnet_id
                    ))
                }
            }
            Err(_) => Err(format!(
                "{prefix:?} is neither auto_assigned nor an IPv6 CIDR"
            )),
        };
        match inside {
            Ok(()) => mapping.source_nat_ipv6_prefix = Some(prefix.clone()),
            Err(message) => problems.push(Problem::new(key(list), message)),
        }
    }
}

fn subnet_mappings(
    subnets: &[Subnet],
    settings: &ServiceSettings,
    scheme: Scheme,
    ip_type: IpAddressType,
) -> Result<Vec<SubnetMapping>, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut mappings: Vec<SubnetMapping> = subnets
        .iter()
        .map(|subnet| SubnetMapping {
            subnet_id: subnet.subnet_id.clone(),
            allocation_id: None,
            private_ipv4_address: None,
            ipv6_address: None,
            source_nat_ipv6_prefix: None,
        })
        .collect();
    let count_matches = |location: &str, count: usize, problems: &mut Vec<Problem>| {
        let matches = count == subnets.len();
        if !matches {
            problems.push(Problem::new(
                key(location),
                format!(
                    "{count} values for {} subnets: give one per subnet",
                    subnets.len()
                ),
            ));
        }
        matches
    };
    if let Some(allocations) = &settings.eip_allocations {
        if scheme != Scheme::InternetFacing {
            problems.push(Problem::new(
                key("aws-load-balancer-eip-allocations"),
                "EIP allocations need an internet-facing load balancer",
            ));
        } else if count_matches(
            "aws-load-balancer-eip-allocations",
            allocations.len(),
            &mut problems,
        ) {
            for (mapping, allocation) in mappings.iter_mut().zip(allocations) {
                mapping.allocation_id = Some(allocation.clone());
            }
        }
    }
    if let Some(addresses) = &settings.private_ipv4_addresses {
        let location = "aws-load-balancer-private-ipv4-addresses";
        if scheme != Scheme::Internal {
            problems.push(Problem::new(
                key(location),
                "private IPv4 addresses need an internal load balancer",
            ));
        } else if count_matches(location, addresses.len(), &mut problems) {
            for (mapping, subnet) in mappings.iter_mut().zip(subnets) {
                let network = subnet.cidr_block.parse::<ipnet::Ipv4Net>().ok();
                let inside: Vec<_> = addresses
                    .iter()
                    .filter(|a| network.is_some_and(|n| n.contains(*a)))
                    .collect();
                match inside.as_slice() {
                    [one] => mapping.private_ipv4_address = Some(one.to_string()),
                    _ => problems.push(Problem::new(
                        key(location),
                        format!(
                            "expected exactly one address inside subnet {} ({})",
                            subnet.subnet_id, subnet.cidr_block
                        ),
                    )),
                }
            }
        }
    }
    if let Some(addresses) = &settings.ipv6_addresses {
        let location = "aws-load-balancer-ipv6-addresses";
        if ip_type == IpAddressType::Ipv4 {
            problems.push(Problem::new(
                key(location),
                "IPv6 addresses need a dualstack load balancer",
            ));
        } else if count_matches(location, addresses.len(), &mut problems) {
            for (mapping, subnet) in mappings.iter_mut().zip(subnets) {
                let networks: Vec<ipnet::Ipv6Net> = subnet
                    .ipv6_cidrs()
                    .iter()
                    .filter_map(|c| c.parse().ok())
                    .collect();
                let inside: Vec<_> = addresses
                    .iter()
                    .filter(|a| networks.iter().any(|n| n.contains(*a)))
                    .collect();
                match inside.as_slice() {
                    [one] => mapping.ipv6_address = Some(one.to_string()),
                    _ => problems.push(Problem::new(
                        key(location),
                        format!(
                            "expected exactly one address inside subnet {}'s IPv6 CIDR",
                            subnet.subnet_id
                        ),
                    )),
                }
            }
        }
    }
    ipv6_source_nat(subnets, settings, ip_type, &mut mappings, &mut problems);
    if problems.is_empty() {
        Ok(mappings)
    } else {
        Err(problems)
    }
}

fn managed_security_group(
    input: &ServiceBuildInput,
    settings: &ServiceSettings,
    ip_type: IpAddressType,
) -> Result<SecurityGroupSpec, Vec<Problem>> {
    let service = input.service;
    let mut problems = Vec::new();
    let mut sources: Vec<String> = Vec::new();
    for range in &settings.source_ranges {
        if matches!(range.addr(), IpAddr::V6(_)) && ip_type == IpAddressType::Ipv4 {
            problems.push(Problem::new(
                "source ranges",
                format!("IPv6 range {range} needs a dualstack load balancer"),
            ));
        }
        sources.push(range.to_string());
    }
    if sources.is_empty() && settings.prefix_lists.is_empty() {
        sources.push("0.0.0.0/0".into());
        if ip_type != IpAddressType::Ipv4 {
            sources.push("::/0".into());
        }
    }
    let mut ingress = Vec::new();
    for port in service
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_ref())
        .into_iter()
        .flatten()
    {
        let protocol = port
            .protocol
            .as_deref()
            .unwrap_or("TCP")
            .to_ascii_lowercase();
        for source in sources.iter().chain(&settings.prefix_lists) {
            ingress.push(IngressRule {
                protocol: protocol.clone(),
                from_port: port.port,
                to_port: port.port,
                source: source.clone(),
            });
        }
    }
    if settings.icmp_for_path_mtu {
        for source in &sources {
            let (protocol, kind, code) = if source.contains(':') {
                ("icmpv6", 2, 0)
            } else {
                ("icmp", 3, 4)
            };
            ingress.push(IngressRule {
                protocol: protocol.into(),
                from_port: kind,
                to_port: code,
                source: source.clone(),
            });
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let metadata = &service.metadata;
    Ok(SecurityGroupSpec {
        name: service_security_group_name(
            &input.config.cluster_name,
            metadata.namespace.as_deref().unwrap_or("default"),
            metadata.name.as_deref().unwrap_or_default(),
            metadata.uid.as_deref().unwrap_or_default(),
        ),
        description: "[k8s] Managed SecurityGroup for LoadBalancer".into(),
        ingress,
        tags: resource_tags(input, settings, "ManagedLBSecurityGroup"),
    })
}

/// The NLB's security groups and, in the default mode, the managed group to create.
fn security_groups(
    input: &ServiceBuildInput,
    settings: &ServiceSettings,
    ip_type: IpAddressType,
) -> Result<(Vec<SecurityGroupRef>, Option<SecurityGroupSpec>), Vec<Problem>> {
    let config = input.config;
    let wants_none = !config.feature_gates.nlb_security_group || settings.disable_security_groups;
    match input.existing.map(|existing| existing.has_security_groups) {
        // AWS cannot add security groups to an NLB created without: it stays as it is.
        Some(false) => return Ok((Vec::new(), None)),
        // Nor remove all of them from one created with.
        Some(true) if wants_none => {
            let location = if settings.disable_security_groups {
                key("aws-load-balancer-disable-nlb-sg")
            } else {
                "--feature-gates=NLBSecurityGroup=false".to_string()
            };
            return Err(vec![Problem::new(
                location,
                "conflicting security groups configuration: the existing NLB has security groups, which AWS cannot remove",
            )]);
        }
        _ if wants_none => return Ok((Vec::new(), None)),
        _ => {}
    }
    let Some(requested) = &settings.security_groups else {
        let managed = managed_security_group(input, settings, ip_type)?;
        let mut groups = vec![SecurityGroupRef::Managed];
        if config.enable_backend_security_group {
            groups.push(SecurityGroupRef::Backend);
        }
        return Ok((groups, Some(managed)));
    };
    let location = key("aws-load-balancer-security-groups");
    let mut groups = Vec::new();
    let mut missing = Vec::new();
    for entry in requested {
        let found = input.facts.security_groups.iter().find(|group| {
            group.vpc_id == config.vpc_id
                && (group.group_id == *entry || group.tags().get("Name") == Some(entry))
        });
        match found {
            Some(group) => groups.push(SecurityGroupRef::Id(group.group_id.clone())),
            None => missing.push(entry.clone()),
        }
    }
    if !missing.is_empty() {
        return Err(vec![Problem::new(
            location,
            format!("security groups {missing:?} were not found in the VPC"),
        )]);
    }
    if settings
        .manage_backend_rules
        .unwrap_or(config.manage_backend_security_group_rules)
    {
        if !config.enable_backend_security_group {
            let message = "managing backend rules for user security groups needs the backend security group (--enable-backend-security-group)";
            return Err(vec![Problem::new(
                key("aws-load-balancer-manage-backend-security-group-rules"),
                message,
            )]);
        }
        groups.push(SecurityGroupRef::Backend);
    }
    Ok((groups, None))
}

/// The stack a Service wants: empty when it is not ours or is being deleted.
pub fn build_service_stack(input: &ServiceBuildInput) -> Result<BuiltStack, Vec<Problem>> {
    let service = input.service;
    let id = stack_id(service);
    if !is_managed(service, input.config) {
        return Ok(BuiltStack {
            stack: Stack::empty(&id),
            warnings: Vec::new(),
        });
    }
    let settings = ServiceSettings::read(service, input.config)?;
    let config = input.config;
    let scheme = settings
        .scheme
        .or(input.existing.map(|existing| existing.scheme))
        .unwrap_or(config.default_scheme);
    let ip_type = settings.ip_address_type.unwrap_or(IpAddressType::Ipv4);
    let target_type = settings.target_type.unwrap_or(config.default_target_type);
    let mut problems = Vec::new();
    // Upstream keeps an existing load balancer's subnets when no subnets are annotated and the
    // scheme stays, so subnet tag changes never move a live load balancer.
    let reused_subnets = match (&settings.subnets, input.existing) {
        (None, Some(existing)) if existing.scheme == scheme && !existing.subnet_ids.is_empty() => {
            Some(existing.subnet_ids.clone())
        }
        _ => None,
    };
    let request = SubnetRequest {
        cluster_name: &config.cluster_name,
        vpc_id: &config.vpc_id,
        scheme,
        load_balancer_type: LoadBalancerType::Network,
        ip_address_type: ip_type,
        explicit: settings.subnets.as_deref().or(reused_subnets.as_deref()),
        cluster_tag_check: config.feature_gates.subnets_cluster_tag_check,
    };
    let location = if settings.subnets.is_some() {
        key("aws-load-balancer-subnets")
    } else if reused_subnets.is_some() {
        "subnets of the existing load balancer".to_string()
    } else {
        // Discovery follows the scheme and the address type: name the annotations that set them.
        let shaping: Vec<String> = [
            "aws-load-balancer-scheme",
            "aws-load-balancer-internal",
            "aws-load-balancer-ip-address-type",
        ]
        .iter()
        .map(|suffix| key(suffix))
        .filter(|full| {
            input
                .service
                .metadata
                .annotations
                .as_ref()
                .is_some_and(|annotations| annotations.contains_key(full))
        })
        .collect();
        match shaping.as_slice() {
            [] => "subnet discovery".to_string(),
            keys => format!("subnet discovery (for {})", keys.join(", ")),
        }
    };
    let subnets = choose_subnets(input.facts, &request).unwrap_or_else(|error| {
        problems.push(Problem::new(location, error.to_string()));
        Vec::new()
    });
    let mappings = subnet_mappings(&subnets, &settings, scheme, ip_type).unwrap_or_else(|more| {
        problems.extend(more);
        Vec::new()
    });
    let (groups, managed_group) =
        security_groups(input, &settings, ip_type).unwrap_or_else(|more| {
            problems.extend(more);
            (Vec::new(), None)
        });
    let ipv6_targets = service
        .spec
        .as_ref()
        .and_then(|spec| spec.ip_families.as_ref())
        .is_some_and(|families| families.iter().any(|family| family == "IPv6"));
    if ipv6_targets && ip_type == IpAddressType::Ipv4 {
        problems.push(Problem::new("spec.ipFamilies", "IPv6 targets need a dualstack load balancer (aws-load-balancer-ip-address-type: dualstack)"));
    }
    let mut warnings = Vec::new();
    let plans = plan_ports(service, &settings, config, &mut warnings).unwrap_or_else(|more| {
        problems.extend(more);
        Vec::new()
    });
    let mut stack = Stack::empty(&id);
    for plan in &plans {
        let target_group_id = format!("{id}:{}", plan.port);
        match build_target_group(
            plan,
            service,
            &settings,
            config,
            target_type,
            ipv6_targets,
            resource_tags(input, &settings, &target_group_id),
        ) {
            Ok(target_group) => {
                stack
                    .target_groups
                    .insert(target_group_id.clone(), target_group);
            }
            Err(problem) => problems.push(problem),
        }
        let listener_id = plan.port.to_string();
        let listener = build_listener(
            plan,
            &settings,
            config,
            &target_group_id,
            resource_tags(input, &settings, &listener_id),
        );
        stack.listeners.insert(listener_id, listener);
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let metadata = &service.metadata;
    let name = settings.name.clone().unwrap_or_else(|| {
        service_load_balancer_name(
            &config.cluster_name,
            metadata.namespace.as_deref().unwrap_or("default"),
            metadata.name.as_deref().unwrap_or_default(),
            metadata.uid.as_deref().unwrap_or_default(),
            scheme.as_str(),
        )
    });
    stack.load_balancer = Some(LoadBalancerSpec {
        wafv2_acl: None,
        address_pools: Default::default(),
        waf_classic_acl: None,
        shield_advanced_protection: None,
        minimum_capacity_units: None,
        name,
        load_balancer_type: LoadBalancerType::Network,
        scheme,
        ip_address_type: ip_type,
        subnet_mappings: mappings,
        ipv6_source_nat: settings.ipv6_source_nat,
        security_groups: groups,
        attributes: settings.load_balancer_attributes.clone(),
        tags: resource_tags(input, &settings, "LoadBalancer"),
    });
    stack.security_group = managed_group;
    let has_security_groups = stack
        .load_balancer
        .as_ref()
        .is_some_and(|lb| !lb.security_groups.is_empty());
    if has_security_groups {
        crate::networking::fill_security_group_networking(
            &mut stack,
            !config.disable_restricted_sg_rules,
        );
    } else if settings.manage_backend_rules != Some(false) {
        let sources = crate::networking::LegacyNlbSources {
            facts: input.facts,
            vpc_id: &config.vpc_id,
            client_ranges: &settings.source_ranges,
        };
        crate::networking::fill_legacy_nlb_networking(&mut stack, &sources);
    }
    Ok(BuiltStack { stack, warnings })
}
