//! The registration loop: for every TargetGroupBinding, keep its target group's targets equal to
//! the ready endpoints of its Service port. Keyed by binding, woken by the binding and by the
//! EndpointSlices of its Service (not by re-planning any load balancer), so a rollout costs one
//! DescribeTargetHealth and at most one Register and one Deregister per change set.
//!
//! - Finalizer `elbv2.k8s.aws/resources`, kept by kube-runtime's `finalizer()`: added before
//!   anything else (as upstream), removed only after the binding's targets were deregistered.
//! - Bad input (no ARN, a missing target group, a target group of the other target type, a
//!   missing Service or port) → a Warning event naming the problem, and no call bound to fail.
//!
//! Instance bindings register eligible nodes (see `targets`), woken by Node changes too.
//!
//! Pod readiness gates: after each sync of an ip binding, pods that declare the gate
//! `target-health.elbv2.k8s.aws/<binding>` get the condition its target's health calls for
//! (`targets::gates`). While a gated target is not healthy yet the binding is looked at again
//! after 1 s, doubling up to 10 s (one DescribeTargetHealth each); once all are healthy, polling
//! stops. Deleting a binding sets its gates True so no rollout waits on it forever. Targets in a
//! namespace opted in to gate injection that lack the gate are reported once (a Warning
//! `PodWithoutReadinessGate`): the pod webhook was down when they were created.
//!
//! Reads come from `cache` (watched stores holding only the fields used), not from lists.
//!
//! Networking (`networking`): before registering, the binding's `spec.networking` is applied to
//! its targets' security groups; a failure is a Warning `FailedNetworkReconcile` and a retry
//! after 15 s (instance targets are then not registered, ip targets are, as upstream). Deleting
//! a binding withdraws its rules.
//!
//! Not yet: multi-cluster sharing (a deleted multi-cluster binding
//! deregisters every target), checkpoints.

mod binding_status;
pub use binding_status::BindingReason;
pub mod cache;
mod gate_gaps;
pub mod networking;
mod pod_summary;
mod watches;

pub use watches::run_registration_loop;

use crate::cloud::{Cloud, CloudError, CloudResult, ErrorKind, Target};
use crate::crd::target_group_binding::{
    BindingIpAddressType, BindingTargetType, TargetGroupBinding,
};
use crate::model::TargetType;
use crate::targets::gates::{gate_condition_type, plan_gates, release_gates};
use crate::targets::{
    desired_instance_targets, desired_ip_targets, sync_shared_targets, sync_targets, IpTargets,
    TargetError, TargetSync,
};
use cache::ClusterCache;
use kube::api::{Api, ListParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::finalizer::{finalizer, Error as FinalizerError, Event as FinalizerEvent};
use kube::{Resource, ResourceExt};
use networking::{NetworkingSettings, TargetEndpoint, TargetNetworking};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BINDING_FINALIZER: &str = "elbv2.k8s.aws/resources";

/// A converged binding is compared with AWS again after this long (one DescribeTargetHealth),
/// so targets removed behind the controller's back come back without any Kubernetes event.
const DRIFT_CHECK_INTERVAL: Duration = Duration::from_secs(15 * 60);
/// While a gated target is not healthy, its health is read again after this long, doubling…
const FIRST_GATE_POLL: Duration = Duration::from_secs(1);
/// …up to this.
const LAST_GATE_POLL: Duration = Duration::from_secs(10);
/// A binding syncs at most once per this window: the first change after a quiet spell is synced
/// at once, later ones wait for the window to end and go out together in one Register call. The
/// cache is read after the wait, so the call carries every change up to then.
const BATCH_WINDOW: Duration = Duration::from_millis(200);
/// A binding whose networking failed is tried again after this long (upstream's
/// `--targetgroupbinding-requeue-duration` default).
const NETWORKING_RETRY: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("AWS: {0}")]
    Cloud(#[from] CloudError),
    #[error("security group rules: {0}")]
    Networking(String),
    #[error("finalizer: {0}")]
    Finalizer(String),
}

impl From<FinalizerError<RegistrationError>> for RegistrationError {
    fn from(error: FinalizerError<RegistrationError>) -> Self {
        match error {
            FinalizerError::ApplyFailed(error) | FinalizerError::CleanupFailed(error) => error,
            FinalizerError::AddFinalizer(error) | FinalizerError::RemoveFinalizer(error) => {
                RegistrationError::Kube(error)
            }
            other => RegistrationError::Finalizer(other.to_string()),
        }
    }
}

pub struct BindingReconciler<C> {
    pub client: kube::Client,
    pub cloud: C,
    pub cache: ClusterCache,
    recorder: Recorder,
    /// The next gate-poll interval of each binding (`namespace/name`) still waiting on health.
    gate_polls: Mutex<HashMap<String, Duration>>,
    /// When each binding last synced, for the batch window.
    last_syncs: Mutex<HashMap<String, Instant>>,
    /// The targets this process registered, by target group ARN: a multi-cluster target group
    /// loses only these, never another cluster's (kept in memory: after a restart, targets of
    /// ours that are no longer wanted stay until AWS's health checks fail them, rather than
    /// risking another cluster's).
    registered_by_us: Mutex<HashMap<String, BTreeSet<Target>>>,
    /// The rules on the targets' security groups (one for the process).
    networking: TargetNetworking,
    /// Per binding, the pods already reported as lacking its readiness gate (pruned to the
    /// binding's current targets).
    reported_ungated: Mutex<HashMap<String, BTreeSet<String>>>,
    /// The `aws_target_group_info` labels exported for each binding.
    target_group_info: Mutex<HashMap<String, [String; 3]>>,
}

impl<C: Cloud + 'static> BindingReconciler<C> {
    pub fn new(
        client: kube::Client,
        cloud: C,
        cache: ClusterCache,
        networking: NetworkingSettings,
    ) -> Self {
        let recorder = Recorder::new(
            client.clone(),
            Reporter::from("targetgroupbinding-controller"),
        );
        Self {
            client,
            cloud,
            cache,
            recorder,
            gate_polls: Mutex::default(),
            last_syncs: Mutex::default(),
            registered_by_us: Mutex::default(),
            networking: TargetNetworking::new(networking),
            reported_ungated: Mutex::default(),
            target_group_info: Mutex::default(),
        }
    }

    /// `aws_target_group_info{namespace, service, target_group}` = 1 for the binding (the last
    /// segments of the ARN, `targetgroup/<name>/<id>`), replacing what it exported before.
    fn publish_target_group_info(&self, key: &str, namespace: &str, service: &str, arn: &str) {
        let tail = arn.split(':').next_back().unwrap_or(arn);
        let labels = [namespace.to_string(), service.to_string(), tail.to_string()];
        let mut exported = self
            .target_group_info
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let series = &crate::metrics::metrics().target_group_info;
        if let Some(previous) = exported.insert(key.to_string(), labels.clone()) {
            if previous != labels {
                let previous: Vec<&str> = previous.iter().map(String::as_str).collect();
                let _ = series.remove_label_values(&previous);
            }
        }
        let current: Vec<&str> = labels.iter().map(String::as_str).collect();
        series.with_label_values(&current).set(1);
    }

    fn withdraw_target_group_info(&self, key: &str) {
        let mut exported = self
            .target_group_info
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(previous) = exported.remove(key) {
            let previous: Vec<&str> = previous.iter().map(String::as_str).collect();
            let _ = crate::metrics::metrics()
                .target_group_info
                .remove_label_values(&previous);
        }
    }

    /// The networking step for one binding (`None`: it is being deleted): starts the ledger
    /// from the bindings that exist the first time, then applies. Returns the error message.
    async fn apply_networking(
        &self,
        binding: &TargetGroupBinding,
        key: &str,
        endpoints: &[TargetEndpoint],
        deleting: bool,
    ) -> Result<(), String> {
        if self.networking.needs_start().await {
            let all: Api<TargetGroupBinding> = Api::all(self.client.clone());
            let existing = all
                .list(&ListParams::default())
                .await
                .map_err(|e| format!("cannot list TargetGroupBindings: {e}"))?;
            let with_networking = existing
                .items
                .iter()
                .filter(|b| b.metadata.deletion_timestamp.is_none())
                .filter(|b| {
                    b.spec
                        .networking
                        .as_ref()
                        .is_some_and(|n| !n.ingress.is_empty())
                })
                .map(|b| format!("{}/{}", b.namespace().unwrap_or_default(), b.name_any()))
                .collect();
            self.networking
                .start(&self.cloud, with_networking)
                .await
                .map_err(|e| e.to_string())?;
        }
        let networking = if deleting {
            None
        } else {
            binding.spec.networking.as_ref()
        };
        match self
            .networking
            .reconcile(&self.cloud, key, networking, endpoints)
            .await
        {
            Ok((authorized, revoked)) => {
                if authorized + revoked > 0 {
                    tracing::info!(binding = %key, authorized, revoked, "target security group rules changed");
                }
                Ok(())
            }
            Err(error) => Err(error.to_string()),
        }
    }

    /// A binding that cannot serve (no or a missing target group, the wrong target type) wants
    /// no rule: recorded as such, it neither keeps rules nor holds back the removal of stale
    /// ones cluster-wide (upstream waits for it forever).
    async fn serves_nothing(&self, binding: &TargetGroupBinding, key: &str) {
        if let Err(message) = self.apply_networking(binding, key, &[], true).await {
            tracing::warn!(binding = %key, %message, "could not withdraw the binding's rules");
        }
    }

    /// Where the binding's targets receive traffic, for the networking step.
    fn endpoints(&self, namespace: &str, wanted: &Wanted) -> Vec<TargetEndpoint> {
        match wanted {
            Wanted::Instance(targets) => targets
                .iter()
                .map(|t| t.id.clone())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .map(|instance_id| TargetEndpoint::Instance { instance_id })
                .collect(),
            Wanted::Ip(ip_targets) => ip_targets
                .pods
                .iter()
                .filter_map(|(target, pod)| self.cache.pod_endpoint(namespace, pod, &target.id))
                .collect(),
        }
    }

    /// Makes the target group hold `desired` (for a multi-cluster binding: registers `desired`
    /// and deregisters only the targets this process registered).
    async fn sync_binding_targets(
        &self,
        binding: &TargetGroupBinding,
        arn: &str,
        desired: &BTreeSet<Target>,
    ) -> CloudResult<TargetSync> {
        if binding.spec.multi_cluster_target_group != Some(true) {
            return sync_targets(&self.cloud, arn, desired).await;
        }
        let mut ours = self
            .registered_by_us
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(arn)
            .cloned()
            .unwrap_or_default();
        let sync = sync_shared_targets(&self.cloud, arn, desired, &mut ours).await;
        // Kept whether or not the sync succeeded: a failed one may still have registered.
        self.registered_by_us
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(arn.to_string(), ours);
        sync
    }

    /// A Warning event on the binding (nothing else).
    async fn publish_warning(
        &self,
        binding: &TargetGroupBinding,
        reason: BindingReason,
        note: &str,
    ) {
        let event = Event {
            type_: EventType::Warning,
            reason: reason.as_str().to_string(),
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
    }

    /// A Warning event, and the `Ready` condition `False` with the same reason.
    async fn warn(&self, binding: &TargetGroupBinding, reason: BindingReason, note: &str) {
        self.publish_warning(binding, reason, note).await;
        if let Err(error) = self.set_ready(binding, reason, note).await {
            tracing::warn!(%error, "could not set the binding's condition");
        }
    }

    /// The targets the binding wants, and whether its Service port was found (none, after a
    /// warning, when the Service or port is missing). `None`: the binding cannot be served now.
    async fn desired(
        &self,
        binding: &TargetGroupBinding,
        namespace: &str,
        instance: bool,
    ) -> Option<(Wanted, bool)> {
        let spec = &binding.spec;
        self.cache.wait_until_ready().await;
        let Some(service) = self.cache.service(namespace, &spec.service_ref.name) else {
            self.warn(
                binding,
                BindingReason::BackendNotFound,
                &format!(
                    "Service {}/{} does not exist",
                    namespace, spec.service_ref.name
                ),
            )
            .await;
            return Some((Wanted::Instance(BTreeSet::new()), false));
        };
        let slices = self.cache.slices_of(namespace, &spec.service_ref.name);
        let wanted = if instance {
            desired_instance_targets(
                &service,
                &spec.service_ref.port,
                &self.cache.nodes.state(),
                &slices,
                spec.node_selector.as_ref(),
            )
            .map(Wanted::Instance)
        } else {
            let ipv6 = spec.ip_address_type == Some(BindingIpAddressType::Ipv6);
            desired_ip_targets(&service, &spec.service_ref.port, ipv6, &slices, &self.cache)
                .map(Wanted::Ip)
        };
        match wanted {
            Ok(targets) => Some((targets, true)),
            Err(error @ TargetError::InvalidProviderId { .. }) => {
                // Upstream fails the whole binding: registering a partial node set would drop targets.
                self.warn(binding, BindingReason::InvalidNode, &error.to_string())
                    .await;
                None
            }
            Err(error) => {
                self.warn(binding, BindingReason::BackendNotFound, &error.to_string())
                    .await;
                Some((Wanted::Instance(BTreeSet::new()), false))
            }
        }
    }

    /// How long until the gates of `binding` are looked at again: 1 s, doubling up to 10 s.
    fn next_gate_poll(&self, key: &str) -> Duration {
        let mut polls = self.gate_polls.lock().unwrap_or_else(|e| e.into_inner());
        let current = polls.get(key).copied().unwrap_or(FIRST_GATE_POLL);
        polls.insert(key.to_string(), (current * 2).min(LAST_GATE_POLL));
        current
    }

    /// Waits out the rest of the binding's batch window, then opens a new one.
    async fn wait_for_batch_window(&self, key: &str) {
        let since_last = {
            let syncs = self.last_syncs.lock().unwrap_or_else(|e| e.into_inner());
            syncs.get(key).map(Instant::elapsed)
        };
        if let Some(remaining) = since_last.and_then(|elapsed| BATCH_WINDOW.checked_sub(elapsed)) {
            tokio::time::sleep(remaining).await;
        }
        let mut syncs = self.last_syncs.lock().unwrap_or_else(|e| e.into_inner());
        syncs.insert(key.to_string(), Instant::now());
    }

    fn stop_gate_polls(&self, key: &str) {
        let mut polls = self.gate_polls.lock().unwrap_or_else(|e| e.into_inner());
        polls.remove(key);
    }

    /// One reconcile of one binding, the loop's entry. kube-runtime's `finalizer()` owns the
    /// finalizer: a binding without it gets it first (nothing else is done; the patch wakes the
    /// next reconcile), a binding being deleted goes to `release` and loses the finalizer once
    /// that succeeded, every other goes to `apply`.
    pub async fn reconcile(
        &self,
        binding: Arc<TargetGroupBinding>,
    ) -> Result<Action, RegistrationError> {
        let namespace = binding.namespace().unwrap_or_else(|| "default".to_string());
        let api: Api<TargetGroupBinding> = Api::namespaced(self.client.clone(), &namespace);
        finalizer(&api, BINDING_FINALIZER, binding, |event| async move {
            match event {
                FinalizerEvent::Apply(binding) => self.apply(&binding).await,
                FinalizerEvent::Cleanup(binding) => self.release(&binding).await,
            }
        })
        .await
        .map_err(RegistrationError::from)
    }

    /// A binding being deleted: its targets deregistered (a target group already gone is
    /// fine), its rules withdrawn, its pods' gates released, what is remembered of it dropped.
    pub async fn release(&self, binding: &TargetGroupBinding) -> Result<Action, RegistrationError> {
        let namespace = binding.namespace().unwrap_or_else(|| "default".to_string());
        let name = binding.name_any();
        let key = format!("{namespace}/{name}");
        if let Some(arn) = &binding.spec.target_group_arn {
            match self
                .sync_binding_targets(binding, arn, &BTreeSet::new())
                .await
            {
                Ok(_) => {}
                Err(error) if error.kind == ErrorKind::NotFound => {}
                Err(error) => return Err(error.into()),
            }
        }
        if let Err(message) = self.apply_networking(binding, &key, &[], true).await {
            self.warn(binding, BindingReason::FailedNetworkReconcile, &message)
                .await;
            return Err(RegistrationError::Networking(message));
        }
        self.cache.wait_until_ready().await;
        let gated = self
            .cache
            .gated_pods(&namespace, &gate_condition_type(&name));
        self.write_gates(&namespace, &name, &release_gates(&name, &gated))
            .await?;
        self.stop_gate_polls(&key);
        self.reported_ungated
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key);
        self.withdraw_target_group_info(&key);
        self.last_syncs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key);
        Ok(Action::await_change())
    }

    /// A binding that holds its finalizer and is not being deleted: its target group checked,
    /// its networking applied, its targets made the ready endpoints, its gates and condition
    /// written.
    pub async fn apply(&self, binding: &TargetGroupBinding) -> Result<Action, RegistrationError> {
        let namespace = binding.namespace().unwrap_or_else(|| "default".to_string());
        let name = binding.name_any();
        let key = format!("{namespace}/{name}");
        let Some(arn) = binding.spec.target_group_arn.clone() else {
            self.warn(
                binding,
                BindingReason::InvalidTargetGroupBinding,
                "spec.targetGroupARN is required (the TargetGroupBinding webhook fills it from targetGroupName at creation; was the binding created while the webhook was off?)",
            )
            .await;
            self.serves_nothing(binding, &key).await;
            return Ok(Action::await_change());
        };
        let groups = match self
            .cloud
            .describe_target_groups(std::slice::from_ref(&arn))
            .await
        {
            Ok(groups) => groups,
            Err(error) if error.kind == ErrorKind::NotFound => {
                self.warn(
                    binding,
                    BindingReason::TargetGroupNotFound,
                    &format!("target group {arn} does not exist"),
                )
                .await;
                self.serves_nothing(binding, &key).await;
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
                BindingReason::InvalidTargetGroupBinding,
                &format!(
                    "target group {arn} is of target type {:?}, the binding says {wanted_type:?}",
                    actual_type
                ),
            )
            .await;
            self.serves_nothing(binding, &key).await;
            return Ok(Action::await_change());
        }
        self.publish_target_group_info(&key, &namespace, &binding.spec.service_ref.name, &arn);
        let instance = wanted_type == Some(TargetType::Instance);
        self.wait_for_batch_window(&key).await;
        let Some((wanted, service_port_found)) = self.desired(binding, &namespace, instance).await
        else {
            return Ok(Action::await_change());
        };
        let endpoints = self.endpoints(&namespace, &wanted);
        let networking_failed = match self
            .apply_networking(binding, &key, &endpoints, false)
            .await
        {
            Ok(()) => false,
            Err(message) => {
                self.warn(binding, BindingReason::FailedNetworkReconcile, &message)
                    .await;
                if instance {
                    // As upstream: instance targets are not registered before they are reachable.
                    return Ok(Action::requeue(NETWORKING_RETRY));
                }
                true
            }
        };
        let desired = wanted.targets();
        let sync = self.sync_binding_targets(binding, &arn, &desired).await?;
        if service_port_found && !networking_failed {
            self.set_ready(
                binding,
                BindingReason::Registered,
                &format!("{} target(s) registered", desired.len()),
            )
            .await?;
        }
        let mut next = DRIFT_CHECK_INTERVAL;
        if let Wanted::Ip(ip_targets) = &wanted {
            self.report_ungated_pods(binding, &key, ip_targets).await;
            let gated = self
                .cache
                .gated_pods(&namespace, &gate_condition_type(&name));
            let gates = plan_gates(
                &name,
                &gated,
                ip_targets,
                &sync.changes.register,
                &sync.health,
            );
            self.write_gates(&namespace, &name, &gates.updates).await?;
            if gates.waiting {
                next = self.next_gate_poll(&key);
            } else {
                self.stop_gate_polls(&key);
            }
            if ip_targets.unknown_pods {
                // The pod cache lags the slice: look again shortly.
                next = next.min(FIRST_GATE_POLL);
            }
        }
        if networking_failed {
            next = next.min(NETWORKING_RETRY);
        }
        Ok(Action::requeue(next))
    }
}

/// What a binding asks for: ip targets (with their pods, for readiness gates) or instances.
enum Wanted {
    Ip(IpTargets),
    Instance(BTreeSet<Target>),
}

impl Wanted {
    fn targets(&self) -> BTreeSet<Target> {
        match self {
            Wanted::Ip(ip_targets) => ip_targets.targets(),
            Wanted::Instance(instances) => instances.clone(),
        }
    }
}
