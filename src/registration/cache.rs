//! The registration loop's view of the cluster: EndpointSlices, Nodes and Pods, each kept up to
//! date by one watch, and the Services of the process's shared watch (`crate::watched::services`),
//! holding only the fields target registration reads. A reconcile
//! reads these stores instead of listing, so a rollout costs the API server nothing beyond the
//! watches, and the controller's memory grows with what it uses, not with whole pod specs.
//!
//! What is kept:
//! - Pods: name, namespace, uid, the `vpc.amazonaws.com/pod-eni` annotation, `spec.nodeName`,
//!   `spec.readinessGates`, the containers' named ports, and the status conditions
//!   `ContainersReady` and `target-health.*` (nothing else of spec or status), kept as
//!   summaries (`pod_summary`), not as `Pod`s.
//! - Nodes: name, labels, uid, `spec.providerID`, `spec.taints`, the `Ready` condition.
//! - EndpointSlices: everything but annotations and managed fields.
//! - Services: the shared watch's summaries (ports, type, external traffic policy, …).
//! - Namespaces: name and labels (whether pods there get readiness gates injected).
//!
//! It does not decide anything: the rules are in `crate::targets`.

use super::networking::{branch_interface, PodNode, TargetEndpoint, POD_ENI_ANNOTATION};
use super::pod_summary::PodSummary;
use crate::target_rules::NamedPorts;
use crate::targets::{node_readiness, EndpointContext, NodeReadiness, PodFacts};
use crate::watched::services::WatchedServices;
use crate::watched::summaries::{summarised, Summaries};
pub use crate::watched::CacheStream;
use crate::watched::{cached, drain, store_ready};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, Namespace, Node, NodeSpec, NodeStatus, Pod, PodSpec, PodStatus,
    Service,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::runtime::reflector::{ObjectRef, Store};

/// The stores; cheap to clone.
#[derive(Clone)]
pub struct ClusterCache {
    pub services: WatchedServices,
    pub slices: Store<EndpointSlice>,
    pub nodes: Store<Node>,
    pub pods: Summaries<PodSummary>,
    pub namespaces: Store<Namespace>,
}

/// The watch streams that fill a `ClusterCache`; whoever polls them (the registration loop's
/// controller, or `ClusterCache::spawn`) keeps the cache current.
pub struct CacheStreams {
    pub slices: CacheStream<EndpointSlice>,
    pub nodes: CacheStream<Node>,
    pub pods: CacheStream<Pod>,
    pub namespaces: CacheStream<Namespace>,
}

impl ClusterCache {
    /// The stores and the streams that fill them (not polled yet); `services` is the shared
    /// Service watch.
    pub fn new(client: &kube::Client, services: WatchedServices) -> (Self, CacheStreams) {
        let (slices, slice_stream) = cached(client, slim_slice);
        let (nodes, node_stream) = cached(client, slim_node);
        let (pods, pod_stream) = summarised(client, slim_managed_fields, PodSummary::of);
        let (namespaces, namespace_stream) = cached(client, slim_namespace);
        (
            Self {
                services,
                slices,
                nodes,
                pods,
                namespaces,
            },
            CacheStreams {
                slices: slice_stream,
                nodes: node_stream,
                pods: pod_stream,
                namespaces: namespace_stream,
            },
        )
    }

    /// A cache that fills itself on tasks of its own, with a Service watch of its own (for
    /// reconciling outside the loop).
    pub fn spawn(client: &kube::Client) -> Self {
        let (cache, streams) = Self::new(client, WatchedServices::spawn(client));
        tokio::spawn(drain(streams.slices));
        tokio::spawn(drain(streams.nodes));
        tokio::spawn(drain(streams.pods));
        tokio::spawn(drain(streams.namespaces));
        cache
    }

    /// Waits until every store holds its first complete list.
    pub async fn wait_until_ready(&self) {
        // An error means the stream was dropped: there is nothing more to wait for.
        self.services.wait_until_ready().await;
        let _ = store_ready(&self.slices).await;
        let _ = store_ready(&self.nodes).await;
        self.pods.wait_until_ready().await;
        let _ = store_ready(&self.namespaces).await;
    }

    /// Pods of `namespace` get readiness gates injected (the namespace carries the opt-in label).
    pub fn injects_readiness_gates(&self, namespace: &str) -> bool {
        self.namespaces
            .get(&ObjectRef::new(namespace))
            .and_then(|ns| ns.metadata.labels.clone())
            .and_then(|labels| {
                labels
                    .get(crate::webhook::pods::INJECT_NAMESPACE_LABEL)
                    .cloned()
            })
            .is_some_and(|value| value == "enabled")
    }

    /// The pod is cached and lacks the readiness gate `condition_type`.
    pub fn pod_lacks_gate(&self, namespace: &str, pod: &str, condition_type: &str) -> bool {
        self.pods
            .get(namespace, pod)
            .is_some_and(|pod| !pod.has_gate(condition_type))
    }

    pub fn service(&self, namespace: &str, name: &str) -> Option<Service> {
        self.services.service(namespace, name)
    }

    /// The EndpointSlices of a Service.
    pub fn slices_of(&self, namespace: &str, service: &str) -> Vec<std::sync::Arc<EndpointSlice>> {
        self.slices
            .state()
            .into_iter()
            .filter(|slice| {
                slice.metadata.namespace.as_deref() == Some(namespace)
                    && slice
                        .metadata
                        .labels
                        .as_ref()
                        .and_then(|l| l.get(crate::targets::SERVICE_NAME_LABEL))
                        .is_some_and(|s| s == service)
            })
            .collect()
    }

    /// Where the traffic of the pod `name` at `ip` arrives (`None` when the cache lacks it).
    pub fn pod_endpoint(&self, namespace: &str, name: &str, ip: &str) -> Option<TargetEndpoint> {
        let pod = self.cached_pod(namespace, name)?;
        let annotation = pod
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(POD_ENI_ANNOTATION));
        let spec = pod.spec.as_ref();
        let node = spec
            .and_then(|s| s.node_name.as_ref())
            .and_then(|node| self.nodes.get(&ObjectRef::new(node)));
        let node = match node {
            Some(node) => PodNode::of(
                node.metadata.labels.as_ref(),
                crate::targets::instance_id(&node).ok(),
            ),
            None => PodNode::Unknown,
        };
        let mut ports = NamedPorts::new();
        for port in spec
            .into_iter()
            .flat_map(|s| &s.containers)
            .flat_map(|c| c.ports.iter().flatten())
        {
            if let Some(name) = &port.name {
                ports
                    .entry(name.clone())
                    .or_default()
                    .push(port.container_port);
            }
        }
        Some(TargetEndpoint::Pod {
            uid: pod
                .metadata
                .uid
                .clone()
                .unwrap_or_else(|| format!("{namespace}/{name}")),
            ip: ip.to_string(),
            branch_interface: branch_interface(annotation.map(String::as_str), ip),
            node,
            ports,
        })
    }

    /// The pods of a namespace that declare a readiness gate of `condition_type`.
    pub fn gated_pods(&self, namespace: &str, condition_type: &str) -> Vec<Pod> {
        self.pods
            .in_namespace(namespace)
            .into_iter()
            .filter(|(_, pod)| pod.has_gate(condition_type))
            .map(|(name, pod)| pod.to_pod(namespace, &name))
            .collect()
    }

    /// The cached (slim) pod `namespace/name`.
    pub fn cached_pod(&self, namespace: &str, name: &str) -> Option<Pod> {
        self.pods
            .get(namespace, name)
            .map(|pod| pod.to_pod(namespace, name))
    }
}

impl EndpointContext for ClusterCache {
    fn pod(&self, namespace: &str, name: &str) -> Option<PodFacts> {
        let pod = self.cached_pod(namespace, name)?;
        let containers_ready = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .any(|c| c.type_ == "ContainersReady" && c.status == "True");
        Some(PodFacts {
            containers_ready,
            node_name: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
        })
    }

    fn node_readiness(&self, name: &str) -> NodeReadiness {
        self.nodes
            .get(&ObjectRef::new(name))
            .map(|node| node_readiness(&node))
            .unwrap_or(NodeReadiness::NotReady)
    }
}

/// The pod declares a readiness gate of `condition_type`.
pub fn has_gate(pod: &Pod, condition_type: &str) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.readiness_gates.as_ref())
        .is_some_and(|gates| gates.iter().any(|g| g.condition_type == condition_type))
}

/// What the pod watch drops before the pods wake the loop (their summaries keep less).
fn slim_managed_fields(pod: &mut Pod) {
    pod.metadata.managed_fields = None;
}

fn slim_metadata(metadata: &mut ObjectMeta, keep_labels: bool) {
    metadata.managed_fields = None;
    metadata.annotations = None;
    metadata.owner_references = None;
    metadata.generate_name = None;
    if !keep_labels {
        metadata.labels = None;
    }
}

/// Keeps what the endpoint rules and readiness gates read.
fn slim_namespace(namespace: &mut Namespace) {
    slim_metadata(&mut namespace.metadata, true);
    namespace.spec = None;
    namespace.status = None;
}

pub fn slim_pod(pod: &mut Pod) {
    let branch = pod
        .metadata
        .annotations
        .as_mut()
        .and_then(|a| a.remove(POD_ENI_ANNOTATION));
    slim_metadata(&mut pod.metadata, false);
    if let Some(branch) = branch {
        pod.metadata.annotations = Some([(POD_ENI_ANNOTATION.to_string(), branch)].into());
    }
    let spec = pod.spec.take().unwrap_or_default();
    let containers = spec
        .containers
        .into_iter()
        .filter_map(|container| {
            let ports: Vec<ContainerPort> = container
                .ports
                .unwrap_or_default()
                .into_iter()
                .filter(|p| p.name.is_some())
                .map(|p| ContainerPort {
                    name: p.name,
                    container_port: p.container_port,
                    protocol: p.protocol,
                    ..ContainerPort::default()
                })
                .collect();
            (!ports.is_empty()).then(|| Container {
                name: container.name,
                ports: Some(ports),
                ..Container::default()
            })
        })
        .collect();
    pod.spec = Some(PodSpec {
        node_name: spec.node_name,
        readiness_gates: spec.readiness_gates,
        containers,
        ..PodSpec::default()
    });
    let conditions = pod
        .status
        .take()
        .and_then(|s| s.conditions)
        .map(|conditions| {
            conditions
                .into_iter()
                .filter(|c| c.type_ == "ContainersReady" || c.type_.starts_with("target-health."))
                .collect::<Vec<_>>()
        });
    pod.status = Some(PodStatus {
        conditions,
        ..PodStatus::default()
    });
}

/// Keeps what node eligibility and instance ids read.
pub fn slim_node(node: &mut Node) {
    slim_metadata(&mut node.metadata, true);
    let spec = node.spec.take().unwrap_or_default();
    node.spec = Some(NodeSpec {
        provider_id: spec.provider_id,
        taints: spec.taints,
        ..NodeSpec::default()
    });
    let ready = node
        .status
        .take()
        .and_then(|s| s.conditions)
        .map(|conditions| {
            conditions
                .into_iter()
                .filter(|c| c.type_ == "Ready")
                .collect::<Vec<_>>()
        });
    node.status = Some(NodeStatus {
        conditions: ready,
        ..NodeStatus::default()
    });
}

pub fn slim_slice(slice: &mut EndpointSlice) {
    slim_metadata(&mut slice.metadata, true);
    for endpoint in &mut slice.endpoints {
        endpoint.hints = None;
        endpoint.deprecated_topology = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_slim_pod_keeps_what_registration_reads_and_nothing_else() {
        let mut pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "web-1", "namespace": "shop", "uid": "u1",
                         "labels": {"app": "web"}, "annotations": {"big": "x".repeat(1000)},
                         "managedFields": [{"manager": "kubelet"}]},
            "spec": {"nodeName": "n1", "containers": [{"name": "app", "image": "nginx", "env": [{"name": "A", "value": "B"}]}],
                     "readinessGates": [{"conditionType": "target-health.elbv2.k8s.aws/web"}]},
            "status": {"podIP": "10.0.0.1", "conditions": [
                {"type": "Ready", "status": "False"},
                {"type": "ContainersReady", "status": "True"},
                {"type": "target-health.elbv2.k8s.aws/web", "status": "Unknown"}]}
        }))
        .unwrap();
        slim_pod(&mut pod);
        let kept = serde_json::to_value(&pod).unwrap();
        assert_eq!(
            kept,
            json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "web-1", "namespace": "shop", "uid": "u1"},
                "spec": {"nodeName": "n1", "containers": [],
                         "readinessGates": [{"conditionType": "target-health.elbv2.k8s.aws/web"}]},
                "status": {"conditions": [
                    {"type": "ContainersReady", "status": "True"},
                    {"type": "target-health.elbv2.k8s.aws/web", "status": "Unknown"}]}
            })
        );
        assert!(has_gate(&pod, "target-health.elbv2.k8s.aws/web"));
        assert!(!has_gate(&pod, "target-health.elbv2.k8s.aws/api"));
    }

    #[test]
    fn a_slim_node_keeps_labels_provider_id_taints_and_readiness() {
        let mut node: Node = serde_json::from_value(json!({
            "metadata": {"name": "n1", "labels": {"zone": "a"}, "annotations": {"a": "b"}},
            "spec": {"providerID": "aws:///us-west-2a/i-1", "podCIDR": "10.0.0.0/24",
                     "taints": [{"key": "k", "effect": "NoSchedule"}]},
            "status": {"conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
                       "images": [{"names": ["a"], "sizeBytes": 1}]}
        }))
        .unwrap();
        slim_node(&mut node);
        assert_eq!(
            serde_json::to_value(&node).unwrap(),
            json!({
                "apiVersion": "v1", "kind": "Node",
                "metadata": {"name": "n1", "labels": {"zone": "a"}},
                "spec": {"providerID": "aws:///us-west-2a/i-1", "taints": [{"key": "k", "effect": "NoSchedule"}]},
                "status": {"conditions": [{"type": "Ready", "status": "True"}]}
            })
        );
        assert_eq!(node_readiness(&node), NodeReadiness::Ready);
    }
}
