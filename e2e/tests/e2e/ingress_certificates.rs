//! `create-acm-cert` end to end (gate `EnableCertificateManagement`; kubectl → emulator → the
//! Ingress loop → moto through the SDK): the controller requests an ACM certificate for the
//! Ingress's hosts with its tracking tags and, once ACM has issued it (moto issues at once), the
//! HTTPS listener serves it; validation records go into the Route 53 zone of their domain through
//! the SDK; deleting the Ingress deletes the certificate with the load balancer.

use crate::ingress_loop::{https_listener, start, ALB_CLASS, WEB_SERVICE};
use crate::waiting::eventually;

const MANIFESTS: &str = r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: shop
  namespace: default
  annotations:
    alb.ingress.kubernetes.io/listen-ports: '[{"HTTPS": 443}]'
    alb.ingress.kubernetes.io/create-acm-cert: "true"
spec:
  ingressClassName: alb
  rules:
    - host: shop.example.com
      http:
        paths:
          - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
"#;

#[tokio::test]
async fn an_ingress_asking_for_a_certificate_gets_one_and_it_goes_with_the_ingress_in_moto() {
    let ingress_loop = start(13, "kubernetes.io/role/internal-elb", |config| {
        config.feature_gates.certificate_management = true;
    })
    .await;
    let (aws, kubectl) = (&ingress_loop.aws, &ingress_loop.kubectl);
    let zone = aws
        .route53
        .create_hosted_zone()
        .name("example.com")
        .caller_reference("e2e-certificates")
        .send()
        .await
        .unwrap()
        .hosted_zone()
        .map(|z| z.id().to_string())
        .unwrap();
    kubectl.apply(ALB_CLASS).await;
    kubectl.apply(WEB_SERVICE).await;
    kubectl.apply(MANIFESTS).await;

    // Moto issues a requested certificate at once; the HTTPS listener then carries it.
    let (listener_certificate, load_balancer) = eventually("the HTTPS listener", || async {
        let (arn, listener) = https_listener(aws).await?;
        let certificate = listener
            .certificates()
            .first()?
            .certificate_arn()?
            .to_string();
        Some((certificate, arn))
    })
    .await;
    let detail = aws
        .acm
        .describe_certificate()
        .certificate_arn(&listener_certificate)
        .send()
        .await
        .unwrap();
    let detail = detail.certificate().unwrap();
    assert_eq!(detail.domain_name(), Some("shop.example.com"));
    let tags = aws
        .acm
        .list_tags_for_certificate()
        .certificate_arn(&listener_certificate)
        .send()
        .await
        .unwrap();
    let resource = tags
        .tags()
        .iter()
        .find(|t| t.key() == "ingress.k8s.aws/resource")
        .and_then(|t| t.value())
        .unwrap_or_default()
        .to_string();
    assert!(
        resource.starts_with("amazon_issued/shop.example.com-"),
        "{resource}"
    );
    // Moto issues at once, so the controller had no record to write; write one the way it
    // does for a pending certificate (zone found by suffix, upserted) and read it back.
    use aws_load_balancer_controller::cloud::ports::*;
    use aws_load_balancer_controller::cloud::ValidationRecord;
    let record = ValidationRecord {
        name: "_check.shop.example.com.".into(),
        record_type: "CNAME".into(),
        value: "_token.acm-validations.aws.".into(),
    };
    let cloud = ingress_loop.moto.cloud().await;
    cloud
        .write_validation_records(std::slice::from_ref(&record))
        .await
        .unwrap();
    cloud
        .write_validation_records(std::slice::from_ref(&record))
        .await
        .expect("upserting the same record again is fine");
    let records = aws
        .route53
        .list_resource_record_sets()
        .hosted_zone_id(&zone)
        .send()
        .await
        .unwrap();
    assert!(
        records
            .resource_record_sets()
            .iter()
            .any(|r| r.name() == record.name
                && r.resource_records()
                    .iter()
                    .any(|v| v.value() == record.value)),
        "{records:?}"
    );
    let elsewhere = ValidationRecord {
        name: "_check.shop.example.org.".into(),
        ..record.clone()
    };
    let refused = cloud.write_validation_records(&[elsewhere]).await;
    assert_eq!(
        refused.map_err(|e| e.kind),
        Err(aws_load_balancer_controller::cloud::ErrorKind::NotFound),
        "no zone serves example.org"
    );

    // The Ingress goes: its load balancer and its certificate go with it.
    kubectl.ok(&["delete", "ingress", "shop"]).await;
    eventually("the certificate deleted", || async {
        let left = aws.acm.list_certificates().send().await.ok()?;
        let gone = !left
            .certificate_summary_list()
            .iter()
            .any(|c| c.certificate_arn() == Some(listener_certificate.as_str()));
        let lbs = aws.elbv2.describe_load_balancers().send().await.ok()?;
        (gone
            && lbs
                .load_balancers()
                .iter()
                .all(|lb| lb.load_balancer_arn() != Some(&load_balancer)))
        .then_some(())
    })
    .await;
}
