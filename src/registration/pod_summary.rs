//! A pod as the registration cache keeps it: exactly what `slim_pod` keeps (the fields target
//! registration reads), held in boxed strings and slices instead of `Pod`'s structs, which are
//! mostly empty fields (4.8 KiB per pod once slimmed, against about 0.4 KiB here). Readers get
//! the slim `Pod` back with [`PodSummary::to_pod`].

use super::networking::POD_ENI_ANNOTATION;
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, Pod, PodCondition, PodReadinessGate, PodSpec, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

#[derive(Debug, Clone, PartialEq)]
struct NamedPort {
    name: Option<Box<str>>,
    container_port: i32,
    protocol: Option<Box<str>>,
}

/// A container's name and its named ports.
type ContainerPorts = (Box<str>, Box<[NamedPort]>);

/// What the registration cache keeps of a pod (see the module doc).
#[derive(Debug, Clone, PartialEq)]
pub struct PodSummary {
    uid: Option<Box<str>>,
    resource_version: Option<Box<str>>,
    created: Option<Time>,
    deleted: Option<Time>,
    branch_interface: Option<Box<str>>,
    node_name: Option<Box<str>>,
    readiness_gates: Option<Box<[Box<str>]>>,
    containers: Box<[ContainerPorts]>,
    conditions: Option<Box<[PodCondition]>>,
}

fn boxed(text: &Option<String>) -> Option<Box<str>> {
    text.as_deref().map(Box::from)
}

fn text(boxed: &Option<Box<str>>) -> Option<String> {
    boxed.as_deref().map(str::to_string)
}

impl PodSummary {
    /// The summary of `pod`, slimmed (by `super::cache::slim_pod`) or not.
    pub fn of(pod: &Pod) -> Self {
        let mut slim = pod.clone();
        super::cache::slim_pod(&mut slim);
        let spec = slim.spec.unwrap_or_default();
        Self {
            uid: boxed(&slim.metadata.uid),
            resource_version: boxed(&slim.metadata.resource_version),
            created: slim.metadata.creation_timestamp,
            deleted: slim.metadata.deletion_timestamp,
            branch_interface: slim
                .metadata
                .annotations
                .and_then(|mut a| a.remove(POD_ENI_ANNOTATION))
                .map(String::into_boxed_str),
            node_name: boxed(&spec.node_name),
            readiness_gates: spec.readiness_gates.map(|gates| {
                gates
                    .into_iter()
                    .map(|g| g.condition_type.into_boxed_str())
                    .collect()
            }),
            containers: spec
                .containers
                .into_iter()
                .map(|container| {
                    let ports = container
                        .ports
                        .unwrap_or_default()
                        .iter()
                        .map(|p| NamedPort {
                            name: boxed(&p.name),
                            container_port: p.container_port,
                            protocol: boxed(&p.protocol),
                        })
                        .collect();
                    (container.name.into_boxed_str(), ports)
                })
                .collect(),
            conditions: slim
                .status
                .and_then(|s| s.conditions)
                .map(Vec::into_boxed_slice),
        }
    }

    /// The slim pod `namespace/name` this summarises.
    pub fn to_pod(&self, namespace: &str, name: &str) -> Pod {
        let containers = self
            .containers
            .iter()
            .map(|(container, ports)| Container {
                name: container.to_string(),
                ports: Some(
                    ports
                        .iter()
                        .map(|p| ContainerPort {
                            name: text(&p.name),
                            container_port: p.container_port,
                            protocol: text(&p.protocol),
                            ..ContainerPort::default()
                        })
                        .collect(),
                ),
                ..Container::default()
            })
            .collect();
        Pod {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                namespace: Some(namespace.to_string()),
                uid: text(&self.uid),
                resource_version: text(&self.resource_version),
                creation_timestamp: self.created.clone(),
                deletion_timestamp: self.deleted.clone(),
                annotations: self
                    .branch_interface
                    .as_deref()
                    .map(|branch| [(POD_ENI_ANNOTATION.to_string(), branch.to_string())].into()),
                ..ObjectMeta::default()
            },
            spec: Some(PodSpec {
                node_name: text(&self.node_name),
                readiness_gates: self.readiness_gates.as_ref().map(|gates| {
                    gates
                        .iter()
                        .map(|g| PodReadinessGate {
                            condition_type: g.to_string(),
                        })
                        .collect()
                }),
                containers,
                ..PodSpec::default()
            }),
            status: Some(PodStatus {
                conditions: self.conditions.as_ref().map(|c| c.to_vec()),
                ..PodStatus::default()
            }),
        }
    }

    /// The pod declares a readiness gate of `condition_type`.
    pub fn has_gate(&self, condition_type: &str) -> bool {
        self.readiness_gates
            .iter()
            .flatten()
            .any(|gate| &**gate == condition_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_summary_gives_back_the_slim_pod() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "web-1", "namespace": "shop", "uid": "u1", "resourceVersion": "7",
                         "creationTimestamp": "2026-12-08T01:00:00Z",
                         "deletionTimestamp": "2026-12-08T02:00:00Z",
                         "labels": {"app": "web"},
                         "annotations": {"big": "x".repeat(1000), POD_ENI_ANNOTATION: "[{\"eniId\":\"eni-1\"}]"},
                         "managedFields": [{"manager": "kubelet"}]},
            "spec": {"nodeName": "n1", "containers": [
                        {"name": "app", "image": "nginx", "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}, {"containerPort": 9000}]},
                        {"name": "sidecar", "image": "proxy"}],
                     "readinessGates": [{"conditionType": "target-health.elbv2.k8s.aws/web"}]},
            "status": {"podIP": "10.0.0.1", "conditions": [
                {"type": "Ready", "status": "False"},
                {"type": "ContainersReady", "status": "True", "lastTransitionTime": "2026-12-08T01:00:05Z"},
                {"type": "target-health.elbv2.k8s.aws/web", "status": "Unknown", "reason": "Elb.RegistrationInProgress"}]}
        }))
        .unwrap();
        let mut slim = pod.clone();
        super::super::cache::slim_pod(&mut slim);
        let summary = PodSummary::of(&pod);
        assert_eq!(summary.to_pod("shop", "web-1"), slim);
        assert_eq!(
            PodSummary::of(&slim),
            summary,
            "slimming twice changes nothing"
        );
        assert!(summary.has_gate("target-health.elbv2.k8s.aws/web"));
        assert!(!summary.has_gate("target-health.elbv2.k8s.aws/api"));
    }
}
