//! An in-memory AWS for pipeline tests and benchmarks. Unlike moto it enforces the rules our
//! ordering depends on: create is idempotent for identical input and a conflict otherwise; a
//! target group used by a listener, or a security group attached to a load balancer, cannot be
//! deleted; listener ports are unique per load balancer; subnets must be in distinct zones (two
//! at least for an ALB); deletion protection blocks deletes; listener-rule priorities are unique per
//! listener and `SetRulePriorities` takes only free ones (moto's rule). ARNs and DNS names are
//! deterministic.
//!
//! Failures can be injected ("fail the Nth next call of operation X with kind K") or scripted
//! call by call (`chaos`: throttling, 5xx, lost answers, lagging tag lookups), and every call is
//! recorded in [`CallLog`].

mod addons;
mod calls;
mod chaos;
mod interfaces;
mod load_balancers;
mod requested_certificates;
mod rules;
mod security_groups;
mod services;
mod tags;
mod target_groups;
mod views;

use super::*;
use crate::facts::Subnet;
use crate::model::{
    HealthCheck, IngressRule, IpAddressType, LoadBalancerType, SubnetMapping, TargetType,
};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use tags::has_all_tags;

pub use chaos::{Fault, FaultScript, FaultTally};

const ARN_PREFIX: &str = "arn:aws:elasticloadbalancing:us-west-2:123456789012";

#[derive(Debug, Clone)]
struct StoredLoadBalancer {
    observed: ObservedLoadBalancer,
    attributes: BTreeMap<String, String>,
    tags: Tags,
}

#[derive(Debug, Clone)]
struct StoredListener {
    observed: ObservedListener,
    attributes: BTreeMap<String, String>,
    tags: Tags,
}

#[derive(Debug, Clone)]
struct StoredRule {
    observed: ObservedRule,
    tags: Tags,
}

#[derive(Debug, Clone)]
struct StoredTargetGroup {
    observed: ObservedTargetGroup,
    attributes: BTreeMap<String, String>,
    tags: Tags,
}

#[derive(Debug, Clone)]
struct StoredSecurityGroup {
    /// `permissions` is filled at describe time from `ingress` and the field below.
    observed: ObservedSecurityGroup,
    vpc_id: String,
    /// Rules written through the target-rules calls (or by "users" in tests).
    permissions: Vec<crate::target_rules::ObservedPermission>,
}

struct InjectedFailure {
    operation: String,
    remaining: usize,
    kind: ErrorKind,
}

#[derive(Default)]
struct State {
    counter: u64,
    subnets: Vec<Subnet>,
    route_tables: Vec<crate::facts::RouteTable>,
    /// Registered targets and their health, by target group ARN.
    targets: BTreeMap<String, BTreeMap<Target, TargetState>>,
    load_balancers: BTreeMap<String, StoredLoadBalancer>,
    listeners: BTreeMap<String, StoredListener>,
    rules: BTreeMap<String, StoredRule>,
    target_groups: BTreeMap<String, StoredTargetGroup>,
    security_groups: BTreeMap<String, StoredSecurityGroup>,
    /// Network interfaces of instances and pods, by id.
    interfaces: BTreeMap<String, NetworkInterface>,
    /// VPCs by id, with their tags.
    vpcs: BTreeMap<String, Tags>,
    /// Inbound rules per security group (AWS's default when unset).
    rule_quota: Option<usize>,
    /// ACM certificates with every name they cover; the summary lists at most the first two
    /// names (flagging more), so discovery must ask for the rest, as with AWS's longer lists.
    certificates: Vec<(String, Vec<String>)>,
    /// Regional web ACLs, and which one each load balancer is associated with.
    web_acls: Vec<crate::facts::WebAcl>,
    web_acl_associations: BTreeMap<String, String>,
    trust_stores: Vec<crate::facts::TrustStore>,
    classic_web_acls: BTreeMap<String, String>,
    shield_subscribed: bool,
    protections: BTreeMap<String, ShieldProtection>,
    capacity: BTreeMap<String, i32>,
    /// Certificates requested through ACM, by ARN; Route 53 zones and records (name → zone, value).
    requested_certificates: BTreeMap<String, requested_certificates::StoredCertificate>,
    hosted_zones: Vec<String>,
    dns_records: BTreeMap<String, (String, String)>,
    failures: Vec<InjectedFailure>,
    /// The running fault script, if any.
    chaos: Option<chaos::Chaos>,
    /// Calls made so far (the clock of the fault script).
    calls_made: u64,
    /// When (in calls) each resource created under a fault script was created.
    created_at: BTreeMap<String, u64>,
}

impl State {
    fn next_id(&mut self) -> String {
        self.counter += 1;
        format!("{:016x}", self.counter)
    }
}

/// A simulated AWS account. Clones share it (state and call log).
#[derive(Default, Clone)]
pub struct Simulator {
    state: Arc<Mutex<State>>,
    pub calls: Arc<CallLog>,
}

fn error<T>(kind: ErrorKind, operation: &str, message: impl Into<String>) -> CloudResult<T> {
    Err(CloudError::new(kind, operation, message))
}

impl LoadBalancing for Simulator {
    async fn describe_capacity_reservation(&self, arn: &str) -> CloudResult<Option<i32>> {
        let state = self.begin("DescribeCapacityReservation", false)?;
        Ok(state.capacity.get(arn).copied())
    }

    async fn modify_capacity_reservation(&self, arn: &str, units: Option<i32>) -> CloudResult<()> {
        self.write("ModifyCapacityReservation", |state| {
            state.modify_capacity(arn, units)
        })
    }

    async fn find_target_group_by_name(
        &self,
        name: &str,
    ) -> CloudResult<Option<crate::facts::TargetGroup>> {
        Ok(self
            .begin("DescribeTargetGroups", false)?
            .target_group_named(name))
    }

    async fn set_ipam_pool(&self, arn: &str, pool: Option<&str>) -> CloudResult<()> {
        self.write("ModifyIpPools", |state| state.set_ipam_pool(arn, pool))
    }

    async fn find_trust_store(&self, name: &str) -> CloudResult<Option<crate::facts::TrustStore>> {
        let state = self.begin("DescribeTrustStores", false)?;
        Ok(state.trust_stores.iter().find(|t| t.name == name).cloned())
    }

    async fn register_targets(
        &self,
        target_group_arn: &str,
        targets: &[Target],
    ) -> CloudResult<()> {
        self.write("RegisterTargets", |state| {
            state.register_targets(target_group_arn, targets)
        })
    }

    async fn deregister_targets(
        &self,
        target_group_arn: &str,
        targets: &[Target],
    ) -> CloudResult<()> {
        self.write("DeregisterTargets", |state| {
            state.deregister_targets(target_group_arn, targets)
        })
    }

    async fn describe_target_health(
        &self,
        target_group_arn: &str,
    ) -> CloudResult<Vec<TargetHealth>> {
        self.begin("DescribeTargetHealth", false)?
            .describe_target_health(target_group_arn)
    }

    async fn describe_listener_certificates(&self, arn: &str) -> CloudResult<Vec<String>> {
        self.begin("DescribeListenerCertificates", false)?
            .describe_listener_certificates(arn)
    }

    async fn add_listener_certificates(
        &self,
        arn: &str,
        certificates: &[String],
    ) -> CloudResult<()> {
        self.write("AddListenerCertificates", |state| {
            state.add_listener_certificates(arn, certificates)
        })
    }

    async fn remove_listener_certificates(
        &self,
        arn: &str,
        certificates: &[String],
    ) -> CloudResult<()> {
        self.write("RemoveListenerCertificates", |state| {
            state.remove_listener_certificates(arn, certificates)
        })
    }

    async fn describe_load_balancers(
        &self,
        arns: &[String],
    ) -> CloudResult<Vec<ObservedLoadBalancer>> {
        self.begin("DescribeLoadBalancers", false)?
            .describe_load_balancers(arns)
    }

    async fn describe_load_balancer_attributes(
        &self,
        arn: &str,
    ) -> CloudResult<BTreeMap<String, String>> {
        self.begin("DescribeLoadBalancerAttributes", false)?
            .describe_load_balancer_attributes(arn)
    }

    async fn describe_listeners(
        &self,
        load_balancer_arn: &str,
    ) -> CloudResult<Vec<ObservedListener>> {
        self.begin("DescribeListeners", false)?
            .describe_listeners(load_balancer_arn)
    }

    async fn describe_target_groups(
        &self,
        arns: &[String],
    ) -> CloudResult<Vec<ObservedTargetGroup>> {
        self.begin("DescribeTargetGroups", false)?
            .describe_target_groups(arns)
    }

    async fn describe_target_group_attributes(
        &self,
        arn: &str,
    ) -> CloudResult<BTreeMap<String, String>> {
        self.begin("DescribeTargetGroupAttributes", false)?
            .describe_target_group_attributes(arn)
    }

    async fn describe_tags(&self, arns: &[String]) -> CloudResult<BTreeMap<String, Tags>> {
        self.begin("DescribeTags", false)?.describe_tags(arns)
    }

    async fn create_load_balancer(
        &self,
        input: &LoadBalancerInput,
    ) -> CloudResult<ObservedLoadBalancer> {
        self.write("CreateLoadBalancer", |state| {
            state.create_load_balancer(input)
        })
    }

    async fn delete_load_balancer(&self, arn: &str) -> CloudResult<()> {
        self.write("DeleteLoadBalancer", |state| {
            state.delete_load_balancer(arn)
        })
    }

    async fn modify_load_balancer_attributes(
        &self,
        arn: &str,
        attributes: &BTreeMap<String, String>,
    ) -> CloudResult<()> {
        self.write("ModifyLoadBalancerAttributes", |state| {
            state.modify_load_balancer_attributes(arn, attributes)
        })
    }

    async fn set_security_groups(&self, arn: &str, group_ids: &[String]) -> CloudResult<()> {
        self.write("SetSecurityGroups", |state| {
            state.set_security_groups(arn, group_ids)
        })
    }

    async fn set_subnets(
        &self,
        arn: &str,
        mappings: &[SubnetMapping],
        _ipv6_source_nat: Option<bool>,
    ) -> CloudResult<()> {
        self.write("SetSubnets", |state| state.set_subnets(arn, mappings))
    }

    async fn set_ip_address_type(
        &self,
        arn: &str,
        ip_address_type: IpAddressType,
    ) -> CloudResult<()> {
        self.write("SetIpAddressType", |state| {
            state.set_ip_address_type(arn, ip_address_type)
        })
    }

    async fn create_target_group(
        &self,
        input: &TargetGroupInput,
    ) -> CloudResult<ObservedTargetGroup> {
        self.write("CreateTargetGroup", |state| {
            state.create_target_group(input)
        })
    }

    async fn modify_target_group(&self, arn: &str, health_check: &HealthCheck) -> CloudResult<()> {
        self.write("ModifyTargetGroup", |state| {
            state.modify_target_group(arn, health_check)
        })
    }

    async fn modify_target_group_attributes(
        &self,
        arn: &str,
        attributes: &BTreeMap<String, String>,
    ) -> CloudResult<()> {
        self.write("ModifyTargetGroupAttributes", |state| {
            state.modify_target_group_attributes(arn, attributes)
        })
    }

    async fn delete_target_group(&self, arn: &str) -> CloudResult<()> {
        self.write("DeleteTargetGroup", |state| state.delete_target_group(arn))
    }

    async fn create_listener(&self, input: &ListenerInput) -> CloudResult<ObservedListener> {
        self.write("CreateListener", |state| state.create_listener(input))
    }

    async fn modify_listener(&self, arn: &str, input: &ListenerInput) -> CloudResult<()> {
        self.write("ModifyListener", |state| state.modify_listener(arn, input))
    }

    async fn delete_listener(&self, arn: &str) -> CloudResult<()> {
        self.write("DeleteListener", |state| state.delete_listener(arn))
    }

    async fn describe_listener_attributes(
        &self,
        arn: &str,
    ) -> CloudResult<BTreeMap<String, String>> {
        self.begin("DescribeListenerAttributes", false)?
            .listener_attributes(arn)
    }

    async fn modify_listener_attributes(
        &self,
        arn: &str,
        attributes: &BTreeMap<String, String>,
    ) -> CloudResult<()> {
        self.write("ModifyListenerAttributes", |state| {
            state.modify_listener_attributes(arn, attributes)
        })
    }

    async fn describe_rules(&self, listener_arn: &str) -> CloudResult<Vec<ObservedRule>> {
        self.begin("DescribeRules", false)?
            .describe_rules(listener_arn)
    }

    async fn create_rule(&self, input: &RuleInput) -> CloudResult<ObservedRule> {
        self.write("CreateRule", |state| state.create_rule(input))
    }

    async fn modify_rule(&self, arn: &str, content: &RuleContent) -> CloudResult<()> {
        self.write("ModifyRule", |state| state.modify_rule(arn, content))
    }

    async fn set_rule_priorities(&self, priorities: &[(String, i32)]) -> CloudResult<()> {
        self.write("SetRulePriorities", |state| {
            state.set_rule_priorities(priorities)
        })
    }

    async fn delete_rule(&self, arn: &str) -> CloudResult<()> {
        self.write("DeleteRule", |state| state.delete_rule(arn))
    }

    async fn add_tags(&self, arns: &[String], tags: &Tags) -> CloudResult<()> {
        self.write("AddTags", |state| state.add_tags(arns, tags))
    }

    async fn remove_tags(&self, arns: &[String], keys: &[String]) -> CloudResult<()> {
        self.write("RemoveTags", |state| state.remove_tags(arns, keys))
    }
}

impl Ec2 for Simulator {
    async fn describe_route_tables(
        &self,
        vpc_id: &str,
    ) -> CloudResult<Vec<crate::facts::RouteTable>> {
        let state = self.begin("DescribeRouteTables", false)?;
        Ok(state
            .route_tables
            .iter()
            .filter(|t| t.vpc_id == vpc_id)
            .cloned()
            .collect())
    }

    async fn describe_subnets(&self, vpc_id: &str) -> CloudResult<Vec<Subnet>> {
        let state = self.begin("DescribeSubnets", false)?;
        Ok(state
            .subnets
            .iter()
            .filter(|s| s.vpc_id == vpc_id)
            .cloned()
            .collect())
    }

    async fn describe_security_groups(
        &self,
        group_ids: &[String],
    ) -> CloudResult<Vec<ObservedSecurityGroup>> {
        self.begin("DescribeSecurityGroups", false)?
            .describe_security_groups(group_ids)
    }

    async fn find_security_groups(
        &self,
        vpc_id: &str,
        tags: &Tags,
    ) -> CloudResult<Vec<ObservedSecurityGroup>> {
        self.begin("DescribeSecurityGroups", false)?
            .find_security_groups(vpc_id, tags)
    }

    async fn create_security_group(&self, input: &SecurityGroupInput) -> CloudResult<String> {
        self.write("CreateSecurityGroup", |state| {
            state.create_security_group(input)
        })
    }

    async fn authorize_ingress(&self, group_id: &str, rules: &[IngressRule]) -> CloudResult<()> {
        self.write("AuthorizeSecurityGroupIngress", |state| {
            state.authorize_ingress(group_id, rules)
        })
    }

    async fn revoke_ingress(&self, group_id: &str, rules: &[IngressRule]) -> CloudResult<()> {
        self.write("RevokeSecurityGroupIngress", |state| {
            state.revoke_ingress(group_id, rules)
        })
    }

    async fn delete_security_group(&self, group_id: &str) -> CloudResult<()> {
        self.write("DeleteSecurityGroup", |state| {
            state.delete_security_group(group_id)
        })
    }

    async fn describe_instance_interfaces(
        &self,
        instance_ids: &[String],
    ) -> CloudResult<Vec<NetworkInterface>> {
        self.begin("DescribeInstances", false)?
            .describe_instance_interfaces(instance_ids)
    }

    async fn describe_network_interfaces(
        &self,
        interface_ids: &[String],
    ) -> CloudResult<Vec<NetworkInterface>> {
        self.begin("DescribeNetworkInterfaces", false)?
            .describe_network_interfaces(interface_ids)
    }

    async fn find_vpcs(&self, tags: &Tags) -> CloudResult<Vec<String>> {
        Ok(self.begin("DescribeVpcs", false)?.find_vpcs(tags))
    }

    async fn find_network_interfaces_by_address(
        &self,
        _vpc_id: &str,
        addresses: &[String],
    ) -> CloudResult<Vec<NetworkInterface>> {
        let state = self.begin("DescribeNetworkInterfaces", false)?;
        Ok(state.describe_interfaces(|i| {
            i.private_ips
                .iter()
                .chain(&i.ipv6_addresses)
                .any(|address| addresses.contains(address))
        }))
    }

    async fn authorize_target_permissions(
        &self,
        group_id: &str,
        permissions: &[crate::target_rules::Permission],
    ) -> CloudResult<()> {
        self.write("AuthorizeSecurityGroupIngress", |state| {
            state.authorize_target_permissions(group_id, permissions)
        })
    }

    async fn revoke_target_permissions(
        &self,
        group_id: &str,
        permissions: &[crate::target_rules::Permission],
    ) -> CloudResult<()> {
        self.write("RevokeSecurityGroupIngress", |state| {
            state.revoke_target_permissions(group_id, permissions)
        })
    }
}
