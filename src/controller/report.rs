//! Report: what a reconcile writes back to Kubernetes — finalizers (one guarded patch for
//! Services and Ingresses; TargetGroupBindings use kube-runtime's `finalizer()`), the Service's `status.loadBalancer`,
//! its `service.k8s.aws/Reconciled` condition, and events. Each write is
//! made only when something differs, so a no-op reconcile writes nothing.

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Resource, ResourceExt};
use serde_json::{json, Value};

/// The condition type the controller keeps on each Service it manages.
pub const CONDITION_TYPE: &str = "service.k8s.aws/Reconciled";

/// An object whose finalizers and events the report step writes (Services, Ingresses,
/// TargetGroupBindings).
pub trait Finalizable:
    Resource<DynamicType = ()> + Clone + std::fmt::Debug + serde::de::DeserializeOwned
{
}

impl<K> Finalizable for K where
    K: Resource<DynamicType = ()> + Clone + std::fmt::Debug + serde::de::DeserializeOwned
{
}

/// Sends a JSON patch of `metadata.finalizers` (guarded by its `test` operation).
async fn patch_finalizers<K: Finalizable>(
    api: &Api<K>,
    service: &K,
    patch: Value,
) -> Result<(), kube::Error> {
    let patch: json_patch::Patch =
        serde_json::from_value(patch).map_err(kube::Error::SerdeError)?;
    api.patch(
        &service.name_any(),
        &PatchParams::default(),
        &Patch::Json::<()>(patch),
    )
    .await?;
    Ok(())
}

/// Adds `finalizer` unless present; guarded by a JSON-patch test so a concurrent change conflicts.
pub async fn add_finalizer<K: Finalizable>(
    api: &Api<K>,
    service: &K,
    finalizer: &str,
) -> Result<(), kube::Error> {
    let current = service.finalizers();
    if current.iter().any(|f| f == finalizer) {
        return Ok(());
    }
    let patch: Value = if current.is_empty() {
        json!([
            {"op": "test", "path": "/metadata/finalizers", "value": null},
            {"op": "add", "path": "/metadata/finalizers", "value": [finalizer]}
        ])
    } else {
        json!([
            {"op": "test", "path": "/metadata/finalizers", "value": current},
            {"op": "add", "path": "/metadata/finalizers/-", "value": finalizer}
        ])
    };
    patch_finalizers(api, service, patch).await
}

/// Removes `finalizer` if present.
pub async fn remove_finalizer<K: Finalizable>(
    api: &Api<K>,
    service: &K,
    finalizer: &str,
) -> Result<(), kube::Error> {
    let current = service.finalizers();
    if !current.iter().any(|f| f == finalizer) {
        return Ok(());
    }
    let kept: Vec<&String> = current.iter().filter(|f| *f != finalizer).collect();
    let patch = json!([
        {"op": "test", "path": "/metadata/finalizers", "value": current},
        {"op": "replace", "path": "/metadata/finalizers", "value": kept}
    ]);
    patch_finalizers(api, service, patch).await
}

fn hostname_entry(service: &Service, hostname: &str) -> Value {
    let ports: Vec<Value> = service
        .spec
        .as_ref()
        .and_then(|spec| spec.ports.as_ref())
        .into_iter()
        .flatten()
        .map(|port| json!({"port": port.port, "protocol": port.protocol.as_deref().unwrap_or("TCP")}))
        .collect();
    json!({"hostname": hostname, "ports": ports})
}

fn condition(
    status: bool,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    previous: Option<&Condition>,
) -> Condition {
    let status = if status { "True" } else { "False" };
    let unchanged =
        previous.is_some_and(|p| p.status == status && p.reason == reason && p.message == message);
    Condition {
        type_: CONDITION_TYPE.to_string(),
        status: status.to_string(),
        reason: reason.to_string(),
        message: message.to_string(),
        observed_generation: generation,
        last_transition_time: match previous {
            Some(p) if unchanged => p.last_transition_time.clone(),
            _ => Time(jiff::Timestamp::now()),
        },
    }
}

/// What a status write does to `status.loadBalancer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadBalancerAddress<'a> {
    /// The load balancer's DNS name, with the Service's ports.
    Hostname(&'a str),
    /// Left as it is (a failed run does not take the address away).
    Unchanged,
    /// Emptied (the Service is no longer ours).
    Cleared,
}

/// The reason of the `service.k8s.aws/Reconciled` condition: `True` only when reconciled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReconciledReason {
    /// The reason of the event published with it.
    Event(EventReason),
    /// The Service stopped being ours (its type or class changed): `False`.
    NotManaged,
}

impl ReconciledReason {
    fn as_str(self) -> &'static str {
        match self {
            Self::Event(reason) => reason.as_str(),
            Self::NotManaged => "NotManaged",
        }
    }

    fn is_reconciled(self) -> bool {
        self == Self::Event(EventReason::SuccessfullyReconciled)
    }
}

/// Sets `status.loadBalancer` as `address` says and the condition, patching the status only
/// when something differs.
pub async fn update_status(
    api: &Api<Service>,
    service: &Service,
    address: LoadBalancerAddress<'_>,
    reason: ReconciledReason,
    message: &str,
) -> Result<(), kube::Error> {
    let status = service.status.clone().unwrap_or_default();
    let conditions = status.conditions.clone().unwrap_or_default();
    let previous = conditions.iter().find(|c| c.type_ == CONDITION_TYPE);
    let wanted = condition(
        reason.is_reconciled(),
        reason.as_str(),
        message,
        service.metadata.generation,
        previous,
    );
    let condition_same = previous.is_some_and(|p| {
        p.status == wanted.status
            && p.reason == wanted.reason
            && p.message == wanted.message
            && p.observed_generation == wanted.observed_generation
    });
    let current_ingress = serde_json::to_value(
        status
            .load_balancer
            .as_ref()
            .and_then(|lb| lb.ingress.clone())
            .unwrap_or_default(),
    )
    .unwrap_or_default();
    let wanted_ingress = match address {
        LoadBalancerAddress::Hostname(hostname) => Some(json!([hostname_entry(service, hostname)])),
        LoadBalancerAddress::Cleared => Some(json!([])),
        LoadBalancerAddress::Unchanged => None,
    };
    let ingress_same = wanted_ingress
        .as_ref()
        .is_none_or(|wanted| *wanted == current_ingress);
    if condition_same && ingress_same {
        return Ok(());
    }
    let mut others: Vec<Condition> = conditions
        .into_iter()
        .filter(|c| c.type_ != CONDITION_TYPE)
        .collect();
    others.push(wanted);
    let mut patch = json!({"status": {"conditions": others}});
    if let Some(ingress) = wanted_ingress {
        // An empty list clears the field: the load balancer status becomes `{}`.
        let ingress = if ingress == json!([]) {
            Value::Null
        } else {
            ingress
        };
        patch["status"]["loadBalancer"] = json!({"ingress": ingress});
    }
    api.patch_status(
        &service.name_any(),
        &PatchParams::default(),
        &Patch::Merge(patch),
    )
    .await?;
    Ok(())
}

/// The reasons of the events the Service and Ingress loops publish (upstream's), each Normal or
/// Warning once and for all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventReason {
    /// The input cannot be built (an annotation, a member of a group): Warning.
    FailedBuildModel,
    /// AWS refused the plan or a step of it: Warning.
    FailedDeployModel,
    /// Accepted, but not all of it is supported: Warning.
    UnsupportedConfiguration,
    /// The load balancer was changed to match: Normal.
    SuccessfullyReconciled,
}

impl EventReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FailedBuildModel => "FailedBuildModel",
            Self::FailedDeployModel => "FailedDeployModel",
            Self::UnsupportedConfiguration => "UnsupportedConfiguration",
            Self::SuccessfullyReconciled => "SuccessfullyReconciled",
        }
    }

    pub fn is_warning(self) -> bool {
        !matches!(self, Self::SuccessfullyReconciled)
    }
}

/// Publishes an event about `service`; a failure to publish is logged, not fatal.
pub async fn publish<K: Finalizable>(
    recorder: &Recorder,
    service: &K,
    reason: EventReason,
    note: &str,
) {
    let event = Event {
        type_: if reason.is_warning() {
            EventType::Warning
        } else {
            EventType::Normal
        },
        reason: reason.as_str().to_string(),
        note: Some(note.chars().take(1024).collect()),
        action: "Reconcile".to_string(),
        secondary: None,
    };
    if let Err(error) = recorder.publish(&event, &service.object_ref(&())).await {
        tracing::warn!(%error, reason = reason.as_str(), "could not publish an event");
    }
}
