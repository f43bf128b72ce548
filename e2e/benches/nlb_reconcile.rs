//! NLB reconcile benchmark against moto, run on demand with `cargo bench -p e2e` (after the test
//! command has prepared the moto virtualenv): for 1 and for 100 Services, the time and the AWS
//! calls of a create, of a drift check of an unchanged stack, and of a delete, through the SDK
//! implementation of the Cloud port. Figures go to `docs/performance.md`.

use aws_load_balancer_controller::cloud::ports::*;
use aws_load_balancer_controller::cloud::sdk::SdkCloud;
use aws_load_balancer_controller::config::ControllerConfig;
use aws_load_balancer_controller::deploy::deploy_stack;
use aws_load_balancer_controller::facts::CloudFacts;
use aws_load_balancer_controller::model::Stack;
use aws_load_balancer_controller::observe::StackIdentity;
use aws_load_balancer_controller::service::{build_service_stack, ServiceBuildInput};
use e2e::moto::{create_vpc_with_subnets, MotoServer};
use k8s_openapi::api::core::v1::Service;
use std::time::{Duration, Instant};

fn service(index: usize) -> Service {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": format!("svc-{index}"), "namespace": "bench", "uid": format!("00000000-0000-4000-8000-{index:012}")},
        "spec": {"type": "LoadBalancer", "loadBalancerClass": "service.k8s.aws/nlb", "ports": [
            {"port": 80, "targetPort": 8080, "nodePort": 30080, "protocol": "TCP"},
            {"port": 443, "targetPort": 8443, "nodePort": 30443, "protocol": "TCP"}
        ]}
    }))
    .expect("valid Service")
}

struct Round {
    times: Vec<Duration>,
    reads: usize,
    writes: usize,
}

fn summary(label: &str, count: usize, round: &Round) {
    let mut times = round.times.clone();
    times.sort();
    let p50 = times[times.len() / 2].as_secs_f64() * 1000.0;
    let max = times[times.len() - 1].as_secs_f64() * 1000.0;
    println!(
        "{count:>3} Services, {label:<12} p50 {p50:>7.1} ms  max {max:>7.1} ms  per reconcile: {:.1} reads, {:.1} writes",
        round.reads as f64 / count as f64,
        round.writes as f64 / count as f64
    );
}

async fn round(
    cloud: &SdkCloud,
    config: &ControllerConfig,
    stacks: &[(StackIdentity, Stack)],
    empty: bool,
) -> Round {
    cloud.calls.clear();
    let mut times = Vec::new();
    for (identity, stack) in stacks {
        let desired = if empty {
            Stack::empty(&stack.id)
        } else {
            stack.clone()
        };
        let started = Instant::now();
        deploy_stack(cloud, &desired, identity, config)
            .await
            .expect("deploy");
        times.push(started.elapsed());
    }
    Round {
        times,
        reads: cloud.calls.reads().len(),
        writes: cloud.calls.writes().len(),
    }
}

#[tokio::main]
async fn main() {
    for count in [1usize, 100] {
        let moto = MotoServer::lease().await;
        let aws = moto.clients().await;
        let (vpc_id, _) = create_vpc_with_subnets(
            &aws.ec2,
            0,
            &["us-west-2a", "us-west-2b"],
            "kubernetes.io/role/internal-elb",
        )
        .await;
        let cloud = moto.cloud().await;
        let config = ControllerConfig::new("bench", &vpc_id);
        let facts = CloudFacts {
            subnets: cloud.describe_subnets(&vpc_id).await.expect("subnets"),
            ..CloudFacts::default()
        };
        let stacks: Vec<(StackIdentity, Stack)> = (0..count)
            .map(|index| {
                let service = service(index);
                let input = ServiceBuildInput {
                    service: &service,
                    config: &config,
                    facts: &facts,
                    existing: None,
                };
                let stack = build_service_stack(&input).expect("build").stack;
                (StackIdentity::for_service("bench", &stack.id), stack)
            })
            .collect();
        summary(
            "create",
            count,
            &round(&cloud, &config, &stacks, false).await,
        );
        summary(
            "drift check",
            count,
            &round(&cloud, &config, &stacks, false).await,
        );
        summary(
            "delete",
            count,
            &round(&cloud, &config, &stacks, true).await,
        );
    }
}
