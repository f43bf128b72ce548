//! Pipeline tests of what a group's load balancer carries beyond rules and target groups:
//! listener attributes, protocol versions, transforms, web ACLs, Shield, capacity, address
//! pools and mutual TLS — each applied, converged with no write, changed in place.

use super::{member, with_annotation, Harness};

#[tokio::test]
async fn listener_attributes_are_set_then_read_only_where_wanted() {
    let mut harness = Harness::new();
    let plain = member("a", 0, &["/a"]);
    harness
        .reconcile(std::slice::from_ref(&plain))
        .await
        .unwrap();
    harness.cloud.calls.clear();
    harness
        .reconcile(std::slice::from_ref(&plain))
        .await
        .unwrap();
    assert_eq!(
        harness.cloud.calls.count("DescribeListenerAttributes"),
        0,
        "no listener wants attributes: none are read"
    );

    let key = "listener-attributes.HTTP-80";
    let tuned = with_annotation(
        plain.clone(),
        key,
        "routing.http.response.server.enabled=false",
    );
    assert_eq!(
        harness.writes_for(&tuned).await,
        ["ModifyListenerAttributes"]
    );
    assert_eq!(
        harness.cloud.listener_attributes(80).unwrap()["routing.http.response.server.enabled"],
        "false"
    );

    assert!(harness.writes_for(&tuned).await.is_empty());
    assert_eq!(harness.cloud.calls.count("DescribeListenerAttributes"), 1);

    let retuned = with_annotation(plain, key, "routing.http.response.server.enabled=true");
    harness.cloud.calls.clear();
    harness.reconcile(&[retuned]).await.unwrap();
    assert_eq!(harness.cloud.calls.writes(), ["ModifyListenerAttributes"]);
    assert_eq!(
        harness.cloud.listener_attributes(80).unwrap()["routing.http.response.server.enabled"],
        "true"
    );
}

#[tokio::test]
async fn a_new_listener_gets_its_attributes_and_a_grpc_target_group_its_version() {
    let mut harness = Harness::new();
    let tuned = with_annotation(
        with_annotation(
            member("a", 0, &["/a"]),
            "listener-attributes.HTTP-80",
            "routing.http.response.server.enabled=false",
        ),
        "backend-protocol-version",
        "GRPC",
    );
    harness
        .reconcile(std::slice::from_ref(&tuned))
        .await
        .unwrap();
    assert_eq!(
        harness.cloud.listener_attributes(80).unwrap()["routing.http.response.server.enabled"],
        "false"
    );
    let versions = harness.cloud.target_group_protocol_versions();
    assert_eq!(versions, [Some("GRPC".to_string())]);
    harness.cloud.calls.clear();
    harness.reconcile(&[tuned]).await.unwrap();
    assert!(harness.cloud.calls.writes().is_empty());
}

#[tokio::test]
async fn a_web_acl_is_associated_once_changed_and_removed_and_never_read_unless_named() {
    let mut harness = Harness::new();
    let first = "arn:aws:wafv2:us-west-2:123456789012:regional/webacl/first/1";
    let second = "arn:aws:wafv2:us-west-2:123456789012:regional/webacl/second/2";
    harness.cloud.add_web_acl("first", first);
    harness.cloud.add_web_acl("second", second);
    let plain = member("a", 0, &["/a"]);
    harness
        .reconcile(std::slice::from_ref(&plain))
        .await
        .unwrap();
    assert_eq!(harness.cloud.calls.count("GetWebACLForResource"), 0);
    let name = harness.cloud.load_balancer_names()[0].clone();

    let guarded = with_annotation(plain.clone(), "wafv2-acl-arn", first);
    assert_eq!(harness.writes_for(&guarded).await, ["AssociateWebACL"]);
    assert_eq!(
        harness.cloud.web_acl_of_load_balancer(&name).as_deref(),
        Some(first)
    );

    assert!(harness.writes_for(&guarded).await.is_empty());

    let moved = with_annotation(plain.clone(), "wafv2-acl-arn", second);
    assert_eq!(harness.writes_for(&moved).await, ["AssociateWebACL"]);
    assert_eq!(
        harness.cloud.web_acl_of_load_balancer(&name).as_deref(),
        Some(second)
    );

    // Without the annotation AWS is left as it is; `none` disassociates.
    assert!(harness.writes_for(&plain).await.is_empty());
    assert_eq!(
        harness.cloud.web_acl_of_load_balancer(&name).as_deref(),
        Some(second)
    );
    let cleared = with_annotation(plain, "wafv2-acl-arn", "none");
    harness
        .reconcile(std::slice::from_ref(&cleared))
        .await
        .unwrap();
    assert_eq!(harness.cloud.web_acl_of_load_balancer(&name), None);
}

#[tokio::test]
async fn a_new_load_balancer_is_associated_with_its_web_acl_right_after_creation() {
    let mut harness = Harness::new();
    let arn = "arn:aws:wafv2:us-west-2:123456789012:regional/webacl/first/1";
    harness.cloud.add_web_acl("first", arn);
    let guarded = with_annotation(member("a", 0, &["/a"]), "wafv2-acl-arn", arn);
    harness
        .reconcile(std::slice::from_ref(&guarded))
        .await
        .unwrap();
    let name = harness.cloud.load_balancer_names()[0].clone();
    assert_eq!(
        harness.cloud.web_acl_of_load_balancer(&name).as_deref(),
        Some(arn)
    );
}

#[tokio::test]
async fn transforms_are_added_and_removed_with_one_modify_each() {
    let mut harness = Harness::new();
    let plain = member("a", 0, &["/a"]);
    harness
        .reconcile(std::slice::from_ref(&plain))
        .await
        .unwrap();
    let rewritten = with_annotation(
        plain.clone(),
        "transforms.app",
        r#"[{"type": "url-rewrite", "urlRewriteConfig": {"rewrites": [{"regex": "^/a/(.*)$", "replace": "/$1"}]}}]"#,
    );
    for (step, ingress) in [("added", &rewritten), ("removed", &plain)] {
        assert_eq!(
            harness.writes_for(ingress).await,
            ["ModifyRule"],
            "transforms {step}"
        );
        assert!(
            harness.writes_for(ingress).await.is_empty(),
            "converged after {step}"
        );
    }
}

#[tokio::test]
async fn an_ipam_pool_is_given_at_creation_then_changed_and_removed_in_place() {
    let mut harness = Harness::new();
    let plain = member("a", 0, &["/a"]);
    let pooled = |pool: &str| with_annotation(plain.clone(), "ipam-ipv4-pool-id", pool);
    harness.reconcile(&[pooled("ipam-pool-1")]).await.unwrap();
    assert_eq!(
        harness.cloud.calls.count("ModifyIpPools"),
        0,
        "given at creation"
    );
    for (step, ingress) in [
        ("changed", pooled("ipam-pool-2")),
        ("removed", plain.clone()),
    ] {
        assert_eq!(
            harness.writes_for(&ingress).await,
            ["ModifyIpPools"],
            "pool {step}"
        );
        assert!(
            harness.writes_for(&ingress).await.is_empty(),
            "converged after {step}"
        );
    }
    assert_eq!(
        harness.cloud.load_balancer_names().len(),
        1,
        "never replaced"
    );
}

#[tokio::test]
async fn mutual_tls_is_set_on_the_https_listener_and_changed_in_place() {
    let mut harness = Harness::new();
    let https = |mtls: &str| {
        let ingress = with_annotation(
            with_annotation(
                member("a", 0, &["/a"]),
                "listen-ports",
                r#"[{"HTTPS": 443}]"#,
            ),
            "certificate-arn",
            "arn:aws:acm:us-west-2:123456789012:certificate/a",
        );
        with_annotation(ingress, "mutual-authentication", mtls)
    };
    let verify = https(
        r#"[{"port": 443, "mode": "verify", "trustStore": "arn:aws:elasticloadbalancing:us-west-2:123456789012:truststore/t/1"}]"#,
    );
    harness
        .reconcile(std::slice::from_ref(&verify))
        .await
        .unwrap();
    assert!(
        harness.writes_for(&verify).await.is_empty(),
        "{:?}",
        harness.cloud.calls.writes()
    );
    let passthrough = https(r#"[{"port": 443, "mode": "passthrough"}]"#);
    harness
        .reconcile(std::slice::from_ref(&passthrough))
        .await
        .unwrap();
    assert_eq!(harness.cloud.calls.writes(), ["ModifyListener"]);

    // The annotation goes: AWS is left as it is, unless EnhancedDefaultBehavior turns mTLS off.
    let mut plain = passthrough.clone();
    plain
        .metadata
        .annotations
        .as_mut()
        .unwrap()
        .remove("alb.ingress.kubernetes.io/mutual-authentication");
    assert!(harness.writes_for(&plain).await.is_empty());
    harness.config.feature_gates.enhanced_default_behavior = true;
    assert_eq!(harness.writes_for(&plain).await, ["ModifyListener"]);
    assert_eq!(
        harness
            .cloud
            .listener_mutual_authentication(443)
            .map(|m| m.mode),
        Some("off".to_string())
    );
    assert!(harness.writes_for(&plain).await.is_empty(), "off is off");
}

#[tokio::test]
async fn shield_waf_classic_and_capacity_are_applied_read_only_when_named_and_reset() {
    let mut harness = Harness::new();
    let plain = member("a", 0, &["/a"]);
    harness
        .reconcile(std::slice::from_ref(&plain))
        .await
        .unwrap();
    let name = harness.cloud.load_balancer_names()[0].clone();
    for read in [
        "GetWebACLForResource",
        "DescribeProtection",
        "DescribeCapacityReservation",
    ] {
        assert_eq!(harness.cloud.calls.count(read), 0, "{read} without a wish");
    }

    // Without a subscription Shield is skipped, as upstream; the others apply.
    let guarded = with_annotation(
        with_annotation(
            with_annotation(plain.clone(), "shield-advanced-protection", "true"),
            "waf-acl-id",
            "acl-1",
        ),
        "minimum-load-balancer-capacity",
        "CapacityUnits=100",
    );
    harness
        .reconcile(std::slice::from_ref(&guarded))
        .await
        .unwrap();
    assert_eq!(harness.cloud.protection_of_load_balancer(&name), None);
    assert_eq!(
        harness
            .cloud
            .classic_web_acl_of_load_balancer(&name)
            .as_deref(),
        Some("acl-1")
    );
    assert_eq!(harness.cloud.capacity_of_load_balancer(&name), Some(100));
    harness.cloud.set_shield_subscription(true);
    assert_eq!(harness.writes_for(&guarded).await, ["CreateProtection"]);
    assert_eq!(
        harness.cloud.protection_of_load_balancer(&name).as_deref(),
        Some("managed by aws-load-balancer-controller")
    );

    // Turned off: our protection goes, the ACL is disassociated, the reservation reset.
    let off = with_annotation(
        with_annotation(
            with_annotation(plain.clone(), "shield-advanced-protection", "false"),
            "waf-acl-id",
            "none",
        ),
        "minimum-load-balancer-capacity",
        "CapacityUnits=0",
    );
    harness.reconcile(std::slice::from_ref(&off)).await.unwrap();
    assert_eq!(harness.cloud.protection_of_load_balancer(&name), None);
    assert_eq!(harness.cloud.classic_web_acl_of_load_balancer(&name), None);
    assert_eq!(harness.cloud.capacity_of_load_balancer(&name), None);

    // A protection somebody else made is never deleted.
    harness
        .cloud
        .add_protection(&name, "made by the security team");
    assert!(harness.writes_for(&off).await.is_empty());
    assert_eq!(
        harness.cloud.protection_of_load_balancer(&name).as_deref(),
        Some("made by the security team")
    );
}
