//! The [`Cloud`] port over the AWS SDK: ELBv2, EC2 and the Resource Groups Tagging API. Each
//! trait method is one AWS call (pagination aside), recorded in [`CallLog`]; errors are
//! classified by their AWS error code into [`ErrorKind`].
//!
//! Finding a stack's resources uses the tagging API (one call whatever the account holds). When
//! the role may not call it (upstream's IAM policy does not grant `tag:GetResources`), it falls
//! back, once and for the life of the process, to listing load balancers and target groups and
//! reading their tags in chunks of 20, as upstream does.

mod addons;
mod call;
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
}

impl LoadBalancing for SdkCloud {
    async fn describe_capacity_reservation(&self, arn: &str) -> CloudResult<Option<i32>> {
        let call = self
            .begin(ELBV2, "DescribeCapacityReservation", false)
            .await;
        call.finished(addons::describe_capacity_reservation(&self.elbv2, arn).await)
    }

    async fn modify_capacity_reservation(&self, arn: &str, units: Option<i32>) -> CloudResult<()> {
        let call = self.begin(ELBV2, "ModifyCapacityReservation", true).await;
        call.finished(addons::modify_capacity_reservation(&self.elbv2, arn, units).await)
    }

    async fn find_target_group_by_name(
        &self,
        name: &str,
    ) -> CloudResult<Option<crate::facts::TargetGroup>> {
        let call = self.begin(ELBV2, "DescribeTargetGroups", false).await;
        call.finished(target_groups::find_by_name(&self.elbv2, name).await)
    }

    async fn set_ipam_pool(&self, arn: &str, pool: Option<&str>) -> CloudResult<()> {
        let call = self.begin(ELBV2, "ModifyIpPools", true).await;
        call.finished(load_balancers::set_ipam_pool(&self.elbv2, arn, pool).await)
    }

    async fn find_trust_store(&self, name: &str) -> CloudResult<Option<crate::facts::TrustStore>> {
        let call = self.begin(ELBV2, "DescribeTrustStores", false).await;
        call.finished(listeners::find_trust_store(&self.elbv2, name).await)
    }

    async fn register_targets(
        &self,
        target_group_arn: &str,
        targets: &[Target],
    ) -> CloudResult<()> {
        let call = self
            .begin_target_call("RegisterTargets", true, target_group_arn, targets.len())
            .await;
        call.finished(target_groups::register_targets(&self.elbv2, target_group_arn, targets).await)
    }

    async fn deregister_targets(
        &self,
        target_group_arn: &str,
        targets: &[Target],
    ) -> CloudResult<()> {
        let call = self
            .begin_target_call("DeregisterTargets", true, target_group_arn, targets.len())
            .await;
        call.finished(
            target_groups::deregister_targets(&self.elbv2, target_group_arn, targets).await,
        )
    }

    async fn describe_target_health(
        &self,
        target_group_arn: &str,
    ) -> CloudResult<Vec<TargetHealth>> {
        let call = self
            .begin_target_call("DescribeTargetHealth", false, target_group_arn, 0)
            .await;
        call.finished(target_groups::describe_target_health(&self.elbv2, target_group_arn).await)
    }

    async fn describe_listener_certificates(&self, arn: &str) -> CloudResult<Vec<String>> {
        let call = self
            .begin(ELBV2, "DescribeListenerCertificates", false)
            .await;
        call.finished(listeners::describe_listener_certificates(&self.elbv2, arn).await)
    }

    async fn add_listener_certificates(
        &self,
        arn: &str,
        certificates: &[String],
    ) -> CloudResult<()> {
        let call = self.begin(ELBV2, "AddListenerCertificates", true).await;
        call.finished(listeners::add_listener_certificates(&self.elbv2, arn, certificates).await)
    }

    async fn remove_listener_certificates(
        &self,
        arn: &str,
        certificates: &[String],
    ) -> CloudResult<()> {
        let call = self.begin(ELBV2, "RemoveListenerCertificates", true).await;
        call.finished(listeners::remove_listener_certificates(&self.elbv2, arn, certificates).await)
    }

    async fn describe_load_balancers(
        &self,
        arns: &[String],
    ) -> CloudResult<Vec<ObservedLoadBalancer>> {
        let call = self.begin(ELBV2, "DescribeLoadBalancers", false).await;
        call.finished(load_balancers::describe(&self.elbv2, arns).await)
    }

    async fn describe_load_balancer_attributes(
        &self,
        arn: &str,
    ) -> CloudResult<BTreeMap<String, String>> {
        let call = self
            .begin(ELBV2, "DescribeLoadBalancerAttributes", false)
            .await;
        call.finished(load_balancers::describe_attributes(&self.elbv2, arn).await)
    }

    async fn describe_listeners(
        &self,
        load_balancer_arn: &str,
    ) -> CloudResult<Vec<ObservedListener>> {
        let call = self.begin(ELBV2, "DescribeListeners", false).await;
        call.finished(listeners::describe_listeners(&self.elbv2, load_balancer_arn).await)
    }

    async fn describe_target_groups(
        &self,
        arns: &[String],
    ) -> CloudResult<Vec<ObservedTargetGroup>> {
        let call = self.begin(ELBV2, "DescribeTargetGroups", false).await;
        call.finished(target_groups::describe(&self.elbv2, arns).await)
    }

    async fn describe_target_group_attributes(
        &self,
        arn: &str,
    ) -> CloudResult<BTreeMap<String, String>> {
        let call = self
            .begin(ELBV2, "DescribeTargetGroupAttributes", false)
            .await;
        call.finished(target_groups::describe_attributes(&self.elbv2, arn).await)
    }

    async fn describe_tags(&self, arns: &[String]) -> CloudResult<BTreeMap<String, Tags>> {
        tags::describe_tags(self, arns).await
    }

    async fn create_load_balancer(
        &self,
        input: &LoadBalancerInput,
    ) -> CloudResult<ObservedLoadBalancer> {
        let call = self.begin(ELBV2, "CreateLoadBalancer", true).await;
        call.finished(load_balancers::create(&self.elbv2, input).await)
    }

    async fn delete_load_balancer(&self, arn: &str) -> CloudResult<()> {
        let call = self.begin(ELBV2, "DeleteLoadBalancer", true).await;
        call.finished(load_balancers::delete(&self.elbv2, arn).await)
    }

    async fn modify_load_balancer_attributes(
        &self,
        arn: &str,
        attributes: &BTreeMap<String, String>,
    ) -> CloudResult<()> {
        let call = self
            .begin(ELBV2, "ModifyLoadBalancerAttributes", true)
            .await;
        call.finished(load_balancers::modify_attributes(&self.elbv2, arn, attributes).await)
    }

    async fn set_security_groups(&self, arn: &str, group_ids: &[String]) -> CloudResult<()> {
        let call = self.begin(ELBV2, "SetSecurityGroups", true).await;
        call.finished(load_balancers::set_security_groups(&self.elbv2, arn, group_ids).await)
    }

    async fn set_subnets(
        &self,
        arn: &str,
        mappings: &[SubnetMapping],
        ipv6_source_nat: Option<bool>,
    ) -> CloudResult<()> {
        let call = self.begin(ELBV2, "SetSubnets", true).await;
        call.finished(
            load_balancers::set_subnets(&self.elbv2, arn, mappings, ipv6_source_nat).await,
        )
    }

    async fn set_ip_address_type(
        &self,
        arn: &str,
        ip_address_type: IpAddressType,
    ) -> CloudResult<()> {
        let call = self.begin(ELBV2, "SetIpAddressType", true).await;
        call.finished(load_balancers::set_ip_address_type(&self.elbv2, arn, ip_address_type).await)
    }

    async fn create_target_group(
        &self,
        input: &TargetGroupInput,
    ) -> CloudResult<ObservedTargetGroup> {
        let call = self.begin(ELBV2, "CreateTargetGroup", true).await;
        call.finished(target_groups::create(&self.elbv2, input).await)
    }

    async fn modify_target_group(&self, arn: &str, health_check: &HealthCheck) -> CloudResult<()> {
        let call = self.begin(ELBV2, "ModifyTargetGroup", true).await;
        call.finished(target_groups::modify(&self.elbv2, arn, health_check).await)
    }

    async fn modify_target_group_attributes(
        &self,
        arn: &str,
        attributes: &BTreeMap<String, String>,
    ) -> CloudResult<()> {
        let call = self.begin(ELBV2, "ModifyTargetGroupAttributes", true).await;
        call.finished(target_groups::modify_attributes(&self.elbv2, arn, attributes).await)
    }

    async fn delete_target_group(&self, arn: &str) -> CloudResult<()> {
        let call = self.begin(ELBV2, "DeleteTargetGroup", true).await;
        call.finished(target_groups::delete(&self.elbv2, arn).await)
    }

    async fn create_listener(&self, input: &ListenerInput) -> CloudResult<ObservedListener> {
        let call = self.begin(ELBV2, "CreateListener", true).await;
        call.finished(listeners::create_listener(&self.elbv2, input).await)
    }

    async fn modify_listener(&self, arn: &str, input: &ListenerInput) -> CloudResult<()> {
        let call = self.begin(ELBV2, "ModifyListener", true).await;
        call.finished(listeners::modify_listener(&self.elbv2, arn, input).await)
    }

    async fn describe_listener_attributes(
        &self,
        arn: &str,
    ) -> CloudResult<BTreeMap<String, String>> {
        let call = self.begin(ELBV2, "DescribeListenerAttributes", false).await;
        call.finished(listeners::describe_listener_attributes(&self.elbv2, arn).await)
    }

    async fn modify_listener_attributes(
        &self,
        arn: &str,
        attributes: &BTreeMap<String, String>,
    ) -> CloudResult<()> {
        let call = self.begin(ELBV2, "ModifyListenerAttributes", true).await;
        call.finished(listeners::modify_listener_attributes(&self.elbv2, arn, attributes).await)
    }

    async fn delete_listener(&self, arn: &str) -> CloudResult<()> {
        let call = self.begin(ELBV2, "DeleteListener", true).await;
        call.finished(listeners::delete_listener(&self.elbv2, arn).await)
    }

    async fn describe_rules(&self, listener_arn: &str) -> CloudResult<Vec<ObservedRule>> {
        let call = self.begin(ELBV2, "DescribeRules", false).await;
        call.finished(rules::describe_rules(&self.elbv2, listener_arn).await)
    }

    async fn create_rule(&self, input: &RuleInput) -> CloudResult<ObservedRule> {
        let call = self.begin(ELBV2, "CreateRule", true).await;
        call.finished(rules::create_rule(&self.elbv2, input).await)
    }

    async fn modify_rule(&self, arn: &str, content: &RuleContent) -> CloudResult<()> {
        let call = self.begin(ELBV2, "ModifyRule", true).await;
        call.finished(rules::modify_rule(&self.elbv2, arn, content).await)
    }

    async fn set_rule_priorities(&self, priorities: &[(String, i32)]) -> CloudResult<()> {
        let call = self.begin(ELBV2, "SetRulePriorities", true).await;
        call.finished(rules::set_rule_priorities(&self.elbv2, priorities).await)
    }

    async fn delete_rule(&self, arn: &str) -> CloudResult<()> {
        let call = self.begin(ELBV2, "DeleteRule", true).await;
        call.finished(rules::delete_rule(&self.elbv2, arn).await)
    }

    async fn add_tags(&self, arns: &[String], tags: &Tags) -> CloudResult<()> {
        let call = self.begin(ELBV2, "AddTags", true).await;
        call.finished(tags::add_tags(&self.elbv2, arns, tags).await)
    }

    async fn remove_tags(&self, arns: &[String], keys: &[String]) -> CloudResult<()> {
        let call = self.begin(ELBV2, "RemoveTags", true).await;
        call.finished(tags::remove_tags(&self.elbv2, arns, keys).await)
    }
}

impl Ec2 for SdkCloud {
    async fn describe_route_tables(
        &self,
        vpc_id: &str,
    ) -> CloudResult<Vec<crate::facts::RouteTable>> {
        let call = self.begin(EC2, "DescribeRouteTables", false).await;
        call.finished(security_groups::describe_route_tables(&self.ec2, vpc_id).await)
    }

    async fn describe_subnets(&self, vpc_id: &str) -> CloudResult<Vec<crate::facts::Subnet>> {
        let call = self.begin(EC2, "DescribeSubnets", false).await;
        call.finished(security_groups::describe_subnets(&self.ec2, vpc_id).await)
    }

    async fn describe_security_groups(
        &self,
        group_ids: &[String],
    ) -> CloudResult<Vec<ObservedSecurityGroup>> {
        let call = self.begin(EC2, "DescribeSecurityGroups", false).await;
        call.finished(
            security_groups::describe(&self.ec2, Some(group_ids), None, &Tags::new()).await,
        )
    }

    async fn find_security_groups(
        &self,
        vpc_id: &str,
        tags: &Tags,
    ) -> CloudResult<Vec<ObservedSecurityGroup>> {
        let call = self.begin(EC2, "DescribeSecurityGroups", false).await;
        call.finished(security_groups::describe(&self.ec2, None, Some(vpc_id), tags).await)
    }

    async fn create_security_group(&self, input: &SecurityGroupInput) -> CloudResult<String> {
        let call = self.begin(EC2, "CreateSecurityGroup", true).await;
        call.finished(security_groups::create(&self.ec2, input).await)
    }

    async fn authorize_ingress(&self, group_id: &str, rules: &[IngressRule]) -> CloudResult<()> {
        let call = self.begin(EC2, "AuthorizeSecurityGroupIngress", true).await;
        call.finished(security_groups::authorize(&self.ec2, group_id, rules).await)
    }

    async fn revoke_ingress(&self, group_id: &str, rules: &[IngressRule]) -> CloudResult<()> {
        let call = self.begin(EC2, "RevokeSecurityGroupIngress", true).await;
        call.finished(security_groups::revoke(&self.ec2, group_id, rules).await)
    }

    async fn delete_security_group(&self, group_id: &str) -> CloudResult<()> {
        let call = self.begin(EC2, "DeleteSecurityGroup", true).await;
        call.finished(security_groups::delete(&self.ec2, group_id).await)
    }

    async fn describe_instance_interfaces(
        &self,
        instance_ids: &[String],
    ) -> CloudResult<Vec<NetworkInterface>> {
        let call = self.begin(EC2, "DescribeInstances", false).await;
        call.finished(interfaces::describe_instance_interfaces(&self.ec2, instance_ids).await)
    }

    async fn describe_network_interfaces(
        &self,
        interface_ids: &[String],
    ) -> CloudResult<Vec<NetworkInterface>> {
        let call = self.begin(EC2, "DescribeNetworkInterfaces", false).await;
        call.finished(
            interfaces::describe_network_interfaces(&self.ec2, Some(interface_ids), Vec::new())
                .await,
        )
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
        let call = self.begin(EC2, "AuthorizeSecurityGroupIngress", true).await;
        call.finished(interfaces::authorize(&self.ec2, group_id, permissions).await)
    }

    async fn revoke_target_permissions(
        &self,
        group_id: &str,
        permissions: &[crate::target_rules::Permission],
    ) -> CloudResult<()> {
        let call = self.begin(EC2, "RevokeSecurityGroupIngress", true).await;
        call.finished(interfaces::revoke(&self.ec2, group_id, permissions).await)
    }
}

impl ResourceTagging for SdkCloud {
    async fn find_tagged(&self, wanted: &Tags) -> CloudResult<Vec<TaggedResource>> {
        tags::find_tagged(self, wanted).await
    }
}

impl CertificateManager for SdkCloud {
    async fn list_certificates(&self) -> CloudResult<Vec<crate::facts::CertificateSummary>> {
        let call = self.begin(ACM, "ListCertificates", false).await;
        call.finished(certificates::list(&self.acm).await)
    }

    async fn find_certificates(&self, tags: &Tags) -> CloudResult<Vec<ObservedCertificate>> {
        requested_certificates::find(self, tags).await
    }

    async fn request_certificate(&self, request: &CertificateRequest) -> CloudResult<String> {
        let call = self.begin(ACM, "RequestCertificate", true).await;
        call.finished(requested_certificates::request(&self.acm, request).await)
    }

    async fn delete_certificate(&self, arn: &str) -> CloudResult<()> {
        let call = self.begin(ACM, "DeleteCertificate", true).await;
        call.finished(requested_certificates::delete(&self.acm, arn).await)
    }

    async fn describe_certificate(&self, arn: &str) -> CloudResult<(Vec<String>, Option<String>)> {
        let call = self.begin(ACM, "DescribeCertificate", false).await;
        call.finished(certificates::describe(&self.acm, arn).await)
    }
}

impl Dns for SdkCloud {
    async fn write_validation_records(&self, records: &[ValidationRecord]) -> CloudResult<()> {
        requested_certificates::write_records(self, records).await
    }
}

impl WebAcls for SdkCloud {
    async fn classic_web_acl_of(&self, resource_arn: &str) -> CloudResult<Option<String>> {
        let call = self
            .begin(WAF_REGIONAL, "GetWebACLForResource", false)
            .await;
        call.finished(addons::classic_web_acl_of(&self.waf_regional, resource_arn).await)
    }

    async fn associate_classic_web_acl(
        &self,
        web_acl_id: &str,
        resource_arn: &str,
    ) -> CloudResult<()> {
        let call = self.begin(WAF_REGIONAL, "AssociateWebACL", true).await;
        call.finished(
            addons::associate_classic_web_acl(&self.waf_regional, web_acl_id, resource_arn).await,
        )
    }

    async fn disassociate_classic_web_acl(&self, resource_arn: &str) -> CloudResult<()> {
        let call = self.begin(WAF_REGIONAL, "DisassociateWebACL", true).await;
        call.finished(addons::disassociate_classic_web_acl(&self.waf_regional, resource_arn).await)
    }

    async fn list_web_acls(&self) -> CloudResult<Vec<crate::facts::WebAcl>> {
        let call = self.begin(WAFV2, "ListWebACLs", false).await;
        call.finished(web_acls::list(&self.wafv2).await)
    }

    async fn web_acl_of(&self, resource_arn: &str) -> CloudResult<Option<String>> {
        let call = self.begin(WAFV2, "GetWebACLForResource", false).await;
        call.finished(web_acls::of_resource(&self.wafv2, resource_arn).await)
    }

    async fn associate_web_acl(&self, web_acl_arn: &str, resource_arn: &str) -> CloudResult<()> {
        let call = self.begin(WAFV2, "AssociateWebACL", true).await;
        call.finished(web_acls::associate(&self.wafv2, web_acl_arn, resource_arn).await)
    }

    async fn disassociate_web_acl(&self, resource_arn: &str) -> CloudResult<()> {
        let call = self.begin(WAFV2, "DisassociateWebACL", true).await;
        call.finished(web_acls::disassociate(&self.wafv2, resource_arn).await)
    }
}

impl ShieldAdvanced for SdkCloud {
    async fn shield_subscription_active(&self) -> CloudResult<bool> {
        let call = self.begin(SHIELD, "GetSubscriptionState", false).await;
        call.finished(addons::shield_subscription_active(&self.shield).await)
    }

    async fn describe_protection(
        &self,
        resource_arn: &str,
    ) -> CloudResult<Option<ShieldProtection>> {
        let call = self.begin(SHIELD, "DescribeProtection", false).await;
        call.finished(addons::describe_protection(&self.shield, resource_arn).await)
    }

    async fn create_protection(&self, name: &str, resource_arn: &str) -> CloudResult<()> {
        let call = self.begin(SHIELD, "CreateProtection", true).await;
        call.finished(addons::create_protection(&self.shield, name, resource_arn).await)
    }

    async fn delete_protection(&self, id: &str) -> CloudResult<()> {
        let call = self.begin(SHIELD, "DeleteProtection", true).await;
        call.finished(addons::delete_protection(&self.shield, id).await)
    }
}
