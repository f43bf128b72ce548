//! The Kubernetes writes of the registration loop: a binding's `Ready` condition and the
//! readiness-gate conditions of its pods (its finalizer is kube-runtime's `finalizer()`'s). No
//! AWS call, no decision.

use super::BindingReconciler;
use crate::cloud::Cloud;
use crate::crd::target_group_binding::TargetGroupBinding;
use crate::targets::gates::{gate_condition_type, GateUpdate};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Api, Patch, PatchParams};
use kube::ResourceExt;
use serde_json::json;

/// The reasons the registration loop writes on a binding: its `Ready` condition's (`True` only
/// with `Registered`) and its Warning events'.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindingReason {
    /// Every wanted target registered: the only reason of a `Ready` binding.
    Registered,
    /// No target group ARN, or a target group of the other target type.
    InvalidTargetGroupBinding,
    /// The target group does not exist.
    TargetGroupNotFound,
    /// The Service or its port is missing.
    BackendNotFound,
    /// A node's `providerID` cannot be read (the whole binding waits).
    InvalidNode,
    /// The targets' security group rules could not be applied.
    FailedNetworkReconcile,
    /// A target's pod lacks the readiness gate (event only).
    PodWithoutReadinessGate,
}

impl BindingReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registered => "Registered",
            Self::InvalidTargetGroupBinding => "InvalidTargetGroupBinding",
            Self::TargetGroupNotFound => "TargetGroupNotFound",
            Self::BackendNotFound => "BackendNotFound",
            Self::InvalidNode => "InvalidNode",
            Self::FailedNetworkReconcile => "FailedNetworkReconcile",
            Self::PodWithoutReadinessGate => "PodWithoutReadinessGate",
        }
    }
}

impl<C: Cloud + 'static> BindingReconciler<C> {
    /// `awslbc_readiness_gate_ready_seconds`: from the gate's last change (its `False`), else
    /// the pod's creation, to now.
    fn observe_gate_ready(&self, namespace: &str, binding: &str, pod: &str, now: jiff::Timestamp) {
        let Some(cached) = self.cache.cached_pod(namespace, pod) else {
            return;
        };
        let gate = gate_condition_type(binding);
        let since = cached
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == gate))
            .and_then(|c| c.last_transition_time.as_ref())
            .or(cached.metadata.creation_timestamp.as_ref())
            .map(|time| time.0);
        if let Some(since) = since {
            let seconds = now.duration_since(since).as_secs_f64().max(0.0);
            crate::metrics::metrics()
                .readiness_gate_ready_seconds
                .with_label_values(&[namespace, binding])
                .observe(seconds);
        }
    }

    /// Sets the `Ready` condition (and `observedGeneration`) when they differ: `True` for
    /// `Registered`, `False` for any other reason.
    pub(super) async fn set_ready(
        &self,
        binding: &TargetGroupBinding,
        reason: BindingReason,
        message: &str,
    ) -> Result<(), kube::Error> {
        let ready = reason == BindingReason::Registered;
        let reason = reason.as_str();
        let status = binding.status.clone().unwrap_or_default();
        let conditions = status.conditions.unwrap_or_default();
        let wanted = if ready { "True" } else { "False" };
        let current = conditions.iter().find(|c| c.type_ == "Ready");
        let same = current
            .is_some_and(|c| c.status == wanted && c.reason == reason && c.message == message);
        if same && status.observed_generation == binding.metadata.generation {
            return Ok(());
        }
        let mut others: Vec<Condition> = conditions
            .iter()
            .filter(|c| c.type_ != "Ready")
            .cloned()
            .collect();
        others.push(Condition {
            type_: "Ready".into(),
            status: wanted.into(),
            reason: reason.into(),
            message: message.into(),
            observed_generation: binding.metadata.generation,
            last_transition_time: match current {
                Some(c) if c.status == wanted => c.last_transition_time.clone(),
                _ => Time(jiff::Timestamp::now()),
            },
        });
        let namespace = binding.namespace().unwrap_or_else(|| "default".to_string());
        let api: Api<TargetGroupBinding> = Api::namespaced(self.client.clone(), &namespace);
        let patch = json!({"status": {"observedGeneration": binding.metadata.generation, "conditions": others}});
        api.patch_status(
            &binding.name_any(),
            &PatchParams::default(),
            &Patch::Merge(patch),
        )
        .await?;
        Ok(())
    }

    /// Writes gate conditions to pod status (strategic merge on `conditions`, keyed by type,
    /// with the pod's uid as a precondition). A pod that is gone or was replaced is skipped.
    pub(super) async fn write_gates(
        &self,
        namespace: &str,
        binding: &str,
        updates: &[GateUpdate],
    ) -> Result<(), kube::Error> {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        for update in updates {
            let text = |value: &str| {
                if value.is_empty() {
                    json!(null)
                } else {
                    json!(value)
                }
            };
            let mut condition = json!({
                "type": gate_condition_type(binding),
                "status": update.condition.status,
                "reason": text(&update.condition.reason),
                "message": text(&update.condition.message),
            });
            let now = jiff::Timestamp::now();
            if update.status_changes {
                condition["lastTransitionTime"] = json!(Time(now));
                if update.condition.status == "True" {
                    self.observe_gate_ready(namespace, binding, &update.pod, now);
                }
            }
            let patch = json!({
                "metadata": {"uid": update.uid},
                "status": {"conditions": [condition]},
            });
            match pods
                .patch_status(
                    &update.pod,
                    &PatchParams::default(),
                    &Patch::Strategic(patch),
                )
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => {}
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }
}
