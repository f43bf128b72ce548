//! Pod readiness gates (upstream's §3.8): what the condition `target-health.elbv2.k8s.aws/<binding>`
//! of each gated pod should say, given its target's health. Pure; the registration loop writes
//! the result to the pods' status.
//!
//! - `True` once the target is `healthy`; `False` with ELB's reason for any other state;
//!   `False`/`Elb.RegistrationInProgress` for a target registered in this very pass; `Unknown` when
//!   AWS does not report the target yet.
//! - Only pods that declare the gate and are targets of the binding are touched; a pod whose
//!   condition already says the same is left alone.

use super::IpTargets;
use crate::cloud::{Target, TargetHealth, TargetState};
use k8s_openapi::api::core::v1::Pod;
use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet};

/// Readiness-gate condition types start with this.
pub const GATE_PREFIX: &str = "target-health.elbv2.k8s.aws/";

/// The condition type of a binding's gate.
pub fn gate_condition_type(binding: &str) -> String {
    format!("{GATE_PREFIX}{binding}")
}

/// The status, reason and message a gate condition should carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateCondition {
    pub status: &'static str,
    pub reason: String,
    pub message: String,
}

/// One pod whose gate condition must be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateUpdate {
    pub pod: String,
    pub uid: Option<String>,
    pub condition: GateCondition,
    /// The status changes (so `lastTransitionTime` moves), as opposed to reason or message only.
    pub status_changes: bool,
}

/// What the gates of one binding need.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GatePlan {
    pub updates: Vec<GateUpdate>,
    /// Some gated target is not healthy yet: look at its health again soon.
    pub waiting: bool,
}

fn condition_for(
    target: &Target,
    registering: &BTreeSet<&Target>,
    health: &BTreeMap<&Target, &TargetHealth>,
) -> GateCondition {
    if registering.contains(target) {
        return GateCondition {
            status: "False",
            reason: "Elb.RegistrationInProgress".into(),
            message: "Target registration is in progress".into(),
        };
    }
    match health.get(target) {
        None => GateCondition {
            status: "Unknown",
            reason: String::new(),
            message: String::new(),
        },
        Some(report) if report.state == TargetState::Healthy => GateCondition {
            status: "True",
            reason: String::new(),
            message: String::new(),
        },
        Some(report) => GateCondition {
            status: "False",
            reason: report.reason.clone(),
            message: report.description.clone(),
        },
    }
}

fn current_condition<'a>(
    pod: &'a Pod,
    condition_type: &str,
) -> Option<&'a k8s_openapi::api::core::v1::PodCondition> {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .find(|c| c.type_ == condition_type)
}

fn update_if_changed(pod: &Pod, condition_type: &str, wanted: GateCondition) -> Option<GateUpdate> {
    let current = current_condition(pod, condition_type);
    let same = current.is_some_and(|c| {
        c.status == wanted.status
            && c.reason.as_deref().unwrap_or_default() == wanted.reason
            && c.message.as_deref().unwrap_or_default() == wanted.message
    });
    (!same).then(|| GateUpdate {
        pod: pod.metadata.name.clone().unwrap_or_default(),
        uid: pod.metadata.uid.clone(),
        status_changes: current.is_none_or(|c| c.status != wanted.status),
        condition: wanted,
    })
}

/// The gate updates for `binding` after a sync: `gated_pods` are the namespace's pods that declare
/// the gate, `targets` the binding's targets with their pods, `registered` what this pass
/// registered, `health` what DescribeTargetHealth reported before it.
pub fn plan_gates(
    binding: &str,
    gated_pods: &[impl Borrow<Pod>],
    targets: &IpTargets,
    registered: &[Target],
    health: &[TargetHealth],
) -> GatePlan {
    let condition_type = gate_condition_type(binding);
    let registering: BTreeSet<&Target> = registered.iter().collect();
    let health: BTreeMap<&Target, &TargetHealth> = health
        .iter()
        .map(|report| (&report.target, report))
        .collect();
    let pods: BTreeMap<&str, &Pod> = gated_pods
        .iter()
        .map(Borrow::borrow)
        .map(|pod: &Pod| (pod.metadata.name.as_deref().unwrap_or_default(), pod))
        .collect();
    let mut plan = GatePlan::default();
    for (target, pod_name) in &targets.pods {
        let Some(pod) = pods.get(pod_name.as_str()) else {
            continue;
        };
        let wanted = condition_for(target, &registering, &health);
        plan.waiting |= wanted.status != "True";
        plan.updates
            .extend(update_if_changed(pod, &condition_type, wanted));
    }
    plan
}

/// On deletion of a binding every gated pod is let through (upstream's behaviour), so no rollout
/// waits forever on a gate nobody will set.
pub fn release_gates(binding: &str, gated_pods: &[impl Borrow<Pod>]) -> Vec<GateUpdate> {
    let condition_type = gate_condition_type(binding);
    gated_pods
        .iter()
        .map(Borrow::borrow)
        .filter_map(|pod: &Pod| {
            update_if_changed(
                pod,
                &condition_type,
                GateCondition {
                    status: "True",
                    reason: String::new(),
                    message: "Target Group Binding is deleted".into(),
                },
            )
        })
        .collect()
}
