//! The AWS port, in our own types, whose methods map one-to-one onto AWS API calls so that call
//! counts mean what AWS would bill and throttle. One part per AWS service ([`LoadBalancing`],
//! [`Ec2`], [`ResourceTagging`], [`CertificateManager`], [`Dns`], [`WebAcls`],
//! [`ShieldAdvanced`]); [`Cloud`] is all of them, and is what the steps take. Implemented by the
//! SDK (`sdk`) and by the in-memory simulator (`simulator`, built for tests and with the
//! `simulator` feature only; it enforces the AWS rules our ordering depends on). Errors are
//! classified once into [`ErrorKind`] so callers decide retries by kind.
//!
//! Every create carries its tags, so a crash between "create" and "tag" cannot leave an orphan.

pub mod call_log;
pub mod sdk;
#[cfg(any(test, feature = "simulator"))]
pub mod simulator;
pub mod throttle;
mod types;

pub use crate::model::rule_types::*;
pub use call_log::{Call, CallLog};
pub use types::*;

use crate::model::Tags;
use std::collections::BTreeMap;
use std::future::Future;

/// What kind of failure an AWS call had; retries and requeues are decided on this alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub enum ErrorKind {
    NotFound,
    /// The resource is used by another (a target group by a listener, a group by an ENI).
    InUse,
    /// A name or priority is taken, or the resource changed under us.
    Conflict,
    Throttled,
    /// A quota is full (e.g. the inbound rules of one security group).
    QuotaExceeded,
    /// AWS refused the input (including operations not permitted, e.g. deletion protection).
    Invalid,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation}: {kind:?}: {message}")]
pub struct CloudError {
    pub kind: ErrorKind,
    pub operation: String,
    pub message: String,
}

impl CloudError {
    pub fn new(kind: ErrorKind, operation: &str, message: impl Into<String>) -> Self {
        Self {
            kind,
            operation: operation.to_string(),
            message: message.into(),
        }
    }
}

pub type CloudResult<T> = Result<T, CloudError>;

/// The port's part for Elastic Load Balancing v2: load balancers, listeners, rules, target groups,
/// targets, trust stores, capacity reservations, their attributes and tags.
pub trait LoadBalancing: Send + Sync {
    fn describe_load_balancers(
        &self,
        arns: &[String],
    ) -> impl Future<Output = CloudResult<Vec<ObservedLoadBalancer>>> + Send;
    fn describe_load_balancer_attributes(
        &self,
        arn: &str,
    ) -> impl Future<Output = CloudResult<BTreeMap<String, String>>> + Send;
    fn describe_listeners(
        &self,
        load_balancer_arn: &str,
    ) -> impl Future<Output = CloudResult<Vec<ObservedListener>>> + Send;
    fn describe_target_groups(
        &self,
        arns: &[String],
    ) -> impl Future<Output = CloudResult<Vec<ObservedTargetGroup>>> + Send;
    fn describe_target_group_attributes(
        &self,
        arn: &str,
    ) -> impl Future<Output = CloudResult<BTreeMap<String, String>>> + Send;
    /// Tags of load balancers, listeners and target groups, by ARN.
    fn describe_tags(
        &self,
        arns: &[String],
    ) -> impl Future<Output = CloudResult<BTreeMap<String, Tags>>> + Send;
    /// The target group named `name`, if one exists (`DescribeTargetGroups` by name).
    fn find_target_group_by_name(
        &self,
        name: &str,
    ) -> impl Future<Output = CloudResult<Option<crate::facts::TargetGroup>>> + Send;
    /// The trust store named `name`, if one exists (`DescribeTrustStores` by name).
    fn find_trust_store(
        &self,
        name: &str,
    ) -> impl Future<Output = CloudResult<Option<crate::facts::TrustStore>>> + Send;
    /// The minimum capacity units reserved for a load balancer (`DescribeCapacityReservation`).
    fn describe_capacity_reservation(
        &self,
        arn: &str,
    ) -> impl Future<Output = CloudResult<Option<i32>>> + Send;
    // Writes.

    /// Sets (or, with `None`, removes) the IPAM pool of a load balancer's IPv4 addresses.
    fn set_ipam_pool(
        &self,
        arn: &str,
        pool: Option<&str>,
    ) -> impl Future<Output = CloudResult<()>> + Send;
    /// Reserves `units` capacity units, or with `None` resets the reservation.
    fn modify_capacity_reservation(
        &self,
        arn: &str,
        units: Option<i32>,
    ) -> impl Future<Output = CloudResult<()>> + Send;
    fn create_load_balancer(
        &self,
        input: &LoadBalancerInput,
    ) -> impl Future<Output = CloudResult<ObservedLoadBalancer>> + Send;
    fn delete_load_balancer(&self, arn: &str) -> impl Future<Output = CloudResult<()>> + Send;
    fn modify_load_balancer_attributes(
        &self,
        arn: &str,
        attributes: &BTreeMap<String, String>,
    ) -> impl Future<Output = CloudResult<()>> + Send;
    fn set_security_groups(
        &self,
        arn: &str,
        group_ids: &[String],
    ) -> impl Future<Output = CloudResult<()>> + Send;
    /// New subnets (with `EnablePrefixForIpv6SourceNat` when given).
    fn set_subnets(
        &self,
        arn: &str,
        mappings: &[crate::model::SubnetMapping],
        ipv6_source_nat: Option<bool>,
    ) -> impl Future<Output = CloudResult<()>> + Send;
    fn set_ip_address_type(
        &self,
        arn: &str,
        ip_address_type: crate::model::IpAddressType,
    ) -> impl Future<Output = CloudResult<()>> + Send;
    fn create_target_group(
        &self,
        input: &TargetGroupInput,
    ) -> impl Future<Output = CloudResult<ObservedTargetGroup>> + Send;
    fn modify_target_group(
        &self,
        arn: &str,
        health_check: &crate::model::HealthCheck,
    ) -> impl Future<Output = CloudResult<()>> + Send;
    fn modify_target_group_attributes(
        &self,
        arn: &str,
        attributes: &BTreeMap<String, String>,
    ) -> impl Future<Output = CloudResult<()>> + Send;
    fn delete_target_group(&self, arn: &str) -> impl Future<Output = CloudResult<()>> + Send;
    fn create_listener(
        &self,
        input: &ListenerInput,
    ) -> impl Future<Output = CloudResult<ObservedListener>> + Send;
    fn modify_listener(
        &self,
        arn: &str,
        input: &ListenerInput,
    ) -> impl Future<Output = CloudResult<()>> + Send;
    fn delete_listener(&self, arn: &str) -> impl Future<Output = CloudResult<()>> + Send;
    fn describe_listener_attributes(
        &self,
        arn: &str,
    ) -> impl Future<Output = CloudResult<BTreeMap<String, String>>> + Send;
    fn modify_listener_attributes(
        &self,
        arn: &str,
        attributes: &BTreeMap<String, String>,
    ) -> impl Future<Output = CloudResult<()>> + Send;
    /// The listener's certificates other than its default one (SNI certificates).
    /// The listener's rules, the default rule left out.
    fn describe_rules(
        &self,
        listener_arn: &str,
    ) -> impl Future<Output = CloudResult<Vec<ObservedRule>>> + Send;
    /// Fails with `Conflict` when the priority is taken on the listener.
    fn create_rule(
        &self,
        input: &RuleInput,
    ) -> impl Future<Output = CloudResult<ObservedRule>> + Send;
    fn modify_rule(
        &self,
        arn: &str,
        content: &RuleContent,
    ) -> impl Future<Output = CloudResult<()>> + Send;
    /// New priorities for rules of one listener. Each must be free before the call (moto checks
    /// them against the listener as it was; AWS may be more lenient): swaps go through a free slot.
    fn set_rule_priorities(
        &self,
        priorities: &[(String, i32)],
    ) -> impl Future<Output = CloudResult<()>> + Send;
    fn delete_rule(&self, arn: &str) -> impl Future<Output = CloudResult<()>> + Send;
    fn describe_listener_certificates(
        &self,
        arn: &str,
    ) -> impl Future<Output = CloudResult<Vec<String>>> + Send;
    fn add_listener_certificates(
        &self,
        arn: &str,
        certificates: &[String],
    ) -> impl Future<Output = CloudResult<()>> + Send;
    fn remove_listener_certificates(
        &self,
        arn: &str,
        certificates: &[String],
    ) -> impl Future<Output = CloudResult<()>> + Send;
    fn register_targets(
        &self,
        target_group_arn: &str,
        targets: &[Target],
    ) -> impl Future<Output = CloudResult<()>> + Send;
    fn deregister_targets(
        &self,
        target_group_arn: &str,
        targets: &[Target],
    ) -> impl Future<Output = CloudResult<()>> + Send;
    fn describe_target_health(
        &self,
        target_group_arn: &str,
    ) -> impl Future<Output = CloudResult<Vec<TargetHealth>>> + Send;
    /// Adds or overwrites tags on load balancers, listeners or target groups.
    fn add_tags(
        &self,
        arns: &[String],
        tags: &Tags,
    ) -> impl Future<Output = CloudResult<()>> + Send;
    fn remove_tags(
        &self,
        arns: &[String],
        keys: &[String],
    ) -> impl Future<Output = CloudResult<()>> + Send;
}

/// The port's part for EC2: subnets, route tables, VPCs, security groups and their rules, network
/// interfaces.
pub trait Ec2: Send + Sync {
    // Reads.

    /// The VPC's route tables, for subnet discovery by reachability.
    fn describe_route_tables(
        &self,
        vpc_id: &str,
    ) -> impl Future<Output = CloudResult<Vec<crate::facts::RouteTable>>> + Send;
    /// The VPC's subnets, for subnet discovery (the discover step).
    fn describe_subnets(
        &self,
        vpc_id: &str,
    ) -> impl Future<Output = CloudResult<Vec<crate::facts::Subnet>>> + Send;
    /// Security groups by id, with their inbound rules and tags.
    fn describe_security_groups(
        &self,
        group_ids: &[String],
    ) -> impl Future<Output = CloudResult<Vec<ObservedSecurityGroup>>> + Send;
    /// Security groups of the VPC carrying every one of `tags`, with their inbound rules.
    fn find_security_groups(
        &self,
        vpc_id: &str,
        tags: &Tags,
    ) -> impl Future<Output = CloudResult<Vec<ObservedSecurityGroup>>> + Send;
    fn create_security_group(
        &self,
        input: &SecurityGroupInput,
    ) -> impl Future<Output = CloudResult<String>> + Send;
    fn authorize_ingress(
        &self,
        group_id: &str,
        rules: &[crate::model::IngressRule],
    ) -> impl Future<Output = CloudResult<()>> + Send;
    fn revoke_ingress(
        &self,
        group_id: &str,
        rules: &[crate::model::IngressRule],
    ) -> impl Future<Output = CloudResult<()>> + Send;
    fn delete_security_group(&self, group_id: &str)
        -> impl Future<Output = CloudResult<()>> + Send;
    // Targets' network interfaces and the rules on their security groups.

    /// Every network interface attached to these instances (`DescribeInstances`).
    fn describe_instance_interfaces(
        &self,
        instance_ids: &[String],
    ) -> impl Future<Output = CloudResult<Vec<NetworkInterface>>> + Send;
    /// Network interfaces by id (`DescribeNetworkInterfaces`).
    fn describe_network_interfaces(
        &self,
        interface_ids: &[String],
    ) -> impl Future<Output = CloudResult<Vec<NetworkInterface>>> + Send;
    /// The network interfaces of the VPC holding any of these IPv4 or IPv6 addresses
    /// (`DescribeNetworkInterfaces` by address; at most 199 addresses a call).
    fn find_network_interfaces_by_address(
        &self,
        vpc_id: &str,
        addresses: &[String],
    ) -> impl Future<Output = CloudResult<Vec<NetworkInterface>>> + Send;
    /// The VPCs carrying every tag of `tags` (`DescribeVpcs`; startup VPC discovery only).
    fn find_vpcs(&self, tags: &Tags) -> impl Future<Output = CloudResult<Vec<String>>> + Send;
    /// Authorizes inbound permissions, each described as the controller's
    /// ([`crate::target_rules::MANAGED_RULE_DESCRIPTION`]).
    fn authorize_target_permissions(
        &self,
        group_id: &str,
        permissions: &[crate::target_rules::Permission],
    ) -> impl Future<Output = CloudResult<()>> + Send;
    fn revoke_target_permissions(
        &self,
        group_id: &str,
        permissions: &[crate::target_rules::Permission],
    ) -> impl Future<Output = CloudResult<()>> + Send;
}

/// The port's part for the Resource Groups Tagging API: a stack's resources found by their tags.
pub trait ResourceTagging: Send + Sync {
    /// Load balancers and target groups carrying every one of `tags`, with all their tags (one
    /// Resource Groups Tagging API call, however many other resources the account holds).
    fn find_tagged(
        &self,
        tags: &Tags,
    ) -> impl Future<Output = CloudResult<Vec<TaggedResource>>> + Send;
}

/// The port's part for ACM: certificates found, described, requested and deleted.
pub trait CertificateManager: Send + Sync {
    /// ACM certificates in state `ISSUED`, of every key algorithm (`ListCertificates`, paged).
    fn list_certificates(
        &self,
    ) -> impl Future<Output = CloudResult<Vec<crate::facts::CertificateSummary>>> + Send;
    /// All the names one ACM certificate covers, and its private CA's ARN if it has one
    /// (`DescribeCertificate`).
    fn describe_certificate(
        &self,
        arn: &str,
    ) -> impl Future<Output = CloudResult<(Vec<String>, Option<String>)>> + Send;
    /// The ACM certificates carrying every tag of `tags` (`ListCertificates` of every status,
    /// `ListTagsForCertificate` each, `DescribeCertificate` for those that match).
    fn find_certificates(
        &self,
        tags: &Tags,
    ) -> impl Future<Output = CloudResult<Vec<ObservedCertificate>>> + Send;
    /// Requests a certificate (DNS validation; private when a CA is given); returns its ARN.
    fn request_certificate(
        &self,
        request: &CertificateRequest,
    ) -> impl Future<Output = CloudResult<String>> + Send;
    fn delete_certificate(&self, arn: &str) -> impl Future<Output = CloudResult<()>> + Send;
}

/// The port's part for Route 53: certificate validation records.
pub trait Dns: Send + Sync {
    /// Writes (upserts) validation records into the Route 53 hosted zone of each (the zone whose
    /// name is the longest suffix of the record's); `NotFound` when no zone holds one.
    fn write_validation_records(
        &self,
        records: &[ValidationRecord],
    ) -> impl Future<Output = CloudResult<()>> + Send;
}

/// The port's part for WAFv2 and WAF Classic (regional): web ACLs and their associations.
pub trait WebAcls: Send + Sync {
    /// Regional WAFv2 web ACLs (`ListWebACLs`, paged).
    fn list_web_acls(&self) -> impl Future<Output = CloudResult<Vec<crate::facts::WebAcl>>> + Send;
    /// The ARN of the WAFv2 web ACL associated with a load balancer (`GetWebACLForResource`).
    fn web_acl_of(
        &self,
        resource_arn: &str,
    ) -> impl Future<Output = CloudResult<Option<String>>> + Send;
    /// The WAF Classic (regional) web ACL of a load balancer (`GetWebACLForResource`).
    fn classic_web_acl_of(
        &self,
        resource_arn: &str,
    ) -> impl Future<Output = CloudResult<Option<String>>> + Send;
    fn associate_classic_web_acl(
        &self,
        web_acl_id: &str,
        resource_arn: &str,
    ) -> impl Future<Output = CloudResult<()>> + Send;
    fn disassociate_classic_web_acl(
        &self,
        resource_arn: &str,
    ) -> impl Future<Output = CloudResult<()>> + Send;
    fn associate_web_acl(
        &self,
        web_acl_arn: &str,
        resource_arn: &str,
    ) -> impl Future<Output = CloudResult<()>> + Send;
    fn disassociate_web_acl(
        &self,
        resource_arn: &str,
    ) -> impl Future<Output = CloudResult<()>> + Send;
}

/// The port's part for Shield Advanced: the subscription and protections.
pub trait ShieldAdvanced: Send + Sync {
    /// Whether the account has an active Shield Advanced subscription (`GetSubscriptionState`).
    fn shield_subscription_active(&self) -> impl Future<Output = CloudResult<bool>> + Send;
    /// The Shield Advanced protection of a resource (`DescribeProtection`).
    fn describe_protection(
        &self,
        resource_arn: &str,
    ) -> impl Future<Output = CloudResult<Option<ShieldProtection>>> + Send;
    fn create_protection(
        &self,
        name: &str,
        resource_arn: &str,
    ) -> impl Future<Output = CloudResult<()>> + Send;
    fn delete_protection(&self, id: &str) -> impl Future<Output = CloudResult<()>> + Send;
}

/// Every part of the port, for code calling methods on a concrete implementation
/// (`use crate::cloud::ports::*`); code generic over `impl Cloud` needs none of them.
pub mod ports {
    pub use super::{
        CertificateManager, Dns, Ec2, LoadBalancing, ResourceTagging, ShieldAdvanced, WebAcls,
    };
}

/// AWS, as the controller uses it: every part of the port. Implemented for whatever
/// implements them all.
pub trait Cloud:
    LoadBalancing + Ec2 + ResourceTagging + CertificateManager + Dns + WebAcls + ShieldAdvanced
{
}

impl<
        T: LoadBalancing + Ec2 + ResourceTagging + CertificateManager + Dns + WebAcls + ShieldAdvanced,
    > Cloud for T
{
}
