//! The Service controller end to end: kubectl against the emulator, the controller's loop in
//! process with the SDK Cloud against moto. A Service becomes an NLB with upstream's tags and a
//! hostname in its status; an annotation edited with kubectl changes the target group in AWS;
//! `kubectl delete` removes every AWS resource and the finalizer; a malformed annotation gets a
//! Warning event naming it and creates nothing. The registration loop runs beside it: the pods'
//! node group in moto admits the backend group on the target port, a user's rule there is kept,
//! and ours are withdrawn when the Service goes.

use crate::waiting::eventually;
use aws_load_balancer_controller::config::ControllerConfig;
use aws_load_balancer_controller::controller::{
    run_service_controller, ServiceReconciler, CONDITION_TYPE,
};
use aws_load_balancer_controller::registration::networking::NetworkingSettings;
use aws_load_balancer_controller::watched::services::WatchedServices;
use e2e::cluster::TestCluster;
use e2e::kubectl::Kubectl;
use e2e::moto::{create_vpc_with_subnets, MotoServer, NodeGroup};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

const SERVICE: &str = r#"apiVersion: v1
kind: Service
metadata:
  name: echo
  namespace: default
  annotations:
    service.beta.kubernetes.io/aws-load-balancer-nlb-target-type: ip
    service.beta.kubernetes.io/aws-load-balancer-scheme: internet-facing
spec:
  type: LoadBalancer
  loadBalancerClass: service.k8s.aws/nlb
  ports:
    - {name: http, port: 80, targetPort: 8080, protocol: TCP}
"#;

/// A cluster with `manifest` applied, and a reconciler whose AWS is the in-memory simulator
/// seeded with the example VPC's subnets.
async fn simulated(
    manifest: &str,
    drift_check_interval: Duration,
) -> (
    TestCluster,
    Kubectl,
    ServiceReconciler<aws_load_balancer_controller::cloud::simulator::Simulator>,
) {
    use aws_load_balancer_controller::cloud::simulator::Simulator;
    use aws_load_balancer_controller::facts::CloudFacts;
    let facts_path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/aws-facts.json");
    let facts = CloudFacts::from_documents(&std::fs::read_to_string(facts_path).unwrap()).unwrap();
    let cluster = TestCluster::start().await;
    let kubectl = Kubectl::new(&cluster.url());
    kubectl.apply(manifest).await;
    let config = ControllerConfig::new("prod", "vpc-0example");
    let reconciler = ServiceReconciler::new(
        cluster.client.clone(),
        Simulator::with_subnets(facts.subnets),
        config,
        drift_check_interval,
    );
    (cluster, kubectl, reconciler)
}

async fn current(cluster: &TestCluster, name: &str) -> k8s_openapi::api::core::v1::Service {
    Api::namespaced(cluster.client.clone(), "default")
        .get(name)
        .await
        .unwrap()
}

/// The controller's `service.k8s.aws/Reconciled` condition of a Service printed by kubectl.
fn reconciled_condition(service: &Value) -> Value {
    service["status"]["conditions"]
        .as_array()
        .and_then(|conditions| {
            conditions
                .iter()
                .find(|c| c["type"] == CONDITION_TYPE)
                .cloned()
        })
        .unwrap_or_else(|| panic!("no {CONDITION_TYPE} condition: {service}"))
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("kubectl printed no JSON ({e}): {text}"))
}

#[tokio::test]
async fn kubectl_drives_a_service_through_its_whole_life_in_moto() {
    let moto = MotoServer::lease().await;
    let aws = moto.clients().await;
    let (vpc_id, _) = create_vpc_with_subnets(
        &aws.ec2,
        1,
        &["us-west-2a", "us-west-2b"],
        "kubernetes.io/role/elb",
    )
    .await;
    let cluster = TestCluster::start().await;
    let kubectl = Kubectl::new(&cluster.url());
    let cloud = moto.cloud().await;
    let config = ControllerConfig::new("e2e-cluster", &vpc_id);
    let reconciler = Arc::new(ServiceReconciler::new(
        cluster.client.clone(),
        cloud,
        config.clone(),
        Duration::from_secs(600),
    ));
    let registration_task = tokio::spawn(
        aws_load_balancer_controller::registration::run_registration_loop(
            cluster.client.clone(),
            moto.cloud().await,
            NetworkingSettings::from_config(&config),
            WatchedServices::spawn(&cluster.client),
        ),
    );
    let loop_task = tokio::spawn(run_service_controller(
        reconciler,
        WatchedServices::spawn(&cluster.client),
    ));

    kubectl.apply(SERVICE).await;
    let dns_name = eventually("the NLB in moto", || async {
        let described = aws.elbv2.describe_load_balancers().send().await.ok()?;
        described
            .load_balancers()
            .first()
            .and_then(|lb| lb.dns_name())
            .map(str::to_lowercase)
    })
    .await;
    let service = eventually("the hostname in the Service status", || async {
        let output = kubectl.run(&["get", "svc", "echo", "-o", "json"]).await;
        let service = parse(&output.stdout);
        (service["status"]["loadBalancer"]["ingress"][0]["hostname"] == dns_name.as_str())
            .then_some(service)
    })
    .await;
    assert_eq!(
        service["metadata"]["finalizers"],
        serde_json::json!(["service.k8s.aws/resources"])
    );
    assert_eq!(
        service["status"]["loadBalancer"]["ingress"][0]["ports"][0]["port"],
        80
    );
    let condition = reconciled_condition(&service);
    assert_eq!(condition["status"], "True");
    let arn = aws
        .elbv2
        .describe_load_balancers()
        .send()
        .await
        .unwrap()
        .load_balancers()[0]
        .load_balancer_arn()
        .unwrap()
        .to_string();
    let tags = aws
        .elbv2
        .describe_tags()
        .resource_arns(&arn)
        .send()
        .await
        .unwrap();
    let stack_tag = tags.tag_descriptions()[0]
        .tags()
        .iter()
        .find(|t| t.key() == Some("service.k8s.aws/stack"))
        .and_then(|t| t.value());
    assert_eq!(stack_tag, Some("default/echo"));

    // ip mode: the Service's endpoints become targets of its target group.
    // The pods run on a node whose instance holds their IPs on its primary interface, in the
    // cluster-tagged node group where the user keeps a rule of their own.
    let node = NodeGroup::create(&aws.ec2, &vpc_id, &["10.1.0.21", "10.1.0.22"]).await;
    kubectl
        .apply(&format!(
            "apiVersion: v1\nkind: Node\nmetadata: {{name: node-a}}\nspec: {{providerID: 'aws:///us-west-2a/{}'}}\n",
            node.instance_id
        ))
        .await;
    kubectl
        .apply(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: echo-a, namespace: default}\nspec: {nodeName: node-a, containers: [{name: app, image: echo}]}\n---\n\
             apiVersion: v1\nkind: Pod\nmetadata: {name: echo-b, namespace: default}\nspec: {nodeName: node-a, containers: [{name: app, image: echo}]}\n",
        )
        .await;
    kubectl
        .apply(
            "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: echo-1, namespace: default, labels: {kubernetes.io/service-name: echo}}\n\
             addressType: IPv4\nports: [{name: http, port: 8080, protocol: TCP}]\n\
             endpoints:\n  - {addresses: [10.1.0.21], conditions: {ready: true}, targetRef: {kind: Pod, name: echo-a}}\n\
             \x20 - {addresses: [10.1.0.22], conditions: {ready: true}, targetRef: {kind: Pod, name: echo-b}}\n",
        )
        .await;
    eventually(
        "the Service's endpoints registered in its target group",
        || async {
            let groups = aws.elbv2.describe_target_groups().send().await.ok()?;
            let arn = groups
                .target_groups()
                .first()?
                .target_group_arn()?
                .to_string();
            let health = aws
                .elbv2
                .describe_target_health()
                .target_group_arn(arn)
                .send()
                .await
                .ok()?;
            let ids: Vec<&str> = health
                .target_health_descriptions()
                .iter()
                .filter_map(|d| d.target().and_then(|t| t.id()))
                .collect();
            (ids.len() == 2 && ids.contains(&"10.1.0.21") && ids.contains(&"10.1.0.22"))
                .then_some(())
        },
    )
    .await;

    // Networking: the node group admits the cluster's backend group on the target port.
    let backend = eventually("the backend security group", || async {
        e2e::moto::backend_security_group(&aws.ec2, &vpc_id).await
    })
    .await;
    eventually(
        "the node group admitting the backend group on 8080",
        || async { node.admits(&aws.ec2, 8080, &backend).await },
    )
    .await;
    assert!(node.rules(&aws.ec2).await.contains(&node.user_rule()));

    kubectl
        .ok(&["annotate", "svc", "echo", "service.beta.kubernetes.io/aws-load-balancer-target-group-attributes=deregistration_delay.timeout_seconds=42"])
        .await;
    eventually("the target group attribute in moto", || async {
        let groups = aws.elbv2.describe_target_groups().send().await.ok()?;
        let arn = groups
            .target_groups()
            .first()?
            .target_group_arn()?
            .to_string();
        let attributes = aws
            .elbv2
            .describe_target_group_attributes()
            .target_group_arn(arn)
            .send()
            .await
            .ok()?;
        attributes
            .attributes()
            .iter()
            .any(|a| {
                a.key() == Some("deregistration_delay.timeout_seconds") && a.value() == Some("42")
            })
            .then_some(())
    })
    .await;

    let bad = SERVICE
        .replace("name: echo", "name: broken")
        .replace("scheme: internet-facing", "scheme: public-ish");
    kubectl.apply(&bad).await;
    let events: Api<Event> = Api::namespaced(cluster.client.clone(), "default");
    let warning = eventually("a Warning event for the broken Service", || async {
        let listed = events.list(&ListParams::default()).await.ok()?;
        listed.items.into_iter().find(|e| {
            e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("broken")
                && e.reason.as_deref() == Some("FailedBuildModel")
        })
    })
    .await;
    assert_eq!(warning.type_.as_deref(), Some("Warning"));
    assert!(warning
        .note
        .unwrap_or_default()
        .contains("service.beta.kubernetes.io/aws-load-balancer-scheme"));
    let listed = parse(&kubectl.ok(&["get", "events", "-o", "json"]).await);
    let seen_by_kubectl = listed["items"].as_array().unwrap().iter().any(|event| {
        event["involvedObject"]["name"] == "broken"
            && event["reason"] == "FailedBuildModel"
            && event["type"] == "Warning"
            && event["message"]
                .as_str()
                .unwrap_or_default()
                .contains("service.beta.kubernetes.io/aws-load-balancer-scheme")
    });
    assert!(
        seen_by_kubectl,
        "kubectl get events shows the warning: {listed}"
    );
    let broken = parse(&kubectl.ok(&["get", "svc", "broken", "-o", "json"]).await);
    assert!(
        broken["metadata"]["finalizers"].is_null(),
        "no finalizer: nothing was created for it"
    );
    assert_eq!(
        aws.elbv2
            .describe_load_balancers()
            .send()
            .await
            .unwrap()
            .load_balancers()
            .len(),
        1
    );

    kubectl
        .ok(&["delete", "svc", "echo", "--timeout=30s"])
        .await;
    assert!(
        aws.elbv2
            .describe_load_balancers()
            .send()
            .await
            .unwrap()
            .load_balancers()
            .is_empty(),
        "the NLB is deleted"
    );
    assert!(
        aws.elbv2
            .describe_target_groups()
            .send()
            .await
            .unwrap()
            .target_groups()
            .is_empty(),
        "the target groups are deleted"
    );
    let stack_groups = aws
        .ec2
        .describe_security_groups()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("tag:service.k8s.aws/stack")
                .values("default/echo")
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(
        stack_groups.security_groups().is_empty(),
        "the managed security group is deleted"
    );
    eventually("our rules withdrawn from the node group", || async {
        (node.rules(&aws.ec2).await == vec![node.user_rule()]).then_some(())
    })
    .await;
    loop_task.abort();
    registration_task.abort();
}

#[tokio::test]
async fn an_unchanged_service_costs_no_aws_call_until_its_drift_check_is_due() {
    let (cluster, _kubectl, reconciler) = simulated(SERVICE, Duration::from_secs(600)).await;
    reconciler
        .reconcile(&current(&cluster, "echo").await)
        .await
        .unwrap();
    assert!(
        !reconciler.cloud.calls.writes().is_empty(),
        "the first reconcile creates the stack"
    );
    reconciler.cloud.calls.clear();
    // The reconcile wrote the finalizer and status; the Service's inputs are unchanged.
    reconciler
        .reconcile(&current(&cluster, "echo").await)
        .await
        .unwrap();
    assert!(
        reconciler.cloud.calls.calls().is_empty(),
        "no AWS call: {:?}",
        reconciler.cloud.calls.calls()
    );

    let (cluster, _kubectl, drifting) = simulated(SERVICE, Duration::ZERO).await;
    drifting
        .reconcile(&current(&cluster, "echo").await)
        .await
        .unwrap();
    drifting.cloud.calls.clear();
    drifting
        .reconcile(&current(&cluster, "echo").await)
        .await
        .unwrap();
    assert!(
        drifting.cloud.calls.writes().is_empty(),
        "a due drift check of a converged stack writes nothing"
    );
    assert!(
        !drifting.cloud.calls.reads().is_empty(),
        "a due drift check reads AWS"
    );
    let reads = drifting.cloud.calls.reads();
    assert!(
        reads.len() <= 8,
        "a drift check of an unchanged NLB stack reads at most 8 times: {reads:?}"
    );
    assert!(
        !reads.contains(&"DescribeSubnets"),
        "no rediscovery for unchanged inputs: {reads:?}"
    );
}

#[tokio::test]
async fn a_load_balancer_keeps_its_scheme_when_the_scheme_annotation_goes() {
    let (cluster, kubectl, reconciler) = simulated(SERVICE, Duration::from_secs(600)).await;
    reconciler
        .reconcile(&current(&cluster, "echo").await)
        .await
        .unwrap();
    let created = reconciler.cloud.load_balancer_names();

    // The default scheme is internal; upstream keeps the existing load balancer's scheme instead.
    kubectl
        .ok(&[
            "annotate",
            "svc",
            "echo",
            "service.beta.kubernetes.io/aws-load-balancer-scheme-",
        ])
        .await;
    reconciler.cloud.calls.clear();
    reconciler
        .reconcile(&current(&cluster, "echo").await)
        .await
        .unwrap();
    assert_eq!(
        reconciler.cloud.load_balancer_names(),
        created,
        "the internet-facing NLB is kept"
    );
    let writes = reconciler.cloud.calls.writes();
    assert!(
        !writes.contains(&"DeleteLoadBalancer") && !writes.contains(&"CreateLoadBalancer"),
        "writes: {writes:?}"
    );
}

#[tokio::test]
async fn a_service_that_stops_being_ours_is_cleaned_up_and_released() {
    // The annotation route: no class, `aws-load-balancer-type: external` with a target type.
    let annotated = SERVICE
        .replace("  loadBalancerClass: service.k8s.aws/nlb\n", "")
        .replace(
            "  annotations:\n",
            "  annotations:\n    service.beta.kubernetes.io/aws-load-balancer-type: external\n",
        );
    let (cluster, kubectl, reconciler) = simulated(&annotated, Duration::from_secs(600)).await;
    reconciler
        .reconcile(&current(&cluster, "echo").await)
        .await
        .unwrap();
    assert_eq!(reconciler.cloud.load_balancer_names().len(), 1);
    let bindings = parse(
        &kubectl
            .ok(&["get", "targetgroupbindings", "-o", "json"])
            .await,
    );
    let binding = &bindings["items"][0];
    assert_eq!(
        binding["metadata"]["name"].as_str(),
        reconciler
            .cloud
            .target_group_names()
            .first()
            .map(String::as_str)
    );
    assert_eq!(
        binding["metadata"]["labels"]["service.k8s.aws/stack-name"],
        "echo"
    );
    assert_eq!(
        binding["spec"]["serviceRef"],
        serde_json::json!({"name": "echo", "port": 80})
    );
    assert_eq!(binding["spec"]["targetType"], "ip");
    let rule = &binding["spec"]["networking"]["ingress"][0];
    let source = rule["from"][0]["securityGroup"]["groupID"]
        .as_str()
        .unwrap();
    assert_eq!(
        Some(source.to_string()),
        reconciler.cloud.security_group_id(
            &aws_load_balancer_controller::naming::backend_security_group_name("prod")
        ),
        "the pods admit the shared backend group"
    );
    assert_eq!(
        rule["ports"],
        serde_json::json!([{"protocol": "TCP", "port": 8080}]),
        "on the target port"
    );

    kubectl
        .ok(&[
            "annotate",
            "svc",
            "echo",
            "service.beta.kubernetes.io/aws-load-balancer-type-",
        ])
        .await;
    // AWS still holds the managed group on the deleted NLB's interfaces once.
    reconciler.cloud.fail_call(
        "DeleteSecurityGroup",
        1,
        aws_load_balancer_controller::cloud::ErrorKind::InUse,
    );
    let waiting = reconciler
        .reconcile(&current(&cluster, "echo").await)
        .await
        .unwrap_err();
    match &waiting {
        aws_load_balancer_controller::controller::ReconcileError::Deploy(deploy) => {
            assert!(deploy.waits_on_security_group_release(), "{deploy}")
        }
        other => panic!("not a deploy error: {other}"),
    }
    let warnings: Vec<Event> = Api::<Event>::namespaced(cluster.client.clone(), "default")
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.type_.as_deref() == Some("Warning"))
        .collect();
    assert!(
        warnings.is_empty(),
        "a group AWS has not released yet is waited on, not warned about: {warnings:?}"
    );
    reconciler
        .reconcile(&current(&cluster, "echo").await)
        .await
        .unwrap();
    assert!(
        reconciler.cloud.load_balancer_names().is_empty(),
        "the NLB of a Service no longer ours is deleted"
    );
    assert!(reconciler.cloud.target_group_names().is_empty());
    let left = parse(
        &kubectl
            .ok(&["get", "targetgroupbindings", "-o", "json"])
            .await,
    );
    assert_eq!(
        left["items"],
        serde_json::json!([]),
        "the stack's bindings are deleted"
    );
    let released = parse(&kubectl.ok(&["get", "svc", "echo", "-o", "json"]).await);
    assert!(
        released["metadata"]["finalizers"].is_null(),
        "the finalizer is removed: {released}"
    );
    assert!(
        released["status"]["loadBalancer"]["ingress"].is_null(),
        "the status no longer points at a load balancer: {released}"
    );
}

#[tokio::test]
async fn a_malformed_annotation_costs_no_aws_call() {
    let broken = SERVICE.replace("scheme: internet-facing", "scheme: sideways");
    let (cluster, kubectl, reconciler) = simulated(&broken, Duration::from_secs(600)).await;
    reconciler
        .reconcile(&current(&cluster, "echo").await)
        .await
        .unwrap();
    assert!(
        reconciler.cloud.calls.calls().is_empty(),
        "AWS calls: {:?}",
        reconciler.cloud.calls.calls()
    );
    let service = parse(&kubectl.ok(&["get", "svc", "echo", "-o", "json"]).await);
    let condition = reconciled_condition(&service);
    assert_eq!(condition["status"], "False");
    assert_eq!(condition["reason"], "FailedBuildModel");
    assert!(
        condition["message"]
            .as_str()
            .unwrap()
            .contains("service.beta.kubernetes.io/aws-load-balancer-scheme"),
        "{condition}"
    );
    // Retried without a change, it stays quiet.
    reconciler
        .reconcile(&current(&cluster, "echo").await)
        .await
        .unwrap();
    assert!(reconciler.cloud.calls.calls().is_empty());
}
