//! A frontend NLB end to end (kubectl → emulator → the Ingress loop → moto through the SDK): an
//! Ingress asking for one gets an NLB in front of its ALB, an `alb` target group per port with
//! the ALB registered in it, and a second hostname in its status; a full re-check writes
//! nothing; switching the frontend off removes the NLB and keeps the ALB; deleting the Ingress
//! removes everything. With the `IngressPlanAnnotation` gate the desired stack shows in the
//! Ingress's `dry-run-plan` annotation.

use crate::waiting::eventually;
use aws_load_balancer_controller::config::ControllerConfig;
use aws_load_balancer_controller::controller::ingress::{
    run_ingress_controller, IngressReconciler,
};
use e2e::cluster::TestCluster;
use e2e::kubectl::Kubectl;
use e2e::moto::{create_vpc_with_subnets, MotoServer};
use std::collections::BTreeMap;
use std::sync::Arc;

const MANIFESTS: &str = r#"apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: alb}
spec: {controller: ingress.k8s.aws/alb}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  type: NodePort
  ports: [{port: 80, targetPort: 8080, nodePort: 30080}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: fronted
  namespace: default
  annotations:
    alb.ingress.kubernetes.io/enable-frontend-nlb: "true"
    alb.ingress.kubernetes.io/frontend-nlb-listener-port-mapping: 8080=80
    alb.ingress.kubernetes.io/frontend-nlb-healthcheck-path: /healthz
spec:
  ingressClassName: alb
  rules:
    - http:
        paths:
          - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
"#;

/// Load balancers in moto: type → (name, ARN, DNS name lower-cased).
async fn load_balancers(
    elbv2: &aws_sdk_elasticloadbalancingv2::Client,
) -> BTreeMap<String, (String, String, String)> {
    let Ok(found) = elbv2.describe_load_balancers().send().await else {
        return BTreeMap::new();
    };
    found
        .load_balancers()
        .iter()
        .map(|lb| {
            (
                lb.r#type()
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_default(),
                (
                    lb.load_balancer_name().unwrap_or_default().to_string(),
                    lb.load_balancer_arn().unwrap_or_default().to_string(),
                    lb.dns_name().unwrap_or_default().to_lowercase(),
                ),
            )
        })
        .collect()
}

#[tokio::test]
async fn an_ingress_with_a_frontend_nlb_gets_one_in_front_of_its_alb_in_moto() {
    let moto = MotoServer::lease().await;
    let aws = moto.clients().await;
    let (vpc_id, _) = create_vpc_with_subnets(
        &aws.ec2,
        11,
        &["us-west-2a", "us-west-2b"],
        "kubernetes.io/role/internal-elb",
    )
    .await;
    let cluster = TestCluster::start().await;
    let kubectl = Kubectl::new(&cluster.url());
    let cloud = moto.cloud().await;
    let calls = cloud.calls.clone();
    let mut config = ControllerConfig::new("e2e-cluster", &vpc_id);
    config.feature_gates.ingress_plan_annotation = true;
    let mut reconciler = IngressReconciler::new(cluster.client.clone(), cloud, config, "alb");
    reconciler.drift_check_interval = std::time::Duration::ZERO;
    let loop_task = tokio::spawn(run_ingress_controller(Arc::new(reconciler)));
    kubectl.apply(MANIFESTS).await;

    // Both hostnames in the status means the whole deploy (registration included) is done.
    let hostnames = eventually("two hostnames in the Ingress status", || async {
        let printed = kubectl
            .ok(&[
                "get",
                "ingress",
                "fronted",
                "-o",
                "jsonpath={.status.loadBalancer.ingress[*].hostname}",
            ])
            .await;
        let names: Vec<String> = printed.split_whitespace().map(str::to_string).collect();
        (names.len() == 2).then_some(names)
    })
    .await;
    let balancers = load_balancers(&aws.elbv2).await;
    let (alb_name, alb_arn, alb_dns) = balancers["application"].clone();
    let (nlb_name, nlb_arn, nlb_dns) = balancers["network"].clone();
    assert_eq!(
        nlb_name,
        format!("{}-nlb", &alb_name[..alb_name.len().min(28)])
    );
    assert_eq!(
        hostnames,
        [alb_dns, nlb_dns],
        "the ALB's first, the NLB's second"
    );

    let groups = aws.elbv2.describe_target_groups().send().await.unwrap();
    let frontend_group = groups
        .target_groups()
        .iter()
        .find(|g| g.target_type().map(|t| t.as_str()) == Some("alb"))
        .expect("an alb target group");
    assert_eq!(frontend_group.port(), Some(8080));
    assert_eq!(frontend_group.health_check_path(), Some("/healthz"));
    let health = aws
        .elbv2
        .describe_target_health()
        .target_group_arn(frontend_group.target_group_arn().unwrap())
        .send()
        .await
        .unwrap();
    let targets: Vec<(String, i32)> = health
        .target_health_descriptions()
        .iter()
        .filter_map(|d| d.target())
        .map(|t| {
            (
                t.id().unwrap_or_default().to_string(),
                t.port().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(targets, [(alb_arn.clone(), 80)], "the ALB, on its port 80");
    let listeners = aws
        .elbv2
        .describe_listeners()
        .load_balancer_arn(&nlb_arn)
        .send()
        .await
        .unwrap();
    let ports: Vec<i32> = listeners
        .listeners()
        .iter()
        .filter_map(|l| l.port())
        .collect();
    assert_eq!(ports, [8080]);

    // With the IngressPlanAnnotation gate, the desired stack shows on the Ingress.
    let plan = kubectl
        .ok(&[
            "get",
            "ingress",
            "fronted",
            "-o",
            r"jsonpath={.metadata.annotations.alb\.ingress\.kubernetes\.io/dry-run-plan}",
        ])
        .await;
    let plan: serde_json::Value = serde_json::from_str(&plan).unwrap_or_default();
    assert_eq!(
        plan["frontendNlb"]["albPorts"]["FrontendNlb-tg-TCP-8080"], 80,
        "{plan}"
    );

    // A full re-check of the converged group writes nothing.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    calls.clear();
    kubectl
        .ok(&["label", "ingress", "fronted", "recheck=1"])
        .await;
    eventually("the re-check", || async {
        (calls.count("DescribeTargetHealth") > 0).then_some(())
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(calls.writes().is_empty(), "{:?}", calls.writes());

    // Switched off: the NLB and its target group go, the ALB stays.
    kubectl
        .ok(&[
            "annotate",
            "ingress",
            "fronted",
            "alb.ingress.kubernetes.io/enable-frontend-nlb-",
        ])
        .await;
    eventually("the frontend NLB gone", || async {
        let balancers = load_balancers(&aws.elbv2).await;
        (balancers.len() == 1 && balancers.contains_key("application")).then_some(())
    })
    .await;
    assert_eq!(load_balancers(&aws.elbv2).await["application"].1, alb_arn);
    eventually("one hostname in the status", || async {
        let printed = kubectl
            .ok(&[
                "get",
                "ingress",
                "fronted",
                "-o",
                "jsonpath={.status.loadBalancer.ingress[*].hostname}",
            ])
            .await;
        (printed.split_whitespace().count() == 1).then_some(())
    })
    .await;

    // Back on, then deleted: everything goes.
    kubectl
        .ok(&[
            "annotate",
            "ingress",
            "fronted",
            "alb.ingress.kubernetes.io/enable-frontend-nlb=true",
        ])
        .await;
    eventually("the frontend NLB back", || async {
        (load_balancers(&aws.elbv2).await.len() == 2).then_some(())
    })
    .await;
    kubectl.ok(&["delete", "ingress", "fronted"]).await;
    eventually("every load balancer and target group gone", || async {
        let groups = aws.elbv2.describe_target_groups().send().await.ok()?;
        (load_balancers(&aws.elbv2).await.is_empty() && groups.target_groups().is_empty())
            .then_some(())
    })
    .await;
    loop_task.abort();
}
