//! What an HTTPS Ingress asks of AWS beyond load balancer, listeners and rules, end to end
//! (kubectl → emulator → the Ingress loop → moto through the SDK): its certificate found in ACM
//! by host, its WAFv2 web ACL found by name and associated, its listener attributes, OIDC
//! authentication with the client credentials of a Secret, and a gRPC target group; then a full
//! re-check writes nothing (what AWS reports back, without the client secret, matches).

use crate::ingress_loop::{https_listener, start, ALB_CLASS};
use crate::waiting::eventually;
use aws_sdk_wafv2::types::{AllowAction, DefaultAction, Scope, VisibilityConfig};
use e2e::moto::create_ip_target_group;

const MANIFESTS: &str = r#"apiVersion: v1
kind: Service
metadata:
  name: greeter
  namespace: default
  annotations:
    alb.ingress.kubernetes.io/backend-protocol-version: GRPC
spec:
  type: NodePort
  ports: [{port: 50051, targetPort: 50051, nodePort: 30051}]
---
apiVersion: v1
kind: Secret
metadata: {name: idp, namespace: default}
stringData: {clientID: secure-app, clientSecret: s3cr3t}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: secure
  namespace: default
  annotations:
    alb.ingress.kubernetes.io/listen-ports: '[{"HTTP": 80}, {"HTTPS": 443}]'
    alb.ingress.kubernetes.io/ssl-redirect: "443"
    alb.ingress.kubernetes.io/wafv2-acl-name: edge
    alb.ingress.kubernetes.io/listener-attributes.HTTPS-443: routing.http.response.server.enabled=false
    alb.ingress.kubernetes.io/actions.legacy: '{"type": "forward", "targetGroupName": "legacy-blue"}'
    alb.ingress.kubernetes.io/auth-type: oidc
    alb.ingress.kubernetes.io/auth-idp-oidc: '{"issuer": "https://idp.example.com", "authorizationEndpoint": "https://idp.example.com/authorize", "tokenEndpoint": "https://idp.example.com/token", "userInfoEndpoint": "https://idp.example.com/userinfo", "secretName": "idp"}'
spec:
  ingressClassName: alb
  defaultBackend: {service: {name: greeter, port: {number: 50051}}}
  rules:
    - host: secure.example.com
      http:
        paths:
          - {path: /legacy, pathType: Prefix, backend: {service: {name: legacy, port: {name: use-annotation}}}}
          - {path: /, pathType: Prefix, backend: {service: {name: greeter, port: {number: 50051}}}}
"#;

#[tokio::test]
async fn an_https_ingress_gets_its_acm_certificate_web_acl_and_listener_attributes_in_moto() {
    let ingress_loop = start(7, "kubernetes.io/role/internal-elb", |_| {}).await;
    let (aws, kubectl) = (&ingress_loop.aws, &ingress_loop.kubectl);
    let certificate = aws
        .acm
        .request_certificate()
        .domain_name("secure.example.com")
        .subject_alternative_names("secure.example.com")
        .subject_alternative_names("*.example.com")
        .send()
        .await
        .unwrap()
        .certificate_arn()
        .unwrap()
        .to_string();
    let web_acl = aws
        .wafv2
        .create_web_acl()
        .name("edge")
        .scope(Scope::Regional)
        .default_action(
            DefaultAction::builder()
                .allow(AllowAction::builder().build())
                .build(),
        )
        .visibility_config(
            VisibilityConfig::builder()
                .sampled_requests_enabled(false)
                .cloud_watch_metrics_enabled(false)
                .metric_name("edge")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .summary()
        .and_then(|s| s.arn())
        .unwrap()
        .to_string();

    let legacy = create_ip_target_group(&aws.elbv2, "legacy-blue", &ingress_loop.vpc_id).await;
    kubectl.apply(ALB_CLASS).await;
    kubectl.apply(MANIFESTS).await;

    let https = eventually("the HTTPS listener", || async {
        let (arn, listener) = https_listener(aws).await?;
        // The web ACL is associated after the listeners; wait for the whole deploy.
        let associated = aws
            .wafv2
            .get_web_acl_for_resource()
            .resource_arn(&arn)
            .send()
            .await
            .ok()?
            .web_acl()
            .map(|acl| acl.arn().to_string())?;
        Some((arn, listener, associated))
    })
    .await;
    let (_, listener, associated) = https;
    assert_eq!(associated, web_acl, "the web ACL named edge is associated");
    assert_eq!(
        listener.certificates()[0].certificate_arn(),
        Some(certificate.as_str()),
        "the certificate covering the host was found in ACM"
    );
    let attributes = aws
        .elbv2
        .describe_listener_attributes()
        .listener_arn(listener.listener_arn().unwrap())
        .send()
        .await
        .unwrap();
    assert!(
        attributes
            .attributes()
            .iter()
            .any(|a| a.key() == Some("routing.http.response.server.enabled")
                && a.value() == Some("false")),
        "{attributes:?}"
    );
    let groups = aws.elbv2.describe_target_groups().send().await.unwrap();
    let group = groups
        .target_groups()
        .iter()
        .find(|g| g.target_group_arn() != Some(legacy.as_str()))
        .unwrap();
    assert_eq!(group.protocol_version(), Some("GRPC"));
    assert_eq!(group.matcher().and_then(|m| m.grpc_code()), Some("12"));
    assert_eq!(group.health_check_path(), Some("/AWS.ALB/healthcheck"));
    let rules = aws
        .elbv2
        .describe_rules()
        .listener_arn(listener.listener_arn().unwrap())
        .send()
        .await
        .unwrap();
    let rules: Vec<_> = rules
        .rules()
        .iter()
        .filter(|r| r.is_default() != Some(true))
        .collect();
    for rule in &rules {
        let first = rule
            .actions()
            .iter()
            .find(|a| a.order() == Some(1))
            .unwrap();
        let oidc = first.authenticate_oidc_config().unwrap();
        assert_eq!(oidc.client_id(), Some("secure-app"));
        assert_eq!(oidc.issuer(), Some("https://idp.example.com"));
    }
    let default_auth = listener
        .default_actions()
        .iter()
        .find(|a| a.order() == Some(1))
        .and_then(|a| a.authenticate_oidc_config());
    assert_eq!(
        default_auth.and_then(|c| c.client_id()),
        Some("secure-app"),
        "the default backend is authenticated too"
    );
    assert!(
        rules.iter().any(|rule| rule
            .actions()
            .iter()
            .any(|a| a.target_group_arn() == Some(legacy.as_str()))),
        "the action naming legacy-blue forwards to it: {rules:?}"
    );

    // A full re-check of the converged group writes nothing.
    ingress_loop
        .assert_recheck_writes_nothing("secure", "DescribeRules")
        .await;
}
