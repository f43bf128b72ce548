//! Ingress group benchmark against moto, run on demand with `cargo bench -p e2e --bench
//! ingress_group` (after the test command has prepared the moto virtualenv): one group of 50
//! Ingresses with 2 paths each (100 rules on one listener), run through the Ingress loop's
//! pipeline (`pipeline::ingress::run_group`: observe, discover, build, plan, apply) over the SDK
//! implementation of the Cloud port. Reported: AWS calls and wall time to create, for a re-check
//! with nothing changed, for one member changing one path, and to delete. (Between re-checks an
//! unchanged group costs no call at all: the Ingress loop skips it, see
//! `e2e/tests/e2e/ingress_simulated.rs`.) First, the same group in the Ingress loop against the
//! Kubernetes API emulator and the simulator: its Kubernetes requests by verb at start, for one
//! member's edit and for an edit of the Service every member names. Figures go to
//! `docs/performance.md`.

use aws_load_balancer_controller::cloud::sdk::SdkCloud;
use aws_load_balancer_controller::config::ControllerConfig;
use aws_load_balancer_controller::ingress::class::ClassContext;
use aws_load_balancer_controller::ingress::group::{load_group, GroupId};
use aws_load_balancer_controller::pipeline::ingress::{run_group, GroupOutcome, GroupRun};
use aws_load_balancer_controller::pipeline::{NoCluster, Online};
use aws_load_balancer_controller::watched::services::WatchedServices;
use e2e::cluster::TestCluster;
use e2e::moto::{create_vpc_with_subnets, MotoServer};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

const MEMBERS: usize = 50;

fn member(index: usize, second_path: &str) -> Ingress {
    serde_json::from_value(json!({
        "metadata": {"namespace": "bench", "name": format!("app-{index:02}"), "annotations": {
            "alb.ingress.kubernetes.io/group.name": "bench",
            "alb.ingress.kubernetes.io/group.order": index.to_string(),
            "alb.ingress.kubernetes.io/scheme": "internet-facing",
        }},
        "spec": {"ingressClassName": "alb", "rules": [{"host": format!("app{index:02}.example.com"), "http": {"paths": [
            {"path": "/api", "pathType": "Prefix", "backend": {"service": {"name": "app", "port": {"number": 80}}}},
            {"path": second_path, "pathType": "Exact", "backend": {"service": {"name": "app", "port": {"number": 80}}}}
        ]}}]}
    }))
    .expect("a valid Ingress")
}

struct Round {
    label: &'static str,
    millis: f64,
    reads: usize,
    writes: BTreeMap<&'static str, usize>,
}

async fn round(
    label: &'static str,
    cloud: &SdkCloud,
    config: &ControllerConfig,
    ingresses: &[Ingress],
    delete: bool,
) -> Round {
    let id = GroupId::Explicit("bench".into());
    let classes: Vec<IngressClass> = vec![serde_json::from_value(
        json!({"metadata": {"name": "alb"}, "spec": {"controller": "ingress.k8s.aws/alb"}}),
    )
    .expect("a valid class")];
    let namespaces = BTreeMap::new();
    let context = ClassContext {
        ingress_class_flag: "alb",
        classes: &classes,
        params: &[],
        namespace_labels: &namespaces,
    };
    let services: Vec<Service> = vec![serde_json::from_value(json!({
        "metadata": {"namespace": "bench", "name": "app", "uid": "00000000-0000-4000-8000-000000000001"},
        "spec": {"type": "NodePort", "ports": [{"port": 80, "targetPort": 8080, "nodePort": 30080}]}
    }))
    .expect("a valid Service")];
    let members: &[Ingress] = if delete { &[] } else { ingresses };
    let group = load_group(&id, members, &context).expect("the group loads");
    let oidc_clients = Default::default();
    let run = GroupRun {
        id: &id,
        group: &group,
        services: &services,
        oidc_clients: &oidc_clients,
        previous: &BTreeMap::new(),
    };
    cloud.calls.clear();
    let started = Instant::now();
    let aws = Online { cloud, config };
    match run_group(&aws, &NoCluster, &run, SystemTime::now())
        .await
        .expect("the run reaches the build")
    {
        GroupOutcome::Built(built) => {
            built.deployed.expect("deploy");
        }
        GroupOutcome::Unbuildable(problem) => panic!("the group does not build: {problem}"),
    }
    let millis = started.elapsed().as_secs_f64() * 1000.0;
    let mut writes = BTreeMap::new();
    for operation in cloud.calls.writes() {
        *writes.entry(operation).or_insert(0) += 1;
    }
    Round {
        label,
        millis,
        reads: cloud.calls.reads().len(),
        writes,
    }
}

/// Every request the emulator served since `before` was taken, by verb.
fn requests_since(
    before: &BTreeMap<(String, String), u64>,
    cluster: &TestCluster,
) -> BTreeMap<String, u64> {
    let mut by_verb = BTreeMap::new();
    for ((verb, plural), count) in cluster.server.emulator.request_counts() {
        let earlier = before.get(&(verb.clone(), plural)).copied().unwrap_or(0);
        if count > earlier {
            *by_verb.entry(verb).or_insert(0) += count - earlier;
        }
    }
    by_verb
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + std::time::Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The Ingress loop in process against the emulator and the simulator: the Kubernetes requests
/// of its start, of one member's edit and of an edit of the Service all members name.
async fn kubernetes_requests() {
    use aws_load_balancer_controller::cloud::simulator::Simulator;
    use aws_load_balancer_controller::controller::ingress::{
        run_ingress_controller, IngressReconciler,
    };
    use aws_load_balancer_controller::facts::CloudFacts;
    use kube::api::{Api, Patch, PatchParams, PostParams};
    let facts_path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/aws-facts.json");
    let facts = CloudFacts::from_documents(&std::fs::read_to_string(facts_path).expect("facts"))
        .expect("valid facts");
    let cloud = Simulator::with_subnets(facts.subnets);
    let cluster = TestCluster::start().await;
    let client = cluster.client.clone();
    let classes: Api<IngressClass> = Api::all(client.clone());
    let class = serde_json::from_value(
        json!({"metadata": {"name": "alb"}, "spec": {"controller": "ingress.k8s.aws/alb"}}),
    )
    .expect("a valid class");
    classes
        .create(&PostParams::default(), &class)
        .await
        .expect("class");
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let namespace = serde_json::from_value(json!({"metadata": {"name": "bench"}})).expect("ns");
    namespaces
        .create(&PostParams::default(), &namespace)
        .await
        .expect("namespace");
    let services: Api<Service> = Api::namespaced(client.clone(), "bench");
    let service = serde_json::from_value(json!({
        "metadata": {"namespace": "bench", "name": "app"},
        "spec": {"type": "NodePort", "ports": [{"port": 80, "targetPort": 8080, "nodePort": 30080}]}
    }))
    .expect("a valid Service");
    services
        .create(&PostParams::default(), &service)
        .await
        .expect("Service");
    let ingresses: Api<Ingress> = Api::namespaced(client.clone(), "bench");
    for index in 0..MEMBERS {
        ingresses
            .create(&PostParams::default(), &member(index, "/healthz"))
            .await
            .expect("Ingress");
    }
    let before = cluster.server.emulator.request_counts();
    let reconciler = Arc::new(IngressReconciler::new(
        client.clone(),
        cloud.clone(),
        ControllerConfig::new("bench", "vpc-0example"),
        "alb",
    ));
    let started = Instant::now();
    let task = tokio::spawn(run_ingress_controller(
        reconciler.clone(),
        WatchedServices::spawn(&cluster.client),
    ));
    wait_for("the group deployed", || {
        cloud.rule_paths().len() == 2 * MEMBERS
    })
    .await;
    let id = GroupId::Explicit("bench".into());
    wait_for("every member read", || {
        reconciler.read_versions(&id).len() == MEMBERS + 1
    })
    .await;
    let start_millis = started.elapsed().as_secs_f64() * 1000.0;
    // Let the reconciles the controller's own writes (finalizers, statuses) cause settle.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let start = requests_since(&before, &cluster);

    let before = cluster.server.emulator.request_counts();
    cloud.calls.clear();
    let patch = json!({"spec": {"rules": [{"host": "app25.example.com", "http": {"paths": [
        {"path": "/api", "pathType": "Prefix", "backend": {"service": {"name": "app", "port": {"number": 80}}}},
        {"path": "/healthy", "pathType": "Exact", "backend": {"service": {"name": "app", "port": {"number": 80}}}}
    ]}}]}});
    ingresses
        .patch("app-25", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("edit one member");
    wait_for("the path modified", || {
        cloud.calls.writes().contains(&"ModifyRule")
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let member_edit = requests_since(&before, &cluster);

    let before = cluster.server.emulator.request_counts();
    cloud.calls.clear();
    let annotate = json!({"metadata": {"annotations": {"alb.ingress.kubernetes.io/healthcheck-path": "/ready"}}});
    services
        .patch("app", &PatchParams::default(), &Patch::Merge(&annotate))
        .await
        .expect("edit the Service");
    wait_for("every target group modified", || {
        cloud.calls.writes() == vec!["ModifyTargetGroup"; MEMBERS]
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let service_edit = requests_since(&before, &cluster);
    task.abort();
    println!("Kubernetes API requests of the Ingress loop ({MEMBERS} members of one group, emulator + simulator):");
    println!("  start (6 watches, first reconcile done in {start_millis:.0} ms) {start:?}");
    println!("  one member edited (1 PATCH is ours)            {member_edit:?}");
    println!("  the Service all members name edited (1 PATCH is ours) {service_edit:?}");
}

#[tokio::main]
async fn main() {
    kubernetes_requests().await;
    let moto = MotoServer::lease().await;
    let aws = moto.clients().await;
    let (vpc_id, _) = create_vpc_with_subnets(
        &aws.ec2,
        3,
        &["us-west-2a", "us-west-2b"],
        "kubernetes.io/role/elb",
    )
    .await;
    let cloud = moto.cloud().await;
    let config = ControllerConfig::new("bench", &vpc_id);
    let members: Vec<Ingress> = (0..MEMBERS).map(|i| member(i, "/healthz")).collect();
    let mut changed = members.clone();
    changed[25] = member(25, "/healthy");
    let rounds = [
        round("create", &cloud, &config, &members, false).await,
        round(
            "re-check, nothing changed",
            &cloud,
            &config,
            &members,
            false,
        )
        .await,
        round(
            "one member changes one path",
            &cloud,
            &config,
            &changed,
            false,
        )
        .await,
        round("delete", &cloud, &config, &changed, true).await,
    ];
    println!(
        "{MEMBERS} Ingresses × 2 paths in one group ({} rules), moto:",
        MEMBERS * 2
    );
    for r in rounds {
        let total: usize = r.writes.values().sum();
        println!(
            "  {:<30} {:>8.0} ms  reads {:>3}  writes {:>3} {:?}",
            r.label, r.millis, r.reads, total, r.writes
        );
    }
}
