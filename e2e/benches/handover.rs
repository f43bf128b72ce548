//! Leader handover benchmark, run on demand with `cargo build --release --bin
//! aws-load-balancer-controller && cargo bench -p e2e --bench handover` (after the test command
//! has prepared the moto virtualenv). Figures go to `docs/performance.md`.
//!
//! 20 NLB Services in ip mode, each with one ready pod, against the emulator and moto. The
//! release binary leads (Lease), builds the 20 NLBs and registers the 20 pods; its memory is
//! read. Then three rounds: a standby starts, the leader is SIGKILLed, and the bench measures
//! the handover (kill → the standby holds the Lease), the time until the new leader has
//! reconciled every Service and binding, and the AWS writes it made (none are needed: a handover
//! must re-create nothing and deregister nothing).

use e2e::cluster::TestCluster;
use e2e::kubectl::Kubectl;
use e2e::moto::{create_vpc_with_subnets, registered_targets, MotoServer, REGION};
use e2e::process::{
    controller_binary, lease_holder, series, write_kubeconfig, ControllerEnvironment,
    ControllerProcess,
};
use e2e::samples::ip_nlb_service_with_pod;
use std::time::{Duration, Instant};

const SERVICES: usize = 20;
const ROUNDS: usize = 3;

/// AWS writes in a `/metrics` text: every `aws_api_calls_total` series whose operation is not a
/// read.
fn writes(metrics: &str) -> u64 {
    metrics
        .lines()
        .filter(|line| line.starts_with("aws_api_calls_total{"))
        .filter(|line| {
            let operation = line
                .split("operation=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or_default();
            !["Describe", "Get", "List"]
                .iter()
                .any(|read| operation.starts_with(read))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|count| count as u64)
        .sum()
}

fn reconciled(metrics: &str, controller: &str) -> f64 {
    series(
        metrics,
        &[
            "controller_runtime_reconcile_total{",
            &format!("controller=\"{controller}\""),
            "result=\"success\"",
        ],
    )
    .unwrap_or(0.0)
}

async fn wait_until<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::main]
async fn main() {
    let Some(binary) = controller_binary() else {
        println!("skipped: build the binary first: cargo build --release --bin aws-load-balancer-controller");
        return;
    };
    let moto = MotoServer::lease().await;
    let aws = moto.clients().await;
    let (vpc_id, _) = create_vpc_with_subnets(
        &aws.ec2,
        62,
        &["us-west-2a", "us-west-2b"],
        "kubernetes.io/role/internal-elb",
    )
    .await;
    let cluster = TestCluster::start().await;
    let kubectl = Kubectl::new(&cluster.url());
    let all: Vec<String> = (0..SERVICES)
        .map(|i| ip_nlb_service_with_pod(&format!("echo-{i}"), &format!("10.62.0.{}", i + 10)))
        .collect();
    kubectl.apply(&all.join("---\n")).await;
    let directory = tempfile::tempdir().expect("a temporary directory");
    let kubeconfig = write_kubeconfig(directory.path(), &cluster.url());
    let environment = ControllerEnvironment {
        binary: &binary,
        kubeconfig: &kubeconfig,
        aws_endpoint: &moto.endpoint,
        region: REGION,
        vpc_id: &vpc_id,
        environment: Vec::new(),
        arguments: Vec::new(),
    };

    let started = Instant::now();
    let mut leader = ControllerProcess::start("replica-0", &environment);
    wait_until(
        "all targets registered",
        Duration::from_secs(300),
        || async {
            let Ok(groups) = aws.elbv2.describe_target_groups().send().await else {
                return false;
            };
            if groups.target_groups().len() < SERVICES {
                return false;
            }
            for group in groups.target_groups() {
                let arn = group.target_group_arn().unwrap_or_default();
                if registered_targets(&aws.elbv2, arn).await.is_empty() {
                    return false;
                }
            }
            true
        },
    )
    .await;
    let (rss, peak) = leader.memory_mib();
    println!(
        "first leader: {SERVICES} NLBs built and {SERVICES} pods registered in {:.1} s, {} AWS writes; RSS {rss} MiB (peak {peak} MiB)",
        started.elapsed().as_secs_f64(),
        writes(&leader.metrics().await)
    );

    let mut handovers = Vec::new();
    for round in 1..=ROUNDS {
        let name = format!("replica-{round}");
        let standby = ControllerProcess::start(&name, &environment);
        wait_until("the standby ready", Duration::from_secs(30), || async {
            standby.is_ready().await
        })
        .await;
        let (standby_rss, _) = standby.memory_mib();
        leader.child.kill().await.expect("SIGKILL the leader");
        let killed = Instant::now();
        let prefix = format!("{name}_");
        wait_until("the standby to lead", Duration::from_secs(60), || async {
            lease_holder(&cluster.client).await.starts_with(&prefix)
        })
        .await;
        let handover = killed.elapsed();
        wait_until(
            "the new leader's reconciles",
            Duration::from_secs(120),
            || async {
                let text = standby.metrics().await;
                reconciled(&text, "service") >= SERVICES as f64
                    && reconciled(&text, "targetGroupBinding") >= SERVICES as f64
            },
        )
        .await;
        let converged = killed.elapsed();
        let text = standby.metrics().await;
        let load_balancers = aws
            .elbv2
            .describe_load_balancers()
            .send()
            .await
            .map(|output| output.load_balancers().len())
            .unwrap_or_default();
        let (rss, peak) = standby.memory_mib();
        println!(
            "round {round}: handover {:.2} s after SIGKILL, every Service and binding reconciled {:.2} s after it, {} AWS writes by the new leader, {load_balancers} NLBs in moto; standby RSS {standby_rss} MiB, new leader RSS {rss} MiB (peak {peak} MiB)",
            handover.as_secs_f64(),
            converged.as_secs_f64(),
            writes(&text)
        );
        handovers.push(handover.as_secs_f64());
        leader = standby;
    }
    handovers.sort_by(f64::total_cmp);
    println!(
        "handover: min {:.2} s, median {:.2} s, max {:.2} s over {ROUNDS} rounds (lease 15 s, standby look every 1 s)",
        handovers[0],
        handovers[handovers.len() / 2],
        handovers[handovers.len() - 1]
    );
    let _ = leader.child.kill().await;
}
