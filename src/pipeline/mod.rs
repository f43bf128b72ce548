//! The pipeline: the one place where the steps of a stack's reconcile run, in their order —
//! observe what AWS holds, discover the facts the build needs, prepare certificates, build,
//! plan, apply. The in-cluster loops, the offline `plan` and the tests call it; none re-types it.
//!
//! AWS is reached through [`StackAws`], at the level of the steps:
//! - [`Online`], over a [`Cloud`] (AWS, moto or the simulator): reads, certificate requests and
//!   the apply all happen;
//! - [`Offline`], over recorded [`CloudFacts`]: the stack is observed from the facts, the facts
//!   are the discovery, and the run stops at the plan (nothing is written anywhere).
//!
//! It does not read or write Kubernetes: what the caller must do at a given point of a run
//! (remove a stack's bindings before its target groups go) is a [`ClusterHooks`] call, and the
//! reporting (events, status, finalizers) is the caller's, from the returned outcome.

pub mod ingress;
pub mod service;

use crate::apply::Applied;
use crate::cloud::{Cloud, CloudError};
use crate::config::ControllerConfig;
use crate::deploy::{converge, observe_for, prepare_certificates, DeployError, Deployed};
use crate::discover::{discover_ingress_facts, discover_service_facts};
use crate::facts::{CloudFacts, OwnedCertificate};
use crate::ingress::IngressFactNeeds;
use crate::model::{CertificateSpec, Stack};
use crate::naming::backend_security_group_name;
use crate::observe::{observe_from_facts, ObservedStack, StackIdentity};
use crate::plan::certificates::plan_certificate_requests;
use crate::plan::frontend::plan_stack;
use crate::plan::{Plan, PlanContext};
use k8s_openapi::api::core::v1::Service;
use std::collections::BTreeMap;
use std::future::Future;
use std::time::SystemTime;

/// The AWS steps of a run.
pub trait StackAws: Send + Sync {
    /// The controller's settings (cluster, VPC, feature gates) the run follows.
    fn config(&self) -> &ControllerConfig;

    /// What AWS holds for `identity`.
    fn observe(
        &self,
        identity: &StackIdentity,
        wants_backend_group: bool,
    ) -> impl Future<Output = Result<ObservedStack, DeployError>> + Send;

    /// The facts an Ingress group's build needs.
    fn discover_ingress(
        &self,
        needs: IngressFactNeeds,
    ) -> impl Future<Output = Result<CloudFacts, CloudError>> + Send;

    /// The facts a Service's build needs.
    fn discover_service(
        &self,
        service: &Service,
    ) -> impl Future<Output = Result<CloudFacts, CloudError>> + Send;

    /// Requests the certificates `wanted` that AWS lacks; what the build needs of each.
    fn prepare_certificates(
        &self,
        wanted: &BTreeMap<String, CertificateSpec>,
        observed: &mut ObservedStack,
        identity: &StackIdentity,
        now: SystemTime,
    ) -> impl Future<Output = Result<Vec<OwnedCertificate>, DeployError>> + Send;

    /// Plans the changes from `observed` to `desired` and (online) applies them.
    fn converge(
        &self,
        desired: &Stack,
        observed: &ObservedStack,
        identity: &StackIdentity,
    ) -> impl Future<Output = Result<Deployed, DeployError>> + Send;
}

/// AWS itself (or moto, or the simulator): every step runs.
pub struct Online<'a, C> {
    pub cloud: &'a C,
    pub config: &'a ControllerConfig,
}

impl<C: Cloud> StackAws for Online<'_, C> {
    fn config(&self) -> &ControllerConfig {
        self.config
    }

    async fn observe(
        &self,
        identity: &StackIdentity,
        wants_backend_group: bool,
    ) -> Result<ObservedStack, DeployError> {
        observe_for(self.cloud, identity, self.config, wants_backend_group).await
    }

    async fn discover_ingress(&self, needs: IngressFactNeeds) -> Result<CloudFacts, CloudError> {
        discover_ingress_facts(self.cloud, self.config, needs).await
    }

    async fn discover_service(&self, service: &Service) -> Result<CloudFacts, CloudError> {
        discover_service_facts(self.cloud, &self.config.vpc_id, service).await
    }

    async fn prepare_certificates(
        &self,
        wanted: &BTreeMap<String, CertificateSpec>,
        observed: &mut ObservedStack,
        identity: &StackIdentity,
        now: SystemTime,
    ) -> Result<Vec<OwnedCertificate>, DeployError> {
        prepare_certificates(self.cloud, wanted, observed, identity, now).await
    }

    async fn converge(
        &self,
        desired: &Stack,
        observed: &ObservedStack,
        identity: &StackIdentity,
    ) -> Result<Deployed, DeployError> {
        converge(self.cloud, desired, observed, identity, self.config).await
    }
}

/// Recorded AWS facts: the run observes and discovers from them and stops at the plan.
pub struct Offline<'a> {
    pub facts: &'a CloudFacts,
    pub config: &'a ControllerConfig,
}

impl StackAws for Offline<'_> {
    fn config(&self) -> &ControllerConfig {
        self.config
    }

    async fn observe(
        &self,
        identity: &StackIdentity,
        _wants_backend_group: bool,
    ) -> Result<ObservedStack, DeployError> {
        Ok(observe_from_facts(
            self.facts,
            identity,
            &self.config.vpc_id,
        ))
    }

    async fn discover_ingress(&self, _needs: IngressFactNeeds) -> Result<CloudFacts, CloudError> {
        Ok(self.facts.clone())
    }

    async fn discover_service(&self, _service: &Service) -> Result<CloudFacts, CloudError> {
        Ok(self.facts.clone())
    }

    /// Nothing is requested: the certificates the facts record as ours are what there is (the
    /// requests a real run would make are the first changes of the plan).
    async fn prepare_certificates(
        &self,
        _wanted: &BTreeMap<String, CertificateSpec>,
        _observed: &mut ObservedStack,
        _identity: &StackIdentity,
        _now: SystemTime,
    ) -> Result<Vec<OwnedCertificate>, DeployError> {
        Ok(self.facts.owned_certificates.clone())
    }

    /// The plan alone. Certificates are requested before anything else; the facts carry none,
    /// so none is overdue whatever the time.
    async fn converge(
        &self,
        desired: &Stack,
        observed: &ObservedStack,
        _identity: &StackIdentity,
    ) -> Result<Deployed, DeployError> {
        let backend_name = backend_security_group_name(&self.config.cluster_name);
        let context = PlanContext::from_config(self.config, &backend_name);
        let (main_observed, front_observed) = observed.split_frontend();
        let planned = plan_stack(desired, &main_observed, &front_observed, &context)
            .map_err(DeployError::Plan)?;
        let mut changes = plan_certificate_requests(
            &desired.certificates,
            &observed.certificates,
            SystemTime::UNIX_EPOCH,
        );
        changes.extend(planned.changes());
        Ok(Deployed {
            plan: Plan { changes },
            applied: Applied::default(),
        })
    }
}

/// What the caller does in Kubernetes at fixed points of a run (each does nothing unless the
/// caller says otherwise).
pub trait ClusterHooks: Send + Sync {
    /// A stack is about to be written to for the first time in this run: its owner gets its
    /// finalizer first, so nothing is created that its deletion could leave behind.
    fn before_first_write(&self) -> impl Future<Output = Result<(), kube::Error>> + Send {
        async { Ok(()) }
    }

    /// The stack is about to be emptied (its owner is gone): the bindings of its target groups
    /// go first, so their targets are deregistered before the target groups are deleted.
    fn before_stack_removed(&self) -> impl Future<Output = Result<(), kube::Error>> + Send {
        async { Ok(()) }
    }
}

/// No Kubernetes (the offline `plan` and the tests without a cluster).
pub struct NoCluster;

impl ClusterHooks for NoCluster {}

/// Why a run stopped before the build.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Observe(#[source] DeployError),
    #[error("discovering AWS facts: {0}")]
    Discover(#[source] CloudError),
    /// Requesting a certificate or writing its validation records failed: the owners are
    /// told, as for a failed deploy.
    #[error("{0}")]
    Certificates(#[source] DeployError),
    #[error("Kubernetes API: {0}")]
    Cluster(#[source] kube::Error),
}
