//! The desired state of one stack (one Service, or one Ingress group): the load balancer, its
//! listeners, target groups and managed security group, each under a stable resource id — the
//! value of the `…/resource` tag that identifies it in AWS.
//!
//! Plain values only: they are built by the pure `build` step, compared by `plan`, printed by the
//! dry run and stored in golden files. An empty stack (no load balancer) means "nothing should
//! exist". Nothing here reads Kubernetes or AWS.

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

mod binding;
pub mod identity;
pub mod rule_types;
pub use binding::{
    NetworkingPeer, NetworkingPort, NetworkingPortNumber, NetworkingRule, TargetGroupBindingSpec,
};
pub use rule_types::*;

pub type Tags = BTreeMap<String, String>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scheme {
    Internal,
    InternetFacing,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Internal => "internal",
            Self::InternetFacing => "internet-facing",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "internal" => Some(Self::Internal),
            "internet-facing" => Some(Self::InternetFacing),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetType {
    Instance,
    Ip,
    /// An Application Load Balancer behind a Network Load Balancer (the frontend NLB).
    Alb,
}

impl TargetType {
    /// A target type a user may ask for: `instance` or `ip`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "instance" => Some(Self::Instance),
            "ip" => Some(Self::Ip),
            _ => None,
        }
    }

    /// A target type as AWS reports it (also `alb`).
    pub fn from_aws(text: &str) -> Option<Self> {
        match text {
            "alb" => Some(Self::Alb),
            other => Self::parse(other),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Instance => "instance",
            Self::Ip => "ip",
            Self::Alb => "alb",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IpAddressType {
    Ipv4,
    Dualstack,
    DualstackWithoutPublicIpv4,
}

impl IpAddressType {
    /// Unknown values read as `ipv4`, the ELBv2 default.
    pub fn parse_or_ipv4(text: &str) -> Self {
        match text {
            "dualstack" => Self::Dualstack,
            "dualstack-without-public-ipv4" => Self::DualstackWithoutPublicIpv4,
            _ => Self::Ipv4,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ipv4 => "ipv4",
            Self::Dualstack => "dualstack",
            Self::DualstackWithoutPublicIpv4 => "dualstack-without-public-ipv4",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LoadBalancerType {
    Network,
    Application,
}

impl LoadBalancerType {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "network" => Some(Self::Network),
            "application" => Some(Self::Application),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Network => "network",
            Self::Application => "application",
        }
    }
}

/// Listener and target-group protocols, spelled as the ELBv2 API spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Protocol {
    #[serde(rename = "TCP")]
    Tcp,
    #[serde(rename = "UDP")]
    Udp,
    #[serde(rename = "TCP_UDP")]
    TcpUdp,
    #[serde(rename = "TLS")]
    Tls,
    #[serde(rename = "QUIC")]
    Quic,
    #[serde(rename = "TCP_QUIC")]
    TcpQuic,
    #[serde(rename = "HTTP")]
    Http,
    #[serde(rename = "HTTPS")]
    Https,
}

impl Protocol {
    /// Unknown values read as `TCP`.
    pub fn parse_or_tcp(text: &str) -> Self {
        match text {
            "UDP" => Self::Udp,
            "TCP_UDP" => Self::TcpUdp,
            "TLS" => Self::Tls,
            "QUIC" => Self::Quic,
            "TCP_QUIC" => Self::TcpQuic,
            "HTTP" => Self::Http,
            "HTTPS" => Self::Https,
            _ => Self::Tcp,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tcp => "TCP",
            Self::Udp => "UDP",
            Self::TcpUdp => "TCP_UDP",
            Self::Tls => "TLS",
            Self::Quic => "QUIC",
            Self::TcpQuic => "TCP_QUIC",
            Self::Http => "HTTP",
            Self::Https => "HTTPS",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// One subnet of a load balancer, with the static addresses mapped to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubnetMapping {
    pub subnet_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allocation_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_ipv4_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv6_address: Option<String>,
    /// The /80 (or `auto_assigned`) this subnet translates IPv6 sources into (NLB source NAT).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_nat_ipv6_prefix: Option<String>,
}

/// A security group attached to the load balancer.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind", content = "value")]
pub enum SecurityGroupRef {
    /// The stack's managed security group.
    Managed,
    /// The cluster's shared backend security group.
    Backend,
    /// A security group given by id.
    Id(String),
}

/// Address pools a load balancer takes its addresses from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AddressPools {
    /// A customer-owned IPv4 pool (Outposts); used only when the load balancer is created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_owned_ipv4: Option<String>,
    /// An IPAM pool for the load balancer's IPv4 addresses.
    #[serde(rename = "ipv4IpamPoolId", skip_serializing_if = "Option::is_none")]
    pub ipv4_ipam: Option<String>,
}

impl AddressPools {
    pub fn is_empty(&self) -> bool {
        self.customer_owned_ipv4.is_none() && self.ipv4_ipam.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub load_balancer_type: LoadBalancerType,
    pub scheme: Scheme,
    pub ip_address_type: IpAddressType,
    pub subnet_mappings: Vec<SubnetMapping>,
    /// NLB `EnablePrefixForIpv6SourceNat` (`on`/`off`), sent on create and with new subnets.
    #[serde(
        rename = "enablePrefixForIpv6SourceNat",
        skip_serializing_if = "Option::is_none"
    )]
    pub ipv6_source_nat: Option<bool>,
    pub security_groups: Vec<SecurityGroupRef>,
    pub attributes: BTreeMap<String, String>,
    /// The WAFv2 web ACL: an ARN, `none` to disassociate any, or unset to leave AWS as it is.
    #[serde(rename = "wafv2AclArn", skip_serializing_if = "Option::is_none")]
    pub wafv2_acl: Option<String>,
    #[serde(skip_serializing_if = "AddressPools::is_empty")]
    pub address_pools: AddressPools,
    /// The WAF Classic (regional) web ACL id, `none`, or unset to leave AWS as it is.
    #[serde(rename = "wafAclId", skip_serializing_if = "Option::is_none")]
    pub waf_classic_acl: Option<String>,
    /// Shield Advanced protection: wanted, removed (ours only), or unset to leave it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shield_advanced_protection: Option<bool>,
    /// Minimum capacity units to reserve (`0` resets), or unset to leave the reservation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum_capacity_units: Option<i32>,
    pub tags: Tags,
}

/// `LoadBalancerSpec::wafv2_acl` meaning "no web ACL".
pub const NO_WEB_ACL: &str = "none";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WeightedTargetGroup {
    /// Resource id of a target group of this stack, or an ARN given by the user.
    pub target_group: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
}

/// What a listener (by default) or a rule does with a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum ListenerAction {
    /// Forward to target groups (one without a weight is a plain forward).
    #[serde(rename = "forward", rename_all = "camelCase")]
    Forward {
        target_groups: Vec<WeightedTargetGroup>,
        /// Target-group stickiness duration in seconds, when enabled.
        #[serde(skip_serializing_if = "Option::is_none")]
        stickiness_seconds: Option<i32>,
    },
    #[serde(rename = "redirect")]
    Redirect(RedirectConfig),
    #[serde(rename = "fixed-response")]
    FixedResponse(FixedResponseConfig),
    #[serde(rename = "authenticate-oidc")]
    AuthenticateOidc(OidcConfig),
    #[serde(rename = "authenticate-cognito")]
    AuthenticateCognito(CognitoConfig),
    #[serde(rename = "jwt-validation")]
    JwtValidation(JwtValidationConfig),
}

impl ListenerAction {
    /// A plain forward to one target group of the stack.
    pub fn forward_to(target_group: &str) -> Self {
        ListenerAction::Forward {
            target_groups: vec![WeightedTargetGroup {
                target_group: target_group.to_string(),
                weight: None,
            }],
            stickiness_seconds: None,
        }
    }

    /// The target groups (resource ids or ARNs) it forwards to.
    pub fn target_groups(&self) -> Vec<&str> {
        match self {
            ListenerAction::Forward { target_groups, .. } => target_groups
                .iter()
                .map(|t| t.target_group.as_str())
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The action AWS is given, target groups resolved by `arn_of` (a resource id of the stack,
    /// or an ARN given by the user, to an ARN); `None` when one is not known yet.
    pub fn resolve(&self, arn_of: impl Fn(&str) -> Option<String>) -> Option<RuleAction> {
        Some(match self {
            ListenerAction::Forward {
                target_groups,
                stickiness_seconds,
            } => RuleAction::Forward {
                target_groups: target_groups
                    .iter()
                    .map(|t| arn_of(&t.target_group).map(|arn| (arn, t.weight)))
                    .collect::<Option<Vec<_>>>()?,
                stickiness_seconds: *stickiness_seconds,
            },
            ListenerAction::Redirect(config) => RuleAction::Redirect(config.clone()),
            ListenerAction::FixedResponse(config) => RuleAction::FixedResponse(config.clone()),
            ListenerAction::AuthenticateOidc(config) => {
                RuleAction::AuthenticateOidc(config.clone())
            }
            ListenerAction::AuthenticateCognito(config) => {
                RuleAction::AuthenticateCognito(config.clone())
            }
            ListenerAction::JwtValidation(config) => RuleAction::JwtValidation(config.clone()),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListenerSpec {
    pub port: i32,
    pub protocol: Protocol,
    pub default_action: ListenerAction,
    /// An authenticate action before the default action (HTTPS listeners).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_authentication: Option<ListenerAction>,
    /// The first is the default certificate; all are listener certificates.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssl_policy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpn_policy: Option<String>,
    /// Mutual TLS (HTTPS); unset leaves AWS as it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mutual_authentication: Option<MutualAuthentication>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheck {
    pub protocol: Protocol,
    /// `traffic-port` or a port number.
    pub port: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub interval_seconds: i32,
    pub timeout_seconds: i32,
    pub healthy_threshold: i32,
    pub unhealthy_threshold: i32,
    /// HTTP status codes (`200`, `200-299`) the check accepts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success_codes: Option<String>,
    /// gRPC status codes (`12`, `0-99`) the check accepts, for gRPC target groups instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grpc_success_codes: Option<String>,
}

impl HealthCheck {
    /// An NLB target group's default check: TCP on the traffic port every 10 s, 10 s timeout,
    /// 3 healthy / 3 unhealthy.
    pub fn nlb_default() -> Self {
        Self {
            protocol: Protocol::Tcp,
            port: "traffic-port".into(),
            path: None,
            interval_seconds: 10,
            timeout_seconds: 10,
            healthy_threshold: 3,
            unhealthy_threshold: 3,
            success_codes: None,
            grpc_success_codes: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetGroupSpec {
    pub name: String,
    pub target_type: TargetType,
    pub protocol: Protocol,
    /// `HTTP1`, `HTTP2` or `GRPC` (ALB target groups only; fixed at creation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<String>,
    /// The port the targets' control agent listens on (ip targets only; fixed at creation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_control_port: Option<i32>,
    pub port: i32,
    pub ip_address_type: String,
    pub vpc_id: String,
    pub health_check: HealthCheck,
    pub attributes: BTreeMap<String, String>,
    pub tags: Tags,
    /// The TargetGroupBinding that fills it with Kubernetes targets (none for `alb` targets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binding: Option<TargetGroupBindingSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressRule {
    /// `tcp`, `udp`, `icmp`, `icmpv6`.
    pub protocol: String,
    pub from_port: i32,
    pub to_port: i32,
    /// An IPv4 or IPv6 CIDR, or a prefix list id.
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityGroupSpec {
    pub name: String,
    pub description: String,
    pub ingress: Vec<IngressRule>,
    pub tags: Tags,
}

/// A listener rule (ALB): on the listener of `port`, at `priority`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleSpec {
    pub port: i32,
    pub priority: i32,
    pub conditions: Vec<RuleCondition>,
    pub actions: Vec<ListenerAction>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub transforms: Vec<RuleTransform>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: Tags,
}

/// What the build needs to know about the load balancer AWS already holds for a stack: upstream
/// keeps its scheme when none is annotated, and its subnets when none are given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingLoadBalancer {
    pub scheme: Scheme,
    pub subnet_ids: Vec<String>,
    /// Whether it has security groups: an NLB created without keeps none for life.
    pub has_security_groups: bool,
}

/// Everything one owner (Service or Ingress group) wants to exist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stack {
    /// `namespace/name` for a Service, the group name for an Ingress group.
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<LoadBalancerSpec>,
    /// By resource id (the port for NLB listeners).
    pub listeners: BTreeMap<String, ListenerSpec>,
    /// By resource id (`namespace/service:port`).
    pub target_groups: BTreeMap<String, TargetGroupSpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_group: Option<SecurityGroupSpec>,
    /// Listener rules by resource id (`port:priority`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub rules: BTreeMap<String, RuleSpec>,
    /// A Network Load Balancer in front of the stack's ALB (Ingress groups only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frontend_nlb: Option<Box<FrontendNlb>>,
    /// ACM certificates the controller requests, by resource id (`create-acm-cert`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub certificates: BTreeMap<String, CertificateSpec>,
}

/// An ACM certificate the controller requests for an Ingress's hosts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateSpec {
    pub domain_name: String,
    /// Every host, the domain name included.
    pub subject_alternative_names: Vec<String>,
    /// A private CA (a `PRIVATE` certificate); none: `AMAZON_ISSUED`, validated by DNS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_authority_arn: Option<String>,
    pub tags: Tags,
}

/// The resource id of a frontend NLB.
pub const FRONTEND_NLB_ID: &str = "FrontendNlb";

/// A Network Load Balancer whose target groups hold the stack's ALB: its own load balancer,
/// TCP listeners and `alb` target groups, under ids starting with [`FRONTEND_NLB_ID`]. It is
/// planned and applied as a stack of its own, after the ALB exists and before it is deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FrontendNlb {
    pub load_balancer: LoadBalancerSpec,
    /// By resource id (`FrontendNlb-ls-TCP-<port>`).
    pub listeners: BTreeMap<String, ListenerSpec>,
    /// By resource id (`FrontendNlb-tg-TCP-<port>`).
    pub target_groups: BTreeMap<String, TargetGroupSpec>,
    /// The ALB port registered in each target group, by target group resource id.
    pub alb_ports: BTreeMap<String, i32>,
}

impl FrontendNlb {
    /// The frontend as a stack that plan and apply understand (its security groups may still
    /// name the ALB's managed and backend groups).
    pub fn as_stack(&self, stack_id: &str) -> Stack {
        Stack {
            load_balancer: Some(self.load_balancer.clone()),
            listeners: self.listeners.clone(),
            target_groups: self.target_groups.clone(),
            ..Stack::empty(stack_id)
        }
    }

    /// Whether `resource_id` names a resource of a frontend NLB.
    pub fn owns(resource_id: &str) -> bool {
        resource_id.starts_with(FRONTEND_NLB_ID)
    }
}

impl Stack {
    /// The stack that deletes everything of `id`.
    pub fn empty(id: &str) -> Self {
        Self {
            id: id.to_string(),
            load_balancer: None,
            listeners: BTreeMap::new(),
            target_groups: BTreeMap::new(),
            security_group: None,
            rules: BTreeMap::new(),
            frontend_nlb: None,
            certificates: BTreeMap::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.load_balancer.is_none()
            && self.listeners.is_empty()
            && self.target_groups.is_empty()
            && self.security_group.is_none()
            && self.rules.is_empty()
            && self.frontend_nlb.is_none()
            && self.certificates.is_empty()
    }
}
