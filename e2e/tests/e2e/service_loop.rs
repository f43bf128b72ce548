//! The Service loop in process against the emulator and the in-memory simulator, counted in
//! Kubernetes requests: a Service edit is reconciled (AWS written, bindings converged, status
//! reported) without any LIST — the loop finds the stack's bindings in its watched store.

use crate::waiting::eventually;
use aws_load_balancer_controller::cloud::simulator::Simulator;
use aws_load_balancer_controller::config::ControllerConfig;
use aws_load_balancer_controller::controller::{run_service_controller, ServiceReconciler};
use aws_load_balancer_controller::facts::CloudFacts;
use aws_load_balancer_controller::watched::services::WatchedServices;
use e2e::cluster::TestCluster;
use e2e::kubectl::Kubectl;
use std::sync::Arc;
use std::time::Duration;

const SERVICE: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: echo\n  namespace: default\n  annotations: {service.beta.kubernetes.io/aws-load-balancer-nlb-target-type: ip}\nspec:\n  type: LoadBalancer\n  loadBalancerClass: service.k8s.aws/nlb\n  ports: [{name: http, port: 80, targetPort: 8080, protocol: TCP}]\n";

/// The Service loop against the emulator and the simulator (the example VPC's subnets).
async fn simulated_service_loop() -> (
    Simulator,
    TestCluster,
    Kubectl,
    Arc<ServiceReconciler<Simulator>>,
    tokio::task::JoinHandle<()>,
) {
    let facts_path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/aws-facts.json");
    let facts = CloudFacts::from_documents(&std::fs::read_to_string(facts_path).unwrap()).unwrap();
    let cloud = Simulator::with_subnets(facts.subnets);
    let cluster = TestCluster::start().await;
    let kubectl = Kubectl::new(&cluster.url());
    let reconciler = Arc::new(ServiceReconciler::new(
        cluster.client.clone(),
        cloud.clone(),
        ControllerConfig::new("e2e-cluster", "vpc-0example"),
        Duration::from_secs(600),
    ));
    let loop_task = tokio::spawn(run_service_controller(
        reconciler.clone(),
        WatchedServices::spawn(&cluster.client),
    ));
    (cloud, cluster, kubectl, reconciler, loop_task)
}

#[tokio::test]
async fn a_service_edit_is_reconciled_without_a_list() {
    let (cloud, cluster, kubectl, reconciler, loop_task) = simulated_service_loop().await;
    kubectl.apply(SERVICE).await;
    let first = eventually("the Service reconciled with its binding", || async {
        let bindings = kubectl
            .ok(&["get", "targetgroupbindings", "-o", "name"])
            .await;
        let done = reconciler.last_reconciled("default/echo");
        (!bindings.trim().is_empty()).then_some(done).flatten()
    })
    .await;
    let listed = cluster.lists();
    cloud.calls.clear();
    kubectl
        .ok(&[
            "annotate",
            "service",
            "echo",
            "service.beta.kubernetes.io/aws-load-balancer-healthcheck-interval=20",
        ])
        .await;
    eventually("the edit reconciled to its end", || async {
        reconciler
            .last_reconciled("default/echo")
            .filter(|at| *at > first)
            .map(|_| ())
    })
    .await;
    assert_eq!(
        cloud.calls.writes(),
        vec!["ModifyTargetGroup"],
        "the edit was applied"
    );
    assert_eq!(
        cluster.lists(),
        listed,
        "the reconcile read the bindings from the store: {:?}",
        cluster.server.emulator.request_counts()
    );
    loop_task.abort();
}

/// The Service's first status hostname (empty when none).
async fn hostname(kubectl: &Kubectl) -> String {
    kubectl
        .ok(&[
            "get",
            "service",
            "echo",
            "-o",
            "jsonpath={.status.loadBalancer.ingress[0].hostname}",
        ])
        .await
        .trim()
        .to_string()
}

/// Issue: reliability, the Kubernetes side. A scheme change replaces the load balancer while
/// the API server compacts its history (every watch gets `410 Expired`) and fails the next two
/// status writes (a 500, then a 409): the status ends with the new load balancer's hostname, never the
/// old one's.
#[tokio::test]
async fn a_replaced_load_balancer_under_kubernetes_api_faults_leaves_no_stale_hostname() {
    use kube_emulator::ApiError;
    let (cloud, cluster, kubectl, _reconciler, loop_task) = simulated_service_loop().await;
    kubectl.apply(SERVICE).await;
    let first = eventually("the internal load balancer's hostname", || async {
        let names = cloud.load_balancer_names();
        let shown = hostname(&kubectl).await;
        (names.len() == 1 && shown.starts_with(&format!("{}-", names[0]))).then(|| names[0].clone())
    })
    .await;

    let emulator = &cluster.server.emulator;
    emulator.compact();
    for error in [
        ApiError::new(500, "InternalError", "injected"),
        ApiError::conflict("services", "echo"),
    ] {
        emulator
            .fail_next_write("v1", "services/status", error)
            .unwrap();
    }

    // Only the controller writes the status: kubectl's annotate meets no fault.
    let attempts = std::sync::atomic::AtomicUsize::new(0);
    eventually("the scheme changed", || async {
        attempts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        kubectl
            .run(&[
                "annotate",
                "--overwrite",
                "service",
                "echo",
                "service.beta.kubernetes.io/aws-load-balancer-scheme=internet-facing",
            ])
            .await
            .success
            .then_some(())
    })
    .await;
    emulator.compact();
    let replaced = eventually("the new load balancer's hostname in the status", || async {
        let names = cloud.load_balancer_names();
        let shown = hostname(&kubectl).await;
        (names.len() == 1 && names[0] != first && shown.starts_with(&format!("{}-", names[0])))
            .then(|| names[0].clone())
    })
    .await;
    let condition = kubectl
        .ok(&[
            "get",
            "service",
            "echo",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"service.k8s.aws/Reconciled\")].status}",
        ])
        .await;
    assert_eq!(condition.trim(), "True", "reconciled, on {replaced}");
    assert_eq!(attempts.into_inner(), 1, "kubectl writes no status");
    assert_eq!(
        emulator.pending_failures(),
        0,
        "the controller met both failed status writes"
    );
    loop_task.abort();
}
