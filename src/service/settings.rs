//! Every `service.beta.kubernetes.io/*` annotation the NLB model reads, parsed and validated into
//! one value before anything is built. All problems are reported together, each naming its
//! annotation; nothing is defaulted silently when a value is malformed.

use super::Problem;
use crate::annotations::{AnnotationError, Annotations};
use crate::config::ControllerConfig;
use crate::model::{IpAddressType, Protocol, Scheme, TargetType};
use k8s_openapi::api::core::v1::Service;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

pub const ANNOTATION_PREFIX: &str = "service.beta.kubernetes.io/";

const ALPN_POLICIES: &[&str] = &[
    "None",
    "HTTP1Only",
    "HTTP2Only",
    "HTTP2Optional",
    "HTTP2Preferred",
];
const CLIENT_ROUTING_POLICIES: &[&str] = &[
    "availability_zone_affinity",
    "partial_availability_zone_affinity",
    "any_availability_zone",
];

/// Health-check settings given by annotations (unset fields take the mode's defaults).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthCheckOverrides {
    pub protocol: Option<Protocol>,
    pub port: Option<String>,
    pub path: Option<String>,
    pub interval: Option<i32>,
    pub timeout: Option<i32>,
    pub healthy_threshold: Option<i32>,
    pub unhealthy_threshold: Option<i32>,
    pub success_codes: Option<String>,
}

/// The parsed annotations (and the Service fields that act like them) of one Service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceSettings {
    pub target_type: Option<TargetType>,
    pub scheme: Option<Scheme>,
    pub name: Option<String>,
    pub ip_address_type: Option<IpAddressType>,
    pub subnets: Option<Vec<String>>,
    pub eip_allocations: Option<Vec<String>>,
    pub private_ipv4_addresses: Option<Vec<Ipv4Addr>>,
    pub ipv6_addresses: Option<Vec<Ipv6Addr>>,
    /// `enable-prefix-for-ipv6-source-nat`: `on` → true, `off` → false.
    pub ipv6_source_nat: Option<bool>,
    /// `source-nat-ipv6-prefixes`, one per subnet (`auto_assigned` or a /80 CIDR).
    pub source_nat_ipv6_prefixes: Option<Vec<String>>,
    pub certificates: Vec<String>,
    pub ssl_ports: Option<Vec<String>>,
    /// Ports (names or numbers) whose UDP / TCP_UDP listener becomes QUIC / TCP_QUIC.
    pub quic_ports: Vec<String>,
    pub ssl_policy: Option<String>,
    pub backend_tls: bool,
    pub alpn_policy: Option<String>,
    /// By `PROTOCOL-PORT`.
    pub listener_attributes: BTreeMap<String, BTreeMap<String, String>>,
    pub tcp_udp_merge: Option<bool>,
    pub target_group_attributes: BTreeMap<String, String>,
    /// By Service port.
    pub target_group_attributes_per_port: BTreeMap<i32, BTreeMap<String, String>>,
    pub proxy_protocol_all: bool,
    pub proxy_protocol_ports: Option<Vec<i32>>,
    pub target_node_labels: BTreeMap<String, String>,
    pub multi_cluster: bool,
    pub health_check: HealthCheckOverrides,
    pub load_balancer_attributes: BTreeMap<String, String>,
    pub additional_tags: BTreeMap<String, String>,
    pub source_ranges: Vec<ipnet::IpNet>,
    pub security_groups: Option<Vec<String>>,
    pub manage_backend_rules: Option<bool>,
    pub prefix_lists: Vec<String>,
    pub icmp_for_path_mtu: bool,
    pub disable_security_groups: bool,
}

/// Collects problems while parsing, so every bad annotation is reported at once.
struct Reader<'a> {
    annotations: Annotations<'a>,
    problems: Vec<Problem>,
}

impl<'a> Reader<'a> {
    fn keep<T>(&mut self, outcome: Result<Option<T>, AnnotationError>) -> Option<T> {
        outcome.unwrap_or_else(|error| {
            self.problems.push(Problem::new(error.key, error.problem));
            None
        })
    }

    fn fail(&mut self, suffix: &str, message: impl Into<String>) {
        self.problems
            .push(Problem::new(self.annotations.key(suffix), message));
    }

    fn one_of(&mut self, suffix: &str, allowed: &[&str]) -> Option<String> {
        let value = self.annotations.string(suffix)?;
        if allowed.contains(&value) {
            Some(value.to_string())
        } else {
            self.fail(suffix, format!("{value:?} is not one of {allowed:?}"));
            None
        }
    }

    fn integer(&mut self, suffix: &str) -> Option<i32> {
        let outcome = self.annotations.integer(suffix);
        self.keep(outcome)
    }

    fn boolean(&mut self, suffix: &str) -> Option<bool> {
        let outcome = self.annotations.boolean(suffix);
        self.keep(outcome)
    }

    fn string_map(&mut self, suffix: &str) -> Option<BTreeMap<String, String>> {
        let outcome = self.annotations.string_map(suffix);
        self.keep(outcome)
    }

    fn addresses<T: std::str::FromStr>(&mut self, suffix: &str, family: &str) -> Option<Vec<T>> {
        let items = self.annotations.string_list(suffix)?;
        let mut parsed = Vec::new();
        for item in items {
            match item.parse() {
                Ok(address) => parsed.push(address),
                Err(_) => self.fail(suffix, format!("{item:?} is not an {family} address")),
            }
        }
        Some(parsed)
    }
}

fn target_type(
    service: &Service,
    reader: &mut Reader,
    config: &ControllerConfig,
) -> Option<TargetType> {
    let annotations = reader.annotations;
    if annotations.string("aws-load-balancer-type") == Some("nlb-ip") {
        return Some(TargetType::Ip);
    }
    let chosen = match annotations.string("aws-load-balancer-nlb-target-type") {
        Some("ip") if !config.feature_gates.ip_target_type => {
            reader.fail(
                "aws-load-balancer-nlb-target-type",
                "ip targets need the EnableIPTargetType feature gate",
            );
            return None;
        }
        Some("ip") => TargetType::Ip,
        Some("instance") => TargetType::Instance,
        // Upstream treats any other value as instance; we keep the result but say so.
        Some(other) => {
            reader.fail(
                "aws-load-balancer-nlb-target-type",
                format!("{other:?} is not a target type (use ip or instance)"),
            );
            return None;
        }
        None => config.default_target_type,
    };
    let cluster_ip = service.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("ClusterIP");
    if chosen == TargetType::Instance && cluster_ip {
        reader.problems.push(Problem::new(
            "spec.type",
            "a ClusterIP Service has no node ports: instance targets need type NodePort or LoadBalancer (or use ip targets)",
        ));
    }
    Some(chosen)
}

fn scheme(reader: &mut Reader) -> Option<Scheme> {
    if let Some(value) = reader.annotations.string("aws-load-balancer-scheme") {
        let parsed = Scheme::parse(value);
        if parsed.is_none() {
            reader.fail(
                "aws-load-balancer-scheme",
                format!("unknown scheme {value:?} (use internal or internet-facing)"),
            );
        }
        return parsed;
    }
    reader
        .boolean("aws-load-balancer-internal")
        .map(|internal| {
            if internal {
                Scheme::Internal
            } else {
                Scheme::InternetFacing
            }
        })
}

fn health_check(reader: &mut Reader, config: &ControllerConfig) -> HealthCheckOverrides {
    let advanced = config.feature_gates.nlb_health_check_advanced_config;
    let protocol = reader
        .annotations
        .string("aws-load-balancer-healthcheck-protocol")
        .and_then(|value| match value.to_ascii_lowercase().as_str() {
            "tcp" => Some(Protocol::Tcp),
            "http" => Some(Protocol::Http),
            "https" => Some(Protocol::Https),
            _ => {
                reader.fail(
                    "aws-load-balancer-healthcheck-protocol",
                    format!("unsupported health check protocol {value:?}"),
                );
                None
            }
        });
    HealthCheckOverrides {
        protocol,
        port: reader
            .annotations
            .string("aws-load-balancer-healthcheck-port")
            .map(str::to_string),
        path: reader
            .annotations
            .string("aws-load-balancer-healthcheck-path")
            .map(str::to_string),
        interval: reader.integer("aws-load-balancer-healthcheck-interval"),
        timeout: reader
            .integer("aws-load-balancer-healthcheck-timeout")
            .filter(|_| advanced),
        healthy_threshold: reader.integer("aws-load-balancer-healthcheck-healthy-threshold"),
        unhealthy_threshold: reader.integer("aws-load-balancer-healthcheck-unhealthy-threshold"),
        success_codes: reader
            .annotations
            .string("aws-load-balancer-healthcheck-success-codes")
            .filter(|_| advanced)
            .map(str::to_string),
    }
}

fn load_balancer_attributes(reader: &mut Reader) -> BTreeMap<String, String> {
    let mut attributes = reader
        .string_map("aws-load-balancer-attributes")
        .unwrap_or_default();
    if let Some(policy) = attributes.get("dns_record.client_routing_policy") {
        if !CLIENT_ROUTING_POLICIES.contains(&policy.as_str()) {
            let message = format!("dns_record.client_routing_policy {policy:?} is not one of {CLIENT_ROUTING_POLICIES:?}");
            reader.fail("aws-load-balancer-attributes", message);
        }
    }
    // The deprecated single-purpose annotations win over the same keys in the map.
    if reader.boolean("aws-load-balancer-access-log-enabled") == Some(true) {
        attributes.insert("access_logs.s3.enabled".into(), "true".into());
        for (suffix, key) in [
            (
                "aws-load-balancer-access-log-s3-bucket-name",
                "access_logs.s3.bucket",
            ),
            (
                "aws-load-balancer-access-log-s3-bucket-prefix",
                "access_logs.s3.prefix",
            ),
        ] {
            if let Some(value) = reader.annotations.string(suffix) {
                attributes.insert(key.into(), value.into());
            }
        }
    }
    if let Some(cross_zone) = reader.boolean("aws-load-balancer-cross-zone-load-balancing-enabled")
    {
        attributes.insert(
            "load_balancing.cross_zone.enabled".into(),
            cross_zone.to_string(),
        );
    }
    attributes
}

fn target_group_attributes(reader: &mut Reader, settings: &mut ServiceSettings) {
    let preserve_check = |reader: &mut Reader, suffix: &str, map: &BTreeMap<String, String>| {
        if let Some(value) = map.get("preserve_client_ip.enabled") {
            if crate::annotations::parse_boolean(value).is_none() {
                reader.fail(
                    suffix,
                    format!("preserve_client_ip.enabled {value:?} is not a boolean"),
                );
            }
        }
    };
    let global_suffix = "aws-load-balancer-target-group-attributes";
    let global = reader.string_map(global_suffix).unwrap_or_default();
    preserve_check(reader, global_suffix, &global);
    settings.target_group_attributes = global;
    let per_port: Vec<(String, String)> = reader
        .annotations
        .with_suffix_prefix("aws-load-balancer-target-group-attributes.")
        .into_keys()
        .map(|port| (port.to_string(), format!("{global_suffix}.{port}")))
        .collect();
    for (port, suffix) in per_port {
        let Ok(port_number) = port.parse::<i32>() else {
            reader.fail(&suffix, format!("{port:?} is not a Service port number"));
            continue;
        };
        let map = reader.string_map(&suffix).unwrap_or_default();
        preserve_check(reader, &suffix, &map);
        settings
            .target_group_attributes_per_port
            .insert(port_number, map);
    }
    match reader
        .annotations
        .string("aws-load-balancer-proxy-protocol")
    {
        Some("*") => settings.proxy_protocol_all = true,
        Some(other) => reader.fail(
            "aws-load-balancer-proxy-protocol",
            format!("{other:?} is not supported: the only value is \"*\""),
        ),
        None => {}
    }
    if let Some(ports) = reader
        .annotations
        .string_list("aws-load-balancer-proxy-protocol-per-target-group")
    {
        let mut parsed = Vec::new();
        for port in ports {
            match port.parse() {
                Ok(number) => parsed.push(number),
                Err(_) => reader.fail(
                    "aws-load-balancer-proxy-protocol-per-target-group",
                    format!("{port:?} is not a port number"),
                ),
            }
        }
        settings.proxy_protocol_ports = Some(parsed);
    }
}

fn source_ranges(service: &Service, reader: &mut Reader) -> Vec<ipnet::IpNet> {
    let from_spec = service
        .spec
        .as_ref()
        .and_then(|spec| spec.load_balancer_source_ranges.clone())
        .filter(|ranges| !ranges.is_empty());
    let (location, ranges) = match from_spec {
        Some(ranges) => ("spec.loadBalancerSourceRanges".to_string(), ranges),
        None => (
            reader.annotations.key("load-balancer-source-ranges"),
            reader
                .annotations
                .string_list("load-balancer-source-ranges")
                .unwrap_or_default(),
        ),
    };
    let mut parsed = Vec::new();
    for range in ranges {
        match range.parse::<ipnet::IpNet>() {
            Ok(network) => parsed.push(network),
            Err(_) => reader
                .problems
                .push(Problem::new(&location, format!("{range:?} is not a CIDR"))),
        }
    }
    parsed
}

impl ServiceSettings {
    /// Parses and validates every annotation the NLB model reads.
    pub fn read(service: &Service, config: &ControllerConfig) -> Result<Self, Vec<Problem>> {
        let annotations =
            Annotations::new(service.metadata.annotations.as_ref(), ANNOTATION_PREFIX);
        let mut reader = Reader {
            annotations,
            problems: Vec::new(),
        };
        let mut settings = ServiceSettings {
            target_type: target_type(service, &mut reader, config),
            scheme: scheme(&mut reader),
            ..Self::default()
        };
        if let Some(name) = annotations.string("aws-load-balancer-name") {
            if name.len() > 32 {
                reader.fail(
                    "aws-load-balancer-name",
                    "a load balancer name cannot be longer than 32 characters",
                );
            }
            settings.name = Some(name.to_string());
        }
        settings.ip_address_type = match annotations.string("aws-load-balancer-ip-address-type") {
            None | Some("ipv4") => Some(IpAddressType::Ipv4),
            Some("dualstack") => Some(IpAddressType::Dualstack),
            Some(other) => {
                reader.fail(
                    "aws-load-balancer-ip-address-type",
                    format!("unknown IP address type {other:?} (use ipv4 or dualstack)"),
                );
                None
            }
        };
        settings.subnets = annotations.string_list("aws-load-balancer-subnets");
        settings.eip_allocations = annotations.string_list("aws-load-balancer-eip-allocations");
        settings.private_ipv4_addresses =
            reader.addresses("aws-load-balancer-private-ipv4-addresses", "IPv4");
        settings.ipv6_addresses = reader.addresses("aws-load-balancer-ipv6-addresses", "IPv6");
        settings.ipv6_source_nat = reader
            .one_of(
                "aws-load-balancer-enable-prefix-for-ipv6-source-nat",
                &["on", "off"],
            )
            .map(|value| value == "on");
        settings.source_nat_ipv6_prefixes =
            annotations.string_list("aws-load-balancer-source-nat-ipv6-prefixes");
        settings.certificates = annotations
            .string_list("aws-load-balancer-ssl-cert")
            .unwrap_or_default();
        settings.ssl_ports = annotations.string_list("aws-load-balancer-ssl-ports");
        settings.quic_ports = annotations
            .string_list("aws-load-balancer-quic-enabled-ports")
            .unwrap_or_default();
        settings.ssl_policy = annotations
            .string("aws-load-balancer-ssl-negotiation-policy")
            .map(str::to_string);
        settings.backend_tls =
            annotations.string("aws-load-balancer-backend-protocol") == Some("ssl");
        settings.alpn_policy = reader.one_of("aws-load-balancer-alpn-policy", ALPN_POLICIES);
        let listener_keys: Vec<String> = annotations
            .with_suffix_prefix("aws-load-balancer-listener-attributes.")
            .into_keys()
            .map(str::to_string)
            .collect();
        for protocol_port in listener_keys {
            let map = reader.string_map(&format!(
                "aws-load-balancer-listener-attributes.{protocol_port}"
            ));
            settings
                .listener_attributes
                .insert(protocol_port, map.unwrap_or_default());
        }
        // Upstream ignores an invalid boolean here and falls back to the feature gate.
        settings.tcp_udp_merge = annotations
            .boolean("aws-load-balancer-enable-tcp-udp-listener")
            .ok()
            .flatten();
        target_group_attributes(&mut reader, &mut settings);
        settings.target_node_labels = reader
            .string_map("aws-load-balancer-target-node-labels")
            .unwrap_or_default();
        settings.multi_cluster = reader
            .boolean("aws-load-balancer-multi-cluster-target-group")
            .unwrap_or(false);
        settings.health_check = health_check(&mut reader, config);
        settings.load_balancer_attributes = load_balancer_attributes(&mut reader);
        settings.additional_tags = reader
            .string_map("aws-load-balancer-additional-resource-tags")
            .unwrap_or_default();
        for key in settings.additional_tags.keys() {
            if config.external_managed_tags.contains(key) {
                let message = format!(
                    "tag key {key} is managed outside the controller (--external-managed-tags)"
                );
                reader.fail("aws-load-balancer-additional-resource-tags", message);
            }
        }
        settings.source_ranges = source_ranges(service, &mut reader);
        settings.security_groups = annotations.string_list("aws-load-balancer-security-groups");
        settings.manage_backend_rules =
            reader.boolean("aws-load-balancer-manage-backend-security-group-rules");
        settings.prefix_lists = annotations
            .string_list("aws-load-balancer-security-group-prefix-lists")
            .unwrap_or_default();
        settings.icmp_for_path_mtu = annotations
            .string("aws-load-balancer-enable-icmp-for-path-mtu-discovery")
            == Some("on");
        settings.disable_security_groups = reader
            .boolean("aws-load-balancer-disable-nlb-sg")
            .unwrap_or(false);
        if reader.problems.is_empty() {
            Ok(settings)
        } else {
            Err(reader.problems)
        }
    }
}
