//! Deploy: the AWS steps of one reconcile over a [`Cloud`] — observe what AWS holds for a stack,
//! request the certificates it asks for, plan the changes towards the desired stack and apply
//! them. Deleting an owner is deploying its empty stack. The pipeline's `Online` side
//! (`crate::pipeline`) calls these in order; tests of the deploy step call them directly.
//!
//! It does not build the desired stack (the `ingress` and `service` modules do) nor write
//! anything back to Kubernetes (the loops' report step does).

use crate::apply::{apply, Applied, ApplyContext, ApplyError};
use crate::cloud::{Cloud, CloudError};
use crate::config::ControllerConfig;
use crate::model::{SecurityGroupRef, Stack, FRONTEND_NLB_ID};
use crate::naming::backend_security_group_name;
use crate::observe::{observe_stack, ObservedStack, StackIdentity};
use crate::plan::certificates::plan_certificate_requests;
use crate::plan::frontend::{frontend_stack, plan_stack};
use crate::plan::{Change, Plan, PlanContext, PlanError, LOAD_BALANCER_ID};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeployError {
    #[error("reading the stack's AWS resources failed: {0}")]
    Observe(#[source] CloudError),
    #[error("the stack cannot be planned: {0}")]
    Plan(#[source] PlanError),
    #[error("applying the plan failed at {0}")]
    Apply(#[source] ApplyError),
}

impl DeployError {
    /// A security group AWS still holds attached (to the ENIs of a load balancer just deleted,
    /// which AWS releases within minutes): worth a short wait and another try, not a Warning.
    pub fn waits_on_security_group_release(&self) -> bool {
        matches!(self, DeployError::Apply(failure)
            if failure.error.kind == crate::cloud::ErrorKind::InUse
                && failure.error.operation == "DeleteSecurityGroup")
    }
}

/// How soon a deploy waiting on a security group's release is tried again.
pub const SECURITY_GROUP_RELEASE_RETRY: std::time::Duration = std::time::Duration::from_secs(5);

/// What one deploy did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployed {
    pub plan: Plan,
    pub applied: Applied,
}

/// Reads what AWS holds for `identity` (the first half of a deploy, done before building when
/// the build needs to know the existing load balancer).
pub async fn observe_for(
    cloud: &impl Cloud,
    identity: &StackIdentity,
    config: &ControllerConfig,
    wants_backend_group: bool,
) -> Result<ObservedStack, DeployError> {
    let mut observed = observe_stack(cloud, identity, &config.vpc_id, wants_backend_group)
        .await
        .map_err(DeployError::Observe)?;
    if config.feature_gates.certificate_management && identity.is_ingress() {
        observed.certificates = cloud
            .find_certificates(&identity.tags())
            .await
            .map_err(DeployError::Observe)?;
    }
    Ok(observed)
}

/// The certificates step, before the build (which waits for the certificates it asks for):
/// requests the certificates `wanted` that AWS lacks (or re-requests one still pending 5
/// minutes after it was requested), writes the validation records of the pending ones, and
/// returns what the build needs to know of each (`observed` is refreshed). A record no Route 53
/// zone holds is that certificate's problem, not the group's. Deleting certificates no longer
/// wanted is the plan's (after the listeners stop using them).
pub async fn prepare_certificates(
    cloud: &impl Cloud,
    wanted: &std::collections::BTreeMap<String, crate::model::CertificateSpec>,
    observed: &mut ObservedStack,
    identity: &StackIdentity,
    now: std::time::SystemTime,
) -> Result<Vec<crate::facts::OwnedCertificate>, DeployError> {
    let mut problems: Vec<(String, String)> = Vec::new();
    // A second pass writes the records of certificates the first one requested.
    for pass in 0..2 {
        let mut changes = plan_certificate_requests(wanted, &observed.certificates, now);
        if pass > 0 {
            // Never a second request in one reconcile, even if ACM lists the first one late.
            changes.retain(|c| matches!(c, Change::WriteValidationRecords { .. }));
        }
        for change in &changes {
            match crate::apply::apply_certificate_change(cloud, change, wanted).await {
                Ok(()) => {}
                Err(error) => match change {
                    Change::WriteValidationRecords { arn, records }
                        if error.kind == crate::cloud::ErrorKind::NotFound =>
                    {
                        let names: Vec<&str> = records.iter().map(|r| r.name.as_str()).collect();
                        problems.push((
                            arn.clone(),
                            format!(
                                "{}; write its DNS validation records ({}) where the domain is served",
                                error.message,
                                names.join(", ")
                            ),
                        ));
                    }
                    _ => return Err(apply_failed(change, error)),
                },
            }
        }
        if changes
            .iter()
            .all(|c| matches!(c, Change::WriteValidationRecords { .. }))
        {
            break;
        }
        observed.certificates = cloud
            .find_certificates(&identity.tags())
            .await
            .map_err(DeployError::Observe)?;
    }
    let mut owned = observed.owned_certificates();
    for certificate in &mut owned {
        certificate.problem = problems
            .iter()
            .find(|(arn, _)| *arn == certificate.arn)
            .map(|(_, problem)| problem.clone());
    }
    Ok(owned)
}

fn apply_failed(change: &Change, error: crate::cloud::CloudError) -> DeployError {
    DeployError::Apply(crate::apply::ApplyError {
        change: change.to_string(),
        error,
    })
}

/// Plans and applies the changes from `observed` to `desired`. A frontend NLB is applied as a
/// stack of its own: after the ALB (it registers the ALB as its target), and, when it goes,
/// before the ALB is touched.
pub async fn converge(
    cloud: &impl Cloud,
    desired: &Stack,
    observed: &ObservedStack,
    identity: &StackIdentity,
    config: &ControllerConfig,
) -> Result<Deployed, DeployError> {
    let (main_observed, front_observed) = observed.split_frontend();
    let main_observed = with_wanted_details(cloud, desired, &main_observed)
        .await
        .map_err(DeployError::Observe)?;
    let front_observed = if desired.frontend_nlb.is_some() {
        with_wanted_details(cloud, &frontend_stack(desired, None, None), &front_observed)
            .await
            .map_err(DeployError::Observe)?
    } else {
        front_observed
    };
    let backend_name = backend_security_group_name(&config.cluster_name);
    let context = PlanContext::from_config(config, &backend_name);
    let planned = plan_stack(desired, &main_observed, &front_observed, &context)
        .map_err(DeployError::Plan)?;
    let apply_context = |load_balancer_id, alb_arn, inherited_groups| ApplyContext {
        identity,
        vpc_id: &config.vpc_id,
        default_tags: &config.default_tags,
        load_balancer_id,
        alb_arn,
        inherited_groups,
    };
    if let Some(front) = planned
        .frontend
        .as_ref()
        .filter(|_| planned.frontend_first())
    {
        let context = apply_context(FRONTEND_NLB_ID, None, None);
        apply(cloud, &front.stack, &front.observed, &front.plan, &context)
            .await
            .map_err(DeployError::Apply)?;
    }
    let context = apply_context(LOAD_BALANCER_ID, None, None);
    let mut applied = apply(cloud, desired, &main_observed, &planned.main, &context)
        .await
        .map_err(DeployError::Apply)?;
    if let Some(front) = planned
        .frontend
        .as_ref()
        .filter(|_| !planned.frontend_first())
    {
        let groups = (
            applied.managed_security_groups.clone(),
            applied.backend_security_group.clone(),
        );
        let context = apply_context(
            FRONTEND_NLB_ID,
            applied.load_balancer_arn.as_deref(),
            Some(&groups),
        );
        let front_applied = apply(cloud, &front.stack, &front.observed, &front.plan, &context)
            .await
            .map_err(DeployError::Apply)?;
        applied.frontend_dns_name = front_applied.dns_name;
    }
    Ok(Deployed {
        plan: Plan {
            changes: planned.changes(),
        },
        applied,
    })
}

/// `observed` with what only some stacks need read, one call each where the desired stack
/// says something of it and none elsewhere: load balancer, target group and listener
/// attributes (only listed keys are ever compared), and the web ACL. A group of 50 target
/// groups without attributes costs no DescribeTargetGroupAttributes at all.
async fn with_wanted_details(
    cloud: &impl Cloud,
    desired: &Stack,
    observed: &ObservedStack,
) -> Result<ObservedStack, CloudError> {
    let mut observed = observed.clone();
    let wants_web_acl = desired
        .load_balancer
        .as_ref()
        .is_some_and(|lb| lb.wafv2_acl.is_some());
    let wants_attributes = desired
        .load_balancer
        .as_ref()
        .is_some_and(|lb| !lb.attributes.is_empty());
    for state in &mut observed.target_groups {
        let wanted = state
            .resource_id
            .as_ref()
            .and_then(|id| desired.target_groups.get(id))
            .is_some_and(|spec| !spec.attributes.is_empty());
        if wanted {
            state.attributes = cloud
                .describe_target_group_attributes(&state.target_group.arn)
                .await?;
        }
        if state.target_group.target_type == crate::model::TargetType::Alb {
            state.targets = cloud
                .describe_target_health(&state.target_group.arn)
                .await?
                .into_iter()
                .filter(|health| health.state != crate::cloud::TargetState::Draining)
                .map(|health| health.target)
                .collect();
        }
    }
    let wanted = desired.load_balancer.as_ref();
    let wants_classic_acl = wanted.is_some_and(|lb| lb.waf_classic_acl.is_some());
    let wants_shield = wanted.is_some_and(|lb| lb.shield_advanced_protection.is_some());
    let wants_capacity = wanted.is_some_and(|lb| lb.minimum_capacity_units.is_some());
    if wanted.is_some_and(|lb| lb.shield_advanced_protection == Some(true)) {
        // Upstream skips Shield when the subscription cannot be read; so do we.
        observed.shield_subscribed = cloud.shield_subscription_active().await.unwrap_or(false);
    }
    for state in &mut observed.load_balancers {
        let arn = state.load_balancer.arn.clone();
        if wants_classic_acl {
            state.add_ons.classic_web_acl = cloud.classic_web_acl_of(&arn).await?;
        }
        if wants_shield {
            state.add_ons.protection = cloud.describe_protection(&arn).await?;
        }
        if wants_capacity {
            state.add_ons.capacity_units = cloud.describe_capacity_reservation(&arn).await?;
        }
        // A load balancer to be replaced is read too: the plan refuses to replace one whose
        // deletion protection is on.
        let replaced = wanted.is_some_and(|lb| {
            lb.load_balancer_type != state.load_balancer.load_balancer_type
                || lb.scheme != state.load_balancer.scheme
        });
        if wants_attributes || replaced {
            state.attributes = cloud
                .describe_load_balancer_attributes(&state.load_balancer.arn)
                .await?;
        }
        if wants_web_acl {
            state.web_acl = cloud.web_acl_of(&state.load_balancer.arn).await?;
        }
        for listener in &mut state.listeners {
            let wanted = desired
                .listeners
                .values()
                .any(|l| l.port == listener.port && !l.attributes.is_empty());
            if wanted {
                listener.attributes = cloud.describe_listener_attributes(&listener.arn).await?;
            }
        }
    }
    Ok(observed)
}

/// Takes AWS from whatever it holds for `identity` to `desired`.
pub async fn deploy_stack(
    cloud: &impl Cloud,
    desired: &Stack,
    identity: &StackIdentity,
    config: &ControllerConfig,
) -> Result<Deployed, DeployError> {
    let wants_backend = desired
        .load_balancer
        .as_ref()
        .is_some_and(|lb| lb.security_groups.contains(&SecurityGroupRef::Backend));
    let observed = observe_for(cloud, identity, config, wants_backend).await?;
    converge(cloud, desired, &observed, identity, config).await
}

#[cfg(test)]
mod rule_tests;
#[cfg(test)]
mod tests;
