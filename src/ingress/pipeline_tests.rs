//! Pipeline tests: Ingress group → ALB stack → observe/plan/apply against the simulator.

use super::build::{build_ingress_stack, IngressBuildInput, MemberContribution};
use super::class::ClassContext;
use super::group::{load_group, GroupId};
use crate::cloud::simulator::Simulator;
use crate::cloud::ErrorKind;
use crate::config::ControllerConfig;
use crate::deploy::{converge, observe_for};
use crate::facts::CloudFacts;
use crate::observe::StackIdentity;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use serde_json::json;
use std::collections::BTreeMap;

fn facts() -> CloudFacts {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/aws-facts.json");
    CloudFacts::from_documents(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A member of group `web` with one Prefix path per entry of `paths`, each to Service `app`.
fn member(name: &str, order: i32, paths: &[&str]) -> Ingress {
    let paths: Vec<serde_json::Value> = paths
        .iter()
        .map(|p| json!({"path": p, "pathType": "Prefix", "backend": {"service": {"name": "app", "port": {"number": 80}}}}))
        .collect();
    serde_json::from_value(json!({
        "metadata": {"namespace": "shop", "name": name, "annotations": {
            "alb.ingress.kubernetes.io/group.name": "web",
            "alb.ingress.kubernetes.io/group.order": order.to_string(),
        }},
        "spec": {"ingressClassName": "alb", "rules": [{"http": {"paths": paths}}]}
    }))
    .unwrap()
}

fn services() -> Vec<Service> {
    vec![serde_json::from_value(json!({
        "metadata": {"namespace": "shop", "name": "app", "uid": "00000000-0000-4000-8000-000000000001"},
        "spec": {"type": "NodePort", "ports": [{"port": 80, "targetPort": 8080, "nodePort": 30080}]}
    }))
    .unwrap()]
}

/// One group reconcile as the loop does it (without Kubernetes): load, build, observe, converge.
struct Harness {
    cloud: Simulator,
    config: ControllerConfig,
    facts: CloudFacts,
    classes: Vec<IngressClass>,
    previous: BTreeMap<String, MemberContribution>,
}

impl Harness {
    fn new() -> Self {
        let facts = facts();
        Self {
            cloud: Simulator::with_subnets(facts.subnets.clone()),
            config: ControllerConfig::new("prod", "vpc-0example"),
            facts,
            classes: vec![serde_json::from_value(
                json!({"metadata": {"name": "alb"}, "spec": {"controller": "ingress.k8s.aws/alb"}}),
            )
            .unwrap()],
            previous: BTreeMap::new(),
        }
    }

    async fn reconcile(&mut self, ingresses: &[Ingress]) -> Result<Vec<String>, String> {
        let id = GroupId::Explicit("web".into());
        let namespaces = BTreeMap::new();
        let context = ClassContext {
            ingress_class_flag: "alb",
            classes: &self.classes,
            params: &[],
            namespace_labels: &namespaces,
        };
        let group = load_group(&id, ingresses, &context).map_err(|e| e.to_string())?;
        let identity = StackIdentity::for_ingress("prod", "web");
        let observed = observe_for(&self.cloud, &identity, &self.config, true)
            .await
            .map_err(|e| e.to_string())?;
        let existing = observed.existing_load_balancer();
        let held: Vec<String> = Vec::new();
        let built = build_ingress_stack(&IngressBuildInput {
            group_id: &id,
            members: &group.members,
            services: &services(),
            config: &self.config,
            facts: &self.facts,
            existing: existing.as_ref(),
            previous: &self.previous,
            held_at_load: &held,
            oidc_clients: &Default::default(),
        })?;
        converge(
            &self.cloud,
            &built.stack,
            &observed,
            &identity,
            &self.config,
        )
        .await
        .map_err(|e| e.to_string())?;
        self.previous = built.contributions;
        Ok(built.held.iter().map(|p| p.ingress.clone()).collect())
    }

    /// Path patterns of the port-80 rules, in priority order.
    fn rules(&self) -> Vec<String> {
        self.cloud
            .rule_paths()
            .into_iter()
            .map(|(_, _, paths)| paths[0].clone())
            .collect()
    }
}

#[tokio::test]
async fn a_group_converges_then_costs_no_write_and_members_come_and_go_with_the_fewest_calls() {
    let mut harness = Harness::new();
    let a = member("a", 0, &["/a1", "/a2"]);
    let c = member("c", 20, &["/c1", "/c2"]);
    harness.reconcile(&[a.clone(), c.clone()]).await.unwrap();
    assert_eq!(harness.rules(), ["/a1", "/a2", "/c1", "/c2"]);
    assert_eq!(harness.cloud.load_balancer_names().len(), 1);

    harness.cloud.calls.clear();
    harness.reconcile(&[a.clone(), c.clone()]).await.unwrap();
    assert!(
        harness.cloud.calls.writes().is_empty(),
        "{:?}",
        harness.cloud.calls.writes()
    );

    // b joins between a and c: its rules take priorities 3 and 4, c's move down.
    let b = member("b", 10, &["/b1", "/b2"]);
    harness.cloud.calls.clear();
    harness
        .reconcile(&[a.clone(), b.clone(), c.clone()])
        .await
        .unwrap();
    assert_eq!(harness.rules(), ["/a1", "/a2", "/b1", "/b2", "/c1", "/c2"]);
    let writes = harness.cloud.calls.writes();
    let rule_writes: Vec<&&str> = writes.iter().filter(|w| w.contains("Rule")).collect();
    assert_eq!(
        writes.iter().filter(|w| **w == "CreateRule").count(),
        2,
        "only b's rules are created: {writes:?}"
    );
    assert!(
        rule_writes.len() <= 4
            && !writes.contains(&"DeleteRule")
            && !writes.contains(&"ModifyRule"),
        "c's rules are moved, not re-created: {writes:?}"
    );

    // One path of b changes: one write.
    let b_changed = member("b", 10, &["/b1", "/b9"]);
    harness.cloud.calls.clear();
    harness
        .reconcile(&[a.clone(), b_changed, c.clone()])
        .await
        .unwrap();
    assert_eq!(
        harness.cloud.calls.writes(),
        ["ModifyRule"],
        "one changed path is one write"
    );
    // A longer path also sorts first within b's rule: two modifies, not moves plus a modify.
    let b_longer = member("b", 10, &["/b1", "/b9-longer"]);
    harness.cloud.calls.clear();
    harness
        .reconcile(&[a.clone(), b_longer, c.clone()])
        .await
        .unwrap();
    assert_eq!(
        harness.rules(),
        ["/a1", "/a2", "/b9-longer", "/b1", "/c1", "/c2"]
    );
    assert_eq!(harness.cloud.calls.writes(), ["ModifyRule", "ModifyRule"]);

    // b leaves: exactly its rules go, the others keep their content.
    harness.reconcile(&[a.clone(), c.clone()]).await.unwrap();
    assert_eq!(harness.rules(), ["/a1", "/a2", "/c1", "/c2"]);
    assert_eq!(harness.cloud.load_balancer_names().len(), 1);

    // The last members leave: everything of the group goes.
    harness.reconcile(&[]).await.unwrap();
    assert!(harness.cloud.load_balancer_names().is_empty());
    assert!(harness.cloud.target_group_names().is_empty());
    assert!(harness.rules().is_empty());
}

#[tokio::test]
async fn a_bad_member_does_not_stop_the_others_and_keeps_its_rules() {
    let mut harness = Harness::new();
    let a = member("a", 0, &["/a"]);
    let b = member("b", 10, &["/b"]);
    harness.reconcile(&[a.clone(), b.clone()]).await.unwrap();
    let mut broken_b = member("b", 10, &["/b"]);
    broken_b.metadata.annotations.as_mut().unwrap().insert(
        "alb.ingress.kubernetes.io/listen-ports".into(),
        "not json".into(),
    );
    let c = member("c", 20, &["/c"]);
    let held = harness.reconcile(&[a.clone(), broken_b, c]).await.unwrap();
    assert_eq!(held, ["shop/b"]);
    assert_eq!(
        harness.rules(),
        ["/a", "/b", "/c"],
        "c joined, b kept its rule"
    );
}

#[tokio::test]
async fn a_failure_injected_at_any_write_converges_on_retry_with_one_alb() {
    let members = [member("a", 0, &["/a1", "/a2"]), member("b", 10, &["/b"])];
    let mut clean = Harness::new();
    clean.reconcile(&members).await.unwrap();
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let steps: Vec<(&str, usize)> = clean
        .cloud
        .calls
        .writes()
        .into_iter()
        .map(|operation| {
            let count = seen.entry(operation).or_insert(0);
            *count += 1;
            (operation, *count)
        })
        .collect();
    assert!(steps.iter().any(|(op, _)| *op == "CreateRule"), "{steps:?}");
    for (operation, occurrence) in steps {
        let mut harness = Harness::new();
        harness
            .cloud
            .fail_call(operation, occurrence, ErrorKind::Throttled);
        assert!(
            harness.reconcile(&members).await.is_err(),
            "{operation} #{occurrence} was injected to fail"
        );
        harness
            .reconcile(&members)
            .await
            .unwrap_or_else(|e| panic!("retry after {operation} #{occurrence}: {e}"));
        assert_eq!(
            harness.cloud.load_balancer_names().len(),
            1,
            "after {operation} #{occurrence}"
        );
        assert_eq!(
            harness.rules(),
            ["/a1", "/a2", "/b"],
            "after {operation} #{occurrence}"
        );
        harness.cloud.calls.clear();
        harness.reconcile(&members).await.unwrap();
        assert!(
            harness.cloud.calls.writes().is_empty(),
            "converged after {operation} #{occurrence}: {:?}",
            harness.cloud.calls.writes()
        );
    }
}

fn with_annotation(mut ingress: Ingress, key: &str, value: &str) -> Ingress {
    ingress
        .metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(
            format!("alb.ingress.kubernetes.io/{key}"),
            value.to_string(),
        );
    ingress
}

#[tokio::test]
async fn listener_attributes_are_set_then_read_only_where_wanted() {
    let mut harness = Harness::new();
    let plain = member("a", 0, &["/a"]);
    harness
        .reconcile(std::slice::from_ref(&plain))
        .await
        .unwrap();
    harness.cloud.calls.clear();
    harness
        .reconcile(std::slice::from_ref(&plain))
        .await
        .unwrap();
    assert_eq!(
        harness.cloud.calls.count("DescribeListenerAttributes"),
        0,
        "no listener wants attributes: none are read"
    );

    let key = "listener-attributes.HTTP-80";
    let tuned = with_annotation(
        plain.clone(),
        key,
        "routing.http.response.server.enabled=false",
    );
    harness.cloud.calls.clear();
    harness
        .reconcile(std::slice::from_ref(&tuned))
        .await
        .unwrap();
    assert_eq!(harness.cloud.calls.writes(), ["ModifyListenerAttributes"]);
    assert_eq!(
        harness.cloud.listener_attributes(80).unwrap()["routing.http.response.server.enabled"],
        "false"
    );

    harness.cloud.calls.clear();
    harness
        .reconcile(std::slice::from_ref(&tuned))
        .await
        .unwrap();
    assert!(harness.cloud.calls.writes().is_empty());
    assert_eq!(harness.cloud.calls.count("DescribeListenerAttributes"), 1);

    let retuned = with_annotation(plain, key, "routing.http.response.server.enabled=true");
    harness.cloud.calls.clear();
    harness.reconcile(&[retuned]).await.unwrap();
    assert_eq!(harness.cloud.calls.writes(), ["ModifyListenerAttributes"]);
    assert_eq!(
        harness.cloud.listener_attributes(80).unwrap()["routing.http.response.server.enabled"],
        "true"
    );
}

#[tokio::test]
async fn a_new_listener_gets_its_attributes_and_a_grpc_target_group_its_version() {
    let mut harness = Harness::new();
    let tuned = with_annotation(
        with_annotation(
            member("a", 0, &["/a"]),
            "listener-attributes.HTTP-80",
            "routing.http.response.server.enabled=false",
        ),
        "backend-protocol-version",
        "GRPC",
    );
    harness
        .reconcile(std::slice::from_ref(&tuned))
        .await
        .unwrap();
    assert_eq!(
        harness.cloud.listener_attributes(80).unwrap()["routing.http.response.server.enabled"],
        "false"
    );
    let versions = harness.cloud.target_group_protocol_versions();
    assert_eq!(versions, [Some("GRPC".to_string())]);
    harness.cloud.calls.clear();
    harness.reconcile(&[tuned]).await.unwrap();
    assert!(harness.cloud.calls.writes().is_empty());
}

#[tokio::test]
async fn a_web_acl_is_associated_once_changed_and_removed_and_never_read_unless_named() {
    let mut harness = Harness::new();
    let first = "arn:aws:wafv2:us-west-2:123456789012:regional/webacl/first/1";
    let second = "arn:aws:wafv2:us-west-2:123456789012:regional/webacl/second/2";
    harness.cloud.add_web_acl("first", first);
    harness.cloud.add_web_acl("second", second);
    let plain = member("a", 0, &["/a"]);
    harness
        .reconcile(std::slice::from_ref(&plain))
        .await
        .unwrap();
    assert_eq!(harness.cloud.calls.count("GetWebACLForResource"), 0);
    let name = harness.cloud.load_balancer_names()[0].clone();

    let guarded = with_annotation(plain.clone(), "wafv2-acl-arn", first);
    harness.cloud.calls.clear();
    harness
        .reconcile(std::slice::from_ref(&guarded))
        .await
        .unwrap();
    assert_eq!(harness.cloud.calls.writes(), ["AssociateWebACL"]);
    assert_eq!(
        harness.cloud.web_acl_of_load_balancer(&name).as_deref(),
        Some(first)
    );

    harness.cloud.calls.clear();
    harness
        .reconcile(std::slice::from_ref(&guarded))
        .await
        .unwrap();
    assert!(harness.cloud.calls.writes().is_empty());

    let moved = with_annotation(plain.clone(), "wafv2-acl-arn", second);
    harness.cloud.calls.clear();
    harness
        .reconcile(std::slice::from_ref(&moved))
        .await
        .unwrap();
    assert_eq!(harness.cloud.calls.writes(), ["AssociateWebACL"]);
    assert_eq!(
        harness.cloud.web_acl_of_load_balancer(&name).as_deref(),
        Some(second)
    );

    // Without the annotation AWS is left as it is; `none` disassociates.
    harness.cloud.calls.clear();
    harness
        .reconcile(std::slice::from_ref(&plain))
        .await
        .unwrap();
    assert!(harness.cloud.calls.writes().is_empty());
    assert_eq!(
        harness.cloud.web_acl_of_load_balancer(&name).as_deref(),
        Some(second)
    );
    let cleared = with_annotation(plain, "wafv2-acl-arn", "none");
    harness
        .reconcile(std::slice::from_ref(&cleared))
        .await
        .unwrap();
    assert_eq!(harness.cloud.web_acl_of_load_balancer(&name), None);
}

#[tokio::test]
async fn a_new_load_balancer_is_associated_with_its_web_acl_right_after_creation() {
    let mut harness = Harness::new();
    let arn = "arn:aws:wafv2:us-west-2:123456789012:regional/webacl/first/1";
    harness.cloud.add_web_acl("first", arn);
    let guarded = with_annotation(member("a", 0, &["/a"]), "wafv2-acl-arn", arn);
    harness
        .reconcile(std::slice::from_ref(&guarded))
        .await
        .unwrap();
    let name = harness.cloud.load_balancer_names()[0].clone();
    assert_eq!(
        harness.cloud.web_acl_of_load_balancer(&name).as_deref(),
        Some(arn)
    );
}

#[tokio::test]
async fn transforms_are_added_and_removed_with_one_modify_each() {
    let mut harness = Harness::new();
    let plain = member("a", 0, &["/a"]);
    harness
        .reconcile(std::slice::from_ref(&plain))
        .await
        .unwrap();
    let rewritten = with_annotation(
        plain.clone(),
        "transforms.app",
        r#"[{"type": "url-rewrite", "urlRewriteConfig": {"rewrites": [{"regex": "^/a/(.*)$", "replace": "/$1"}]}}]"#,
    );
    for (step, ingress) in [("added", &rewritten), ("removed", &plain)] {
        harness.cloud.calls.clear();
        harness
            .reconcile(std::slice::from_ref(ingress))
            .await
            .unwrap();
        assert_eq!(
            harness.cloud.calls.writes(),
            ["ModifyRule"],
            "transforms {step}"
        );
        harness.cloud.calls.clear();
        harness
            .reconcile(std::slice::from_ref(ingress))
            .await
            .unwrap();
        assert!(
            harness.cloud.calls.writes().is_empty(),
            "converged after {step}"
        );
    }
}

#[tokio::test]
async fn an_ipam_pool_is_given_at_creation_then_changed_and_removed_in_place() {
    let mut harness = Harness::new();
    let plain = member("a", 0, &["/a"]);
    let pooled = |pool: &str| with_annotation(plain.clone(), "ipam-ipv4-pool-id", pool);
    harness.reconcile(&[pooled("ipam-pool-1")]).await.unwrap();
    assert_eq!(
        harness.cloud.calls.count("ModifyIpPools"),
        0,
        "given at creation"
    );
    for (step, ingress) in [
        ("changed", pooled("ipam-pool-2")),
        ("removed", plain.clone()),
    ] {
        harness.cloud.calls.clear();
        harness
            .reconcile(std::slice::from_ref(&ingress))
            .await
            .unwrap();
        assert_eq!(
            harness.cloud.calls.writes(),
            ["ModifyIpPools"],
            "pool {step}"
        );
        harness.cloud.calls.clear();
        harness
            .reconcile(std::slice::from_ref(&ingress))
            .await
            .unwrap();
        assert!(
            harness.cloud.calls.writes().is_empty(),
            "converged after {step}"
        );
    }
    assert_eq!(
        harness.cloud.load_balancer_names().len(),
        1,
        "never replaced"
    );
}

#[tokio::test]
async fn mutual_tls_is_set_on_the_https_listener_and_changed_in_place() {
    let mut harness = Harness::new();
    let https = |mtls: &str| {
        let ingress = with_annotation(
            with_annotation(
                member("a", 0, &["/a"]),
                "listen-ports",
                r#"[{"HTTPS": 443}]"#,
            ),
            "certificate-arn",
            "arn:aws:acm:us-west-2:123456789012:certificate/a",
        );
        with_annotation(ingress, "mutual-authentication", mtls)
    };
    let verify = https(
        r#"[{"port": 443, "mode": "verify", "trustStore": "arn:aws:elasticloadbalancing:us-west-2:123456789012:truststore/t/1"}]"#,
    );
    harness
        .reconcile(std::slice::from_ref(&verify))
        .await
        .unwrap();
    harness.cloud.calls.clear();
    harness
        .reconcile(std::slice::from_ref(&verify))
        .await
        .unwrap();
    assert!(
        harness.cloud.calls.writes().is_empty(),
        "{:?}",
        harness.cloud.calls.writes()
    );
    let passthrough = https(r#"[{"port": 443, "mode": "passthrough"}]"#);
    harness
        .reconcile(std::slice::from_ref(&passthrough))
        .await
        .unwrap();
    assert_eq!(harness.cloud.calls.writes(), ["ModifyListener"]);
}

#[tokio::test]
async fn shield_waf_classic_and_capacity_are_applied_read_only_when_named_and_reset() {
    let mut harness = Harness::new();
    let plain = member("a", 0, &["/a"]);
    harness
        .reconcile(std::slice::from_ref(&plain))
        .await
        .unwrap();
    let name = harness.cloud.load_balancer_names()[0].clone();
    for read in [
        "GetWebACLForResource",
        "DescribeProtection",
        "DescribeCapacityReservation",
    ] {
        assert_eq!(harness.cloud.calls.count(read), 0, "{read} without a wish");
    }

    // Without a subscription Shield is skipped, as upstream; the others apply.
    let guarded = with_annotation(
        with_annotation(
            with_annotation(plain.clone(), "shield-advanced-protection", "true"),
            "waf-acl-id",
            "acl-1",
        ),
        "minimum-load-balancer-capacity",
        "CapacityUnits=100",
    );
    harness
        .reconcile(std::slice::from_ref(&guarded))
        .await
        .unwrap();
    assert_eq!(harness.cloud.protection_of_load_balancer(&name), None);
    assert_eq!(
        harness
            .cloud
            .classic_web_acl_of_load_balancer(&name)
            .as_deref(),
        Some("acl-1")
    );
    assert_eq!(harness.cloud.capacity_of_load_balancer(&name), Some(100));
    harness.cloud.set_shield_subscription(true);
    harness.cloud.calls.clear();
    harness
        .reconcile(std::slice::from_ref(&guarded))
        .await
        .unwrap();
    assert_eq!(harness.cloud.calls.writes(), ["CreateProtection"]);
    assert_eq!(
        harness.cloud.protection_of_load_balancer(&name).as_deref(),
        Some("managed by aws-load-balancer-controller")
    );

    // Turned off: our protection goes, the ACL is disassociated, the reservation reset.
    let off = with_annotation(
        with_annotation(
            with_annotation(plain.clone(), "shield-advanced-protection", "false"),
            "waf-acl-id",
            "none",
        ),
        "minimum-load-balancer-capacity",
        "CapacityUnits=0",
    );
    harness.reconcile(std::slice::from_ref(&off)).await.unwrap();
    assert_eq!(harness.cloud.protection_of_load_balancer(&name), None);
    assert_eq!(harness.cloud.classic_web_acl_of_load_balancer(&name), None);
    assert_eq!(harness.cloud.capacity_of_load_balancer(&name), None);

    // A protection somebody else made is never deleted.
    harness
        .cloud
        .add_protection(&name, "made by the security team");
    harness.cloud.calls.clear();
    harness.reconcile(std::slice::from_ref(&off)).await.unwrap();
    assert!(harness.cloud.calls.writes().is_empty());
    assert_eq!(
        harness.cloud.protection_of_load_balancer(&name).as_deref(),
        Some("made by the security team")
    );
}
