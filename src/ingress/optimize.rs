//! Upstream's rule optimizer (its §4.8.5), kept for compatibility with the legacy pattern of a
//! redirect attached to both HTTP and HTTPS ports. Per listener, in priority order, before
//! priorities are counted:
//!
//! 1. a rule whose redirect would send the request back to itself (an endless loop) is dropped;
//! 2. a rule that an earlier kept redirect rule already catches (its conditions are a superset)
//!    is dropped.
//!
//! Target groups referenced only by dropped rules stay in the model, as upstream. Pure.

use crate::cloud::{RedirectConfig, RuleCondition};
use crate::model::{ListenerAction, Protocol};
use std::collections::BTreeSet;

/// What the optimizer looks at of one rule.
pub(super) struct RuleShape<'a> {
    pub conditions: &'a [RuleCondition],
    pub actions: &'a [ListenerAction],
}

fn redirect_of(actions: &[ListenerAction]) -> Option<&RedirectConfig> {
    actions.iter().find_map(|a| match a {
        ListenerAction::Redirect(config) => Some(config),
        _ => None,
    })
}

fn values(conditions: &[RuleCondition], hosts: bool) -> BTreeSet<&str> {
    conditions
        .iter()
        .flat_map(|c| match (c, hosts) {
            (RuleCondition::HostHeader { values }, true)
            | (RuleCondition::PathPattern { values }, false) => values.as_slice(),
            (RuleCondition::HostHeaderRegex { regex_values }, true)
            | (RuleCondition::PathPatternRegex { regex_values }, false) => regex_values.as_slice(),
            _ => &[],
        })
        .map(String::as_str)
        .collect()
}

/// The rule's redirect sends the request to where it already is.
fn redirects_to_itself(rule: &RuleShape, port: i32, protocol: Protocol) -> bool {
    let Some(redirect) = redirect_of(rule.actions) else {
        return false;
    };
    if rule
        .conditions
        .iter()
        .any(|c| matches!(c, RuleCondition::PathPatternRegex { .. }))
    {
        return false;
    }
    let hosts = values(rule.conditions, true);
    let paths = values(rule.conditions, false);
    let same = |wanted: &Option<String>, placeholder: &str, matches: &dyn Fn(&str) -> bool| {
        wanted
            .as_deref()
            .is_none_or(|value| value == placeholder || matches(value))
    };
    same(&redirect.host, "#{host}", &|h| hosts.contains(h))
        && same(&redirect.path, "/#{path}", &|p| paths.contains(p))
        && same(&redirect.port, "#{port}", &|p| p == port.to_string())
        && same(&redirect.protocol, "#{protocol}", &|p| {
            p == protocol.as_str()
        })
        && same(&redirect.query, "#{query}", &|_| false)
}

/// `earlier`'s conditions catch every request `later`'s do.
fn catches(earlier: &RuleShape, later: &RuleShape) -> bool {
    let only_hosts_and_paths = earlier.conditions.iter().all(|c| {
        matches!(
            c,
            RuleCondition::HostHeader { .. }
                | RuleCondition::PathPattern { .. }
                | RuleCondition::HostHeaderRegex { .. }
                | RuleCondition::PathPatternRegex { .. }
        )
    });
    if !only_hosts_and_paths {
        return false;
    }
    let (earlier_hosts, later_hosts) = (
        values(earlier.conditions, true),
        values(later.conditions, true),
    );
    let (earlier_paths, later_paths) = (
        values(earlier.conditions, false),
        values(later.conditions, false),
    );
    let hosts = earlier_hosts.is_empty()
        || (!later_hosts.is_empty() && later_hosts.is_subset(&earlier_hosts));
    let paths = earlier_paths.is_empty()
        || earlier_paths.contains("/*")
        || (!later_paths.is_empty() && later_paths.is_subset(&earlier_paths));
    hosts && paths
}

/// Whether `rule` stays on the listener, given the rules kept before it.
pub(super) fn keeps(rule: &RuleShape, kept: &[RuleShape], port: i32, protocol: Protocol) -> bool {
    !redirects_to_itself(rule, port, protocol)
        && !kept
            .iter()
            .any(|earlier| redirect_of(earlier.actions).is_some() && catches(earlier, rule))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(values: &[&str]) -> RuleCondition {
        RuleCondition::PathPattern {
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    fn to_https() -> ListenerAction {
        ListenerAction::Redirect(RedirectConfig {
            protocol: Some("HTTPS".into()),
            port: Some("443".into()),
            status_code: "HTTP_301".into(),
            ..RedirectConfig::default()
        })
    }

    #[test]
    fn a_redirect_to_itself_is_dropped_and_a_redirect_elsewhere_kept() {
        let conditions = [paths(&["/*"])];
        let actions = [to_https()];
        let rule = RuleShape {
            conditions: &conditions,
            actions: &actions,
        };
        assert!(
            !keeps(&rule, &[], 443, Protocol::Https),
            "HTTPS:443 → HTTPS:443 loops"
        );
        assert!(
            keeps(&rule, &[], 80, Protocol::Http),
            "HTTP:80 → HTTPS:443 does not"
        );
    }

    #[test]
    fn rules_behind_a_catch_all_redirect_are_dropped() {
        let catch_all = [paths(&["/*"])];
        let redirect = [to_https()];
        let earlier = RuleShape {
            conditions: &catch_all,
            actions: &redirect,
        };
        let specific = [
            RuleCondition::HostHeader {
                values: vec!["a.example.com".into()],
            },
            paths(&["/a"]),
        ];
        let forward = [ListenerAction::forward_to("tg")];
        let later = RuleShape {
            conditions: &specific,
            actions: &forward,
        };
        assert!(!keeps(&later, &[earlier], 80, Protocol::Http));
        let header = [RuleCondition::HttpHeader {
            name: "x".into(),
            values: vec!["1".into()],
        }];
        let narrow = RuleShape {
            conditions: &header,
            actions: &redirect,
        };
        assert!(
            keeps(&later, &[narrow], 80, Protocol::Http),
            "a redirect with other conditions catches nothing for sure"
        );
    }
}
