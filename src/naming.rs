//! Names of generated AWS resources, computed exactly as upstream computes them so that a cluster
//! switching controllers finds its load balancers, target groups and security groups again.
//!
//! `k8s-{first 8 of namespace}-{first 8 of name}-{first 10 of sha256(inputs)}`, where namespace and
//! name keep only ASCII letters and digits, and the hash inputs are concatenated without
//! separators. This module only computes names; it does not decide when a name is used.

use sha2::{Digest, Sha256};

/// Keeps ASCII letters and digits only.
pub fn sanitize(text: &str) -> String {
    text.chars().filter(char::is_ascii_alphanumeric).collect()
}

fn first(count: usize, text: &str) -> &str {
    match text.char_indices().nth(count) {
        Some((index, _)) => &text[..index],
        None => text,
    }
}

/// Lower-case hex SHA-256 of the inputs concatenated without separators.
pub fn hash(inputs: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for input in inputs {
        hasher.update(input.as_bytes());
    }
    hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// `k8s-{ns}-{name}-{hash}`: at most 32 characters, the ELB limit.
pub fn resource_name(namespace: &str, name: &str, hash_inputs: &[&str]) -> String {
    format!(
        "k8s-{}-{}-{}",
        first(8, &sanitize(namespace)),
        first(8, &sanitize(name)),
        first(10, &hash(hash_inputs))
    )
}

/// The NLB of a Service without a name annotation.
pub fn service_load_balancer_name(
    cluster: &str,
    namespace: &str,
    service: &str,
    uid: &str,
    scheme: &str,
) -> String {
    resource_name(namespace, service, &[cluster, uid, scheme])
}

/// What a target group's name is hashed from, in upstream's order.
pub struct TargetGroupNameInputs<'a> {
    pub cluster: &'a str,
    /// Only for target groups of weighted extra Services: the UID of the Service holding the annotation.
    pub base_service_uid: Option<&'a str>,
    pub service_uid: &'a str,
    pub target_group_port: i32,
    pub service_port: i32,
    pub target_type: &'a str,
    pub protocol: &'a str,
    pub health_check_protocol: &'a str,
    pub health_check_interval: i32,
}

pub fn target_group_name(namespace: &str, service: &str, inputs: &TargetGroupNameInputs) -> String {
    let target_group_port = inputs.target_group_port.to_string();
    let service_port = inputs.service_port.to_string();
    let interval = inputs.health_check_interval.to_string();
    let mut hashed: Vec<&str> = vec![inputs.cluster];
    hashed.extend(inputs.base_service_uid);
    hashed.extend([
        inputs.service_uid,
        target_group_port.as_str(),
        service_port.as_str(),
        inputs.target_type,
        inputs.protocol,
        inputs.health_check_protocol,
        interval.as_str(),
    ]);
    resource_name(namespace, service, &hashed)
}

/// The managed frontend security group of a Service (note: name hashed before namespace).
pub fn service_security_group_name(
    cluster: &str,
    namespace: &str,
    service: &str,
    uid: &str,
) -> String {
    resource_name(namespace, service, &[cluster, service, namespace, uid])
}

/// The cluster's shared backend security group.
pub fn backend_security_group_name(cluster: &str) -> String {
    format!(
        "k8s-traffic-{}-{}",
        first(232, &sanitize(cluster)),
        first(10, &hash(&[cluster]))
    )
}

/// The name of an Ingress group's resources: `k8s-{first 17 of group}-{hash}` for an explicit
/// group, `k8s-{ns}-{name}-{hash}` for an implicit one (its only Ingress).
fn ingress_group_resource_name(
    group: &crate::model::identity::GroupId,
    hash_inputs: &[&str],
) -> String {
    match group {
        crate::model::identity::GroupId::Explicit(name) => format!(
            "k8s-{}-{}",
            first(17, &sanitize(name)),
            first(10, &hash(hash_inputs))
        ),
        crate::model::identity::GroupId::Implicit { namespace, name } => {
            resource_name(namespace, name, hash_inputs)
        }
    }
}

/// The ALB of an Ingress group without an explicit name; the scheme is the effective one.
pub fn ingress_load_balancer_name(
    cluster: &str,
    group: &crate::model::identity::GroupId,
    scheme: &str,
) -> String {
    ingress_group_resource_name(group, &[cluster, &group.stack_id(), scheme])
}

/// The managed security group of an Ingress group.
pub fn ingress_security_group_name(
    cluster: &str,
    group: &crate::model::identity::GroupId,
) -> String {
    ingress_group_resource_name(group, &[cluster, &group.stack_id()])
}

/// The frontend NLB of an ALB: the ALB's name cut to 28 characters, then `-nlb`.
pub fn frontend_nlb_name(alb_name: &str) -> String {
    format!("{}-nlb", first(28, alb_name))
}

/// A frontend NLB target group (the ALB on one NLB port), named after the group.
pub fn frontend_nlb_target_group_name(
    cluster: &str,
    group: &crate::model::identity::GroupId,
    nlb_port: i32,
    health_check_port: &str,
    health_check_protocol: &str,
) -> String {
    let port = nlb_port.to_string();
    ingress_group_resource_name(
        group,
        &[
            cluster,
            &group.stack_id(),
            &port,
            "alb",
            "TCP",
            health_check_port,
            health_check_protocol,
        ],
    )
}

/// What an Ingress target group's name is hashed from, in upstream's order.
pub struct IngressTargetGroupNameInputs<'a> {
    pub cluster: &'a str,
    pub group: &'a crate::model::identity::GroupId,
    pub ingress_namespace: &'a str,
    pub ingress_name: &'a str,
    pub service_uid: &'a str,
    /// The backend port as written: a number or a port name.
    pub service_port: &'a str,
    pub target_group_port: i32,
    pub target_type: &'a str,
    pub protocol: &'a str,
    /// `HTTP1`, `HTTP2` or `GRPC`.
    pub protocol_version: &'a str,
    pub target_control_port: Option<i32>,
}

/// An Ingress target group (and its TargetGroupBinding): named after the Service.
pub fn ingress_target_group_name(
    service_namespace: &str,
    service_name: &str,
    inputs: &IngressTargetGroupNameInputs,
) -> String {
    let stack_id = inputs.group.stack_id();
    let target_group_port = inputs.target_group_port.to_string();
    let control_port = inputs.target_control_port.map(|p| p.to_string());
    let mut hashed = vec![
        inputs.cluster,
        stack_id.as_str(),
        inputs.ingress_namespace,
        inputs.ingress_name,
        inputs.service_uid,
        inputs.service_port,
        target_group_port.as_str(),
        inputs.target_type,
        inputs.protocol,
        inputs.protocol_version,
    ];
    hashed.extend(control_port.as_deref());
    resource_name(service_namespace, service_name, &hashed)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The worked example of the compatibility specification: cluster `prod`, Service
    // `default/echo-server` with this UID.
    const UID: &str = "0f9d3c1e-5b6a-4c2d-9e8f-123456789abc";

    fn target_group(port: i32, target_type: &str, health_check: &str) -> String {
        target_group_name(
            "default",
            "echo-server",
            &TargetGroupNameInputs {
                cluster: "prod",
                base_service_uid: None,
                service_uid: UID,
                target_group_port: port,
                service_port: 80,
                target_type,
                protocol: "TCP",
                health_check_protocol: health_check,
                health_check_interval: 10,
            },
        )
    }

    #[test]
    fn names_match_upstream_for_the_worked_example() {
        let lb = |scheme| service_load_balancer_name("prod", "default", "echo-server", UID, scheme);
        assert_eq!(lb("internet-facing"), "k8s-default-echoserv-64339e90e0");
        assert_eq!(lb("internal"), "k8s-default-echoserv-09fc197b5d");
        assert_eq!(
            target_group(30080, "instance", "TCP"),
            "k8s-default-echoserv-77af457ed4"
        );
        assert_eq!(
            target_group(8080, "ip", "TCP"),
            "k8s-default-echoserv-5b4c89377a"
        );
        assert_eq!(
            target_group(31234, "instance", "HTTP"),
            "k8s-default-echoserv-eefca94708"
        );
        assert_eq!(
            service_security_group_name("prod", "default", "echo-server", UID),
            "k8s-default-echoserv-7e33fc22b2"
        );
        assert_eq!(
            backend_security_group_name("prod"),
            "k8s-traffic-prod-6754af9632"
        );
    }

    #[test]
    fn sanitizing_keeps_letters_and_digits_and_truncates_by_character() {
        assert_eq!(sanitize("échø-1_a.b"), "ch1ab");
        assert_eq!(
            resource_name("a-very-long-namespace", "x", &["h"]).len(),
            "k8s-averylon-x-".len() + 10
        );
    }

    #[test]
    fn frontend_nlb_names_follow_the_alb_name_and_the_hashed_port() {
        use crate::model::identity::GroupId;
        // Vectors computed from the specification's rule (sha256 of the inputs, first 10).
        assert_eq!(
            frontend_nlb_name("k8s-default-echoserv-0cec380b25"),
            "k8s-default-echoserv-0cec380-nlb"
        );
        assert_eq!(frontend_nlb_name("short"), "short-nlb");
        let explicit = GroupId::Explicit("team-a.web".into());
        assert_eq!(
            frontend_nlb_target_group_name("my-cluster", &explicit, 80, "traffic-port", "HTTP"),
            "k8s-teamaweb-eb01801ce6"
        );
        let implicit = GroupId::Implicit {
            namespace: "default".into(),
            name: "echo-server".into(),
        };
        assert_eq!(
            frontend_nlb_target_group_name("my-cluster", &implicit, 8443, "8080", "HTTPS"),
            "k8s-default-echoserv-413113054e"
        );
    }

    #[test]
    fn ingress_names_match_upstreams_worked_examples() {
        use crate::model::identity::GroupId;
        let implicit = GroupId::Implicit {
            namespace: "default".into(),
            name: "echo-server".into(),
        };
        let explicit = GroupId::Explicit("team-a.web".into());
        assert_eq!(
            ingress_load_balancer_name("my-cluster", &implicit, "internet-facing"),
            "k8s-default-echoserv-0cec380b25"
        );
        assert_eq!(
            ingress_load_balancer_name("my-cluster", &explicit, "internal"),
            "k8s-teamaweb-799854b0ba"
        );
        assert_eq!(
            ingress_security_group_name("my-cluster", &implicit),
            "k8s-default-echoserv-dab668ddb1"
        );
        assert_eq!(
            ingress_security_group_name("my-cluster", &explicit),
            "k8s-teamaweb-ad23e72c11"
        );
        let target_group = ingress_target_group_name(
            "default",
            "echo-server",
            &IngressTargetGroupNameInputs {
                cluster: "my-cluster",
                group: &implicit,
                ingress_namespace: "default",
                ingress_name: "echo-server",
                service_uid: "3f2c1a9e-0000-4000-8000-000000000001",
                service_port: "80",
                target_group_port: 30080,
                target_type: "instance",
                protocol: "HTTP",
                protocol_version: "HTTP1",
                target_control_port: None,
            },
        );
        assert_eq!(target_group, "k8s-default-echoserv-79a6dcefcf");
        assert_eq!(
            ingress_load_balancer_name("my-cluster", &GroupId::Explicit("web".into()), "internal"),
            "k8s-web-66ee2ef97b",
            "the group worked example (spec 2.5.1)"
        );
        assert_eq!(
            ingress_security_group_name("my-cluster", &GroupId::Explicit("web".into())),
            "k8s-web-3264b2e21d"
        );
    }
}
