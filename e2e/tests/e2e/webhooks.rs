//! The admission webhooks end to end: the controller's webhook server (in-process, with the
//! controller-managed certificate written to a Secret and its CA published into the webhook
//! configurations) called by the emulator the way the API server calls it, with kubectl as the
//! client. A pod in an opted-in namespace gets its readiness gate; a bad Ingress is refused at
//! `kubectl apply` with the annotation named; with the server gone, a pod is still created
//! (`failurePolicy: Ignore`) while an Ingress is not (`Fail`), and once the registration loop
//! runs, the pod admitted without its gate is reported on its binding.

use super::waiting::eventually;
use aws_load_balancer_controller::cloud::simulator::Simulator;
use aws_load_balancer_controller::registration::networking::NetworkingSettings;
use aws_load_balancer_controller::registration::run_registration_loop;
use aws_load_balancer_controller::watched::services::WatchedServices;
use aws_load_balancer_controller::webhook::caches::WebhookCaches;
use aws_load_balancer_controller::webhook::certificates::{ManagedCertificate, ServingCertificate};
use aws_load_balancer_controller::webhook::server::{router, serve, Admission};
use aws_load_balancer_controller::webhook::WebhookSettings;
use e2e::cluster::TestCluster;
use e2e::kubectl::Kubectl;
use e2e::moto::{create_ip_target_group, create_vpc_with_subnets, MotoServer};
use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use kube::Api;
use std::sync::Arc;

fn configurations(port: u16) -> String {
    let webhook = |name: &str,
                   path: &str,
                   resource: &str,
                   group: &str,
                   policy: &str,
                   selector: &str| {
        format!(
            "- name: {name}\n  admissionReviewVersions: [v1]\n  sideEffects: None\n  failurePolicy: {policy}\n  timeoutSeconds: 5\n  clientConfig:\n    url: https://localhost:{port}{path}\n  rules:\n  - apiGroups: [\"{group}\"]\n    apiVersions: [v1]\n    operations: [CREATE, UPDATE]\n    resources: [{resource}]\n{selector}"
        )
    };
    let pod_selector = "  namespaceSelector:\n    matchExpressions:\n    - {key: elbv2.k8s.aws/pod-readiness-gate-inject, operator: In, values: [enabled]}\n";
    format!(
        "apiVersion: admissionregistration.k8s.io/v1\nkind: MutatingWebhookConfiguration\nmetadata:\n  name: aws-load-balancer-webhook\nwebhooks:\n{}---\napiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\nmetadata:\n  name: aws-load-balancer-webhook\nwebhooks:\n{}",
        webhook("mpod.elbv2.k8s.aws", "/mutate-v1-pod", "pods", "", "Ignore", pod_selector),
        webhook("vingress.elbv2.k8s.aws", "/validate-networking-v1-ingress", "ingresses", "networking.k8s.io", "Fail", ""),
    )
}

fn workload(target_group_arn: &str) -> String {
    WORKLOAD.replace("TARGET_GROUP_ARN", target_group_arn)
}

const SLICE: &str = "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: web-abc\n  namespace: shop\n  labels: {kubernetes.io/service-name: web}\naddressType: IPv4\nports: [{port: 8080, protocol: TCP}]\nendpoints:\n- addresses: [\"10.0.1.1\"]\n  conditions: {ready: true}\n  targetRef: {kind: Pod, name: web-1}\n- addresses: [\"10.0.1.2\"]\n  conditions: {ready: true}\n  targetRef: {kind: Pod, name: web-2}\n";

const WORKLOAD: &str = r#"
apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {elbv2.k8s.aws/pod-readiness-gate-inject: enabled}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: elbv2.k8s.aws/v1beta1
kind: TargetGroupBinding
metadata: {name: web-tgb, namespace: shop}
spec:
  targetGroupARN: "TARGET_GROUP_ARN"
  targetType: ip
  serviceRef: {name: web, port: 80}
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: alb}
spec: {controller: ingress.k8s.aws/alb}
"#;

fn pod(name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: shop, labels: {{app: web}}}}\nspec:\n  containers: [{{name: app, image: nginx}}]\n"
    )
}

fn ingress(scheme: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web\n  namespace: shop\n  annotations: {{alb.ingress.kubernetes.io/scheme: {scheme}}}\nspec:\n  ingressClassName: alb\n  rules:\n  - http:\n      paths:\n      - {{path: /, pathType: Prefix, backend: {{service: {{name: web, port: {{number: 80}}}}}}}}\n"
    )
}

#[tokio::test]
async fn the_emulator_calls_the_webhooks_and_a_stopped_server_never_blocks_pods() {
    let moto = MotoServer::lease().await;
    let aws = moto.clients().await;
    let (vpc_id, _) =
        create_vpc_with_subnets(&aws.ec2, 1, &["us-west-2a"], "kubernetes.io/role/elb").await;
    let arn = create_ip_target_group(&aws.elbv2, "web", &vpc_id).await;
    let cluster = TestCluster::start().await;
    let kubectl = Kubectl::new(&cluster.url());
    kubectl.apply(&workload(&arn)).await;
    let caches = WebhookCaches::spawn(&cluster.client, WatchedServices::spawn(&cluster.client));
    caches
        .wait_until_ready()
        .await
        .expect("webhook caches fill");
    let port = e2e::process::free_port();
    kubectl.apply(&configurations(port)).await;

    // The managed certificate: written to its Secret, its CA published to both configurations.
    let managed = ManagedCertificate {
        namespace: "default".into(),
        secret_name: "aws-load-balancer-webhook-tls".into(),
        dns_names: vec!["localhost".into()],
        configuration_name: "aws-load-balancer-webhook".into(),
    };
    let material = managed
        .ensure(&cluster.client)
        .await
        .expect("certificate written");
    let again = managed
        .ensure(&cluster.client)
        .await
        .expect("certificate read back");
    assert_eq!(
        again, material,
        "a second replica adopts the Secret's certificate"
    );
    assert_eq!(
        managed
            .publish_ca(&cluster.client, &material.authority.cert_pem)
            .await
            .unwrap(),
        2,
        "both webhooks get the caBundle"
    );
    let mutating: Api<MutatingWebhookConfiguration> = Api::all(cluster.client.clone());
    let published = mutating.get("aws-load-balancer-webhook").await.unwrap();
    let webhooks = published.webhooks.unwrap_or_default();
    assert_eq!(
        webhooks[0]
            .client_config
            .ca_bundle
            .as_ref()
            .map(|b| b.0.clone()),
        Some(material.authority.cert_pem.clone().into_bytes())
    );
    assert_eq!(
        managed
            .publish_ca(&cluster.client, &material.authority.cert_pem)
            .await
            .unwrap(),
        0,
        "already published"
    );

    let serving = ServingCertificate::default();
    serving
        .load(
            material.serving.cert_pem.as_bytes(),
            material.serving.key_pem.as_bytes(),
        )
        .unwrap();
    let admission = Arc::new(Admission {
        caches,
        settings: WebhookSettings {
            inject_readiness_gates: true,
            load_balancer_class: "service.k8s.aws/nlb".into(),
            ingress_class: "alb".into(),
        },
        cloud: Simulator::default(),
    });
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let (_, server) = serve(address, serving, router(admission))
        .await
        .expect("webhook server");

    kubectl.apply(&pod("web-1")).await;
    let gates = kubectl
        .ok(&[
            "get",
            "pod",
            "web-1",
            "-n",
            "shop",
            "-o",
            "jsonpath={.spec.readinessGates[*].conditionType}",
        ])
        .await;
    assert_eq!(gates.trim(), "target-health.elbv2.k8s.aws/web-tgb");

    let refused = kubectl
        .run_with_input(
            &["apply", "--validate=false", "-f", "-"],
            Some(&ingress("sideways")),
        )
        .await;
    assert!(!refused.success, "a bad scheme is refused at apply");
    assert!(
        refused.stderr.contains("vingress.elbv2.k8s.aws") && refused.stderr.contains("scheme"),
        "{}",
        refused.stderr
    );
    kubectl.apply(&ingress("internal")).await;

    server.abort();
    eventually("the webhook port closed", || async {
        tokio::net::TcpStream::connect(address)
            .await
            .is_err()
            .then_some(())
    })
    .await;
    kubectl.apply(&pod("web-2")).await;
    let gates = kubectl
        .ok(&[
            "get",
            "pod",
            "web-2",
            "-n",
            "shop",
            "-o",
            "jsonpath={.spec.readinessGates}",
        ])
        .await;
    assert_eq!(
        gates.trim(),
        "",
        "admitted without its gate while the webhook was down"
    );
    let blocked = kubectl
        .run_with_input(
            &["replace", "--validate=false", "-f", "-"],
            Some(&ingress("internet-facing")),
        )
        .await;
    assert!(
        !blocked.success,
        "Fail policy: an Ingress update waits for the webhook"
    );
    assert!(
        blocked.stderr.contains("failed calling webhook"),
        "{}",
        blocked.stderr
    );

    // The registration loop reports the pod that slipped through, and only that one.
    kubectl.apply(SLICE).await;
    let _registration = tokio::spawn(run_registration_loop(
        cluster.client.clone(),
        moto.cloud().await,
        NetworkingSettings::default(),
        WatchedServices::spawn(&cluster.client),
    ));
    let (note, regarding) = eventually("the ungated pod reported on its binding", || async {
        let events: serde_json::Value = serde_json::from_str(
            &kubectl
                .ok(&["get", "events", "-n", "shop", "-o", "json"])
                .await,
        )
        .ok()?;
        let event = events["items"]
            .as_array()?
            .iter()
            .find(|e| e["reason"] == "PodWithoutReadinessGate")?
            .clone();
        let note = event["note"]
            .as_str()
            .or(event["message"].as_str())?
            .to_string();
        let regarding = event["regarding"]["name"]
            .as_str()
            .or(event["involvedObject"]["name"].as_str())?
            .to_string();
        Some((note, regarding))
    })
    .await;
    assert!(note.contains("web-2") && !note.contains("web-1"), "{note}");
    assert_eq!(regarding, "web-tgb");
}
