//! What the model says of a target group's TargetGroupBinding: the Service port it fills the
//! group from and the networking its targets must admit. Written to Kubernetes, not AWS
//! (`controller::bindings` turns it into the CRD once the security groups have ids).

use super::{Protocol, SecurityGroupRef, TargetType};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Serialize;
use std::collections::BTreeMap;

/// What the TargetGroupBinding of a target group says (written to Kubernetes, not AWS).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetGroupBindingSpec {
    pub name: String,
    pub namespace: String,
    pub service_name: String,
    pub service_port: i32,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    pub multi_cluster: bool,
    /// The named target port of ip targets (resolved per pod); none when it is a number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_port_name: Option<String>,
    /// Rules the targets' security groups must admit (`spec.networking.ingress`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub networking: Vec<NetworkingRule>,
}

/// A source of traffic to the targets.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum NetworkingPeer {
    /// A security group of the load balancer (its id is known once applied).
    SecurityGroup(SecurityGroupRef),
    /// An IPv4 or IPv6 CIDR.
    Cidr(String),
}

/// A port (or all ports) the targets admit traffic on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum NetworkingPortNumber {
    Number(i32),
    /// A container port name, resolved per pod (ip targets only).
    Name(String),
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkingPort {
    /// TCP or UDP.
    pub protocol: Protocol,
    /// All ports when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<NetworkingPortNumber>,
}

/// Traffic from every peer on every port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkingRule {
    pub from: Vec<NetworkingPeer>,
    pub ports: Vec<NetworkingPort>,
}

impl TargetGroupBindingSpec {
    /// The name of a Service's target port when ip targets receive traffic on it (resolved per
    /// pod); none for a number, or for instance targets (they receive it on the node port).
    pub fn named_target_port(
        target_port: Option<&IntOrString>,
        target_type: TargetType,
    ) -> Option<String> {
        match (target_port, target_type) {
            (Some(IntOrString::String(name)), TargetType::Ip) => Some(name.clone()),
            _ => None,
        }
    }
}
