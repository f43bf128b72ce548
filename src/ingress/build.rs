//! The ALB stack of one Ingress group (upstream's §4, first part). Pure: Services, AWS facts and
//! the existing load balancer are handed in.
//!
//! Built: the load balancer (name, scheme, IP address type, subnets, tags), the managed security
//! group with one inbound rule per listener port and source (`inbound-cidrs`, default
//! `0.0.0.0/0`, plus `::/0` for dual-stack), the shared backend security group, listeners
//! (HTTP→HTTPS redirect, default fixed 404, certificates merged as upstream, SSL policy), rules
//! with priorities, and target groups per (Ingress, Service, port) in instance or ip mode with
//! health checks and TargetGroupBindings.
//!
//! Failure isolation (better than upstream): a member whose own settings are wrong (a bad path, a
//! malformed annotation, a missing Service port) is *held* with its problem and left out of the
//! stack; the others are built. Only what makes the whole load balancer impossible (members
//! disagreeing on the scheme, no subnets, …) fails the group, naming the members.
//!
//! Also, from the modules beside it: each member's contribution (`contribution`: rules with
//! authentication and transforms, target groups, default backend), listener attributes,
//! inbound sources and SSL redirect (`listen`), certificates and ACM discovery
//! (`certificates`), mutual TLS (`mtls`), WAF, Shield and capacity (`addons`), and upstream's
//! rule optimizer (`optimize`). `security-groups` (ids or Name tags) replace the managed
//! security group.

use super::certificate_requests::group_certificate_requests;
use super::certificates::member_certificates;
use super::contribution::{may_have_deployed, member_contribution, nothing_builds, unknown_share};
use super::frontend::{frontend_nlb, member_frontend};
use super::input::{
    tracking_tags, BuiltIngressStack, ContributedRule, IngressBuildInput, MemberContribution,
};
use super::listen::{
    group_listeners, listen_ports, listener_attributes, listener_sources, ssl_redirect_port,
};
use super::member::{annotations, problem, Member, MemberSettings};
use super::mtls::listener_mutual_authentication;
use super::optimize::{keeps, RuleShape};
use super::settings::{agreed, asked_by, choices, member_settings, resolve_security_groups};
use crate::cloud::{FixedResponseConfig, RedirectConfig};
use crate::model::{
    AddressPools, IngressRule, IpAddressType, ListenerAction, ListenerSpec, LoadBalancerSpec,
    LoadBalancerType, Protocol, RuleSpec, Scheme, SecurityGroupRef, SecurityGroupSpec, Stack,
    SubnetMapping, Tags,
};
use crate::naming::{ingress_load_balancer_name, ingress_security_group_name};
use crate::subnets::{choose_subnets, SubnetRequest};
use std::collections::{BTreeMap, BTreeSet};

/// Builds the group's stack; `Err` only for problems of the whole load balancer.
pub fn build_ingress_stack(input: &IngressBuildInput) -> Result<BuiltIngressStack, String> {
    let stack_id = input.group_id.stack_id();
    let mut held = Vec::new();
    // A first pass finds members whose own settings are broken, without group context.
    let mut members: Vec<Member> = Vec::new();
    for member in input.members {
        match member_settings(member)
            .and_then(|_| listen_ports(member).map_err(|e| problem(member, e)))
            .and_then(|_| member_frontend(member))
        {
            Ok(_) => members.push(member.clone()),
            Err(problem) => held.push(problem),
        }
    }
    if members.is_empty() {
        return nothing_builds(input, held);
    }
    let mut listeners = group_listeners(&members)?;
    let redirect_port = ssl_redirect_port(&members, &listeners)?;
    let redirected: BTreeSet<i32> = match redirect_port {
        Some(_) => listeners
            .iter()
            .filter(|(_, protocol)| **protocol == Protocol::Http)
            .map(|(port, _)| *port)
            .collect(),
        None => BTreeSet::new(),
    };
    let mut contributions: Vec<(String, MemberContribution)> = Vec::new();
    let mut kept = Vec::new();
    for member in input.members {
        let key = member.key();
        let fresh = if members.iter().any(|m| m.key() == key) {
            member_contribution(input, member, &redirected)
        } else {
            Err(problem(member, "held"))
        };
        match fresh {
            Ok(contribution) => {
                contributions.push((key, contribution));
                kept.push(member.clone());
            }
            Err(problem) => {
                if !held.iter().any(|h| h.ingress == key) {
                    held.push(problem);
                }
                // A held member keeps what it had, in its place in member order.
                if let Some(previous) = input.previous.get(&key) {
                    let mut previous = previous.clone();
                    previous.rules.retain(|rule| {
                        listeners.contains_key(&rule.port) && !redirected.contains(&rule.port)
                    });
                    contributions.push((key, previous));
                } else if may_have_deployed(input, Some(member)) {
                    return Err(unknown_share(&key));
                } else {
                    contributions.push((key, MemberContribution::nothing()));
                }
            }
        }
    }
    for key in input.held_at_load {
        if let Some(previous) = input.previous.get(key) {
            let mut previous = previous.clone();
            previous.rules.retain(|rule| {
                listeners.contains_key(&rule.port) && !redirected.contains(&rule.port)
            });
            contributions.push((key.clone(), previous));
        } else if may_have_deployed(input, None) {
            return Err(unknown_share(key));
        }
    }
    if kept.is_empty() {
        return nothing_builds(input, held);
    }
    // A port only held members declare waits with them (an HTTPS one would have no certificate),
    // unless rules they had before still need it.
    listeners.retain(|port, _| {
        kept.iter()
            .any(|m| listen_ports(m).is_ok_and(|ports| ports.contains_key(port)))
            || contributions
                .iter()
                .any(|(_, c)| c.rules.iter().any(|rule| rule.port == *port))
    });
    // Group-wide settings from the members that build.
    let settings: Vec<(String, MemberSettings)> = kept
        .iter()
        .filter_map(|m| member_settings(m).ok().map(|s| (m.key(), s)))
        .collect();
    let pick = |what: &str, get: &dyn Fn(&MemberSettings) -> Option<String>| {
        agreed(what, &choices(&settings, get))
    };
    let scheme = match pick("scheme", &|s| s.scheme.clone())?.as_deref() {
        Some("internet-facing") => Scheme::InternetFacing,
        Some(_) => Scheme::Internal,
        None => input.config.default_scheme,
    };
    let ip_address_type = match pick("IP address type", &|s| s.ip_address_type.clone())?.as_deref()
    {
        Some("dualstack") => IpAddressType::Dualstack,
        Some("dualstack-without-public-ipv4") => IpAddressType::DualstackWithoutPublicIpv4,
        _ => IpAddressType::Ipv4,
    };
    if ip_address_type == IpAddressType::Ipv4 {
        if let Some((id, _)) = contributions
            .iter()
            .flat_map(|(_, c)| c.target_groups.iter())
            .find(|(_, tg)| tg.ip_address_type == "ipv6")
        {
            return Err(format!(
                "target group {id} is IPv6 (its Service is of the IPv6 family): the load balancer must be dualstack"
            ));
        }
    }
    let name = pick("load balancer name", &|s| s.name.clone())?.unwrap_or_else(|| {
        ingress_load_balancer_name(&input.config.cluster_name, input.group_id, scheme.as_str())
    });
    let explicit_subnets = pick("subnets", &|s| s.subnets.as_ref().map(|l| l.join(",")))?
        .map(|joined| joined.split(',').map(str::to_string).collect::<Vec<_>>());
    let mut user_tags = Tags::new();
    for (key, s) in &settings {
        for (tag, value) in &s.tags {
            match user_tags.get(tag) {
                Some(existing) if existing != value => {
                    return Err(format!(
                    "members disagree on tag {tag}: {key} wants {value}, another wants {existing}"
                ))
                }
                _ => {
                    user_tags.insert(tag.clone(), value.clone());
                }
            }
        }
    }
    // Attributes: the first member's params win per key over every member's annotation; two
    // members giving one key different values is an error unless the params define it.
    let params_attributes: BTreeMap<String, String> = kept
        .first()
        .and_then(|m| m.params.as_ref())
        .and_then(|p| p.spec.load_balancer_attributes.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|kv| (kv.key, kv.value))
        .collect();
    let mut attributes: BTreeMap<String, (String, String)> = BTreeMap::new();
    for (member, s) in &settings {
        for (key, value) in &s.attributes {
            match attributes.get(key) {
                Some((existing, first)) if existing != value && !params_attributes.contains_key(key) => {
                    return Err(format!(
                        "members disagree on load balancer attribute {key}: {first} wants {existing}, {member} wants {value}"
                    ))
                }
                Some(_) => {}
                None => {
                    attributes.insert(key.clone(), (value.clone(), member.clone()));
                }
            }
        }
    }
    let mut attributes: BTreeMap<String, String> =
        attributes.into_iter().map(|(k, (v, _))| (k, v)).collect();
    attributes.extend(params_attributes);
    let reused = input
        .existing
        .filter(|existing| explicit_subnets.is_none() && existing.scheme == scheme)
        .map(|existing| existing.subnet_ids.clone());
    let subnet_ids: Vec<String> = match reused {
        Some(ids) => ids,
        None => choose_subnets(
            input.facts,
            &SubnetRequest {
                cluster_name: &input.config.cluster_name,
                vpc_id: &input.config.vpc_id,
                scheme,
                load_balancer_type: LoadBalancerType::Application,
                ip_address_type,
                explicit: explicit_subnets.as_deref(),
                cluster_tag_check: input.config.feature_gates.subnets_cluster_tag_check,
            },
        )
        .map_err(|e| match explicit_subnets {
            Some(_) => e.to_string() + &asked_by(&settings, "subnets", |s| s.subnets.is_some()),
            // Discovery follows the scheme and the address type: name who set them.
            None => {
                let mut error = e.to_string();
                if settings.iter().any(|(_, s)| s.scheme.is_some()) {
                    error += &asked_by(&settings, "scheme", |s| s.scheme.is_some());
                }
                if settings.iter().any(|(_, s)| s.ip_address_type.is_some()) {
                    error += &asked_by(&settings, "ip-address-type", |s| {
                        s.ip_address_type.is_some()
                    });
                }
                error
            }
        })?
        .into_iter()
        .map(|s| s.subnet_id)
        .collect(),
    };

    let mut stack = Stack::empty(&stack_id);
    let mut ingress_rules = Vec::new();
    for (port, protocol) in &listeners {
        let declaring: Vec<&Member> = kept
            .iter()
            .filter(|m| listen_ports(m).is_ok_and(|ports| ports.contains_key(port)))
            .collect();
        let sources = listener_sources(&declaring, *port, ip_address_type != IpAddressType::Ipv4)?;
        for source in sources {
            ingress_rules.push(IngressRule {
                protocol: "tcp".into(),
                from_port: *port,
                to_port: *port,
                source,
            });
        }
        let https = *protocol == Protocol::Https;
        let mut certificates: Vec<String> = Vec::new();
        if https {
            for member in &declaring {
                // Members whose discovery failed were held before this point.
                let own =
                    member_certificates(member, input.facts, input.config).unwrap_or_default();
                for arn in own {
                    if !certificates.contains(&arn) {
                        certificates.push(arn);
                    }
                }
            }
        }
        let ssl_policy = https.then(|| {
            declaring
                .iter()
                .find_map(|m| {
                    m.params
                        .as_ref()
                        .and_then(|p| p.spec.ssl_policy.clone())
                        .or_else(|| annotations(m).string("ssl-policy").map(str::to_string))
                })
                .unwrap_or_else(|| input.config.default_ssl_policy.clone())
        });
        let (default_action, default_authentication) = match redirect_port {
            Some(target) if *protocol == Protocol::Http => (
                ListenerAction::Redirect(RedirectConfig {
                    protocol: Some("HTTPS".into()),
                    port: Some(target.to_string()),
                    status_code: "HTTP_301".into(),
                    ..RedirectConfig::default()
                }),
                None,
            ),
            _ => {
                // A default backend of exactly one member declaring the port, else 404.
                type Default<'a> = (&'a String, &'a ListenerAction, &'a Option<ListenerAction>);
                let defaults: Vec<Default> = contributions
                    .iter()
                    .filter(|(key, _)| declaring.iter().any(|m| m.key() == *key))
                    .filter_map(|(key, c)| {
                        let action = c.default_action.as_ref()?;
                        Some((key, action, &c.default_authentication))
                    })
                    .collect();
                match defaults.as_slice() {
                    [] => (
                        ListenerAction::FixedResponse(FixedResponseConfig {
                            status_code: "404".into(),
                            content_type: Some("text/plain".into()),
                            message_body: None,
                        }),
                        None,
                    ),
                    [(_, action, authentication)] => (
                        (*action).clone(),
                        // Authentication applies on HTTPS listeners only.
                        (*authentication)
                            .clone()
                            .filter(|_| *protocol == Protocol::Https),
                    ),
                    several => {
                        return Err(format!(
                            "port {port} has more than one default backend: {}",
                            several
                                .iter()
                                .map(|(key, _, _)| key.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    }
                }
            }
        };
        let listener_id = port.to_string();
        stack.listeners.insert(
            listener_id.clone(),
            ListenerSpec {
                port: *port,
                protocol: *protocol,
                default_action,
                default_authentication,
                mutual_authentication: if https {
                    listener_mutual_authentication(&declaring, *port, &input.facts.trust_stores)?
                        .or_else(|| {
                            // Upstream's gate: no member asks, so mutual TLS is off.
                            input
                                .config
                                .feature_gates
                                .enhanced_default_behavior
                                .then(|| crate::cloud::MutualAuthentication {
                                    mode: "off".into(),
                                    ..Default::default()
                                })
                        })
                } else {
                    None
                },
                certificates,
                ssl_policy,
                alpn_policy: None,
                attributes: listener_attributes(&declaring, *port, *protocol)?,
                tags: if input.config.feature_gates.listener_rules_tagging {
                    tracking_tags(input, &listener_id, &user_tags)
                } else {
                    Tags::new()
                },
            },
        );
    }
    // Rules: members in member order, each listener's priorities counted across members.
    let mut next_priority: BTreeMap<i32, i32> = BTreeMap::new();
    let used: BTreeMap<String, MemberContribution> = contributions.iter().cloned().collect();
    let mut kept_rules: BTreeMap<i32, Vec<ContributedRule>> = BTreeMap::new();
    for (_, contribution) in contributions {
        for rule in contribution.rules {
            let port = rule.port;
            let protocol = listeners.get(&port).copied().unwrap_or(Protocol::Http);
            let kept = kept_rules.entry(port).or_default();
            let shapes: Vec<RuleShape> = kept
                .iter()
                .map(|r| RuleShape {
                    conditions: &r.conditions,
                    actions: &r.actions,
                })
                .collect();
            let shape = RuleShape {
                conditions: &rule.conditions,
                actions: &rule.actions,
            };
            if !keeps(&shape, &shapes, port, protocol) {
                continue;
            }
            kept.push(rule.clone());
            let priority = next_priority.entry(port).or_insert(0);
            *priority += 1;
            let id = format!("{port}:{priority}");
            stack.rules.insert(
                id.clone(),
                RuleSpec {
                    port,
                    priority: *priority,
                    conditions: rule.conditions,
                    actions: rule.actions,
                    transforms: rule.transforms,
                    tags: if input.config.feature_gates.listener_rules_tagging {
                        tracking_tags(input, &id, &user_tags)
                    } else {
                        Tags::new()
                    },
                },
            );
        }
        stack.target_groups.extend(contribution.target_groups);
    }
    let requested = pick("security groups", &|s| {
        s.security_groups.as_ref().map(|l| l.join(","))
    })?;
    let security_groups = match requested {
        None => {
            stack.security_group = Some(SecurityGroupSpec {
                name: ingress_security_group_name(&input.config.cluster_name, input.group_id),
                description: "[k8s] Managed SecurityGroup for LoadBalancer".into(),
                ingress: ingress_rules,
                tags: tracking_tags(input, "ManagedLBSecurityGroup", &user_tags),
            });
            let mut groups = vec![SecurityGroupRef::Managed];
            if input.config.enable_backend_security_group {
                groups.push(SecurityGroupRef::Backend);
            }
            groups
        }
        Some(joined) => {
            let entries: Vec<String> = joined.split(',').map(str::to_string).collect();
            let mut groups = resolve_security_groups(input.facts, &input.config.vpc_id, &entries)
                .map_err(|e| {
                e + &asked_by(&settings, "security-groups", |s| {
                    s.security_groups.is_some()
                })
            })?;
            let manage = pick("manage-backend-security-group-rules", &|s| {
                s.manage_backend_rules.map(|b| b.to_string())
            })?;
            let manage = match manage.as_deref() {
                Some(value) => value == "true",
                None => input.config.manage_backend_security_group_rules,
            };
            if manage {
                if !input.config.enable_backend_security_group {
                    return Err("managing backend rules for user security groups needs the backend security group (--enable-backend-security-group)".into());
                }
                groups.push(SecurityGroupRef::Backend);
            }
            groups
        }
    };
    stack.load_balancer = Some(LoadBalancerSpec {
        name,
        load_balancer_type: LoadBalancerType::Application,
        scheme,
        ip_address_type,
        subnet_mappings: subnet_ids
            .into_iter()
            .map(|subnet_id| SubnetMapping {
                subnet_id,
                allocation_id: None,
                private_ipv4_address: None,
                ipv6_address: None,
                source_nat_ipv6_prefix: None,
            })
            .collect(),
        security_groups,
        attributes,
        wafv2_acl: super::addons::web_acl(&settings, input.config, input.facts)?,
        ipv6_source_nat: None,
        waf_classic_acl: super::addons::classic_web_acl(&settings, input.config)?,
        shield_advanced_protection: super::addons::shield_protection(&settings, input.config)?,
        minimum_capacity_units: super::addons::minimum_capacity(
            kept.first()
                .and_then(|m| m.params.as_ref())
                .and_then(|p| p.spec.minimum_load_balancer_capacity.as_ref())
                .map(|c| c.capacity_units),
            &settings,
            input.config,
        )?,
        address_pools: AddressPools {
            customer_owned_ipv4: pick("customer-owned IPv4 pool", &|s| {
                s.customer_owned_ipv4_pool.clone()
            })?,
            // The first member's params win outright, as upstream; else members must agree.
            ipv4_ipam: match kept
                .first()
                .and_then(|m| m.params.as_ref())
                .and_then(|p| p.spec.ipam_configuration.as_ref())
                .and_then(|c| c.ipv4_ipam_pool_id.clone())
                .filter(|pool| !pool.is_empty())
            {
                Some(pool) => Some(pool),
                None => pick("IPAM IPv4 pool", &|s| s.ipv4_ipam_pool.clone())?,
            },
        },
        tags: tracking_tags(input, "LoadBalancer", &user_tags),
    });
    if let Some(alb) = &stack.load_balancer {
        stack.frontend_nlb = frontend_nlb(input, &kept, alb, &user_tags)?.map(Box::new);
    }
    stack.certificates = group_certificate_requests(input.group_id, input.members, input.config);
    crate::networking::fill_security_group_networking(
        &mut stack,
        !input.config.disable_restricted_sg_rules,
    );
    Ok(BuiltIngressStack {
        stack,
        held,
        contributions: used,
    })
}
