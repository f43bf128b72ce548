//! The TargetGroupBindings of a Service's stack: one per target group, named after it, labelled
//! with the stack, pointing at its ARN (upstream's §3.6). Existing bindings are found by the
//! stack labels (listed, or read from the Ingress loop's store) and matched by ARN; changed ones
//! are patched, unwanted ones deleted.
//!
//! `spec.networking` is the model's, with the load balancer's security groups turned into the
//! ids the apply found or created. Registering targets and applying the networking rules to
//! the targets' security groups is the target-registration loop's job, not this module's.

use crate::apply::Applied;
use crate::crd::target_group_binding::{
    BindingIpAddressType, BindingProtocol, BindingTargetType, IpBlock, NetworkingIngressRule,
    NetworkingPeer, NetworkingPort, NetworkingProtocol, SecurityGroupPeer, ServiceReference,
    TargetGroupBinding, TargetGroupBindingNetworking, TargetGroupBindingSpec,
};
use crate::model::{self, NetworkingPortNumber, Protocol, SecurityGroupRef, Stack, TargetType};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::reflector::Store;
use kube::ResourceExt;
use std::collections::BTreeMap;

pub const STACK_NAMESPACE_LABEL: &str = "service.k8s.aws/stack-namespace";
pub const STACK_NAME_LABEL: &str = "service.k8s.aws/stack-name";

fn protocol(protocol: Protocol) -> BindingProtocol {
    match protocol {
        Protocol::Tcp => BindingProtocol::Tcp,
        Protocol::Udp => BindingProtocol::Udp,
        Protocol::TcpUdp => BindingProtocol::TcpUdp,
        Protocol::Tls => BindingProtocol::Tls,
        Protocol::Quic => BindingProtocol::Quic,
        Protocol::TcpQuic => BindingProtocol::TcpQuic,
        Protocol::Http => BindingProtocol::Http,
        Protocol::Https => BindingProtocol::Https,
    }
}

/// The labels of a Service stack's bindings.
pub fn service_stack_labels(stack_id: &str) -> BTreeMap<String, String> {
    let (namespace, name) = stack_id.split_once('/').unwrap_or(("default", stack_id));
    BTreeMap::from([
        (STACK_NAMESPACE_LABEL.to_string(), namespace.to_string()),
        (STACK_NAME_LABEL.to_string(), name.to_string()),
    ])
}

/// The labels of an Ingress group's bindings: `ingress.k8s.aws/stack` for an explicit group,
/// `ingress.k8s.aws/stack-namespace` and `-name` for an implicit one.
pub fn ingress_stack_labels(group: &crate::ingress::group::GroupId) -> BTreeMap<String, String> {
    match group {
        crate::ingress::group::GroupId::Explicit(name) => {
            BTreeMap::from([("ingress.k8s.aws/stack".to_string(), name.clone())])
        }
        crate::ingress::group::GroupId::Implicit { namespace, name } => BTreeMap::from([
            (
                "ingress.k8s.aws/stack-namespace".to_string(),
                namespace.clone(),
            ),
            ("ingress.k8s.aws/stack-name".to_string(), name.clone()),
        ]),
    }
}

/// The binding's `spec.networking`: the model's rules with security groups as ids; a peer
/// whose group does not exist (yet) is left out, and a rule left without peers with it.
fn networking(
    rules: &[model::NetworkingRule],
    applied: &Applied,
) -> Option<TargetGroupBindingNetworking> {
    let ingress: Vec<NetworkingIngressRule> = rules
        .iter()
        .filter_map(|rule| {
            let from: Vec<NetworkingPeer> = rule
                .from
                .iter()
                .filter_map(|peer| match peer {
                    model::NetworkingPeer::Cidr(cidr) => Some(NetworkingPeer {
                        ip_block: Some(IpBlock { cidr: cidr.clone() }),
                        security_group: None,
                    }),
                    model::NetworkingPeer::SecurityGroup(group) => {
                        let id = match group {
                            SecurityGroupRef::Managed => {
                                applied.managed_security_group().map(str::to_string)
                            }
                            SecurityGroupRef::Backend => applied.backend_security_group.clone(),
                            SecurityGroupRef::Id(id) => Some(id.clone()),
                        }?;
                        Some(NetworkingPeer {
                            ip_block: None,
                            security_group: Some(SecurityGroupPeer { group_id: id }),
                        })
                    }
                })
                .collect();
            let ports = rule
                .ports
                .iter()
                .map(|port| NetworkingPort {
                    protocol: Some(match port.protocol {
                        Protocol::Udp => NetworkingProtocol::Udp,
                        _ => NetworkingProtocol::Tcp,
                    }),
                    port: port.port.as_ref().map(|number| match number {
                        NetworkingPortNumber::Number(n) => IntOrString::Int(*n),
                        NetworkingPortNumber::Name(name) => IntOrString::String(name.clone()),
                    }),
                })
                .collect();
            (!from.is_empty()).then_some(NetworkingIngressRule { from, ports })
        })
        .collect();
    (!ingress.is_empty()).then_some(TargetGroupBindingNetworking { ingress })
}

/// The bindings a stack wants, given what its apply found or created (target-group ARNs by
/// resource id, security-group ids), with the stack's `labels`.
pub fn desired_bindings(
    stack: &Stack,
    applied: &Applied,
    labels: &BTreeMap<String, String>,
) -> Vec<TargetGroupBinding> {
    let target_group_arns = &applied.target_group_arns;
    stack
        .target_groups
        .iter()
        .filter_map(|(id, group)| {
            let arn = target_group_arns.get(id)?;
            let binding = group.binding.as_ref()?;
            let spec = TargetGroupBindingSpec {
                target_group_arn: Some(arn.clone()),
                target_group_name: None,
                target_type: Some(match group.target_type {
                    TargetType::Instance => BindingTargetType::Instance,
                    TargetType::Ip => BindingTargetType::Ip,
                    TargetType::Alb => return None,
                }),
                target_group_protocol: Some(protocol(group.protocol)),
                service_ref: ServiceReference {
                    name: binding.service_name.clone(),
                    port: IntOrString::Int(binding.service_port),
                },
                networking: networking(&binding.networking, applied),
                node_selector: (!binding.node_selector.is_empty()).then(|| LabelSelector {
                    match_labels: Some(binding.node_selector.clone()),
                    match_expressions: None,
                }),
                ip_address_type: Some(if group.ip_address_type == "ipv6" {
                    BindingIpAddressType::Ipv6
                } else {
                    BindingIpAddressType::Ipv4
                }),
                vpc_id: Some(group.vpc_id.clone()),
                multi_cluster_target_group: binding.multi_cluster.then_some(true),
                iam_role_arn_to_assume: None,
                assume_role_external_id: None,
            };
            let mut object = TargetGroupBinding::new(&binding.name, spec);
            object.metadata.namespace = Some(binding.namespace.clone());
            object.metadata.labels = Some(labels.clone());
            Some(object)
        })
        .collect()
}

/// Makes the bindings carrying `labels` (in any namespace) exactly `wanted` (matched by
/// target-group ARN), listing the existing ones.
pub async fn reconcile_bindings(
    client: &kube::Client,
    labels: &BTreeMap<String, String>,
    wanted: &[TargetGroupBinding],
) -> Result<(), kube::Error> {
    let selector = labels
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join(",");
    let existing = Api::<TargetGroupBinding>::all(client.clone())
        .list(&ListParams::default().labels(&selector))
        .await?
        .items;
    apply_bindings(client, &existing, wanted).await
}

/// The bindings of `store` carrying every one of `labels`.
pub fn bindings_labelled(
    store: &Store<TargetGroupBinding>,
    labels: &BTreeMap<String, String>,
) -> Vec<TargetGroupBinding> {
    store
        .state()
        .iter()
        .filter(|binding| {
            let own = binding.labels();
            labels
                .iter()
                .all(|(key, value)| own.get(key) == Some(value))
        })
        .map(|binding| (**binding).clone())
        .collect()
}

fn is_status(error: &kube::Error, code: u16) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == code)
}

/// Makes `existing` (the bindings of one stack, as a list or a store shows them) exactly
/// `wanted`. A store may lag behind: a binding created since is found by name and patched, one
/// deleted since is done.
pub async fn apply_bindings(
    client: &kube::Client,
    existing: &[TargetGroupBinding],
    wanted: &[TargetGroupBinding],
) -> Result<(), kube::Error> {
    let api_of = |object: &TargetGroupBinding| -> Api<TargetGroupBinding> {
        Api::namespaced(
            client.clone(),
            object.metadata.namespace.as_deref().unwrap_or("default"),
        )
    };
    let differs = |current: &TargetGroupBinding, binding: &TargetGroupBinding| {
        current.spec != binding.spec || current.labels() != binding.labels()
    };
    for binding in wanted {
        let api = api_of(binding);
        let arn = &binding.spec.target_group_arn;
        let current = match existing.iter().find(|e| &e.spec.target_group_arn == arn) {
            Some(current) => current.clone(),
            None => match api.create(&PostParams::default(), binding).await {
                Ok(_) => continue,
                Err(error) if is_status(&error, 409) => api.get(&binding.name_any()).await?,
                Err(error) => return Err(error),
            },
        };
        if differs(&current, binding) {
            let patch =
                serde_json::json!({"metadata": {"labels": binding.labels()}, "spec": binding.spec});
            api.patch(
                &current.name_any(),
                &PatchParams::default(),
                &Patch::Merge(patch),
            )
            .await?;
        }
    }
    for stale in existing.iter().filter(|e| {
        !wanted
            .iter()
            .any(|w| w.spec.target_group_arn == e.spec.target_group_arn)
    }) {
        match api_of(stale)
            .delete(&stale.name_any(), &DeleteParams::default())
            .await
        {
            Ok(_) => {}
            Err(error) if is_status(&error, 404) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ControllerConfig;
    use crate::facts::CloudFacts;
    use crate::service::{build_service_stack, ServiceBuildInput};
    use k8s_openapi::api::core::v1::Service;

    #[test]
    fn one_binding_per_target_group_named_and_labelled_as_upstream() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/service/golden/health-check.yaml");
        let service: Service =
            serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let facts_path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/aws-facts.json");
        let facts =
            CloudFacts::from_documents(&std::fs::read_to_string(facts_path).unwrap()).unwrap();
        let config = ControllerConfig::new("prod", "vpc-0example");
        let stack = build_service_stack(&ServiceBuildInput {
            service: &service,
            config: &config,
            facts: &facts,
            existing: None,
        })
        .unwrap()
        .stack;
        let arns: BTreeMap<String, String> = stack
            .target_groups
            .keys()
            .map(|id| (id.clone(), format!("arn:{id}")))
            .collect();
        let applied = Applied {
            target_group_arns: arns,
            managed_security_groups: vec!["sg-managed".into()],
            backend_security_group: Some("sg-backend".into()),
            ..Applied::default()
        };
        let bindings = desired_bindings(&stack, &applied, &service_stack_labels(&stack.id));
        assert_eq!(bindings.len(), 2);
        let http = bindings
            .iter()
            .find(|b| b.spec.service_ref.port == IntOrString::Int(80))
            .unwrap();
        assert_eq!(
            http.name_any(),
            stack.target_groups["default/app:80"].name,
            "named after its target group"
        );
        assert_eq!(
            http.spec.target_group_arn.as_deref(),
            Some("arn:default/app:80")
        );
        assert_eq!(http.labels()[STACK_NAMESPACE_LABEL], "default");
        assert_eq!(http.labels()[STACK_NAME_LABEL], "app");
        assert_eq!(http.spec.target_type, Some(BindingTargetType::Instance));
        assert_eq!(http.spec.target_group_protocol, Some(BindingProtocol::Tcp));
        assert_eq!(http.spec.vpc_id.as_deref(), Some("vpc-0example"));
        let selector = http
            .spec
            .node_selector
            .as_ref()
            .and_then(|s| s.match_labels.clone())
            .unwrap();
        assert_eq!(
            selector["pool"], "edge",
            "target-node-labels become the node selector"
        );
        let rules = &http.spec.networking.as_ref().unwrap().ingress;
        assert_eq!(rules.len(), 1);
        assert_eq!(
            rules[0].from[0].security_group.as_ref().unwrap().group_id,
            "sg-backend",
            "the shared backend group is the source, as its id"
        );
        let ports: Vec<_> = rules[0].ports.iter().map(|p| p.port.clone()).collect();
        assert_eq!(
            ports,
            [Some(IntOrString::Int(30080)), Some(IntOrString::Int(30909))],
            "the node port, and the health check's (named port: its node port)"
        );
        let without_groups = Applied {
            backend_security_group: None,
            ..applied.clone()
        };
        let bare = desired_bindings(&stack, &without_groups, &service_stack_labels(&stack.id));
        assert!(
            bare.iter().all(|b| b.spec.networking.is_none()),
            "a source group that does not exist yet is left out, and its rule with it"
        );
        assert!(
            desired_bindings(
                &stack,
                &Applied::default(),
                &service_stack_labels(&stack.id)
            )
            .is_empty(),
            "no ARN, no binding"
        );
    }
}
