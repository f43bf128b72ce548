use super::*;
use crate::cloud::ports::*;
use crate::cloud::simulator::Simulator;
use serde_json::json;

fn service() -> Service {
    serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"ports": [{"name": "http", "port": 80, "targetPort": "app"}, {"name": "metrics", "port": 9090, "targetPort": 9090}]}
    }))
    .unwrap()
}

/// One slice of `service` with `endpoints` as (ip, ready, kind), its `http` port on 8080.
fn slice(
    name: &str,
    service: &str,
    family: &str,
    endpoints: &[(&str, Option<bool>, &str)],
) -> EndpointSlice {
    let endpoints: Vec<serde_json::Value> = endpoints
        .iter()
        .map(|(ip, ready, kind)| json!({"addresses": [ip], "conditions": {"ready": ready}, "targetRef": {"kind": kind, "name": ip}}))
        .collect();
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "shop", "labels": {SERVICE_NAME_LABEL: service}},
        "addressType": family,
        "endpoints": endpoints,
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}, {"name": "metrics", "port": 9090, "protocol": "TCP"}]
    }))
    .unwrap()
}

/// The pods and nodes the endpoint rules may look up.
#[derive(Default)]
struct Cluster {
    pods: BTreeMap<String, PodFacts>,
    nodes: BTreeMap<String, NodeReadiness>,
    /// Pods not listed exist, with containers not ready.
    every_pod_exists: bool,
}

impl EndpointContext for Cluster {
    fn pod(&self, _namespace: &str, name: &str) -> Option<PodFacts> {
        self.pods
            .get(name)
            .cloned()
            .or_else(|| self.every_pod_exists.then(PodFacts::default))
    }
    fn node_readiness(&self, name: &str) -> NodeReadiness {
        self.nodes
            .get(name)
            .copied()
            .unwrap_or(NodeReadiness::NotReady)
    }
}

fn every_pod() -> Cluster {
    Cluster {
        every_pod_exists: true,
        ..Cluster::default()
    }
}

fn target(ip: &str, port: i32) -> Target {
    Target {
        id: ip.into(),
        port,
    }
}

#[test]
fn ready_pod_endpoints_of_the_service_become_targets_on_the_named_slice_port() {
    let slices = vec![
        slice(
            "web-a",
            "web",
            "IPv4",
            &[
                ("10.0.0.1", Some(true), "Pod"),
                ("10.0.0.2", None, "Pod"),
                ("10.0.0.3", Some(false), "Pod"),
            ],
        ),
        slice("web-b", "web", "IPv4", &[("10.0.0.4", Some(true), "Node")]),
        slice("web-c", "web", "IPv6", &[("2600::1", Some(true), "Pod")]),
        slice("other", "api", "IPv4", &[("10.0.9.9", Some(true), "Pod")]),
    ];
    let by_name = desired_ip_targets(
        &service(),
        &IntOrString::String("http".into()),
        false,
        &slices,
        &every_pod(),
    )
    .unwrap()
    .targets();
    assert_eq!(
        by_name,
        BTreeSet::from([target("10.0.0.1", 8080), target("10.0.0.2", 8080)]),
        "ready (or unknown) pods, not other kinds, families or services"
    );
    let by_number = desired_ip_targets(
        &service(),
        &IntOrString::Int(9090),
        false,
        &slices,
        &every_pod(),
    )
    .unwrap()
    .targets();
    assert_eq!(
        by_number,
        BTreeSet::from([target("10.0.0.1", 9090), target("10.0.0.2", 9090)])
    );
    let ipv6 = desired_ip_targets(
        &service(),
        &IntOrString::Int(80),
        true,
        &slices,
        &every_pod(),
    )
    .unwrap()
    .targets();
    assert_eq!(ipv6, BTreeSet::from([target("2600::1", 8080)]));
    let missing = desired_ip_targets(
        &service(),
        &IntOrString::Int(443),
        false,
        &slices,
        &every_pod(),
    );
    assert_eq!(
        missing,
        Err(TargetError::ServicePortNotFound {
            service: "web".into(),
            port: "443".into()
        })
    );
}

#[test]
fn draining_targets_wanted_again_are_registered_again() {
    let desired = BTreeSet::from([target("10.0.0.1", 80), target("10.0.0.2", 80)]);
    let current = vec![
        TargetHealth::new(target("10.0.0.1", 80), TargetState::Draining),
        TargetHealth::new(target("10.0.0.3", 80), TargetState::Healthy),
    ];
    let changes = plan_targets(&desired, &current);
    assert_eq!(
        changes.register,
        [target("10.0.0.1", 80), target("10.0.0.2", 80)]
    );
    assert_eq!(changes.deregister, [target("10.0.0.3", 80)]);
}

async fn ip_target_group(cloud: &Simulator) -> String {
    cloud
        .create_ip_target_group("k8s-shop-web-0000000000")
        .await
        .unwrap()
}

fn pods(count: usize) -> Vec<EndpointSlice> {
    let ips: Vec<String> = (1..=count).map(|i| format!("10.0.1.{i}")).collect();
    let endpoints: Vec<(&str, Option<bool>, &str)> = ips
        .iter()
        .map(|ip| (ip.as_str(), Some(true), "Pod"))
        .collect();
    vec![slice("web-x", "web", "IPv4", &endpoints)]
}

#[tokio::test]
async fn scaling_0_5_2_leaves_exactly_those_targets_with_one_call_per_direction() {
    let cloud = Simulator::default();
    let arn = ip_target_group(&cloud).await;
    for count in [0usize, 5, 2] {
        let desired = desired_ip_targets(
            &service(),
            &IntOrString::Int(80),
            false,
            &pods(count),
            &every_pod(),
        )
        .unwrap()
        .targets();
        cloud.calls.clear();
        sync_targets(&cloud, &arn, &desired).await.unwrap();
        let writes = cloud.calls.writes();
        assert!(
            writes.iter().filter(|w| **w == "RegisterTargets").count() <= 1,
            "{writes:?}"
        );
        assert!(
            writes.iter().filter(|w| **w == "DeregisterTargets").count() <= 1,
            "{writes:?}"
        );
        let registered: BTreeSet<Target> = cloud
            .targets_of("k8s-shop-web-0000000000")
            .into_iter()
            .collect();
        assert_eq!(registered, desired, "after scaling to {count}");
        cloud.calls.clear();
        sync_targets(&cloud, &arn, &desired).await.unwrap();
        assert!(
            cloud.calls.writes().is_empty(),
            "a converged sync writes nothing"
        );
    }
}

#[tokio::test]
async fn a_not_ready_endpoint_is_deregistered_and_drift_is_repaired() {
    let cloud = Simulator::default();
    let arn = ip_target_group(&cloud).await;
    let both = vec![slice(
        "web-x",
        "web",
        "IPv4",
        &[
            ("10.0.2.1", Some(true), "Pod"),
            ("10.0.2.2", Some(true), "Pod"),
        ],
    )];
    sync_targets(
        &cloud,
        &arn,
        &desired_ip_targets(
            &service(),
            &IntOrString::Int(80),
            false,
            &both,
            &every_pod(),
        )
        .unwrap()
        .targets(),
    )
    .await
    .unwrap();
    let one_not_ready = vec![slice(
        "web-x",
        "web",
        "IPv4",
        &[
            ("10.0.2.1", Some(true), "Pod"),
            ("10.0.2.2", Some(false), "Pod"),
        ],
    )];
    let desired = desired_ip_targets(
        &service(),
        &IntOrString::Int(80),
        false,
        &one_not_ready,
        &every_pod(),
    )
    .unwrap()
    .targets();
    let changes = sync_targets(&cloud, &arn, &desired).await.unwrap();
    assert_eq!(changes.changes.deregister, [target("10.0.2.2", 8080)]);
    assert_eq!(
        cloud.targets_of("k8s-shop-web-0000000000"),
        [target("10.0.2.1", 8080)]
    );

    // Someone deregisters a target by hand: the next sync puts it back.
    cloud
        .deregister_targets(&arn, &[target("10.0.2.1", 8080)])
        .await
        .unwrap();
    let repaired = sync_targets(&cloud, &arn, &desired).await.unwrap();
    assert_eq!(repaired.changes.register, [target("10.0.2.1", 8080)]);
    assert_eq!(
        cloud.targets_of("k8s-shop-web-0000000000"),
        [target("10.0.2.1", 8080)]
    );
}

fn node(
    name: &str,
    ready: &str,
    labels: serde_json::Value,
    provider: &str,
) -> k8s_openapi::api::core::v1::Node {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": labels},
        "spec": {"providerID": provider},
        "status": {"conditions": [{"type": "Ready", "status": ready}]}
    }))
    .unwrap()
}

fn four_nodes_and_two_odd_ones() -> Vec<k8s_openapi::api::core::v1::Node> {
    let mut nodes: Vec<_> = (1..=4)
        .map(|i| {
            node(
                &format!("n{i}"),
                "True",
                json!({"pool": if i <= 2 { "edge" } else { "core" }}),
                &format!("aws:///us-west-2a/i-000{i}"),
            )
        })
        .collect();
    nodes.push(node(
        "n5",
        "True",
        json!({"node.kubernetes.io/exclude-from-external-load-balancers": ""}),
        "aws:///us-west-2a/i-0005",
    ));
    nodes.push(node("n6", "False", json!({}), "aws:///us-west-2a/i-0006"));
    nodes
}

fn load_balancer_service(policy: &str) -> Service {
    serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"type": "LoadBalancer", "externalTrafficPolicy": policy,
                 "ports": [{"name": "http", "port": 80, "targetPort": 8080, "nodePort": 30080}]}
    }))
    .unwrap()
}

/// A slice of `web` with one ready endpoint on each of `nodes`.
fn endpoints_on(nodes: &[&str]) -> Vec<EndpointSlice> {
    let endpoints: Vec<serde_json::Value> = nodes
        .iter()
        .enumerate()
        .map(|(i, node)| json!({"addresses": [format!("10.9.0.{i}")], "conditions": {"ready": true}, "nodeName": node, "targetRef": {"kind": "Pod", "name": format!("p{i}")}}))
        .collect();
    vec![serde_json::from_value(json!({
        "metadata": {"name": "web-n", "namespace": "shop", "labels": {SERVICE_NAME_LABEL: "web"}},
        "addressType": "IPv4", "endpoints": endpoints, "ports": [{"name": "http", "port": 8080}]
    }))
    .unwrap()]
}

fn instances(ids: &[&str]) -> BTreeSet<Target> {
    ids.iter().map(|id| target(id, 30080)).collect()
}

#[test]
fn cluster_policy_registers_every_eligible_ready_node_on_the_node_port() {
    let targets = desired_instance_targets(
        &load_balancer_service("Cluster"),
        &IntOrString::Int(80),
        &four_nodes_and_two_odd_ones(),
        &[] as &[EndpointSlice],
        None,
    )
    .unwrap();
    assert_eq!(
        targets,
        instances(&["i-0001", "i-0002", "i-0003", "i-0004"]),
        "not the excluded nor the NotReady node"
    );
}

#[test]
fn local_policy_registers_only_nodes_with_a_ready_endpoint_and_drops_a_node_that_loses_its_last() {
    let nodes = four_nodes_and_two_odd_ones();
    let service = load_balancer_service("Local");
    let two = desired_instance_targets(
        &service,
        &IntOrString::Int(80),
        &nodes,
        &endpoints_on(&["n2", "n4"]),
        None,
    )
    .unwrap();
    assert_eq!(two, instances(&["i-0002", "i-0004"]));
    let current: Vec<TargetHealth> = two
        .iter()
        .map(|t| TargetHealth::new(t.clone(), TargetState::Healthy))
        .collect();
    let one = desired_instance_targets(
        &service,
        &IntOrString::Int(80),
        &nodes,
        &endpoints_on(&["n4"]),
        None,
    )
    .unwrap();
    let changes = plan_targets(&one, &current);
    assert_eq!(
        changes.deregister,
        [target("i-0002", 30080)],
        "n2 lost its last endpoint"
    );
    assert!(changes.register.is_empty());
}

#[test]
fn node_selectors_fail_open_and_bad_input() {
    let nodes = four_nodes_and_two_odd_ones();
    let selector: k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector =
        serde_json::from_value(
            json!({"matchExpressions": [{"key": "pool", "operator": "In", "values": ["edge"]}]}),
        )
        .unwrap();
    let edge = desired_instance_targets(
        &load_balancer_service("Cluster"),
        &IntOrString::Int(80),
        &nodes,
        &[] as &[EndpointSlice],
        Some(&selector),
    )
    .unwrap();
    assert_eq!(edge, instances(&["i-0001", "i-0002"]));

    let unknown = vec![
        node("u1", "Unknown", json!({}), "aws:///zone/i-00u1"),
        node("u2", "False", json!({}), "aws:///zone/i-00u2"),
    ];
    let fail_open = desired_instance_targets(
        &load_balancer_service("Cluster"),
        &IntOrString::Int(80),
        &unknown,
        &[] as &[EndpointSlice],
        None,
    )
    .unwrap();
    assert_eq!(
        fail_open,
        BTreeSet::from([target("i-00u1", 30080)]),
        "no Ready node: the Unknown ones, never NotReady"
    );

    let broken = vec![node("b1", "True", json!({}), "kind://docker/b1")];
    let error = desired_instance_targets(
        &load_balancer_service("Cluster"),
        &IntOrString::Int(80),
        &broken,
        &[] as &[EndpointSlice],
        None,
    )
    .unwrap_err();
    assert!(
        matches!(error, TargetError::InvalidProviderId { .. }),
        "{error}"
    );
    let mut cluster_ip = load_balancer_service("Cluster");
    cluster_ip.spec.as_mut().unwrap().type_ = Some("ClusterIP".into());
    assert!(matches!(
        desired_instance_targets(
            &cluster_ip,
            &IntOrString::Int(80),
            &nodes,
            &[] as &[EndpointSlice],
            None
        ),
        Err(TargetError::NoNodePorts { .. })
    ));
}

mod endpoint_rules_and_gates;

#[tokio::test]
async fn a_shared_target_group_loses_only_the_targets_this_cluster_registered() {
    let cloud = Simulator::default();
    let arn = ip_target_group(&cloud).await;
    let other_cluster = target("10.9.0.1", 8080);
    cloud
        .register_targets(&arn, std::slice::from_ref(&other_cluster))
        .await
        .unwrap();
    let first: BTreeSet<Target> = [target("10.0.1.1", 8080), target("10.0.1.2", 8080)].into();
    let mut ours = BTreeSet::new();
    crate::targets::sync_shared_targets(&cloud, &arn, &first, &mut ours)
        .await
        .unwrap();
    assert_eq!(ours, first, "what this cluster registered is remembered");
    let scaled_down: BTreeSet<Target> = [target("10.0.1.1", 8080)].into();
    crate::targets::sync_shared_targets(&cloud, &arn, &scaled_down, &mut ours)
        .await
        .unwrap();
    assert_eq!(ours, scaled_down);
    let registered: BTreeSet<Target> = cloud
        .targets_of("k8s-shop-web-0000000000")
        .into_iter()
        .collect();
    assert_eq!(
        registered,
        [target("10.0.1.1", 8080), other_cluster].into(),
        "our removed target goes, the other cluster's stays"
    );
}
