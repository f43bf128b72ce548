//! The in-cluster loop for Ingresses. The unit of work is a group: the loop's watches
//! (`ingress_watch`) keep stores of Ingresses, Services, classes, params and namespaces and turn
//! each change into the groups it touches; workers take due groups from a queue
//! (`work_queue`), never two reconciles of one group at once.
//!
//! One group reconcile: load the group from the stores (members in `group.order` order, leaving
//! and held members) → skip it if its inputs did not change → finalizers on the members → the
//! OIDC Secrets it names, read by name (no Secret is listed or cached) → the pipeline
//! (`pipeline::ingress::run_group`: observe, discover, certificates, build, plan, apply; a
//! stack being emptied has its bindings removed first) → report: members with their own
//! problems are held and get a `FailedBuildModel` Warning naming the problem (the others go
//! on); TargetGroupBindings; each member's `status.loadBalancer.ingress[0].hostname` (a held
//! member also gets its listener ports marked, see `ingress_status`); finalizers removed from
//! leaving members. A group with no member left deploys its empty stack: the ALB, its target
//! groups and security group go, and the loop forgets the group.
//!
//! A held member keeps the rules and target groups it had in the last stack this process
//! deployed (in its place in member order). After a restart this process does not know them:
//! a held member that was deployed before then stops its group's changes until it is fixed (as
//! upstream), so nothing of it is deleted.
//!
//! A group whose inputs (members' annotations and spec, their namespaces' Services, classes and
//! params) did not change since its last clean reconcile costs no AWS call until its re-check
//! (`--sync-period`, 10 hours) is due; a group with a problem is looked at again after 5
//! minutes, since the fix may come from outside Kubernetes (a certificate issued, a Secret
//! created); a failed reconcile is retried after 2 s, doubling up to a minute. A member being
//! deleted with deletion protection in its own attributes blocks its group, as upstream.

use super::bindings::{apply_bindings, bindings_labelled, desired_bindings, ingress_stack_labels};
use super::ingress_inputs::{inputs_hash, names_service};
pub use super::ingress_loop::run_ingress_controller;
use super::ingress_status::{
    plan_annotation_changes, publish_plan_annotations, publish_status, Addresses, Outcome,
    FAILED_BUILD, FAILED_DEPLOY,
};
use super::ingress_watch::IngressStores;
use super::report::{add_finalizer, publish, remove_finalizer, EventReason};
use super::ReconcileError;
use crate::cloud::Cloud;
use crate::config::ControllerConfig;
use crate::crd::ingress_class_params::IngressClassParams;
use crate::crd::target_group_binding::TargetGroupBinding;
use crate::deploy::DeployError;
use crate::ingress::group::{
    holds_group, ingress_key, load_group, refuse_protected_deletions, Group, GroupId,
};
use crate::ingress::input::MemberContribution;
use crate::pipeline::ingress::{run_group, GroupOutcome, GroupRun, RunError};
use crate::pipeline::{ClusterHooks, Online};
use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use kube::api::Api;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::Store;
use kube::ResourceExt;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

/// A group is re-checked against AWS this often without any change (`--sync-period`).
const RESYNC: Duration = Duration::from_secs(10 * 60 * 60);
/// A group with a problem (a held member, a group that cannot be built) is looked at again this
/// soon: the fix may come from outside Kubernetes (a certificate issued, a Secret created).
const PROBLEM_RECHECK: Duration = Duration::from_secs(5 * 60);
/// How soon a group waiting for a certificate ACM is validating is looked at again.
const CERTIFICATE_RECHECK: Duration = Duration::from_secs(60);
/// The longest wait before a failed group is tried again (the first is 2 s, doubling).
const MAXIMUM_BACKOFF: Duration = Duration::from_secs(60);

pub struct IngressReconciler<C> {
    pub client: kube::Client,
    pub cloud: C,
    pub config: ControllerConfig,
    /// `--ingress-class`.
    pub ingress_class: String,
    recorder: Recorder,
    /// Each group's member contributions as last deployed (held members keep theirs).
    deployed: Mutex<HashMap<GroupId, BTreeMap<String, MemberContribution>>>,
    /// Each group's inputs at its last successful reconcile, and when: unchanged inputs cost no
    /// AWS call until the re-check is due.
    reconciled: Mutex<HashMap<GroupId, (u64, Instant)>>,
    /// Failed reconciles in a row, by group (the backoff).
    failures: Mutex<HashMap<GroupId, u32>>,
    /// The resource versions of the Ingresses and Services the last completed reconcile of a
    /// group read.
    read_versions: Mutex<HashMap<GroupId, BTreeMap<String, String>>>,
    /// How long unchanged inputs are trusted before AWS is checked again.
    pub drift_check_interval: Duration,
    /// Groups reconciled at once (`--ingress-max-concurrent-reconciles`).
    pub max_concurrent_reconciles: usize,
}

/// What the cluster holds that a group's inputs and build read besides its Ingresses.
pub(super) struct ClusterView<'a> {
    pub(super) classes: &'a [IngressClass],
    pub(super) params: &'a [IngressClassParams],
    /// The Services of the namespaces of the group's Ingresses.
    pub(super) services: &'a [Service],
    /// Every TargetGroupBinding (the group's are found by their labels).
    pub(super) bindings: &'a Store<TargetGroupBinding>,
}

/// The group's Ingresses and the Services they name, by `Ingress namespace/name` and
/// `Service namespace/name`, at their resource versions.
fn versions_read(group: &Group, services: &[Service]) -> BTreeMap<String, String> {
    let named = services.iter().filter(|s| {
        group
            .ingresses()
            .any(|i| i.namespace() == s.namespace() && names_service(i, &s.name_any()))
    });
    let ingresses = group
        .ingresses()
        .map(|i| (format!("Ingress {}", ingress_key(i)), i.resource_version()));
    let services = named.map(|s| {
        let key = format!(
            "Service {}/{}",
            s.namespace().unwrap_or_default(),
            s.name_any()
        );
        (key, s.resource_version())
    });
    ingresses
        .chain(services)
        .map(|(key, version)| (key, version.unwrap_or_default()))
        .collect()
}

/// When a group is to be looked at again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupNext {
    /// Without a change, after this long.
    After(Duration),
    /// The group has no member left, its stack is gone and its leaving Ingresses are let go:
    /// it is forgotten (an Ingress joining it later starts it afresh).
    Gone,
}

fn locked<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl<C: Cloud + 'static> IngressReconciler<C> {
    pub fn new(
        client: kube::Client,
        cloud: C,
        config: ControllerConfig,
        ingress_class: &str,
    ) -> Self {
        let recorder = Recorder::new(client.clone(), Reporter::from("ingress"));
        Self {
            client,
            cloud,
            config,
            ingress_class: ingress_class.to_string(),
            recorder,
            deployed: Mutex::default(),
            reconciled: Mutex::default(),
            failures: Mutex::default(),
            read_versions: Mutex::default(),
            drift_check_interval: RESYNC,
            max_concurrent_reconciles: 3,
        }
    }

    /// Reconciles group `id` from the stores; when to look at it again.
    pub async fn reconcile(
        &self,
        id: &GroupId,
        stores: &IngressStores,
    ) -> Result<GroupNext, ReconcileError> {
        let classes = stores.classes_view();
        let context = classes.context(&self.ingress_class);
        let ingresses = stores.ingresses.state();
        let group = match load_group(id, ingresses.iter().map(|i| i.as_ref()), &context) {
            Ok(group) => group,
            Err(error) => {
                let holders: Vec<&Ingress> = ingresses
                    .iter()
                    .map(|i| i.as_ref())
                    .filter(|i| holds_group(i, id))
                    .collect();
                self.warn_all(
                    &holders,
                    EventReason::FailedBuildModel,
                    &error.to_string(),
                    FAILED_BUILD,
                )
                .await?;
                return Ok(GroupNext::After(PROBLEM_RECHECK));
            }
        };
        drop(ingresses);
        let services = stores.services_named_by(&group);
        let view = ClusterView {
            classes: &classes.classes,
            params: &classes.params,
            services: &services,
            bindings: &stores.bindings,
        };
        // Its stack emptied, its leaving Ingresses let go: nothing of the group is left.
        let nobody_left = group.is_empty();
        let versions = versions_read(&group, &services);
        let recheck = self.reconcile_group(id, group, &view).await?;
        locked(&self.failures).remove(id);
        locked(&self.read_versions).insert(id.clone(), versions);
        if recheck.is_none() && nobody_left {
            self.forget(id);
            return Ok(GroupNext::Gone);
        }
        Ok(GroupNext::After(
            recheck.unwrap_or(self.drift_check_interval),
        ))
    }

    /// Drops what is remembered of a group that is gone.
    fn forget(&self, id: &GroupId) {
        locked(&self.deployed).remove(id);
        locked(&self.reconciled).remove(id);
        locked(&self.failures).remove(id);
        locked(&self.read_versions).remove(id);
    }

    /// Each Ingress of group `id` and each Service they name (`Ingress namespace/name`,
    /// `Service namespace/name`) at the resource version its last completed reconcile read:
    /// evidence that a change was looked at, whether or not it cost AWS calls.
    pub fn read_versions(&self, id: &GroupId) -> BTreeMap<String, String> {
        locked(&self.read_versions)
            .get(id)
            .cloned()
            .unwrap_or_default()
    }

    /// How long a group that just failed with `error` waits before it is tried again.
    pub(super) fn backoff(&self, id: &GroupId, error: &ReconcileError) -> Duration {
        if let ReconcileError::Deploy(deploy) = error {
            if deploy.waits_on_security_group_release() {
                return crate::deploy::SECURITY_GROUP_RELEASE_RETRY;
            }
        }
        let mut failures = locked(&self.failures);
        let count = failures.entry(id.clone()).or_insert(0);
        *count = count.saturating_add(1);
        Duration::from_secs(1u64 << (*count).min(6)).min(MAXIMUM_BACKOFF)
    }

    /// How many groups the loop remembers something of (a deployed stack, a clean reconcile, a
    /// failure, versions read): it must not grow with groups that are gone.
    pub fn remembered_groups(&self) -> usize {
        let mut groups: BTreeSet<GroupId> = locked(&self.deployed).keys().cloned().collect();
        groups.extend(locked(&self.reconciled).keys().cloned());
        groups.extend(locked(&self.failures).keys().cloned());
        groups.extend(locked(&self.read_versions).keys().cloned());
        groups.len()
    }

    fn api_of(&self, ingress: &Ingress) -> Api<Ingress> {
        Api::namespaced(
            self.client.clone(),
            ingress.metadata.namespace.as_deref().unwrap_or("default"),
        )
    }

    /// A Warning for each Ingress, and its status marked with `marker` on its listener ports.
    async fn warn_all(
        &self,
        ingresses: &[&Ingress],
        reason: EventReason,
        note: &str,
        marker: &str,
    ) -> Result<(), kube::Error> {
        for ingress in ingresses {
            publish(&self.recorder, *ingress, reason, note).await;
            publish_status(&self.api_of(ingress), ingress, Outcome::Problem(marker)).await?;
        }
        Ok(())
    }

    /// Tells every member that the deploy failed (Warning and status marker); the error to return.
    async fn deploy_failed(&self, members: &[&Ingress], error: DeployError) -> ReconcileError {
        if error.waits_on_security_group_release() {
            tracing::info!(%error, "waiting for AWS to release a security group");
            return ReconcileError::Deploy(error);
        }
        let note = format!("Failed deploy model: {error}");
        match self
            .warn_all(
                members,
                EventReason::FailedDeployModel,
                &note,
                FAILED_DEPLOY,
            )
            .await
        {
            Ok(()) => ReconcileError::Deploy(error),
            Err(reporting) => ReconcileError::from(reporting),
        }
    }

    /// One group's reconcile; `Ok(Some(when))` when some member (or the whole group) has a problem,
    /// which may be fixed outside Kubernetes (a certificate issued, a web ACL created): the group
    /// is then looked at again in minutes rather than hours.
    async fn reconcile_group(
        &self,
        id: &GroupId,
        group: Group,
        view: &ClusterView<'_>,
    ) -> Result<Option<Duration>, ReconcileError> {
        if let Err(problem) = refuse_protected_deletions(&group.leaving) {
            let concerned: Vec<&Ingress> = group
                .members
                .iter()
                .map(|m| &m.ingress)
                .chain(group.leaving.iter())
                .collect();
            self.warn_all(
                &concerned,
                EventReason::FailedBuildModel,
                &problem,
                FAILED_BUILD,
            )
            .await?;
            return Ok(Some(PROBLEM_RECHECK));
        }
        let inputs = inputs_hash(&group, view);
        let unchanged = locked(&self.reconciled)
            .get(id)
            .is_some_and(|(hash, at)| *hash == inputs && at.elapsed() < self.drift_check_interval);
        if unchanged {
            return Ok(None);
        }
        let finalizer = id.finalizer();
        for ingress in group
            .members
            .iter()
            .map(|m| &m.ingress)
            .chain(group.held.iter().map(|(i, _)| i))
        {
            add_finalizer(&self.api_of(ingress), ingress, &finalizer).await?;
        }
        let previous = locked(&self.deployed).get(id).cloned().unwrap_or_default();
        let oidc_clients = self.oidc_clients(&group.members, view.services).await?;
        let run = GroupRun {
            id,
            group: &group,
            services: view.services,
            oidc_clients: &oidc_clients,
            previous: &previous,
        };
        let aws = Online {
            cloud: &self.cloud,
            config: &self.config,
        };
        let hooks = RemoveBindings {
            client: &self.client,
            bindings: view.bindings,
            labels: ingress_stack_labels(id),
        };
        let outcome = run_group(&aws, &hooks, &run, SystemTime::now()).await;
        let recheck = self.report(id, &group, view.bindings, outcome).await?;
        if recheck.is_none() {
            locked(&self.reconciled).insert(id.clone(), (inputs, Instant::now()));
        }
        Ok(recheck)
    }

    /// Tells the members what the run did: held members and a group that cannot be built get
    /// Warnings, a failed deploy a Warning on every member; after a deploy, the bindings are
    /// written, each member's status carries the hostname (held ones their ports marked) and
    /// leaving members lose the group's finalizer. `Some(when)` as for [`Self::reconcile_group`].
    async fn report(
        &self,
        id: &GroupId,
        group: &Group,
        bindings: &Store<TargetGroupBinding>,
        outcome: Result<GroupOutcome, RunError>,
    ) -> Result<Option<Duration>, ReconcileError> {
        let members: Vec<&Ingress> = group.members.iter().map(|m| &m.ingress).collect();
        let run = match outcome {
            Ok(GroupOutcome::Built(run)) => run,
            Ok(GroupOutcome::Unbuildable(problem)) => {
                self.warn_all(
                    &members,
                    EventReason::FailedBuildModel,
                    &format!("Failed build model: {problem}"),
                    FAILED_BUILD,
                )
                .await?;
                return Ok(Some(PROBLEM_RECHECK));
            }
            Err(RunError::Certificates(error)) => {
                return Err(self.deploy_failed(&members, error).await)
            }
            Err(RunError::Observe(error)) => return Err(ReconcileError::Deploy(error)),
            Err(RunError::Discover(error)) => return Err(ReconcileError::Discover(error)),
            Err(RunError::Cluster(error)) => return Err(ReconcileError::Kube(error)),
        };
        let built = &run.built;
        for (ingress, problem) in &group.held {
            publish(
                &self.recorder,
                ingress,
                EventReason::FailedBuildModel,
                problem,
            )
            .await;
        }
        for problem in &built.held {
            if let Some(ingress) = members.iter().find(|i| ingress_key(i) == problem.ingress) {
                publish(
                    &self.recorder,
                    *ingress,
                    EventReason::FailedBuildModel,
                    &problem.problem,
                )
                .await;
            }
        }
        let plan = self
            .config
            .feature_gates
            .ingress_plan_annotation
            .then(|| serde_json::to_string(&built.stack).ok())
            .flatten();
        publish_plan_annotations(
            |ingress: &Ingress| self.api_of(ingress),
            plan_annotation_changes(&members, plan.as_deref()),
        )
        .await;
        let deployed = match run.deployed {
            Ok(deployed) => deployed,
            Err(error) => return Err(self.deploy_failed(&members, error).await),
        };
        let stack = &built.stack;
        locked(&self.deployed).insert(id.clone(), built.contributions.clone());
        let labels = ingress_stack_labels(id);
        let wanted = desired_bindings(stack, &deployed.applied, &labels);
        apply_bindings(&self.client, &bindings_labelled(bindings, &labels), &wanted).await?;
        let held = |ingress: &Ingress| built.held.iter().any(|p| p.ingress == ingress_key(ingress));
        if let Some(hostname) = &deployed.applied.dns_name {
            let ports: Vec<i32> = stack
                .listeners
                .values()
                .map(|l| l.port)
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            let addresses = Addresses {
                hostname,
                ports: &ports,
                frontend_hostname: deployed.applied.frontend_dns_name.as_deref(),
            };
            for ingress in members.iter().filter(|i| !held(i)) {
                publish_status(&self.api_of(ingress), ingress, Outcome::Deployed(addresses))
                    .await?;
                if !deployed.plan.changes.is_empty() {
                    publish(
                        &self.recorder,
                        *ingress,
                        EventReason::SuccessfullyReconciled,
                        "Successfully reconciled",
                    )
                    .await;
                }
            }
        }
        // Held members keep their hostname, their listener ports marked.
        let held_members = members
            .iter()
            .copied()
            .filter(|i| held(i))
            .chain(group.held.iter().map(|(i, _)| i));
        for ingress in held_members {
            publish_status(
                &self.api_of(ingress),
                ingress,
                Outcome::Problem(FAILED_BUILD),
            )
            .await?;
        }
        for ingress in &group.leaving {
            remove_finalizer(&self.api_of(ingress), ingress, &id.finalizer()).await?;
        }
        if built.held.is_empty() && group.held.is_empty() {
            return Ok(None);
        }
        Ok(Some(if run.certificates_pending {
            CERTIFICATE_RECHECK
        } else {
            PROBLEM_RECHECK
        }))
    }

    /// The OIDC client credentials of the Secrets the members name, each read by name (no
    /// Secret is listed or cached).
    async fn oidc_clients(
        &self,
        members: &[crate::ingress::member::Member],
        services: &[Service],
    ) -> Result<crate::ingress::input::OidcClients, kube::Error> {
        let names = crate::ingress::auth::oidc_secret_names(members, services);
        let mut secrets = Vec::new();
        for key in &names {
            let (namespace, name) = key.split_once('/').unwrap_or(("", key));
            let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
            if let Some(secret) = api.get_opt(name).await? {
                secrets.push(secret);
            }
        }
        Ok(crate::ingress::auth::oidc_clients_from(&secrets, &names))
    }
}

/// Removes a stack's TargetGroupBindings before the stack goes.
struct RemoveBindings<'a> {
    client: &'a kube::Client,
    bindings: &'a Store<TargetGroupBinding>,
    labels: BTreeMap<String, String>,
}

impl ClusterHooks for RemoveBindings<'_> {
    async fn before_stack_removed(&self) -> Result<(), kube::Error> {
        let existing = bindings_labelled(self.bindings, &self.labels);
        apply_bindings(self.client, &existing, &[]).await
    }
}
