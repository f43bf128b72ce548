//! Listener rules during an apply: each HTTP(S) listener's rules read once and taken to the
//! desired ones with the fewest calls (`plan::rules`).

use super::{ApplyError, Known};
use crate::cloud::{Cloud, CloudError, ErrorKind};
use crate::model::{Protocol, Stack};
use crate::plan::{Change, Plan};

/// Makes the rules of every HTTP(S) listener of `desired` match its rules: one `DescribeRules` per
/// listener that existed before this apply, then the fewest rule calls (`plan::rules`).
pub(super) async fn sync_rules(
    cloud: &impl Cloud,
    desired: &Stack,
    plan: &Plan,
    known: &Known,
) -> Result<(), ApplyError> {
    let created: Vec<i32> = plan
        .changes
        .iter()
        .filter_map(|c| match c {
            Change::CreateListener { port } => Some(*port),
            _ => None,
        })
        .collect();
    for listener in desired.listeners.values() {
        if !matches!(listener.protocol, Protocol::Http | Protocol::Https) {
            continue;
        }
        let failed = |error: CloudError| ApplyError {
            change: format!("sync rules of listener {}", listener.port),
            error,
        };
        let Some(listener_arn) = known.listeners.get(&listener.port) else {
            continue;
        };
        let wanted = desired
            .rules
            .values()
            .filter(|rule| rule.port == listener.port)
            .map(|rule| {
                let actions = rule
                    .actions
                    .iter()
                    .map(|action| known.resolve_action(action))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(crate::plan::rules::DesiredRule {
                    priority: rule.priority,
                    content: crate::cloud::RuleContent {
                        conditions: rule.conditions.clone(),
                        actions,
                        transforms: rule.transforms.clone(),
                    },
                    tags: rule.tags.clone(),
                })
            })
            .collect::<Result<Vec<_>, CloudError>>()
            .map_err(failed)?;
        let observed = if created.contains(&listener.port) {
            Vec::new()
        } else {
            cloud.describe_rules(listener_arn).await.map_err(failed)?
        };
        let changes = crate::plan::rules::plan_rules(&wanted, &observed);
        apply_rule_changes(cloud, listener_arn, &changes)
            .await
            .map_err(failed)?;
    }
    Ok(())
}

/// Carries out the rule changes of one listener in the planned order (deletes, moves, modifies,
/// creates), stopping at the first failure; a rule already gone counts as deleted.
pub async fn apply_rule_changes(
    cloud: &impl Cloud,
    listener_arn: &str,
    changes: &crate::plan::rules::RuleChanges,
) -> Result<(), CloudError> {
    for arn in &changes.delete {
        match cloud.delete_rule(arn).await {
            Err(error) if error.kind != ErrorKind::NotFound => return Err(error),
            _ => {}
        }
    }
    for wave in &changes.moves {
        cloud.set_rule_priorities(wave).await?;
    }
    for (arn, content) in &changes.modify {
        cloud.modify_rule(arn, content).await?;
    }
    for rule in &changes.create {
        cloud
            .create_rule(&crate::cloud::RuleInput {
                listener_arn: listener_arn.to_string(),
                priority: rule.priority,
                content: rule.content.clone(),
                tags: rule.tags.clone(),
            })
            .await?;
    }
    Ok(())
}
