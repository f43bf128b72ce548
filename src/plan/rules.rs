//! Listener rules: the fewest calls that take a listener's rules to the desired ones. Pure.
//!
//! - A rule already right (same priority, same content) gets no call.
//! - A rule whose content is wanted at another priority is moved (`SetRulePriorities`), never
//!   deleted and re-created; one whose content changed is modified in place (`ModifyRule`), at
//!   most also moved. Only rules with nothing left to match are deleted, and only priorities with
//!   no rule are created.
//! - Moves respect moto's rule that every new priority must be free before the call (AWS is more
//!   lenient): moves go in waves onto free priorities; a cycle (e.g. a swap) parks one rule on a
//!   free slot first. When the waves would take more than two calls (a long shift), all movers are
//!   parked on free slots in one call and sent home in a second.
//! - Two matchings are tried, content first (moves) and priority first (modifies in place); the
//!   one with fewer calls wins.
//! - Order of calls: deletes (freeing priorities), moves, modifies, creates.

use crate::cloud::{ObservedRule, RuleContent};
use std::collections::{BTreeMap, BTreeSet};

/// The highest priority a listener rule can have.
pub const MAX_RULE_PRIORITY: i32 = 50_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredRule {
    pub priority: i32,
    pub content: RuleContent,
    /// Tags a created rule carries (not compared: rules are matched by content).
    pub tags: crate::model::Tags,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleChanges {
    pub delete: Vec<String>,
    /// One entry per `SetRulePriorities` call, in order.
    pub moves: Vec<Vec<(String, i32)>>,
    pub modify: Vec<(String, RuleContent)>,
    pub create: Vec<DesiredRule>,
}

impl RuleChanges {
    pub fn is_empty(&self) -> bool {
        self.delete.is_empty()
            && self.moves.is_empty()
            && self.modify.is_empty()
            && self.create.is_empty()
    }

    /// How many AWS calls carrying these changes takes.
    pub fn calls(&self) -> usize {
        self.delete.len() + self.moves.len() + self.modify.len() + self.create.len()
    }
}

/// Plans the changes for one listener: the cheaper of matching rules by content first (moves)
/// or by priority first (modifies), content first on a tie.
pub fn plan_rules(desired: &[DesiredRule], observed: &[ObservedRule]) -> RuleChanges {
    let by_content = plan_rules_matching(desired, observed, MatchFirst::Content);
    let by_priority = plan_rules_matching(desired, observed, MatchFirst::Priority);
    if by_priority.calls() < by_content.calls() {
        by_priority
    } else {
        by_content
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum MatchFirst {
    Content,
    Priority,
}

fn plan_rules_matching(
    desired: &[DesiredRule],
    observed: &[ObservedRule],
    first: MatchFirst,
) -> RuleChanges {
    let mut free_desired: Vec<&DesiredRule> = desired.iter().collect();
    let mut free_observed: Vec<&ObservedRule> = observed.iter().collect();
    // Each surviving observed rule and the priority it must end at.
    let mut targets: Vec<(&ObservedRule, i32)> = Vec::new();
    let mut changes = RuleChanges::default();

    // 1. Already right.
    free_desired.retain(|wanted| {
        let found = free_observed.iter().position(|rule| {
            rule.content.same_as(&wanted.content) && rule.priority == wanted.priority
        });
        match found {
            Some(index) => {
                targets.push((free_observed.remove(index), wanted.priority));
                false
            }
            None => true,
        }
    });
    if first == MatchFirst::Priority {
        // Other content at the same priority: modified in place.
        free_desired.retain(|wanted| {
            match free_observed
                .iter()
                .position(|rule| rule.priority == wanted.priority)
            {
                Some(index) => {
                    let rule = free_observed.remove(index);
                    changes
                        .modify
                        .push((rule.arn.clone(), wanted.content.clone()));
                    targets.push((rule, wanted.priority));
                    false
                }
                None => true,
            }
        });
    }
    // 2. Right content elsewhere (a move).
    free_desired.retain(|wanted| {
        let found = free_observed
            .iter()
            .position(|rule| rule.content.same_as(&wanted.content));
        match found {
            Some(index) => {
                targets.push((free_observed.remove(index), wanted.priority));
                false
            }
            None => true,
        }
    });
    // 3. Other content at the same priority, then 4. any leftover rule: modified (and moved).
    for same_priority in [true, false] {
        free_desired.retain(|wanted| {
            let found = free_observed
                .iter()
                .position(|rule| !same_priority || rule.priority == wanted.priority);
            match found {
                Some(index) => {
                    let rule = free_observed.remove(index);
                    changes
                        .modify
                        .push((rule.arn.clone(), wanted.content.clone()));
                    targets.push((rule, wanted.priority));
                    false
                }
                None => true,
            }
        });
    }
    changes.delete = free_observed.iter().map(|rule| rule.arn.clone()).collect();
    changes.create = free_desired.into_iter().cloned().collect();
    changes.create.sort_by_key(|rule| rule.priority);
    changes.moves = schedule_moves(&targets, &changes.create);
    changes
}

/// Priorities that are free now and are nobody's destination, highest first.
fn spare_priorities(
    occupied: &BTreeSet<i32>,
    destinations: &BTreeSet<i32>,
    count: usize,
) -> Vec<i32> {
    (1..=MAX_RULE_PRIORITY)
        .rev()
        .filter(|p| !occupied.contains(p) && !destinations.contains(p))
        .take(count)
        .collect()
}

fn schedule_moves(
    targets: &[(&ObservedRule, i32)],
    creates: &[DesiredRule],
) -> Vec<Vec<(String, i32)>> {
    let pending: Vec<(String, i32, i32)> = targets
        .iter()
        .filter(|(rule, priority)| rule.priority != *priority)
        .map(|(rule, priority)| (rule.arn.clone(), rule.priority, *priority))
        .collect();
    if pending.is_empty() {
        return Vec::new();
    }
    let destinations: BTreeSet<i32> = targets
        .iter()
        .map(|(_, p)| *p)
        .chain(creates.iter().map(|c| c.priority))
        .collect();
    let waves = move_in_waves(targets, &pending, &destinations);
    if waves.len() <= 2 {
        return waves;
    }
    // Park every mover on a spare slot, then send each home: two calls whatever the shape.
    let occupied: BTreeSet<i32> = targets.iter().map(|(rule, _)| rule.priority).collect();
    let spares = spare_priorities(&occupied, &destinations, pending.len());
    let park = pending
        .iter()
        .zip(spares)
        .map(|((arn, _, _), spare)| (arn.clone(), spare))
        .collect();
    let home = pending
        .iter()
        .map(|(arn, _, destination)| (arn.clone(), *destination))
        .collect();
    vec![park, home]
}

fn move_in_waves(
    targets: &[(&ObservedRule, i32)],
    pending: &[(String, i32, i32)],
    destinations: &BTreeSet<i32>,
) -> Vec<Vec<(String, i32)>> {
    let mut current: BTreeMap<String, i32> = targets
        .iter()
        .map(|(rule, _)| (rule.arn.clone(), rule.priority))
        .collect();
    let mut pending: Vec<(String, i32)> = pending
        .iter()
        .map(|(arn, _, destination)| (arn.clone(), *destination))
        .collect();
    let mut waves = Vec::new();
    while !pending.is_empty() {
        let occupied: BTreeSet<i32> = current.values().copied().collect();
        let (wave, blocked): (Vec<_>, Vec<_>) = pending
            .into_iter()
            .partition(|(_, destination)| !occupied.contains(destination));
        pending = blocked;
        if wave.is_empty() {
            // Only cycles are left: park one rule on a spare slot to open the cycle.
            let Some(spare) = spare_priorities(&occupied, destinations, 1)
                .first()
                .copied()
            else {
                break;
            };
            let arn = pending[0].0.clone();
            current.insert(arn.clone(), spare);
            waves.push(vec![(arn, spare)]);
            continue;
        }
        for (arn, destination) in &wave {
            current.insert(arn.clone(), *destination);
        }
        waves.push(wave);
    }
    waves
}

#[cfg(test)]
#[path = "rules_tests.rs"]
pub(crate) mod tests;
