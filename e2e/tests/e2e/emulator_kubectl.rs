//! kubectl, a client nobody here wrote, against the emulator: apply of a real multi-document
//! manifest, get, annotate, patch, delete with and without finalizers, and watch.

use e2e::cluster::TestCluster;
use e2e::kubectl::Kubectl;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};

fn parse(text: &str) -> Value {
    serde_json::from_str(text)
        .unwrap_or_else(|error| panic!("kubectl printed no JSON ({error}): {text}"))
}

#[tokio::test]
async fn kubectl_applies_gets_annotates_and_patches_the_2048_sample() {
    let cluster = TestCluster::start().await;
    let kubectl = Kubectl::new(&cluster.url());
    let created = kubectl.apply(e2e::samples::GAME_2048).await;
    for line in [
        "namespace/game-2048 created",
        "deployment.apps/deployment-2048 created",
        "service/service-2048 created",
        "ingress.networking.k8s.io/ingress-2048 created",
    ] {
        assert!(created.contains(line), "missing {line:?} in {created}");
    }

    let ingress = parse(
        &kubectl
            .ok(&[
                "get",
                "ingress",
                "ingress-2048",
                "-n",
                "game-2048",
                "-o",
                "json",
            ])
            .await,
    );
    assert_eq!(
        ingress["metadata"]["annotations"]["alb.ingress.kubernetes.io/scheme"],
        "internet-facing"
    );
    assert_eq!(
        ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"],
        "service-2048"
    );

    kubectl
        .ok(&[
            "annotate",
            "ingress",
            "ingress-2048",
            "-n",
            "game-2048",
            "alb.ingress.kubernetes.io/group.name=demo",
        ])
        .await;
    kubectl
        .ok(&[
            "patch",
            "service",
            "service-2048",
            "-n",
            "game-2048",
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"type":"LoadBalancer"}}"#,
        ])
        .await;
    let emulator = &cluster.server.emulator;
    let stored_ingress = emulator
        .get(
            "networking.k8s.io/v1",
            "ingresses",
            "game-2048",
            "ingress-2048",
        )
        .unwrap();
    assert_eq!(
        stored_ingress["metadata"]["annotations"]["alb.ingress.kubernetes.io/group.name"],
        "demo"
    );
    let stored_service = emulator
        .get("v1", "services", "game-2048", "service-2048")
        .unwrap();
    assert_eq!(stored_service["spec"]["type"], "LoadBalancer");
    assert_eq!(stored_service["metadata"]["generation"], 2);

    let reapplied = kubectl
        .apply(&e2e::samples::GAME_2048.replace("replicas: 5", "replicas: 2"))
        .await;
    assert!(
        reapplied.contains("deployment.apps/deployment-2048 configured"),
        "{reapplied}"
    );
    assert!(
        reapplied.contains("namespace/game-2048 unchanged"),
        "{reapplied}"
    );
    let deployment = emulator
        .get("apps/v1", "deployments", "game-2048", "deployment-2048")
        .unwrap();
    assert_eq!(deployment["spec"]["replicas"], 2);
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"],
        80
    );
}

#[tokio::test]
async fn kubectl_delete_leaves_a_finalized_object_until_its_finalizer_goes() {
    let cluster = TestCluster::start().await;
    let kubectl = Kubectl::new(&cluster.url());
    kubectl.apply(e2e::samples::GAME_2048).await;
    let finalizer = r#"{"metadata":{"finalizers":["ingress.k8s.aws/resources"]}}"#;
    kubectl
        .ok(&[
            "patch",
            "ingress",
            "ingress-2048",
            "-n",
            "game-2048",
            "--type",
            "merge",
            "-p",
            finalizer,
        ])
        .await;

    kubectl
        .ok(&[
            "delete",
            "ingress",
            "ingress-2048",
            "-n",
            "game-2048",
            "--wait=false",
        ])
        .await;
    let deleting = parse(
        &kubectl
            .ok(&[
                "get",
                "ingress",
                "ingress-2048",
                "-n",
                "game-2048",
                "-o",
                "json",
            ])
            .await,
    );
    assert!(
        deleting["metadata"]["deletionTimestamp"].is_string(),
        "{deleting}"
    );

    let adding = r#"{"metadata":{"finalizers":["ingress.k8s.aws/resources","another"]}}"#;
    let refused = kubectl
        .run(&[
            "patch",
            "ingress",
            "ingress-2048",
            "-n",
            "game-2048",
            "--type",
            "merge",
            "-p",
            adding,
        ])
        .await;
    assert!(
        !refused.success && refused.stderr.contains("finalizers"),
        "{}",
        refused.stderr
    );

    let removal = r#"[{"op":"remove","path":"/metadata/finalizers"}]"#;
    kubectl
        .ok(&[
            "patch",
            "ingress",
            "ingress-2048",
            "-n",
            "game-2048",
            "--type",
            "json",
            "-p",
            removal,
        ])
        .await;
    let gone = kubectl
        .run(&["get", "ingress", "ingress-2048", "-n", "game-2048"])
        .await;
    assert!(
        !gone.success && gone.stderr.contains("NotFound"),
        "{}",
        gone.stderr
    );

    // Without finalizers, a waiting delete returns once the object is gone.
    kubectl
        .ok(&["delete", "service", "service-2048", "-n", "game-2048"])
        .await;
    assert!(cluster
        .server
        .emulator
        .get("v1", "services", "game-2048", "service-2048")
        .is_none());
}

// A collection watch: kubectl resumes it from the list's resourceVersion, so no change is lost.
// (For a single named object kubectl GETs it, then watches from resourceVersion 0 and drops the
// first event as a duplicate: a change made between the two is never printed, by any server.)
#[tokio::test]
async fn kubectl_watch_receives_a_change() {
    let cluster = TestCluster::start().await;
    let kubectl = Kubectl::new(&cluster.url());
    kubectl
        .apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: flags, namespace: default}\ndata: {mode: one}\n")
        .await;
    let template = r#"jsonpath={.type} {.object.metadata.name} {.object.data.mode}{"\n"}"#;
    let mut watch = kubectl.spawn(&[
        "get",
        "configmap",
        "-n",
        "default",
        "--watch",
        "--output-watch-events",
        "-o",
        template,
    ]);
    let mut lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    let first = lines.next_line().await.unwrap().unwrap_or_default();
    assert_eq!(first.trim(), "ADDED flags one");

    let api: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), "default");
    api.patch(
        "flags",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"mode": "two"}})),
    )
    .await
    .unwrap();
    let change = loop {
        let line = tokio::time::timeout(std::time::Duration::from_secs(15), lines.next_line())
            .await
            .expect("kubectl printed the change within 15 s")
            .unwrap()
            .expect("kubectl kept watching");
        if !line.trim().is_empty() {
            break line;
        }
    };
    assert_eq!(change.trim(), "MODIFIED flags two");
}

#[tokio::test]
async fn kubectl_applies_the_generated_crds_and_reads_their_objects() {
    let cluster = TestCluster::start().await;
    let kubectl = Kubectl::new(&cluster.url());
    let crds = include_str!("../../../crds/elbv2.k8s.aws_targetgroupbindings.yaml");
    let applied = kubectl.apply(crds).await;
    assert!(applied.contains("customresourcedefinition.apiextensions.k8s.io/targetgroupbindings.elbv2.k8s.aws created"), "{applied}");
    kubectl
        .apply(
            "apiVersion: elbv2.k8s.aws/v1beta1\nkind: TargetGroupBinding\nmetadata: {name: web, namespace: default}\n\
             spec: {targetGroupARN: 'arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/web/1', serviceRef: {name: web, port: 80}}\n",
        )
        .await;
    let listed = parse(
        &kubectl
            .ok(&["get", "targetgroupbindings", "-A", "-o", "json"])
            .await,
    );
    assert_eq!(listed["items"][0]["spec"]["serviceRef"]["name"], "web");

    let params_crd = include_str!("../../../crds/elbv2.k8s.aws_ingressclassparams.yaml");
    let applied = kubectl.apply(params_crd).await;
    assert!(applied.contains("customresourcedefinition.apiextensions.k8s.io/ingressclassparams.elbv2.k8s.aws created"), "{applied}");
    kubectl
        .apply(
            "apiVersion: elbv2.k8s.aws/v1beta1\nkind: IngressClassParams\nmetadata: {name: team}\n\
             spec: {group: {name: team-web}, scheme: internet-facing, namespaceSelector: {matchLabels: {team: web}}}\n",
        )
        .await;
    let params = parse(
        &kubectl
            .ok(&["get", "ingressclassparams", "team", "-o", "json"])
            .await,
    );
    let typed: aws_load_balancer_controller::crd::ingress_class_params::IngressClassParams =
        serde_json::from_value(params).expect("the stored object reads as our type");
    assert_eq!(
        typed.spec.group.map(|g| g.name),
        Some("team-web".to_string())
    );
}
