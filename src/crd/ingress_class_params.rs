//! IngressClassParams (`elbv2.k8s.aws/v1beta1`, cluster scoped): settings an IngressClass imposes
//! on every Ingress of the class, taking precedence over the Ingresses' annotations. Field names,
//! enums, validation and printer columns are upstream's.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ParamsScheme {
    #[serde(rename = "internal")]
    Internal,
    #[serde(rename = "internet-facing")]
    InternetFacing,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ParamsIpAddressType {
    #[serde(rename = "ipv4")]
    Ipv4,
    #[serde(rename = "dualstack")]
    Dualstack,
    #[serde(rename = "dualstack-without-public-ipv4")]
    DualstackWithoutPublicIpv4,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ParamsTargetType {
    Instance,
    Ip,
}

/// The explicit IngressGroup every Ingress of the class joins.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct ParamsGroup {
    pub name: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

fn subnet_ids_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "array",
        "minItems": 1,
        "items": {"type": "string", "pattern": "^subnet-[0-9a-f]+$"}
    })
}

/// Explicit subnets (`ids`) or tag filters (`tags`: every key present with one of its values).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct ParamsSubnets {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "subnet_ids_schema")]
    pub ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, Vec<String>>>,
}

/// Attributes for the listener of this protocol and port (never creates a listener).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParamsListener {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_attributes: Option<Vec<KeyValue>>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MinimumCapacity {
    pub capacity_units: i32,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct IpamConfiguration {
    #[serde(
        rename = "ipv4IPAMPoolId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub ipv4_ipam_pool_id: Option<String>,
}

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "elbv2.k8s.aws",
    version = "v1beta1",
    kind = "IngressClassParams",
    plural = "ingressclassparams",
    singular = "ingressclassparam",
    derive = "PartialEq",
    printcolumn = r#"{"name": "GROUP-NAME", "type": "string", "jsonPath": ".spec.group.name"}"#,
    printcolumn = r#"{"name": "SCHEME", "type": "string", "jsonPath": ".spec.scheme"}"#,
    printcolumn = r#"{"name": "IP-ADDRESS-TYPE", "type": "string", "jsonPath": ".spec.ipAddressType"}"#,
    printcolumn = r#"{"name": "AGE", "type": "date", "jsonPath": ".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct IngressClassParamsSpec {
    /// Only Ingresses in namespaces matching this selector may use the class (absent: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<ParamsGroup>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<ParamsScheme>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address_type: Option<ParamsIpAddressType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<KeyValue>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_redirect_port: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_arn: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnets: Option<ParamsSubnets>,
    #[serde(
        rename = "inboundCIDRs",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub inbound_cidrs: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_attributes: Option<Vec<KeyValue>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listeners: Option<Vec<ParamsListener>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_type: Option<ParamsTargetType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_load_balancer_capacity: Option<MinimumCapacity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipam_configuration: Option<IpamConfiguration>,
    #[serde(
        rename = "prefixListsIDs",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub prefix_lists_ids: Option<Vec<String>>,
    /// The legacy spelling; used only when `prefixListsIDs` is empty.
    #[serde(
        rename = "PrefixListsIDs",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub legacy_prefix_lists_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wafv2_acl_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wafv2_acl_name: Option<String>,
}

impl IngressClassParamsSpec {
    /// The prefix lists in effect: `prefixListsIDs`, else the legacy `PrefixListsIDs`.
    pub fn prefix_lists(&self) -> Option<&Vec<String>> {
        self.prefix_lists_ids
            .as_ref()
            .filter(|ids| !ids.is_empty())
            .or(self.legacy_prefix_lists_ids.as_ref())
    }
}
