//! The registration loop during a rollout while the Kubernetes API misbehaves (issue:
//! reliability, the Kubernetes side): the emulator drops its event log between steps (every
//! watch gets `410 Expired` and must list again), and fails the binding's next write (status
//! or finalizer) and the next event with a 500 or a 409. The rollout moves a window of ready
//! pods step by step without waiting for the loop, and changes the binding's spec halfway.
//! Afterwards the target group holds exactly the last ready pods (no registration lost, no
//! stale target) and the binding's status is current: its `Ready` condition says `Registered`
//! for the generation it last saw.

use super::{binding, parse, pods, slice, SERVICE};
use crate::waiting::{eventually, eventually_within};
use aws_load_balancer_controller::cloud::simulator::Simulator;
use aws_load_balancer_controller::cloud::Target;
use aws_load_balancer_controller::registration::networking::NetworkingSettings;
use aws_load_balancer_controller::registration::run_registration_loop;
use aws_load_balancer_controller::watched::services::WatchedServices;
use e2e::cluster::TestCluster;
use e2e::kubectl::Kubectl;
use kube_emulator::ApiError;
use std::collections::BTreeSet;
use std::time::Duration;

const PODS: usize = 12;
const WINDOW: usize = 4;
const STEPS: usize = PODS - WINDOW + 1;

fn ip(pod: usize) -> String {
    format!("10.8.0.{}", pod + 1)
}

/// The Kubernetes fault injected before step `step`.
fn inject(cluster: &TestCluster, step: usize) {
    let emulator = &cluster.server.emulator;
    let fail = |plural: &str, api_version: &str, error: ApiError| {
        emulator
            .fail_next_write(api_version, plural, error)
            .expect("the emulator serves the kind");
    };
    match step % 4 {
        0 => emulator.compact(),
        1 => fail(
            "targetgroupbindings",
            "elbv2.k8s.aws/v1beta1",
            ApiError::new(500, "InternalError", "injected"),
        ),
        2 => {
            fail(
                "targetgroupbindings",
                "elbv2.k8s.aws/v1beta1",
                ApiError::conflict("targetgroupbindings", "web"),
            );
            fail(
                "events",
                "events.k8s.io/v1",
                ApiError::new(500, "InternalError", "injected"),
            );
        }
        _ => {
            emulator.compact();
            fail(
                "targetgroupbindings",
                "elbv2.k8s.aws/v1beta1",
                ApiError::new(500, "InternalError", "injected"),
            );
        }
    }
}

#[tokio::test]
async fn a_rollout_under_kubernetes_api_faults_loses_no_registration_and_leaves_no_stale_status() {
    let cloud = Simulator::default();
    let arn = cloud.create_ip_target_group("rollout-tg").await.unwrap();
    let cluster = TestCluster::start().await;
    let kubectl = Kubectl::new(&cluster.url());
    kubectl.apply(SERVICE).await;
    let ips: Vec<String> = (0..PODS).map(ip).collect();
    let ip_refs: Vec<&str> = ips.iter().map(String::as_str).collect();
    kubectl.apply(&pods(&ip_refs)).await;
    let loop_task = tokio::spawn(run_registration_loop(
        cluster.client.clone(),
        cloud.clone(),
        NetworkingSettings::default(),
        WatchedServices::spawn(&cluster.client),
    ));
    kubectl.apply(&binding("web", &arn)).await;

    let mut ready = BTreeSet::new();
    for step in 0..STEPS {
        inject(&cluster, step);
        ready = (step..step + WINDOW).collect::<BTreeSet<_>>();
        let endpoints: Vec<(&str, bool)> = (0..PODS)
            .map(|pod| (ip_refs[pod], ready.contains(&pod)))
            .collect();
        kubectl.apply(&slice(&endpoints)).await;
        if step == STEPS / 2 {
            // A spec change: the status must end up naming this generation. A fault meant for
            // the controller may hit this write first: it is retried, as a user would.
            eventually_within("the spec change", Duration::from_secs(10), || async {
                kubectl
                    .run(&[
                        "patch",
                        "targetgroupbinding",
                        "web",
                        "--type=merge",
                        "-p",
                        r#"{"spec":{"ipAddressType":"ipv4"}}"#,
                    ])
                    .await
                    .success
                    .then_some(())
            })
            .await;
        }
        tokio::time::sleep(Duration::from_millis(50 + 40 * (step as u64 % 5))).await;
    }

    let expected: BTreeSet<Target> = ready
        .iter()
        .map(|&pod| Target {
            id: ip(pod),
            port: 8080,
        })
        .collect();
    // The usual deadline (15 s): before the watches kept their 410s to themselves, the loop
    // stalled here for 35 s, every trigger backed off together.
    eventually("the target group to hold the last ready pods", || async {
        let held: BTreeSet<Target> = cloud.targets_of("rollout-tg").into_iter().collect();
        (held == expected).then_some(())
    })
    .await;
    eventually("the binding's status to be current", || async {
        let stored = parse(
            &kubectl
                .ok(&["get", "targetgroupbinding", "web", "-o", "json"])
                .await,
        );
        let generation = stored["metadata"]["generation"].as_i64()?;
        let ready = stored["status"]["conditions"]
            .as_array()?
            .iter()
            .find(|c| c["type"] == "Ready")?
            .clone();
        (generation == 2
            && stored["status"]["observedGeneration"] == generation
            && ready["status"] == "True"
            && ready["reason"] == "Registered")
            .then_some(())
    })
    .await;
    assert!(
        cluster
            .server
            .emulator
            .requests("list", "targetgroupbindings")
            > 1,
        "the 410s made the watches list again"
    );
    loop_task.abort();
}
