//! Ingress group benchmark against moto, run on demand with `cargo bench -p e2e --bench
//! ingress_group` (after the test command has prepared the moto virtualenv): one group of 50
//! Ingresses with 2 paths each (100 rules on one listener), built and deployed through the SDK
//! implementation of the Cloud port. Reported: AWS calls and wall time to create, for a re-check
//! with nothing changed, for one member changing one path, and to delete. (Between re-checks an
//! unchanged group costs no call at all: the Ingress loop skips it, see
//! `e2e/tests/e2e/ingress_controller.rs`.) Figures go to `docs/performance.md`.

use aws_load_balancer_controller::cloud::sdk::SdkCloud;
use aws_load_balancer_controller::config::ControllerConfig;
use aws_load_balancer_controller::deploy::{converge, observe_for};
use aws_load_balancer_controller::facts::CloudFacts;
use aws_load_balancer_controller::ingress::build::{build_ingress_stack, IngressBuildInput};
use aws_load_balancer_controller::ingress::class::ClassContext;
use aws_load_balancer_controller::ingress::group::{load_group, GroupId};
use aws_load_balancer_controller::model::Stack;
use aws_load_balancer_controller::observe::StackIdentity;
use e2e::moto::{create_vpc_with_subnets, MotoServer};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Instant;

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
    cloud.calls.clear();
    let started = Instant::now();
    let identity = StackIdentity::for_ingress(&config.cluster_name, "bench");
    let observed = observe_for(cloud, &identity, config, true)
        .await
        .expect("observe");
    let stack = if delete {
        Stack::empty("bench")
    } else {
        let group = load_group(&id, ingresses, &context).expect("the group loads");
        let subnets =
            aws_load_balancer_controller::cloud::Cloud::describe_subnets(cloud, &config.vpc_id)
                .await
                .expect("subnets");
        let facts = CloudFacts {
            subnets,
            ..CloudFacts::default()
        };
        let existing = observed.existing_load_balancer();
        build_ingress_stack(&IngressBuildInput {
            group_id: &id,
            members: &group.members,
            services: &services,
            config,
            facts: &facts,
            existing: existing.as_ref(),
            previous: &BTreeMap::new(),
            held_at_load: &[],
            oidc_clients: &Default::default(),
        })
        .expect("the group builds")
        .stack
    };
    converge(cloud, &stack, &observed, &identity, config)
        .await
        .expect("deploy");
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

#[tokio::main]
async fn main() {
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
