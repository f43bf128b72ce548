//! The Helm chart with the real Helm library (PyPI `helm-python-sdk`, through `helm/render.py`):
//! rendered with its defaults and with a custom values file, linted, its Deployment's flags
//! accepted by the controller's own parser, and the rendered objects applied with kubectl to the
//! emulator. Values upstream documents keep their names; unsupported ones fail the render.

use aws_load_balancer_controller::cli::{with_implied_run, Arguments, Command};
use clap::Parser;
use e2e::cluster::TestCluster;
use e2e::kubectl::Kubectl;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn chart() -> PathBuf {
    repository().join("helm/aws-load-balancer-controller")
}

pub(super) struct Rendered {
    pub(super) status: i32,
    pub(super) stdout: String,
    pub(super) stderr: String,
}

/// Runs `helm/render.py` with the test command's Python (HELM_PYTHON).
pub(super) fn render(arguments: &[&str]) -> Rendered {
    let python = std::env::var("HELM_PYTHON")
        .expect("HELM_PYTHON: run the tests through e2e/run-tests, which installs helm-python-sdk");
    let output = std::process::Command::new(python)
        .arg(repository().join("helm/render.py"))
        .arg(chart())
        .args(arguments)
        .output()
        .expect("run helm/render.py");
    Rendered {
        status: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

pub(super) fn rendered_ok(arguments: &[&str]) -> String {
    let rendered = render(arguments);
    assert_eq!(rendered.status, 0, "render failed: {}", rendered.stderr);
    rendered.stdout
}

/// Every object of a rendered stream, `List`s unpacked.
pub(super) fn objects(stream: &str) -> Vec<Value> {
    let mut objects = Vec::new();
    for document in serde_yaml::Deserializer::from_str(stream) {
        let value: Value = serde::Deserialize::deserialize(document).expect("rendered YAML");
        if value.is_null() {
            continue;
        }
        if value["kind"] == "List" {
            objects.extend(value["items"].as_array().cloned().unwrap_or_default());
        } else {
            objects.push(value);
        }
    }
    objects
}

pub(super) fn find<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["kind"] == kind).collect()
}

pub(super) fn container_args(objects: &[Value]) -> Vec<String> {
    let deployment = find(objects, "Deployment")[0];
    deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| a.as_str().expect("a string flag").to_string())
        .collect()
}

/// The Deployment's flags, as the controller binary parses them (without `run`, as upstream's).
pub(super) fn parsed_settings(
    args: &[String],
) -> aws_load_balancer_controller::cli::run::RunSettings {
    let mut line: Vec<std::ffi::OsString> = vec!["aws-load-balancer-controller".into()];
    line.extend(args.iter().map(Into::into));
    let parsed = Arguments::try_parse_from(with_implied_run(line))
        .unwrap_or_else(|e| panic!("the binary refuses the chart's flags {args:?}: {e}"));
    let Command::Run(arguments) = parsed.command else {
        panic!("the chart's flags are not a run");
    };
    arguments
        .settings()
        .unwrap_or_else(|e| panic!("the chart's flags {args:?} are invalid: {e}"))
}

const CUSTOM: &str = "ci/custom-values.yaml";

#[tokio::test]
async fn defaults_and_a_custom_values_file_render_lint_and_apply() {
    let custom_values = chart().join(CUSTOM);
    let custom_values = custom_values.to_str().expect("a UTF-8 path");
    let defaults = rendered_ok(&["--set-json", r#"{"clusterName":"prod"}"#]);
    let custom = rendered_ok(&["-f", custom_values]);
    for lint in [
        render(&["--lint", "--set-json", r#"{"clusterName":"prod"}"#]),
        render(&["--lint", "-f", custom_values]),
    ] {
        assert_eq!(lint.status, 0, "lint: {}{}", lint.stdout, lint.stderr);
    }

    let default_objects = objects(&defaults);
    let args = container_args(&default_objects);
    assert_eq!(
        args,
        [
            "--cluster-name=prod",
            "--ingress-class=alb",
            "--webhook-tls-secret=aws-load-balancer-managed-tls",
            "--webhook-service-name=aws-load-balancer-webhook-service",
            "--webhook-configuration-name=aws-load-balancer-webhook",
            "--cluster-dns-domain=cluster.local",
        ]
    );
    let settings = parsed_settings(&args);
    assert_eq!(settings.config.cluster_name, "prod");
    assert_eq!(settings.config.vpc_id, "", "found in instance metadata");
    let deployment = find(&default_objects, "Deployment")[0];
    assert_eq!(deployment["spec"]["replicas"], 2);
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]
            ["path"],
        "/readyz"
    );
    assert!(find(&default_objects, "PodDisruptionBudget").is_empty());
    assert_eq!(find(&default_objects, "CustomResourceDefinition").len(), 2);
    let role = find(&default_objects, "ClusterRole")[0];
    assert!(
        !serde_json::to_string(role).unwrap().contains("secrets"),
        "no cluster-wide Secret access by default"
    );

    let custom_objects = objects(&custom);
    let args = container_args(&custom_objects);
    let settings = parsed_settings(&args);
    assert_eq!(
        settings.config.cluster_name, "kube-system-prod",
        "templated"
    );
    assert_eq!(settings.config.vpc_id, "vpc-0abc");
    assert_eq!(
        settings
            .vpc_tags
            .get("kubernetes.io/cluster/prod")
            .map(String::as_str),
        Some("owned")
    );
    assert_eq!(settings.aws.region.as_deref(), Some("eu-west-1"));
    assert_eq!(settings.config.default_tags["team"], "platform");
    assert!(!settings.config.enable_backend_security_group);
    assert!(settings.config.disable_restricted_sg_rules);
    assert_eq!(
        settings.config.service_target_eni_security_group_tags,
        [("team", "platform"), ("tier", "nodes")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    );
    assert!(!settings.config.tolerate_missing_backend_action);
    assert!(settings.config.tolerate_missing_backend_service);
    assert!(!settings.config.enable_wafv2);
    assert!(settings.config.feature_gates.tcp_udp_listener);
    assert!(!settings.config.feature_gates.nlb_security_group);
    assert_eq!(settings.aws.max_attempts, 5);
    assert_eq!(settings.drift_check_interval.as_secs(), 3600);
    let account = find(&custom_objects, "ServiceAccount")[0];
    assert_eq!(account["metadata"]["name"], "alb-controller");
    assert_eq!(
        account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
        "arn:aws:iam::123456789012:role/alb-controller"
    );
    assert_eq!(find(&custom_objects, "PodDisruptionBudget").len(), 1);
    assert_eq!(find(&custom_objects, "HorizontalPodAutoscaler").len(), 1);
    let class = find(&custom_objects, "IngressClass")[0];
    assert_eq!(class["spec"]["parameters"]["name"], "shared-alb");
    assert_eq!(
        class["metadata"]["annotations"]["ingressclass.kubernetes.io/is-default-class"],
        "true"
    );
    assert_eq!(
        find(&custom_objects, "IngressClassParams")[0]["spec"]["group"]["name"],
        "platform"
    );

    let cluster = TestCluster::start().await;
    let kubectl = Kubectl::new(&cluster.url());
    kubectl
        .apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: kube-system}\n")
        .await;
    kubectl.apply(&defaults).await;
    kubectl.apply(&custom).await;
    let deployment: Value = serde_json::from_str(
        &kubectl
            .ok(&[
                "get",
                "deployment",
                "aws-load-balancer-controller",
                "-n",
                "kube-system",
                "-o",
                "json",
            ])
            .await,
    )
    .expect("JSON");
    assert_eq!(
        deployment["spec"]["template"]["spec"]["serviceAccountName"], "alb-controller",
        "the custom release (applied last) wins"
    );
    let params = kubectl
        .ok(&["get", "ingressclassparams", "shared-alb", "-o", "json"])
        .await;
    assert!(params.contains("platform"), "{params}");
    let lease_role = kubectl
        .ok(&[
            "get",
            "role",
            "aws-load-balancer-controller-leader-election-role",
            "-n",
            "kube-system",
            "-o",
            "json",
        ])
        .await;
    assert!(lease_role.contains("aws-load-balancer-controller-leader"));
}

#[test]
fn missing_or_unsupported_values_fail_the_render_naming_them() {
    let missing = render(&[]);
    assert_ne!(missing.status, 0);
    assert!(
        missing.stderr.contains("valid clusterName"),
        "{}",
        missing.stderr
    );
    let unsupported = render(&[
        "--set-json",
        r#"{"clusterName":"prod","watchNamespace":"team-a"}"#,
    ]);
    assert_ne!(unsupported.status, 0);
    assert!(
        unsupported.stderr.contains("watchNamespace"),
        "{}",
        unsupported.stderr
    );
    let slices_off = render(&[
        "--set-json",
        r#"{"clusterName":"prod","enableEndpointSlices":false}"#,
    ]);
    assert_ne!(slices_off.status, 0);
}

/// Every value upstream's chart documents (3.5.0), as dotted paths.
const UPSTREAM_VALUES: &[&str] = &[
    "clusterName",
    "region",
    "vpcId",
    "vpcTags",
    "awsApiEndpoints",
    "awsApiThrottle",
    "awsMaxRetries",
    "replicaCount",
    "revisionHistoryLimit",
    "image.repository",
    "image.tag",
    "image.pullPolicy",
    "imagePullSecrets",
    "runtimeClassName",
    "nameOverride",
    "fullnameOverride",
    "serviceAccount.create",
    "serviceAccount.name",
    "serviceAccount.annotations",
    "serviceAccount.automountServiceAccountToken",
    "serviceAccount.imagePullSecrets",
    "rbac.create",
    "podSecurityContext",
    "securityContext",
    "terminationGracePeriodSeconds",
    "resources",
    "priorityClassName",
    "nodeSelector",
    "tolerations",
    "affinity",
    "topologySpreadConstraints",
    "updateStrategy",
    "configureDefaultAffinity",
    "autoscaling.enabled",
    "autoscaling.minReplicas",
    "autoscaling.maxReplicas",
    "autoscaling.targetCPUUtilizationPercentage",
    "deploymentAnnotations",
    "podAnnotations",
    "podLabels",
    "additionalLabels",
    "serviceAnnotations",
    "enableCertManager",
    "certManager",
    "cluster.dnsDomain",
    "ingressClass",
    "createIngressClassResource",
    "ingressClassParams.create",
    "ingressClassParams.name",
    "ingressClassParams.spec",
    "ingressClassConfig.default",
    "defaultTargetType",
    "defaultLoadBalancerScheme",
    "enablePodReadinessGateInject",
    "enableShield",
    "enableWaf",
    "enableWafv2",
    "ingressMaxConcurrentReconciles",
    "serviceMaxConcurrentReconciles",
    "targetgroupbindingMaxConcurrentReconciles",
    "targetgroupbindingMaxExponentialBackoffDelay",
    "targetgroupbindingRequeueDuration",
    "albGatewayMaxConcurrentReconciles",
    "nlbGatewayMaxConcurrentReconciles",
    "globalAcceleratorMaxConcurrentReconciles",
    "globalAcceleratorMaxExponentialBackoffDelay",
    "lbStabilizationMonitorInterval",
    "syncPeriod",
    "watchNamespace",
    "logLevel",
    "webhookBindPort",
    "metricsBindAddr",
    "disableIngressClassAnnotation",
    "disableIngressGroupNameAnnotation",
    "tolerateNonExistentBackendService",
    "tolerateNonExistentBackendAction",
    "defaultSSLPolicy",
    "defaultTags",
    "externalManagedTags",
    "enableEndpointSlices",
    "enableBackendSecurityGroup",
    "enableManageBackendSecurityGroupRules",
    "disableRestrictedSecurityGroupRules",
    "backendSecurityGroup",
    "maxTargetsPerTargetGroup",
    "serviceTargetENISGTags",
    "loadBalancerClass",
    "controllerConfig.featureGates",
    "featureGates",
    "certDiscovery.allowedCertificateAuthorityARNs",
    "certManagement.defaultPCAARN",
    "clusterSecretsPermissions.allowAllSecrets",
    "env",
    "envSecretName",
    "envFrom",
    "hostNetwork",
    "dnsPolicy",
    "extraVolumes",
    "extraVolumeMounts",
    "livenessProbe",
    "readinessProbe",
    "podDisruptionBudget",
    "webhookConfig.disableIngressValidation",
    "webhookConfig.ingressValdationFailurePolicy",
    "webhookConfig.ingressValidationObjectSelector",
    "webhookConfig.ingressValidationNamespaceSelector",
    "webhookTLS.caCert",
    "webhookTLS.cert",
    "webhookTLS.key",
    "keepTLSSecret",
    "webhookNamespaceSelectors",
    "objectSelector.matchExpressions",
    "objectSelector.matchLabels",
    "enableServiceMutatorWebhook",
    "serviceMutatorWebhookConfig.failurePolicy",
    "serviceMutatorWebhookConfig.objectSelector",
    "serviceMutatorWebhookConfig.namespaceSelector",
    "serviceMutatorWebhookConfig.operations",
    "podMutatorWebhookConfig.failurePolicy",
    "serviceMonitor.enabled",
    "serviceMonitor.namespace",
    "serviceMonitor.additionalLabels",
    "serviceMonitor.interval",
    "serviceMonitor.scrapeTimeout",
    "serviceMonitor.relabelings",
    "serviceMonitor.metricRelabelings",
];

#[test]
fn every_upstream_value_name_is_kept_and_the_unsupported_ones_are_documented() {
    let values: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(chart().join("values.yaml")).expect("values.yaml"),
    )
    .expect("values.yaml is YAML");
    let readme = std::fs::read_to_string(repository().join("helm/README.md")).expect("README");
    let helpers = std::fs::read_to_string(chart().join("templates/_helpers.tpl")).expect("helpers");
    for path in UPSTREAM_VALUES {
        let mut node = &values;
        for key in path.split('.') {
            node = node
                .get(key)
                .unwrap_or_else(|| panic!("values.yaml lost upstream's value {path}"));
        }
        if helpers.contains(&format!("\"{path}\"")) {
            assert!(
                readme.contains(&format!("`{path}`")),
                "{path} is refused by the chart but not listed in helm/README.md"
            );
        }
    }
}

#[test]
fn the_charts_crds_are_the_generated_ones() {
    let generated = repository().join("crds");
    for entry in std::fs::read_dir(&generated).expect("crds/") {
        let path = entry.expect("an entry").path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let name = path.file_name().expect("a file name");
        let copy = std::fs::read_to_string(chart().join("crds").join(name))
            .unwrap_or_else(|_| panic!("the chart lacks crds/{}", name.to_string_lossy()));
        assert_eq!(
            copy,
            std::fs::read_to_string(&path).expect("a CRD"),
            "helm/aws-load-balancer-controller/crds/{} is stale: copy crds/ into the chart",
            name.to_string_lossy()
        );
    }
}
