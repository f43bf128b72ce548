//! Pipeline tests: Ingress group → the loop's own pipeline (`pipeline::ingress::run_group`:
//! observe, discover, certificates, build, plan, apply) against the simulator.

use super::class::ClassContext;
use super::group::{load_group, GroupId};
use super::input::MemberContribution;
use crate::cloud::simulator::Simulator;
use crate::cloud::ErrorKind;
use crate::config::ControllerConfig;
use crate::facts::CloudFacts;
use crate::pipeline::ingress::{run_group, GroupOutcome, GroupRun};
use crate::pipeline::{NoCluster, Online};
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

/// One group reconcile as the loop does it (without Kubernetes): load, then run the pipeline.
struct Harness {
    cloud: Simulator,
    config: ControllerConfig,
    classes: Vec<IngressClass>,
    previous: BTreeMap<String, MemberContribution>,
    /// The TargetGroupBindings the last reconcile wants (as the loop would write them).
    bindings: Vec<crate::crd::target_group_binding::TargetGroupBinding>,
}

impl Harness {
    fn new() -> Self {
        Self {
            cloud: Simulator::with_subnets(facts().subnets),
            config: ControllerConfig::new("prod", "vpc-0example"),
            classes: vec![serde_json::from_value(
                json!({"metadata": {"name": "alb"}, "spec": {"controller": "ingress.k8s.aws/alb"}}),
            )
            .unwrap()],
            previous: BTreeMap::new(),
            bindings: Vec::new(),
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
        let services = services();
        let oidc_clients = Default::default();
        let run = GroupRun {
            id: &id,
            group: &group,
            services: &services,
            oidc_clients: &oidc_clients,
            previous: &self.previous,
        };
        let aws = Online {
            cloud: &self.cloud,
            config: &self.config,
        };
        let outcome = run_group(&aws, &NoCluster, &run, std::time::SystemTime::now())
            .await
            .map_err(|e| e.to_string())?;
        let run = match outcome {
            GroupOutcome::Built(run) => run,
            GroupOutcome::Unbuildable(problem) => return Err(problem),
        };
        let deployed = run.deployed.map_err(|e| e.to_string())?;
        self.bindings = crate::controller::bindings::desired_bindings(
            &run.built.stack,
            &deployed.applied,
            &BTreeMap::new(),
        );
        self.previous = run.built.contributions;
        Ok(run.built.held.iter().map(|p| p.ingress.clone()).collect())
    }

    /// Reconciles `ingress` alone and returns the writes that took.
    async fn writes_for(&mut self, ingress: &Ingress) -> Vec<&'static str> {
        self.cloud.calls.clear();
        self.reconcile(std::slice::from_ref(ingress)).await.unwrap();
        self.cloud.calls.writes()
    }

    /// Asserts that another reconcile of `members` writes nothing.
    async fn assert_converged(&mut self, members: &[Ingress], context: &str) {
        self.cloud.calls.clear();
        self.reconcile(members).await.unwrap();
        assert!(
            self.cloud.calls.writes().is_empty(),
            "converged {context}: {:?}",
            self.cloud.calls.writes()
        );
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
    let steps = write_steps(&members).await;
    assert!(steps.iter().any(|(op, _)| *op == "CreateRule"), "{steps:?}");
    for (operation, occurrence) in steps {
        let mut harness = failed_then_retried(&members, operation, occurrence).await;
        let after = format!("after {operation} #{occurrence}");
        assert_eq!(harness.cloud.load_balancer_names().len(), 1, "{after}");
        assert_eq!(harness.rules(), ["/a1", "/a2", "/b"], "{after}");
        harness.assert_converged(&members, &after).await;
    }
}

/// A group reconciled with `operation`'s `occurrence`-th call failing, then once more.
async fn failed_then_retried(members: &[Ingress], operation: &str, occurrence: usize) -> Harness {
    let mut harness = Harness::new();
    harness
        .cloud
        .fail_call(operation, occurrence, ErrorKind::Throttled);
    assert!(
        harness.reconcile(members).await.is_err(),
        "{operation} #{occurrence} was injected to fail"
    );
    harness
        .reconcile(members)
        .await
        .unwrap_or_else(|e| panic!("retry after {operation} #{occurrence}: {e}"));
    harness
}

/// Every write a clean reconcile of `members` makes, as (operation, its occurrence): the
/// places a failure can be injected.
async fn write_steps(members: &[Ingress]) -> Vec<(&'static str, usize)> {
    let mut clean = Harness::new();
    clean.reconcile(members).await.unwrap();
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    clean
        .cloud
        .calls
        .writes()
        .into_iter()
        .map(|operation| {
            let count = seen.entry(operation).or_insert(0);
            *count += 1;
            (operation, *count)
        })
        .collect()
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
async fn after_a_restart_a_held_member_that_had_rules_changes_nothing_while_a_new_one_does_not_block(
) {
    let deployed = |name: &str, order: i32, path: &str| {
        let mut ingress = member(name, order, &[path]);
        ingress.metadata.finalizers = Some(vec!["group.ingress.k8s.aws/web".into()]);
        ingress
    };
    let broken = |mut ingress: Ingress| {
        ingress.metadata.annotations.as_mut().unwrap().insert(
            "alb.ingress.kubernetes.io/listen-ports".into(),
            "not json".into(),
        );
        ingress
    };
    let mut harness = Harness::new();
    let a = deployed("a", 0, "/a");
    let b = deployed("b", 10, "/b");
    harness.reconcile(&[a.clone(), b.clone()]).await.unwrap();

    // The controller restarts: it remembers no member's share.
    harness.previous = BTreeMap::new();
    harness.cloud.calls.clear();
    let outcome = harness.reconcile(&[a.clone(), broken(b.clone())]).await;
    assert!(outcome.unwrap_err().contains("shop/b"));
    assert!(
        harness.cloud.calls.writes().is_empty(),
        "nothing of b's is deleted"
    );
    assert_eq!(harness.rules(), ["/a", "/b"]);

    // A brand-new member (no finalizer yet) that is broken holds only itself.
    let c = broken(member("c", 20, &["/c"]));
    let held = harness
        .reconcile(&[a.clone(), b.clone(), c.clone()])
        .await
        .unwrap();
    assert_eq!(held, ["shop/c"]);
    assert_eq!(harness.rules(), ["/a", "/b"]);
}

mod addons;
mod certificates;
mod frontend;
mod network_access;
mod rule_quota;
