//! From `spec.ports` to listeners: one per distinct port number, the protocol decision (TCP_UDP
//! merge, TLS by certificate and `ssl-ports`), and the listener fields.

use super::settings::ServiceSettings;
use super::{Problem, ANNOTATION_PREFIX};
use crate::config::ControllerConfig;
use crate::model::{ListenerAction, ListenerSpec, Protocol, Tags};
use k8s_openapi::api::core::v1::{Service, ServicePort};

/// One listener-to-be: its port, protocols, and the Service port entry it takes its ports from.
pub(super) struct PortPlan {
    pub port: i32,
    pub listener_protocol: Protocol,
    pub target_group_protocol: Protocol,
    pub service_port: ServicePort,
}

fn service_protocol(port: &ServicePort) -> Protocol {
    match port.protocol.as_deref() {
        Some("UDP") => Protocol::Udp,
        _ => Protocol::Tcp,
    }
}

/// Groups `spec.ports` by number and decides each listener's protocol. `warnings` receives the
/// ports upstream silently drops (a second entry of one number without TCP_UDP merging).
pub(super) fn plan_ports(
    service: &Service,
    settings: &ServiceSettings,
    config: &ControllerConfig,
    warnings: &mut Vec<Problem>,
) -> Result<Vec<PortPlan>, Vec<Problem>> {
    let ports = service
        .spec
        .as_ref()
        .and_then(|spec| spec.ports.clone())
        .unwrap_or_default();
    let merge = settings
        .tcp_udp_merge
        .unwrap_or(config.feature_gates.tcp_udp_listener);
    let mut groups: Vec<(i32, Vec<ServicePort>)> = Vec::new();
    for port in ports {
        match groups.iter_mut().find(|(number, _)| *number == port.port) {
            Some((_, entries)) => entries.push(port),
            None => groups.push((port.port, vec![port])),
        }
    }
    let mut problems = Vec::new();
    if let Some(ssl_ports) = &settings.ssl_ports {
        for entry in ssl_ports {
            let used = groups.iter().flat_map(|(_, entries)| entries).any(|port| {
                port.name.as_deref() == Some(entry.as_str()) || port.port.to_string() == *entry
            });
            if !used {
                problems.push(Problem::new(
                    format!("{ANNOTATION_PREFIX}aws-load-balancer-ssl-ports"),
                    format!("{entry:?} matches no Service port name or number"),
                ));
            }
        }
    }
    let mut plans = Vec::new();
    for (number, entries) in groups {
        let first = entries[0].clone();
        let mut protocol = service_protocol(&first);
        if entries.len() > 1 {
            let protocols: Vec<Protocol> = entries.iter().map(service_protocol).collect();
            if !merge {
                warnings.push(Problem::new(
                    "spec.ports",
                    format!("port {number} appears {} times; only the first entry gets a listener (enable aws-load-balancer-enable-tcp-udp-listener to merge TCP and UDP)", entries.len()),
                ));
            } else if entries.len() > 2 {
                problems.push(Problem::new(
                    "spec.ports",
                    format!(
                        "port {number}: can only merge two ports, not {}",
                        entries.len()
                    ),
                ));
                continue;
            } else if protocols.contains(&Protocol::Tcp) && protocols.contains(&Protocol::Udp) {
                protocol = Protocol::TcpUdp;
            } else {
                problems.push(Problem::new(
                    "spec.ports",
                    format!("port {number}: only a TCP and a UDP port can be merged"),
                ));
                continue;
            }
        }
        let tls_selected = settings.ssl_ports.as_ref().is_none_or(|ports| {
            ports.is_empty()
                || ports.iter().any(|entry| {
                    first.name.as_deref() == Some(entry.as_str())
                        || first.port.to_string() == *entry
                })
        });
        let (listener_protocol, target_group_protocol) =
            if protocol == Protocol::Tcp && !settings.certificates.is_empty() && tls_selected {
                (
                    Protocol::Tls,
                    if settings.backend_tls {
                        Protocol::Tls
                    } else {
                        Protocol::Tcp
                    },
                )
            } else {
                (protocol, protocol)
            };
        let quic = settings.quic_ports.iter().any(|entry| {
            first.name.as_deref() == Some(entry.as_str()) || first.port.to_string() == *entry
        });
        let (listener_protocol, target_group_protocol) = match (quic, listener_protocol) {
            (false, _) => (listener_protocol, target_group_protocol),
            (true, Protocol::Udp) => (Protocol::Quic, Protocol::Quic),
            (true, Protocol::TcpUdp) => (Protocol::TcpQuic, Protocol::TcpQuic),
            (true, other) => {
                problems.push(Problem::new(
                    format!("{ANNOTATION_PREFIX}aws-load-balancer-quic-enabled-ports"),
                    format!("port {number} is {other}: only UDP and TCP_UDP listeners can be upgraded to QUIC"),
                ));
                continue;
            }
        };
        plans.push(PortPlan {
            port: number,
            listener_protocol,
            target_group_protocol,
            service_port: first,
        });
    }
    if problems.is_empty() {
        Ok(plans)
    } else {
        Err(problems)
    }
}

/// The listener of one port plan, forwarding to `target_group` (a resource id).
pub(super) fn build_listener(
    plan: &PortPlan,
    settings: &ServiceSettings,
    config: &ControllerConfig,
    target_group: &str,
    tags: Tags,
) -> ListenerSpec {
    let tls = plan.listener_protocol == Protocol::Tls;
    let attributes = if tls {
        Default::default()
    } else {
        settings
            .listener_attributes
            .get(&format!("{}-{}", plan.listener_protocol, plan.port))
            .cloned()
            .unwrap_or_default()
    };
    ListenerSpec {
        port: plan.port,
        protocol: plan.listener_protocol,
        default_action: ListenerAction::forward_to(target_group),
        default_authentication: None,
        mutual_authentication: None,
        certificates: if tls {
            settings.certificates.clone()
        } else {
            Vec::new()
        },
        ssl_policy: tls.then(|| {
            settings
                .ssl_policy
                .clone()
                .unwrap_or_else(|| config.default_ssl_policy.clone())
        }),
        alpn_policy: if tls {
            settings.alpn_policy.clone()
        } else {
            None
        },
        attributes,
        tags: if config.feature_gates.listener_rules_tagging {
            tags
        } else {
            Tags::new()
        },
    }
}
