//! The target group of each listener: target type and port resolution per mode, health-check
//! defaults (instance + `externalTrafficPolicy: Local` checks kube-proxy's `/healthz`), attribute
//! precedence, the upstream name, and what its TargetGroupBinding says.

use super::listeners::PortPlan;
use super::settings::ServiceSettings;
use super::{Problem, ANNOTATION_PREFIX};
use crate::config::ControllerConfig;
use crate::model::{
    HealthCheck, Protocol, Tags, TargetGroupBindingSpec, TargetGroupSpec, TargetType,
};
use crate::naming::{target_group_name, TargetGroupNameInputs};
use k8s_openapi::api::core::v1::{Service, ServicePort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

fn health_check_key() -> String {
    format!("{ANNOTATION_PREFIX}aws-load-balancer-healthcheck-port")
}

/// The port targets are registered on: nodePort (instance), or the numeric targetPort (ip; `1`
/// when it is a name, since each pod resolves it).
fn target_group_port(port: &ServicePort, target_type: TargetType) -> Result<i32, Problem> {
    let location = format!("spec.ports[{}]", port.port);
    let resolved = match target_type {
        TargetType::Instance => port.node_port.unwrap_or(0),
        TargetType::Ip => match &port.target_port {
            Some(IntOrString::Int(number)) => *number,
            Some(IntOrString::String(_)) => 1,
            None => port.port,
        },
        TargetType::Alb => 0,
    };
    if resolved == 0 {
        let message = match target_type {
            TargetType::Instance => "instance targets need a nodePort, and this port has none (allocateLoadBalancerNodePorts is false?)",
            TargetType::Ip => "the target port is 0",
            TargetType::Alb => "a Service's targets are instances or pods, not load balancers",
        };
        return Err(Problem::new(location, message));
    }
    Ok(resolved)
}

fn resolve_health_check_port(
    value: &str,
    service: &Service,
    target_type: TargetType,
) -> Result<String, Problem> {
    if value == "traffic-port" || value.parse::<i32>().is_ok() {
        return Ok(value.to_string());
    }
    let ports = service.spec.as_ref().and_then(|spec| spec.ports.as_ref());
    let named = ports
        .into_iter()
        .flatten()
        .find(|port| port.name.as_deref() == Some(value))
        .ok_or_else(|| {
            Problem::new(
                health_check_key(),
                format!("no Service port is named {value:?}"),
            )
        })?;
    match (target_type, &named.target_port) {
        (TargetType::Instance | TargetType::Alb, _) => Ok(named.node_port.unwrap_or(0).to_string()),
        (TargetType::Ip, Some(IntOrString::Int(number))) => Ok(number.to_string()),
        (TargetType::Ip, None) => Ok(named.port.to_string()),
        (TargetType::Ip, Some(IntOrString::String(_))) => Err(Problem::new(
            health_check_key(),
            "a named health-check port cannot be used with ip targets when the Service's targetPort is itself a name",
        )),
    }
}

fn health_check(
    service: &Service,
    settings: &ServiceSettings,
    target_type: TargetType,
) -> Result<HealthCheck, Problem> {
    let spec = service.spec.as_ref();
    let local_instance = target_type == TargetType::Instance
        && spec.and_then(|s| s.external_traffic_policy.as_deref()) == Some("Local")
        && spec.and_then(|s| s.type_.as_deref()) == Some("LoadBalancer");
    let overrides = &settings.health_check;
    let mut check = if local_instance {
        let node_port = spec.and_then(|s| s.health_check_node_port).unwrap_or(0);
        HealthCheck {
            protocol: Protocol::Http,
            port: node_port.to_string(),
            path: Some("/healthz".into()),
            interval_seconds: 10,
            timeout_seconds: 6,
            healthy_threshold: 2,
            unhealthy_threshold: 2,
            success_codes: None,
            grpc_success_codes: None,
        }
    } else {
        HealthCheck::nlb_default()
    };
    if let Some(protocol) = overrides.protocol {
        check.protocol = protocol;
    }
    if let Some(port) = &overrides.port {
        check.port = resolve_health_check_port(port, service, target_type)?;
    }
    check.interval_seconds = overrides.interval.unwrap_or(check.interval_seconds);
    check.timeout_seconds = overrides.timeout.unwrap_or(check.timeout_seconds);
    check.healthy_threshold = overrides
        .healthy_threshold
        .unwrap_or(check.healthy_threshold);
    check.unhealthy_threshold = overrides
        .unhealthy_threshold
        .unwrap_or(check.unhealthy_threshold);
    if matches!(check.protocol, Protocol::Http | Protocol::Https) {
        check.path = Some(
            overrides
                .path
                .clone()
                .or(check.path)
                .unwrap_or_else(|| "/".into()),
        );
        check.success_codes = Some(
            overrides
                .success_codes
                .clone()
                .unwrap_or_else(|| "200-399".into()),
        );
    } else {
        check.path = None;
        check.success_codes = None;
    }
    Ok(check)
}

fn attributes(settings: &ServiceSettings, service_port: i32) -> BTreeMap<String, String> {
    const PROXY: &str = "proxy_protocol_v2.enabled";
    let mut attributes = BTreeMap::from([(PROXY.to_string(), "false".to_string())]);
    attributes.extend(settings.target_group_attributes.clone());
    if let Some(per_port) = settings.target_group_attributes_per_port.get(&service_port) {
        attributes.extend(
            per_port
                .iter()
                .filter(|(_, value)| !value.is_empty())
                .map(|(k, v)| (k.clone(), v.clone())),
        );
    }
    if let Some(ports) = &settings.proxy_protocol_ports {
        attributes.insert(PROXY.into(), ports.contains(&service_port).to_string());
    }
    if settings.proxy_protocol_all {
        attributes.insert(PROXY.into(), "true".into());
    }
    if attributes.get(PROXY).is_some_and(String::is_empty) {
        attributes.remove(PROXY);
    }
    attributes
}

/// The target group of `plan`, under the resource id `namespace/service:port`.
pub(super) fn build_target_group(
    plan: &PortPlan,
    service: &Service,
    settings: &ServiceSettings,
    config: &ControllerConfig,
    target_type: TargetType,
    ipv6: bool,
    tags: Tags,
) -> Result<TargetGroupSpec, Problem> {
    let namespace = service.metadata.namespace.as_deref().unwrap_or("default");
    let name = service.metadata.name.as_deref().unwrap_or_default();
    let uid = service.metadata.uid.as_deref().unwrap_or_default();
    let port = target_group_port(&plan.service_port, target_type)?;
    let health_check = health_check(service, settings, target_type)?;
    let generated = target_group_name(
        namespace,
        name,
        &TargetGroupNameInputs {
            cluster: &config.cluster_name,
            base_service_uid: None,
            service_uid: uid,
            target_group_port: port,
            service_port: plan.port,
            target_type: target_type.as_str(),
            protocol: plan.target_group_protocol.as_str(),
            health_check_protocol: health_check.protocol.as_str(),
            health_check_interval: health_check.interval_seconds,
        },
    );
    Ok(TargetGroupSpec {
        name: generated.clone(),
        target_type,
        protocol: plan.target_group_protocol,
        protocol_version: None,
        target_control_port: None,
        port,
        ip_address_type: if ipv6 { "ipv6" } else { "ipv4" }.to_string(),
        vpc_id: config.vpc_id.clone(),
        health_check,
        attributes: attributes(settings, plan.port),
        tags,
        binding: Some(TargetGroupBindingSpec {
            name: generated,
            namespace: namespace.to_string(),
            service_name: name.to_string(),
            service_port: plan.port,
            node_selector: if target_type == TargetType::Instance {
                settings.target_node_labels.clone()
            } else {
                BTreeMap::new()
            },
            multi_cluster: settings.multi_cluster,
            target_port_name: TargetGroupBindingSpec::named_target_port(
                plan.service_port.target_port.as_ref(),
                target_type,
            ),
            networking: Vec::new(),
        }),
    })
}
