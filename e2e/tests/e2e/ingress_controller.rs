//! The Ingress loop end to end: kubectl against the emulator, the loop in process, moto as AWS.
//! The upstream "2048" sample becomes an internet-facing ALB with a listener, a rule and an
//! ip-mode target group carrying upstream's tags, and its hostname shows in `kubectl get
//! ingress`; two Ingresses of one group share one ALB; deleting one removes only its rules,
//! deleting both removes the ALB and every target group of the group. In instance mode, with
//! the registration loop beside it, the node's security group admits the backend group on the
//! node port until the Ingress goes.

use crate::waiting::eventually;
use aws_load_balancer_controller::config::ControllerConfig;
use aws_load_balancer_controller::controller::ingress::{
    run_ingress_controller, IngressReconciler,
};
use aws_load_balancer_controller::registration::networking::NetworkingSettings;
use aws_load_balancer_controller::registration::run_registration_loop;
use aws_load_balancer_controller::watched::services::WatchedServices;
use aws_sdk_elasticloadbalancingv2::Client as Elbv2;
use e2e::cluster::TestCluster;
use e2e::kubectl::Kubectl;
use e2e::moto::{create_vpc_with_subnets, MotoServer, NodeGroup};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

const ALB_CLASS: &str = "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: alb}\nspec: {controller: ingress.k8s.aws/alb}\n";

/// Load balancer ARN → its `ingress.k8s.aws/stack` tag.
async fn load_balancers(elbv2: &Elbv2) -> BTreeMap<String, String> {
    let described = elbv2.describe_load_balancers().send().await.unwrap();
    let mut found = BTreeMap::new();
    for lb in described.load_balancers() {
        let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
        let tags = elbv2
            .describe_tags()
            .resource_arns(&arn)
            .send()
            .await
            .unwrap();
        let stack = tags.tag_descriptions()[0]
            .tags()
            .iter()
            .find(|t| t.key() == Some("ingress.k8s.aws/stack"))
            .and_then(|t| t.value())
            .unwrap_or_default()
            .to_string();
        found.insert(arn, stack);
    }
    found
}

/// Path-pattern values of the rules of every listener of the load balancer, in priority order.
async fn rule_paths(elbv2: &Elbv2, load_balancer: &str) -> Vec<String> {
    let listeners = elbv2
        .describe_listeners()
        .load_balancer_arn(load_balancer)
        .send()
        .await
        .unwrap();
    let mut paths = Vec::new();
    for listener in listeners.listeners() {
        let rules = elbv2
            .describe_rules()
            .listener_arn(listener.listener_arn().unwrap())
            .send()
            .await
            .unwrap();
        let mut rules: Vec<_> = rules
            .rules()
            .iter()
            .filter(|r| r.is_default() != Some(true))
            .collect();
        rules.sort_by_key(|r| {
            r.priority()
                .unwrap_or_default()
                .parse::<i32>()
                .unwrap_or_default()
        });
        for rule in rules {
            for condition in rule.conditions() {
                if condition.field() == Some("path-pattern") {
                    let values = condition
                        .path_pattern_config()
                        .map(|c| c.values().to_vec())
                        .filter(|v| !v.is_empty())
                        .unwrap_or_else(|| condition.values().to_vec());
                    paths.push(values.join(","));
                }
            }
        }
    }
    paths
}

/// The 2048 sample's Ingress as `kubectl get -o json` prints it.
async fn sample_ingress(kubectl: &Kubectl) -> Value {
    let printed = kubectl
        .ok(&[
            "get",
            "ingress",
            "ingress-2048",
            "-n",
            "game-2048",
            "-o",
            "json",
        ])
        .await;
    serde_json::from_str(&printed).unwrap_or(Value::Null)
}

fn member(name: &str, path: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {name}\n  namespace: game-2048\n  annotations:\n    alb.ingress.kubernetes.io/group.name: shared\n    alb.ingress.kubernetes.io/scheme: internet-facing\n    alb.ingress.kubernetes.io/target-type: ip\nspec:\n  ingressClassName: alb\n  rules:\n    - http:\n        paths:\n          - {{path: {path}, pathType: Prefix, backend: {{service: {{name: service-2048, port: {{number: 80}}}}}}}}\n"
    )
}

#[tokio::test]
async fn the_2048_sample_and_a_group_become_albs_in_moto() {
    let moto = MotoServer::lease().await;
    let aws = moto.clients().await;
    let (vpc_id, _) = create_vpc_with_subnets(
        &aws.ec2,
        9,
        &["us-west-2a", "us-west-2b"],
        "kubernetes.io/role/elb",
    )
    .await;
    let cluster = TestCluster::start().await;
    let kubectl = Kubectl::new(&cluster.url());
    let cloud = moto.cloud().await;
    let reconciler = Arc::new(IngressReconciler::new(
        cluster.client.clone(),
        cloud,
        ControllerConfig::new("e2e-cluster", &vpc_id),
        "alb",
    ));
    let loop_task = tokio::spawn(run_ingress_controller(
        reconciler,
        WatchedServices::spawn(&cluster.client),
    ));

    kubectl.apply(ALB_CLASS).await;
    kubectl.apply(e2e::samples::GAME_2048).await;
    let (sample_arn, _) = eventually("the 2048 ALB in moto", || async {
        load_balancers(&aws.elbv2)
            .await
            .into_iter()
            .find(|(_, stack)| stack == "game-2048/ingress-2048")
    })
    .await;
    let described = aws
        .elbv2
        .describe_load_balancers()
        .load_balancer_arns(&sample_arn)
        .send()
        .await
        .unwrap();
    let alb = &described.load_balancers()[0];
    assert_eq!(alb.scheme().map(|s| s.as_str()), Some("internet-facing"));
    let dns = alb.dns_name().unwrap().to_lowercase();
    let hostname = eventually("the hostname in kubectl get ingress", || async {
        sample_ingress(&kubectl).await["status"]["loadBalancer"]["ingress"][0]["hostname"]
            .as_str()
            .map(str::to_string)
    })
    .await;
    assert_eq!(hostname, dns);
    assert_eq!(rule_paths(&aws.elbv2, &sample_arn).await, ["/*"]);
    let groups = aws.elbv2.describe_target_groups().send().await.unwrap();
    let sample_group = &groups.target_groups()[0];
    assert_eq!(sample_group.target_type().map(|t| t.as_str()), Some("ip"));
    let tags = aws
        .elbv2
        .describe_tags()
        .resource_arns(sample_group.target_group_arn().unwrap())
        .send()
        .await
        .unwrap();
    let tags: BTreeMap<&str, &str> = tags.tag_descriptions()[0]
        .tags()
        .iter()
        .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()))
        .collect();
    assert_eq!(tags["elbv2.k8s.aws/cluster"], "e2e-cluster");
    assert_eq!(tags["ingress.k8s.aws/stack"], "game-2048/ingress-2048");
    assert_eq!(
        tags["ingress.k8s.aws/resource"],
        "game-2048/ingress-2048-service-2048:80"
    );
    let stored = sample_ingress(&kubectl).await;
    assert_eq!(
        stored["metadata"]["finalizers"],
        serde_json::json!(["ingress.k8s.aws/resources"])
    );

    // Two Ingresses in one group: one ALB with both members' rules.
    kubectl.apply(&member("one", "/one")).await;
    kubectl.apply(&member("two", "/two")).await;
    let (shared_arn, _) = eventually("the group's ALB with both members' rules", || async {
        let (arn, stack) = load_balancers(&aws.elbv2)
            .await
            .into_iter()
            .find(|(_, stack)| stack == "shared")?;
        (rule_paths(&aws.elbv2, &arn).await.len() == 2).then_some((arn, stack))
    })
    .await;
    assert_eq!(
        load_balancers(&aws.elbv2).await.len(),
        2,
        "one ALB for the sample, one for the group"
    );
    assert_eq!(
        rule_paths(&aws.elbv2, &shared_arn).await,
        ["/one,/one/*", "/two,/two/*"]
    );

    kubectl
        .ok(&[
            "delete",
            "ingress",
            "one",
            "-n",
            "game-2048",
            "--timeout=30s",
        ])
        .await;
    eventually("only the remaining member's rule", || async {
        (rule_paths(&aws.elbv2, &shared_arn).await == ["/two,/two/*"]).then_some(())
    })
    .await;
    assert!(
        load_balancers(&aws.elbv2).await.contains_key(&shared_arn),
        "the group's ALB stays"
    );

    kubectl
        .ok(&[
            "delete",
            "ingress",
            "two",
            "-n",
            "game-2048",
            "--timeout=30s",
        ])
        .await;
    eventually("the group's ALB and target groups gone", || async {
        let gone = !load_balancers(&aws.elbv2).await.contains_key(&shared_arn);
        let groups = aws.elbv2.describe_target_groups().send().await.ok()?;
        (gone && groups.target_groups().len() == 1).then_some(())
    })
    .await;

    let events: Value = serde_json::from_str(
        &kubectl
            .ok(&["get", "events", "-n", "game-2048", "-o", "json"])
            .await,
    )
    .unwrap();
    assert!(
        events["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["reason"] == "SuccessfullyReconciled"),
        "kubectl get events shows the reconcile"
    );
    loop_task.abort();
}

#[tokio::test]
async fn an_instance_mode_ingress_opens_the_node_group_to_the_backend_group_on_its_node_port() {
    let moto = MotoServer::lease().await;
    let aws = moto.clients().await;
    let (vpc_id, _) = create_vpc_with_subnets(
        &aws.ec2,
        7,
        &["us-west-2a", "us-west-2b"],
        "kubernetes.io/role/elb",
    )
    .await;
    let node = NodeGroup::create(&aws.ec2, &vpc_id, &[]).await;
    let cluster = TestCluster::start().await;
    cluster
        .server
        .emulator
        .seed(serde_json::json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": "node-a"},
            "spec": {"providerID": format!("aws:///us-west-2a/{}", node.instance_id)},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}
        }))
        .unwrap();
    let kubectl = Kubectl::new(&cluster.url());
    let config = ControllerConfig::new("e2e-cluster", &vpc_id);
    let loop_task = tokio::spawn(run_ingress_controller(
        Arc::new(IngressReconciler::new(
            cluster.client.clone(),
            moto.cloud().await,
            config.clone(),
            "alb",
        )),
        WatchedServices::spawn(&cluster.client),
    ));
    let registration_task = tokio::spawn(run_registration_loop(
        cluster.client.clone(),
        moto.cloud().await,
        NetworkingSettings::from_config(&config),
        WatchedServices::spawn(&cluster.client),
    ));
    kubectl.apply(ALB_CLASS).await;
    kubectl
        .apply(
            "apiVersion: v1\nkind: Service\nmetadata: {name: echo, namespace: default}\n\
             spec: {type: NodePort, ports: [{port: 80, targetPort: 8080, nodePort: 30080}]}\n---\n\
             apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: echo, namespace: default, annotations: {alb.ingress.kubernetes.io/scheme: internet-facing}}\n\
             spec:\n  ingressClassName: alb\n  rules:\n    - http:\n        paths:\n          - {path: /, pathType: Prefix, backend: {service: {name: echo, port: {number: 80}}}}\n",
        )
        .await;
    let backend = eventually("the backend security group", || async {
        e2e::moto::backend_security_group(&aws.ec2, &vpc_id).await
    })
    .await;
    eventually(
        "the node group admitting the backend group on the node port",
        || async { node.admits(&aws.ec2, 30080, &backend).await },
    )
    .await;
    eventually("the node registered on its node port", || async {
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
        health
            .target_health_descriptions()
            .iter()
            .any(|d| {
                d.target().and_then(|t| t.id()) == Some(node.instance_id.as_str())
                    && d.target().and_then(|t| t.port()) == Some(30080)
            })
            .then_some(())
    })
    .await;

    kubectl
        .ok(&["delete", "ingress", "echo", "--timeout=30s"])
        .await;
    eventually("our rule withdrawn, the user's kept", || async {
        (node.rules(&aws.ec2).await == vec![node.user_rule()]).then_some(())
    })
    .await;
    assert!(load_balancers(&aws.elbv2).await.is_empty());
    loop_task.abort();
    registration_task.abort();
}
