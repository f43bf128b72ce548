//! One Ingress group's run: observe what AWS holds for the group's stack → discover what the
//! build needs → request the certificates it asks for → build → plan → apply (online).
//!
//! The group is loaded by the caller (pure: `ingress::group::load_group`); the Secrets its
//! OIDC members name are read by the caller too. What the run returns says what to report: the
//! group could not be built, or it was built (with its held members) and deployed or not.

pub use super::RunError;
use super::{ClusterHooks, StackAws};
use crate::deploy::{DeployError, Deployed};
use crate::facts::CloudFacts;
use crate::ingress::build::build_ingress_stack;
use crate::ingress::certificate_requests::group_certificate_requests;
use crate::ingress::group::{ingress_key, Group, GroupId};
use crate::ingress::group_fact_needs;
use crate::ingress::input::MemberContribution;
use crate::ingress::input::OidcClients;
use crate::ingress::input::{BuiltIngressStack, IngressBuildInput};
use crate::observe::StackIdentity;
use k8s_openapi::api::core::v1::Service;
use std::collections::BTreeMap;
use std::time::SystemTime;

/// What one run of a group starts from.
pub struct GroupRun<'a> {
    pub id: &'a GroupId,
    /// The group as loaded: members in member order, held and leaving Ingresses.
    pub group: &'a Group,
    /// The Services of the members' namespaces.
    pub services: &'a [Service],
    /// The client credentials of the OIDC Secrets the members name.
    pub oidc_clients: &'a OidcClients,
    /// What each member contributed to the stack last deployed (held members keep theirs).
    pub previous: &'a BTreeMap<String, MemberContribution>,
}

/// How a run ended, when it got as far as the build.
#[derive(Debug)]
pub enum GroupOutcome {
    /// The group as a whole cannot be built (a problem of the load balancer, not of one
    /// member): nothing was planned.
    Unbuildable(String),
    Built(Box<BuiltGroup>),
}

/// A group that was built.
#[derive(Debug)]
pub struct BuiltGroup {
    /// The stack, the members held out of it and what each member contributed.
    pub built: BuiltIngressStack,
    /// The plan and, online, what the apply left; or why planning or applying failed.
    pub deployed: Result<Deployed, DeployError>,
    /// A certificate the stack wants is not issued yet (ACM is validating it).
    pub certificates_pending: bool,
}

/// Runs one group; `now` dates certificate requests (a request pending for 5 minutes is made
/// again).
pub async fn run_group(
    aws: &impl StackAws,
    hooks: &impl ClusterHooks,
    run: &GroupRun<'_>,
    now: SystemTime,
) -> Result<GroupOutcome, RunError> {
    let config = aws.config();
    let members = &run.group.members;
    let identity = StackIdentity::for_ingress(&config.cluster_name, &run.id.stack_id());
    let mut observed = aws
        .observe(&identity, true)
        .await
        .map_err(RunError::Observe)?;
    let existing = observed.existing_load_balancer();
    let mut facts = if members.is_empty() {
        CloudFacts::default()
    } else {
        aws.discover_ingress(group_fact_needs(members, config))
            .await
            .map_err(RunError::Discover)?
    };
    if config.feature_gates.certificate_management {
        // Certificates first: the build waits for the ones it asks for to be issued.
        let wanted = group_certificate_requests(run.id, members, config);
        facts.owned_certificates = aws
            .prepare_certificates(&wanted, &mut observed, &identity, now)
            .await
            .map_err(RunError::Certificates)?;
    }
    let held_at_load: Vec<String> = run.group.held.iter().map(|(i, _)| ingress_key(i)).collect();
    let built = match build_ingress_stack(&IngressBuildInput {
        group_id: run.id,
        members,
        services: run.services,
        config,
        facts: &facts,
        existing: existing.as_ref(),
        previous: run.previous,
        held_at_load: &held_at_load,
        oidc_clients: run.oidc_clients,
    }) {
        Ok(built) => built,
        Err(problem) => return Ok(GroupOutcome::Unbuildable(problem)),
    };
    if built.stack.is_empty() {
        hooks
            .before_stack_removed()
            .await
            .map_err(RunError::Cluster)?;
    }
    let deployed = aws.converge(&built.stack, &observed, &identity).await;
    let certificates_pending = built.stack.certificates.keys().any(|wanted| {
        !facts
            .owned_certificates
            .iter()
            .any(|owned| owned.resource_id == *wanted && owned.issued)
    });
    Ok(GroupOutcome::Built(Box::new(BuiltGroup {
        built,
        deployed,
        certificates_pending,
    })))
}
