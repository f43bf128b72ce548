//! A frontend NLB end to end (kubectl → emulator → the Ingress loop → moto through the SDK): an
//! Ingress asking for one gets an NLB in front of its ALB, an `alb` target group per port with
//! the ALB registered in it, and a second hostname in its status; a full re-check writes
//! nothing; switching the frontend off removes the NLB and keeps the ALB; deleting the Ingress
//! removes everything. With the `IngressPlanAnnotation` gate the desired stack shows in the
//! Ingress's `dry-run-plan` annotation.

use crate::ingress_loop::{start, ALB_CLASS, WEB_SERVICE};
use crate::waiting::eventually;
use e2e::kubectl::Kubectl;
use std::collections::BTreeMap;

const MANIFESTS: &str = r#"apiVersion: networking.k8s.io/v1
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

/// The hostnames in the Ingress's status, as kubectl prints them.
async fn hostnames(kubectl: &Kubectl) -> Vec<String> {
    kubectl
        .ok(&[
            "get",
            "ingress",
            "fronted",
            "-o",
            "jsonpath={.status.loadBalancer.ingress[*].hostname}",
        ])
        .await
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn an_ingress_with_a_frontend_nlb_gets_one_in_front_of_its_alb_in_moto() {
    let ingress_loop = start(11, "kubernetes.io/role/internal-elb", |config| {
        config.feature_gates.ingress_plan_annotation = true;
    })
    .await;
    let (aws, kubectl) = (&ingress_loop.aws, &ingress_loop.kubectl);
    kubectl.apply(ALB_CLASS).await;
    kubectl.apply(WEB_SERVICE).await;
    kubectl.apply(MANIFESTS).await;

    // Both hostnames in the status means the whole deploy (registration included) is done.
    let shown = eventually("two hostnames in the Ingress status", || async {
        let names = hostnames(kubectl).await;
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
        shown,
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
    ingress_loop
        .assert_recheck_writes_nothing("fronted", "DescribeTargetHealth")
        .await;

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
        (hostnames(kubectl).await.len() == 1).then_some(())
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
}
