//! Fuzzed TargetGroupBindings (issue: reliability, part 3, the CRD fields), as a bounded
//! proptest run: every spec field set to values the CRD's schema admits (free strings at their
//! edges, every enum value, numbers of any size, selectors with any operator), then run through
//! what reads a binding without AWS: the admission checks, the defaulting from a target group,
//! the targets wanted for its Service port (ip and instance), and the security group rules its
//! `spec.networking` asks for.
//!
//! No panic; what the schema admits deserializes (a binding our types refused would stop the
//! watch of every binding); every problem the admission reports and every networking rejection
//! names its field; the rules asked for have ports AWS accepts.

use super::fuzzed_input::{bounded, value};
use crate::crd::target_group_binding::TargetGroupBinding;
use crate::target_rules::{binding_permissions, NamedPorts, RuleSource};
use crate::targets::{desired_instance_targets, desired_ip_targets, EndpointContext, PodFacts};
use crate::targets::{NodeReadiness, SERVICE_NAME_LABEL};
use crate::webhook::bindings::{binding_problems, defaulted_spec, BoundTargetGroup};
use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use proptest::prelude::*;
use serde_json::{json, Value};

/// A string field: edge values and random text.
fn text() -> impl Strategy<Value = Value> {
    value().prop_map(Value::from)
}

fn one_of(values: &'static [&'static str]) -> impl Strategy<Value = Value> {
    proptest::sample::select(values).prop_map(Value::from)
}

/// An int-or-string port: any number, or a name (edge values included).
fn port() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop_oneof![
            Just(80i64),
            Just(0),
            Just(-1),
            Just(65536),
            any::<i32>().prop_map(i64::from)
        ]
        .prop_map(Value::from),
        prop_oneof![Just("http".to_string()), value()].prop_map(Value::from),
    ]
}

/// A field present with `strategy`'s value, or absent (`null`, dropped before parsing).
fn maybe(strategy: impl Strategy<Value = Value>) -> impl Strategy<Value = Value> {
    prop_oneof![1 => Just(Value::Null), 2 => strategy]
}

fn peer() -> impl Strategy<Value = Value> {
    (maybe(text()), maybe(text())).prop_map(|(cidr, group)| {
        let mut peer = serde_json::Map::new();
        if !cidr.is_null() {
            peer.insert("ipBlock".into(), json!({ "cidr": cidr }));
        }
        if !group.is_null() {
            peer.insert("securityGroup".into(), json!({ "groupID": group }));
        }
        Value::Object(peer)
    })
}

fn networking() -> impl Strategy<Value = Value> {
    let ports = prop::collection::vec(
        (maybe(one_of(&["TCP", "UDP"])), maybe(port()))
            .prop_map(|(protocol, port)| json!({"protocol": protocol, "port": port})),
        0..3,
    );
    let rule = (prop::collection::vec(peer(), 0..3), ports)
        .prop_map(|(from, ports)| json!({"from": from, "ports": ports}));
    prop::collection::vec(rule, 0..3).prop_map(|ingress| json!({ "ingress": ingress }))
}

fn node_selector() -> impl Strategy<Value = Value> {
    let expression = (
        text(),
        prop_oneof![one_of(&["In", "NotIn", "Exists", "DoesNotExist"]), text()],
        prop::collection::vec(text(), 0..3),
    )
        .prop_map(
            |(key, operator, values)| json!({"key": key, "operator": operator, "values": values}),
        );
    (
        prop::collection::btree_map("[a-z/.]{0,12}", "[a-z0-9]{0,6}", 0..3),
        prop::collection::vec(expression, 0..3),
    )
        .prop_map(
            |(labels, expressions)| json!({"matchLabels": labels, "matchExpressions": expressions}),
        )
}

/// A binding with every spec field fuzzed (absent fields dropped).
fn binding() -> impl Strategy<Value = Value> {
    let identity = (
        maybe(prop_oneof![
            Just(Value::from(
                "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/web/1"
            )),
            text()
        ]),
        maybe(text()),
        maybe(one_of(&["instance", "ip"])),
        maybe(one_of(&[
            "HTTP", "HTTPS", "TCP", "TLS", "UDP", "TCP_UDP", "QUIC", "TCP_QUIC",
        ])),
    );
    let service = (prop_oneof![Just(Value::from("web")), text()], port());
    let rest = (
        maybe(networking()),
        maybe(node_selector()),
        maybe(one_of(&["ipv4", "ipv6"])),
        maybe(prop_oneof![
            Just(Value::from("vpc-0123456789abcdef0")),
            text()
        ]),
        maybe(any::<bool>().prop_map(Value::from)),
        maybe(text()),
        maybe(text()),
    );
    (identity, service, rest).prop_map(
        |(
            (arn, name, target_type, protocol),
            (service, port),
            (networking, selector, family, vpc, shared, role, external_id),
        )| {
            let mut spec = serde_json::Map::new();
            for (field, value) in [
                ("targetGroupARN", arn),
                ("targetGroupName", name),
                ("targetType", target_type),
                ("targetGroupProtocol", protocol),
                ("networking", networking),
                ("nodeSelector", selector),
                ("ipAddressType", family),
                ("vpcID", vpc),
                ("multiClusterTargetGroup", shared),
                ("iamRoleArnToAssume", role),
                ("assumeRoleExternalId", external_id),
            ] {
                if !value.is_null() {
                    spec.insert(field.into(), value);
                }
            }
            spec.insert("serviceRef".into(), json!({"name": service, "port": port}));
            json!({
                "apiVersion": "elbv2.k8s.aws/v1beta1", "kind": "TargetGroupBinding",
                "metadata": {"name": "fuzzed", "namespace": "shop", "generation": 1},
                "spec": spec,
            })
        },
    )
}

fn service() -> Service {
    serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"type": "NodePort", "ports": [
            {"name": "http", "port": 80, "targetPort": 8080, "nodePort": 30080},
            {"name": "", "port": 0, "targetPort": "app", "nodePort": 30000}
        ]}
    }))
    .unwrap()
}

fn slice() -> EndpointSlice {
    serde_json::from_value(json!({
        "metadata": {"name": "web-a", "namespace": "shop", "labels": {SERVICE_NAME_LABEL: "web"}},
        "addressType": "IPv4",
        "endpoints": [
            {"addresses": ["10.0.0.1"], "conditions": {"ready": true}, "nodeName": "n1", "targetRef": {"kind": "Pod", "name": "a"}},
            {"addresses": ["10.0.0.2"], "conditions": {"ready": false}, "targetRef": {"kind": "Pod", "name": "b"}}
        ],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}, {"name": "", "port": 9000}]
    }))
    .unwrap()
}

fn nodes() -> Vec<Node> {
    let node = |name: &str, provider: &str, labels: Value| -> Node {
        serde_json::from_value(json!({
            "metadata": {"name": name, "labels": labels},
            "spec": {"providerID": provider},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}
        }))
        .unwrap()
    };
    vec![
        node(
            "n1",
            "aws:///us-west-2a/i-0123456789abcdef0",
            json!({"a": "b"}),
        ),
        node("n2", "aws:///us-west-2b/i-0fedcba987654321f", json!({})),
    ]
}

struct Pods;

impl EndpointContext for Pods {
    fn pod(&self, _namespace: &str, _name: &str) -> Option<PodFacts> {
        Some(PodFacts::default())
    }
    fn node_readiness(&self, _name: &str) -> NodeReadiness {
        NodeReadiness::Ready
    }
}

fn bound_target_group(target_type: &str) -> BoundTargetGroup {
    BoundTargetGroup {
        arn: "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/web/1".into(),
        target_type: target_type.into(),
        protocol: "TCP".into(),
        vpc_id: "vpc-1".into(),
        ip_address_type: "ipv4".into(),
    }
}

fn check_binding(object: &Value) {
    let binding: TargetGroupBinding = serde_json::from_value(object.clone())
        .unwrap_or_else(|e| panic!("a binding the schema admits is refused ({e}): {object}"));
    let problems = binding_problems(&binding, None, &[]);
    let updated = binding_problems(&binding, Some(&binding), std::slice::from_ref(&binding));
    for problem in problems.iter().chain(&updated) {
        assert!(problem.starts_with("spec."), "names no field: {problem}");
    }
    for target_type in ["instance", "ip", "alb"] {
        let _ = defaulted_spec(&binding.spec, &bound_target_group(target_type));
    }
    let spec = &binding.spec;
    let (service, slices) = (service(), [slice()]);
    let _ = desired_ip_targets(&service, &spec.service_ref.port, false, &slices, &Pods);
    let _ = desired_ip_targets(&service, &spec.service_ref.port, true, &slices, &Pods);
    let _ = desired_instance_targets(
        &service,
        &spec.service_ref.port,
        &nodes(),
        &slices,
        spec.node_selector.as_ref(),
    );
    let Some(networking) = &spec.networking else {
        return;
    };
    let named: NamedPorts = [("http".to_string(), vec![8080])].into();
    for ports in [None, Some(&named)] {
        match binding_permissions(networking, ports) {
            Ok(permissions) => {
                for permission in permissions {
                    if let RuleSource::SecurityGroup(group) = &permission.source {
                        let digits = group.strip_prefix("sg-").unwrap_or_default();
                        assert!(
                            !digits.is_empty()
                                && digits
                                    .bytes()
                                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
                            "a source AWS refuses: {permission:?}"
                        );
                    }
                    assert!(
                        (0..=65535).contains(&permission.from_port)
                            && (0..=65535).contains(&permission.to_port),
                        "a rule AWS refuses: {permission:?} from {networking:?}"
                    );
                }
            }
            Err(problem) => assert!(
                problem.starts_with("spec.networking."),
                "names no field: {problem}"
            ),
        }
    }
}

proptest! {
    #![proptest_config(bounded())]

    #[test]
    fn fuzzed_bindings_never_panic_and_problems_name_their_field(object in binding()) {
        check_binding(&object);
    }
}
