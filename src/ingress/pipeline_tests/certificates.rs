//! Pipeline tests of `create-acm-cert` (gate `EnableCertificateManagement`): the certificate is
//! requested and its validation records written before the build, the Ingress waits (held)
//! while the rest of its group reconciles, joins with the certificate once issued, and the
//! certificate goes once no Ingress asks for it; a certificate pending too long is requested
//! anew; a domain no Route 53 zone serves holds only its Ingress.

use super::{member, with_annotation, Harness};
use k8s_openapi::api::networking::v1::Ingress;
use std::time::Duration;

/// Member `a` of group `web` on HTTPS 443 with host `shop.example.com`, asking for a certificate.
fn asking() -> Ingress {
    let mut ingress = with_annotation(
        with_annotation(
            member("a", 0, &["/a"]),
            "listen-ports",
            r#"[{"HTTPS": 443}]"#,
        ),
        "create-acm-cert",
        "true",
    );
    let spec = ingress.spec.as_mut().unwrap();
    spec.rules.as_mut().unwrap()[0].host = Some("shop.example.com".into());
    ingress
}

fn harness() -> Harness {
    let mut harness = Harness::new();
    harness.config.feature_gates.certificate_management = true;
    harness.cloud.add_hosted_zone("example.com");
    harness
}

#[tokio::test]
async fn a_requested_certificate_holds_its_ingress_until_issued_then_serves_and_goes_when_unwanted()
{
    let mut harness = harness();
    let a = asking();
    let b = member("b", 10, &["/b"]);
    let members = [a.clone(), b.clone()];
    let held = harness.reconcile(&members).await.unwrap();
    assert_eq!(held, ["shop/a"], "a waits for its certificate; b goes on");
    assert_eq!(
        harness.cloud.requested_certificates(),
        [(
            "shop.example.com".to_string(),
            "PENDING_VALIDATION".to_string()
        )]
    );
    assert!(harness
        .cloud
        .calls
        .writes()
        .contains(&"ChangeResourceRecordSets"));
    assert_eq!(
        harness.cloud.listener_ports(),
        [80],
        "no HTTPS listener without a certificate"
    );

    // ACM validates through the records written into the zone.
    assert_eq!(harness.cloud.validate_certificates(), 1);
    let held = harness.reconcile(&members).await.unwrap();
    assert!(held.is_empty(), "{held:?}");
    let certificates = harness.cloud.listener_certificates(443);
    assert_eq!(certificates.len(), 1);
    assert!(
        certificates[0].starts_with("arn:aws:acm:"),
        "{certificates:?}"
    );
    harness.cloud.calls.clear();
    harness.reconcile(&members).await.unwrap();
    assert!(
        harness.cloud.calls.writes().is_empty(),
        "issued: no request, no record: {:?}",
        harness.cloud.calls.writes()
    );

    // a names a certificate of its own: the requested one goes once the listener lets it go.
    let own = with_annotation(
        a.clone(),
        "certificate-arn",
        "arn:aws:acm:us-west-2:123456789012:certificate/own",
    );
    harness.reconcile(&[own, b.clone()]).await.unwrap();
    assert!(harness.cloud.requested_certificates().is_empty());
    assert_eq!(
        harness.cloud.listener_certificates(443),
        ["arn:aws:acm:us-west-2:123456789012:certificate/own"]
    );
}

#[tokio::test]
async fn a_certificate_pending_too_long_is_requested_anew() {
    let mut harness = harness();
    let members = [asking(), member("b", 10, &["/b"])];
    harness.reconcile(&members).await.unwrap();
    harness.cloud.calls.clear();
    harness.reconcile(&members).await.unwrap();
    assert_eq!(
        harness.cloud.calls.writes(),
        ["ChangeResourceRecordSets"],
        "while pending, only its records are written again"
    );
    harness.cloud.age_certificates(Duration::from_secs(6 * 60));
    harness.cloud.calls.clear();
    harness.reconcile(&members).await.unwrap();
    let writes = harness.cloud.calls.writes();
    assert!(
        writes.starts_with(&["DeleteCertificate", "RequestCertificate"]),
        "{writes:?}"
    );
    assert_eq!(harness.cloud.requested_certificates().len(), 1);
}

#[tokio::test]
async fn a_domain_no_zone_serves_holds_only_its_ingress_and_says_what_to_do() {
    let mut harness = Harness::new();
    harness.config.feature_gates.certificate_management = true;
    let members = [asking(), member("b", 10, &["/b"])];
    let held = harness.reconcile(&members).await.unwrap();
    assert_eq!(held, ["shop/a"]);
    assert_eq!(harness.rules(), ["/b"], "b reconciled");
    assert_eq!(harness.cloud.requested_certificates().len(), 1);
}
