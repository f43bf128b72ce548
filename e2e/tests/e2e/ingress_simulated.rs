//! The Ingress loop in process against the emulator and the in-memory simulator: what the loop
//! does (and does not do) on each kind of change, counted in AWS calls and Kubernetes requests.

use crate::ingress_loop::ALB_CLASS;
use crate::waiting::eventually;
use aws_load_balancer_controller::config::ControllerConfig;
use aws_load_balancer_controller::controller::ingress::{
    run_ingress_controller, IngressReconciler,
};
use aws_load_balancer_controller::ingress::group::GroupId;
use aws_load_balancer_controller::watched::services::WatchedServices;
use e2e::cluster::TestCluster;
use e2e::kubectl::Kubectl;
use serde_json::Value;
use std::sync::Arc;

/// The Ingress loop against the emulator and the simulator (the example VPC's subnets).
async fn simulated_ingress_loop() -> (
    aws_load_balancer_controller::cloud::simulator::Simulator,
    TestCluster,
    Kubectl,
    tokio::task::JoinHandle<()>,
    Arc<IngressReconciler<aws_load_balancer_controller::cloud::simulator::Simulator>>,
) {
    use aws_load_balancer_controller::cloud::simulator::Simulator;
    use aws_load_balancer_controller::facts::CloudFacts;
    let facts_path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/aws-facts.json");
    let facts = CloudFacts::from_documents(&std::fs::read_to_string(facts_path).unwrap()).unwrap();
    let cloud = Simulator::with_subnets(facts.subnets);
    let cluster = TestCluster::start().await;
    let kubectl = Kubectl::new(&cluster.url());
    let reconciler = Arc::new(IngressReconciler::new(
        cluster.client.clone(),
        cloud.clone(),
        ControllerConfig::new("e2e-cluster", "vpc-0example"),
        "alb",
    ));
    let loop_task = tokio::spawn(run_ingress_controller(
        reconciler.clone(),
        WatchedServices::spawn(&cluster.client),
    ));
    (cloud, cluster, kubectl, loop_task, reconciler)
}

#[tokio::test]
async fn an_unchanged_group_costs_no_aws_call() {
    let (cloud, _cluster, kubectl, loop_task, reconciler) = simulated_ingress_loop().await;
    kubectl.apply(ALB_CLASS).await;
    kubectl
        .apply(
            "apiVersion: v1\nkind: Service\nmetadata: {name: echo, namespace: default}\n\
             spec: {type: NodePort, ports: [{port: 80, targetPort: 8080, nodePort: 30080}]}\n---\n\
             apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: echo, namespace: default}\n\
             spec:\n  ingressClassName: alb\n  rules:\n    - http:\n        paths:\n          - {path: /, pathType: Prefix, backend: {service: {name: echo, port: {number: 80}}}}\n",
        )
        .await;
    eventually("the hostname", || async {
        let printed = kubectl
            .ok(&[
                "get",
                "ingress",
                "echo",
                "-o",
                "jsonpath={.status.loadBalancer.ingress[0].hostname}",
            ])
            .await;
        (!printed.trim().is_empty()).then_some(())
    })
    .await;
    // The reconciles the controller's own writes (finalizer, status) cause cost nothing either.
    cloud.calls.clear();
    let labelled = kubectl
        .ok(&[
            "label",
            "ingress",
            "echo",
            "team=payments",
            "-o",
            "jsonpath={.metadata.resourceVersion}",
        ])
        .await;
    let group = GroupId::Implicit {
        namespace: "default".into(),
        name: "echo".into(),
    };
    // Evidence first: a reconcile of the group has read the labelled Ingress (or a later
    // version of it).
    eventually("the labelled Ingress reconciled", || async {
        // The emulator's resource versions are increasing numbers.
        let read = reconciler.read_versions(&group);
        let read: Option<u64> = read
            .get("Ingress default/echo")
            .and_then(|v| v.parse().ok());
        (read >= labelled.trim().parse().ok()).then_some(())
    })
    .await;
    assert!(
        cloud.calls.calls().is_empty(),
        "a label change costs no AWS call: {:?}",
        cloud.calls.calls()
    );
    // A change that matters is deployed.
    kubectl
        .ok(&[
            "annotate",
            "ingress",
            "echo",
            "alb.ingress.kubernetes.io/tags=team=payments",
        ])
        .await;
    eventually("the new tag written", || async {
        cloud.calls.writes().contains(&"AddTags").then_some(())
    })
    .await;
    // A change of the Service behind the Ingress wakes the group too.
    cloud.calls.clear();
    kubectl
        .ok(&[
            "annotate",
            "service",
            "echo",
            "alb.ingress.kubernetes.io/healthcheck-path=/ready",
        ])
        .await;
    eventually("the target group's health check modified", || async {
        cloud
            .calls
            .writes()
            .contains(&"ModifyTargetGroup")
            .then_some(())
    })
    .await;
    // The group's last member goes: its load balancer goes, and the loop forgets the group.
    assert_eq!(reconciler.remembered_groups(), 1);
    kubectl
        .ok(&["delete", "ingress", "echo", "--timeout=30s"])
        .await;
    eventually(
        "the load balancer deleted and the group forgotten",
        || async {
            (cloud.load_balancer_names().is_empty() && reconciler.remembered_groups() == 0)
                .then_some(())
        },
    )
    .await;
    loop_task.abort();
}

#[tokio::test]
async fn a_bad_member_is_held_with_a_warning_and_a_status_marker_while_the_group_goes_on() {
    let (cloud, _cluster, kubectl, loop_task, _reconciler) = simulated_ingress_loop().await;
    kubectl.apply(ALB_CLASS).await;
    let member = |name: &str, auth: &str| {
        format!(
            "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {name}\n  namespace: default\n  annotations:\n    alb.ingress.kubernetes.io/group.name: team\n    alb.ingress.kubernetes.io/auth-type: {auth}\nspec:\n  ingressClassName: alb\n  rules:\n    - http:\n        paths:\n          - {{path: /{name}, pathType: Prefix, backend: {{service: {{name: echo, port: {{number: 80}}}}}}}}\n"
        )
    };
    kubectl
        .apply(
            "apiVersion: v1\nkind: Service\nmetadata: {name: echo, namespace: default}\n\
             spec: {type: NodePort, ports: [{port: 80, targetPort: 8080, nodePort: 30080}]}\n",
        )
        .await;
    kubectl.apply(&member("good", "none")).await;
    kubectl.apply(&member("bad", "saml")).await;
    let status = |name: &'static str| {
        let kubectl = &kubectl;
        async move {
            let printed = kubectl.ok(&["get", "ingress", name, "-o", "json"]).await;
            serde_json::from_str::<Value>(&printed).unwrap()["status"]["loadBalancer"]["ingress"][0]
                .clone()
        }
    };
    eventually(
        "the good member's hostname and the bad one's marker",
        || async {
            let good = status("good").await;
            let bad = status("bad").await;
            (good["hostname"].is_string()
                && bad["ports"][0]["error"] == "ingress.k8s.aws/FailedBuildModel")
                .then_some(())
        },
    )
    .await;
    assert_eq!(
        cloud.rule_paths().len(),
        1,
        "only the good member's rule exists"
    );
    let events: Value =
        serde_json::from_str(&kubectl.ok(&["get", "events", "-o", "json"]).await).unwrap();
    assert!(
        events["items"].as_array().unwrap().iter().any(|e| {
            e["reason"] == "FailedBuildModel"
                && e["involvedObject"]["name"] == "bad"
                && e["message"].as_str().unwrap_or_default().contains("saml")
        }),
        "the Warning names the problem: {events}"
    );

    // Fixed: the member joins, its marker goes and it gets the group's hostname and listener
    // ports (upstream's v2.17 status: ports without protocol or error).
    kubectl
        .ok(&[
            "annotate",
            "--overwrite",
            "ingress",
            "bad",
            "alb.ingress.kubernetes.io/auth-type=none",
        ])
        .await;
    eventually("the fixed member reconciled", || async {
        let bad = status("bad").await;
        let plain_ports = bad["ports"] == serde_json::json!([{"port": 80, "protocol": ""}]);
        (bad["hostname"].is_string() && plain_ports && cloud.rule_paths().len() == 2).then_some(())
    })
    .await;
    loop_task.abort();
}

#[tokio::test]
async fn a_change_of_ingress_class_params_reaches_the_load_balancer() {
    let (cloud, _cluster, kubectl, loop_task, _reconciler) = simulated_ingress_loop().await;
    let params = |team: &str| {
        format!(
            "apiVersion: elbv2.k8s.aws/v1beta1\nkind: IngressClassParams\nmetadata: {{name: tuned}}\nspec:\n  tags: [{{key: team, value: {team}}}]\n"
        )
    };
    kubectl.apply(&params("red")).await;
    kubectl
        .apply(
            "apiVersion: networking.k8s.io/v1\nkind: IngressClass\n\
             metadata: {name: tuned, annotations: {ingressclass.kubernetes.io/is-default-class: \"true\"}}\n\
             spec: {controller: ingress.k8s.aws/alb, parameters: {apiGroup: elbv2.k8s.aws, kind: IngressClassParams, name: tuned}}\n---\n\
             apiVersion: v1\nkind: Service\nmetadata: {name: echo, namespace: default}\n\
             spec: {type: NodePort, ports: [{port: 80, targetPort: 8080, nodePort: 30080}]}\n---\n\
             apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: echo, namespace: default}\n\
             spec:\n  ingressClassName: tuned\n  rules:\n    - http:\n        paths:\n          - {path: /, pathType: Prefix, backend: {service: {name: echo, port: {number: 80}}}}\n---\n\
             apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: classless, namespace: default}\n\
             spec:\n  rules:\n    - http:\n        paths:\n          - {path: /, pathType: Prefix, backend: {service: {name: echo, port: {number: 80}}}}\n",
        )
        .await;
    let teams = || {
        cloud
            .load_balancer_tags()
            .into_values()
            .map(|tags| tags.get("team").cloned().unwrap_or_default())
            .collect::<Vec<_>>()
    };
    eventually("both load balancers", || async {
        (teams() == ["red", "red"]).then_some(())
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    kubectl.apply(&params("blue")).await;
    eventually(
        "the params' new tag on the named class's and the default class's ALBs",
        || async { (teams() == ["blue", "blue"]).then_some(()) },
    )
    .await;
    loop_task.abort();
}

#[tokio::test]
async fn a_service_shared_by_a_group_s_members_costs_no_list_when_it_changes() {
    const MEMBERS: usize = 8;
    let (cloud, cluster, kubectl, loop_task, reconciler) = simulated_ingress_loop().await;
    kubectl.apply(ALB_CLASS).await;
    let mut manifests = String::from(
        "apiVersion: v1\nkind: Service\nmetadata: {name: echo, namespace: default}\n\
         spec: {type: NodePort, ports: [{port: 80, targetPort: 8080, nodePort: 30080}]}\n",
    );
    for index in 0..MEMBERS {
        manifests.push_str(&format!(
            "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: m{index}\n  namespace: default\n  annotations: {{alb.ingress.kubernetes.io/group.name: shared, alb.ingress.kubernetes.io/group.order: '{index}'}}\nspec:\n  ingressClassName: alb\n  rules:\n    - http:\n        paths:\n          - {{path: /m{index}, pathType: Prefix, backend: {{service: {{name: echo, port: {{number: 80}}}}}}}}\n"
        ));
    }
    kubectl.apply(&manifests).await;
    let group = GroupId::Explicit("shared".into());
    eventually("every member reconciled into one ALB", || async {
        (reconciler.read_versions(&group).len() == MEMBERS + 1
            && cloud.rule_paths().len() == MEMBERS)
            .then_some(())
    })
    .await;
    let listed = cluster.lists();
    assert!(listed >= 5, "the five watches listed once each: {listed}");
    cloud.calls.clear();
    kubectl
        .ok(&[
            "annotate",
            "service",
            "echo",
            "alb.ingress.kubernetes.io/healthcheck-path=/ready",
        ])
        .await;
    // Each member has its own target group for the Service (upstream's naming).
    eventually(
        "every member's target group health check modified",
        || async { (cloud.calls.writes() == vec!["ModifyTargetGroup"; MEMBERS]).then_some(()) },
    )
    .await;
    // Evidence the reconcile ended (bindings and statuses included): it recorded the edited
    // Service's version as read.
    let edited: u64 = kubectl
        .ok(&[
            "get",
            "service",
            "echo",
            "-o",
            "jsonpath={.metadata.resourceVersion}",
        ])
        .await
        .trim()
        .parse()
        .unwrap();
    eventually("a completed reconcile read the edited Service", || async {
        let read = reconciler.read_versions(&group);
        let read: Option<u64> = read
            .get("Service default/echo")
            .and_then(|v| v.parse().ok());
        (read >= Some(edited)).then_some(())
    })
    .await;
    assert_eq!(
        cluster.lists(),
        listed,
        "the reconciles read the stores: {:?}",
        cluster.server.emulator.request_counts()
    );
    loop_task.abort();
}
