//! Readiness gates end to end: a pod's gate condition follows its target's health in the
//! simulator, True only once the target is healthy.

use super::{binding, parse, slice, SERVICE};
use crate::waiting::eventually;
use aws_load_balancer_controller::registration::networking::NetworkingSettings;
use aws_load_balancer_controller::registration::run_registration_loop;
use aws_load_balancer_controller::watched::services::WatchedServices;
use e2e::cluster::TestCluster;
use e2e::kubectl::Kubectl;

#[tokio::test]
async fn a_readiness_gate_turns_true_only_once_the_target_is_healthy() {
    use aws_load_balancer_controller::cloud::simulator::Simulator;
    use aws_load_balancer_controller::cloud::{Target, TargetState};
    let cloud = Simulator::default();
    let arn = cloud.create_ip_target_group("gated-tg").await.unwrap();
    let cluster = TestCluster::start().await;
    let kubectl = Kubectl::new(&cluster.url());
    kubectl.apply(SERVICE).await;
    kubectl
        .apply(
            "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n---\n\
             apiVersion: v1\nkind: Pod\nmetadata: {name: pod-10.6.0.1, namespace: default}\n\
             spec:\n  nodeName: n1\n  containers: [{name: app, image: web}]\n  readinessGates: [{conditionType: target-health.elbv2.k8s.aws/gated}]\n",
        )
        .await;
    kubectl
        .ok(&[
            "patch",
            "node",
            "n1",
            "--subresource=status",
            "--type=merge",
            "-p",
            r#"{"status":{"conditions":[{"type":"Ready","status":"True"}]}}"#,
        ])
        .await;
    kubectl
        .ok(&["patch", "pod", "pod-10.6.0.1", "--subresource=status", "--type=merge", "-p",
              r#"{"status":{"conditions":[{"type":"ContainersReady","status":"True"},{"type":"Ready","status":"False"}]}}"#])
        .await;
    // The pod is not Ready (its gate is not passed), so its endpoint is not ready either.
    kubectl
        .apply(&slice(&[("10.6.0.1", false)]).replace(
            "targetRef: {kind: Pod",
            "nodeName: n1\n    targetRef: {kind: Pod",
        ))
        .await;
    let loop_task = tokio::spawn(run_registration_loop(
        cluster.client.clone(),
        cloud.clone(),
        NetworkingSettings::default(),
        WatchedServices::spawn(&cluster.client),
    ));
    kubectl.apply(&binding("gated", &arn)).await;

    let gate = || async {
        let pod = parse(
            &kubectl
                .ok(&["get", "pod", "pod-10.6.0.1", "-o", "json"])
                .await,
        );
        pod["status"]["conditions"]
            .as_array()?
            .iter()
            .find(|c| c["type"] == "target-health.elbv2.k8s.aws/gated")
            .map(|c| {
                (
                    c["status"].as_str().unwrap_or_default().to_string(),
                    c["reason"].as_str().unwrap_or_default().to_string(),
                )
            })
    };
    eventually("the gated pod registered while its gate holds", || async {
        (cloud.targets_of("gated-tg")
            == [Target {
                id: "10.6.0.1".into(),
                port: 8080,
            }])
        .then_some(())
    })
    .await;
    eventually("the gate to report the initial health check", || async {
        (gate().await? == ("False".to_string(), "Elb.InitialHealthChecking".to_string()))
            .then_some(())
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(
        gate().await.map(|g| g.0),
        Some("False".to_string()),
        "not True before healthy"
    );

    cloud.set_target_health("gated-tg", TargetState::Healthy);
    eventually("the gate to turn True once AWS reports healthy", || async {
        (gate().await?.0 == "True").then_some(())
    })
    .await;
    let metrics = aws_load_balancer_controller::metrics::metrics();
    let latency = metrics
        .readiness_gate_ready_seconds
        .with_label_values(&["default", "gated"]);
    assert_eq!(
        latency.get_sample_count(),
        1,
        "the False → True latency observed once"
    );
    let tail = arn.rsplit(':').next().unwrap_or_default();
    let series = format!(
        "aws_target_group_info{{namespace=\"default\",service=\"web\",target_group=\"{tail}\"}} 1"
    );
    assert!(metrics.render().contains(&series), "{series} not exported");
    let polls_before = cloud.calls.count("DescribeTargetHealth");
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert!(
        cloud.calls.count("DescribeTargetHealth") <= polls_before + 1,
        "polling stops once every gated target is healthy"
    );

    cloud.set_target_health("gated-tg", TargetState::Unhealthy);
    kubectl
        .ok(&["annotate", "targetgroupbinding", "gated", "touched=1"])
        .await;
    eventually(
        "the gate to turn False when the target turns unhealthy",
        || async {
            (gate().await? == ("False".to_string(), "Target.FailedHealthChecks".to_string()))
                .then_some(())
        },
    )
    .await;

    kubectl
        .ok(&["delete", "targetgroupbinding", "gated", "--timeout=30s"])
        .await;
    assert_eq!(
        gate().await.map(|g| g.0),
        Some("True".to_string()),
        "a deleted binding lets its pods through"
    );
    assert!(cloud.targets_of("gated-tg").is_empty());
    loop_task.abort();
}
