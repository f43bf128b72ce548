//! The registration loop end to end: a TargetGroupBinding made with kubectl for a target group
//! created directly in moto gets the ready endpoints of its Service as targets; EndpointSlice
//! changes written with kubectl are followed; deleting the binding deregisters its targets and
//! removes its finalizer; a binding for a missing target group gets a Warning event.

use crate::waiting::eventually;
use aws_load_balancer_controller::registration::cache::ClusterCache;
use aws_load_balancer_controller::registration::networking::NetworkingSettings;
use aws_load_balancer_controller::registration::{run_registration_loop, BindingReconciler};
use aws_load_balancer_controller::watched::services::WatchedServices;
use e2e::cluster::TestCluster;
use e2e::kubectl::Kubectl;
use e2e::moto::{create_ip_target_group, create_vpc_with_subnets, registered_targets, MotoServer};
use serde_json::Value;
use std::collections::BTreeSet;

mod kubernetes_faults;
mod readiness_gates;

pub(super) fn slice(endpoints: &[(&str, bool)]) -> String {
    let endpoints: String = endpoints
        .iter()
        .map(|(ip, ready)| format!("  - addresses: [\"{ip}\"]\n    conditions: {{ready: {ready}}}\n    targetRef: {{kind: Pod, name: pod-{ip}}}\n"))
        .collect();
    format!(
        "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: web-abc\n  namespace: default\n  labels: {{kubernetes.io/service-name: web}}\naddressType: IPv4\nports:\n  - {{name: http, port: 8080, protocol: TCP}}\nendpoints:\n{endpoints}"
    )
}

/// The pods behind `slice`'s endpoints (the loop registers only endpoints of pods it knows).
pub(super) fn pods(ips: &[&str]) -> String {
    ips.iter()
        .map(|ip| format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: pod-{ip}, namespace: default}}\nspec:\n  containers: [{{name: app, image: web}}]\n"))
        .collect::<Vec<_>>()
        .join("---\n")
}

pub(super) const SERVICE: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default}\nspec:\n  ports: [{name: http, port: 80, targetPort: 8080, protocol: TCP}]\n";

pub(super) fn binding(name: &str, arn: &str) -> String {
    format!(
        "apiVersion: elbv2.k8s.aws/v1beta1\nkind: TargetGroupBinding\nmetadata: {{name: {name}, namespace: default}}\nspec:\n  targetGroupARN: \"{arn}\"\n  targetType: ip\n  serviceRef: {{name: web, port: 80}}\n"
    )
}

pub(super) fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("kubectl printed no JSON ({e}): {text}"))
}

#[tokio::test]
async fn a_binding_follows_its_endpoints_and_deregisters_on_delete() {
    let moto = MotoServer::lease().await;
    let aws = moto.clients().await;
    let (vpc_id, _) =
        create_vpc_with_subnets(&aws.ec2, 3, &["us-west-2a"], "kubernetes.io/role/elb").await;
    let arn = create_ip_target_group(&aws.elbv2, "made-by-terraform", &vpc_id).await;
    let cluster = TestCluster::start().await;
    let kubectl = Kubectl::new(&cluster.url());
    let cloud = moto.cloud().await;
    let loop_task = tokio::spawn(run_registration_loop(
        cluster.client.clone(),
        cloud,
        NetworkingSettings::default(),
        WatchedServices::spawn(&cluster.client),
    ));

    kubectl.apply(SERVICE).await;
    kubectl
        .apply(&pods(&["10.3.0.1", "10.3.0.2", "10.3.0.3"]))
        .await;
    kubectl
        .apply(&slice(&[("10.3.0.1", true), ("10.3.0.2", true)]))
        .await;
    kubectl.apply(&binding("web", &arn)).await;
    let first = BTreeSet::from(["10.3.0.1:8080".to_string(), "10.3.0.2:8080".to_string()]);
    eventually("the endpoints registered in moto", || async {
        (registered_targets(&aws.elbv2, &arn).await == first).then_some(())
    })
    .await;
    let stored = parse(
        &kubectl
            .ok(&["get", "targetgroupbinding", "web", "-o", "json"])
            .await,
    );
    assert_eq!(
        stored["metadata"]["finalizers"],
        serde_json::json!(["elbv2.k8s.aws/resources"])
    );
    assert_eq!(stored["status"]["observedGeneration"], 1);

    kubectl
        .apply(&slice(&[
            ("10.3.0.1", false),
            ("10.3.0.2", true),
            ("10.3.0.3", true),
        ]))
        .await;
    let second = BTreeSet::from(["10.3.0.2:8080".to_string(), "10.3.0.3:8080".to_string()]);
    eventually("the targets to follow the slice", || async {
        (registered_targets(&aws.elbv2, &arn).await == second).then_some(())
    })
    .await;

    kubectl
        .ok(&["delete", "targetgroupbinding", "web", "--timeout=30s"])
        .await;
    assert!(
        registered_targets(&aws.elbv2, &arn).await.is_empty(),
        "deleting the binding deregisters its targets first"
    );

    kubectl
        .apply(&binding(
            "lost",
            "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/gone/0000000000000000",
        ))
        .await;
    eventually("a Warning for the missing target group", || async {
        let events = parse(&kubectl.run(&["get", "events", "-o", "json"]).await.stdout);
        events["items"]
            .as_array()?
            .iter()
            .any(|e| {
                e["involvedObject"]["name"] == "lost"
                    && e["reason"] == "TargetGroupNotFound"
                    && e["type"] == "Warning"
            })
            .then_some(())
    })
    .await;
    // A binding whose target group never existed still deletes: its release finds nothing to
    // deregister and lets the finalizer go.
    kubectl
        .ok(&["delete", "targetgroupbinding", "lost", "--timeout=30s"])
        .await;
    loop_task.abort();
}

#[tokio::test]
async fn bad_bindings_get_a_warning_and_a_condition_and_no_doomed_call() {
    use aws_load_balancer_controller::cloud::ports::*;
    use aws_load_balancer_controller::cloud::simulator::Simulator;
    use aws_load_balancer_controller::cloud::TargetGroupInput;
    use aws_load_balancer_controller::crd::target_group_binding::TargetGroupBinding;
    use aws_load_balancer_controller::model::{HealthCheck, Protocol, Tags, TargetType};
    use kube::api::Api;
    let cloud = Simulator::default();
    let group = |name: &str, target_type| TargetGroupInput {
        name: name.into(),
        target_type,
        protocol: Protocol::Tcp,
        protocol_version: None,
        target_control_port: None,
        port: 8080,
        ip_address_type: "ipv4".into(),
        vpc_id: "vpc-1".into(),
        health_check: HealthCheck::nlb_default(),
        tags: Tags::new(),
    };
    let instance_arn = cloud
        .create_target_group(&group("instance-tg", TargetType::Instance))
        .await
        .unwrap()
        .arn;
    let ip_arn = cloud
        .create_target_group(&group("ip-tg", TargetType::Ip))
        .await
        .unwrap()
        .arn;
    let cluster = TestCluster::start().await;
    let kubectl = Kubectl::new(&cluster.url());
    kubectl.apply(SERVICE).await;
    kubectl.apply(&pods(&["10.4.0.1", "10.4.0.2"])).await;
    kubectl
        .apply(&slice(&[("10.4.0.1", true), ("10.4.0.2", true)]))
        .await;
    kubectl.apply(&binding("wrong-type", &instance_arn)).await;
    kubectl
        .apply(&binding("no-port", &ip_arn).replace("port: 80}", "port: 443}"))
        .await;
    kubectl.apply(&binding("good", &ip_arn)).await;
    let reconciler = BindingReconciler::new(
        cluster.client.clone(),
        cloud,
        ClusterCache::spawn(&cluster.client),
        NetworkingSettings::default(),
    );
    let bindings: Api<TargetGroupBinding> = Api::namespaced(cluster.client.clone(), "default");

    let ready_condition = |name: &'static str| {
        let kubectl = &kubectl;
        async move {
            let stored = parse(
                &kubectl
                    .ok(&["get", "targetgroupbinding", name, "-o", "json"])
                    .await,
            );
            let conditions = stored["status"]["conditions"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            conditions
                .into_iter()
                .find(|c| c["type"] == "Ready")
                .unwrap_or(Value::Null)
        }
    };

    reconciler.cloud.calls.clear();
    reconciler
        .apply(&bindings.get("wrong-type").await.unwrap())
        .await
        .unwrap();
    assert!(
        reconciler.cloud.calls.writes().is_empty(),
        "no Register for a target group of the other type"
    );
    let wrong = ready_condition("wrong-type").await;
    assert_eq!(
        (wrong["status"].as_str(), wrong["reason"].as_str()),
        (Some("False"), Some("InvalidTargetGroupBinding"))
    );

    reconciler
        .apply(&bindings.get("no-port").await.unwrap())
        .await
        .unwrap();
    assert!(
        !reconciler.cloud.calls.writes().contains(&"RegisterTargets"),
        "nothing to register for a missing port"
    );
    let missing = ready_condition("no-port").await;
    assert_eq!(
        (missing["status"].as_str(), missing["reason"].as_str()),
        (Some("False"), Some("BackendNotFound"))
    );

    // Through the loop's entry: the first reconcile only adds the finalizer (no AWS call), the
    // one its patch wakes registers.
    reconciler.cloud.calls.clear();
    reconciler
        .reconcile(std::sync::Arc::new(bindings.get("good").await.unwrap()))
        .await
        .unwrap();
    let fresh = bindings.get("good").await.unwrap();
    assert_eq!(
        fresh.metadata.finalizers,
        Some(vec!["elbv2.k8s.aws/resources".to_string()])
    );
    assert!(
        reconciler.cloud.calls.calls().is_empty(),
        "no AWS call before the finalizer"
    );
    reconciler
        .reconcile(std::sync::Arc::new(fresh))
        .await
        .unwrap();
    assert_eq!(
        reconciler.cloud.targets_of("ip-tg").len(),
        2,
        "the good binding is unaffected by the bad ones"
    );
    let good = ready_condition("good").await;
    assert_eq!(
        (good["status"].as_str(), good["reason"].as_str()),
        (Some("True"), Some("Registered"))
    );
    let events = parse(&kubectl.ok(&["get", "events", "-o", "json"]).await);
    let reasons: BTreeSet<(String, String)> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["involvedObject"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                e["reason"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert!(
        reasons.contains(&("wrong-type".into(), "InvalidTargetGroupBinding".into())),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&("no-port".into(), "BackendNotFound".into())),
        "{reasons:?}"
    );
}

#[tokio::test]
async fn an_instance_binding_registers_the_nodes_holding_ready_endpoints_under_local_policy() {
    use aws_load_balancer_controller::cloud::ports::*;
    use aws_load_balancer_controller::cloud::simulator::Simulator;
    use aws_load_balancer_controller::cloud::{Target, TargetGroupInput};
    use aws_load_balancer_controller::crd::target_group_binding::TargetGroupBinding;
    use aws_load_balancer_controller::model::{HealthCheck, Protocol, Tags, TargetType};
    use kube::api::Api;
    let cloud = Simulator::default();
    let input = TargetGroupInput {
        name: "nodes-tg".into(),
        target_type: TargetType::Instance,
        protocol: Protocol::Tcp,
        protocol_version: None,
        target_control_port: None,
        port: 30080,
        ip_address_type: "ipv4".into(),
        vpc_id: "vpc-1".into(),
        health_check: HealthCheck::nlb_default(),
        tags: Tags::new(),
    };
    let arn = cloud.create_target_group(&input).await.unwrap().arn;
    let cluster = TestCluster::start().await;
    for index in 1..=4 {
        let node = serde_json::json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": format!("n{index}")},
            "spec": {"providerID": format!("aws:///us-west-2a/i-000{index}")},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}
        });
        cluster.server.emulator.seed(node).unwrap();
    }
    let kubectl = Kubectl::new(&cluster.url());
    kubectl
        .apply(
            "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default}\n\
             spec:\n  type: LoadBalancer\n  externalTrafficPolicy: Local\n  ports: [{name: http, port: 80, targetPort: 8080, nodePort: 30080, protocol: TCP}]\n",
        )
        .await;
    kubectl
        .apply(
            "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: web-abc, namespace: default, labels: {kubernetes.io/service-name: web}}\n\
             addressType: IPv4\nports: [{name: http, port: 8080, protocol: TCP}]\nendpoints:\n\
             \x20 - {addresses: [10.5.0.1], conditions: {ready: true}, nodeName: n2, targetRef: {kind: Pod, name: a}}\n\
             \x20 - {addresses: [10.5.0.2], conditions: {ready: true}, nodeName: n4, targetRef: {kind: Pod, name: b}}\n",
        )
        .await;
    kubectl
        .apply(&binding("nodes", &arn).replace("targetType: ip", "targetType: instance"))
        .await;
    let reconciler = BindingReconciler::new(
        cluster.client.clone(),
        cloud,
        ClusterCache::spawn(&cluster.client),
        NetworkingSettings::default(),
    );
    let bindings: Api<TargetGroupBinding> = Api::namespaced(cluster.client.clone(), "default");
    reconciler
        .apply(&bindings.get("nodes").await.unwrap())
        .await
        .unwrap();
    let expected = vec![
        Target {
            id: "i-0002".into(),
            port: 30080,
        },
        Target {
            id: "i-0004".into(),
            port: 30080,
        },
    ];
    assert_eq!(reconciler.cloud.targets_of("nodes-tg"), expected);
}

#[tokio::test]
async fn a_binding_that_cannot_serve_does_not_hold_back_the_removal_of_stale_rules() {
    use aws_load_balancer_controller::cloud::simulator::Simulator;
    use aws_load_balancer_controller::cloud::NetworkInterface;
    use aws_load_balancer_controller::crd::target_group_binding::TargetGroupBinding;
    use aws_load_balancer_controller::model::Tags;
    use aws_load_balancer_controller::target_rules::{
        ObservedPermission, Permission, RuleSource, MANAGED_RULE_DESCRIPTION,
    };
    use kube::api::Api;
    let cloud = Simulator::default();
    let cluster_tag: Tags = [(
        "kubernetes.io/cluster/e2e-cluster".to_string(),
        "owned".to_string(),
    )]
    .into();
    let nodes = cloud.add_security_group("vpc-1", "eks-nodes", &cluster_tag);
    let backend = cloud.add_security_group("vpc-1", "backend", &Tags::new());
    cloud.add_interface(NetworkInterface {
        id: "eni-n1".into(),
        instance_id: Some("i-0001".into()),
        device_index: Some(0),
        private_ips: vec!["10.4.0.9".into(), "10.4.0.1".into()],
        security_groups: vec![nodes.clone()],
        ..NetworkInterface::default()
    });
    let from_backend = |port| Permission {
        protocol: "tcp".into(),
        from_port: port,
        to_port: port,
        source: RuleSource::SecurityGroup(backend.clone()),
    };
    // A rule of ours left from before the restart that no binding wants any more.
    cloud.add_foreign_permission(&nodes, from_backend(9000), Some(MANAGED_RULE_DESCRIPTION));
    let ip_arn = cloud.create_ip_target_group("ip-tg").await.unwrap();
    let cluster = TestCluster::start().await;
    cluster
        .server
        .emulator
        .seed(serde_json::json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": "n1"},
            "spec": {"providerID": "aws:///us-west-2a/i-0001"},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}
        }))
        .unwrap();
    let kubectl = Kubectl::new(&cluster.url());
    kubectl.apply(SERVICE).await;
    kubectl
        .apply("apiVersion: v1\nkind: Pod\nmetadata: {name: pod-10.4.0.1, namespace: default}\nspec:\n  nodeName: n1\n  containers: [{name: app, image: web}]\n")
        .await;
    kubectl.apply(&slice(&[("10.4.0.1", true)])).await;
    let networking = format!(
        "  networking:\n    ingress:\n      - from: [{{securityGroup: {{groupID: {backend}}}}}]\n        ports: [{{protocol: TCP, port: 8080}}]\n"
    );
    let missing_arn = ip_arn.replace("ip-tg", "gone-tg");
    kubectl
        .apply(&(binding("broken", &missing_arn) + &networking))
        .await;
    kubectl
        .apply(&(binding("good", &ip_arn) + &networking))
        .await;
    let reconciler = BindingReconciler::new(
        cluster.client.clone(),
        cloud.clone(),
        ClusterCache::spawn(&cluster.client),
        NetworkingSettings {
            cluster_name: "e2e-cluster".into(),
            vpc_id: "vpc-1".into(),
            restricted: true,
            required_tags: Default::default(),
        },
    );
    let bindings: Api<TargetGroupBinding> = Api::namespaced(cluster.client.clone(), "default");
    reconciler
        .apply(&bindings.get("broken").await.unwrap())
        .await
        .unwrap();
    reconciler
        .apply(&bindings.get("good").await.unwrap())
        .await
        .unwrap();
    assert_eq!(cloud.targets_of("ip-tg").len(), 1, "the good binding ran");
    assert_eq!(
        cloud.permissions(&nodes),
        vec![ObservedPermission {
            permission: from_backend(8080),
            description: Some(MANAGED_RULE_DESCRIPTION.into()),
        }],
        "the good binding's rule is there and the stale one is gone, the broken binding notwithstanding"
    );
}
