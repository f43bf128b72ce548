//! Where a path's traffic goes: the target group of an (Ingress, Service, port) with its port,
//! protocol, health check, attributes and binding; the `actions.*` an Ingress names; upstream's
//! 503 responses for a missing Service or action. Pure.

use super::actions::ServicePortRef;
use super::input::{tracking_tags, IngressBuildInput};
use super::member::{
    annotated_actions, annotations, problem, Member, MemberProblem, INGRESS_PREFIX,
};
use super::rules::BackendRef;
use super::settings::member_settings;
use crate::annotations::Annotations;
use crate::cloud::FixedResponseConfig;
use crate::model::{
    HealthCheck, ListenerAction, Protocol, TargetGroupBindingSpec, TargetGroupSpec, TargetType,
};
use crate::naming::{ingress_target_group_name, IngressTargetGroupNameInputs};
use k8s_openapi::api::core::v1::Service;
use std::collections::BTreeMap;

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
pub(super) fn backend_action(
    input: &IngressBuildInput,
    member: &Member,
    backend: &BackendRef,
    groups: &mut BTreeMap<String, TargetGroupSpec>,
) -> Result<ListenerAction, MemberProblem> {
    match backend {
        BackendRef::Service { name, port } => Ok(
            match service_target_group(input, member, name, port, groups)? {
                Some(resource_id) => ListenerAction::forward_to(&resource_id),
                None if input.config.tolerate_missing_backend_service => {
                    fixed_503("Backend service does not exist")
                }
                None => {
                    return Err(problem(
                        member,
                        format!("backend Service {name} does not exist (--tolerate-non-existent-backend-service=false)"),
                    ))
                }
            },
        ),
        BackendRef::Annotation { name } => {
            let key = format!("actions.{name}");
            let Some(action) = annotated_actions(member).get(name.as_str()) else {
                if input.config.tolerate_missing_backend_action {
                    return Ok(fixed_503("Backend action does not exist"));
                }
                return Err(problem(
                    member,
                    format!("{INGRESS_PREFIX}{key} is missing for the use-annotation backend {name} (--tolerate-non-existent-backend-action=false)"),
                ));
            };
            let action = action
                .clone()
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
                    ForwardTarget::Name(name) => target_group_by_name(input, member, &name)?,
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

/// The ARN of the one existing target group named `name` (looked up by the discover step).
fn target_group_by_name(
    input: &IngressBuildInput,
    member: &Member,
    name: &str,
) -> Result<String, MemberProblem> {
    let found: Vec<&str> = input
        .facts
        .target_groups
        .iter()
        .filter(|tg| tg.target_group_name == name)
        .map(|tg| tg.target_group_arn.as_str())
        .collect();
    match found.as_slice() {
        [arn] => Ok(arn.to_string()),
        [] => Err(problem(member, format!("no target group is named {name}"))),
        _ => Err(problem(
            member,
            format!("more than one target group is named {name}"),
        )),
    }
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
    if target_type == TargetType::Ip && !input.config.feature_gates.ip_target_type {
        return Err(problem(
            member,
            format!("Service {service_name}: ip targets need the EnableIPTargetType feature gate"),
        ));
    }
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
    let protocol_version = match read("backend-protocol-version").unwrap_or("HTTP1") {
        version @ ("HTTP1" | "HTTP2" | "GRPC") => version,
        other => {
            return Err(problem(
                member,
                format!("backend-protocol-version {other:?} is not HTTP1, HTTP2 or GRPC"),
            ))
        }
    };
    let grpc = protocol_version == "GRPC";
    let control_key = format!("target-control-port.{service_name}.{port}");
    let target_control_port = match read(&control_key) {
        None => None,
        Some(text) => Some(text.parse::<i32>().map_err(|_| {
            problem(
                member,
                format!("{INGRESS_PREFIX}{control_key}: {text:?} is not an integer"),
            )
        })?),
    };
    if target_control_port.is_some() && target_type == TargetType::Instance {
        return Err(problem(
            member,
            format!("{INGRESS_PREFIX}{control_key}: a target control port needs ip targets"),
        ));
    }
    // A Service of the IPv6 family gets an IPv6 target group (the ALB must be dual-stack).
    let ipv6 = service
        .spec
        .as_ref()
        .and_then(|s| s.ip_families.as_ref())
        .is_some_and(|families| families.iter().any(|f| f == "IPv6"));
    let target_group_port = match target_type {
        TargetType::Instance => found.node_port.unwrap_or(0),
        TargetType::Ip => match &found.target_port {
            Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(number)) => *number,
            Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(_)) => 1,
            None => found.port,
        },
        // Never chosen for a backend: `parse` takes instance or ip only.
        TargetType::Alb => 0,
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
        path: Some(
            read("healthcheck-path")
                .unwrap_or(if grpc { "/AWS.ALB/healthcheck" } else { "/" })
                .to_string(),
        ),
        interval_seconds: number("healthcheck-interval-seconds", 15)?,
        timeout_seconds: number("healthcheck-timeout-seconds", 5)?,
        healthy_threshold: number("healthy-threshold-count", 2)?,
        unhealthy_threshold: number("unhealthy-threshold-count", 2)?,
        // gRPC target groups take the codes as gRPC status codes (default 12, unimplemented).
        success_codes: (!grpc).then(|| read("success-codes").unwrap_or("200").to_string()),
        grpc_success_codes: grpc.then(|| read("success-codes").unwrap_or("12").to_string()),
    };
    // Maps are taken whole from the Service when it has one, else from the Ingress.
    let whole_map = |suffix: &str| {
        match service_annotations.string(suffix) {
            Some(_) => service_annotations.string_map(suffix),
            None => ingress_annotations.string_map(suffix),
        }
        .map_err(|e| problem(member, e.to_string()))
    };
    let attributes = whole_map("target-group-attributes")?.unwrap_or_default();
    // Instance targets only: the nodes to register.
    let node_selector = whole_map("target-node-labels")?
        .filter(|_| target_type == TargetType::Instance)
        .unwrap_or_default();
    let multi_cluster_of = |source: &Annotations| -> Result<bool, MemberProblem> {
        source
            .boolean("multi-cluster-target-group")
            .map(|value| value.unwrap_or(false))
            .map_err(|e| problem(member, e.to_string()))
    };
    let multi_cluster =
        multi_cluster_of(&service_annotations)? || multi_cluster_of(&ingress_annotations)?;
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
            protocol_version,
            target_control_port,
        },
    );
    let user_tags = member_settings(member).map(|s| s.tags).unwrap_or_default();
    groups.insert(
        resource_id.clone(),
        TargetGroupSpec {
            name: name.clone(),
            target_type,
            protocol,
            protocol_version: Some(protocol_version.to_string()),
            target_control_port,
            port: target_group_port,
            ip_address_type: if ipv6 { "ipv6" } else { "ipv4" }.into(),
            vpc_id: input.config.vpc_id.clone(),
            health_check,
            attributes,
            tags: tracking_tags(input, &resource_id, &user_tags),
            binding: Some(TargetGroupBindingSpec {
                name,
                namespace: namespace.clone(),
                service_name: service_name.clone(),
                service_port: found.port,
                node_selector,
                multi_cluster,
                target_port_name: TargetGroupBindingSpec::named_target_port(
                    found.target_port.as_ref(),
                    target_type,
                ),
                networking: Vec::new(),
            }),
        },
    );
    Ok(Some(resource_id))
}
