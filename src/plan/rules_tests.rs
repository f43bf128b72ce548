//! The rule planner's pure properties; its behaviour against the simulator is tested in
//! `deploy/rule_tests.rs`.

use super::*;
use crate::cloud::{FixedResponseConfig, RuleAction, RuleCondition};
use crate::model::Tags;

/// A rule for `path` answering with `code`: distinct paths make distinct contents.
pub(crate) fn content(path: &str) -> RuleContent {
    RuleContent {
        transforms: Vec::new(),
        conditions: vec![
            RuleCondition::HostHeader {
                values: vec!["shop.example.com".into()],
            },
            RuleCondition::PathPattern {
                values: vec![path.into()],
            },
        ],
        actions: vec![RuleAction::FixedResponse(FixedResponseConfig {
            status_code: "200".into(),
            content_type: Some("text/plain".into()),
            message_body: Some(path.into()),
        })],
    }
}

pub(crate) fn desired(paths: &[&str]) -> Vec<DesiredRule> {
    paths
        .iter()
        .zip(1..)
        .map(|(path, priority)| DesiredRule {
            priority,
            content: content(path),
            tags: Tags::new(),
        })
        .collect()
}

#[test]
fn moves_never_target_a_priority_held_before_the_call() {
    let observed: Vec<ObservedRule> = ["/a", "/b", "/c", "/d"]
        .iter()
        .zip(1..)
        .map(|(path, priority)| ObservedRule {
            arn: format!("rule-{priority}"),
            listener_arn: "listener".into(),
            priority,
            content: content(path),
        })
        .collect();
    // A rotation: every rule moves by one.
    let changes = plan_rules(&desired(&["/d", "/a", "/b", "/c"]), &observed);
    let mut held: BTreeMap<String, i32> = observed
        .iter()
        .map(|r| (r.arn.clone(), r.priority))
        .collect();
    for wave in &changes.moves {
        let occupied: BTreeSet<i32> = held.values().copied().collect();
        for (_, priority) in wave {
            assert!(!occupied.contains(priority), "{changes:?}");
        }
        for (arn, priority) in wave {
            held.insert(arn.clone(), *priority);
        }
    }
    assert!(changes.moves.len() <= 2, "{changes:?}");
}
