//! Scale benchmark (issue: scale), run on demand with
//! `cargo build --release --bin aws-load-balancer-controller && cargo bench -p e2e --bench scale`
//! (after the test command has prepared the moto virtualenv). Figures go to
//! `docs/performance.md`, each beside its goal.
//!
//! The release binary (`run`, every loop) against the Kubernetes API emulator and moto:
//!
//! 1. Unrelated objects: resident memory with an empty cluster, then after 10,000 Secrets,
//!    10,000 ConfigMaps and 10,000 ClusterIP Services (realistic sizes) — measured once the
//!    controller has reconciled a LoadBalancer Service created after them (its watches deliver
//!    in order, so its stores hold everything before it).
//! 2. Startup: the process restarted with all of that in the cluster; its peak resident memory
//!    while filling its stores, against its steady memory once settled.
//! 3. Kubernetes API requests per reconcile: LIST requests served while the LoadBalancer
//!    Service is edited and reconciled again.
//! 4. Ingress create → ALB: for Ingresses created one after the other (each its own ALB, two
//!    paths to two of the ClusterIP Services in ip mode), the time from the create to moto
//!    holding the ALB, its listener, both rules and both target groups (polled every 20 ms).
//! 5. Targets: 50 NLB Services (ip targets) with 1,000 ready pods each (realistic pod specs,
//!    one EndpointSlice per Service), added to the cluster of 2.; resident memory once moto
//!    holds all 50,000 targets, and how long that took.
//!
//! Not measured yet (see `docs/performance.md`): the resync of 900 Ingresses after a restart,
//! a 5,000-pod rollout.

use e2e::cluster::{create_all, TestCluster};
use e2e::moto::{create_vpc_with_subnets, registered_targets, MotoServer};
use e2e::process::{controller_binary, free_port, memory_of, write_kubeconfig, WEBHOOK_SECRET};
use e2e::workload::{realistic_pod, slice};
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

const UNRELATED: usize = 10_000;

/// About 1 KiB of text, as `kubectl apply` leaves in `last-applied-configuration`.
fn filler(index: usize) -> String {
    format!("{index:08}-").repeat(100)
}

fn secret(index: usize) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret",
           "metadata": {"name": format!("secret-{index}"), "namespace": "bench", "labels": {"app": "unrelated"}},
           "type": "Opaque", "stringData": {"password": filler(index)}, "data": {"token": "c2VjcmV0"}})
}

fn config_map(index: usize) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": format!("config-{index}"), "namespace": "bench", "labels": {"app": "unrelated"}},
           "data": {"settings.yaml": filler(index)}})
}

fn cluster_ip_service(index: usize) -> Value {
    json!({"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": format!("internal-{index}"), "namespace": "bench",
                        "labels": {"app": format!("app-{index}"), "team": "unrelated"},
                        "annotations": {"kubectl.kubernetes.io/last-applied-configuration": filler(index)}},
           "spec": {"type": "ClusterIP", "selector": {"app": format!("app-{index}")},
                    "clusterIP": format!("172.20.{}.{}", index / 250, index % 250 + 1),
                    "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"},
                              {"name": "metrics", "port": 9090, "targetPort": 9090, "protocol": "TCP"}]}})
}

const LOAD_BALANCER: &str = "edge";

fn load_balancer_service() -> Value {
    json!({"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": LOAD_BALANCER, "namespace": "bench",
                        "annotations": {"service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip"}},
           "spec": {"type": "LoadBalancer", "loadBalancerClass": "service.k8s.aws/nlb",
                    "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]}})
}

const INGRESSES: usize = 5;
const STACKS: usize = 50;
const TARGETS: usize = 1_000;

fn target_service(index: usize) -> Value {
    json!({"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": format!("svc-{index}"), "namespace": "bench",
                        "annotations": {"service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip"}},
           "spec": {"type": "LoadBalancer", "loadBalancerClass": "service.k8s.aws/nlb",
                    "selector": {"app": format!("svc-{index}")},
                    "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]}})
}

/// How many of the 50 stacks' target groups hold all their targets in moto.
async fn complete_target_groups(elbv2: &aws_sdk_elasticloadbalancingv2::Client) -> usize {
    let Ok(groups) = elbv2.describe_target_groups().send().await else {
        return 0;
    };
    let mut complete = 0;
    for group in groups.target_groups() {
        if group.target_type() != Some(&aws_sdk_elasticloadbalancingv2::types::TargetTypeEnum::Ip)
            || !group
                .target_group_name()
                .unwrap_or_default()
                .starts_with("k8s-bench-svc")
        {
            continue;
        }
        let arn = group.target_group_arn().unwrap_or_default();
        if registered_targets(elbv2, arn).await.len() == TARGETS {
            complete += 1;
        }
    }
    complete
}

fn alb_class() -> Value {
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
           "metadata": {"name": "alb"}, "spec": {"controller": "ingress.k8s.aws/alb"}})
}

fn ingress(index: usize) -> Value {
    let path = |path: &str, service: usize| {
        json!({"path": path, "pathType": "Prefix",
               "backend": {"service": {"name": format!("internal-{service}"), "port": {"number": 80}}}})
    };
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
           "metadata": {"name": format!("shop{index}"), "namespace": "bench",
                        "annotations": {"alb.ingress.kubernetes.io/target-type": "ip",
                                        "alb.ingress.kubernetes.io/scheme": "internal"}},
           "spec": {"ingressClassName": "alb", "rules": [{"http": {"paths": [
               path("/cart", 2 * index), path("/api", 2 * index + 1)]}}]}})
}

/// Waits until moto holds the ALB of Ingress `shop{index}` with its listener, both rules and both
/// target groups (up to 2 min).
async fn wait_alb(elbv2: &aws_sdk_elasticloadbalancingv2::Client, index: usize) {
    let prefix = format!("k8s-bench-shop{index}-");
    let started = Instant::now();
    loop {
        if alb_complete(elbv2, &prefix).await {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the controller builds the ALB of shop{index}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn alb_complete(elbv2: &aws_sdk_elasticloadbalancingv2::Client, prefix: &str) -> bool {
    let Ok(balancers) = elbv2.describe_load_balancers().send().await else {
        return false;
    };
    let Some(arn) = balancers
        .load_balancers()
        .iter()
        .find(|lb| {
            lb.load_balancer_name()
                .unwrap_or_default()
                .starts_with(prefix)
        })
        .and_then(|lb| lb.load_balancer_arn())
    else {
        return false;
    };
    let Ok(listeners) = elbv2
        .describe_listeners()
        .load_balancer_arn(arn)
        .send()
        .await
    else {
        return false;
    };
    let Some(listener) = listeners.listeners().first().and_then(|l| l.listener_arn()) else {
        return false;
    };
    let rules = match elbv2.describe_rules().listener_arn(listener).send().await {
        Ok(rules) => rules
            .rules()
            .iter()
            .filter(|r| r.is_default() != Some(true))
            .count(),
        Err(_) => 0,
    };
    let groups = match elbv2
        .describe_target_groups()
        .load_balancer_arn(arn)
        .send()
        .await
    {
        Ok(groups) => groups.target_groups().len(),
        Err(_) => 0,
    };
    rules == 2 && groups == 2
}

struct Controller {
    child: tokio::process::Child,
    health_port: u16,
}

impl Controller {
    fn start(binary: &Path, kubeconfig: &Path, vpc_id: &str, endpoint: &str) -> Self {
        let health_port = free_port();
        let child = tokio::process::Command::new(binary)
            .args([
                "run",
                "--cluster-name=bench",
                &format!("--aws-vpc-id={vpc_id}"),
                "--aws-region=us-west-2",
                &format!("--aws-endpoint={endpoint}"),
                "--enable-leader-election=false",
                "--metrics-bind-addr=127.0.0.1:0",
                &format!("--health-probe-bind-addr=127.0.0.1:{health_port}"),
                // The webhooks with a certificate the process makes itself, as the e2e tests run it.
                &format!("--webhook-bind-port={}", free_port()),
                &format!("--webhook-tls-secret={WEBHOOK_SECRET}"),
            ])
            .env("KUBECONFIG", kubeconfig)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("RUST_LOG", "error")
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start the controller binary");
        Self { child, health_port }
    }

    fn pid(&self) -> u32 {
        self.child.id().expect("a running controller")
    }

    async fn wait_ready(&self) -> Duration {
        let started = Instant::now();
        loop {
            let url = format!("http://127.0.0.1:{}/readyz", self.health_port);
            if reqwest::get(&url)
                .await
                .is_ok_and(|response| response.status().is_success())
            {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "the controller gets ready"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The LoadBalancer Service's hostname once the controller has reported it, waiting up to 2 min.
async fn wait_hostname(services: &Api<Service>) -> String {
    let started = Instant::now();
    loop {
        let service = services.get(LOAD_BALANCER).await.expect("the Service");
        let hostname = service
            .status
            .and_then(|status| status.load_balancer?.ingress?.into_iter().next()?.hostname);
        if let Some(hostname) = hostname {
            return hostname;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the controller reconciles the LoadBalancer Service"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::main]
async fn main() {
    let Some(binary) = controller_binary() else {
        println!("scale: skipped; build the binary first: cargo build --release --bin aws-load-balancer-controller");
        return;
    };
    let moto = MotoServer::lease().await;
    let aws = moto.clients().await;
    let (vpc_id, _) = create_vpc_with_subnets(
        &aws.ec2,
        1,
        &["us-west-2a", "us-west-2b"],
        "kubernetes.io/role/internal-elb",
    )
    .await;
    let cluster = TestCluster::start().await;
    let home = tempfile::tempdir().expect("a temporary directory");
    let kubeconfig = write_kubeconfig(home.path(), &cluster.url());
    let client = cluster.client.clone();
    create_all::<k8s_openapi::api::core::v1::Namespace>(
        &Api::all(client.clone()),
        std::iter::once(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}}),
        ),
    )
    .await;

    // 1. Unrelated objects.
    let controller = Controller::start(&binary, &kubeconfig, &vpc_id, &moto.endpoint);
    let ready_after = controller.wait_ready().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (empty_rss, _) = memory_of(controller.pid());
    let started = Instant::now();
    create_all::<Secret>(
        &Api::namespaced(client.clone(), "bench"),
        (0..UNRELATED).map(secret),
    )
    .await;
    create_all::<ConfigMap>(
        &Api::namespaced(client.clone(), "bench"),
        (0..UNRELATED).map(config_map),
    )
    .await;
    let services: Api<Service> = Api::namespaced(client.clone(), "bench");
    create_all::<Service>(&services, (0..UNRELATED).map(cluster_ip_service)).await;
    let written = started.elapsed();
    create_all::<Service>(&services, std::iter::once(load_balancer_service())).await;
    wait_hostname(&services).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (full_rss, _) = memory_of(controller.pid());
    println!(
        "unrelated objects: RSS {empty_rss} MiB with an empty cluster (ready after {:.1} s); {full_rss} MiB with 10,000 Secrets, 10,000 ConfigMaps and 10,000 ClusterIP Services (written in {:.1} s): growth {} MiB",
        ready_after.as_secs_f64(),
        written.as_secs_f64(),
        full_rss as i64 - empty_rss as i64
    );

    // 3. Requests per reconcile.
    let lists_before = cluster.lists();
    services
        .patch(
            LOAD_BALANCER,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"service.beta.kubernetes.io/aws-load-balancer-healthcheck-interval": "20"}}})),
        )
        .await
        .expect("the edit");
    let edited = Instant::now();
    loop {
        let groups = aws
            .elbv2
            .describe_target_groups()
            .send()
            .await
            .expect("moto lists target groups");
        if groups
            .target_groups()
            .iter()
            .any(|group| group.health_check_interval_seconds() == Some(20))
        {
            break;
        }
        assert!(
            edited.elapsed() < Duration::from_secs(60),
            "the edit is reconciled"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "requests per reconcile: {} LIST while an edit of the LoadBalancer Service was reconciled ({:.2} s)",
        cluster.lists() - lists_before,
        edited.elapsed().as_secs_f64()
    );

    // 4. Ingress create → ALB.
    create_all::<k8s_openapi::api::networking::v1::IngressClass>(
        &Api::all(client.clone()),
        std::iter::once(alb_class()),
    )
    .await;
    let ingresses: Api<k8s_openapi::api::networking::v1::Ingress> =
        Api::namespaced(client.clone(), "bench");
    let mut latencies = Vec::new();
    for index in 0..INGRESSES {
        let created = Instant::now();
        create_all(&ingresses, std::iter::once(ingress(index))).await;
        wait_alb(&aws.elbv2, index).await;
        latencies.push(created.elapsed());
    }
    latencies.sort();
    println!(
        "Ingress create → ALB, listener, 2 rules, 2 target groups in moto: {} Ingresses one after the other, median {:.2} s, slowest {:.2} s",
        INGRESSES,
        latencies[INGRESSES / 2].as_secs_f64(),
        latencies[INGRESSES - 1].as_secs_f64()
    );
    drop(controller);

    // 2. Startup with everything present.
    let controller = Controller::start(&binary, &kubeconfig, &vpc_id, &moto.endpoint);
    let ready_after = controller.wait_ready().await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (steady, peak) = memory_of(controller.pid());
    println!(
        "startup with the 30,001 objects and the Ingresses: ready after {:.1} s; peak RSS {peak} MiB, steady {steady} MiB: peak/steady {:.2}",
        ready_after.as_secs_f64(),
        peak as f64 / steady.max(1) as f64
    );

    // 5. 50 stacks × 1,000 targets.
    let started = Instant::now();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "bench");
    create_all(
        &pods,
        (0..STACKS)
            .flat_map(|s| (0..TARGETS).map(move |p| realistic_pod(s, p)))
            .collect::<Vec<_>>(),
    )
    .await;
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "bench");
    create_all(&slices, (0..STACKS).map(|s| slice(s, TARGETS))).await;
    create_all(&services, (0..STACKS).map(target_service)).await;
    let written = started.elapsed();
    loop {
        let complete = complete_target_groups(&aws.elbv2).await;
        if complete == STACKS {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "every target registered ({complete} of {STACKS} target groups complete)"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let registered = started.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (rss, peak) = memory_of(controller.pid());
    println!(
        "{STACKS} NLB stacks × {TARGETS} targets (beside the objects above): RSS {rss} MiB (peak {peak} MiB); pods, slices and Services written in {:.1} s, every target registered after {:.1} s",
        written.as_secs_f64(),
        registered.as_secs_f64()
    );
}
