//! The in-cluster loop for Ingresses. The unit of work is a group: an Ingress change reconciles
//! every group it belongs to or holds a finalizer of (one group at a time, never two reconciles
//! of one group at once).
//!
//! One group reconcile: load the group (members in `group.order` order, leaving members) →
//! finalizers on the members → build the ALB stack (members with their own problems are held
//! and get a `FailedBuildModel` Warning naming the problem; the others go on) → deploy →
//! TargetGroupBindings → each member's `status.loadBalancer.ingress[0].hostname` (a held member
//! also gets its listener ports marked, see `ingress_status`) → finalizers removed from leaving
//! members. A group with no member left deploys its empty stack: the ALB,
//! its target groups and security group go.
//!
//! A held member keeps the rules and target groups it had in the last stack this process
//! deployed (in its place in member order). After a restart this process does not know them:
//! a held member that was deployed before then stops its group's changes until it is fixed (as
//! upstream), so nothing of it is deleted.
//!
//! A group whose inputs (members' annotations and spec, their namespaces' Services, classes and
//! params) did not change since its last clean reconcile costs no AWS call until its re-check
//! (10 hours) is due; a group with a problem is looked at again after 5 minutes, since the fix
//! may come from outside Kubernetes (a certificate issued, a Secret created). A member being
//! deleted with deletion protection in its own attributes blocks its group, as upstream.
//!
//! Woken by Ingresses, by the Services they name (backends and actions), by their
//! IngressClasses and by the IngressClassParams of those classes (and of the default class, for
//! Ingresses naming none). OIDC Secrets are read by name at each reconcile, not watched.

use super::bindings::{desired_bindings, ingress_stack_labels, reconcile_bindings};
use super::ingress_inputs::{inputs_hash, names_service};
use super::ingress_status::{
    plan_annotation_changes, publish_plan_annotations, publish_status, Addresses, Outcome,
    FAILED_BUILD, FAILED_DEPLOY,
};
use super::report::{add_finalizer, publish, remove_finalizer};
use super::ReconcileError;
use crate::cloud::Cloud;
use crate::config::ControllerConfig;
use crate::crd::ingress_class_params::IngressClassParams;
use crate::deploy::DeployError;
use crate::ingress::build::MemberContribution;
use crate::ingress::class::ClassContext;
use crate::ingress::group::{
    groups_of, ingress_key, load_group, refuse_protected_deletions, Group, GroupId,
};
use crate::pipeline::ingress::{run_group, GroupOutcome, GroupRun, RunError};
use crate::pipeline::{ClusterHooks, Online};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Secret, Service};
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use kube::api::{Api, ListParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::Store;
use kube::runtime::{watcher, Controller};
use kube::ResourceExt;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tracing::Instrument;

/// A group is re-checked against AWS this often without any change.
const RESYNC: Duration = Duration::from_secs(10 * 60 * 60);
/// A group with a problem (a held member, a group that cannot be built) is looked at again this
/// soon: the fix may come from outside Kubernetes (a certificate issued, a Secret created).
const PROBLEM_RECHECK: Duration = Duration::from_secs(5 * 60);
/// How soon a group waiting for a certificate ACM is validating is looked at again.
const CERTIFICATE_RECHECK: Duration = Duration::from_secs(60);

pub struct IngressReconciler<C> {
    pub client: kube::Client,
    pub cloud: C,
    pub config: ControllerConfig,
    /// `--ingress-class`.
    pub ingress_class: String,
    recorder: Recorder,
    group_locks: Mutex<HashMap<GroupId, Arc<tokio::sync::Mutex<()>>>>,
    /// Each group's member contributions as last deployed (held members keep theirs).
    deployed: Mutex<HashMap<GroupId, BTreeMap<String, MemberContribution>>>,
    /// Each group's inputs at its last successful reconcile, and when: unchanged inputs cost no
    /// AWS call until the re-check is due.
    reconciled: Mutex<HashMap<GroupId, (u64, Instant)>>,
    /// How long unchanged inputs are trusted before AWS is checked again.
    pub drift_check_interval: Duration,
}

/// What the cluster holds that classification and the build read.
pub(super) struct ClusterView {
    pub(super) ingresses: Vec<Ingress>,
    pub(super) classes: Vec<IngressClass>,
    pub(super) params: Vec<IngressClassParams>,
    pub(super) namespaces: BTreeMap<String, BTreeMap<String, String>>,
    pub(super) services: Vec<Service>,
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
            group_locks: Mutex::default(),
            deployed: Mutex::default(),
            reconciled: Mutex::default(),
            drift_check_interval: RESYNC,
        }
    }

    fn lock_for(&self, group: &GroupId) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.group_locks.lock().unwrap_or_else(|e| e.into_inner());
        locks.entry(group.clone()).or_default().clone()
    }

    async fn view(&self, ingresses: &Store<Ingress>) -> Result<ClusterView, kube::Error> {
        let classes = Api::<IngressClass>::all(self.client.clone())
            .list(&ListParams::default())
            .await?
            .items;
        let params = Api::<IngressClassParams>::all(self.client.clone())
            .list(&ListParams::default())
            .await?
            .items;
        let namespaces = if params.iter().any(|p| p.spec.namespace_selector.is_some()) {
            Api::<Namespace>::all(self.client.clone())
                .list(&ListParams::default())
                .await?
                .items
                .into_iter()
                .map(|n| (n.name_any(), n.labels().clone()))
                .collect()
        } else {
            BTreeMap::new()
        };
        let services = Api::<Service>::all(self.client.clone())
            .list(&ListParams::default())
            .await?
            .items;
        Ok(ClusterView {
            ingresses: ingresses.state().iter().map(|i| (**i).clone()).collect(),
            classes,
            params,
            namespaces,
            services,
        })
    }

    /// Reconciles every group the Ingress concerns.
    pub async fn reconcile(
        &self,
        ingress: &Ingress,
        store: &Store<Ingress>,
    ) -> Result<Action, ReconcileError> {
        let view = self.view(store).await?;
        let context = ClassContext {
            ingress_class_flag: &self.ingress_class,
            classes: &view.classes,
            params: &view.params,
            namespace_labels: &view.namespaces,
        };
        let mut recheck = RESYNC;
        for group in groups_of(ingress, &context) {
            let lock = self.lock_for(&group);
            let _held = lock.lock().await;
            if let Some(soon) = self.reconcile_group(&group, &view, &context).await? {
                recheck = recheck.min(soon);
            }
        }
        Ok(Action::requeue(recheck))
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
        reason: &str,
        note: &str,
        marker: &str,
    ) -> Result<(), kube::Error> {
        for ingress in ingresses {
            publish(&self.recorder, *ingress, true, reason, note).await;
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
            .warn_all(members, "FailedDeployModel", &note, FAILED_DEPLOY)
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
        view: &ClusterView,
        context: &ClassContext<'_>,
    ) -> Result<Option<Duration>, ReconcileError> {
        let group = match load_group(id, &view.ingresses, context) {
            Ok(group) => group,
            Err(error) => {
                let holders: Vec<&Ingress> =
                    view.ingresses.iter().filter(|i| id.is_held_by(i)).collect();
                self.warn_all(
                    &holders,
                    "FailedBuildModel",
                    &error.to_string(),
                    FAILED_BUILD,
                )
                .await?;
                return Ok(Some(PROBLEM_RECHECK));
            }
        };
        if let Err(problem) = refuse_protected_deletions(&group.leaving) {
            let concerned: Vec<&Ingress> = group
                .members
                .iter()
                .map(|m| &m.ingress)
                .chain(group.leaving.iter())
                .collect();
            self.warn_all(&concerned, "FailedBuildModel", &problem, FAILED_BUILD)
                .await?;
            return Ok(Some(PROBLEM_RECHECK));
        }
        let inputs = inputs_hash(&group, view);
        let unchanged = self
            .reconciled
            .lock()
            .unwrap_or_else(|e| e.into_inner())
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
        let previous = self
            .deployed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
            .unwrap_or_default();
        let oidc_clients = self.oidc_clients(&group.members, &view.services).await?;
        let run = GroupRun {
            id,
            group: &group,
            services: &view.services,
            oidc_clients: &oidc_clients,
            previous: &previous,
        };
        let aws = Online {
            cloud: &self.cloud,
            config: &self.config,
        };
        let hooks = RemoveBindings {
            client: &self.client,
            labels: ingress_stack_labels(id),
        };
        let outcome = run_group(&aws, &hooks, &run, SystemTime::now()).await;
        let recheck = self.report(id, &group, outcome).await?;
        if recheck.is_none() {
            self.reconciled
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(id.clone(), (inputs, Instant::now()));
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
        outcome: Result<GroupOutcome, RunError>,
    ) -> Result<Option<Duration>, ReconcileError> {
        let members: Vec<&Ingress> = group.members.iter().map(|m| &m.ingress).collect();
        let run = match outcome {
            Ok(GroupOutcome::Built(run)) => run,
            Ok(GroupOutcome::Unbuildable(problem)) => {
                self.warn_all(
                    &members,
                    "FailedBuildModel",
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
            publish(&self.recorder, ingress, true, "FailedBuildModel", problem).await;
        }
        for problem in &built.held {
            if let Some(ingress) = members.iter().find(|i| ingress_key(i) == problem.ingress) {
                publish(
                    &self.recorder,
                    *ingress,
                    true,
                    "FailedBuildModel",
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
        self.deployed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.clone(), built.contributions.clone());
        let labels = ingress_stack_labels(id);
        let wanted = desired_bindings(stack, &deployed.applied, &labels);
        reconcile_bindings(&self.client, &labels, &wanted).await?;
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
                        false,
                        "SuccessfullyReconciled",
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
        members: &[crate::ingress::group::Member],
        services: &[Service],
    ) -> Result<crate::ingress::auth::OidcClients, kube::Error> {
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
    labels: BTreeMap<String, String>,
}

impl ClusterHooks for RemoveBindings<'_> {
    async fn before_stack_removed(&self) -> Result<(), kube::Error> {
        reconcile_bindings(self.client, &self.labels, &[]).await
    }
}

/// Runs the Ingress loop until the watch ends.
pub async fn run_ingress_controller<C: Cloud + 'static>(reconciler: Arc<IngressReconciler<C>>) {
    let ingresses: Api<Ingress> = Api::all(reconciler.client.clone());
    let controller = Controller::new(ingresses, watcher::Config::default());
    let store = controller.store();
    let by_service = controller.store();
    let by_class = controller.store();
    let by_params = controller.store();
    let classes_for_params: Api<IngressClass> = Api::all(reconciler.client.clone());
    let class_store = {
        let (reader, writer) = kube::runtime::reflector::store::<IngressClass>();
        let stream = kube::runtime::reflector(
            writer,
            watcher(classes_for_params, watcher::Config::default()),
        );
        tokio::spawn(stream.for_each(|_| async {}));
        reader
    };
    controller
        .watches(
            Api::<Service>::all(reconciler.client.clone()),
            watcher::Config::default(),
            move |service: Service| {
                // The Ingresses of the Service's namespace that name it in a backend or action.
                let namespace = service.metadata.namespace.clone();
                let name = service.metadata.name.clone().unwrap_or_default();
                by_service
                    .state()
                    .into_iter()
                    .filter(|ingress| {
                        ingress.metadata.namespace == namespace && names_service(ingress, &name)
                    })
                    .map(|ingress| kube::runtime::reflector::ObjectRef::from_obj(ingress.as_ref()))
                    .collect::<Vec<_>>()
            },
        )
        .watches(
            Api::<IngressClass>::all(reconciler.client.clone()),
            watcher::Config::default(),
            move |class: IngressClass| {
                let name = class.metadata.name.clone();
                by_class
                    .state()
                    .into_iter()
                    .filter(|ingress| {
                        ingress
                            .spec
                            .as_ref()
                            .and_then(|s| s.ingress_class_name.clone())
                            == name
                    })
                    .map(|ingress| kube::runtime::reflector::ObjectRef::from_obj(ingress.as_ref()))
                    .collect::<Vec<_>>()
            },
        )
        .watches(
            Api::<IngressClassParams>::all(reconciler.client.clone()),
            watcher::Config::default(),
            move |params: IngressClassParams| {
                // The Ingresses of every class whose parameters name these params (and those
                // without a class when such a class is the default one).
                let name = params.metadata.name.clone();
                let mut classes: Vec<Option<String>> = Vec::new();
                for class in class_store.state().iter().filter(|class| {
                    class
                        .spec
                        .as_ref()
                        .and_then(|s| s.parameters.as_ref())
                        .is_some_and(|p| {
                            p.kind == "IngressClassParams" && Some(&p.name) == name.as_ref()
                        })
                }) {
                    classes.push(class.metadata.name.clone());
                    let default = class
                        .annotations()
                        .get("ingressclass.kubernetes.io/is-default-class")
                        .is_some_and(|v| v == "true");
                    if default {
                        classes.push(None);
                    }
                }
                by_params
                    .state()
                    .into_iter()
                    .filter(|ingress| {
                        let class = ingress
                            .spec
                            .as_ref()
                            .and_then(|s| s.ingress_class_name.clone());
                        classes.contains(&class)
                    })
                    .map(|ingress| kube::runtime::reflector::ObjectRef::from_obj(ingress.as_ref()))
                    .collect::<Vec<_>>()
            },
        )
        .run(
            move |ingress, reconciler: Arc<IngressReconciler<C>>| {
                let store = store.clone();
                async move {
                    let span = tracing::info_span!("reconcile", controller = "ingress", ingress = %ingress_key(&ingress));
                    crate::metrics::observe_reconcile("ingress", reconciler.reconcile(&ingress, &store))
                        .instrument(span)
                        .await
                }
            },
            |ingress, error, _| {
                tracing::warn!(ingress = %ingress_key(&ingress), %error, "reconcile failed");
                if let ReconcileError::Deploy(deploy) = error {
                    if deploy.waits_on_security_group_release() {
                        return Action::requeue(crate::deploy::SECURITY_GROUP_RELEASE_RETRY);
                    }
                }
                if let ReconcileError::Deploy(DeployError::Apply(_)) = error {
                    Action::requeue(Duration::from_secs(10))
                } else {
                    Action::requeue(Duration::from_secs(30))
                }
            },
            reconciler,
        )
        .for_each(|_| async {})
        .await;
}
