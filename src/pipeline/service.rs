//! One Service's run: check its annotations (no AWS call for a malformed one) → observe what AWS
//! holds for its stack → discover what the build needs → build → plan → apply (online); and
//! the removal of a Service's stack (the empty stack applied).
//!
//! The caller says whether the Service is ours; it may hand over the stack it applied for the
//! same inputs before (a drift check re-deploys it without discovering again: the same inputs
//! build the same stack, and an existing NLB keeps its subnets).

use super::{ClusterHooks, RunError, StackAws};
use crate::deploy::{DeployError, Deployed};
use crate::model::Stack;
use crate::observe::StackIdentity;
use crate::service::{build_service_stack, stack_id, Problem, ServiceBuildInput, ServiceSettings};
use k8s_openapi::api::core::v1::Service;
use std::sync::Arc;

/// How a Service's run ended, when it got as far as the build.
#[derive(Debug)]
pub enum ServiceOutcome {
    /// The Service's input is invalid: every problem, nothing written.
    Invalid(Vec<Problem>),
    Built(BuiltService),
}

/// A Service whose stack was built (or handed over).
#[derive(Debug)]
pub struct BuiltService {
    pub stack: Arc<Stack>,
    /// What the build accepted but does not support (none for a handed-over stack).
    pub warnings: Vec<Problem>,
    /// The plan and, online, what the apply left; or why planning or applying failed.
    pub deployed: Result<Deployed, DeployError>,
}

/// Runs one Service of ours; `known_stack` is the stack applied before for the same inputs.
pub async fn run_service(
    aws: &impl StackAws,
    hooks: &impl ClusterHooks,
    service: &Service,
    known_stack: Option<Arc<Stack>>,
) -> Result<ServiceOutcome, RunError> {
    let config = aws.config();
    if known_stack.is_none() {
        if let Err(problems) = ServiceSettings::read(service, config) {
            return Ok(ServiceOutcome::Invalid(problems));
        }
    }
    let identity = StackIdentity::for_service(&config.cluster_name, &stack_id(service));
    let observed = aws
        .observe(&identity, config.enable_backend_security_group)
        .await
        .map_err(RunError::Observe)?;
    let (stack, warnings) = match known_stack {
        Some(stack) => (stack, Vec::new()),
        None => {
            let existing = observed.existing_load_balancer();
            let facts = aws
                .discover_service(service)
                .await
                .map_err(RunError::Discover)?;
            let input = ServiceBuildInput {
                service,
                config,
                facts: &facts,
                existing: existing.as_ref(),
            };
            match build_service_stack(&input) {
                Ok(built) => (Arc::new(built.stack), built.warnings),
                Err(problems) => return Ok(ServiceOutcome::Invalid(problems)),
            }
        }
    };
    hooks
        .before_first_write()
        .await
        .map_err(RunError::Cluster)?;
    let deployed = aws.converge(&stack, &observed, &identity).await;
    Ok(ServiceOutcome::Built(BuiltService {
        stack,
        warnings,
        deployed,
    }))
}

/// Removes the stack `id` of a Service no longer ours (or deleted): its bindings first, then the
/// empty stack applied. What it deleted is in the plan.
pub async fn remove_service_stack(
    aws: &impl StackAws,
    hooks: &impl ClusterHooks,
    id: &str,
) -> Result<Result<Deployed, DeployError>, RunError> {
    hooks
        .before_stack_removed()
        .await
        .map_err(RunError::Cluster)?;
    let empty = Stack::empty(id);
    let identity = StackIdentity::for_service(&aws.config().cluster_name, id);
    // The empty stack wants no backend group: it is not looked up.
    let observed = aws
        .observe(&identity, false)
        .await
        .map_err(RunError::Observe)?;
    Ok(aws.converge(&empty, &observed, &identity).await)
}
