//! The endpoint rules that need the pod cache (not-ready-but-gated, fail-open, unknown pods) and
//! the readiness-gate conditions.

use super::*;

/// One slice of `web` whose endpoints are (ip, ready, terminating, node).
fn slice_on_nodes(endpoints: &[(&str, bool, bool, &str)]) -> Vec<EndpointSlice> {
    let endpoints: Vec<serde_json::Value> = endpoints
        .iter()
        .map(|(ip, ready, terminating, node)| {
            json!({
                "addresses": [ip],
                "conditions": {"ready": ready, "terminating": terminating},
                "nodeName": node,
                "targetRef": {"kind": "Pod", "name": format!("pod-{ip}")}
            })
        })
        .collect();
    vec![serde_json::from_value(json!({
        "metadata": {"name": "web-n", "namespace": "shop", "labels": {SERVICE_NAME_LABEL: "web"}},
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": [{"name": "http", "port": 8080}]
    }))
    .unwrap()]
}

fn cluster(containers_ready: &[&str], nodes: &[(&str, NodeReadiness)]) -> Cluster {
    Cluster {
        pods: ["10.1.0.1", "10.1.0.2", "10.1.0.3", "10.1.0.4", "10.1.0.5"]
            .iter()
            .map(|ip| {
                (
                    format!("pod-{ip}"),
                    PodFacts {
                        containers_ready: containers_ready.contains(ip),
                        node_name: None,
                    },
                )
            })
            .collect(),
        nodes: nodes.iter().map(|(n, r)| (n.to_string(), *r)).collect(),
        every_pod_exists: false,
    }
}

fn ip_targets(slices: &[EndpointSlice], context: &Cluster) -> IpTargets {
    desired_ip_targets(
        &service(),
        &IntOrString::String("http".into()),
        false,
        slices,
        context,
    )
    .unwrap()
}

#[test]
fn a_not_ready_endpoint_is_a_target_only_with_ready_containers_on_a_ready_node_and_not_terminating()
{
    let slices = slice_on_nodes(&[
        ("10.1.0.1", true, false, "n1"),  // ready
        ("10.1.0.2", false, false, "n1"), // waiting on its gate: containers ready, node Ready
        ("10.1.0.3", false, false, "n1"), // containers not ready
        ("10.1.0.4", false, true, "n1"),  // terminating
        ("10.1.0.5", false, false, "n2"), // node NotReady
        ("10.1.0.9", true, false, "n1"),  // its pod is not in the cache
    ]);
    let context = cluster(
        &["10.1.0.2", "10.1.0.4", "10.1.0.5"],
        &[
            ("n1", NodeReadiness::Ready),
            ("n2", NodeReadiness::NotReady),
        ],
    );
    let targets = ip_targets(&slices, &context);
    assert_eq!(
        targets.targets(),
        BTreeSet::from([target("10.1.0.1", 8080), target("10.1.0.2", 8080)])
    );
    assert_eq!(
        targets
            .pods
            .get(&target("10.1.0.2", 8080))
            .map(String::as_str),
        Some("pod-10.1.0.2"),
        "each target remembers its pod, for the readiness gate"
    );
    assert!(
        targets.unknown_pods,
        "the endpoint without a cached pod is reported"
    );
}

#[test]
fn endpoints_on_nodes_of_unknown_readiness_are_used_only_when_nothing_else_qualifies() {
    let nodes = [("n1", NodeReadiness::Unknown), ("n2", NodeReadiness::Ready)];
    let containers = ["10.1.0.1", "10.1.0.2"];
    let only_unknown = slice_on_nodes(&[("10.1.0.1", false, false, "n1")]);
    assert_eq!(
        ip_targets(&only_unknown, &cluster(&containers, &nodes)).targets(),
        BTreeSet::from([target("10.1.0.1", 8080)]),
        "fail-open: better a target of unknown health than none"
    );
    let with_a_good_one = slice_on_nodes(&[
        ("10.1.0.1", false, false, "n1"),
        ("10.1.0.2", false, false, "n2"),
    ]);
    assert_eq!(
        ip_targets(&with_a_good_one, &cluster(&containers, &nodes)).targets(),
        BTreeSet::from([target("10.1.0.2", 8080)])
    );
}

fn gated_pod(name: &str, condition: Option<(&str, &str)>) -> k8s_openapi::api::core::v1::Pod {
    let conditions: Vec<serde_json::Value> = condition
        .map(|(status, reason)| {
            json!({"type": "target-health.elbv2.k8s.aws/web", "status": status, "reason": reason})
        })
        .into_iter()
        .collect();
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "shop", "uid": format!("uid-{name}")},
        "spec": {"containers": [], "readinessGates": [{"conditionType": "target-health.elbv2.k8s.aws/web"}]},
        "status": {"conditions": conditions}
    }))
    .unwrap()
}

#[test]
fn gate_conditions_follow_target_health_and_unchanged_ones_are_not_rewritten() {
    use super::gates::{plan_gates, release_gates};
    let targets = IpTargets {
        pods: [
            (target("10.1.0.1", 8080), "a".to_string()),
            (target("10.1.0.2", 8080), "b".to_string()),
            (target("10.1.0.3", 8080), "c".to_string()),
            (target("10.1.0.4", 8080), "d".to_string()),
        ]
        .into_iter()
        .collect(),
        unknown_pods: false,
    };
    let pods = vec![
        gated_pod("a", None),
        gated_pod("b", Some(("False", "Elb.RegistrationInProgress"))),
        gated_pod("c", Some(("True", ""))),
        gated_pod("d", None),
    ];
    let health = vec![
        TargetHealth::new(target("10.1.0.2", 8080), TargetState::Initial),
        TargetHealth::new(target("10.1.0.3", 8080), TargetState::Healthy),
    ];
    // a is registered in this pass, b is still checking, c is healthy (no write), d unknown.
    let plan = plan_gates("web", &pods, &targets, &[target("10.1.0.1", 8080)], &health);
    let written: Vec<(&str, &str, &str)> = plan
        .updates
        .iter()
        .map(|u| {
            (
                u.pod.as_str(),
                u.condition.status,
                u.condition.reason.as_str(),
            )
        })
        .collect();
    assert_eq!(
        written,
        [
            ("a", "False", "Elb.RegistrationInProgress"),
            ("b", "False", "Elb.InitialHealthChecking"),
            ("d", "Unknown", ""),
        ]
    );
    assert!(plan.waiting);
    assert!(plan
        .updates
        .iter()
        .all(|u| u.status_changes != (u.pod == "b")));

    let all_healthy: Vec<TargetHealth> = targets
        .targets()
        .into_iter()
        .map(|t| TargetHealth::new(t, TargetState::Healthy))
        .collect();
    let plan = plan_gates("web", &pods, &targets, &[], &all_healthy);
    assert!(
        !plan.waiting,
        "nothing to poll for once every gated target is healthy"
    );
    assert_eq!(plan.updates.len(), 3, "c already says True");
    assert_eq!(plan.updates[0].uid.as_deref(), Some("uid-a"));

    let unhealthy = vec![TargetHealth::new(
        target("10.1.0.3", 8080),
        TargetState::Unhealthy,
    )];
    let plan = plan_gates("web", &pods[2..3], &targets, &[], &unhealthy);
    assert_eq!(
        (
            plan.updates[0].condition.status,
            plan.updates[0].condition.reason.as_str()
        ),
        ("False", "Target.FailedHealthChecks"),
        "a healthy pod whose target turns unhealthy gets False"
    );

    let released = release_gates("web", &pods);
    assert_eq!(released.len(), 4);
    assert!(
        !released[2].status_changes,
        "c stays True, only the message changes"
    );
    assert!(released.iter().all(|u| u.condition.status == "True"
        && u.condition.message == "Target Group Binding is deleted"));
}
