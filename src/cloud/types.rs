//! What the [`super::Cloud`] port reads and writes, in our own types.

use super::{MutualAuthentication, RuleAction};
use crate::model::{
    HealthCheck, IngressRule, IpAddressType, LoadBalancerType, Protocol, Scheme, SubnetMapping,
    Tags, TargetType,
};

/// The kinds of ELBv2 resources found by tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaggedKind {
    LoadBalancer,
    TargetGroup,
}

/// A resource found by its tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaggedResource {
    pub arn: String,
    pub kind: TaggedKind,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedLoadBalancer {
    pub arn: String,
    pub name: String,
    pub load_balancer_type: LoadBalancerType,
    pub scheme: Scheme,
    pub ip_address_type: IpAddressType,
    pub subnet_mappings: Vec<SubnetMapping>,
    pub security_groups: Vec<String>,
    pub dns_name: String,
    /// `provisioning`, `active`, `failed`.
    pub state: String,
    /// The IPAM pool of its IPv4 addresses.
    pub ipv4_ipam_pool: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedListener {
    pub arn: String,
    pub load_balancer_arn: String,
    pub port: i32,
    pub protocol: Protocol,
    pub default_action: RuleAction,
    /// An authenticate action before the default action (as AWS reports it: no OIDC secret).
    pub default_authentication: Option<RuleAction>,
    pub certificates: Vec<String>,
    pub ssl_policy: Option<String>,
    pub alpn_policy: Option<String>,
    pub mutual_authentication: Option<MutualAuthentication>,
    /// Read only for listeners whose desired state names attributes (empty otherwise).
    pub attributes: std::collections::BTreeMap<String, String>,
}

/// A Shield Advanced protection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShieldProtection {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedTargetGroup {
    pub arn: String,
    pub name: String,
    pub target_type: TargetType,
    pub protocol: Protocol,
    /// `HTTP1`, `HTTP2`, `GRPC` for HTTP(S) target groups; `None` otherwise.
    pub protocol_version: Option<String>,
    pub port: i32,
    pub vpc_id: String,
    /// `ipv4` or `ipv6` (AWS's value; absent means `ipv4`).
    pub ip_address_type: String,
    pub health_check: HealthCheck,
    /// Load balancers whose listeners use it.
    pub load_balancer_arns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedSecurityGroup {
    pub id: String,
    pub name: String,
    pub description: String,
    /// The inbound rules from CIDRs and prefix lists (what a managed group of ours holds).
    pub ingress: Vec<IngressRule>,
    /// Every TCP and UDP inbound rule, one source each (CIDR or security group), with its
    /// description: what the target-rules step reads on node and pod groups.
    pub permissions: Vec<crate::target_rules::ObservedPermission>,
    pub tags: Tags,
}

/// A network interface (ENI): where a node's or pod's traffic arrives, and its security groups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkInterface {
    pub id: String,
    /// The instance it is attached to, and at which device index (0 = primary).
    pub instance_id: Option<String>,
    pub device_index: Option<i32>,
    pub private_ips: Vec<String>,
    pub ipv6_addresses: Vec<String>,
    /// Delegated prefixes (CIDRs) whose addresses pods may hold.
    pub ipv4_prefixes: Vec<String>,
    pub ipv6_prefixes: Vec<String>,
    pub security_groups: Vec<String>,
    pub vpc_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadBalancerInput {
    pub name: String,
    pub load_balancer_type: LoadBalancerType,
    pub scheme: Scheme,
    pub ip_address_type: IpAddressType,
    pub subnet_mappings: Vec<SubnetMapping>,
    /// `EnablePrefixForIpv6SourceNat`, when the spec sets it.
    pub ipv6_source_nat: Option<bool>,
    pub security_groups: Vec<String>,
    pub address_pools: crate::model::AddressPools,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetGroupInput {
    pub name: String,
    pub target_type: TargetType,
    pub protocol: Protocol,
    pub protocol_version: Option<String>,
    pub target_control_port: Option<i32>,
    pub port: i32,
    pub ip_address_type: String,
    pub vpc_id: String,
    pub health_check: HealthCheck,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerInput {
    pub load_balancer_arn: String,
    pub port: i32,
    pub protocol: Protocol,
    pub default_action: RuleAction,
    /// An authenticate action before the default action.
    pub default_authentication: Option<RuleAction>,
    pub certificates: Vec<String>,
    pub ssl_policy: Option<String>,
    pub alpn_policy: Option<String>,
    pub mutual_authentication: Option<MutualAuthentication>,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityGroupInput {
    pub name: String,
    pub description: String,
    pub vpc_id: String,
    pub tags: Tags,
}

/// A registered (or to-be-registered) target: an IP address or an instance id, with its port.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Target {
    pub id: String,
    pub port: i32,
}

/// ELBv2's target health states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TargetState {
    Initial,
    Healthy,
    Unhealthy,
    Unused,
    Draining,
    Unavailable,
}

impl TargetState {
    pub fn parse(text: &str) -> Self {
        match text {
            "initial" => Self::Initial,
            "healthy" => Self::Healthy,
            "unhealthy" => Self::Unhealthy,
            "unused" => Self::Unused,
            "draining" => Self::Draining,
            _ => Self::Unavailable,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetHealth {
    pub target: Target,
    pub state: TargetState,
    /// ELBv2's reason code (e.g. `Elb.InitialHealthChecking`); empty when healthy.
    pub reason: String,
    pub description: String,
}

impl TargetHealth {
    /// A health report with the reason and description AWS gives for `state`.
    pub fn new(target: Target, state: TargetState) -> Self {
        let (reason, description) = match state {
            TargetState::Initial => (
                "Elb.InitialHealthChecking",
                "Initial health checks in progress",
            ),
            TargetState::Healthy => ("", ""),
            TargetState::Unhealthy => ("Target.FailedHealthChecks", "Health checks failed"),
            TargetState::Unused => (
                "Target.NotRegistered",
                "Target is not registered to the target group",
            ),
            TargetState::Draining => (
                "Target.DeregistrationInProgress",
                "Target deregistration is in progress",
            ),
            TargetState::Unavailable => (
                "Elb.InternalError",
                "Health checks failed due to an internal error",
            ),
        };
        Self {
            target,
            state,
            reason: reason.to_string(),
            description: description.to_string(),
        }
    }
}

/// A DNS record ACM asks for to validate a certificate (`CNAME` name → value).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct ValidationRecord {
    pub name: String,
    pub record_type: String,
    pub value: String,
}

/// An ACM certificate this controller may have requested, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedCertificate {
    pub arn: String,
    pub tags: Tags,
    /// `PENDING_VALIDATION`, `ISSUED`, `FAILED`, `VALIDATION_TIMED_OUT`, …
    pub status: String,
    pub domain_name: String,
    pub subject_alternative_names: Vec<String>,
    pub certificate_authority_arn: Option<String>,
    pub requested_at: Option<std::time::SystemTime>,
    /// The DNS records that validate it (Amazon-issued certificates), once ACM gives them.
    pub validation_records: Vec<ValidationRecord>,
}

/// What `RequestCertificate` is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRequest {
    pub domain_name: String,
    pub subject_alternative_names: Vec<String>,
    pub certificate_authority_arn: Option<String>,
    pub tags: Tags,
}
