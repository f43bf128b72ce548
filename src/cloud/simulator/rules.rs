//! Listener rules in the simulator, with the invariants the rule planner relies on: priorities
//! 1…50000, unique per listener; `SetRulePriorities` takes only priorities free before the call
//! (moto's behaviour, stricter than AWS, so a plan that works here works on both); forwards only
//! to existing target groups; rules go with their listener.

use super::{error, State, StoredRule};
use crate::cloud::{CloudResult, ErrorKind, ObservedRule, RuleAction, RuleContent, RuleInput};

const PRIORITIES: std::ops::RangeInclusive<i32> = 1..=50_000;

impl State {
    fn check_rule_targets(&self, operation: &str, content: &RuleContent) -> CloudResult<()> {
        let missing = content.actions.iter().find_map(|action| match action {
            RuleAction::Forward { target_groups, .. } => target_groups
                .iter()
                .find(|(arn, _)| !self.target_groups.contains_key(arn))
                .map(|(arn, _)| arn.clone()),
            _ => None,
        });
        match missing {
            Some(arn) => error(
                ErrorKind::NotFound,
                operation,
                format!("target group {arn} not found"),
            ),
            None => Ok(()),
        }
    }

    fn priority_taken(&self, listener_arn: &str, priority: i32) -> bool {
        self.rules
            .values()
            .any(|r| r.observed.listener_arn == listener_arn && r.observed.priority == priority)
    }

    pub(super) fn describe_rules(&self, listener_arn: &str) -> CloudResult<Vec<ObservedRule>> {
        if !self.listeners.contains_key(listener_arn) {
            return error(
                ErrorKind::NotFound,
                "DescribeRules",
                format!("listener {listener_arn} not found"),
            );
        }
        let mut rules: Vec<ObservedRule> = self
            .rules
            .values()
            .filter(|r| r.observed.listener_arn == listener_arn)
            .map(|r| r.observed.clone())
            .collect();
        rules.sort_by_key(|r| r.priority);
        Ok(rules)
    }

    pub(super) fn create_rule(&mut self, input: &RuleInput) -> CloudResult<ObservedRule> {
        if !self.listeners.contains_key(&input.listener_arn) {
            return error(
                ErrorKind::NotFound,
                "CreateRule",
                format!("listener {} not found", input.listener_arn),
            );
        }
        if !PRIORITIES.contains(&input.priority) {
            return error(
                ErrorKind::Invalid,
                "CreateRule",
                format!("priority {} is outside 1..50000", input.priority),
            );
        }
        if self.priority_taken(&input.listener_arn, input.priority) {
            return error(
                ErrorKind::Conflict,
                "CreateRule",
                format!("priority {} is in use", input.priority),
            );
        }
        self.check_rule_targets("CreateRule", &input.content)?;
        let arn = format!(
            "{}/rule/{}",
            input.listener_arn.replace(":listener/", ":listener-rule/"),
            self.next_id()
        );
        let observed = ObservedRule {
            arn: arn.clone(),
            listener_arn: input.listener_arn.clone(),
            priority: input.priority,
            content: input.content.as_reported(),
        };
        self.rules.insert(
            arn,
            StoredRule {
                observed: observed.clone(),
                tags: input.tags.clone(),
            },
        );
        Ok(observed)
    }

    pub(super) fn modify_rule(&mut self, arn: &str, content: &RuleContent) -> CloudResult<()> {
        self.check_rule_targets("ModifyRule", content)?;
        match self.rules.get_mut(arn) {
            Some(rule) => {
                rule.observed.content = content.as_reported();
                Ok(())
            }
            None => error(
                ErrorKind::NotFound,
                "ModifyRule",
                format!("rule {arn} not found"),
            ),
        }
    }

    pub(super) fn set_rule_priorities(&mut self, priorities: &[(String, i32)]) -> CloudResult<()> {
        let mut seen = std::collections::BTreeSet::new();
        for (arn, priority) in priorities {
            let Some(rule) = self.rules.get(arn) else {
                return error(
                    ErrorKind::NotFound,
                    "SetRulePriorities",
                    format!("rule {arn} not found"),
                );
            };
            if !PRIORITIES.contains(priority) || !seen.insert(*priority) {
                return error(
                    ErrorKind::Invalid,
                    "SetRulePriorities",
                    format!("priority {priority} is out of range or given twice"),
                );
            }
            if self.priority_taken(&rule.observed.listener_arn, *priority) {
                return error(
                    ErrorKind::Conflict,
                    "SetRulePriorities",
                    format!("priority {priority} is in use"),
                );
            }
        }
        for (arn, priority) in priorities {
            if let Some(rule) = self.rules.get_mut(arn) {
                rule.observed.priority = *priority;
            }
        }
        Ok(())
    }

    pub(super) fn delete_rule(&mut self, arn: &str) -> CloudResult<()> {
        match self.rules.remove(arn) {
            Some(_) => Ok(()),
            None => error(
                ErrorKind::NotFound,
                "DeleteRule",
                format!("rule {arn} not found"),
            ),
        }
    }
}
