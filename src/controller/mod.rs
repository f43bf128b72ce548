//! The in-cluster loop for Services: watch them, and for each one ours (or still holding our
//! finalizer) run collect → discover → build → deploy (observe, plan, apply) → report.
//!
//! - The finalizer is added before any AWS write; it is removed only after the empty stack was
//!   deployed, so nothing is left behind and nothing is deleted by surprise.
//! - Bad input gets a Warning event (`FailedBuildModel`) and a `False` condition naming every
//!   problem, no AWS write, and no retry until the Service changes.
//! - A Service whose inputs did not change since its last successful apply costs no AWS call
//!   until its drift check is due (`drift_check_interval`).
//! - Failures are retried with a backoff capped at one minute.
//!
//! It writes one TargetGroupBinding per target group; registering targets from them is the
//! target-registration loop's job, not this one's. Run as a loop (`run_service_controller`), it
//! finds a stack's existing bindings in a watched store (no LIST per reconcile); a reconcile
//! called on its own lists them.

pub(crate) mod bindings;
pub mod ingress;
mod ingress_inputs;
mod ingress_loop;
pub mod ingress_status;
pub mod ingress_watch;
pub(crate) mod report;
mod work_queue;

pub use bindings::{desired_bindings, STACK_NAMESPACE_LABEL, STACK_NAME_LABEL};

pub use report::{EventReason, CONDITION_TYPE};
use report::{LoadBalancerAddress, ReconciledReason};

use crate::cloud::{Cloud, CloudError};
use crate::config::ControllerConfig;
use crate::crd::target_group_binding::TargetGroupBinding;
use crate::deploy::DeployError;
use crate::model::Stack;
use crate::pipeline::service::{remove_service_stack, run_service, ServiceOutcome};
use crate::pipeline::{ClusterHooks, Online, RunError};
use crate::service::{is_managed, stack_id, SERVICE_FINALIZER};
use crate::watched::services::WatchedServices;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Service;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::Store;
use kube::runtime::Controller;
use kube::ResourceExt;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::Instrument;

const MAXIMUM_BACKOFF: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("discovering AWS facts: {0}")]
    Discover(#[source] CloudError),
    #[error("{0}")]
    Deploy(#[from] DeployError),
}

/// What the loop remembers between reconciles of one Service (never AWS state).
#[derive(Debug, Clone)]
struct Remembered {
    inputs: u64,
    at: Instant,
    /// The inputs failed to build: wait for a change.
    invalid: bool,
    /// The stack last applied for these inputs: a drift check re-deploys it without
    /// rediscovering (the same inputs build the same stack; an existing NLB keeps its subnets).
    stack: Option<Arc<Stack>>,
}

pub struct ServiceReconciler<C> {
    pub client: kube::Client,
    pub cloud: C,
    pub config: ControllerConfig,
    pub drift_check_interval: Duration,
    recorder: Recorder,
    remembered: Mutex<HashMap<String, Remembered>>,
    failures: Mutex<HashMap<String, u32>>,
    /// The TargetGroupBindings, watched once the loop runs (before: listed per reconcile).
    bindings: std::sync::OnceLock<Store<TargetGroupBinding>>,
}

/// Makes the bindings labelled `labels` exactly `wanted`: from the store when the loop keeps
/// one, else by listing them.
async fn converge_bindings(
    client: &kube::Client,
    store: Option<&Store<TargetGroupBinding>>,
    labels: &std::collections::BTreeMap<String, String>,
    wanted: &[TargetGroupBinding],
) -> Result<(), kube::Error> {
    match store {
        Some(store) => {
            let _ = crate::watched::store_ready(store).await;
            bindings::apply_bindings(client, &bindings::bindings_labelled(store, labels), wanted)
                .await
        }
        None => bindings::reconcile_bindings(client, labels, wanted).await,
    }
}

/// A fingerprint of everything a Service's stack is built from.
fn inputs_of(service: &Service) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    let relevant = serde_json::json!([
        service.metadata.uid,
        service.metadata.annotations,
        service.spec
    ]);
    relevant.to_string().hash(&mut hasher);
    hasher.finish()
}

impl<C: Cloud + 'static> ServiceReconciler<C> {
    pub fn new(
        client: kube::Client,
        cloud: C,
        config: ControllerConfig,
        drift_check_interval: Duration,
    ) -> Self {
        let recorder = Recorder::new(client.clone(), Reporter::from("service-controller"));
        Self {
            client,
            cloud,
            config,
            drift_check_interval,
            recorder,
            remembered: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            bindings: std::sync::OnceLock::new(),
        }
    }

    fn remembered(&self) -> std::sync::MutexGuard<'_, HashMap<String, Remembered>> {
        self.remembered
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// When the Service of stack `id` last finished a reconcile (bindings and status written),
    /// if it did: evidence for callers that a reconcile ran to its end.
    pub fn last_reconciled(&self, id: &str) -> Option<Instant> {
        self.remembered().get(id).map(|remembered| remembered.at)
    }

    fn failures(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        self.failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// One reconcile of one Service.
    pub async fn reconcile(&self, service: &Service) -> Result<Action, ReconcileError> {
        let id = stack_id(service);
        let managed = is_managed(service, &self.config);
        let holds_finalizer = service.finalizers().iter().any(|f| f == SERVICE_FINALIZER);
        let api: Api<Service> = Api::namespaced(
            self.client.clone(),
            service.metadata.namespace.as_deref().unwrap_or("default"),
        );
        if !managed {
            if holds_finalizer {
                self.clean_up(&api, service, &id).await?;
            }
            return Ok(Action::await_change());
        }
        let inputs = inputs_of(service);
        if let Some(last) = self.remembered().get(&id).cloned() {
            if last.inputs == inputs && last.invalid {
                return Ok(Action::await_change());
            }
            let since = last.at.elapsed();
            if last.inputs == inputs && since < self.drift_check_interval {
                return Ok(Action::requeue(self.drift_check_interval - since));
            }
        }
        let known_stack = self
            .remembered()
            .get(&id)
            .filter(|last| last.inputs == inputs && !last.invalid)
            .and_then(|last| last.stack.clone());
        let aws = Online {
            cloud: &self.cloud,
            config: &self.config,
        };
        let hooks = ServiceHooks {
            client: &self.client,
            bindings: self.bindings.get(),
            api: &api,
            service,
            id: &id,
        };
        let run = match run_service(&aws, &hooks, service, known_stack).await {
            Ok(ServiceOutcome::Built(run)) => run,
            Ok(ServiceOutcome::Invalid(problems)) => {
                self.reject(&api, service, &id, inputs, &problems).await?;
                return Ok(Action::await_change());
            }
            Err(error) => return Err(error.into()),
        };
        for warning in &run.warnings {
            report::publish(
                &self.recorder,
                service,
                EventReason::UnsupportedConfiguration,
                &warning.to_string(),
            )
            .await;
        }
        let deployed = match run.deployed {
            Ok(deployed) => deployed,
            Err(error) if error.waits_on_security_group_release() => {
                tracing::info!(service = %id, %error, "waiting for AWS to release a security group");
                return Err(error.into());
            }
            Err(error) => {
                self.report_failure(
                    &api,
                    service,
                    EventReason::FailedDeployModel,
                    &format!("Failed deploy model: {error}"),
                    &error.to_string(),
                )
                .await?;
                return Err(error.into());
            }
        };
        let labels = bindings::service_stack_labels(&id);
        let wanted = bindings::desired_bindings(&run.stack, &deployed.applied, &labels);
        converge_bindings(&self.client, self.bindings.get(), &labels, &wanted).await?;
        let hostname = deployed.applied.dns_name.clone();
        let address = match hostname.as_deref() {
            Some(hostname) => LoadBalancerAddress::Hostname(hostname),
            None => LoadBalancerAddress::Unchanged,
        };
        report::update_status(
            &api,
            service,
            address,
            ReconciledReason::Event(EventReason::SuccessfullyReconciled),
            "the load balancer matches the Service",
        )
        .await?;
        if !deployed.plan.is_empty() {
            report::publish(
                &self.recorder,
                service,
                EventReason::SuccessfullyReconciled,
                "Successfully reconciled",
            )
            .await;
        }
        self.remembered().insert(
            id.clone(),
            Remembered {
                inputs,
                at: Instant::now(),
                invalid: false,
                stack: Some(run.stack),
            },
        );
        self.failures().remove(&id);
        Ok(Action::requeue(self.drift_check_interval))
    }

    /// Deploys the empty stack, clears the status, then lets the Service go.
    async fn clean_up(
        &self,
        api: &Api<Service>,
        service: &Service,
        id: &str,
    ) -> Result<(), ReconcileError> {
        let aws = Online {
            cloud: &self.cloud,
            config: &self.config,
        };
        let hooks = ServiceHooks {
            client: &self.client,
            bindings: self.bindings.get(),
            api,
            service,
            id,
        };
        let removed = match remove_service_stack(&aws, &hooks, id).await {
            Ok(removed) => removed,
            Err(RunError::Observe(error)) => Err(error),
            Err(error) => return Err(error.into()),
        };
        if let Err(error) = removed {
            if error.waits_on_security_group_release() {
                tracing::info!(service = %id, %error, "waiting for AWS to release a security group");
                return Err(error.into());
            }
            report::publish(
                &self.recorder,
                service,
                EventReason::FailedDeployModel,
                &format!("Failed to delete the load balancer: {error}"),
            )
            .await;
            return Err(error.into());
        }
        if service.metadata.deletion_timestamp.is_none() {
            report::update_status(
                api,
                service,
                LoadBalancerAddress::Cleared,
                ReconciledReason::NotManaged,
                "the Service is no longer managed by this controller",
            )
            .await?;
        }
        report::remove_finalizer(api, service, SERVICE_FINALIZER).await?;
        self.remembered().remove(id);
        self.failures().remove(id);
        Ok(())
    }

    /// Reports invalid input (`FailedBuildModel`) and remembers it, so nothing is retried until
    /// the Service changes.
    async fn reject(
        &self,
        api: &Api<Service>,
        service: &Service,
        id: &str,
        inputs: u64,
        problems: &[crate::service::Problem],
    ) -> Result<(), kube::Error> {
        let message = problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        self.report_failure(
            api,
            service,
            EventReason::FailedBuildModel,
            &format!("Failed build model: {message}"),
            &message,
        )
        .await?;
        self.remembered().insert(
            id.to_string(),
            Remembered {
                inputs,
                at: Instant::now(),
                invalid: true,
                stack: None,
            },
        );
        Ok(())
    }

    /// A Warning event and a `False` condition, both with `reason`.
    async fn report_failure(
        &self,
        api: &Api<Service>,
        service: &Service,
        reason: EventReason,
        note: &str,
        condition_message: &str,
    ) -> Result<(), kube::Error> {
        report::publish(&self.recorder, service, reason, note).await;
        report::update_status(
            api,
            service,
            LoadBalancerAddress::Unchanged,
            ReconciledReason::Event(reason),
            condition_message,
        )
        .await
    }

    fn backoff(&self, service: &Service) -> Duration {
        let mut failures = self.failures();
        let count = failures.entry(stack_id(service)).or_insert(0);
        *count = count.saturating_add(1);
        Duration::from_secs(1u64 << (*count).min(6)).min(MAXIMUM_BACKOFF)
    }
}

impl From<RunError> for ReconcileError {
    fn from(error: RunError) -> Self {
        match error {
            RunError::Observe(error) | RunError::Certificates(error) => Self::Deploy(error),
            RunError::Discover(error) => Self::Discover(error),
            RunError::Cluster(error) => Self::Kube(error),
        }
    }
}

/// What a Service's run does in Kubernetes: its finalizer before the first AWS write, its
/// bindings removed before its stack goes.
struct ServiceHooks<'a> {
    client: &'a kube::Client,
    bindings: Option<&'a Store<TargetGroupBinding>>,
    api: &'a Api<Service>,
    service: &'a Service,
    id: &'a str,
}

impl ClusterHooks for ServiceHooks<'_> {
    async fn before_first_write(&self) -> Result<(), kube::Error> {
        report::add_finalizer(self.api, self.service, SERVICE_FINALIZER).await
    }

    async fn before_stack_removed(&self) -> Result<(), kube::Error> {
        let labels = bindings::service_stack_labels(self.id);
        converge_bindings(self.client, self.bindings, &labels, &[]).await
    }
}

/// Runs the Service loop until the stream of Services ends. `services` is the process's
/// shared Service watch: the loop reads its whole load balancer Services there.
pub async fn run_service_controller<C: Cloud + 'static>(
    reconciler: Arc<ServiceReconciler<C>>,
    services: WatchedServices,
) {
    let (bindings, binding_stream) =
        crate::watched::cached(&reconciler.client, |binding: &mut TargetGroupBinding| {
            binding.metadata.managed_fields = None
        });
    tokio::spawn(crate::watched::drain(binding_stream));
    let _ = reconciler.bindings.set(bindings);
    let controller = Controller::for_shared_stream(
        services.subscribe_load_balancers(),
        services.load_balancers(),
    );
    tokio::spawn(async move {
        services.wait_until_ready().await;
        crate::lifecycle::cache_synced();
    });
    controller
        .run(
            |service, reconciler: Arc<ServiceReconciler<C>>| async move {
                let span = tracing::info_span!("reconcile", controller = "service", stack = %stack_id(&service));
                crate::metrics::observe_reconcile("service", reconciler.reconcile(&service))
                    .instrument(span)
                    .await
            },
            |service, error, reconciler| {
                if let ReconcileError::Deploy(deploy) = error {
                    if deploy.waits_on_security_group_release() {
                        return Action::requeue(crate::deploy::SECURITY_GROUP_RELEASE_RETRY);
                    }
                }
                tracing::warn!(service = %stack_id(&service), %error, "reconcile failed");
                Action::requeue(reconciler.backoff(&service))
            },
            reconciler,
        )
        .for_each(|_| async {})
        .await;
}
