//! The Service loop in process against the emulator and the in-memory simulator, counted in
//! Kubernetes requests: a Service edit is reconciled (AWS written, bindings converged, status
//! reported) without any LIST — the loop finds the stack's bindings in its watched store.

use crate::waiting::eventually;
use aws_load_balancer_controller::cloud::simulator::Simulator;
use aws_load_balancer_controller::config::ControllerConfig;
use aws_load_balancer_controller::controller::{run_service_controller, ServiceReconciler};
use aws_load_balancer_controller::facts::CloudFacts;
use e2e::cluster::TestCluster;
use e2e::kubectl::Kubectl;
use std::sync::Arc;
use std::time::Duration;

const SERVICE: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: echo\n  namespace: default\n  annotations: {service.beta.kubernetes.io/aws-load-balancer-nlb-target-type: ip}\nspec:\n  type: LoadBalancer\n  loadBalancerClass: service.k8s.aws/nlb\n  ports: [{name: http, port: 80, targetPort: 8080, protocol: TCP}]\n";

#[tokio::test]
async fn a_service_edit_is_reconciled_without_a_list() {
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
    let loop_task = tokio::spawn(run_service_controller(reconciler.clone()));
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
