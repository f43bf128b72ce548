//! The security-group share of planning: the shared backend group when the stack needs it, and
//! the stack's managed group — spread over several groups ("shards") when its inbound rules
//! exceed one group's rule quota (better than upstream's #4789, which fails). Pure.
//!
//! The managed group stays one logical [`SecurityGroupSpec`] in the model; only the plan knows
//! the shards. Shard 0 is upstream's managed group (resource tag `ManagedLBSecurityGroup`);
//! shard `n` is named `<name>-<n+1>` and tagged `ManagedLBSecurityGroup-<n+1>`. Placement is
//! stable: a rule stays in the shard that holds it, new rules fill the lowest shards with room,
//! a shard is created only when none has room, and a shard left with no rule is deleted (after
//! the load balancer lets go of it). A load balancer holds at most
//! [`SECURITY_GROUPS_PER_LOAD_BALANCER`] groups, the backend and user groups included; rules
//! beyond what that allows are a [`PlanError`] naming the counts.
//!
//! It does not decide which rules the stack wants (the build does) nor resolve the ids of
//! groups created while applying (the apply step does).

use super::{Change, PlanContext, PlanError};
use crate::cloud::ObservedSecurityGroup;
use crate::model::{IngressRule, SecurityGroupRef, SecurityGroupSpec, Stack, Tags};
use crate::observe::ObservedStack;
use std::collections::BTreeSet;

/// AWS's limit of security groups on one load balancer.
pub const SECURITY_GROUPS_PER_LOAD_BALANCER: usize = 5;

/// AWS's default quota of inbound rules per security group.
pub const DEFAULT_RULES_PER_SECURITY_GROUP: usize = 60;

use crate::model::identity::RESOURCE_TAG_KEYS;
pub use crate::model::identity::{shard_of, MANAGED_GROUP_RESOURCE};

/// The name of shard `shard` of the managed group `spec`.
pub fn shard_name(spec: &SecurityGroupSpec, shard: usize) -> String {
    if shard == 0 {
        spec.name.clone()
    } else {
        format!("{}-{}", spec.name, shard + 1)
    }
}

/// The tags of shard `shard` of the managed group `spec`: the group's, resource tag numbered.
pub fn shard_tags(spec: &SecurityGroupSpec, shard: usize) -> Tags {
    let mut tags = spec.tags.clone();
    if shard > 0 {
        for key in RESOURCE_TAG_KEYS {
            if let Some(value) = tags.get_mut(key) {
                *value = format!("{MANAGED_GROUP_RESOURCE}-{}", shard + 1);
            }
        }
    }
    tags
}

/// Serde's test for the shard field of changes: shard 0 is not written.
pub fn is_first_shard(shard: &usize) -> bool {
    *shard == 0
}

/// One shard of the managed group after the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Shard<'a> {
    index: usize,
    existing: Option<&'a ObservedSecurityGroup>,
    /// Its rules after the plan.
    rules: Vec<IngressRule>,
}

/// The managed group's shards after the plan, and the observed managed groups it drops.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct ManagedLayout<'a> {
    shards: Vec<Shard<'a>>,
    dropped: Vec<&'a ObservedSecurityGroup>,
}

impl ManagedLayout<'_> {
    /// The ids the load balancer's `Managed` reference stands for after the plan; `None` when
    /// a shard is yet to be created.
    pub(super) fn resolved_ids(&self) -> Option<Vec<String>> {
        self.shards
            .iter()
            .map(|shard| shard.existing.map(|group| group.id.clone()))
            .collect()
    }
}

/// How many groups the managed group may spread over: what the load balancer's other groups
/// leave of its five.
fn available_shards(desired: &Stack) -> usize {
    let others = desired.load_balancer.as_ref().map_or(0, |lb| {
        lb.security_groups
            .iter()
            .filter(|group| **group != SecurityGroupRef::Managed)
            .count()
    });
    SECURITY_GROUPS_PER_LOAD_BALANCER
        .saturating_sub(others)
        .max(1)
}

/// Places the rules of `spec` over the observed managed groups (see the module docs).
pub(super) fn managed_layout<'a>(
    desired: &Stack,
    observed: &'a ObservedStack,
    context: &PlanContext,
) -> Result<ManagedLayout<'a>, PlanError> {
    let Some(spec) = &desired.security_group else {
        return Ok(ManagedLayout {
            shards: Vec::new(),
            dropped: observed.security_groups.iter().collect(),
        });
    };
    let quota = context.rules_per_security_group.max(1);
    let available = available_shards(desired);
    let wanted: BTreeSet<&IngressRule> = spec.ingress.iter().collect();
    if wanted.len() > available * quota {
        return Err(PlanError(format!(
            "security group {} needs {} inbound rules, but {available} group(s) of {quota} rules \
             (what the load balancer's limit of {SECURITY_GROUPS_PER_LOAD_BALANCER} groups leaves) \
             hold at most {}: name fewer inbound CIDRs or ports, or raise \
             --max-rules-per-security-group if the account's quota allows",
            spec.name,
            wanted.len(),
            available * quota
        )));
    }
    let mut layout = ManagedLayout::default();
    let mut by_shard: Vec<(usize, &ObservedSecurityGroup)> = observed
        .security_groups
        .iter()
        .map(|group| (shard_of(&group.tags), group))
        .collect();
    by_shard.sort_by_key(|(index, _)| *index);
    // Room is kept for the first shard when AWS holds none.
    let limit = match by_shard.first() {
        Some((0, _)) => available,
        _ => available - 1,
    };
    let mut placed: BTreeSet<&IngressRule> = BTreeSet::new();
    for (index, group) in by_shard {
        let duplicate = layout.shards.iter().any(|shard| shard.index == index);
        if duplicate || layout.shards.len() == limit {
            layout.dropped.push(group);
            continue;
        }
        let mut rules = Vec::new();
        for rule in &group.ingress {
            if let Some(wanted) = wanted.get(rule).filter(|rule| placed.insert(rule)) {
                rules.push((*wanted).clone());
            }
        }
        layout.shards.push(Shard {
            index,
            existing: Some(group),
            rules,
        });
    }
    if layout.shards.first().is_none_or(|shard| shard.index != 0) {
        layout.shards.insert(
            0,
            Shard {
                index: 0,
                existing: None,
                rules: Vec::new(),
            },
        );
    }
    let mut unplaced = wanted
        .iter()
        .filter(|rule| !placed.contains(*rule))
        .peekable();
    let fill = |rules: &mut Vec<IngressRule>, from: &mut dyn Iterator<Item = &&IngressRule>| {
        rules.extend(
            from.take(quota.saturating_sub(rules.len()))
                .map(|r| (*r).clone()),
        );
    };
    for shard in &mut layout.shards {
        fill(&mut shard.rules, &mut unplaced);
    }
    let mut next_index = 0;
    while unplaced.peek().is_some() {
        while layout.shards.iter().any(|shard| shard.index == next_index) {
            next_index += 1;
        }
        let mut shard = Shard {
            index: next_index,
            existing: None,
            rules: Vec::new(),
        };
        fill(&mut shard.rules, &mut unplaced);
        layout.shards.push(shard);
    }
    // An emptied shard beyond the first goes; the first stays, as upstream's managed group.
    let (kept, emptied): (Vec<_>, Vec<_>) = layout
        .shards
        .into_iter()
        .partition(|shard| shard.index == 0 || !shard.rules.is_empty() || shard.existing.is_none());
    layout.shards = kept;
    layout
        .dropped
        .extend(emptied.into_iter().filter_map(|shard| shard.existing));
    layout.shards.sort_by_key(|shard| shard.index);
    Ok(layout)
}

/// The creates and rule changes of the backend and managed groups, in the order they apply.
pub(super) fn plan_security_groups(
    desired: &Stack,
    observed: &ObservedStack,
    layout: &ManagedLayout,
    context: &PlanContext,
    changes: &mut Vec<Change>,
) {
    let wants_backend = desired
        .load_balancer
        .as_ref()
        .is_some_and(|lb| lb.security_groups.contains(&SecurityGroupRef::Backend));
    if wants_backend && observed.backend_security_group.is_none() {
        changes.push(Change::CreateBackendSecurityGroup {
            name: context.backend_security_group_name.to_string(),
        });
    }
    let Some(spec) = &desired.security_group else {
        return;
    };
    let quota = context.rules_per_security_group.max(1);
    for shard in &layout.shards {
        let Some(group) = shard.existing else {
            changes.push(Change::CreateSecurityGroup {
                name: shard_name(spec, shard.index),
                shard: shard.index,
            });
            if !shard.rules.is_empty() {
                changes.push(Change::AuthorizeIngress {
                    group_id: None,
                    shard: shard.index,
                    rules: shard.rules.clone(),
                });
            }
            continue;
        };
        let missing: Vec<IngressRule> = shard
            .rules
            .iter()
            .filter(|rule| !group.ingress.contains(rule))
            .cloned()
            .collect();
        let extra: Vec<IngressRule> = group
            .ingress
            .iter()
            .filter(|rule| !shard.rules.contains(rule))
            .cloned()
            .collect();
        let fits = group.ingress.len() + missing.len() <= quota;
        let authorize = (!missing.is_empty()).then(|| Change::AuthorizeIngress {
            group_id: Some(group.id.clone()),
            shard: shard.index,
            rules: missing,
        });
        let revoke = (!extra.is_empty()).then(|| Change::RevokeIngress {
            group_id: group.id.clone(),
            rules: extra,
        });
        // New rules first, so no kept source loses access; old ones first when the group's
        // quota has no room for both at once.
        let ordered = if fits {
            [authorize, revoke]
        } else {
            [revoke, authorize]
        };
        changes.extend(ordered.into_iter().flatten());
    }
}

/// The deletions of the managed groups the plan drops, after everything else.
pub(super) fn plan_security_group_deletions(layout: &ManagedLayout, changes: &mut Vec<Change>) {
    for group in &layout.dropped {
        changes.push(Change::DeleteSecurityGroup {
            group_id: group.id.clone(),
            name: group.name.clone(),
        });
    }
}

#[cfg(test)]
#[path = "security_groups_tests.rs"]
mod tests;
