//! Instance targets: the nodes a Service port's traffic may enter through, as `instanceId:nodePort`.
//!
//! Upstream's node rules: no `node-role.kubernetes.io/master`,
//! `node.kubernetes.io/exclude-from-external-load-balancers` or
//! `alpha.service-controller.kubernetes.io/exclude-balancer` label, not Fargate, no
//! `ToBeDeletedByClusterAutoscaler` taint nor `karpenter.sh/disrupted:NoSchedule`, Ready (or, when
//! no node is Ready, the ones whose readiness is Unknown), and the binding's node selector. The
//! instance id is the last segment of `spec.providerID`.
//!
//! Better than upstream: with `externalTrafficPolicy: Local` only nodes holding a ready endpoint
//! of the Service are registered (upstream registers every node and leaves it to the health check
//! to take the others out of service).

use super::{NodeReadiness, TargetError};
use crate::cloud::Target;
use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet};

const EXCLUDING_LABELS: [&str; 3] = [
    "node-role.kubernetes.io/master",
    "node.kubernetes.io/exclude-from-external-load-balancers",
    "alpha.service-controller.kubernetes.io/exclude-balancer",
];

fn labels(node: &Node) -> BTreeMap<String, String> {
    node.metadata.labels.clone().unwrap_or_default()
}

fn excluded(node: &Node) -> bool {
    let labels = labels(node);
    let tainted = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .into_iter()
        .flatten()
        .any(|taint| {
            taint.key == "ToBeDeletedByClusterAutoscaler"
                || (taint.key == "karpenter.sh/disrupted" && taint.effect == "NoSchedule")
        });
    EXCLUDING_LABELS.iter().any(|key| labels.contains_key(*key))
        || labels
            .get("eks.amazonaws.com/compute-type")
            .map(String::as_str)
            == Some("fargate")
        || tainted
}

/// The node's `Ready` condition; a node that reports none counts as Unknown.
pub fn node_readiness(node: &Node) -> NodeReadiness {
    let status = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .find(|c| c.type_ == "Ready")
        .map(|c| c.status.as_str());
    match status {
        Some("True") => NodeReadiness::Ready,
        Some("False") => NodeReadiness::NotReady,
        _ => NodeReadiness::Unknown,
    }
}

/// `matchLabels` and the set-based `matchExpressions` of a label selector.
pub fn selector_matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let labels_ok = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let expressions_ok = selector
        .match_expressions
        .iter()
        .flatten()
        .all(|expression| {
            let value = labels.get(&expression.key);
            let values = expression.values.clone().unwrap_or_default();
            match expression.operator.as_str() {
                "In" => value.is_some_and(|v| values.contains(v)),
                "NotIn" => value.is_none_or(|v| !values.contains(v)),
                "Exists" => value.is_some(),
                "DoesNotExist" => value.is_none(),
                _ => false,
            }
        });
    labels_ok && expressions_ok
}

/// The EC2 instance id of a node, from the last segment of its `spec.providerID`.
pub fn instance_id(node: &Node) -> Result<String, TargetError> {
    let name = node.metadata.name.clone().unwrap_or_default();
    let provider = node
        .spec
        .as_ref()
        .and_then(|s| s.provider_id.clone())
        .unwrap_or_default();
    match provider.rsplit('/').next() {
        Some(id) if id.starts_with("i-") => Ok(id.to_string()),
        _ => Err(TargetError::InvalidProviderId {
            node: name,
            provider_id: provider,
        }),
    }
}

/// The instance targets of `port` (a number or name) of `service`.
pub fn desired_instance_targets(
    service: &Service,
    port: &IntOrString,
    nodes: &[impl Borrow<Node>],
    slices: &[impl Borrow<EndpointSlice>],
    node_selector: Option<&LabelSelector>,
) -> Result<BTreeSet<Target>, TargetError> {
    let name = service.metadata.name.clone().unwrap_or_default();
    let spec = service.spec.clone().unwrap_or_default();
    if !matches!(
        spec.type_.as_deref(),
        Some("NodePort") | Some("LoadBalancer")
    ) {
        return Err(TargetError::NoNodePorts { service: name });
    }
    let service_port = super::find_service_port(service, port)?;
    let node_port =
        service_port
            .node_port
            .filter(|p| *p > 0)
            .ok_or_else(|| TargetError::NoNodePorts {
                service: name.clone(),
            })?;
    let mut candidates: Vec<&Node> = nodes
        .iter()
        .map(Borrow::borrow)
        .filter(|node| !excluded(node))
        .filter(|node| {
            node_selector.is_none_or(|selector| selector_matches(selector, &labels(node)))
        })
        .collect();
    let ready: Vec<&Node> = candidates
        .iter()
        .copied()
        .filter(|n| node_readiness(n) == NodeReadiness::Ready)
        .collect();
    candidates = if ready.is_empty() {
        candidates
            .into_iter()
            .filter(|n| node_readiness(n) == NodeReadiness::Unknown)
            .collect()
    } else {
        ready
    };
    if spec.external_traffic_policy.as_deref() == Some("Local") {
        let hosting: BTreeSet<String> = super::ready_endpoints(service, slices)
            .filter_map(|endpoint| endpoint.node_name.clone())
            .collect();
        candidates.retain(|node| {
            node.metadata
                .name
                .as_ref()
                .is_some_and(|n| hosting.contains(n))
        });
    }
    candidates
        .into_iter()
        .map(|node| {
            instance_id(node).map(|id| Target {
                id,
                port: node_port,
            })
        })
        .collect()
}
