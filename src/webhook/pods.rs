//! The pod mutator (`mpod.elbv2.k8s.aws`): a new pod gets one readiness gate
//! `target-health.elbv2.k8s.aws/<binding>` per `ip` TargetGroupBinding of its namespace whose
//! Service selects it, so a rollout waits for the load balancer to see each new pod healthy.
//! Legacy `target-health.alb.ingress.k8s.aws/…` gates are dropped when gates are injected.
//! Pure: the caller hands in the namespace's bindings and Services from its caches.

use crate::crd::target_group_binding::{BindingTargetType, TargetGroupBinding};
use k8s_openapi::api::core::v1::{Pod, PodReadinessGate, Service};
use std::collections::BTreeMap;

pub const READINESS_GATE_PREFIX: &str = "target-health.elbv2.k8s.aws/";
pub const LEGACY_READINESS_GATE_PREFIX: &str = "target-health.alb.ingress.k8s.aws/";
/// The namespace label that opts pods in (the webhook configuration's namespace selector).
pub const INJECT_NAMESPACE_LABEL: &str = "elbv2.k8s.aws/pod-readiness-gate-inject";

/// A Service selects a pod when its selector is not empty and every pair is among the labels
/// (Services without a selector never do).
pub fn service_selects(service: &Service, labels: &BTreeMap<String, String>) -> bool {
    let selector = service.spec.as_ref().and_then(|s| s.selector.as_ref());
    match selector {
        Some(selector) if !selector.is_empty() => selector
            .iter()
            .all(|(key, value)| labels.get(key) == Some(value)),
        _ => false,
    }
}

/// The readiness gates a pod with `labels` needs: one per `ip` binding (of the pod's namespace)
/// whose Service selects it, by binding name.
pub fn readiness_gates_for(
    labels: &BTreeMap<String, String>,
    bindings: &[TargetGroupBinding],
    services: &[Service],
) -> Vec<String> {
    let mut gates: Vec<String> = bindings
        .iter()
        .filter(|binding| binding.spec.target_type == Some(BindingTargetType::Ip))
        .filter(|binding| {
            services.iter().any(|service| {
                service.metadata.name.as_deref() == Some(binding.spec.service_ref.name.as_str())
                    && service_selects(service, labels)
            })
        })
        .filter_map(|binding| binding.metadata.name.as_ref())
        .map(|name| format!("{READINESS_GATE_PREFIX}{name}"))
        .collect();
    gates.sort();
    gates.dedup();
    gates
}

/// The JSON patch giving `pod` the `gates` it lacks (and dropping legacy gates), or `None`
/// when it needs no change. Shapes as upstream: a whole `/spec/readinessGates` list when the
/// pod had none, one `add` per gate appended when it had some.
pub fn readiness_gate_patch(pod: &Pod, gates: &[String]) -> Option<json_patch::Patch> {
    if gates.is_empty() {
        return None;
    }
    let existing = pod
        .spec
        .as_ref()
        .and_then(|s| s.readiness_gates.clone())
        .unwrap_or_default();
    let mut wanted: Vec<PodReadinessGate> = existing
        .iter()
        .filter(|gate| {
            !gate
                .condition_type
                .starts_with(LEGACY_READINESS_GATE_PREFIX)
        })
        .cloned()
        .collect();
    for gate in gates {
        if !wanted.iter().any(|g| &g.condition_type == gate) {
            wanted.push(PodReadinessGate {
                condition_type: gate.clone(),
            });
        }
    }
    if wanted == existing {
        return None;
    }
    let original = serde_json::to_value(pod).ok()?;
    let mut mutated = original.clone();
    let spec = mutated.get_mut("spec")?.as_object_mut()?;
    spec.insert("readinessGates".into(), serde_json::to_value(&wanted).ok()?);
    let patch = json_patch::diff(&original, &mutated);
    (!patch.0.is_empty()).then_some(patch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn binding(name: &str, service: &str, target_type: &str) -> TargetGroupBinding {
        serde_json::from_value(json!({
            "apiVersion": "elbv2.k8s.aws/v1beta1", "kind": "TargetGroupBinding",
            "metadata": {"name": name, "namespace": "web"},
            "spec": {"targetGroupARN": "arn:tg", "targetType": target_type,
                     "serviceRef": {"name": service, "port": 80}}
        }))
        .unwrap()
    }

    fn service(name: &str, selector: serde_json::Value) -> Service {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "web"},
            "spec": {"selector": selector}
        }))
        .unwrap()
    }

    fn pod(gates: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"generateName": "web-", "namespace": "web", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "app", "image": "nginx"}], "readinessGates": gates}
        }))
        .unwrap()
    }

    fn labels() -> BTreeMap<String, String> {
        [("app".to_string(), "web".to_string())].into()
    }

    #[test]
    fn only_ip_bindings_whose_service_selects_the_pod_give_gates() {
        let bindings = [
            binding("web-ip", "web", "ip"),
            binding("web-instance", "web", "instance"),
            binding("other", "other", "ip"),
            binding("headless", "no-selector", "ip"),
        ];
        let services = [
            service("web", json!({"app": "web"})),
            service("other", json!({"app": "other"})),
            service("no-selector", json!({})),
        ];
        assert_eq!(
            readiness_gates_for(&labels(), &bindings, &services),
            vec!["target-health.elbv2.k8s.aws/web-ip"]
        );
        assert!(readiness_gates_for(&labels(), &bindings[..1], &[]).is_empty());
    }

    #[test]
    fn a_pod_without_gates_gets_the_whole_list() {
        let mut pod = pod(json!(null));
        pod.spec.as_mut().unwrap().readiness_gates = None;
        let patch = readiness_gate_patch(&pod, &["target-health.elbv2.k8s.aws/a".into()]).unwrap();
        assert_eq!(
            serde_json::to_value(&patch).unwrap(),
            json!([{"op": "add", "path": "/spec/readinessGates",
                    "value": [{"conditionType": "target-health.elbv2.k8s.aws/a"}]}])
        );
    }

    #[test]
    fn a_pod_with_gates_gets_the_missing_ones_appended_and_loses_legacy_ones() {
        let own = pod(json!([{"conditionType": "example.com/warm"}]));
        let patch = readiness_gate_patch(&own, &["target-health.elbv2.k8s.aws/a".into()]).unwrap();
        assert_eq!(
            serde_json::to_value(&patch).unwrap(),
            json!([{"op": "add", "path": "/spec/readinessGates/1",
                    "value": {"conditionType": "target-health.elbv2.k8s.aws/a"}}])
        );
        let mut patched = serde_json::to_value(&own).unwrap();
        json_patch::patch(&mut patched, &patch).unwrap();
        assert_eq!(
            patched["spec"]["readinessGates"],
            json!([{"conditionType": "example.com/warm"},
                   {"conditionType": "target-health.elbv2.k8s.aws/a"}])
        );
        let legacy = pod(json!([{"conditionType": "target-health.alb.ingress.k8s.aws/a"}]));
        let patch =
            readiness_gate_patch(&legacy, &["target-health.elbv2.k8s.aws/a".into()]).unwrap();
        let mut patched = serde_json::to_value(&legacy).unwrap();
        json_patch::patch(&mut patched, &patch).unwrap();
        assert_eq!(
            patched["spec"]["readinessGates"],
            json!([{"conditionType": "target-health.elbv2.k8s.aws/a"}])
        );
        let done = pod(json!([{"conditionType": "target-health.elbv2.k8s.aws/a"}]));
        assert_eq!(
            readiness_gate_patch(&done, &["target-health.elbv2.k8s.aws/a".into()]),
            None,
            "nothing to add"
        );
        assert_eq!(
            readiness_gate_patch(&legacy, &[]),
            None,
            "no gate, no change"
        );
    }
}
