//! The chart's webhook objects for each certificate mode: the controller-managed default (flags
//! and RBAC for its Secret and the configurations), cert-manager (Issuers, Certificates, the
//! CA injected by annotation, the Secret mounted), and a provided certificate (the Secret and
//! every caBundle); upstream's webhook names, paths and selectors; each renders and lints.

use super::helm_chart::{container_args, find, objects, parsed_settings, render, rendered_ok};
use serde_json::Value;

fn webhook_names(objects: &[Value], kind: &str) -> Vec<String> {
    find(objects, kind)[0]["webhooks"]
        .as_array()
        .expect("webhooks")
        .iter()
        .map(|w| w["name"].as_str().expect("a name").to_string())
        .collect()
}

fn webhook<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    find(objects, kind)[0]["webhooks"]
        .as_array()
        .expect("webhooks")
        .iter()
        .find(|w| w["name"] == name)
        .unwrap_or_else(|| panic!("no webhook {name}"))
}

#[test]
fn webhook_configurations_render_for_each_certificate_mode() {
    use aws_load_balancer_controller::cli::run::WebhookCertificateSource;
    // Default: the controller makes, keeps and publishes its own certificate.
    let managed = objects(&rendered_ok(&["--set-json", r#"{"clusterName":"prod"}"#]));
    assert_eq!(
        webhook_names(&managed, "MutatingWebhookConfiguration"),
        [
            "mpod.elbv2.k8s.aws",
            "mservice.elbv2.k8s.aws",
            "mtargetgroupbinding.elbv2.k8s.aws"
        ]
    );
    assert_eq!(
        webhook_names(&managed, "ValidatingWebhookConfiguration"),
        [
            "vingressclassparams.elbv2.k8s.aws",
            "vtargetgroupbinding.elbv2.k8s.aws",
            "vingress.elbv2.k8s.aws"
        ]
    );
    let pods = webhook(
        &managed,
        "MutatingWebhookConfiguration",
        "mpod.elbv2.k8s.aws",
    );
    assert_eq!(pods["failurePolicy"], "Ignore");
    assert_eq!(pods["timeoutSeconds"], 5);
    assert_eq!(
        pods["clientConfig"]["service"]["name"],
        "aws-load-balancer-webhook-service"
    );
    assert_eq!(pods["clientConfig"]["service"]["path"], "/mutate-v1-pod");
    assert_eq!(
        pods["namespaceSelector"]["matchExpressions"][0]["key"],
        "elbv2.k8s.aws/pod-readiness-gate-inject"
    );
    assert_eq!(
        pods["objectSelector"]["matchExpressions"][0]["operator"], "NotIn",
        "never the controller's own pods"
    );
    assert_eq!(
        webhook(
            &managed,
            "MutatingWebhookConfiguration",
            "mservice.elbv2.k8s.aws"
        )["failurePolicy"],
        "Ignore",
        "ours: an outage never blocks Service creation"
    );
    assert_eq!(
        webhook(
            &managed,
            "ValidatingWebhookConfiguration",
            "vingress.elbv2.k8s.aws"
        )["failurePolicy"],
        "Fail"
    );
    assert!(
        find(&managed, "Secret").is_empty(),
        "the controller writes its own Secret"
    );
    assert!(find(&managed, "Certificate").is_empty());
    let service = find(&managed, "Service")
        .into_iter()
        .find(|s| s["metadata"]["name"] == "aws-load-balancer-webhook-service")
        .expect("the webhook Service");
    assert_eq!(service["spec"]["ports"][0]["port"], 443);
    assert_eq!(service["spec"]["ports"][0]["targetPort"], "webhook-server");
    let cluster_role = serde_json::to_string(find(&managed, "ClusterRole")[0]).unwrap();
    assert!(
        cluster_role.contains("mutatingwebhookconfigurations")
            && cluster_role.contains("aws-load-balancer-webhook")
    );
    let cert_role = find(&managed, "Role")
        .into_iter()
        .find(|r| r["metadata"]["name"] == "aws-load-balancer-controller-webhook-cert-role")
        .expect("the certificate Role");
    assert!(serde_json::to_string(cert_role)
        .unwrap()
        .contains("aws-load-balancer-managed-tls"));
    let settings = parsed_settings(&container_args(&managed));
    let webhook_settings = settings.webhook.expect("webhooks on");
    assert_eq!(webhook_settings.address.port(), 9443);
    assert_eq!(
        webhook_settings.certificate,
        WebhookCertificateSource::Managed {
            secret: "aws-load-balancer-managed-tls".into(),
            service: "aws-load-balancer-webhook-service".into(),
            configuration: "aws-load-balancer-webhook".into(),
            dns_domain: "cluster.local".into(),
        }
    );

    // cert-manager: its objects, the CA injected by annotation, the Secret mounted.
    let values = r#"{"clusterName":"prod","enableCertManager":true,"webhookBindPort":10250,"webhookConfig":{"disableIngressValidation":true}}"#;
    let with_cert_manager = objects(&rendered_ok(&["--set-json", values]));
    assert_eq!(find(&with_cert_manager, "Certificate").len(), 2);
    assert_eq!(find(&with_cert_manager, "Issuer").len(), 2);
    let configuration = find(&with_cert_manager, "MutatingWebhookConfiguration")[0];
    assert_eq!(
        configuration["metadata"]["annotations"]["cert-manager.io/inject-ca-from"],
        "kube-system/aws-load-balancer-serving-cert"
    );
    assert_eq!(
        webhook_names(&with_cert_manager, "ValidatingWebhookConfiguration").len(),
        2,
        "disableIngressValidation leaves the Ingress validator out"
    );
    let pod = &find(&with_cert_manager, "Deployment")[0]["spec"]["template"]["spec"];
    assert_eq!(
        pod["volumes"][0]["secret"]["secretName"],
        "aws-load-balancer-tls"
    );
    assert_eq!(
        pod["containers"][0]["volumeMounts"][0]["mountPath"],
        "/tmp/k8s-webhook-server/serving-certs"
    );
    assert_eq!(pod["containers"][0]["ports"][0]["containerPort"], 10250);
    let settings = parsed_settings(&container_args(&with_cert_manager));
    let webhook_settings = settings.webhook.expect("webhooks on");
    assert_eq!(webhook_settings.address.port(), 10250);
    assert!(matches!(
        webhook_settings.certificate,
        WebhookCertificateSource::Files { ref dir, .. } if dir.ends_with("k8s-webhook-server/serving-certs")
    ));
    assert!(find(&with_cert_manager, "Role")
        .iter()
        .all(|r| r["metadata"]["name"] != "aws-load-balancer-controller-webhook-cert-role"));
    let lint = render(&["--lint", "--set-json", values]);
    assert_eq!(lint.status, 0, "lint: {}{}", lint.stdout, lint.stderr);

    // Provided: the user's certificate in the chart's Secret, its CA in every caBundle.
    let provided = r#"{"clusterName":"prod","webhookTLS":{"caCert":"CA PEM","cert":"CERT PEM","key":"KEY PEM"}}"#;
    let with_own = objects(&rendered_ok(&["--set-json", provided]));
    let secret = find(&with_own, "Secret")[0];
    assert_eq!(secret["metadata"]["name"], "aws-load-balancer-tls");
    assert_eq!(secret["data"]["tls.crt"], "Q0VSVCBQRU0=");
    for kind in [
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
    ] {
        for hook in find(&with_own, kind)[0]["webhooks"].as_array().unwrap() {
            assert_eq!(
                hook["clientConfig"]["caBundle"], "Q0EgUEVN",
                "{}",
                hook["name"]
            );
        }
    }
    let lint = render(&["--lint", "--set-json", provided]);
    assert_eq!(lint.status, 0, "lint: {}{}", lint.stdout, lint.stderr);
}
