//! Pipeline tests of the managed security group past one group's rule quota: its rules spread
//! over extra groups on the load balancer (better than upstream's #4789), placed stably as
//! CIDRs come and go, emptied groups deleted, and a clear refusal when even five groups cannot
//! hold them. The simulator enforces AWS's 60 rules per group and 5 groups per load balancer.

use super::{member, with_annotation, Harness};
use crate::cloud::ports::*;
use crate::model::IngressRule;

/// `count` distinct /24 CIDRs.
fn cidrs(count: usize) -> Vec<String> {
    (0..count)
        .map(|i| format!("10.{}.{}.0/24", i / 250, i % 250))
        .collect()
}

/// Member `web` listening on HTTP 80 and 8080, open to `sources`.
fn open_to(sources: &[String]) -> k8s_openapi::api::networking::v1::Ingress {
    let web = with_annotation(
        member("web", 0, &["/"]),
        "listen-ports",
        r#"[{"HTTP": 80}, {"HTTP": 8080}]"#,
    );
    with_annotation(web, "inbound-cidrs", &sources.join(","))
}

/// The load balancer's groups and the inbound rules each holds, in the load balancer's order.
async fn groups_of_the_load_balancer(harness: &Harness) -> Vec<(String, Vec<IngressRule>)> {
    let names = harness.cloud.load_balancer_names();
    let [name] = names.as_slice() else {
        panic!("one load balancer expected: {names:?}")
    };
    let ids = harness.cloud.load_balancer_security_groups(name);
    let groups = harness.cloud.describe_security_groups(&ids).await.unwrap();
    ids.iter()
        .map(|id| {
            let group = groups.iter().find(|g| &g.id == id).unwrap();
            (group.name.clone(), group.ingress.clone())
        })
        .collect()
}

/// Whether some group of the load balancer admits `source` on `port`.
fn admitted(groups: &[(String, Vec<IngressRule>)], source: &str, port: i32) -> bool {
    groups.iter().any(|(_, rules)| {
        rules
            .iter()
            .any(|r| r.source == source && r.from_port <= port && port <= r.to_port)
    })
}

/// Asserts the last reconcile wrote, and wrote only `operation` calls.
fn assert_only_writes(harness: &Harness, operation: &str, context: &str) {
    let writes = harness.cloud.calls.writes();
    assert!(
        !writes.is_empty() && writes.iter().all(|w| *w == operation),
        "{operation} only, {context}: {writes:?}"
    );
}

fn managed_group_names(harness: &Harness) -> Vec<String> {
    harness
        .cloud
        .security_group_names()
        .into_iter()
        .filter(|n| n.starts_with("k8s-web-"))
        .collect()
}

#[tokio::test]
async fn a_hundred_cidrs_on_two_ports_spread_over_several_groups_all_admitted_and_placed_stably() {
    let mut harness = Harness::new();
    let all = cidrs(100);
    harness.reconcile(&[open_to(&all)]).await.unwrap();
    let groups = groups_of_the_load_balancer(&harness).await;
    assert_eq!(
        groups.len(),
        5,
        "200 rules: four managed groups of at most 60, and the backend group"
    );
    assert!(groups.iter().all(|(_, rules)| rules.len() <= 60));
    for cidr in &all {
        for port in [80, 8080] {
            assert!(admitted(&groups, cidr, port), "{cidr} on {port}");
        }
    }
    let managed = managed_group_names(&harness);
    let first = managed.iter().min_by_key(|n| n.len()).unwrap().clone();
    let mut expected: Vec<String> = [""]
        .iter()
        .chain(["-2", "-3", "-4"].iter())
        .map(|suffix| format!("{first}{suffix}"))
        .collect();
    expected.sort();
    let mut names = managed.clone();
    names.sort();
    assert_eq!(names, expected, "the managed group and its shards -2 … -4");
    harness
        .assert_converged(&[open_to(&all)], "with four managed groups")
        .await;

    // Ten CIDRs go: only their 20 rules are revoked, nothing moves.
    let fewer: Vec<String> = all[10..].to_vec();
    harness.cloud.calls.clear();
    harness.reconcile(&[open_to(&fewer)]).await.unwrap();
    assert_only_writes(
        &harness,
        "RevokeSecurityGroupIngress",
        "no rule authorized elsewhere",
    );
    let after = groups_of_the_load_balancer(&harness).await;
    let total: usize = after.iter().map(|(_, rules)| rules.len()).sum();
    assert_eq!(total, 180);
    for (before, now) in groups.iter().zip(&after) {
        assert!(
            now.1.iter().all(|rule| before.1.contains(rule)),
            "no rule moved to another group"
        );
    }

    // Five come back: they fill the room left, without a new group.
    let back: Vec<String> = all[5..].to_vec();
    harness.cloud.calls.clear();
    harness.reconcile(&[open_to(&back)]).await.unwrap();
    assert_only_writes(
        &harness,
        "AuthorizeSecurityGroupIngress",
        "no group created",
    );
    let groups = groups_of_the_load_balancer(&harness).await;
    assert!(back.iter().all(|cidr| admitted(&groups, cidr, 8080)));

    // Down to ten CIDRs: the groups left with no rule are detached and deleted.
    harness.reconcile(&[open_to(&all[90..])]).await.unwrap();
    let groups = groups_of_the_load_balancer(&harness).await;
    assert!(all[90..].iter().all(|cidr| admitted(&groups, cidr, 80)));
    assert!(groups.len() < 5, "{groups:?}");
    assert_eq!(managed_group_names(&harness).len(), groups.len() - 1);

    // Deleting the group deletes every managed group.
    harness.reconcile(&[]).await.unwrap();
    assert!(managed_group_names(&harness).is_empty());
}

#[tokio::test]
async fn rules_beyond_what_five_groups_hold_are_refused_naming_the_counts_and_change_nothing() {
    let mut harness = Harness::new();
    let few = cidrs(10);
    harness.reconcile(&[open_to(&few)]).await.unwrap();
    let before = groups_of_the_load_balancer(&harness).await;

    harness.cloud.calls.clear();
    let refused = harness
        .reconcile(&[open_to(&cidrs(130))])
        .await
        .unwrap_err();
    assert!(
        refused.contains("260 inbound rules") && refused.contains("240"),
        "{refused}"
    );
    assert!(harness.cloud.calls.writes().is_empty());
    assert_eq!(groups_of_the_load_balancer(&harness).await, before);
}

#[tokio::test]
async fn a_raised_quota_keeps_the_rules_in_one_group() {
    let mut harness = Harness::new();
    harness.config.rules_per_security_group = 200;
    harness.cloud.set_rule_quota(200);
    harness.reconcile(&[open_to(&cidrs(100))]).await.unwrap();
    let groups = groups_of_the_load_balancer(&harness).await;
    assert_eq!(groups.len(), 2, "the managed group and the backend group");
    assert_eq!(managed_group_names(&harness).len(), 1);
}
