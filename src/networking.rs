//! Networking of TargetGroupBindings: which sources the targets' security groups must admit, on
//! which ports (upstream's `spec.networking`, `platform.md` §2.4–2.5, `service.md` §3.8).
//!
//! Pure: it fills the bindings of a built stack from the stack's own load balancer and, for
//! NLBs without security groups, from the subnets and client ranges the build already read.
//! Applying the rules to node and pod security groups is the registration loop's job, not this
//! module's; turning the load balancer's security groups into ids happens once they exist
//! (`controller::bindings`).

use crate::facts::{CloudFacts, Subnet};
use crate::model::{
    NetworkingPeer, NetworkingPort, NetworkingPortNumber, NetworkingRule, Protocol, Scheme,
    SecurityGroupRef, Stack, TargetGroupSpec, TargetType,
};

const TCP: Protocol = Protocol::Tcp;
const UDP: Protocol = Protocol::Udp;
const PRESERVE_CLIENT_IP: &str = "preserve_client_ip.enabled";

/// The security group the targets admit traffic from: the shared backend group when the load
/// balancer carries it, else its managed group; none when it has only user groups (the user
/// opens the targets) or no group at all.
pub fn traffic_source(security_groups: &[SecurityGroupRef]) -> Option<SecurityGroupRef> {
    [SecurityGroupRef::Backend, SecurityGroupRef::Managed]
        .into_iter()
        .find(|wanted| security_groups.contains(wanted))
}

/// The port the targets receive traffic on: the node port (instance), the target port (ip), or
/// its name when the Service names it.
fn traffic_port(group: &TargetGroupSpec) -> NetworkingPortNumber {
    match group
        .binding
        .as_ref()
        .and_then(|b| b.target_port_name.clone())
    {
        Some(name) => NetworkingPortNumber::Name(name),
        None => NetworkingPortNumber::Number(group.port),
    }
}

fn port(protocol: Protocol, number: Option<NetworkingPortNumber>) -> NetworkingPort {
    NetworkingPort {
        protocol,
        port: number,
    }
}

/// A numeric health-check port other than the traffic port.
fn separate_health_check_port(group: &TargetGroupSpec) -> Option<i32> {
    group
        .health_check
        .port
        .parse::<i32>()
        .ok()
        .filter(|number| traffic_port(group) != NetworkingPortNumber::Number(*number))
}

fn udp_like(protocol: Protocol) -> bool {
    matches!(
        protocol,
        Protocol::Udp | Protocol::Quic | Protocol::TcpUdp | Protocol::TcpQuic
    )
}

/// An ALB target group's ports: TCP on the traffic port, the health-check port when it is
/// another, and the target control port; every TCP port when restriction is off.
fn application_ports(group: &TargetGroupSpec, restricted: bool) -> Vec<NetworkingPort> {
    if !restricted {
        return vec![port(TCP, None)];
    }
    let mut ports = vec![port(TCP, Some(traffic_port(group)))];
    // `traffic-port` does not parse: only a port of its own is added.
    if let Ok(number) = group.health_check.port.parse::<i32>() {
        ports.push(port(TCP, Some(NetworkingPortNumber::Number(number))));
    }
    if let Some(control) = group.target_control_port {
        ports.push(port(TCP, Some(NetworkingPortNumber::Number(control))));
    }
    ports
}

/// An NLB target group's ports by protocol (`service.md` §3.8): UDP-like groups take UDP, TCP
/// where their health check reaches the traffic port, and TCP on a separate health-check port.
fn network_ports(group: &TargetGroupSpec, restricted: bool) -> Vec<NetworkingPort> {
    if !restricted {
        let mut ports = vec![port(TCP, None)];
        if udp_like(group.protocol) {
            ports.push(port(UDP, None));
        }
        return ports;
    }
    let traffic = traffic_port(group);
    let mut ports = match group.protocol {
        Protocol::Udp | Protocol::Quic => {
            let mut ports = vec![port(UDP, Some(traffic.clone()))];
            if separate_health_check_port(group).is_none() {
                ports.push(port(TCP, Some(traffic)));
            }
            ports
        }
        Protocol::TcpUdp | Protocol::TcpQuic => {
            vec![port(UDP, Some(traffic.clone())), port(TCP, Some(traffic))]
        }
        _ => vec![port(TCP, Some(traffic))],
    };
    if let Some(number) = separate_health_check_port(group) {
        ports.push(port(TCP, Some(NetworkingPortNumber::Number(number))));
    }
    ports
}

/// Writes every binding's networking for a load balancer with security groups: one rule from
/// the traffic source on the target group's ports, nothing without a source.
pub fn fill_security_group_networking(stack: &mut Stack, restricted: bool) {
    let Some(load_balancer) = &stack.load_balancer else {
        return;
    };
    let application =
        load_balancer.load_balancer_type == crate::model::LoadBalancerType::Application;
    let source = traffic_source(&load_balancer.security_groups);
    for group in stack.target_groups.values_mut() {
        let ports = if application {
            application_ports(group, restricted)
        } else {
            network_ports(group, restricted)
        };
        if let Some(binding) = group.binding.as_mut() {
            binding.networking = match &source {
                Some(source) => vec![NetworkingRule {
                    from: vec![NetworkingPeer::SecurityGroup(source.clone())],
                    ports,
                }],
                None => Vec::new(),
            };
        }
    }
}

/// What the networking of an NLB without security groups reads besides its own stack.
pub struct LegacyNlbSources<'a> {
    pub facts: &'a CloudFacts,
    pub vpc_id: &'a str,
    /// `spec.loadBalancerSourceRanges`, else the `load-balancer-source-ranges` annotation.
    pub client_ranges: &'a [ipnet::IpNet],
}

/// The IPv4 or IPv6 CIDRs of the subnets `is_wanted` picks.
fn cidrs_of_subnets(
    facts: &CloudFacts,
    ipv6: bool,
    is_wanted: impl Fn(&Subnet) -> bool,
) -> Vec<String> {
    let mut cidrs = Vec::new();
    for subnet in facts.subnets.iter().filter(|s| is_wanted(s)) {
        if ipv6 {
            cidrs.extend(subnet.ipv6_cidrs().into_iter().map(str::to_string));
        } else if !subnet.cidr_block.is_empty() {
            cidrs.push(subnet.cidr_block.clone());
        }
    }
    cidrs
}

fn preserves_client_ip(group: &TargetGroupSpec) -> bool {
    match group.attributes.get(PRESERVE_CLIENT_IP) {
        Some(value) => value == "true",
        None => group.target_type == TargetType::Instance,
    }
}

fn cidr_peers(cidrs: &[String]) -> Vec<NetworkingPeer> {
    cidrs.iter().cloned().map(NetworkingPeer::Cidr).collect()
}

/// Writes every binding's networking for an NLB without security groups (`service.md` §3.8,
/// legacy mode): clients (or the NLB's subnets, when the NLB hides the client) on the traffic
/// port, and the NLB's subnets on the health-check port when that is needed.
pub fn fill_legacy_nlb_networking(stack: &mut Stack, sources: &LegacyNlbSources) {
    let Some(load_balancer) = &stack.load_balancer else {
        return;
    };
    let scheme = load_balancer.scheme;
    let nlb_subnets: Vec<String> = load_balancer
        .subnet_mappings
        .iter()
        .map(|mapping| mapping.subnet_id.clone())
        .collect();
    for group in stack.target_groups.values_mut() {
        let ipv6 = group.ip_address_type == "ipv6";
        let subnet_cidrs = cidrs_of_subnets(sources.facts, ipv6, |subnet| {
            nlb_subnets.contains(&subnet.subnet_id)
        });
        let preserved = preserves_client_ip(group);
        let mut default_range_used = false;
        let traffic_sources = if udp_like(group.protocol) || preserved {
            let clients: Vec<String> = sources
                .client_ranges
                .iter()
                .filter(|range| matches!(range, ipnet::IpNet::V6(_)) == ipv6)
                .map(|range| range.to_string())
                .collect();
            if !clients.is_empty() {
                clients
            } else if scheme == Scheme::Internal {
                default_range_used = true;
                // The VPC's address space as its subnets' CIDRs (every client inside the VPC
                // is in one of them), so no VPC read is needed.
                cidrs_of_subnets(sources.facts, ipv6, |subnet| {
                    subnet.vpc_id == sources.vpc_id || subnet.vpc_id.is_empty()
                })
            } else {
                vec![if ipv6 { "::/0" } else { "0.0.0.0/0" }.to_string()]
            }
        } else {
            subnet_cidrs.clone()
        };
        let traffic = traffic_port(group);
        let traffic_ports = match group.protocol {
            Protocol::Udp | Protocol::Quic => vec![port(UDP, Some(traffic.clone()))],
            Protocol::TcpUdp | Protocol::TcpQuic => vec![
                port(TCP, Some(traffic.clone())),
                port(UDP, Some(traffic.clone())),
            ],
            _ => vec![port(TCP, Some(traffic.clone()))],
        };
        let open_to_all = traffic_sources
            .iter()
            .any(|cidr| cidr == "0.0.0.0/0" || cidr == "::/0");
        let health_check_port = separate_health_check_port(group);
        let health_check_covered = !matches!(group.protocol, Protocol::Udp)
            && health_check_port.is_none()
            && (!preserved || default_range_used || open_to_all);
        let mut rules = vec![NetworkingRule {
            from: cidr_peers(&traffic_sources),
            ports: traffic_ports,
        }];
        if !health_check_covered {
            let number = health_check_port
                .map(NetworkingPortNumber::Number)
                .unwrap_or(traffic);
            rules.push(NetworkingRule {
                from: cidr_peers(&subnet_cidrs),
                ports: vec![port(TCP, Some(number))],
            });
        }
        rules.retain(|rule| !rule.from.is_empty());
        if let Some(binding) = group.binding.as_mut() {
            binding.networking = rules;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ControllerConfig;
    use crate::model::{ExistingLoadBalancer, NetworkingPeer as Peer};
    use crate::service::{build_service_stack, ServiceBuildInput};
    use k8s_openapi::api::core::v1::Service;

    fn facts() -> CloudFacts {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/aws-facts.json");
        CloudFacts::from_documents(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn service(annotations: &str, ports: &str) -> Service {
        serde_yaml::from_str(&format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{name: app, namespace: default, uid: u-1, annotations: {{service.beta.kubernetes.io/aws-load-balancer-type: external, service.beta.kubernetes.io/aws-load-balancer-nlb-target-type: instance{annotations}}}}}\nspec: {{type: LoadBalancer, ports: [{ports}]}}"
        ))
        .unwrap()
    }

    fn build(
        service: &Service,
        config: &ControllerConfig,
        existing: Option<&ExistingLoadBalancer>,
    ) -> Result<Stack, Vec<crate::service::Problem>> {
        let facts = facts();
        build_service_stack(&ServiceBuildInput {
            service,
            config,
            facts: &facts,
            existing,
        })
        .map(|built| built.stack)
    }

    fn rules(stack: &Stack) -> Vec<NetworkingRule> {
        stack
            .target_groups
            .values()
            .flat_map(|g| g.binding.as_ref().unwrap().networking.clone())
            .collect()
    }

    const TCP_80: &str = "{port: 80, targetPort: 8080, nodePort: 30080, protocol: TCP}";

    #[test]
    fn the_source_follows_the_backend_group_flag() {
        let service = service("", TCP_80);
        let mut config = ControllerConfig::new("prod", "vpc-0example");
        let with_backend = build(&service, &config, None).unwrap();
        assert_eq!(
            rules(&with_backend)[0].from,
            [Peer::SecurityGroup(SecurityGroupRef::Backend)]
        );
        config.enable_backend_security_group = false;
        let without = build(&service, &config, None).unwrap();
        assert_eq!(
            without.load_balancer.as_ref().unwrap().security_groups,
            [SecurityGroupRef::Managed],
            "only the managed group on the NLB"
        );
        assert_eq!(
            rules(&without)[0].from,
            [Peer::SecurityGroup(SecurityGroupRef::Managed)],
            "the managed group becomes the source"
        );
    }

    #[test]
    fn unrestricted_rules_open_every_port_of_the_protocols() {
        let service = service(
            "",
            "{port: 53, targetPort: 53, nodePort: 30053, protocol: UDP}",
        );
        let mut config = ControllerConfig::new("prod", "vpc-0example");
        config.disable_restricted_sg_rules = true;
        let stack = build(&service, &config, None).unwrap();
        let ports = &rules(&stack)[0].ports;
        assert_eq!(ports.len(), 2);
        assert!(ports.iter().all(|p| p.port.is_none()), "{ports:?}");
        assert_eq!(ports[0].protocol, Protocol::Tcp);
        assert_eq!(ports[1].protocol, Protocol::Udp);
    }

    #[test]
    fn an_nlb_created_without_groups_keeps_none_and_admits_clients() {
        let service = service("", TCP_80);
        let config = ControllerConfig::new("prod", "vpc-0example");
        let legacy = ExistingLoadBalancer {
            scheme: Scheme::Internal,
            subnet_ids: Vec::new(),
            has_security_groups: false,
        };
        let stack = build(&service, &config, Some(&legacy)).unwrap();
        assert!(stack
            .load_balancer
            .as_ref()
            .unwrap()
            .security_groups
            .is_empty());
        assert!(stack.security_group.is_none(), "no managed group to create");
        let rules = rules(&stack);
        assert!(
            rules[0].from.iter().all(|p| matches!(p, Peer::Cidr(_))),
            "CIDR peers: {rules:?}"
        );
    }

    #[test]
    fn removing_every_group_from_an_nlb_that_has_some_is_refused() {
        let with_groups = ExistingLoadBalancer {
            scheme: Scheme::Internal,
            subnet_ids: Vec::new(),
            has_security_groups: true,
        };
        let mut config = ControllerConfig::new("prod", "vpc-0example");
        config.feature_gates.nlb_security_group = false;
        let problems = build(&service("", TCP_80), &config, Some(&with_groups)).unwrap_err();
        assert!(
            problems[0]
                .to_string()
                .contains("conflicting security groups configuration"),
            "{problems:?}"
        );
        let config = ControllerConfig::new("prod", "vpc-0example");
        let disabled = service(
            ", service.beta.kubernetes.io/aws-load-balancer-disable-nlb-sg: \"true\"",
            TCP_80,
        );
        let problems = build(&disabled, &config, Some(&with_groups)).unwrap_err();
        assert!(
            problems[0].to_string().contains("disable-nlb-sg"),
            "names the annotation: {problems:?}"
        );
    }

    #[test]
    fn user_groups_without_managed_rules_write_no_networking_and_the_flag_sets_the_default() {
        let user_groups = service(
            ", service.beta.kubernetes.io/aws-load-balancer-security-groups: sg-0f00d0000000000b2",
            TCP_80,
        );
        let mut config = ControllerConfig::new("prod", "vpc-0example");
        let stack = build(&user_groups, &config, None).unwrap();
        assert!(rules(&stack).is_empty(), "the user opens the targets");
        config.manage_backend_security_group_rules = true;
        let managed = build(&user_groups, &config, None).unwrap();
        assert_eq!(
            rules(&managed)[0].from,
            [Peer::SecurityGroup(SecurityGroupRef::Backend)],
            "--enable-manage-backend-security-group-rules is the annotation's default"
        );
    }
}
