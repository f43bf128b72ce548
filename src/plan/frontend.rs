//! The frontend NLB's share of planning (upstream's §4.14): the frontend as a stack of its own,
//! with the ALB's security groups resolved to ids, and the target changes that leave each of its
//! `alb` target groups holding exactly the stack's ALB on the mapped port. Pure.
//!
//! [`plan_stack`] plans a whole stack: the ALB's part and the frontend's, and says in which
//! order they are applied (the frontend after the ALB exists, and before the ALB when the
//! frontend goes). Ids not known before applying (a security group or ALB to be created) are
//! resolved by the apply step.

use super::{kept_target_groups, plan, Change, Plan, PlanContext, PlanError, LOAD_BALANCER_ID};
use crate::cloud::Target;
use crate::model::{SecurityGroupRef, Stack, FRONTEND_NLB_ID};
use crate::observe::ObservedStack;

/// The frontend NLB's share of a stack's plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrontendPlan {
    /// The frontend as a stack (empty when it goes).
    pub stack: Stack,
    /// What AWS holds of it.
    pub observed: ObservedStack,
    pub plan: Plan,
}

/// A stack's plan in two parts, each applied with its own observed resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackPlan {
    /// The stack's own load balancer (ALB, or a Service's NLB) and everything else.
    pub main: Plan,
    /// The frontend NLB, when the stack has one or AWS still holds one.
    pub frontend: Option<FrontendPlan>,
}

impl StackPlan {
    /// The frontend goes: it is applied before the main part.
    pub fn frontend_first(&self) -> bool {
        self.frontend
            .as_ref()
            .is_some_and(|f| f.stack.load_balancer.is_none())
    }

    /// Every change, in the order they are applied.
    pub fn changes(&self) -> Vec<Change> {
        let front = self
            .frontend
            .as_ref()
            .map(|f| f.plan.changes.clone())
            .unwrap_or_default();
        let main = self.main.changes.clone();
        if self.frontend_first() {
            [front, main].concat()
        } else {
            [main, front].concat()
        }
    }
}

/// Plans `desired` from what AWS holds: `main` (without the frontend NLB) and `front` (the
/// frontend's part, see [`ObservedStack::split_frontend`]).
pub fn plan_stack(
    desired: &Stack,
    main: &ObservedStack,
    front: &ObservedStack,
    context: &PlanContext,
) -> Result<StackPlan, PlanError> {
    let main_context = PlanContext {
        load_balancer_id: LOAD_BALANCER_ID,
        ..*context
    };
    let front_context = PlanContext {
        load_balancer_id: FRONTEND_NLB_ID,
        ..*context
    };
    let mut main_plan = plan(desired, main, &main_context)?;
    if desired.frontend_nlb.is_none() {
        if front.is_empty() {
            return Ok(StackPlan {
                main: main_plan,
                frontend: None,
            });
        }
        let gone = Stack::empty(&desired.id);
        return Ok(StackPlan {
            main: main_plan,
            frontend: Some(FrontendPlan {
                plan: plan(&gone, front, &front_context)?,
                stack: gone,
                observed: front.clone(),
            }),
        });
    }
    let releases = release_deleted_albs(&main_plan, front);
    let mut front = front.clone();
    for state in &mut front.target_groups {
        state.targets.retain(|target| {
            !releases.iter().any(|change| {
                matches!(change, Change::DeregisterAlbTarget { target: released, .. } if released == target)
            })
        });
    }
    main_plan.changes.splice(0..0, releases);
    let alb = main_plan
        .kept_load_balancer(main, LOAD_BALANCER_ID)
        .map(|lb| lb.load_balancer.arn.as_str());
    // Shards created or deleted by the ALB's part are known only once it is applied.
    let managed_unchanged = !main_plan.changes.iter().any(|change| {
        matches!(
            change,
            Change::CreateSecurityGroup { .. } | Change::DeleteSecurityGroup { .. }
        )
    });
    let managed_ids: Vec<String> = main.security_groups.iter().map(|g| g.id.clone()).collect();
    let stack = frontend_stack(
        desired,
        Some(managed_ids.as_slice()).filter(|ids| managed_unchanged && !ids.is_empty()),
        main.backend_security_group.as_deref(),
    );
    let mut front_plan = plan(&stack, &front, &front_context)?;
    // The ALB's part creates the shared backend group when needed; the frontend only uses it.
    front_plan
        .changes
        .retain(|change| !matches!(change, Change::CreateBackendSecurityGroup { .. }));
    front_plan
        .changes
        .extend(plan_alb_targets(desired, &stack, &front, alb));
    Ok(StackPlan {
        main: main_plan,
        frontend: Some(FrontendPlan {
            stack,
            observed: front,
            plan: front_plan,
        }),
    })
}

/// The frontend NLB of `desired` as a stack (empty when there is none), its references to the
/// ALB's managed group (all its shards, in order) and backend security group replaced by their
/// ids where known.
pub fn frontend_stack(
    desired: &Stack,
    managed_groups: Option<&[String]>,
    backend_group: Option<&str>,
) -> Stack {
    let Some(frontend) = &desired.frontend_nlb else {
        return Stack::empty(&desired.id);
    };
    let mut stack = frontend.as_stack(&desired.id);
    if let Some(load_balancer) = &mut stack.load_balancer {
        let id = |id: &str| SecurityGroupRef::Id(id.to_string());
        load_balancer.security_groups = load_balancer
            .security_groups
            .iter()
            .flat_map(|group| match (group, managed_groups, backend_group) {
                (SecurityGroupRef::Managed, Some(ids), _) => ids.iter().map(|i| id(i)).collect(),
                (SecurityGroupRef::Backend, _, Some(backend)) => vec![id(backend)],
                _ => vec![group.clone()],
            })
            .collect();
    }
    stack
}

/// Registrations that make each frontend target group hold the ALB `alb_arn` (`None`: the ALB
/// is yet to be created) on its mapped port, and nothing else. `frontend` is the stack of
/// [`frontend_stack`]; `observed` the frontend's part of what AWS holds, targets read.
pub fn plan_alb_targets(
    desired: &Stack,
    frontend: &Stack,
    observed: &ObservedStack,
    alb_arn: Option<&str>,
) -> Vec<Change> {
    let Some(wanted) = &desired.frontend_nlb else {
        return Vec::new();
    };
    let kept = kept_target_groups(frontend, observed);
    let mut changes = Vec::new();
    for (id, port) in &wanted.alb_ports {
        let registered: &[Target] = kept.get(id).map_or(&[], |state| &state.targets);
        let target = alb_arn.map(|arn| Target {
            id: arn.to_string(),
            port: *port,
        });
        if let Some(state) = kept.get(id) {
            for stale in registered.iter().filter(|t| Some(*t) != target.as_ref()) {
                changes.push(Change::DeregisterAlbTarget {
                    target_group_arn: state.target_group.arn.clone(),
                    target: stale.clone(),
                });
            }
        }
        if target.is_none_or(|t| !registered.contains(&t)) {
            changes.push(Change::RegisterAlbTarget {
                target_group: id.clone(),
                port: *port,
            });
        }
    }
    changes
}

/// Deregistrations of the load balancers `main` deletes from the frontend target groups that
/// hold them (AWS keeps a registered ALB from being deleted).
pub fn release_deleted_albs(main: &Plan, observed: &ObservedStack) -> Vec<Change> {
    let deleted = main.deleted_load_balancers();
    observed
        .target_groups
        .iter()
        .flat_map(|state| {
            state
                .targets
                .iter()
                .filter(|t| deleted.contains(&t.id.as_str()))
                .map(|t| Change::DeregisterAlbTarget {
                    target_group_arn: state.target_group.arn.clone(),
                    target: t.clone(),
                })
        })
        .collect()
}
