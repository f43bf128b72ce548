//! The TargetGroupBinding webhooks. The mutator (`mtargetgroupbinding.elbv2.k8s.aws`) fills what
//! a new binding leaves out from its target group: the ARN from `targetGroupName`, then
//! `targetType`, `targetGroupProtocol` and `vpcID`. The validator (`vtargetgroupbinding…`)
//! refuses a binding without a target group or type, a node selector or an assumed role on the
//! wrong target type, QUIC with instance targets, a malformed VPC id, a target group already
//! bound by another binding (unless every one of them is multi-cluster), and on update any
//! change of the immutable fields (a problem the stored object already had never blocks its
//! updates). Pure: the caller looks the target group up and hands in the
//! other bindings from its cache.

use crate::cloud::ObservedTargetGroup;
use crate::crd::target_group_binding::{
    BindingIpAddressType, BindingProtocol, BindingTargetType, TargetGroupBinding,
    TargetGroupBindingSpec,
};
use std::sync::LazyLock;

static VPC_ID: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new("^vpc-([0-9a-f]{8}|[0-9a-f]{17}|[0-9a-f]{32})$").expect("a valid regex")
});

/// What the mutator reads of a binding's target group (from `DescribeTargetGroups`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundTargetGroup {
    pub arn: String,
    /// AWS's value: `instance`, `ip`, `alb` or `lambda`.
    pub target_type: String,
    /// AWS's value, e.g. `TCP`, `HTTP`.
    pub protocol: String,
    pub vpc_id: String,
    /// AWS's value: `ipv4` or `ipv6` (empty counts as `ipv4`).
    pub ip_address_type: String,
}

impl From<&ObservedTargetGroup> for BoundTargetGroup {
    fn from(group: &ObservedTargetGroup) -> Self {
        let text = |value: serde_json::Value| value.as_str().unwrap_or_default().to_string();
        Self {
            arn: group.arn.clone(),
            target_type: serde_json::to_value(group.target_type)
                .map(text)
                .unwrap_or_default(),
            protocol: serde_json::to_value(group.protocol)
                .map(text)
                .unwrap_or_default(),
            vpc_id: group.vpc_id.clone(),
            ip_address_type: group.ip_address_type.clone(),
        }
    }
}

impl From<&crate::facts::TargetGroup> for BoundTargetGroup {
    fn from(group: &crate::facts::TargetGroup) -> Self {
        Self {
            arn: group.target_group_arn.clone(),
            target_type: group.target_type.clone(),
            protocol: group.protocol.clone(),
            vpc_id: group.vpc_id.clone(),
            ip_address_type: group.ip_address_type.clone().unwrap_or_default(),
        }
    }
}

/// The binding's spec needs its target group looked up (a name to resolve or a field to
/// default).
pub fn needs_target_group(spec: &TargetGroupBindingSpec) -> bool {
    arn_of(spec).is_none()
        || spec.target_type.is_none()
        || spec.target_group_protocol.is_none()
        || spec.ip_address_type.is_none()
        || spec.vpc_id.as_deref().unwrap_or_default().is_empty()
}

/// The spec a new binding gets from its target group: only fields the user left out are
/// filled. A target group of a type a binding cannot manage is refused.
pub fn defaulted_spec(
    spec: &TargetGroupBindingSpec,
    target_group: &BoundTargetGroup,
) -> Result<TargetGroupBindingSpec, String> {
    let mut defaulted = spec.clone();
    if arn_of(&defaulted).is_none() {
        defaulted.target_group_arn = Some(target_group.arn.clone());
    }
    if defaulted.target_type.is_none() {
        defaulted.target_type = Some(match target_group.target_type.as_str() {
            "instance" => BindingTargetType::Instance,
            "ip" => BindingTargetType::Ip,
            other => {
                return Err(format!(
                    "spec.targetType: target group {} has target type {other:?}, which a binding cannot manage (instance or ip)",
                    target_group.arn
                ))
            }
        });
    }
    if defaulted.target_group_protocol.is_none() {
        defaulted.target_group_protocol =
            serde_json::from_value::<BindingProtocol>(target_group.protocol.clone().into()).ok();
    }
    if defaulted.ip_address_type.is_none() {
        defaulted.ip_address_type = Some(match target_group.ip_address_type.as_str() {
            "ipv6" => BindingIpAddressType::Ipv6,
            _ => BindingIpAddressType::Ipv4,
        });
    }
    if defaulted.vpc_id.as_deref().unwrap_or_default().is_empty() && !target_group.vpc_id.is_empty()
    {
        defaulted.vpc_id = Some(target_group.vpc_id.clone());
    }
    Ok(defaulted)
}

fn arn_of(spec: &TargetGroupBindingSpec) -> Option<&str> {
    spec.target_group_arn
        .as_deref()
        .filter(|arn| !arn.is_empty())
}

fn shape_problems(spec: &TargetGroupBindingSpec) -> Vec<String> {
    let mut problems = Vec::new();
    let named = spec
        .target_group_name
        .as_deref()
        .is_some_and(|name| !name.is_empty());
    if arn_of(spec).is_none() && !named {
        problems.push("spec.targetGroupARN or spec.targetGroupName is required".to_string());
    }
    let instance = spec.target_type == Some(BindingTargetType::Instance);
    match spec.target_type {
        None => problems.push("spec.targetType is required (instance or ip)".to_string()),
        Some(BindingTargetType::Ip) if spec.node_selector.is_some() => {
            problems.push("spec.nodeSelector: only instance targets may select nodes".into())
        }
        _ => {}
    }
    if instance
        && spec
            .iam_role_arn_to_assume
            .as_deref()
            .is_some_and(|role| !role.is_empty())
    {
        problems.push("spec.iamRoleArnToAssume: not allowed with instance targets".into());
    }
    if instance
        && matches!(
            spec.target_group_protocol,
            Some(BindingProtocol::Quic | BindingProtocol::TcpQuic)
        )
    {
        problems.push("spec.targetGroupProtocol: QUIC needs ip targets".into());
    }
    if let Some(vpc) = spec.vpc_id.as_deref().filter(|vpc| !vpc.is_empty()) {
        if !VPC_ID.is_match(vpc) {
            problems.push(format!(
                "spec.vpcID: {vpc:?} is not a VPC id (vpc- and 8, 17 or 32 lowercase hex digits)"
            ));
        }
    }
    problems
}

fn immutability_problems(
    spec: &TargetGroupBindingSpec,
    old: &TargetGroupBindingSpec,
) -> Vec<String> {
    let mut problems = Vec::new();
    if arn_of(old).is_some() && arn_of(spec) != arn_of(old) {
        problems.push("spec.targetGroupARN is immutable".to_string());
    }
    if old.target_type.is_some() && spec.target_type != old.target_type {
        problems.push("spec.targetType is immutable".to_string());
    }
    let address_type =
        |s: &TargetGroupBindingSpec| s.ip_address_type.unwrap_or(BindingIpAddressType::Ipv4);
    if address_type(spec) != address_type(old) {
        problems.push("spec.ipAddressType is immutable".to_string());
    }
    let old_vpc = old.vpc_id.as_deref().unwrap_or_default();
    if !old_vpc.is_empty() && spec.vpc_id.as_deref().unwrap_or_default() != old_vpc {
        problems.push("spec.vpcID is immutable".to_string());
    }
    problems
}

/// Another binding already manages the same target group, and not all of them share it.
fn uniqueness_problem(
    binding: &TargetGroupBinding,
    others: &[TargetGroupBinding],
) -> Option<String> {
    let arn = arn_of(&binding.spec)?;
    let key = |b: &TargetGroupBinding| {
        (
            b.metadata.namespace.clone().unwrap_or_default(),
            b.metadata.name.clone().unwrap_or_default(),
        )
    };
    let same: Vec<&TargetGroupBinding> = others
        .iter()
        .filter(|other| key(other) != key(binding) && arn_of(&other.spec) == Some(arn))
        .collect();
    let shared = |b: &TargetGroupBinding| b.spec.multi_cluster_target_group == Some(true);
    let first = same.first()?;
    if shared(binding) && same.iter().all(|other| shared(other)) {
        return None;
    }
    let (namespace, name) = key(first);
    Some(format!(
        "spec.targetGroupARN: target group {arn} is already bound by {namespace}/{name} (share it by setting multiClusterTargetGroup on every binding)"
    ))
}

/// Every problem of a binding being created (`old` absent) or updated; empty when admitted.
pub fn binding_problems(
    binding: &TargetGroupBinding,
    old: Option<&TargetGroupBinding>,
    others: &[TargetGroupBinding],
) -> Vec<String> {
    if binding.metadata.deletion_timestamp.is_some() {
        return Vec::new();
    }
    let mut problems = shape_problems(&binding.spec);
    if let Some(old) = old {
        // A problem the stored binding already had does not block its updates (the
        // controller must still be able to remove its finalizer).
        let inherited = shape_problems(&old.spec);
        problems.retain(|problem| !inherited.contains(problem));
        problems.extend(immutability_problems(&binding.spec, &old.spec));
    }
    problems.extend(uniqueness_problem(binding, others));
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{HealthCheck, Protocol, TargetType};
    use serde_json::json;

    fn binding(name: &str, spec: serde_json::Value) -> TargetGroupBinding {
        serde_json::from_value(json!({
            "apiVersion": "elbv2.k8s.aws/v1beta1", "kind": "TargetGroupBinding",
            "metadata": {"name": name, "namespace": "web"}, "spec": spec
        }))
        .unwrap()
    }

    fn target_group(target_type: TargetType) -> BoundTargetGroup {
        BoundTargetGroup::from(&ObservedTargetGroup {
            arn: "arn:aws:elasticloadbalancing:us-west-2:1:targetgroup/web/1".into(),
            name: "web".into(),
            target_type,
            protocol: Protocol::Tcp,
            protocol_version: None,
            port: 80,
            vpc_id: "vpc-0123456789abcdef0".into(),
            ip_address_type: "ipv6".into(),
            health_check: HealthCheck::nlb_default(),
            load_balancer_arns: Vec::new(),
        })
    }

    #[test]
    fn a_binding_by_name_is_completed_from_its_target_group() {
        let by_name = binding(
            "a",
            json!({"targetGroupName": "web", "serviceRef": {"name": "web", "port": 80}}),
        );
        let spec = defaulted_spec(&by_name.spec, &target_group(TargetType::Ip)).unwrap();
        assert_eq!(
            spec.target_group_arn.as_deref(),
            Some("arn:aws:elasticloadbalancing:us-west-2:1:targetgroup/web/1")
        );
        assert_eq!(spec.target_type, Some(BindingTargetType::Ip));
        assert_eq!(spec.target_group_protocol, Some(BindingProtocol::Tcp));
        assert_eq!(spec.vpc_id.as_deref(), Some("vpc-0123456789abcdef0"));
        assert_eq!(
            spec.ip_address_type,
            Some(BindingIpAddressType::Ipv6),
            "the address type comes from the target group"
        );
        let mut ipv4_group = target_group(TargetType::Ip);
        ipv4_group.ip_address_type = String::new();
        assert_eq!(
            defaulted_spec(&by_name.spec, &ipv4_group)
                .unwrap()
                .ip_address_type,
            Some(BindingIpAddressType::Ipv4),
            "AWS leaving it out means ipv4"
        );
        let chosen = binding(
            "a",
            json!({"targetGroupARN": "arn:x", "targetType": "instance", "serviceRef": {"name": "web", "port": 80}}),
        );
        let kept = defaulted_spec(&chosen.spec, &target_group(TargetType::Ip)).unwrap();
        assert_eq!(
            kept.target_type,
            Some(BindingTargetType::Instance),
            "the user's choice stays"
        );
        assert_eq!(kept.target_group_arn.as_deref(), Some("arn:x"));
        assert!(
            defaulted_spec(&chosen.spec, &target_group(TargetType::Alb)).is_ok(),
            "type given"
        );
        let untyped = binding(
            "a",
            json!({"targetGroupARN": "arn:x", "serviceRef": {"name": "web", "port": 80}}),
        );
        assert!(
            defaulted_spec(&untyped.spec, &target_group(TargetType::Alb))
                .unwrap_err()
                .contains("spec.targetType")
        );
        assert!(!needs_target_group(&kept) && needs_target_group(&untyped.spec));
    }

    #[test]
    fn shape_problems_name_their_fields() {
        let empty = binding("a", json!({"serviceRef": {"name": "web", "port": 80}}));
        let problems = binding_problems(&empty, None, &[]);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("spec.targetGroupARN or spec.targetGroupName"));
        assert!(problems[1].contains("spec.targetType"));
        let wrong = binding(
            "a",
            json!({
            "targetGroupARN": "arn:x", "targetType": "ip", "nodeSelector": {"matchLabels": {"a": "b"}},
            "vpcID": "vpc-XYZ", "serviceRef": {"name": "web", "port": 80}}),
        );
        let problems = binding_problems(&wrong, None, &[]);
        assert!(
            problems.iter().any(|p| p.starts_with("spec.nodeSelector")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.starts_with("spec.vpcID")),
            "{problems:?}"
        );
        let instance = binding(
            "a",
            json!({
            "targetGroupARN": "arn:x", "targetType": "instance", "targetGroupProtocol": "QUIC",
            "iamRoleArnToAssume": "arn:role", "serviceRef": {"name": "web", "port": 80}}),
        );
        let problems = binding_problems(&instance, None, &[]);
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("spec.iamRoleArnToAssume")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("spec.targetGroupProtocol")),
            "{problems:?}"
        );
    }

    #[test]
    fn immutable_fields_stay_and_a_target_group_has_one_binding_unless_shared() {
        let old = binding(
            "a",
            json!({"targetGroupARN": "arn:x", "targetType": "ip", "serviceRef": {"name": "web", "port": 80}}),
        );
        let moved = binding(
            "a",
            json!({"targetGroupARN": "arn:y", "targetType": "instance", "ipAddressType": "ipv6", "serviceRef": {"name": "web", "port": 80}}),
        );
        let problems = binding_problems(&moved, Some(&old), &[]);
        assert_eq!(
            problems,
            vec![
                "spec.targetGroupARN is immutable",
                "spec.targetType is immutable",
                "spec.ipAddressType is immutable",
            ]
        );
        let explicit_default = binding(
            "a",
            json!({"targetGroupARN": "arn:x", "targetType": "ip", "ipAddressType": "ipv4", "serviceRef": {"name": "web", "port": 80}}),
        );
        assert!(
            binding_problems(&explicit_default, Some(&old), std::slice::from_ref(&old)).is_empty(),
            "nil → ipv4 is no change; itself is no rival"
        );
        let rival = binding(
            "b",
            json!({"targetGroupARN": "arn:x", "targetType": "ip", "serviceRef": {"name": "api", "port": 80}}),
        );
        let problems = binding_problems(&rival, None, std::slice::from_ref(&old));
        assert!(
            problems[0].contains("already bound by web/a"),
            "{problems:?}"
        );
        let untyped = binding(
            "a",
            json!({"targetGroupARN": "arn:x", "serviceRef": {"name": "web", "port": 80}}),
        );
        assert!(
            binding_problems(&untyped, Some(&untyped), &[]).is_empty(),
            "an old problem does not block updates"
        );
        assert_eq!(
            binding_problems(&untyped, Some(&old), &[]).len(),
            2,
            "a new one does (and the type changed)"
        );
        let shared = |name: &str| {
            binding(
                name,
                json!({"targetGroupARN": "arn:x", "targetType": "ip", "multiClusterTargetGroup": true, "serviceRef": {"name": "api", "port": 80}}),
            )
        };
        assert!(binding_problems(&shared("b"), None, &[shared("a")]).is_empty());
        assert_eq!(
            binding_problems(&shared("b"), None, &[old]).len(),
            1,
            "all must share"
        );
    }
}
