//! TargetGroupBinding (`elbv2.k8s.aws`): which target group a Service port's endpoints are
//! registered in. Field names, enums, printer columns and versions are upstream's.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BindingTargetType {
    Instance,
    Ip,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum BindingProtocol {
    #[serde(rename = "HTTP")]
    Http,
    #[serde(rename = "HTTPS")]
    Https,
    #[serde(rename = "TCP")]
    Tcp,
    #[serde(rename = "TLS")]
    Tls,
    #[serde(rename = "UDP")]
    Udp,
    #[serde(rename = "TCP_UDP")]
    TcpUdp,
    #[serde(rename = "QUIC")]
    Quic,
    #[serde(rename = "TCP_QUIC")]
    TcpQuic,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BindingIpAddressType {
    Ipv4,
    Ipv6,
}

/// The Service port whose endpoints become targets.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct ServiceReference {
    pub name: String,
    /// A Service port number or name.
    pub port: IntOrString,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct IpBlock {
    pub cidr: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct SecurityGroupPeer {
    #[serde(rename = "groupID")]
    pub group_id: String,
}

/// A traffic source: exactly one of an IP block or a security group.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkingPeer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_block: Option<IpBlock>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_group: Option<SecurityGroupPeer>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum NetworkingProtocol {
    #[serde(rename = "TCP")]
    Tcp,
    #[serde(rename = "UDP")]
    Udp,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct NetworkingPort {
    /// TCP when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<NetworkingProtocol>,
    /// A number, or a named port (ip targets only); all ports when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<IntOrString>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct NetworkingIngressRule {
    pub from: Vec<NetworkingPeer>,
    pub ports: Vec<NetworkingPort>,
}

/// Rules the controller keeps on the targets' security groups.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct TargetGroupBindingNetworking {
    #[serde(default)]
    pub ingress: Vec<NetworkingIngressRule>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetGroupBindingStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
}

/// Which target group to manage, and the Service port whose endpoints become its targets
/// (`v1beta1`, the storage version).
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "elbv2.k8s.aws",
    version = "v1beta1",
    kind = "TargetGroupBinding",
    plural = "targetgroupbindings",
    namespaced,
    status = "TargetGroupBindingStatus",
    printcolumn = r#"{"name":"SERVICE-NAME","type":"string","jsonPath":".spec.serviceRef.name","description":"The Kubernetes Service's name"}"#,
    printcolumn = r#"{"name":"SERVICE-PORT","type":"string","jsonPath":".spec.serviceRef.port","description":"The Kubernetes Service's port"}"#,
    printcolumn = r#"{"name":"TARGET-TYPE","type":"string","jsonPath":".spec.targetType","description":"The AWS TargetGroup's TargetType"}"#,
    printcolumn = r#"{"name":"ARN","type":"string","jsonPath":".spec.targetGroupARN","description":"The AWS TargetGroup's Amazon Resource Name","priority":1}"#,
    printcolumn = r#"{"name":"NAME","type":"string","jsonPath":".spec.targetGroupName","description":"The AWS TargetGroup's name","priority":2}"#,
    printcolumn = r#"{"name":"AGE","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct TargetGroupBindingSpec {
    /// The target group; immutable. Wins over `targetGroupName`.
    #[serde(
        rename = "targetGroupARN",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub target_group_arn: Option<String>,
    /// The target group by name, resolved to an ARN at admission.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_group_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_type: Option<BindingTargetType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_group_protocol: Option<BindingProtocol>,
    pub service_ref: ServiceReference,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub networking: Option<TargetGroupBindingNetworking>,
    /// Instance targets only: nodes must also match this selector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<LabelSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address_type: Option<BindingIpAddressType>,
    #[serde(rename = "vpcID", default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    /// Share the target group with other bindings or clusters (deregister only own targets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_cluster_target_group: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iam_role_arn_to_assume: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assume_role_external_id: Option<String>,
}

/// `v1alpha1`: still served, never stored; no node selector, IP address type, VPC or protocol.
pub mod v1alpha1 {
    use super::{
        BindingTargetType, ServiceReference, TargetGroupBindingNetworking, TargetGroupBindingStatus,
    };
    use kube::CustomResource;
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};

    /// Which target group to manage, and the Service port whose endpoints become its targets.
    #[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
    #[kube(
        group = "elbv2.k8s.aws",
        version = "v1alpha1",
        kind = "TargetGroupBinding",
        plural = "targetgroupbindings",
        namespaced,
        status = "TargetGroupBindingStatus",
        printcolumn = r#"{"name":"SERVICE-NAME","type":"string","jsonPath":".spec.serviceRef.name","description":"The Kubernetes Service's name"}"#,
        printcolumn = r#"{"name":"SERVICE-PORT","type":"string","jsonPath":".spec.serviceRef.port","description":"The Kubernetes Service's port"}"#,
        printcolumn = r#"{"name":"TARGET-TYPE","type":"string","jsonPath":".spec.targetType","description":"The AWS TargetGroup's TargetType"}"#,
        printcolumn = r#"{"name":"ARN","type":"string","jsonPath":".spec.targetGroupARN","description":"The AWS TargetGroup's Amazon Resource Name","priority":1}"#,
        printcolumn = r#"{"name":"AGE","type":"date","jsonPath":".metadata.creationTimestamp"}"#
    )]
    #[serde(rename_all = "camelCase")]
    pub struct TargetGroupBindingSpec {
        #[serde(rename = "targetGroupARN")]
        pub target_group_arn: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub target_type: Option<BindingTargetType>,
        pub service_ref: ServiceReference,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub networking: Option<TargetGroupBindingNetworking>,
    }
}
