use super::*;
use crate::cloud::RuleCondition;
use crate::ingress::actions::ServicePortRef;
use crate::ingress::listen::{group_listeners, ssl_redirect_port};
use crate::ingress::rules::{listener_rules, BackendRef};
use crate::model::Protocol;

fn grouped(namespace: &str, name: &str, annotations: Value, rules: Value) -> Ingress {
    let mut all = json!({"alb.ingress.kubernetes.io/group.name": "web"});
    for (key, value) in annotations.as_object().unwrap() {
        all[format!("alb.ingress.kubernetes.io/{key}")] = value.clone();
    }
    ingress(
        namespace,
        name,
        all,
        json!({"ingressClassName": "alb", "rules": rules}),
    )
}

fn service_path(path: &str, path_type: &str, service: &str, port: Value) -> Value {
    let port = if port.is_string() {
        json!({"name": port})
    } else {
        json!({"number": port})
    };
    json!({"path": path, "pathType": path_type, "backend": {"service": {"name": service, "port": port}}})
}

/// The two Ingresses of the spec's worked example (§2.5.1).
fn worked_example() -> Vec<Ingress> {
    vec![
        grouped(
            "shop",
            "a",
            json!({"group.order": "10", "listen-ports": r#"[{"HTTP":80},{"HTTPS":443}]"#,
                   "ssl-redirect": "443", "certificate-arn": "arnA"}),
            json!([{"host": "shop.example.com", "http": {"paths": [
                service_path("/api", "Prefix", "api", json!(80)),
                service_path("/api/v2", "Prefix", "api2", json!(80)),
                service_path("/healthz", "Exact", "api", json!(80)),
                service_path("/*", "ImplementationSpecific", "web", json!(80)),
            ]}}]),
        ),
        grouped(
            "blog",
            "b",
            json!({"listen-ports": r#"[{"HTTPS":443}]"#, "certificate-arn": "arnB"}),
            json!([{"host": "blog.example.com", "http": {"paths": [
                service_path("/", "Prefix", "blog", json!("http")),
            ]}}]),
        ),
    ]
}

fn members(ingresses: &[Ingress]) -> Vec<crate::ingress::member::Member> {
    let world = World::new();
    load_group(
        &GroupId::Explicit("web".into()),
        ingresses,
        &world.context(),
    )
    .unwrap()
    .members
}

#[test]
fn the_worked_example_gives_upstreams_listeners_redirect_and_rule_priorities() {
    let members = members(&worked_example());
    let listeners = group_listeners(&members).unwrap();
    assert_eq!(
        listeners,
        BTreeMap::from([(80, Protocol::Http), (443, Protocol::Https)])
    );
    assert_eq!(ssl_redirect_port(&members, &listeners), Ok(Some(443)));
    assert!(
        listener_rules(&members, 80, true).unwrap().is_empty(),
        "a redirected HTTP listener has no rules"
    );
    let rules: Vec<(i32, &str, Vec<RuleCondition>, BackendRef)> =
        listener_rules(&members, 443, false)
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r.priority,
                    if r.ingress == "blog/b" { "b" } else { "a" },
                    r.conditions.clone(),
                    r.backend.clone(),
                )
            })
            .collect();
    let host = |h: &str| RuleCondition::HostHeader {
        values: vec![h.into()],
    };
    let paths = |p: &[&str]| RuleCondition::PathPattern {
        values: p.iter().map(|s| s.to_string()).collect(),
    };
    let service = |name: &str, port: ServicePortRef| BackendRef::Service {
        name: name.into(),
        port,
    };
    assert_eq!(
        rules,
        vec![
            (
                1,
                "b",
                vec![host("blog.example.com"), paths(&["/*"])],
                service("blog", ServicePortRef::Name("http".into()))
            ),
            (
                2,
                "a",
                vec![host("shop.example.com"), paths(&["/healthz"])],
                service("api", ServicePortRef::Number(80))
            ),
            (
                3,
                "a",
                vec![host("shop.example.com"), paths(&["/api/v2", "/api/v2/*"])],
                service("api2", ServicePortRef::Number(80))
            ),
            (
                4,
                "a",
                vec![host("shop.example.com"), paths(&["/api", "/api/*"])],
                service("api", ServicePortRef::Number(80))
            ),
            (
                5,
                "a",
                vec![host("shop.example.com"), paths(&["/*"])],
                service("web", ServicePortRef::Number(80))
            ),
        ]
    );
}

#[test]
fn listen_ports_default_and_conflicts() {
    let plain = grouped("a", "plain", json!({}), json!([]));
    let with_cert = grouped(
        "a",
        "tls",
        json!({"certificate-arn": "arn:cert"}),
        json!([]),
    );
    assert_eq!(
        group_listeners(&members(std::slice::from_ref(&plain))).unwrap(),
        BTreeMap::from([(80, Protocol::Http)])
    );
    assert_eq!(
        group_listeners(&members(&[with_cert])).unwrap(),
        BTreeMap::from([(443, Protocol::Https)])
    );
    let https_on_80 = grouped(
        "b",
        "odd",
        json!({"listen-ports": r#"[{"HTTPS":80}]"#}),
        json!([]),
    );
    let conflict = group_listeners(&members(&[plain, https_on_80])).unwrap_err();
    assert!(
        conflict.contains("a/plain") && conflict.contains("b/odd"),
        "{conflict}"
    );
    for bad in [
        r#"[]"#,
        r#"[{"HTTP":"80"}]"#,
        r#"[{"TCP":80}]"#,
        r#"[{"HTTP":70000}]"#,
        "not json",
    ] {
        let ingress = grouped("a", "bad", json!({"listen-ports": bad}), json!([]));
        assert!(
            group_listeners(&members(&[ingress])).is_err(),
            "{bad} is refused"
        );
    }
}

#[test]
fn ssl_redirect_must_name_one_https_listener() {
    let to = |name: &str, port: &str| {
        grouped(
            "a",
            name,
            json!({"listen-ports": r#"[{"HTTP":80},{"HTTPS":443}]"#, "ssl-redirect": port}),
            json!([]),
        )
    };
    let both = members(&[to("x", "443"), to("y", "8443")]);
    assert!(ssl_redirect_port(&both, &group_listeners(&both).unwrap()).is_err());
    let to_http = members(&[to("x", "80")]);
    assert!(ssl_redirect_port(&to_http, &group_listeners(&to_http).unwrap()).is_err());
    let missing = members(&[to("x", "8443")]);
    assert!(ssl_redirect_port(&missing, &group_listeners(&missing).unwrap()).is_err());
}

#[test]
fn path_types_and_backends_are_checked_per_member() {
    let bad_exact = grouped(
        "a",
        "star",
        json!({}),
        json!([{"http": {"paths": [service_path("/a*", "Exact", "s", json!(80))]}}]),
    );
    let problem = listener_rules(&members(&[bad_exact]), 80, false).unwrap_err();
    assert_eq!(problem.ingress, "a/star");
    let no_host = grouped(
        "a",
        "any",
        json!({}),
        json!([{"http": {"paths": [
            json!({"pathType": "ImplementationSpecific", "backend": {"service": {"name": "s", "port": {"name": "use-annotation"}}}})
        ]}}]),
    );
    let rules = listener_rules(&members(&[no_host]), 80, false).unwrap();
    assert_eq!(
        rules[0].conditions,
        [RuleCondition::PathPattern {
            values: vec!["/*".into()]
        }],
        "no condition → /*"
    );
    assert_eq!(
        rules[0].backend,
        BackendRef::Annotation { name: "s".into() }
    );
}
