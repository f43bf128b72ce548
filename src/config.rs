//! The controller's configuration as the pure steps see it: cluster identity, defaults and the
//! feature gates that change what gets built, with upstream's startup validation.
//!
//! Parsing flags into this value is the binary's job; this module only holds and checks it.

use crate::model::{Scheme, TargetType};
use std::collections::{BTreeMap, BTreeSet};

/// Tag keys the controller owns for tracking; users may not set them.
pub const TRACKING_TAG_KEYS: &[&str] = &[
    "elbv2.k8s.aws/cluster",
    "elbv2.k8s.aws/resource",
    "ingress.k8s.aws/stack",
    "ingress.k8s.aws/resource",
    "service.k8s.aws/stack",
    "service.k8s.aws/resource",
    "gateway.k8s.aws.nlb/resource",
    "gateway.k8s.aws.alb/resource",
    "gateway.k8s.aws.nlb/stack",
    "gateway.k8s.aws.alb/stack",
];

/// Feature gates that change the built model (upstream names, upstream defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureGates {
    /// `EnableTCPUDPListener` (default off): merge TCP and UDP ports of one number.
    pub tcp_udp_listener: bool,
    /// `SubnetsClusterTagCheck` (default on).
    pub subnets_cluster_tag_check: bool,
    /// `NLBHealthCheckAdvancedConfig` (default on): timeout and success codes annotations apply.
    pub nlb_health_check_advanced_config: bool,
    /// `ListenerRulesTagging` (default on): listeners carry tags.
    pub listener_rules_tagging: bool,
    /// `EnableIPTargetType` (default on).
    pub ip_target_type: bool,
    /// `NLBSecurityGroup` (default on): NLBs get security groups.
    pub nlb_security_group: bool,
    /// `LBCapacityReservation` (default on): minimum capacity annotations apply.
    pub lb_capacity_reservation: bool,
    /// `EnhancedDefaultBehavior` (default off): an HTTPS listener no member gives
    /// `mutual-authentication` has mutual TLS turned off (else AWS is left as it is).
    pub enhanced_default_behavior: bool,
    /// `IngressPlanAnnotation` (default off): the group's desired stack is written to the first
    /// member's `alb.ingress.kubernetes.io/dry-run-plan` annotation.
    pub ingress_plan_annotation: bool,
    /// `EnableCertificateManagement` (default off): `create-acm-cert` requests certificates.
    pub certificate_management: bool,
}

impl Default for FeatureGates {
    fn default() -> Self {
        Self {
            tcp_udp_listener: false,
            subnets_cluster_tag_check: true,
            nlb_health_check_advanced_config: true,
            listener_rules_tagging: true,
            ip_target_type: true,
            nlb_security_group: true,
            lb_capacity_reservation: true,
            enhanced_default_behavior: false,
            ingress_plan_annotation: false,
            certificate_management: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControllerConfig {
    pub cluster_name: String,
    pub vpc_id: String,
    pub default_scheme: Scheme,
    pub default_target_type: TargetType,
    pub default_ssl_policy: String,
    pub load_balancer_class: String,
    pub default_tags: BTreeMap<String, String>,
    pub external_managed_tags: BTreeSet<String>,
    pub enable_backend_security_group: bool,
    pub backend_security_group: Option<String>,
    /// `--enable-manage-backend-security-group-rules`: the default of the
    /// `manage-backend-security-group-rules` annotations (user security groups).
    pub manage_backend_security_group_rules: bool,
    /// `--disable-restricted-sg-rules`: target security groups admit every port, not only the
    /// traffic and health-check ports.
    pub disable_restricted_sg_rules: bool,
    /// Tags a target interface's security group must carry to receive the rules.
    pub service_target_eni_security_group_tags: BTreeMap<String, String>,
    /// `--tolerate-non-existent-backend-service`: a rule forwarding to a missing Service answers
    /// 503 (else its Ingress is held with an error).
    pub tolerate_missing_backend_service: bool,
    /// `--tolerate-non-existent-backend-action`: a `use-annotation` backend without its
    /// `actions.*` annotation answers 503 (else its Ingress is held with an error).
    pub tolerate_missing_backend_action: bool,
    pub feature_gates: FeatureGates,
    /// `--enable-wafv2`: the `wafv2-acl-*` annotations are acted on.
    pub enable_wafv2: bool,
    /// `--enable-waf`: the WAF Classic `waf-acl-id` annotation is acted on.
    pub enable_waf: bool,
    /// `--enable-shield`: `shield-advanced-protection` is acted on.
    pub enable_shield: bool,
    /// `--allowed-certificate-authority-arns`: when set, certificate discovery takes only
    /// certificates issued by these private CAs.
    pub allowed_certificate_authorities: BTreeSet<String>,
    /// `--default-pca-arn`: the private CA of certificates `create-acm-cert` requests when the
    /// Ingress names none (`acm-pca-arn`); none requests public (Amazon-issued) certificates.
    pub default_pca_arn: Option<String>,
    /// `--max-rules-per-security-group`: the account's quota of inbound rules per security group;
    /// a managed group needing more is spread over extra groups (ours; upstream fails).
    pub rules_per_security_group: usize,
}

impl ControllerConfig {
    /// Upstream's defaults for everything but the cluster and VPC.
    pub fn new(cluster_name: &str, vpc_id: &str) -> Self {
        Self {
            cluster_name: cluster_name.to_string(),
            vpc_id: vpc_id.to_string(),
            default_scheme: Scheme::Internal,
            default_target_type: TargetType::Instance,
            default_ssl_policy: "ELBSecurityPolicy-2016-08".to_string(),
            load_balancer_class: "service.k8s.aws/nlb".to_string(),
            default_tags: BTreeMap::new(),
            external_managed_tags: BTreeSet::new(),
            enable_backend_security_group: true,
            backend_security_group: None,
            manage_backend_security_group_rules: false,
            disable_restricted_sg_rules: false,
            service_target_eni_security_group_tags: BTreeMap::new(),
            tolerate_missing_backend_service: true,
            tolerate_missing_backend_action: true,
            feature_gates: FeatureGates::default(),
            enable_wafv2: true,
            enable_waf: true,
            enable_shield: true,
            rules_per_security_group:
                crate::plan::security_groups::DEFAULT_RULES_PER_SECURITY_GROUP,
            allowed_certificate_authorities: BTreeSet::new(),
            default_pca_arn: None,
        }
    }

    /// Upstream's startup checks; every problem is listed.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        if self.cluster_name.is_empty() {
            problems.push("the cluster name must be specified (--cluster-name)".to_string());
        }
        for key in self.default_tags.keys() {
            if TRACKING_TAG_KEYS.contains(&key.as_str()) {
                problems.push(format!("tag key {key} cannot be specified in --default-tags: the controller uses it for tracking"));
            }
        }
        for key in &self.external_managed_tags {
            if TRACKING_TAG_KEYS.contains(&key.as_str()) {
                problems.push(format!("tag key {key} cannot be specified in --external-managed-tags: the controller uses it for tracking"));
            }
            if self.default_tags.contains_key(key) {
                problems.push(format!(
                    "tag key {key} cannot be in both --default-tags and --external-managed-tags"
                ));
            }
        }
        if let Some(group) = &self.backend_security_group {
            if !group.starts_with("sg-") {
                problems.push(format!(
                    "invalid value {group} for --backend-security-group: expected an sg- id"
                ));
            }
        }
        if self.manage_backend_security_group_rules && !self.enable_backend_security_group {
            problems.push("--enable-manage-backend-security-group-rules needs the backend security group (--enable-backend-security-group=true)".to_string());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn startup_validation_lists_every_problem() {
        let mut config = ControllerConfig::new("", "vpc-1");
        config
            .default_tags
            .insert("service.k8s.aws/stack".into(), "x".into());
        config.external_managed_tags.insert("team".into());
        config.default_tags.insert("team".into(), "a".into());
        config.backend_security_group = Some("my-group".into());
        config.manage_backend_security_group_rules = true;
        config.enable_backend_security_group = false;
        let problems = config.validate().unwrap_err();
        assert_eq!(problems.len(), 5, "{problems:?}");
        assert!(problems
            .iter()
            .any(|p| p.contains("--enable-manage-backend-security-group-rules")));
        assert!(ControllerConfig::new("prod", "vpc-1").validate().is_ok());
    }
}
