//! The registration loop: for every TargetGroupBinding, keep its target group's targets equal to
//! the ready endpoints of its Service port. Keyed by binding, woken by the binding and by the
//! EndpointSlices of its Service (not by re-planning any load balancer), so a rollout costs one
//! DescribeTargetHealth and at most one Register and one Deregister per change set.
//!
//! - Finalizer `elbv2.k8s.aws/resources`: deleting a binding deregisters its targets first.
//! - Bad input (no ARN, a missing target group, a target group of the other target type, a
//!   missing Service or port) → a Warning event naming the problem, and no call bound to fail.
//!
//! Instance bindings register eligible nodes (see `targets`), woken by Node changes too.
//!
//! Not yet: readiness gates, `spec.networking`, multi-cluster sharing
//! (a deleted multi-cluster binding deregisters only its own endpoints' targets), checkpoints.

use crate::cloud::{Cloud, CloudError, ErrorKind, Target};
use crate::crd::target_group_binding::{
    BindingIpAddressType, BindingTargetType, TargetGroupBinding,
};
use crate::model::TargetType;
use crate::targets::{
    desired_instance_targets, desired_ip_targets, sync_targets, TargetError, SERVICE_NAME_LABEL,
};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{watcher, Controller};
use kube::{Resource, ResourceExt};
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

pub const BINDING_FINALIZER: &str = "elbv2.k8s.aws/resources";

/// A converged binding is compared with AWS again after this long (one DescribeTargetHealth),
/// so targets removed behind the controller's back come back without any Kubernetes event.
const DRIFT_CHECK_INTERVAL: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("AWS: {0}")]
    Cloud(#[from] CloudError),
}

pub struct BindingReconciler<C> {
    pub client: kube::Client,
    pub cloud: C,
    recorder: Recorder,
}

impl<C: Cloud + 'static> BindingReconciler<C> {
    pub fn new(client: kube::Client, cloud: C) -> Self {
        let recorder = Recorder::new(
            client.clone(),
            Reporter::from("targetgroupbinding-controller"),
        );
        Self {
            client,
            cloud,
            recorder,
        }
    }

    /// A Warning event, and the `Ready` condition `False` with the same reason.
    async fn warn(&self, binding: &TargetGroupBinding, reason: &str, note: &str) {
        let event = Event {
            type_: EventType::Warning,
            reason: reason.to_string(),
            note: Some(note.chars().take(1024).collect()),
            action: "Register".to_string(),
            secondary: None,
        };
        if let Err(error) = self
            .recorder
            .publish(&event, &binding.object_ref(&()))
            .await
        {
            tracing::warn!(%error, "could not publish an event");
        }
        if let Err(error) = self.set_ready(binding, false, reason, note).await {
            tracing::warn!(%error, "could not set the binding's condition");
        }
    }

    /// Sets the `Ready` condition (and `observedGeneration`) when they differ.
    async fn set_ready(
        &self,
        binding: &TargetGroupBinding,
        ready: bool,
        reason: &str,
        message: &str,
    ) -> Result<(), kube::Error> {
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

    async fn set_finalizer(
        &self,
        api: &Api<TargetGroupBinding>,
        binding: &TargetGroupBinding,
        present: bool,
    ) -> Result<(), kube::Error> {
        let current = binding.finalizers().to_vec();
        let has = current.iter().any(|f| f == BINDING_FINALIZER);
        if has == present {
            return Ok(());
        }
        let wanted: Vec<String> = if present {
            current
                .iter()
                .cloned()
                .chain([BINDING_FINALIZER.to_string()])
                .collect()
        } else {
            current
                .iter()
                .filter(|f| *f != BINDING_FINALIZER)
                .cloned()
                .collect()
        };
        let guard = if current.is_empty() {
            json!(null)
        } else {
            json!(current)
        };
        let patch: json_patch::Patch = serde_json::from_value(json!([
            {"op": "test", "path": "/metadata/finalizers", "value": guard},
            {"op": "add", "path": "/metadata/finalizers", "value": wanted}
        ]))
        .map_err(kube::Error::SerdeError)?;
        api.patch(
            &binding.name_any(),
            &PatchParams::default(),
            &Patch::Json::<()>(patch),
        )
        .await?;
        Ok(())
    }

    /// The targets the binding wants, and whether its Service port was found (none, after a
    /// warning, when the Service or port is missing).
    async fn desired(
        &self,
        binding: &TargetGroupBinding,
        namespace: &str,
        instance: bool,
    ) -> Result<Option<(BTreeSet<Target>, bool)>, kube::Error> {
        let spec = &binding.spec;
        let services: Api<Service> = Api::namespaced(self.client.clone(), namespace);
        let Some(service) = services.get_opt(&spec.service_ref.name).await? else {
            self.warn(
                binding,
                "BackendNotFound",
                &format!(
                    "Service {}/{} does not exist",
                    namespace, spec.service_ref.name
                ),
            )
            .await;
            return Ok(Some((BTreeSet::new(), false)));
        };
        let slices: Api<EndpointSlice> = Api::namespaced(self.client.clone(), namespace);
        let listed = slices
            .list(
                &ListParams::default()
                    .labels(&format!("{SERVICE_NAME_LABEL}={}", spec.service_ref.name)),
            )
            .await?;
        let wanted = if instance {
            let nodes = Api::<Node>::all(self.client.clone())
                .list(&ListParams::default())
                .await?
                .items;
            desired_instance_targets(
                &service,
                &spec.service_ref.port,
                &nodes,
                &listed.items,
                spec.node_selector.as_ref(),
            )
        } else {
            let ipv6 = spec.ip_address_type == Some(BindingIpAddressType::Ipv6);
            desired_ip_targets(&service, &spec.service_ref.port, ipv6, &listed.items)
        };
        match wanted {
            Ok(targets) => Ok(Some((targets, true))),
            Err(error @ TargetError::InvalidProviderId { .. }) => {
                // Upstream fails the whole binding: registering a partial node set would drop targets.
                self.warn(binding, "InvalidNode", &error.to_string()).await;
                Ok(None)
            }
            Err(error) => {
                self.warn(binding, "BackendNotFound", &error.to_string())
                    .await;
                Ok(Some((BTreeSet::new(), false)))
            }
        }
    }

    /// One reconcile of one binding.
    pub async fn reconcile(
        &self,
        binding: &TargetGroupBinding,
    ) -> Result<Action, RegistrationError> {
        let namespace = binding.namespace().unwrap_or_else(|| "default".to_string());
        let api: Api<TargetGroupBinding> = Api::namespaced(self.client.clone(), &namespace);
        let Some(arn) = binding.spec.target_group_arn.clone() else {
            self.warn(
                binding,
                "InvalidTargetGroupBinding",
                "spec.targetGroupARN is required (name lookup is not supported yet)",
            )
            .await;
            return Ok(Action::await_change());
        };
        if binding.metadata.deletion_timestamp.is_some() {
            match sync_targets(&self.cloud, &arn, &BTreeSet::new()).await {
                Ok(_) => {}
                Err(error) if error.kind == ErrorKind::NotFound => {}
                Err(error) => return Err(error.into()),
            }
            self.set_finalizer(&api, binding, false).await?;
            return Ok(Action::await_change());
        }
        let groups = match self
            .cloud
            .describe_target_groups(std::slice::from_ref(&arn))
            .await
        {
            Ok(groups) => groups,
            Err(error) if error.kind == ErrorKind::NotFound => {
                self.warn(
                    binding,
                    "TargetGroupNotFound",
                    &format!("target group {arn} does not exist"),
                )
                .await;
                return Ok(Action::requeue(Duration::from_secs(60)));
            }
            Err(error) => return Err(error.into()),
        };
        let actual_type = groups.first().map(|g| g.target_type);
        let wanted_type = match binding.spec.target_type {
            Some(BindingTargetType::Instance) => Some(TargetType::Instance),
            Some(BindingTargetType::Ip) => Some(TargetType::Ip),
            None => actual_type,
        };
        if wanted_type != actual_type {
            self.warn(
                binding,
                "InvalidTargetGroupBinding",
                &format!(
                    "target group {arn} is of target type {:?}, the binding says {wanted_type:?}",
                    actual_type
                ),
            )
            .await;
            return Ok(Action::await_change());
        }
        self.set_finalizer(&api, binding, true).await?;
        let instance = wanted_type == Some(TargetType::Instance);
        let Some((desired, service_port_found)) =
            self.desired(binding, &namespace, instance).await?
        else {
            return Ok(Action::await_change());
        };
        let registered = desired.len();
        sync_targets(&self.cloud, &arn, &desired).await?;
        if service_port_found {
            self.set_ready(
                binding,
                true,
                "Registered",
                &format!("{registered} target(s) registered"),
            )
            .await?;
        }
        Ok(Action::requeue(DRIFT_CHECK_INTERVAL))
    }
}

/// Runs the registration loop until the stream of bindings ends.
pub async fn run_registration_loop<C: Cloud + 'static>(reconciler: Arc<BindingReconciler<C>>) {
    let bindings: Api<TargetGroupBinding> = Api::all(reconciler.client.clone());
    let slices: Api<EndpointSlice> = Api::all(reconciler.client.clone());
    let nodes: Api<Node> = Api::all(reconciler.client.clone());
    let controller = Controller::new(bindings, watcher::Config::default());
    let store = controller.store();
    let node_store = controller.store();
    controller
        .watches(
            slices,
            watcher::Config::default(),
            move |slice: EndpointSlice| {
                let namespace = slice.namespace();
                let service = slice.labels().get(SERVICE_NAME_LABEL).cloned();
                store
                    .state()
                    .into_iter()
                    .filter(|binding| {
                        binding.namespace() == namespace
                            && Some(&binding.spec.service_ref.name) == service.as_ref()
                    })
                    .map(|binding| ObjectRef::from_obj(binding.as_ref()))
                    .collect::<Vec<_>>()
            },
        )
        .watches(nodes, watcher::Config::default(), move |_node: Node| {
            node_store
                .state()
                .into_iter()
                .filter(|binding| binding.spec.target_type == Some(BindingTargetType::Instance))
                .map(|binding| ObjectRef::from_obj(binding.as_ref()))
                .collect::<Vec<_>>()
        })
        .run(
            |binding, reconciler: Arc<BindingReconciler<C>>| async move {
                reconciler.reconcile(&binding).await
            },
            |binding, error, _| {
                tracing::warn!(binding = %binding.name_any(), %error, "target registration failed");
                Action::requeue(Duration::from_secs(5))
            },
            reconciler,
        )
        .for_each(|_| async {})
        .await;
}
