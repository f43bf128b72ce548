//! What the pure steps know about the AWS account: subnets, route tables, security groups and
//! availability zones of the cluster's VPC.
//!
//! The discover step fills this from the EC2 API; the offline `plan` command reads it from a file
//! holding the AWS API's own JSON output (`aws ec2 describe-subnets`, `describe-route-tables`,
//! `describe-security-groups`, `describe-availability-zones`), one document or several merged.
//! Nothing here calls AWS.

use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AwsTag {
    pub key: String,
    #[serde(default)]
    pub value: String,
}

fn tag_map(tags: &[AwsTag]) -> BTreeMap<String, String> {
    tags.iter()
        .map(|tag| (tag.key.clone(), tag.value.clone()))
        .collect()
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Ipv6CidrAssociation {
    #[serde(default)]
    pub ipv6_cidr_block: String,
    #[serde(default)]
    pub ipv6_cidr_block_state: Option<CidrState>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CidrState {
    #[serde(default)]
    pub state: String,
}

/// One subnet, as `DescribeSubnets` returns it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Subnet {
    pub subnet_id: String,
    #[serde(default)]
    pub vpc_id: String,
    #[serde(default)]
    pub availability_zone: String,
    #[serde(default)]
    pub availability_zone_id: String,
    #[serde(default)]
    pub available_ip_address_count: i64,
    #[serde(default)]
    pub cidr_block: String,
    #[serde(default)]
    pub ipv6_cidr_block_association_set: Vec<Ipv6CidrAssociation>,
    #[serde(default)]
    pub outpost_arn: Option<String>,
    #[serde(default)]
    pub tags: Vec<AwsTag>,
}

impl Subnet {
    pub fn tags(&self) -> BTreeMap<String, String> {
        tag_map(&self.tags)
    }

    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|tag| tag.key == key)
            .map(|tag| tag.value.as_str())
    }

    /// IPv6 CIDRs in state `associated`.
    pub fn ipv6_cidrs(&self) -> Vec<&str> {
        self.ipv6_cidr_block_association_set
            .iter()
            .filter(|association| {
                association
                    .ipv6_cidr_block_state
                    .as_ref()
                    .is_some_and(|s| s.state == "associated")
            })
            .map(|association| association.ipv6_cidr_block.as_str())
            .collect()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RouteTableAssociation {
    #[serde(default)]
    pub main: bool,
    #[serde(default)]
    pub subnet_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Route {
    #[serde(default)]
    pub gateway_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RouteTable {
    #[serde(default)]
    pub route_table_id: String,
    #[serde(default)]
    pub vpc_id: String,
    #[serde(default)]
    pub associations: Vec<RouteTableAssociation>,
    #[serde(default)]
    pub routes: Vec<Route>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct CidrIpv4 {
    #[serde(rename = "CidrIp", default)]
    pub cidr: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct CidrIpv6 {
    #[serde(rename = "CidrIpv6", default)]
    pub cidr: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct PrefixList {
    #[serde(rename = "PrefixListId", default)]
    pub id: String,
}

/// One inbound permission of a security group, as `DescribeSecurityGroups` returns it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IpPermission {
    #[serde(default)]
    pub ip_protocol: String,
    #[serde(default)]
    pub from_port: i32,
    #[serde(default)]
    pub to_port: i32,
    #[serde(default)]
    pub ip_ranges: Vec<CidrIpv4>,
    #[serde(default)]
    pub ipv6_ranges: Vec<CidrIpv6>,
    #[serde(default)]
    pub prefix_list_ids: Vec<PrefixList>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecurityGroup {
    pub group_id: String,
    #[serde(default)]
    pub group_name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub ip_permissions: Vec<IpPermission>,
    #[serde(default)]
    pub vpc_id: String,
    #[serde(default)]
    pub tags: Vec<AwsTag>,
}

impl SecurityGroup {
    pub fn tags(&self) -> BTreeMap<String, String> {
        tag_map(&self.tags)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AvailabilityZone {
    #[serde(default)]
    pub zone_name: String,
    #[serde(default)]
    pub zone_id: String,
    /// `availability-zone`, `local-zone` or `wavelength-zone`.
    #[serde(default)]
    pub zone_type: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyValue {
    pub key: String,
    #[serde(default)]
    pub value: String,
}

/// An ELBv2 resource's tags, as `DescribeTags` returns them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagDescription {
    pub resource_arn: String,
    #[serde(default)]
    pub tags: Vec<AwsTag>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct LoadBalancerAddress {
    #[serde(rename = "AllocationId", default)]
    pub allocation_id: Option<String>,
    #[serde(rename = "PrivateIPv4Address", default)]
    pub private_ipv4_address: Option<String>,
    #[serde(rename = "IPv6Address", default)]
    pub ipv6_address: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoadBalancerZone {
    #[serde(default)]
    pub subnet_id: String,
    #[serde(default)]
    pub load_balancer_addresses: Vec<LoadBalancerAddress>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StateCode {
    #[serde(default)]
    pub code: String,
}

/// One load balancer, as `DescribeLoadBalancers` returns it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoadBalancer {
    pub load_balancer_arn: String,
    #[serde(default)]
    pub load_balancer_name: String,
    #[serde(default, rename = "Type")]
    pub load_balancer_type: String,
    #[serde(default)]
    pub scheme: String,
    #[serde(default)]
    pub ip_address_type: String,
    #[serde(default)]
    pub availability_zones: Vec<LoadBalancerZone>,
    #[serde(default)]
    pub security_groups: Vec<String>,
    #[serde(default, rename = "DNSName")]
    pub dns_name: String,
    #[serde(default)]
    pub state: Option<StateCode>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Matcher {
    #[serde(default)]
    pub http_code: Option<String>,
    #[serde(default)]
    pub grpc_code: Option<String>,
}

/// One target group, as `DescribeTargetGroups` returns it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TargetGroup {
    pub target_group_arn: String,
    #[serde(default)]
    pub target_group_name: String,
    #[serde(default)]
    pub protocol: String,
    #[serde(default)]
    pub protocol_version: Option<String>,
    #[serde(default)]
    pub port: i32,
    #[serde(default)]
    pub vpc_id: String,
    #[serde(default)]
    pub target_type: String,
    /// `ipv4` or `ipv6`; absent means `ipv4`.
    #[serde(default)]
    pub ip_address_type: Option<String>,
    #[serde(default)]
    pub health_check_protocol: String,
    #[serde(default)]
    pub health_check_port: String,
    #[serde(default)]
    pub health_check_path: Option<String>,
    #[serde(default)]
    pub health_check_interval_seconds: i32,
    #[serde(default)]
    pub health_check_timeout_seconds: i32,
    #[serde(default)]
    pub healthy_threshold_count: i32,
    #[serde(default)]
    pub unhealthy_threshold_count: i32,
    #[serde(default)]
    pub matcher: Option<Matcher>,
    #[serde(default)]
    pub load_balancer_arns: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TargetGroupTuple {
    pub target_group_arn: String,
    #[serde(default)]
    pub weight: Option<i32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ForwardConfig {
    #[serde(default)]
    pub target_groups: Vec<TargetGroupTuple>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Action {
    #[serde(default)]
    pub target_group_arn: Option<String>,
    #[serde(default)]
    pub forward_config: Option<ForwardConfig>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Certificate {
    #[serde(default)]
    pub certificate_arn: String,
}

/// One listener, as `DescribeListeners` returns it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Listener {
    pub listener_arn: String,
    #[serde(default)]
    pub load_balancer_arn: String,
    #[serde(default)]
    pub port: i32,
    #[serde(default)]
    pub protocol: String,
    #[serde(default)]
    pub default_actions: Vec<Action>,
    #[serde(default)]
    pub certificates: Vec<Certificate>,
    #[serde(default)]
    pub ssl_policy: Option<String>,
    #[serde(default)]
    pub alpn_policy: Vec<String>,
}

/// One ACM certificate, as `ListCertificates` summarises it (`aws acm list-certificates`): the
/// discover step completes `SubjectAlternativeNameSummaries` with `DescribeCertificate` when the
/// summary's list is cut short.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CertificateSummary {
    pub certificate_arn: String,
    #[serde(default)]
    pub domain_name: String,
    #[serde(default)]
    pub subject_alternative_name_summaries: Vec<String>,
    #[serde(default)]
    pub has_additional_subject_alternative_names: bool,
    /// `ISSUED`, `PENDING_VALIDATION`, …; only issued ones are candidates.
    #[serde(default)]
    pub status: String,
    /// The private CA that issued it (from `DescribeCertificate`; read only when
    /// `--allowed-certificate-authority-arns` is set).
    #[serde(default)]
    pub certificate_authority_arn: Option<String>,
}

impl CertificateSummary {
    /// The names the certificate covers: its alternative names, else its domain name.
    pub fn domains(&self) -> Vec<&str> {
        if self.subject_alternative_name_summaries.is_empty() {
            vec![self.domain_name.as_str()]
        } else {
            self.subject_alternative_name_summaries
                .iter()
                .map(String::as_str)
                .collect()
        }
    }
}

/// One regional WAFv2 web ACL, as `aws wafv2 list-web-acls --scope REGIONAL` lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct WebAcl {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "ARN")]
    pub arn: String,
}

/// One ELBv2 trust store, as `aws elbv2 describe-trust-stores` lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TrustStore {
    pub name: String,
    pub trust_store_arn: String,
}

/// A certificate this controller requested, as the build needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnedCertificate {
    pub resource_id: String,
    pub arn: String,
    pub issued: bool,
    /// Why it cannot be validated (its records could not be written), when known.
    pub problem: Option<String>,
}

/// The AWS facts the pure steps read, in the AWS API's own JSON shapes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CloudFacts {
    #[serde(default)]
    pub subnets: Vec<Subnet>,
    #[serde(default)]
    pub route_tables: Vec<RouteTable>,
    #[serde(default)]
    pub security_groups: Vec<SecurityGroup>,
    #[serde(default)]
    pub availability_zones: Vec<AvailabilityZone>,
    /// Existing load balancers (`describe-load-balancers`), for a plan of changes.
    #[serde(default)]
    pub load_balancers: Vec<LoadBalancer>,
    #[serde(default)]
    pub target_groups: Vec<TargetGroup>,
    #[serde(default)]
    pub listeners: Vec<Listener>,
    #[serde(default)]
    pub tag_descriptions: Vec<TagDescription>,
    /// Attributes by load balancer ARN (the `Attributes` of `describe-load-balancer-attributes`).
    #[serde(default)]
    pub load_balancer_attributes: BTreeMap<String, Vec<KeyValue>>,
    /// Attributes by target group ARN (the `Attributes` of `describe-target-group-attributes`).
    #[serde(default)]
    pub target_group_attributes: BTreeMap<String, Vec<KeyValue>>,
    /// ACM certificates (`aws acm list-certificates`), for certificate discovery by host.
    #[serde(default)]
    pub certificate_summary_list: Vec<CertificateSummary>,
    /// The certificates this controller requested for the stack being built (read with the
    /// stack, not from files): by resource id, the ARN and whether it is issued.
    #[serde(skip)]
    pub owned_certificates: Vec<OwnedCertificate>,
    /// Regional WAFv2 web ACLs, for `wafv2-acl-name`.
    #[serde(rename = "WebACLs", default)]
    pub web_acls: Vec<WebAcl>,
    /// Trust stores (`describe-trust-stores`), for `mutual-authentication` by name.
    #[serde(default)]
    pub trust_stores: Vec<TrustStore>,
}

impl CloudFacts {
    /// Reads one or more AWS CLI outputs (JSON, or YAML with several documents) and merges them.
    pub fn from_documents(text: &str) -> Result<Self, String> {
        let mut facts = CloudFacts::default();
        for document in serde_yaml::Deserializer::from_str(text) {
            let value = serde_yaml::Value::deserialize(document)
                .map_err(|error| format!("unreadable AWS facts: {error}"))?;
            if value.is_null() {
                continue;
            }
            let part: CloudFacts = serde_yaml::from_value(value)
                .map_err(|error| format!("AWS facts are not in the AWS API's shape: {error}"))?;
            facts.subnets.extend(part.subnets);
            facts.route_tables.extend(part.route_tables);
            facts.security_groups.extend(part.security_groups);
            facts.availability_zones.extend(part.availability_zones);
            facts.load_balancers.extend(part.load_balancers);
            facts.target_groups.extend(part.target_groups);
            facts.listeners.extend(part.listeners);
            facts.tag_descriptions.extend(part.tag_descriptions);
            facts
                .load_balancer_attributes
                .extend(part.load_balancer_attributes);
            facts
                .target_group_attributes
                .extend(part.target_group_attributes);
            facts
                .certificate_summary_list
                .extend(part.certificate_summary_list);
            facts.web_acls.extend(part.web_acls);
            facts.trust_stores.extend(part.trust_stores);
        }
        Ok(facts)
    }

    /// The locale of a subnet: `outpost`, or its zone's type (`availability-zone` when unknown).
    pub fn locale_of(&self, subnet: &Subnet) -> String {
        if subnet
            .outpost_arn
            .as_deref()
            .is_some_and(|arn| !arn.is_empty())
        {
            return "outpost".to_string();
        }
        self.availability_zones
            .iter()
            .find(|zone| {
                zone.zone_name == subnet.availability_zone
                    || (!zone.zone_id.is_empty() && zone.zone_id == subnet.availability_zone_id)
            })
            .map(|zone| zone.zone_type.clone())
            .filter(|zone_type| !zone_type.is_empty())
            .unwrap_or_else(|| "availability-zone".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_merges_aws_cli_output() {
        let text = r#"
{"Subnets": [{"SubnetId": "subnet-1", "VpcId": "vpc-1", "AvailabilityZone": "us-west-2a",
  "AvailableIpAddressCount": 250, "CidrBlock": "10.0.0.0/24",
  "Ipv6CidrBlockAssociationSet": [{"Ipv6CidrBlock": "2600::/64", "Ipv6CidrBlockState": {"State": "associated"}}],
  "Tags": [{"Key": "kubernetes.io/role/elb", "Value": "1"}]}]}
---
SecurityGroups:
  - GroupId: sg-1
    GroupName: web
"#;
        let facts = CloudFacts::from_documents(text).unwrap();
        assert_eq!(facts.subnets[0].tag("kubernetes.io/role/elb"), Some("1"));
        assert_eq!(facts.subnets[0].ipv6_cidrs(), ["2600::/64"]);
        assert_eq!(facts.security_groups[0].group_name, "web");
        assert_eq!(facts.locale_of(&facts.subnets[0]), "availability-zone");
        assert!(CloudFacts::from_documents("{\"Subnets\": 3}").is_err());
    }
}
