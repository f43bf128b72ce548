//! The [`Cloud`] port over the AWS SDK: ELBv2, EC2 and the Resource Groups Tagging API. Each
//! trait method is one AWS call (pagination aside), recorded in [`CallLog`]; errors are
//! classified by their AWS error code into [`ErrorKind`].
//!
//! Finding a stack's resources uses the tagging API (one call whatever the account holds). When
//! the role may not call it (upstream's IAM policy does not grant `tag:GetResources`), it falls
//! back, once and for the life of the process, to listing load balancers and target groups and
//! reading their tags in chunks of 20, as upstream does.

mod addons;
pub mod call_metrics;
mod certificates;
mod conversions;
mod errors;
#[cfg(test)]
mod iam_policy_tests;
mod interfaces;
mod listeners;
mod load_balancers;
mod requested_certificates;
mod rule_transforms;
mod rules;
mod security_groups;
mod tags;
mod target_groups;
mod web_acls;

use super::throttle::{
    rules_with_overrides, Throttle, ThrottleRule, ACM, EC2, ELBV2, ROUTE53, SHIELD, WAFV2,
    WAF_REGIONAL,
};
use super::*;
use crate::aws_clients::AwsClients;
use crate::model::{HealthCheck, IngressRule, IpAddressType, SubnetMapping};
use conversions::{tags_of, AttributeMap};
pub(crate) use errors::classify;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// AWS through the SDK. Clones share their throttle, call log and tagging-API fallback.
#[derive(Clone)]
pub struct SdkCloud {
    elbv2: aws_sdk_elasticloadbalancingv2::Client,
    ec2: aws_sdk_ec2::Client,
    acm: aws_sdk_acm::Client,
    wafv2: aws_sdk_wafv2::Client,
    waf_regional: aws_sdk_wafregional::Client,
    shield: aws_sdk_shield::Client,
    route53: aws_sdk_route53::Client,
    tagging: aws_sdk_resourcegroupstagging::Client,
    /// Set when the tagging API answered AccessDenied: use the ELBv2 listing instead.
    tagging_denied: Arc<AtomicBool>,
    throttle: Arc<Throttle>,
    pub calls: Arc<CallLog>,
}

impl SdkCloud {
    /// Clients for `config`, paced by upstream's default throttle rules.
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self::with_throttle(config, rules_with_overrides(&[]))
    }

    pub fn with_throttle(config: &aws_config::SdkConfig, rules: Vec<ThrottleRule>) -> Self {
        let clients = AwsClients::new(config);
        Self {
            elbv2: clients.elbv2,
            ec2: clients.ec2,
            acm: clients.acm,
            wafv2: clients.wafv2,
            waf_regional: crate::measured_client!(aws_sdk_wafregional, config),
            shield: crate::measured_client!(aws_sdk_shield, config),
            route53: clients.route53,
            tagging: crate::measured_client!(aws_sdk_resourcegroupstagging, config),
            tagging_denied: Arc::new(AtomicBool::new(false)),
            throttle: Arc::new(Throttle::new(rules)),
            calls: Arc::new(CallLog::default()),
        }
    }

    /// Records the call and waits for the throttle rules it matches.
    /// Once the process is stopping, no new call starts (the ones under way finish).
    async fn begin(&self, service: &str, operation: &'static str, write: bool) {
        crate::lifecycle::hold_if_stopping().await;
        self.calls.record(operation, write);
        self.paced(service, operation).await;
    }

    async fn paced(&self, service: &str, operation: &'static str) {
        let started = std::time::Instant::now();
        self.throttle.wait(service, operation).await;
        crate::metrics::metrics()
            .aws_throttle_wait_seconds
            .with_label_values(&[service, operation])
            .observe(started.elapsed().as_secs_f64());
    }

    /// `begin` for a call on one target group carrying `targets` targets.
    async fn begin_target_call(
        &self,
        operation: &'static str,
        write: bool,
        arn: &str,
        targets: usize,
    ) {
        crate::lifecycle::hold_if_stopping().await;
        self.calls.record_on(operation, write, Some(arn), targets);
        self.paced(ELBV2, operation).await;
    }
}

impl LoadBalancing for SdkCloud {
    async fn describe_capacity_reservation(&self, arn: &str) -> CloudResult<Option<i32>> {
        self.begin(ELBV2, "DescribeCapacityReservation", false)
            .await;
        addons::describe_capacity_reservation(&self.elbv2, arn).await
    }

    async fn modify_capacity_reservation(&self, arn: &str, units: Option<i32>) -> CloudResult<()> {
        self.begin(ELBV2, "ModifyCapacityReservation", true).await;
        addons::modify_capacity_reservation(&self.elbv2, arn, units).await
    }

    async fn find_target_group_by_name(
        &self,
        name: &str,
    ) -> CloudResult<Option<crate::facts::TargetGroup>> {
        self.begin(ELBV2, "DescribeTargetGroups", false).await;
        target_groups::find_by_name(&self.elbv2, name).await
    }

    async fn set_ipam_pool(&self, arn: &str, pool: Option<&str>) -> CloudResult<()> {
        self.begin(ELBV2, "ModifyIpPools", true).await;
        load_balancers::set_ipam_pool(&self.elbv2, arn, pool).await
    }

    async fn find_trust_store(&self, name: &str) -> CloudResult<Option<crate::facts::TrustStore>> {
        self.begin(ELBV2, "DescribeTrustStores", false).await;
        listeners::find_trust_store(&self.elbv2, name).await
    }

    async fn register_targets(
        &self,
        target_group_arn: &str,
        targets: &[Target],
    ) -> CloudResult<()> {
        self.begin_target_call("RegisterTargets", true, target_group_arn, targets.len())
            .await;
        target_groups::register_targets(&self.elbv2, target_group_arn, targets).await
    }

    async fn deregister_targets(
        &self,
        target_group_arn: &str,
        targets: &[Target],
    ) -> CloudResult<()> {
        self.begin_target_call("DeregisterTargets", true, target_group_arn, targets.len())
            .await;
        target_groups::deregister_targets(&self.elbv2, target_group_arn, targets).await
    }

    async fn describe_target_health(
        &self,
        target_group_arn: &str,
    ) -> CloudResult<Vec<TargetHealth>> {
        self.begin_target_call("DescribeTargetHealth", false, target_group_arn, 0)
            .await;
        target_groups::describe_target_health(&self.elbv2, target_group_arn).await
    }

    async fn describe_listener_certificates(&self, arn: &str) -> CloudResult<Vec<String>> {
        self.begin(ELBV2, "DescribeListenerCertificates", false)
            .await;
        listeners::describe_listener_certificates(&self.elbv2, arn).await
    }

    async fn add_listener_certificates(
        &self,
        arn: &str,
        certificates: &[String],
    ) -> CloudResult<()> {
        self.begin(ELBV2, "AddListenerCertificates", true).await;
        listeners::add_listener_certificates(&self.elbv2, arn, certificates).await
    }

    async fn remove_listener_certificates(
        &self,
        arn: &str,
        certificates: &[String],
    ) -> CloudResult<()> {
        self.begin(ELBV2, "RemoveListenerCertificates", true).await;
        listeners::remove_listener_certificates(&self.elbv2, arn, certificates).await
    }

    async fn describe_load_balancers(
        &self,
        arns: &[String],
    ) -> CloudResult<Vec<ObservedLoadBalancer>> {
        self.begin(ELBV2, "DescribeLoadBalancers", false).await;
        load_balancers::describe(&self.elbv2, arns).await
    }

    async fn describe_load_balancer_attributes(
        &self,
        arn: &str,
    ) -> CloudResult<BTreeMap<String, String>> {
        self.begin(ELBV2, "DescribeLoadBalancerAttributes", false)
            .await;
        load_balancers::describe_attributes(&self.elbv2, arn).await
    }

    async fn describe_listeners(
        &self,
        load_balancer_arn: &str,
    ) -> CloudResult<Vec<ObservedListener>> {
        self.begin(ELBV2, "DescribeListeners", false).await;
        listeners::describe_listeners(&self.elbv2, load_balancer_arn).await
    }

    async fn describe_target_groups(
        &self,
        arns: &[String],
    ) -> CloudResult<Vec<ObservedTargetGroup>> {
        self.begin(ELBV2, "DescribeTargetGroups", false).await;
        target_groups::describe(&self.elbv2, arns).await
    }

    async fn describe_target_group_attributes(
        &self,
        arn: &str,
    ) -> CloudResult<BTreeMap<String, String>> {
        self.begin(ELBV2, "DescribeTargetGroupAttributes", false)
            .await;
        target_groups::describe_attributes(&self.elbv2, arn).await
    }

    async fn describe_tags(&self, arns: &[String]) -> CloudResult<BTreeMap<String, Tags>> {
        tags::describe_tags(self, arns).await
    }

    async fn create_load_balancer(
        &self,
        input: &LoadBalancerInput,
    ) -> CloudResult<ObservedLoadBalancer> {
        self.begin(ELBV2, "CreateLoadBalancer", true).await;
        load_balancers::create(&self.elbv2, input).await
    }

    async fn delete_load_balancer(&self, arn: &str) -> CloudResult<()> {
        self.begin(ELBV2, "DeleteLoadBalancer", true).await;
        load_balancers::delete(&self.elbv2, arn).await
    }

    async fn modify_load_balancer_attributes(
        &self,
        arn: &str,
        attributes: &BTreeMap<String, String>,
    ) -> CloudResult<()> {
        self.begin(ELBV2, "ModifyLoadBalancerAttributes", true)
            .await;
        load_balancers::modify_attributes(&self.elbv2, arn, attributes).await
    }

    async fn set_security_groups(&self, arn: &str, group_ids: &[String]) -> CloudResult<()> {
        self.begin(ELBV2, "SetSecurityGroups", true).await;
        load_balancers::set_security_groups(&self.elbv2, arn, group_ids).await
    }

    async fn set_subnets(
        &self,
        arn: &str,
        mappings: &[SubnetMapping],
        ipv6_source_nat: Option<bool>,
    ) -> CloudResult<()> {
        self.begin(ELBV2, "SetSubnets", true).await;
        load_balancers::set_subnets(&self.elbv2, arn, mappings, ipv6_source_nat).await
    }

    async fn set_ip_address_type(
        &self,
        arn: &str,
        ip_address_type: IpAddressType,
    ) -> CloudResult<()> {
        self.begin(ELBV2, "SetIpAddressType", true).await;
        load_balancers::set_ip_address_type(&self.elbv2, arn, ip_address_type).await
    }

    async fn create_target_group(
        &self,
        input: &TargetGroupInput,
    ) -> CloudResult<ObservedTargetGroup> {
        self.begin(ELBV2, "CreateTargetGroup", true).await;
        target_groups::create(&self.elbv2, input).await
    }

    async fn modify_target_group(&self, arn: &str, health_check: &HealthCheck) -> CloudResult<()> {
        self.begin(ELBV2, "ModifyTargetGroup", true).await;
        target_groups::modify(&self.elbv2, arn, health_check).await
    }

    async fn modify_target_group_attributes(
        &self,
        arn: &str,
        attributes: &BTreeMap<String, String>,
    ) -> CloudResult<()> {
        self.begin(ELBV2, "ModifyTargetGroupAttributes", true).await;
        target_groups::modify_attributes(&self.elbv2, arn, attributes).await
    }

    async fn delete_target_group(&self, arn: &str) -> CloudResult<()> {
        self.begin(ELBV2, "DeleteTargetGroup", true).await;
        target_groups::delete(&self.elbv2, arn).await
    }

    async fn create_listener(&self, input: &ListenerInput) -> CloudResult<ObservedListener> {
        self.begin(ELBV2, "CreateListener", true).await;
        listeners::create_listener(&self.elbv2, input).await
    }

    async fn modify_listener(&self, arn: &str, input: &ListenerInput) -> CloudResult<()> {
        self.begin(ELBV2, "ModifyListener", true).await;
        listeners::modify_listener(&self.elbv2, arn, input).await
    }

    async fn describe_listener_attributes(
        &self,
        arn: &str,
    ) -> CloudResult<BTreeMap<String, String>> {
        self.begin(ELBV2, "DescribeListenerAttributes", false).await;
        listeners::describe_listener_attributes(&self.elbv2, arn).await
    }

    async fn modify_listener_attributes(
        &self,
        arn: &str,
        attributes: &BTreeMap<String, String>,
    ) -> CloudResult<()> {
        self.begin(ELBV2, "ModifyListenerAttributes", true).await;
        listeners::modify_listener_attributes(&self.elbv2, arn, attributes).await
    }

    async fn delete_listener(&self, arn: &str) -> CloudResult<()> {
        self.begin(ELBV2, "DeleteListener", true).await;
        listeners::delete_listener(&self.elbv2, arn).await
    }

    async fn describe_rules(&self, listener_arn: &str) -> CloudResult<Vec<ObservedRule>> {
        self.begin(ELBV2, "DescribeRules", false).await;
        rules::describe_rules(&self.elbv2, listener_arn).await
    }

    async fn create_rule(&self, input: &RuleInput) -> CloudResult<ObservedRule> {
        self.begin(ELBV2, "CreateRule", true).await;
        rules::create_rule(&self.elbv2, input).await
    }

    async fn modify_rule(&self, arn: &str, content: &RuleContent) -> CloudResult<()> {
        self.begin(ELBV2, "ModifyRule", true).await;
        rules::modify_rule(&self.elbv2, arn, content).await
    }

    async fn set_rule_priorities(&self, priorities: &[(String, i32)]) -> CloudResult<()> {
        self.begin(ELBV2, "SetRulePriorities", true).await;
        rules::set_rule_priorities(&self.elbv2, priorities).await
    }

    async fn delete_rule(&self, arn: &str) -> CloudResult<()> {
        self.begin(ELBV2, "DeleteRule", true).await;
        rules::delete_rule(&self.elbv2, arn).await
    }

    async fn add_tags(&self, arns: &[String], tags: &Tags) -> CloudResult<()> {
        self.begin(ELBV2, "AddTags", true).await;
        tags::add_tags(&self.elbv2, arns, tags).await
    }

    async fn remove_tags(&self, arns: &[String], keys: &[String]) -> CloudResult<()> {
        self.begin(ELBV2, "RemoveTags", true).await;
        tags::remove_tags(&self.elbv2, arns, keys).await
    }
}

impl Ec2 for SdkCloud {
    async fn describe_route_tables(
        &self,
        vpc_id: &str,
    ) -> CloudResult<Vec<crate::facts::RouteTable>> {
        self.begin(EC2, "DescribeRouteTables", false).await;
        security_groups::describe_route_tables(&self.ec2, vpc_id).await
    }

    async fn describe_subnets(&self, vpc_id: &str) -> CloudResult<Vec<crate::facts::Subnet>> {
        self.begin(EC2, "DescribeSubnets", false).await;
        security_groups::describe_subnets(&self.ec2, vpc_id).await
    }

    async fn describe_security_groups(
        &self,
        group_ids: &[String],
    ) -> CloudResult<Vec<ObservedSecurityGroup>> {
        self.begin(EC2, "DescribeSecurityGroups", false).await;
        security_groups::describe(&self.ec2, Some(group_ids), None, &Tags::new()).await
    }

    async fn find_security_groups(
        &self,
        vpc_id: &str,
        tags: &Tags,
    ) -> CloudResult<Vec<ObservedSecurityGroup>> {
        self.begin(EC2, "DescribeSecurityGroups", false).await;
        security_groups::describe(&self.ec2, None, Some(vpc_id), tags).await
    }

    async fn create_security_group(&self, input: &SecurityGroupInput) -> CloudResult<String> {
        self.begin(EC2, "CreateSecurityGroup", true).await;
        security_groups::create(&self.ec2, input).await
    }

    async fn authorize_ingress(&self, group_id: &str, rules: &[IngressRule]) -> CloudResult<()> {
        self.begin(EC2, "AuthorizeSecurityGroupIngress", true).await;
        security_groups::authorize(&self.ec2, group_id, rules).await
    }

    async fn revoke_ingress(&self, group_id: &str, rules: &[IngressRule]) -> CloudResult<()> {
        self.begin(EC2, "RevokeSecurityGroupIngress", true).await;
        security_groups::revoke(&self.ec2, group_id, rules).await
    }

    async fn delete_security_group(&self, group_id: &str) -> CloudResult<()> {
        self.begin(EC2, "DeleteSecurityGroup", true).await;
        security_groups::delete(&self.ec2, group_id).await
    }

    async fn describe_instance_interfaces(
        &self,
        instance_ids: &[String],
    ) -> CloudResult<Vec<NetworkInterface>> {
        self.begin(EC2, "DescribeInstances", false).await;
        interfaces::describe_instance_interfaces(&self.ec2, instance_ids).await
    }

    async fn describe_network_interfaces(
        &self,
        interface_ids: &[String],
    ) -> CloudResult<Vec<NetworkInterface>> {
        self.begin(EC2, "DescribeNetworkInterfaces", false).await;
        interfaces::describe_network_interfaces(&self.ec2, Some(interface_ids), Vec::new()).await
    }

    async fn find_network_interfaces_by_address(
        &self,
        vpc_id: &str,
        addresses: &[String],
    ) -> CloudResult<Vec<NetworkInterface>> {
        interfaces::find_by_address(self, vpc_id, addresses).await
    }

    async fn find_vpcs(&self, tags: &Tags) -> CloudResult<Vec<String>> {
        interfaces::find_vpcs(self, tags).await
    }

    async fn authorize_target_permissions(
        &self,
        group_id: &str,
        permissions: &[crate::target_rules::Permission],
    ) -> CloudResult<()> {
        self.begin(EC2, "AuthorizeSecurityGroupIngress", true).await;
        interfaces::authorize(&self.ec2, group_id, permissions).await
    }

    async fn revoke_target_permissions(
        &self,
        group_id: &str,
        permissions: &[crate::target_rules::Permission],
    ) -> CloudResult<()> {
        self.begin(EC2, "RevokeSecurityGroupIngress", true).await;
        interfaces::revoke(&self.ec2, group_id, permissions).await
    }
}

impl ResourceTagging for SdkCloud {
    async fn find_tagged(&self, wanted: &Tags) -> CloudResult<Vec<TaggedResource>> {
        tags::find_tagged(self, wanted).await
    }
}

impl CertificateManager for SdkCloud {
    async fn list_certificates(&self) -> CloudResult<Vec<crate::facts::CertificateSummary>> {
        self.begin(ACM, "ListCertificates", false).await;
        certificates::list(&self.acm).await
    }

    async fn find_certificates(&self, tags: &Tags) -> CloudResult<Vec<ObservedCertificate>> {
        requested_certificates::find(self, tags).await
    }

    async fn request_certificate(&self, request: &CertificateRequest) -> CloudResult<String> {
        self.begin(ACM, "RequestCertificate", true).await;
        requested_certificates::request(&self.acm, request).await
    }

    async fn delete_certificate(&self, arn: &str) -> CloudResult<()> {
        self.begin(ACM, "DeleteCertificate", true).await;
        requested_certificates::delete(&self.acm, arn).await
    }

    async fn describe_certificate(&self, arn: &str) -> CloudResult<(Vec<String>, Option<String>)> {
        self.begin(ACM, "DescribeCertificate", false).await;
        certificates::describe(&self.acm, arn).await
    }
}

impl Dns for SdkCloud {
    async fn write_validation_records(&self, records: &[ValidationRecord]) -> CloudResult<()> {
        requested_certificates::write_records(self, records).await
    }
}

impl WebAcls for SdkCloud {
    async fn classic_web_acl_of(&self, resource_arn: &str) -> CloudResult<Option<String>> {
        self.begin(WAF_REGIONAL, "GetWebACLForResource", false)
            .await;
        addons::classic_web_acl_of(&self.waf_regional, resource_arn).await
    }

    async fn associate_classic_web_acl(
        &self,
        web_acl_id: &str,
        resource_arn: &str,
    ) -> CloudResult<()> {
        self.begin(WAF_REGIONAL, "AssociateWebACL", true).await;
        addons::associate_classic_web_acl(&self.waf_regional, web_acl_id, resource_arn).await
    }

    async fn disassociate_classic_web_acl(&self, resource_arn: &str) -> CloudResult<()> {
        self.begin(WAF_REGIONAL, "DisassociateWebACL", true).await;
        addons::disassociate_classic_web_acl(&self.waf_regional, resource_arn).await
    }

    async fn list_web_acls(&self) -> CloudResult<Vec<crate::facts::WebAcl>> {
        self.begin(WAFV2, "ListWebACLs", false).await;
        web_acls::list(&self.wafv2).await
    }

    async fn web_acl_of(&self, resource_arn: &str) -> CloudResult<Option<String>> {
        self.begin(WAFV2, "GetWebACLForResource", false).await;
        web_acls::of_resource(&self.wafv2, resource_arn).await
    }

    async fn associate_web_acl(&self, web_acl_arn: &str, resource_arn: &str) -> CloudResult<()> {
        self.begin(WAFV2, "AssociateWebACL", true).await;
        web_acls::associate(&self.wafv2, web_acl_arn, resource_arn).await
    }

    async fn disassociate_web_acl(&self, resource_arn: &str) -> CloudResult<()> {
        self.begin(WAFV2, "DisassociateWebACL", true).await;
        web_acls::disassociate(&self.wafv2, resource_arn).await
    }
}

impl ShieldAdvanced for SdkCloud {
    async fn shield_subscription_active(&self) -> CloudResult<bool> {
        self.begin(SHIELD, "GetSubscriptionState", false).await;
        addons::shield_subscription_active(&self.shield).await
    }

    async fn describe_protection(
        &self,
        resource_arn: &str,
    ) -> CloudResult<Option<ShieldProtection>> {
        self.begin(SHIELD, "DescribeProtection", false).await;
        addons::describe_protection(&self.shield, resource_arn).await
    }

    async fn create_protection(&self, name: &str, resource_arn: &str) -> CloudResult<()> {
        self.begin(SHIELD, "CreateProtection", true).await;
        addons::create_protection(&self.shield, name, resource_arn).await
    }

    async fn delete_protection(&self, id: &str) -> CloudResult<()> {
        self.begin(SHIELD, "DeleteProtection", true).await;
        addons::delete_protection(&self.shield, id).await
    }
}
