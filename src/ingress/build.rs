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
//! Also: `actions.*` (see `actions`), load-balancer attributes, `spec.defaultBackend` as the
//! listener's default action.
//!
//! `security-groups` (ids or Name tags) replace the managed security group.
//!
//! Not yet: auth, listener attributes, certificate discovery, WAF, gRPC/HTTP2
//! protocol versions.

use super::group::{GroupId, Member};
use super::listen::{
    annotations, group_listeners, listen_ports, ssl_redirect_port, INGRESS_PREFIX,
};
use super::rules::{listener_rules, BackendRef, MemberProblem, ServicePortRef};
use crate::annotations::Annotations;
use crate::cloud::{FixedResponseConfig, RedirectConfig};
use crate::config::ControllerConfig;
use crate::facts::CloudFacts;
use crate::model::{
    ExistingLoadBalancer, HealthCheck, IngressRule, IpAddressType, ListenerAction, ListenerSpec,
    LoadBalancerSpec, LoadBalancerType, Protocol, RuleSpec, Scheme, SecurityGroupRef,
    SecurityGroupSpec, Stack, SubnetMapping, Tags, TargetGroupBindingSpec, TargetGroupSpec,
    TargetType,
};
use crate::naming::{
    ingress_load_balancer_name, ingress_security_group_name, ingress_target_group_name,
    IngressTargetGroupNameInputs,
};
use crate::subnets::{choose_subnets, SubnetRequest};
use k8s_openapi::api::core::v1::Service;
use std::collections::{BTreeMap, BTreeSet};

pub struct IngressBuildInput<'a> {
    pub group_id: &'a GroupId,
    /// Active members in member order.
    pub members: &'a [Member],
    /// The Services of the members' namespaces.
    pub services: &'a [Service],
    pub config: &'a ControllerConfig,
    pub facts: &'a CloudFacts,
    pub existing: Option<&'a ExistingLoadBalancer>,
    /// What each member contributed to the last stack deployed, by `namespace/name`: a member
    /// held now keeps those rules and target groups instead of losing them.
    pub previous: &'a BTreeMap<String, MemberContribution>,
    /// Members held while loading the group (their `group.order` is unusable): they keep what
    /// they had, after the other members.
    pub held_at_load: &'a [String],
}

/// The stack, and the members held out of it with their problems.
#[derive(Debug, Clone, PartialEq)]
pub struct BuiltIngressStack {
    pub stack: Stack,
    pub held: Vec<MemberProblem>,
    /// What each member contributed (a held member: what it had before), for the next build.
    pub contributions: BTreeMap<String, MemberContribution>,
}

fn tracking_tags(input: &IngressBuildInput, resource_id: &str, user: &Tags) -> Tags {
    let mut tags = user.clone();
    tags.extend(input.config.default_tags.clone());
    tags.insert(
        "elbv2.k8s.aws/cluster".into(),
        input.config.cluster_name.clone(),
    );
    tags.insert("ingress.k8s.aws/stack".into(), input.group_id.stack_id());
    tags.insert("ingress.k8s.aws/resource".into(), resource_id.to_string());
    tags
}

fn problem(member: &Member, text: impl Into<String>) -> MemberProblem {
    MemberProblem {
        ingress: member.key(),
        problem: text.into(),
    }
}

/// One value a member asks for (params first, else its annotation).
fn member_choice(
    member: &Member,
    from_params: Option<&str>,
    annotation: &str,
    allowed: &[&str],
) -> Result<Option<String>, MemberProblem> {
    let value = from_params
        .map(str::to_string)
        .or_else(|| annotations(member).string(annotation).map(str::to_string));
    match value {
        Some(value) if !allowed.contains(&value.as_str()) => Err(problem(
            member,
            format!(
                "{INGRESS_PREFIX}{annotation}: {value:?} is not one of {}",
                allowed.join(", ")
            ),
        )),
        other => Ok(other),
    }
}

/// The single value members agree on, or an error naming who disagrees.
fn agreed(what: &str, choices: &[(String, String)]) -> Result<Option<String>, String> {
    let distinct: BTreeSet<&str> = choices.iter().map(|(v, _)| v.as_str()).collect();
    match distinct.len() {
        0 => Ok(None),
        1 => Ok(choices.first().map(|(v, _)| v.clone())),
        _ => Err(format!(
            "members disagree on the {what}: {}",
            choices
                .iter()
                .map(|(value, member)| format!("{member} wants {value}"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

struct MemberSettings {
    scheme: Option<String>,
    ip_address_type: Option<String>,
    name: Option<String>,
    tags: Tags,
    subnets: Option<Vec<String>>,
    /// `load-balancer-attributes`.
    attributes: BTreeMap<String, String>,
    /// `security-groups`, in the order given.
    security_groups: Option<Vec<String>>,
    manage_backend_rules: Option<bool>,
}

fn member_settings(member: &Member) -> Result<MemberSettings, MemberProblem> {
    let params = member.params.as_ref().map(|p| &p.spec);
    let scheme = member_choice(
        member,
        params.and_then(|p| p.scheme).map(|s| match s {
            crate::crd::ingress_class_params::ParamsScheme::Internal => "internal",
            crate::crd::ingress_class_params::ParamsScheme::InternetFacing => "internet-facing",
        }),
        "scheme",
        &["internal", "internet-facing"],
    )?;
    let ip_address_type = member_choice(
        member,
        params.and_then(|p| p.ip_address_type).map(|t| match t {
            crate::crd::ingress_class_params::ParamsIpAddressType::Ipv4 => "ipv4",
            crate::crd::ingress_class_params::ParamsIpAddressType::Dualstack => "dualstack",
            crate::crd::ingress_class_params::ParamsIpAddressType::DualstackWithoutPublicIpv4 => {
                "dualstack-without-public-ipv4"
            }
        }),
        "ip-address-type",
        &["ipv4", "dualstack", "dualstack-without-public-ipv4"],
    )?;
    let name = params
        .and_then(|p| p.load_balancer_name.clone())
        .or_else(|| {
            annotations(member)
                .string("load-balancer-name")
                .map(str::to_string)
        });
    if name.as_ref().is_some_and(|n| n.len() > 32) {
        return Err(problem(
            member,
            "the load balancer name is longer than 32 characters",
        ));
    }
    let mut tags = annotations(member)
        .string_map("tags")
        .map_err(|e| problem(member, e.to_string()))?
        .unwrap_or_default();
    for tag in params.and_then(|p| p.tags.clone()).unwrap_or_default() {
        tags.insert(tag.key, tag.value);
    }
    let mut subnets = annotations(member).string_list("subnets");
    if let Some(list) = subnets.as_mut() {
        list.sort();
    }
    let attributes = annotations(member)
        .string_map("load-balancer-attributes")
        .map_err(|e| problem(member, e.to_string()))?
        .unwrap_or_default();
    let security_groups = annotations(member).string_list("security-groups");
    let manage_backend_rules = annotations(member)
        .boolean("manage-backend-security-group-rules")
        .map_err(|e| problem(member, e.to_string()))?;
    Ok(MemberSettings {
        scheme,
        ip_address_type,
        name,
        tags,
        subnets,
        attributes,
        security_groups,
        manage_backend_rules,
    })
}

fn service_port<'a>(
    service: &'a Service,
    port: &ServicePortRef,
) -> Option<&'a k8s_openapi::api::core::v1::ServicePort> {
    service
        .spec
        .as_ref()?
        .ports
        .as_ref()?
        .iter()
        .find(|p| match port {
            ServicePortRef::Number(number) => p.port == *number,
            ServicePortRef::Name(name) => p.name.as_deref() == Some(name.as_str()),
        })
}

fn fixed_503(body: &str) -> ListenerAction {
    ListenerAction::FixedResponse(FixedResponseConfig {
        status_code: "503".into(),
        content_type: Some("text/plain".into()),
        message_body: Some(body.into()),
    })
}

/// The target group for one backend of a member, added to `groups` under its resource id; the
/// action forwarding to it. A missing Service gives upstream's 503 (tolerated by default).
fn backend_action(
    input: &IngressBuildInput,
    member: &Member,
    backend: &BackendRef,
    groups: &mut BTreeMap<String, TargetGroupSpec>,
) -> Result<ListenerAction, MemberProblem> {
    match backend {
        BackendRef::Service { name, port } => Ok(
            match service_target_group(input, member, name, port, groups)? {
                Some(resource_id) => ListenerAction::forward_to(&resource_id),
                None => fixed_503("Backend service does not exist"),
            },
        ),
        BackendRef::Annotation { name } => {
            let key = format!("actions.{name}");
            let Some(raw) = annotations(member).string(&key) else {
                return Ok(fixed_503("Backend action does not exist"));
            };
            let action = super::actions::parse_action(raw)
                .map_err(|e| problem(member, format!("{INGRESS_PREFIX}{key}: {e}")))?;
            annotated_action(input, member, action, groups)
        }
    }
}

/// The action an `actions.*` annotation asks for, its Services' target groups added to `groups`.
fn annotated_action(
    input: &IngressBuildInput,
    member: &Member,
    action: super::actions::AnnotatedAction,
    groups: &mut BTreeMap<String, TargetGroupSpec>,
) -> Result<ListenerAction, MemberProblem> {
    use super::actions::{AnnotatedAction, ForwardTarget};
    Ok(match action {
        AnnotatedAction::FixedResponse(config) => ListenerAction::FixedResponse(config),
        AnnotatedAction::Redirect(config) => ListenerAction::Redirect(config),
        AnnotatedAction::Forward {
            targets,
            stickiness_seconds,
        } => {
            let single = targets.len() == 1;
            let mut target_groups = Vec::new();
            for (target, weight) in targets {
                let target_group = match target {
                    ForwardTarget::Arn(arn) => arn,
                    ForwardTarget::Service { name, port } => {
                        match service_target_group(input, member, &name, &port, groups)? {
                            Some(resource_id) => resource_id,
                            None if single => {
                                return Ok(fixed_503("Backend service does not exist"))
                            }
                            None => {
                                return Err(problem(
                                    member,
                                    format!("Service {name} of a weighted forward does not exist"),
                                ))
                            }
                        }
                    }
                };
                target_groups.push(crate::model::WeightedTargetGroup {
                    target_group,
                    weight,
                });
            }
            ListenerAction::Forward {
                target_groups,
                stickiness_seconds,
            }
        }
    })
}

/// The target group of (member, Service, port), added to `groups` under its resource id; `None`
/// when the Service does not exist.
fn service_target_group(
    input: &IngressBuildInput,
    member: &Member,
    service_name: &String,
    port: &ServicePortRef,
    groups: &mut BTreeMap<String, TargetGroupSpec>,
) -> Result<Option<String>, MemberProblem> {
    let namespace = member
        .ingress
        .metadata
        .namespace
        .clone()
        .unwrap_or_default();
    let Some(service) = input.services.iter().find(|s| {
        s.metadata.namespace.as_deref() == Some(namespace.as_str())
            && s.metadata.name.as_deref() == Some(service_name.as_str())
    }) else {
        return Ok(None);
    };
    let ingress_name = member.ingress.metadata.name.clone().unwrap_or_default();
    let resource_id = format!("{namespace}/{ingress_name}-{service_name}:{port}");
    if groups.contains_key(&resource_id) {
        return Ok(Some(resource_id));
    }
    let Some(found) = service_port(service, port) else {
        return Err(problem(
            member,
            format!("Service {namespace}/{service_name} has no port {port}"),
        ));
    };
    // Service annotations win over the Ingress's, key by key.
    let service_annotations =
        Annotations::new(service.metadata.annotations.as_ref(), INGRESS_PREFIX);
    let ingress_annotations = annotations(member);
    let read = |suffix: &str| {
        service_annotations
            .string(suffix)
            .or_else(|| ingress_annotations.string(suffix))
    };
    let target_type = match member.params.as_ref().and_then(|p| p.spec.target_type) {
        Some(crate::crd::ingress_class_params::ParamsTargetType::Ip) => TargetType::Ip,
        Some(crate::crd::ingress_class_params::ParamsTargetType::Instance) => TargetType::Instance,
        None => match read("target-type") {
            None => input.config.default_target_type,
            Some(text) => TargetType::parse(text).ok_or_else(|| {
                problem(
                    member,
                    format!("target-type {text:?} is not instance or ip"),
                )
            })?,
        },
    };
    let protocol = match read("backend-protocol").unwrap_or("HTTP") {
        "HTTP" => Protocol::Http,
        "HTTPS" => Protocol::Https,
        other => {
            return Err(problem(
                member,
                format!("backend-protocol {other:?} is not HTTP or HTTPS"),
            ))
        }
    };
    let target_group_port = match target_type {
        TargetType::Instance => found.node_port.unwrap_or(0),
        TargetType::Ip => match &found.target_port {
            Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(number)) => *number,
            Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(_)) => 1,
            None => found.port,
        },
    };
    if target_group_port == 0 {
        return Err(problem(
            member,
            format!("Service {namespace}/{service_name} has no node port: instance targets need a NodePort or LoadBalancer Service"),
        ));
    }
    let number = |suffix: &str, default: i32| -> Result<i32, MemberProblem> {
        match read(suffix) {
            None => Ok(default),
            Some(text) => text.parse().map_err(|_| {
                problem(
                    member,
                    format!("{INGRESS_PREFIX}{suffix}: {text:?} is not an integer"),
                )
            }),
        }
    };
    let health_check = HealthCheck {
        protocol: match read("healthcheck-protocol") {
            None => protocol,
            Some("HTTP") => Protocol::Http,
            Some("HTTPS") => Protocol::Https,
            Some(other) => {
                return Err(problem(
                    member,
                    format!("healthcheck-protocol {other:?} is not HTTP or HTTPS"),
                ))
            }
        },
        port: read("healthcheck-port")
            .unwrap_or("traffic-port")
            .to_string(),
        path: Some(read("healthcheck-path").unwrap_or("/").to_string()),
        interval_seconds: number("healthcheck-interval-seconds", 15)?,
        timeout_seconds: number("healthcheck-timeout-seconds", 5)?,
        healthy_threshold: number("healthy-threshold-count", 2)?,
        unhealthy_threshold: number("unhealthy-threshold-count", 2)?,
        success_codes: Some(read("success-codes").unwrap_or("200").to_string()),
    };
    let attributes = match service_annotations.string("target-group-attributes") {
        Some(_) => service_annotations.string_map("target-group-attributes"),
        None => ingress_annotations.string_map("target-group-attributes"),
    }
    .map_err(|e| problem(member, e.to_string()))?
    .unwrap_or_default();
    let service_uid = service.metadata.uid.clone().unwrap_or_default();
    let port_text = port.to_string();
    let name = ingress_target_group_name(
        &namespace,
        service_name,
        &IngressTargetGroupNameInputs {
            cluster: &input.config.cluster_name,
            group: input.group_id,
            ingress_namespace: &namespace,
            ingress_name: &ingress_name,
            service_uid: &service_uid,
            service_port: &port_text,
            target_group_port,
            target_type: target_type.as_str(),
            protocol: protocol.as_str(),
            protocol_version: "HTTP1",
            target_control_port: None,
        },
    );
    let user_tags = member_settings(member).map(|s| s.tags).unwrap_or_default();
    groups.insert(
        resource_id.clone(),
        TargetGroupSpec {
            name: name.clone(),
            target_type,
            protocol,
            port: target_group_port,
            ip_address_type: "ipv4".into(),
            vpc_id: input.config.vpc_id.clone(),
            health_check,
            attributes,
            tags: tracking_tags(input, &resource_id, &user_tags),
            binding: TargetGroupBindingSpec {
                name,
                namespace: namespace.clone(),
                service_name: service_name.clone(),
                service_port: found.port,
                node_selector: BTreeMap::new(),
                multi_cluster: false,
            },
        },
    );
    Ok(Some(resource_id))
}

/// What one member contributes: its rules per port (with their actions) and target groups.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberContribution {
    rules: Vec<(i32, Vec<crate::cloud::RuleCondition>, ListenerAction)>,
    target_groups: BTreeMap<String, TargetGroupSpec>,
    /// From `spec.defaultBackend`: the default action of the listeners it declares.
    default_action: Option<ListenerAction>,
}

fn member_contribution(
    input: &IngressBuildInput,
    member: &Member,
    redirected_ports: &BTreeSet<i32>,
) -> Result<MemberContribution, MemberProblem> {
    member_settings(member)?;
    let mut contribution = MemberContribution {
        rules: Vec::new(),
        target_groups: BTreeMap::new(),
        default_action: None,
    };
    let default_backend = member
        .ingress
        .spec
        .as_ref()
        .and_then(|spec| spec.default_backend.as_ref());
    if let Some(backend) = default_backend {
        let backend = super::rules::backend_ref(backend)
            .map_err(|e| problem(member, format!("spec.defaultBackend: {e}")))?;
        contribution.default_action = Some(backend_action(
            input,
            member,
            &backend,
            &mut contribution.target_groups,
        )?);
    }
    for port in listen_ports(member)
        .map_err(|e| problem(member, e))?
        .into_keys()
    {
        let single = std::slice::from_ref(member);
        for rule in listener_rules(single, port, redirected_ports.contains(&port))? {
            let action = backend_action(
                input,
                member,
                &rule.backend,
                &mut contribution.target_groups,
            )?;
            contribution.rules.push((port, rule.conditions, action));
        }
    }
    Ok(contribution)
}

/// Builds the group's stack; `Err` only for problems of the whole load balancer.
pub fn build_ingress_stack(input: &IngressBuildInput) -> Result<BuiltIngressStack, String> {
    let stack_id = input.group_id.stack_id();
    let mut held = Vec::new();
    // A first pass finds members whose own settings are broken, without group context.
    let mut members: Vec<Member> = Vec::new();
    for member in input.members {
        match member_settings(member)
            .and_then(|_| listen_ports(member).map_err(|e| problem(member, e)))
        {
            Ok(_) => members.push(member.clone()),
            Err(problem) => held.push(problem),
        }
    }
    if members.is_empty() {
        return nothing_builds(input, held);
    }
    let listeners = group_listeners(&members)?;
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
                    previous.rules.retain(|(port, _, _)| {
                        listeners.contains_key(port) && !redirected.contains(port)
                    });
                    contributions.push((key, previous));
                }
            }
        }
    }
    for key in input.held_at_load {
        if let Some(previous) = input.previous.get(key) {
            let mut previous = previous.clone();
            previous
                .rules
                .retain(|(port, _, _)| listeners.contains_key(port) && !redirected.contains(port));
            contributions.push((key.clone(), previous));
        }
    }
    if kept.is_empty() {
        return nothing_builds(input, held);
    }
    // Group-wide settings from the members that build.
    let settings: Vec<(String, MemberSettings)> = kept
        .iter()
        .filter_map(|m| member_settings(m).ok().map(|s| (m.key(), s)))
        .collect();
    let pick = |what: &str, get: &dyn Fn(&MemberSettings) -> Option<String>| {
        let choices: Vec<(String, String)> = settings
            .iter()
            .filter_map(|(key, s)| get(s).map(|v| (v, key.clone())))
            .collect();
        agreed(what, &choices)
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
        .map_err(|e| e.to_string())?
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
        let cidrs: Vec<String> = declaring
            .iter()
            .find_map(|m| annotations(m).string_list("inbound-cidrs"))
            .unwrap_or_else(|| {
                let mut defaults = vec!["0.0.0.0/0".to_string()];
                if ip_address_type != IpAddressType::Ipv4 {
                    defaults.push("::/0".to_string());
                }
                defaults
            });
        for cidr in cidrs {
            if cidr.contains(':') && ip_address_type == IpAddressType::Ipv4 {
                continue;
            }
            ingress_rules.push(IngressRule {
                protocol: "tcp".into(),
                from_port: *port,
                to_port: *port,
                source: cidr,
            });
        }
        let https = *protocol == Protocol::Https;
        let mut certificates: Vec<String> = Vec::new();
        if https {
            for member in &declaring {
                let own = member
                    .params
                    .as_ref()
                    .and_then(|p| p.spec.certificate_arn.clone())
                    .filter(|arns| !arns.is_empty())
                    .or_else(|| annotations(member).string_list("certificate-arn"))
                    .unwrap_or_default();
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
        let default_action = match redirect_port {
            Some(target) if *protocol == Protocol::Http => {
                ListenerAction::Redirect(RedirectConfig {
                    protocol: Some("HTTPS".into()),
                    port: Some(target.to_string()),
                    status_code: "HTTP_301".into(),
                    ..RedirectConfig::default()
                })
            }
            _ => {
                // A default backend of exactly one member declaring the port, else 404.
                let defaults: Vec<(&String, &ListenerAction)> = contributions
                    .iter()
                    .filter(|(key, _)| declaring.iter().any(|m| m.key() == *key))
                    .filter_map(|(key, c)| c.default_action.as_ref().map(|a| (key, a)))
                    .collect();
                match defaults.as_slice() {
                    [] => ListenerAction::FixedResponse(FixedResponseConfig {
                        status_code: "404".into(),
                        content_type: Some("text/plain".into()),
                        message_body: None,
                    }),
                    [(_, action)] => (*action).clone(),
                    several => {
                        return Err(format!(
                            "port {port} has more than one default backend: {}",
                            several
                                .iter()
                                .map(|(key, _)| key.as_str())
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
                certificates,
                ssl_policy,
                alpn_policy: None,
                attributes: BTreeMap::new(),
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
    for (_, contribution) in contributions {
        for (port, conditions, action) in contribution.rules {
            let priority = next_priority.entry(port).or_insert(0);
            *priority += 1;
            let id = format!("{port}:{priority}");
            stack.rules.insert(
                id.clone(),
                RuleSpec {
                    port,
                    priority: *priority,
                    conditions,
                    actions: vec![action],
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
            // The user's groups (ids, or Name tags — every group carrying a Name is taken).
            let mut groups = Vec::new();
            let mut missing = Vec::new();
            for entry in joined.split(',') {
                let found: Vec<&crate::facts::SecurityGroup> = input
                    .facts
                    .security_groups
                    .iter()
                    .filter(|g| {
                        g.vpc_id == input.config.vpc_id
                            && (g.group_id == entry
                                || g.tags().get("Name").map(String::as_str) == Some(entry))
                    })
                    .collect();
                if found.is_empty() {
                    missing.push(entry.to_string());
                }
                for group in found {
                    let id = SecurityGroupRef::Id(group.group_id.clone());
                    if !groups.contains(&id) {
                        groups.push(id);
                    }
                }
            }
            if !missing.is_empty() {
                return Err(format!(
                    "security groups {missing:?} were not found in the VPC"
                ));
            }
            let manage = pick("manage-backend-security-group-rules", &|s| {
                s.manage_backend_rules.map(|b| b.to_string())
            })?;
            if manage.as_deref() == Some("true") {
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
            })
            .collect(),
        security_groups,
        attributes,
        tags: tracking_tags(input, "LoadBalancer", &user_tags),
    });
    Ok(BuiltIngressStack {
        stack,
        held,
        contributions: used,
    })
}

/// No member builds: with none held the group is gone (empty stack); with some held nothing
/// may be deleted, so the group fails instead.
fn nothing_builds(
    input: &IngressBuildInput,
    held: Vec<MemberProblem>,
) -> Result<BuiltIngressStack, String> {
    if held.is_empty() && input.held_at_load.is_empty() {
        return Ok(BuiltIngressStack {
            stack: Stack::empty(&input.group_id.stack_id()),
            held,
            contributions: BTreeMap::new(),
        });
    }
    Err(format!(
        "no member of the group can be built, so nothing is changed: {}",
        held.iter()
            .map(|p| p.to_string())
            .chain(
                input
                    .held_at_load
                    .iter()
                    .map(|key| format!("Ingress {key}: held"))
            )
            .collect::<Vec<_>>()
            .join("; ")
    ))
}
