//! Fuzzed input (issue: reliability, part 3), as a bounded proptest run: random values for the
//! annotations the controller reads, on a Service and on one member of a two-member IngressGroup,
//! run through the pipeline offline (as `plan` does); random and mangled text for the manifests
//! reader and the facts reader. No panic anywhere; every rejection of an annotation names it;
//! the bad member never takes its group's good member down unless the two disagree on a group
//! setting (upstream's rule: the group fails, naming both).
//!
//! The key lists are upstream's annotations (the specification's), not read from our code: a
//! key we forgot is fuzzed too.

use super::{alb_class, backend_services, facts};
use crate::config::ControllerConfig;
use crate::crd::ingress_class_params::IngressClassParams;
use crate::ingress::class::ClassContext;
use crate::ingress::group::{load_group, GroupId};
use crate::pipeline::ingress::{run_group, GroupOutcome, GroupRun};
use crate::pipeline::service::{run_service, ServiceOutcome};
use crate::pipeline::{NoCluster, Offline};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use proptest::prelude::*;
use serde_json::json;
use std::collections::BTreeMap;

/// Upstream's Ingress annotations (after `alb.ingress.kubernetes.io/`), `group.name` aside
/// (it moves the member out of the group); `fuzz` is the name the bad member's
/// `use-annotation` backend and conditions use.
const INGRESS_KEYS: &[&str] = &[
    "actions.fuzz",
    "conditions.fuzz",
    "transforms.fuzz",
    "acm-pca-arn",
    "auth-idp-cognito",
    "auth-idp-oidc",
    "auth-on-unauthenticated-request",
    "auth-scope",
    "auth-session-cookie",
    "auth-session-timeout",
    "auth-type",
    "backend-protocol",
    "backend-protocol-version",
    "certificate-arn",
    "customer-owned-ipv4-pool",
    "enable-frontend-nlb",
    "frontend-nlb-attributes",
    "frontend-nlb-eip-allocations",
    "frontend-nlb-healthcheck-healthy-threshold-count",
    "frontend-nlb-healthcheck-interval-seconds",
    "frontend-nlb-healthcheck-path",
    "frontend-nlb-healthcheck-port",
    "frontend-nlb-healthcheck-protocol",
    "frontend-nlb-healthcheck-success-codes",
    "frontend-nlb-healthcheck-timeout-seconds",
    "frontend-nlb-healthcheck-unhealthy-threshold-count",
    "frontend-nlb-listener-port-mapping",
    "frontend-nlb-scheme",
    "frontend-nlb-security-groups",
    "frontend-nlb-subnets",
    "frontend-nlb-tags",
    "group.order",
    "healthcheck-interval-seconds",
    "healthcheck-path",
    "healthcheck-port",
    "healthcheck-protocol",
    "healthcheck-timeout-seconds",
    "healthy-threshold-count",
    "unhealthy-threshold-count",
    "success-codes",
    "inbound-cidrs",
    "ip-address-type",
    "ipam-ipv4-pool-id",
    "jwt-validation",
    "listen-ports",
    "listener-attributes.HTTP-80",
    "load-balancer-attributes",
    "load-balancer-name",
    "manage-backend-security-group-rules",
    "minimum-load-balancer-capacity",
    "multi-cluster-target-group",
    "mutual-authentication",
    "scheme",
    "security-group-prefix-lists",
    "security-groups",
    "shield-advanced-protection",
    "ssl-policy",
    "ssl-redirect",
    "subnets",
    "tags",
    "target-group-attributes",
    "target-node-labels",
    "target-type",
    "use-regex-path-match",
    "waf-acl-id",
    "wafv2-acl-arn",
    "wafv2-acl-name",
    "web-acl-id",
];

/// Upstream's Service annotations (after `service.beta.kubernetes.io/aws-load-balancer-`),
/// the type and target type aside (they decide whether the Service is ours at all).
const SERVICE_KEYS: &[&str] = &[
    "access-log-enabled",
    "access-log-s3-bucket-name",
    "access-log-s3-bucket-prefix",
    "additional-resource-tags",
    "alpn-policy",
    "attributes",
    "backend-protocol",
    "connection-draining",
    "connection-idle-timeout",
    "cross-zone-load-balancing-enabled",
    "disable-nlb-sg",
    "eip-allocations",
    "enable-icmp-for-path-mtu-discovery",
    "enable-prefix-for-ipv6-source-nat",
    "enable-tcp-udp-listener",
    "extra-security-groups",
    "healthcheck-healthy-threshold",
    "healthcheck-interval",
    "healthcheck-path",
    "healthcheck-port",
    "healthcheck-protocol",
    "healthcheck-success-codes",
    "healthcheck-timeout",
    "healthcheck-unhealthy-threshold",
    "inbound-sg-rules-on-private-link-traffic",
    "internal",
    "ip-address-type",
    "ipv6-addresses",
    "listener-attributes.TCP-80",
    "manage-backend-security-group-rules",
    "minimum-load-balancer-capacity",
    "multi-cluster-target-group",
    "name",
    "private-ipv4-addresses",
    "proxy-protocol",
    "proxy-protocol-per-target-group",
    "quic-enabled-ports",
    "scheme",
    "security-group-prefix-lists",
    "security-groups",
    "source-nat-ipv6-prefixes",
    "ssl-cert",
    "ssl-negotiation-policy",
    "ssl-ports",
    "subnets",
    "target-group-attributes",
    "target-node-labels",
];

/// Values that sit on the edges of the formats, and random text.
pub(super) fn value() -> impl Strategy<Value = String> {
    let edges: Vec<&'static str> = vec![
        "",
        " ",
        "true",
        "false",
        "0",
        "-1",
        "80",
        "65536",
        "2147483648",
        "99999999999999999999",
        "internal",
        "internet-facing",
        "ipv4",
        "dualstack",
        "ip",
        "instance",
        "HTTP",
        "HTTPS",
        "traffic-port",
        "[{\"HTTP\": 80}]",
        "[{\"HTTPS\": 443}, {\"HTTP\": 8080}]",
        "[{\"HTTP\": 0}]",
        "{}",
        "[]",
        "[{",
        "null",
        "{\"type\": \"forward\"}",
        "{\"type\": \"fixed-response\", \"fixedResponseConfig\": {\"statusCode\": \"999\"}}",
        "a=b",
        "a=b,c",
        "=",
        ",,",
        "=x",
        "10.0.0.0/8",
        "10.0.0.0/33",
        "::/0",
        "arn:aws:acm:us-west-2:123456789012:certificate/x",
        "sg-1, sg-2",
        "subnet-x",
        "80,443,xyz",
        "\u{0}",
        "é🦀",
    ];
    prop_oneof![
        3 => proptest::sample::select(edges).prop_map(str::to_string),
        1 => "[ -~]{0,40}",
        1 => "[\\[\\]{}\":,=a-zA-Z0-9 ./-]{0,40}",
    ]
}

fn annotations(keys: &'static [&'static str]) -> impl Strategy<Value = BTreeMap<String, String>> {
    prop::collection::btree_map(
        proptest::sample::select(keys).prop_map(str::to_string),
        value(),
        1..5,
    )
}

fn config() -> ControllerConfig {
    ControllerConfig::new("prod", "vpc-0example")
}

/// Whether `problem` names one of the fuzzed keys (the suffix is enough; `x.y` keys may be
/// named by their prefix, e.g. `actions.fuzz` as the missing action `fuzz`).
fn names_a_key(problem: &str, keys: &BTreeMap<String, String>) -> bool {
    keys.keys().any(|key| {
        problem.contains(key.as_str())
            || key
                .split_once('.')
                .is_some_and(|(prefix, _)| problem.contains(prefix))
    })
}

fn service_with(fuzzed: &BTreeMap<String, String>) -> Service {
    let mut annotations = serde_json::Map::new();
    annotations.insert(
        "service.beta.kubernetes.io/aws-load-balancer-type".into(),
        json!("external"),
    );
    annotations.insert(
        "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type".into(),
        json!("instance"),
    );
    for (key, value) in fuzzed {
        annotations.insert(
            format!("service.beta.kubernetes.io/aws-load-balancer-{key}"),
            json!(value),
        );
    }
    serde_json::from_value(json!({
        "metadata": {"name": "api", "namespace": "shop", "uid": "uid-api", "annotations": annotations},
        "spec": {"type": "LoadBalancer", "ports": [
            {"name": "http", "port": 80, "targetPort": 8080, "nodePort": 30080, "protocol": "TCP"}
        ]}
    }))
    .unwrap()
}

fn member(name: &str, extra: &BTreeMap<String, String>) -> Ingress {
    let mut annotations = serde_json::Map::new();
    annotations.insert(
        "alb.ingress.kubernetes.io/group.name".into(),
        json!("mixed"),
    );
    for (key, value) in extra {
        annotations.insert(format!("alb.ingress.kubernetes.io/{key}"), json!(value));
    }
    serde_json::from_value(json!({
        "metadata": {"namespace": "shop", "name": name, "annotations": annotations},
        "spec": {"ingressClassName": "alb", "rules": [{"http": {"paths": [
            {"path": format!("/{name}"), "pathType": "Prefix",
             "backend": {"service": {"name": "app", "port": {"number": 80}}}},
            {"path": format!("/{name}/fuzz"), "pathType": "Prefix",
             "backend": {"service": {"name": "fuzz", "port": {"name": "use-annotation"}}}}
        ]}}]}
    }))
    .unwrap()
}

fn check_service(fuzzed: &BTreeMap<String, String>) {
    let facts = facts();
    let config = config();
    let aws = Offline {
        facts: &facts,
        config: &config,
    };
    let service = service_with(fuzzed);
    let outcome = futures::executor::block_on(run_service(&aws, &NoCluster, &service, None));
    if let Ok(ServiceOutcome::Invalid(problems)) = outcome {
        for problem in problems {
            let text = format!("{}: {}", problem.location, problem.message);
            assert!(
                names_a_key(&text, fuzzed),
                "a rejection that names no annotation: {text} (annotations {fuzzed:?})"
            );
        }
    }
}

/// Checks the group's outcome; the members it holds (`None`: the group failed).
fn check_group(fuzzed: &BTreeMap<String, String>) -> Option<Vec<String>> {
    check_group_with(fuzzed, None)
}

/// `check_group`, the bad member's class carrying `params` when given (then its rejections
/// are not required to name an annotation).
fn check_group_with(
    fuzzed: &BTreeMap<String, String>,
    params: Option<IngressClassParams>,
) -> Option<Vec<String>> {
    let facts = facts();
    let config = config();
    let mut classes: Vec<IngressClass> = vec![alb_class()];
    let keys_named = params.is_none();
    let all_params: Vec<IngressClassParams> = params.into_iter().collect();
    if !all_params.is_empty() {
        classes.push(
            serde_json::from_value(json!({"metadata": {"name": "fuzzed"}, "spec": {
                "controller": "ingress.k8s.aws/alb",
                "parameters": {"apiGroup": "elbv2.k8s.aws", "kind": "IngressClassParams", "name": "fuzzed"}
            }}))
            .unwrap(),
        );
    }
    let mut bad = member("bad", fuzzed);
    if let Some(spec) = bad.spec.as_mut().filter(|_| !keys_named) {
        spec.ingress_class_name = Some("fuzzed".into());
    }
    let names_a_key = |problem: &str, fuzzed: &BTreeMap<String, String>| {
        !keys_named || names_a_key(problem, fuzzed)
    };
    let ingresses = [
        member(
            "good",
            &BTreeMap::from([(
                "actions.fuzz".to_string(),
                r#"{"type": "fixed-response", "fixedResponseConfig": {"statusCode": "404"}}"#
                    .to_string(),
            )]),
        ),
        bad,
    ];
    let namespaces = BTreeMap::new();
    let context = ClassContext {
        ingress_class_flag: "alb",
        classes: &classes,
        params: &all_params,
        namespace_labels: &namespaces,
    };
    let id = GroupId::Explicit("mixed".into());
    let group = load_group(&id, &ingresses, &context).unwrap();
    for (ingress, problem) in &group.held {
        assert_eq!(ingress.metadata.name.as_deref(), Some("bad"));
        assert!(
            names_a_key(problem, fuzzed),
            "held at load naming no key: {problem}"
        );
    }
    let services = backend_services();
    let oidc_clients = Default::default();
    let previous = BTreeMap::new();
    let run = GroupRun {
        id: &id,
        group: &group,
        services: &services,
        oidc_clients: &oidc_clients,
        previous: &previous,
    };
    let aws = Offline {
        facts: &facts,
        config: &config,
    };
    let outcome =
        futures::executor::block_on(run_group(&aws, &NoCluster, &run, std::time::UNIX_EPOCH));
    match outcome {
        Ok(GroupOutcome::Built(built)) => {
            let held_members = built.built.held.iter().map(|held| held.ingress.clone());
            let mut held_at_load: Vec<String> = group
                .held
                .iter()
                .map(|(ingress, _)| crate::ingress::group::ingress_key(ingress))
                .collect();
            held_at_load.extend(held_members);
            for held in &built.built.held {
                if held.ingress == "shop/good" {
                    assert!(
                        held.problem.contains("shop/bad"),
                        "the good member held for something of its own: {held} (bad: {fuzzed:?})"
                    );
                } else {
                    assert!(
                        names_a_key(&held.problem, fuzzed),
                        "a rejection that names no annotation: {held} (annotations {fuzzed:?})"
                    );
                }
            }
            Some(held_at_load)
        }
        Ok(GroupOutcome::Unbuildable(problem)) => {
            assert!(
            problem.contains("shop/bad") && names_a_key(&problem, fuzzed) || problem.contains("disagree"),
            "the group failed without naming the bad member and its annotation: {problem} ({fuzzed:?})"
            );
            None
        }
        Err(error) => panic!("the offline run failed: {error}"),
    }
}

/// IngressClassParams with 1–4 of their fields set to edge values (shapes that deserialize;
/// others are skipped).
fn class_params() -> impl Strategy<Value = serde_json::Value> {
    let text = || value().prop_map(serde_json::Value::from);
    let number = || {
        prop_oneof![
            Just(0i64),
            Just(-1),
            Just(80),
            Just(65536),
            Just(i64::from(i32::MAX))
        ]
    };
    let field = prop_oneof![
        proptest::sample::select(vec!["internal", "internet-facing"]).prop_map(|v| ("scheme", json!(v))),
        proptest::sample::select(vec!["ipv4", "dualstack", "dualstack-without-public-ipv4"])
            .prop_map(|v| ("ipAddressType", json!(v))),
        proptest::sample::select(vec!["ip", "instance"]).prop_map(|v| ("targetType", json!(v))),
        text().prop_map(|v| ("loadBalancerName", v)),
        text().prop_map(|v| ("sslPolicy", v)),
        text().prop_map(|v| ("sslRedirectPort", v)),
        text().prop_map(|v| ("certificateArn", json!([v]))),
        text().prop_map(|v| ("subnets", json!({"ids": [v]}))),
        text().prop_map(|v| ("subnets", json!({"tags": {"Name": [v]}}))),
        text().prop_map(|v| ("inboundCIDRs", json!([v]))),
        (text(), text()).prop_map(|(k, v)| ("loadBalancerAttributes", json!([{"key": k, "value": v}]))),
        (text(), text()).prop_map(|(k, v)| ("tags", json!([{"key": k, "value": v}]))),
        (text(), number(), text(), text()).prop_map(|(protocol, port, k, v)| (
            "listeners",
            json!([{"protocol": protocol, "port": port, "listenerAttributes": [{"key": k, "value": v}]}])
        )),
        number().prop_map(|units| ("minimumLoadBalancerCapacity", json!({"capacityUnits": units}))),
        text().prop_map(|v| ("ipamConfiguration", json!({"ipv4IPAMPoolId": v}))),
        text().prop_map(|v| ("wafv2AclArn", v)),
        text().prop_map(|v| ("wafv2AclName", v)),
        text().prop_map(|v| ("prefixListsIDs", json!([v]))),
    ];
    prop::collection::vec(field, 1..5).prop_map(|fields| {
        let spec: serde_json::Map<String, serde_json::Value> = fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        json!({"apiVersion": "elbv2.k8s.aws/v1beta1", "kind": "IngressClassParams",
               "metadata": {"name": "fuzzed"}, "spec": spec})
    })
}

/// Mangles `text`: a cut, a byte-range deletion and a few replaced characters.
fn mangled(text: &'static str) -> impl Strategy<Value = String> {
    (
        0..text.len(),
        0..text.len(),
        prop::collection::vec((0..text.len(), any::<char>()), 0..4),
    )
        .prop_map(move |(cut, hole, replaced)| {
            let mut chars: Vec<char> = text.chars().collect();
            for (at, c) in replaced {
                if at < chars.len() {
                    chars[at] = c;
                }
            }
            let hole = hole.min(chars.len());
            chars.drain(hole..(hole + 7).min(chars.len()));
            chars.truncate(cut.max(1).min(chars.len()));
            chars.into_iter().collect()
        })
}

const EXAMPLE_FACTS: &str = include_str!("../../examples/aws-facts.json");
const EXAMPLE_MANIFESTS: &str = include_str!("../../examples/ingresses.yaml");

pub(super) fn bounded() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("RELIABILITY_CASES")
            .ok()
            .and_then(|value| value.parse().ok())
            .unwrap_or(256),
        rng_seed: proptest::test_runner::RngSeed::Fixed(
            std::env::var("RELIABILITY_SEED")
                .ok()
                .and_then(|value| value.parse().ok())
                .unwrap_or(17),
        ),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(bounded())]

    #[test]
    fn fuzzed_service_annotations_never_panic_and_rejections_name_the_key(fuzzed in annotations(SERVICE_KEYS)) {
        check_service(&fuzzed);
    }

    #[test]
    fn a_fuzzed_member_never_panics_names_its_key_and_spares_the_good_member(fuzzed in annotations(INGRESS_KEYS)) {
        let _held = check_group(&fuzzed);
    }

    #[test]
    fn fuzzed_class_params_never_panic_and_spare_the_good_member(params in class_params()) {
        let parsed: Result<IngressClassParams, _> = serde_json::from_value(params);
        prop_assume!(parsed.is_ok());
        let _held = check_group_with(&BTreeMap::new(), parsed.ok());
    }

    #[test]
    fn the_manifests_reader_never_panics_on_mangled_or_random_text(
        text in prop_oneof![mangled(EXAMPLE_MANIFESTS), "\\PC{0,200}"],
    ) {
        if let Err(error) = crate::manifests::read_manifests("fuzzed.yaml", &text) {
            prop_assert!(!error.to_string().is_empty());
        }
    }

    #[test]
    fn the_facts_reader_never_panics_on_mangled_or_random_text(
        text in prop_oneof![mangled(EXAMPLE_FACTS), "\\PC{0,200}"],
    ) {
        if let Err(error) = crate::facts::CloudFacts::from_documents(&text) {
            prop_assert!(!error.is_empty());
        }
    }
}

#[test]
fn a_rejection_naming_no_key_is_caught() {
    let fuzzed = BTreeMap::from([("scheme".to_string(), "sideways".to_string())]);
    assert!(names_a_key(
        "annotation service.beta.kubernetes.io/aws-load-balancer-scheme: bad",
        &fuzzed
    ));
    assert!(!names_a_key("something is wrong", &fuzzed));
}

/// Found by the fuzzer: an `ssl-redirect` that is not a 32-bit integer failed the whole group
/// (it was read only for the group's redirect port); now it holds its member only.
#[test]
fn a_member_with_a_malformed_ssl_redirect_is_held_and_its_group_builds() {
    let fuzzed = BTreeMap::from([("ssl-redirect".to_string(), "2147483648".to_string())]);
    assert_eq!(check_group(&fuzzed), Some(vec!["shop/bad".to_string()]));
}

/// Found by the fuzzer: a group setting that cannot be resolved (security groups, subnets or a
/// web ACL that do not exist, discovery failing for the address type) failed the group without
/// saying whose annotation asked for it; now the error names the key and the member.
#[test]
fn an_unresolvable_group_setting_names_its_key_and_member() {
    for (key, value) in [
        ("security-groups", "sg-missing"),
        ("subnets", "subnet-missing"),
        ("wafv2-acl-name", "missing-acl"),
        ("ip-address-type", "dualstack"),
    ] {
        let fuzzed = BTreeMap::from([(key.to_string(), value.to_string())]);
        assert_eq!(check_group(&fuzzed), None, "{key} fails the group");
    }
}

/// Found by the cargo-fuzz target `plan` (seeded with the examples): an Ingress manifest cut
/// short so that `metadata` is a string panicked in `plan` while defaulting its namespace. It is
/// now reported as not a valid Ingress, and the rest is still planned.
#[test]
fn an_ingress_whose_metadata_is_not_a_map_is_reported_not_a_panic() {
    let text = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: nam\n---\n\
                apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {type: ClusterIP, ports: [{port: 80}]}\n";
    let objects = crate::manifests::read_manifests("cut.yaml", text).unwrap();
    let report = crate::dry_run::dry_run(&objects, &config(), &facts());
    assert!(
        report
            .problems
            .iter()
            .any(|problem| problem.message.starts_with("not a valid Ingress")),
        "{:?}",
        report.problems
    );
}
