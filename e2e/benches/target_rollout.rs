//! Target registration benchmark against the Kubernetes API emulator and moto, run on demand with
//! `cargo build --release --bin aws-load-balancer-controller && cargo bench -p e2e --bench
//! target_rollout` (after the test command has prepared the moto virtualenv). Figures go to
//! `docs/performance.md`.
//!
//! 1. Rollout: 1,000 pods behind 10 Services, each with a TargetGroupBinding for its own target
//!    group in moto. The EndpointSlices grow by 10 ready pods per Service every 100 ms, so 100
//!    slice updates bring all 1,000 pods up in one second. For each update: the time from the
//!    slice write to the RegisterTargets call that carries its pods (p50/p99/max), and the
//!    Register/Deregister calls per target group. The registration loop runs in process, with
//!    the SDK implementation of the Cloud port, once under upstream's default client-side AWS
//!    budget and once without one.
//! 2. Memory: the release binary (`run`) against the same emulator, first with an empty cluster,
//!    then with 10,000 pods (realistic specs and statuses), 100 Services with their
//!    EndpointSlices and 50 nodes; its resident memory (VmRSS, VmHWM) once it has registered the
//!    targets of a binding (so every cache is filled).

use aws_load_balancer_controller::aws_clients::load_sdk_config;
use aws_load_balancer_controller::cloud::sdk::SdkCloud;
use aws_load_balancer_controller::cloud::throttle::{rules_with_overrides, ThrottleRule};
use aws_load_balancer_controller::crd::target_group_binding::TargetGroupBinding;
use aws_load_balancer_controller::registration::run_registration_loop;
use aws_load_balancer_controller::watched::services::WatchedServices;
use e2e::cluster::{create_all, TestCluster};
use e2e::moto::{
    create_ip_target_group, create_vpc_with_subnets, registered_targets, MotoLease, MotoServer,
};
use e2e::process::{controller_binary, memory_of, write_kubeconfig};
use e2e::workload::{realistic_pod, slice};

use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const SERVICES: usize = 10;
const PODS_PER_SERVICE: usize = 100;
const STEP: usize = 10;

fn service(index: usize) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": format!("svc-{index}"), "namespace": "bench"},
        "spec": {"selector": {"app": format!("svc-{index}")}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}
    })
}

fn binding(index: usize, arn: &str) -> Value {
    json!({
        "apiVersion": "elbv2.k8s.aws/v1beta1", "kind": "TargetGroupBinding",
        "metadata": {"name": format!("svc-{index}"), "namespace": "bench"},
        "spec": {"targetGroupARN": arn, "targetType": "ip", "serviceRef": {"name": format!("svc-{index}"), "port": 80}}
    })
}

async fn apply_slice(api: &Api<EndpointSlice>, service: usize, ready: usize) {
    let object = slice(service, ready);
    api.patch(
        &format!("svc-{service}-abcde"),
        &PatchParams::apply("bench").force(),
        &Patch::Apply(object),
    )
    .await
    .expect("the emulator takes the slice");
}

fn percentile(sorted: &[Duration], fraction: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

async fn rollout_round(moto: &MotoLease, budget: &str, throttle: Vec<ThrottleRule>) {
    let aws = moto.clients().await;
    let (vpc_id, _) =
        create_vpc_with_subnets(&aws.ec2, 1, &["us-west-2a"], "kubernetes.io/role/elb").await;
    let mut arns = Vec::new();
    for index in 0..SERVICES {
        arns.push(create_ip_target_group(&aws.elbv2, &format!("roll-{index}"), &vpc_id).await);
    }
    let cluster = TestCluster::start().await;
    let client = cluster.client.clone();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "bench");
    let services: Api<Service> = Api::namespaced(client.clone(), "bench");
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "bench");
    let bindings: Api<TargetGroupBinding> = Api::namespaced(client.clone(), "bench");
    create_all(
        &pods,
        (0..SERVICES)
            .flat_map(|s| (0..PODS_PER_SERVICE).map(move |p| realistic_pod(s, p)))
            .collect::<Vec<_>>(),
    )
    .await;
    create_all(&services, (0..SERVICES).map(service)).await;
    for index in 0..SERVICES {
        apply_slice(&slices, index, 0).await;
    }
    let cloud = SdkCloud::with_throttle(&load_sdk_config(&moto.settings()).await, throttle);
    let loop_task = tokio::spawn(run_registration_loop(
        client.clone(),
        cloud.clone(),
        Default::default(),
        WatchedServices::spawn(&client),
    ));
    create_all(
        &bindings,
        arns.iter()
            .enumerate()
            .map(|(i, arn)| binding(i, arn))
            .collect::<Vec<_>>(),
    )
    .await;
    // Every binding reconciled once (finalizer set, nothing to register yet).
    loop {
        let listed = bindings
            .list(&Default::default())
            .await
            .expect("list bindings");
        if listed
            .items
            .iter()
            .all(|b| !b.metadata.finalizers.clone().unwrap_or_default().is_empty())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    cloud.calls.clear();

    let started = Instant::now();
    let mut updates = Vec::new();
    for step in 1..=PODS_PER_SERVICE / STEP {
        for (index, arn) in arns.iter().enumerate() {
            let written = Instant::now();
            apply_slice(&slices, index, step * STEP).await;
            updates.push((arn.clone(), step * STEP, written));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for arn in &arns {
        while registered_targets(&aws.elbv2, arn).await.len() < PODS_PER_SERVICE {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let converged = started.elapsed();
    let calls = cloud.calls.calls();
    let mut latencies = Vec::new();
    for (arn, wanted, written) in &updates {
        let mut registered = 0;
        let call = calls
            .iter()
            .filter(|c| c.operation == "RegisterTargets" && c.resource.as_deref() == Some(arn))
            .find(|c| {
                registered += c.items;
                registered >= *wanted
            })
            .expect("a Register call carries every update");
        latencies.push(call.at.saturating_duration_since(*written));
    }
    latencies.sort();
    let count = |operation: &str| calls.iter().filter(|c| c.operation == operation).count();
    let max_per_group = |operation: &str| {
        arns.iter()
            .map(|arn| {
                calls
                    .iter()
                    .filter(|c| c.operation == operation && c.resource.as_deref() == Some(arn))
                    .count()
            })
            .max()
            .unwrap_or(0)
    };
    println!("{budget}:");
    println!(
        "  rollout: {} pods, {SERVICES} target groups, {} slice updates ({} per group) in {:.2} s; all registered after {:.2} s",
        SERVICES * PODS_PER_SERVICE,
        updates.len(),
        updates.len() / SERVICES,
        updates.last().map(|u| u.2.duration_since(started)).unwrap_or_default().as_secs_f64(),
        converged.as_secs_f64()
    );
    println!(
        "  slice update -> RegisterTargets: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0)
    );
    println!(
        "  calls: RegisterTargets {} (max {} per group for {} updates), DeregisterTargets {}, DescribeTargetHealth {}",
        count("RegisterTargets"),
        max_per_group("RegisterTargets"),
        updates.len() / SERVICES,
        count("DeregisterTargets"),
        count("DescribeTargetHealth")
    );
    loop_task.abort();
}

async fn memory_round(moto: &MotoLease) {
    let Some(binary) = controller_binary() else {
        println!("memory: skipped; build the binary first: cargo build --release --bin aws-load-balancer-controller");
        return;
    };
    let aws = moto.clients().await;
    let (vpc_id, _) =
        create_vpc_with_subnets(&aws.ec2, 1, &["us-west-2a"], "kubernetes.io/role/elb").await;
    let arn = create_ip_target_group(&aws.elbv2, "memory", &vpc_id).await;
    let cluster = TestCluster::start().await;
    let home = tempfile::tempdir().expect("a temporary directory");
    let kubeconfig = write_kubeconfig(home.path(), &cluster.url());
    let mut controller = tokio::process::Command::new(&binary)
        .args([
            "run",
            "--cluster-name",
            "bench",
            "--aws-vpc-id",
            &vpc_id,
            "--aws-region",
            "us-west-2",
            "--metrics-bind-addr=127.0.0.1:0",
            "--health-probe-bind-addr=127.0.0.1:0",
        ])
        .arg(format!(
            "--aws-endpoint={}",
            moto.settings().endpoint.unwrap_or_default()
        ))
        .env("KUBECONFIG", &kubeconfig)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the controller binary");
    let pid = controller.id().expect("a running controller");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (empty_rss, _) = memory_of(pid);

    let client = cluster.client.clone();
    let started = Instant::now();
    let nodes: Api<Node> = Api::all(client.clone());
    create_all(
        &nodes,
        (0..50)
            .map(|n| json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": format!("node-{n}"), "labels": {"topology.kubernetes.io/zone": "us-west-2a"}},
                            "spec": {"providerID": format!("aws:///us-west-2a/i-{n:017x}")},
                            "status": {"conditions": [{"type": "Ready", "status": "True"}]}}))
            .collect::<Vec<_>>(),
    )
    .await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "bench");
    create_all(
        &pods,
        (0..100)
            .flat_map(|s| (0..100).map(move |p| realistic_pod(s, p)))
            .collect::<Vec<_>>(),
    )
    .await;
    let services: Api<Service> = Api::namespaced(client.clone(), "bench");
    create_all(&services, (0..100).map(service)).await;
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "bench");
    for index in 0..100 {
        apply_slice(&slices, index, 100).await;
    }
    let bindings: Api<TargetGroupBinding> = Api::namespaced(client.clone(), "bench");
    create_all(&bindings, vec![binding(99, &arn)]).await;
    while registered_targets(&aws.elbv2, &arn).await.len() < 100 {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the controller registers the binding's targets"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (full_rss, peak) = memory_of(pid);
    println!(
        "memory: controller binary (release) RSS {empty_rss} MiB with an empty cluster; {full_rss} MiB (peak {peak} MiB) with 10,000 pods, 100 Services + slices, 50 nodes"
    );
    let _ = controller.kill().await;
}

#[tokio::main]
async fn main() {
    let moto = MotoServer::lease().await;
    rollout_round(
        &moto,
        "upstream's default client-side AWS budget (RegisterTargets 4/s, burst 20)",
        rules_with_overrides(&[]),
    )
    .await;
    moto.reset().await;
    let unlimited = ThrottleRule::parse("Elastic Load Balancing v2:.*=1000:1000")
        .expect("a valid throttle rule");
    rollout_round(
        &moto,
        "no client-side budget (the loop's own latency)",
        rules_with_overrides(&[unlimited]),
    )
    .await;
    moto.reset().await;
    memory_round(&moto).await;
}
