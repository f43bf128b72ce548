//! The AWS half of target registration: read the target group's targets once, then deregister and
//! register the difference in as few calls as AWS allows (one each up to 200 targets).

use super::{plan_targets, TargetChanges, TARGETS_PER_CALL};
use crate::cloud::{Cloud, CloudResult, Target, TargetHealth};
use std::collections::BTreeSet;

/// What one sync found and did.
#[derive(Debug, Clone, Default)]
pub struct TargetSync {
    pub changes: TargetChanges,
    /// The targets and their health as AWS reported them before the changes.
    pub health: Vec<TargetHealth>,
}

/// Makes the target group hold exactly `desired`.
pub async fn sync_targets(
    cloud: &impl Cloud,
    target_group_arn: &str,
    desired: &BTreeSet<Target>,
) -> CloudResult<TargetSync> {
    sync(cloud, target_group_arn, desired, None).await
}

/// For a target group shared with other clusters (`multiClusterTargetGroup`): registers
/// `desired` and deregisters only targets of `ours` (what this controller registered) that are
/// no longer wanted; targets it does not know belong to another cluster and are left alone.
///
/// `ours` is kept up to date here, failures included: the wanted targets count as ours before
/// the first write (a register whose answer is lost may still have taken effect, and its
/// targets must be deregistered once unwanted), and once every call succeeded `ours` is
/// exactly `desired`.
pub async fn sync_shared_targets(
    cloud: &impl Cloud,
    target_group_arn: &str,
    desired: &BTreeSet<Target>,
    ours: &mut BTreeSet<Target>,
) -> CloudResult<TargetSync> {
    ours.extend(desired.iter().cloned());
    let sync = sync(cloud, target_group_arn, desired, Some(ours)).await?;
    ours.clone_from(desired);
    Ok(sync)
}

async fn sync(
    cloud: &impl Cloud,
    target_group_arn: &str,
    desired: &BTreeSet<Target>,
    ours: Option<&BTreeSet<Target>>,
) -> CloudResult<TargetSync> {
    let current = cloud.describe_target_health(target_group_arn).await?;
    let mut changes = plan_targets(desired, &current);
    if let Some(ours) = ours {
        changes.deregister.retain(|target| ours.contains(target));
    }
    for chunk in changes.deregister.chunks(TARGETS_PER_CALL) {
        cloud.deregister_targets(target_group_arn, chunk).await?;
    }
    for chunk in changes.register.chunks(TARGETS_PER_CALL) {
        cloud.register_targets(target_group_arn, chunk).await?;
    }
    Ok(TargetSync {
        changes,
        health: current,
    })
}
