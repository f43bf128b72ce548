//! The controller binary as it runs in a cluster: two processes (upstream's flags only, as the
//! Helm chart renders them) against one emulator + moto. Exactly one leads and reconciles; the
//! standby is ready and makes no AWS call; SIGKILL of the leader hands over within the lease
//! duration, and the new leader converges without re-creating anything or deregistering a
//! target; `/metrics` counts the AWS calls; SIGTERM exits 0 and releases the Lease. With region
//! and VPC given, instance metadata is never contacted (a listener posing as it counts
//! connections). Without `--aws-vpc-id`, the VPC is found by `--aws-vpc-tags` (metadata not
//! asked), and tags matching no VPC fail the start. Every replica serves the webhooks: the standby, with the certificate the
//! processes keep in a Secret and publish as the `caBundle`, injects a readiness gate into a pod
//! the emulator admits through it.

use crate::waiting::eventually_within;
use e2e::cluster::TestCluster;
use e2e::kubectl::Kubectl;
use e2e::moto::{
    create_ip_target_group, create_vpc_with_subnets, registered_targets, MotoServer, REGION,
};
use e2e::process::{
    controller_binary, lease_holder, series, write_kubeconfig, ControllerEnvironment,
    ControllerProcess, WEBHOOK_SECRET,
};
use e2e::samples::ip_nlb_service_with_pod;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The pod webhook as the chart renders it (a `service` client: the emulator routes it).
const POD_WEBHOOK: &str = r#"
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: aws-load-balancer-webhook}
webhooks:
- name: mpod.elbv2.k8s.aws
  admissionReviewVersions: [v1]
  sideEffects: None
  failurePolicy: Ignore
  timeoutSeconds: 5
  clientConfig:
    service: {name: aws-load-balancer-webhook-service, namespace: default, path: /mutate-v1-pod}
  namespaceSelector:
    matchExpressions:
    - {key: elbv2.k8s.aws/pod-readiness-gate-inject, operator: In, values: [enabled]}
  rules:
  - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}
"#;

fn gated_binding(arn: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: gated, namespace: default}}\nspec:\n  selector: {{app: gated}}\n  ports: [{{port: 80, targetPort: 8080}}]\n---\napiVersion: elbv2.k8s.aws/v1beta1\nkind: TargetGroupBinding\nmetadata: {{name: gated, namespace: default}}\nspec:\n  targetGroupARN: \"{arn}\"\n  targetType: ip\n  serviceRef: {{name: gated, port: 80}}\n"
    )
}

/// A loopback listener posing as instance metadata, counting the connections it gets.
async fn metadata_trap() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback listener");
    let address = listener.local_addr().expect("its address");
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    (format!("http://{address}"), connections)
}

#[tokio::test]
async fn one_leader_works_a_standby_takes_over_and_sigterm_releases_the_lease() {
    let moto = MotoServer::lease().await;
    let aws = moto.clients().await;
    let (vpc_id, _) = create_vpc_with_subnets(
        &aws.ec2,
        61,
        &["us-west-2a", "us-west-2b"],
        "kubernetes.io/role/internal-elb",
    )
    .await;
    let cluster = TestCluster::start().await;
    let kubectl = Kubectl::new(&cluster.url());
    let directory = tempfile::tempdir().expect("a temporary directory");
    let kubeconfig = write_kubeconfig(directory.path(), &cluster.url());
    let (metadata, metadata_connections) = metadata_trap().await;
    let binary = controller_binary()
        .expect("the controller binary: build every target first (e2e/run-tests does)");
    let setup = ControllerEnvironment {
        binary: &binary,
        kubeconfig: &kubeconfig,
        aws_endpoint: &moto.endpoint,
        region: REGION,
        vpc_id: &vpc_id,
        environment: vec![("AWS_EC2_METADATA_SERVICE_ENDPOINT", metadata)],
        arguments: Vec::new(),
    };
    let client = &cluster.client;
    kubectl
        .apply(&ip_nlb_service_with_pod("echo", "10.61.0.10"))
        .await;
    let gated_target_group = create_ip_target_group(&aws.elbv2, "gated", &vpc_id).await;
    kubectl.apply(POD_WEBHOOK).await;
    kubectl
        .ok(&[
            "label",
            "namespace",
            "default",
            "elbv2.k8s.aws/pod-readiness-gate-inject=enabled",
        ])
        .await;

    let mut leader = ControllerProcess::start("replica-a", &setup);
    eventually_within("replica-a to lead", Duration::from_secs(30), || async {
        lease_holder(client)
            .await
            .starts_with("replica-a_")
            .then_some(())
    })
    .await;
    eventually_within(
        "the leader ready (its three loops' caches filled)",
        Duration::from_secs(30),
        || async { leader.is_ready().await.then_some(()) },
    )
    .await;
    let mut standby = ControllerProcess::start("replica-b", &setup);
    eventually_within(
        "the standby to be ready",
        Duration::from_secs(30),
        || async { standby.is_ready().await.then_some(()) },
    )
    .await;
    assert_eq!(
        leader.get(false, "/healthz").await.map(|(s, _)| s),
        Some(200)
    );
    // Each process lists Services once: its loops and webhooks share one watch.
    assert_eq!(
        cluster.server.emulator.requests("list", "services"),
        2,
        "{:?}",
        cluster.server.emulator.request_counts()
    );

    // The standby serves the webhooks with the certificate the processes keep and publish.
    cluster.server.emulator.route_service(
        "default",
        "aws-load-balancer-webhook-service",
        std::net::SocketAddr::from(([127, 0, 0, 1], standby.webhook_port)),
    );
    kubectl.apply(&gated_binding(&gated_target_group)).await;
    let ca = kubectl
        .ok(&[
            "get",
            "secret",
            WEBHOOK_SECRET,
            "-o",
            "jsonpath={.data.ca\\.crt}",
        ])
        .await;
    assert!(!ca.trim().is_empty(), "the managed Secret holds the CA");
    eventually_within(
        "the caBundle published",
        Duration::from_secs(30),
        || async {
            let bundle = kubectl
                .ok(&[
                    "get",
                    "mutatingwebhookconfiguration",
                    "aws-load-balancer-webhook",
                    "-o",
                    "jsonpath={.webhooks[0].clientConfig.caBundle}",
                ])
                .await;
            (bundle.trim() == ca.trim()).then_some(())
        },
    )
    .await;
    let attempts = AtomicUsize::new(0);
    eventually_within("a pod admitted with its gate", Duration::from_secs(30), || async {
        let pod = format!("gated-{}", attempts.fetch_add(1, Ordering::SeqCst));
        kubectl
            .apply(&format!(
                "apiVersion: v1\nkind: Pod\nmetadata: {{name: {pod}, namespace: default, labels: {{app: gated}}}}\nspec:\n  containers: [{{name: app, image: web}}]\n"
            ))
            .await;
        let gates = kubectl
            .ok(&["get", "pod", &pod, "-o", "jsonpath={.spec.readinessGates[*].conditionType}"])
            .await;
        (gates.trim() == "target-health.elbv2.k8s.aws/gated").then_some(())
    })
    .await;

    // The leader builds the NLB and registers the pod.
    let target_group =
        eventually_within("the target registered", Duration::from_secs(60), || async {
            let groups = aws.elbv2.describe_target_groups().send().await.ok()?;
            // The controller's own target group, not the one made for the gated binding.
            let arn = groups
                .target_groups()
                .iter()
                .filter_map(|group| group.target_group_arn())
                .find(|arn| *arn != gated_target_group)?
                .to_string();
            let targets = registered_targets(&aws.elbv2, &arn).await;
            targets.contains("10.61.0.10:8080").then_some(arn)
        })
        .await;
    let leader_metrics = leader.metrics().await;
    assert_eq!(
        series(
            &leader_metrics,
            &[
                "aws_api_calls_total{",
                "operation=\"CreateLoadBalancer\"",
                "status_code=\"200\""
            ]
        ),
        Some(1.0),
        "{leader_metrics}"
    );
    assert!(series(&leader_metrics, &["aws_api_call_duration_seconds_count{"]).is_some());
    let standby_metrics = standby.metrics().await;
    assert!(
        !standby_metrics.contains("aws_api_calls_total{"),
        "the standby made AWS calls: {standby_metrics}"
    );

    // SIGKILL the leader: the standby takes over within the lease duration (15 s from the last
    // renewal) plus its half retry period.
    leader.child.kill().await.expect("SIGKILL the leader");
    let killed = Instant::now();
    eventually_within("replica-b to lead", Duration::from_secs(30), || async {
        lease_holder(client)
            .await
            .starts_with("replica-b_")
            .then_some(())
    })
    .await;
    let handover = killed.elapsed();
    eprintln!("handover after SIGKILL: {handover:?}");
    assert!(
        handover <= Duration::from_secs(16),
        "handover took {handover:?}"
    );

    // The new leader reconciles the Service and the binding, and changes nothing.
    let new_leader_metrics = eventually_within(
        "the new leader's reconciles",
        Duration::from_secs(30),
        || async {
            let text = standby.metrics().await;
            let service = series(
                &text,
                &[
                    "controller_runtime_reconcile_total{",
                    "controller=\"service\"",
                    "result=\"success\"",
                ],
            );
            let binding = series(
                &text,
                &[
                    "controller_runtime_reconcile_total{",
                    "controller=\"targetGroupBinding\"",
                    "result=\"success\"",
                ],
            );
            (service.is_some() && binding.is_some()).then_some(text)
        },
    )
    .await;
    for write in [
        "CreateLoadBalancer",
        "CreateTargetGroup",
        "CreateListener",
        "DeregisterTargets",
    ] {
        assert!(
            series(
                &new_leader_metrics,
                &["aws_api_calls_total{", &format!("operation=\"{write}\"")]
            )
            .is_none(),
            "the new leader called {write}: {new_leader_metrics}"
        );
    }
    let load_balancers = aws
        .elbv2
        .describe_load_balancers()
        .send()
        .await
        .expect("moto lists load balancers");
    assert_eq!(load_balancers.load_balancers().len(), 1, "no duplicate");
    assert!(registered_targets(&aws.elbv2, &target_group)
        .await
        .contains("10.61.0.10:8080"));

    // SIGTERM: exit 0, Lease released.
    let pid = standby.child.id().expect("the new leader's pid");
    let signalled = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("send SIGTERM");
    assert!(signalled.success());
    let status = tokio::time::timeout(Duration::from_secs(15), standby.child.wait())
        .await
        .expect("the process exits after SIGTERM")
        .expect("its exit status");
    assert_eq!(status.code(), Some(0));
    assert_eq!(lease_holder(client).await, "", "the Lease is released");
    assert_eq!(
        metadata_connections.load(Ordering::SeqCst),
        0,
        "instance metadata was contacted although region and VPC were given"
    );
}

#[tokio::test]
async fn without_a_vpc_id_the_vpc_is_found_by_its_tags_or_the_start_fails() {
    let moto = MotoServer::lease().await;
    let aws = moto.clients().await;
    let (vpc_id, _) =
        create_vpc_with_subnets(&aws.ec2, 62, &["us-west-2a"], "kubernetes.io/role/elb").await;
    aws.ec2
        .create_tags()
        .resources(&vpc_id)
        .tags(
            aws_sdk_ec2::types::Tag::builder()
                .key("team")
                .value("e2e-vpc-tags")
                .build(),
        )
        .send()
        .await
        .expect("moto tags the VPC");
    let cluster = TestCluster::start().await;
    let directory = tempfile::tempdir().expect("a temporary directory");
    let kubeconfig = write_kubeconfig(directory.path(), &cluster.url());
    let (metadata, metadata_connections) = metadata_trap().await;
    let binary = controller_binary()
        .expect("the controller binary: build every target first (e2e/run-tests does)");
    let environment = |tags: &str| ControllerEnvironment {
        binary: &binary,
        kubeconfig: &kubeconfig,
        aws_endpoint: &moto.endpoint,
        region: REGION,
        vpc_id: "",
        environment: vec![("AWS_EC2_METADATA_SERVICE_ENDPOINT", metadata.clone())],
        arguments: vec![
            format!("--aws-vpc-tags={tags}"),
            "--enable-leader-election=false".to_string(),
        ],
    };
    let found = ControllerProcess::start("by-tags", &environment("team=e2e-vpc-tags"));
    eventually_within(
        "ready with the VPC found by its tags",
        Duration::from_secs(30),
        || async { found.is_ready().await.then_some(()) },
    )
    .await;
    assert_eq!(
        metadata_connections.load(Ordering::SeqCst),
        0,
        "the tags found the VPC: instance metadata was not asked"
    );
    let mut missing = ControllerProcess::start("no-such-vpc", &environment("team=nobody"));
    let status = tokio::time::timeout(Duration::from_secs(30), missing.child.wait())
        .await
        .expect("the start fails instead of running without a VPC")
        .expect("its exit status");
    assert_ne!(status.code(), Some(0));
}
