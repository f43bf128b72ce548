//! The managed group's shards while applying: which observed ones the plan keeps, and the
//! creation of a shard (reusing one an interrupted apply made).

use super::ApplyContext;
use crate::cloud::{Cloud, CloudError, SecurityGroupInput};
use crate::observe::ObservedStack;
use crate::plan::security_groups::{shard_name, shard_of, shard_tags};
use crate::plan::{Change, Plan};
use std::collections::BTreeMap;

/// The observed managed groups the plan keeps, by shard.
pub(super) fn managed_groups_kept(
    observed: &ObservedStack,
    plan: &Plan,
) -> BTreeMap<usize, String> {
    let deleted: Vec<&str> = plan
        .changes
        .iter()
        .filter_map(|change| match change {
            Change::DeleteSecurityGroup { group_id, .. } => Some(group_id.as_str()),
            _ => None,
        })
        .collect();
    observed
        .security_groups
        .iter()
        .filter(|group| !deleted.contains(&group.id.as_str()))
        .map(|group| (shard_of(&group.tags), group.id.clone()))
        .collect()
}

/// Creates shard `shard` of the managed group `spec`. An extra shard already made by an
/// earlier apply that stopped before attaching it (so not observed through the load balancer)
/// is found by its tags and reused, not created twice.
pub(super) async fn create_managed_shard(
    cloud: &impl Cloud,
    spec: &crate::model::SecurityGroupSpec,
    shard: usize,
    context: &ApplyContext<'_>,
) -> Result<String, CloudError> {
    let tags = shard_tags(spec, shard);
    if shard > 0 {
        let mut identity = context.identity.tags();
        if let Some(resource) = tags.get(&context.identity.resource_tag_key) {
            identity.insert(context.identity.resource_tag_key.clone(), resource.clone());
        }
        let found = cloud
            .find_security_groups(context.vpc_id, &identity)
            .await?;
        if let Some(group) = found.into_iter().next() {
            return Ok(group.id);
        }
    }
    let input = SecurityGroupInput {
        name: shard_name(spec, shard),
        description: spec.description.clone(),
        vpc_id: context.vpc_id.to_string(),
        tags,
    };
    cloud.create_security_group(&input).await
}
