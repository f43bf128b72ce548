//! Pods that should carry a binding's readiness gate and do not: in a namespace opted in to gate
//! injection, a target without the gate was created before the binding or while the pod webhook
//! was unavailable (its `failurePolicy: Ignore` let it through). Each is reported once, as a
//! Warning on the binding, so the gap is seen rather than silently unprotected.

use super::{BindingReason, BindingReconciler};
use crate::cloud::Cloud;
use crate::crd::target_group_binding::TargetGroupBinding;
use crate::targets::gates::gate_condition_type;
use crate::targets::IpTargets;
use kube::ResourceExt;
use std::collections::BTreeSet;

impl<C: Cloud + 'static> BindingReconciler<C> {
    /// Once per pod: a Warning on the binding naming the targets of an opted-in namespace that
    /// lack its readiness gate (created before the binding, or while the pod webhook was
    /// unavailable: its `failurePolicy: Ignore` let them through), so a rollout would not wait
    /// for them. Not a condition: the binding itself works.
    pub(super) async fn report_ungated_pods(
        &self,
        binding: &TargetGroupBinding,
        key: &str,
        ip_targets: &IpTargets,
    ) {
        let namespace = binding.namespace().unwrap_or_default();
        if !self.cache.injects_readiness_gates(&namespace) {
            return;
        }
        let gate = gate_condition_type(&binding.name_any());
        let targets: BTreeSet<&String> = ip_targets.pods.values().collect();
        let newly: Vec<String> = {
            let mut reported = self
                .reported_ungated
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let seen = reported.entry(key.to_string()).or_default();
            seen.retain(|pod| targets.contains(pod));
            targets
                .iter()
                .filter(|pod| self.cache.pod_lacks_gate(&namespace, pod, &gate))
                .filter(|pod| seen.insert((**pod).clone()))
                .map(|pod| (*pod).clone())
                .collect()
        };
        if newly.is_empty() {
            return;
        }
        let note = format!(
            "pod(s) {} have no readiness gate {gate} (created before this binding, or while the pod webhook was unavailable): a rollout does not wait for their targets to be healthy; they get the gate when recreated",
            newly.join(", ")
        );
        self.publish_warning(binding, BindingReason::PodWithoutReadinessGate, &note)
            .await;
    }
}
