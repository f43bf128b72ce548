//! Targets of target groups: which `ip:port` pairs a Service port's EndpointSlices call
//! for, and the register/deregister diff against what the target group holds (upstream's §3.4
//! and §3.5). Pure; `sync` does the AWS half.
//!
//! Instance targets (nodes) are in `instance`; pod readiness-gate conditions in `gates`.

pub mod gates;
mod instance;
mod sync;

pub use instance::{desired_instance_targets, instance_id, node_readiness, selector_matches};
pub use sync::{sync_shared_targets, sync_targets, TargetSync};

use crate::cloud::{Target, TargetHealth, TargetState};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet};

/// The label EndpointSlices carry with their Service's name.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// AWS takes at most this many targets per Register/Deregister call.
pub const TARGETS_PER_CALL: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("Service {service} has no port {port}")]
    ServicePortNotFound { service: String, port: String },
    #[error("Service {service} has no node port for instance targets (it must be NodePort or LoadBalancer with node ports allocated)")]
    NoNodePorts { service: String },
    #[error("node {node} has no EC2 instance id in spec.providerID ({provider_id:?})")]
    InvalidProviderId { node: String, provider_id: String },
}

/// The Service port named or numbered `port`.
fn find_service_port(
    service: &Service,
    port: &IntOrString,
) -> Result<k8s_openapi::api::core::v1::ServicePort, TargetError> {
    service
        .spec
        .as_ref()
        .and_then(|spec| spec.ports.as_ref())
        .into_iter()
        .flatten()
        .find(|p| match port {
            IntOrString::Int(number) => p.port == *number,
            IntOrString::String(port_name) => p.name.as_deref() == Some(port_name.as_str()),
        })
        .cloned()
        .ok_or_else(|| TargetError::ServicePortNotFound {
            service: service.metadata.name.clone().unwrap_or_default(),
            port: match port {
                IntOrString::Int(number) => number.to_string(),
                IntOrString::String(port_name) => port_name.clone(),
            },
        })
}

/// The ready Pod endpoints of `service`'s EndpointSlices (any address family).
fn ready_endpoints<'a>(
    service: &'a Service,
    slices: &'a [impl Borrow<EndpointSlice>],
) -> impl Iterator<Item = &'a k8s_openapi::api::discovery::v1::Endpoint> + 'a {
    let name = service.metadata.name.clone().unwrap_or_default();
    slices
        .iter()
        .map(Borrow::borrow)
        .filter(move |slice| {
            slice
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(SERVICE_NAME_LABEL))
                == Some(&name)
                && slice.metadata.namespace == service.metadata.namespace
        })
        .flat_map(|slice| slice.endpoints.iter())
        .filter(|endpoint| {
            endpoint
                .target_ref
                .as_ref()
                .is_some_and(|r| r.kind.as_deref() == Some("Pod"))
                && endpoint
                    .conditions
                    .as_ref()
                    .and_then(|c| c.ready)
                    .unwrap_or(true)
        })
}

/// What the registration loop's caches know of an endpoint's pod.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodFacts {
    /// The pod's `ContainersReady` condition is `True`.
    pub containers_ready: bool,
    pub node_name: Option<String>,
}

/// A node's `Ready` condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeReadiness {
    Ready,
    NotReady,
    Unknown,
}

/// Where the endpoint rules look up pods and nodes (the registration loop's caches; maps in
/// tests).
pub trait EndpointContext {
    fn pod(&self, namespace: &str, name: &str) -> Option<PodFacts>;
    /// A node that is not known counts as not ready.
    fn node_readiness(&self, name: &str) -> NodeReadiness;
}

/// The ip targets of a binding, each with the pod behind it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpTargets {
    pub pods: BTreeMap<Target, String>,
    /// Some endpoint named a pod the cache does not hold (yet): it was left out, and the
    /// binding should be looked at again soon.
    pub unknown_pods: bool,
}

impl IpTargets {
    pub fn targets(&self) -> BTreeSet<Target> {
        self.pods.keys().cloned().collect()
    }
}

/// The ip targets for `port` (a number or name) of `service`, from its EndpointSlices: endpoints
/// of Pods the cache knows, in the target group's address family, on the slice port named like
/// the Service port (named target ports are resolved per pod by the slice).
///
/// Ready endpoints are targets. A not-ready endpoint is one too when its containers are ready, it
/// is not terminating and its node is Ready: that is how a pod waiting on its readiness gate
/// becomes a target. Those on a node whose readiness is Unknown are used only when nothing else
/// qualifies (fail-open).
pub fn desired_ip_targets(
    service: &Service,
    port: &IntOrString,
    ipv6: bool,
    slices: &[impl Borrow<EndpointSlice>],
    context: &impl EndpointContext,
) -> Result<IpTargets, TargetError> {
    let name = service.metadata.name.clone().unwrap_or_default();
    let namespace = service.metadata.namespace.clone().unwrap_or_default();
    let service_port = find_service_port(service, port)?;
    let port_name = service_port.name.clone().unwrap_or_default();
    let family = if ipv6 { "IPv6" } else { "IPv4" };
    let mut result = IpTargets::default();
    let mut fail_open = BTreeMap::new();
    let own_slices = slices.iter().map(Borrow::borrow).filter(|slice| {
        let labels = slice.metadata.labels.as_ref();
        labels.and_then(|l| l.get(SERVICE_NAME_LABEL)) == Some(&name)
            && slice.metadata.namespace.as_deref().unwrap_or_default() == namespace
            && slice.address_type == family
    });
    for slice in own_slices {
        let slice_ports = slice.ports.as_ref().into_iter().flatten();
        let Some(target_port) = slice_ports
            .filter(|p| port_name.is_empty() || p.name.as_deref().unwrap_or_default() == port_name)
            .find_map(|p| p.port)
        else {
            continue;
        };
        for endpoint in &slice.endpoints {
            let pod_name = match &endpoint.target_ref {
                Some(reference) if reference.kind.as_deref() == Some("Pod") => {
                    reference.name.clone().unwrap_or_default()
                }
                _ => continue,
            };
            let Some(address) = endpoint.addresses.first() else {
                continue;
            };
            let Some(pod) = context.pod(&namespace, &pod_name) else {
                result.unknown_pods = true;
                continue;
            };
            let target = Target {
                id: address.clone(),
                port: target_port,
            };
            let conditions = endpoint.conditions.clone().unwrap_or_default();
            if conditions.ready.unwrap_or(true) {
                result.pods.insert(target, pod_name);
                continue;
            }
            if conditions.terminating == Some(true) || !pod.containers_ready {
                continue;
            }
            let node = endpoint.node_name.clone().or(pod.node_name);
            match node.map(|n| context.node_readiness(&n)) {
                Some(NodeReadiness::Ready) => {
                    result.pods.insert(target, pod_name);
                }
                Some(NodeReadiness::Unknown) => {
                    fail_open.insert(target, pod_name);
                }
                _ => {}
            }
        }
    }
    if result.pods.is_empty() {
        result.pods = fail_open;
    }
    Ok(result)
}

/// What to register and deregister so the target group holds exactly `desired`. Draining
/// targets are already on their way out: wanted again, they are registered again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetChanges {
    pub register: Vec<Target>,
    pub deregister: Vec<Target>,
}

pub fn plan_targets(desired: &BTreeSet<Target>, current: &[TargetHealth]) -> TargetChanges {
    let present: BTreeSet<&Target> = current
        .iter()
        .filter(|t| t.state != TargetState::Draining)
        .map(|t| &t.target)
        .collect();
    TargetChanges {
        register: desired
            .iter()
            .filter(|t| !present.contains(t))
            .cloned()
            .collect(),
        deregister: present
            .into_iter()
            .filter(|t| !desired.contains(*t))
            .cloned()
            .collect(),
    }
}

#[cfg(test)]
mod tests;
