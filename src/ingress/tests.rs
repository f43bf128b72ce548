use super::class::{classify, ClassContext, Classification};
use super::group::{group_id_of, groups_of, load_group, GroupId, GroupLoadError};
use super::paths::order_paths;
use crate::crd::ingress_class_params::IngressClassParams;
use k8s_openapi::api::networking::v1::{HTTPIngressPath, Ingress, IngressClass};
use serde_json::{json, Value};
use std::collections::BTreeMap;

fn ingress(namespace: &str, name: &str, annotations: Value, spec: Value) -> Ingress {
    serde_json::from_value(json!({
        "metadata": {"namespace": namespace, "name": name, "annotations": annotations},
        "spec": spec
    }))
    .unwrap()
}

fn with_finalizers(mut ingress: Ingress, finalizers: &[&str]) -> Ingress {
    ingress.metadata.finalizers = Some(finalizers.iter().map(|f| f.to_string()).collect());
    ingress
}

fn class(name: &str, controller: &str, default: bool, params: Option<&str>) -> IngressClass {
    let annotations = if default {
        json!({"ingressclass.kubernetes.io/is-default-class": "true"})
    } else {
        json!({})
    };
    let parameters = params
        .map(|p| json!({"apiGroup": "elbv2.k8s.aws", "kind": "IngressClassParams", "name": p}));
    serde_json::from_value(json!({
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"controller": controller, "parameters": parameters}
    }))
    .unwrap()
}

fn params(name: &str, spec: Value) -> IngressClassParams {
    serde_json::from_value(json!({
        "apiVersion": "elbv2.k8s.aws/v1beta1", "kind": "IngressClassParams",
        "metadata": {"name": name}, "spec": spec
    }))
    .unwrap()
}

struct World {
    flag: String,
    classes: Vec<IngressClass>,
    params: Vec<IngressClassParams>,
    namespaces: BTreeMap<String, BTreeMap<String, String>>,
}

impl World {
    fn new() -> Self {
        Self {
            flag: "alb".into(),
            classes: vec![
                class("alb", "ingress.k8s.aws/alb", false, None),
                class("nginx", "k8s.io/ingress-nginx", false, None),
                class("team", "ingress.k8s.aws/alb", false, Some("team-params")),
            ],
            params: vec![params(
                "team-params",
                json!({"group": {"name": "team"}, "namespaceSelector": {"matchLabels": {"team": "a"}}}),
            )],
            namespaces: [
                (
                    "shop".to_string(),
                    BTreeMap::from([("team".to_string(), "a".to_string())]),
                ),
                ("blog".to_string(), BTreeMap::new()),
            ]
            .into_iter()
            .collect(),
        }
    }

    fn context(&self) -> ClassContext<'_> {
        ClassContext {
            ingress_class_flag: &self.flag,
            classes: &self.classes,
            params: &self.params,
            namespace_labels: &self.namespaces,
        }
    }
}

fn is_ours(classification: &Classification) -> bool {
    matches!(classification, Classification::Ours { .. })
}

#[test]
fn the_legacy_annotation_decides_alone_and_follows_the_ingress_class_flag() {
    let mut world = World::new();
    let legacy = |value: &str| {
        ingress(
            "shop",
            "a",
            json!({"kubernetes.io/ingress.class": value}),
            json!({"ingressClassName": "nginx"}),
        )
    };
    assert!(
        is_ours(&classify(&legacy("alb"), &world.context())),
        "annotation wins over the class name"
    );
    assert_eq!(
        classify(&legacy("nginx"), &world.context()),
        Classification::NotOurs
    );
    assert_eq!(
        classify(&legacy(""), &world.context()),
        Classification::NotOurs
    );
    world.flag = "".into();
    assert!(is_ours(&classify(&legacy("alb"), &world.context())));
    assert!(
        is_ours(&classify(&legacy(""), &world.context())),
        "upstream's quirk with an empty flag"
    );
    assert!(
        is_ours(&classify(
            &ingress("shop", "a", json!({}), json!({})),
            &world.context()
        )),
        "an empty flag admits class-less Ingresses"
    );
    world.flag = "internal-alb".into();
    assert!(is_ours(&classify(
        &legacy("internal-alb"),
        &world.context()
    )));
    assert_eq!(
        classify(&legacy("alb"), &world.context()),
        Classification::NotOurs
    );
}

#[test]
fn ingress_classes_default_classes_and_params() {
    let mut world = World::new();
    let named = |class: &str, namespace: &str| {
        ingress(
            namespace,
            "a",
            json!({}),
            json!({"ingressClassName": class}),
        )
    };
    assert!(is_ours(&classify(&named("alb", "shop"), &world.context())));
    assert_eq!(
        classify(&named("nginx", "shop"), &world.context()),
        Classification::NotOurs
    );
    assert!(matches!(
        classify(&named("missing", "shop"), &world.context()),
        Classification::InvalidClass(_)
    ));
    let class_less = ingress("shop", "a", json!({}), json!({}));
    assert_eq!(
        classify(&class_less, &world.context()),
        Classification::NotOurs
    );

    // Params: found and admitting the namespace → ours with params; a namespace outside the
    // selector or missing params → invalid class.
    match classify(&named("team", "shop"), &world.context()) {
        Classification::Ours { params: Some(p) } => {
            assert_eq!(p.spec.group.as_ref().map(|g| g.name.as_str()), Some("team"))
        }
        other => panic!("expected params, got {other:?}"),
    }
    assert!(matches!(
        classify(&named("team", "blog"), &world.context()),
        Classification::InvalidClass(message) if message.contains("namespace blog")
    ));
    world.params.clear();
    assert!(matches!(
        classify(&named("team", "shop"), &world.context()),
        Classification::InvalidClass(_)
    ));

    // One default class is used for class-less Ingresses; two are a cluster-wide error.
    world
        .classes
        .push(class("default-alb", "ingress.k8s.aws/alb", true, None));
    assert!(is_ours(&classify(&class_less, &world.context())));
    world
        .classes
        .push(class("default-nginx", "k8s.io/ingress-nginx", true, None));
    assert!(matches!(
        classify(&class_less, &world.context()),
        Classification::Error(_)
    ));
}

#[test]
fn group_names_are_validated_and_params_win_over_the_annotation() {
    let named = |group: &str| {
        ingress(
            "shop",
            "a",
            json!({"alb.ingress.kubernetes.io/group.name": group}),
            json!({}),
        )
    };
    assert_eq!(
        group_id_of(&named("my-team.web"), None),
        Ok(GroupId::Explicit("my-team.web".into()))
    );
    for bad in ["", "-web", "web-", "Web", "web_1", &"a".repeat(64)] {
        assert!(
            group_id_of(&named(bad), None).is_err(),
            "{bad:?} is not a valid group name"
        );
    }
    assert!(group_id_of(&named(&"a".repeat(63)), None).is_ok());
    let from_params = params("p", json!({"group": {"name": "platform"}}));
    assert_eq!(
        group_id_of(&named("web"), Some(&from_params)),
        Ok(GroupId::Explicit("platform".into()))
    );
    let implicit = group_id_of(&ingress("shop", "a", json!({}), json!({})), None).unwrap();
    assert_eq!(
        (implicit.stack_id(), implicit.finalizer()),
        (
            "shop/a".to_string(),
            "ingress.k8s.aws/resources".to_string()
        )
    );
    assert_eq!(
        GroupId::Explicit("web".into()).finalizer(),
        "group.ingress.k8s.aws/web"
    );
}

fn member(namespace: &str, name: &str, order: Option<&str>) -> Ingress {
    let mut annotations = json!({"alb.ingress.kubernetes.io/group.name": "web"});
    if let Some(order) = order {
        annotations["alb.ingress.kubernetes.io/group.order"] = json!(order);
    }
    ingress(
        namespace,
        name,
        annotations,
        json!({"ingressClassName": "alb"}),
    )
}

#[test]
fn members_sort_by_order_then_namespace_and_name() {
    let world = World::new();
    let mut ingresses = vec![
        member("shop", "a", Some("10")),
        member("blog", "b", None),
        member("zoo", "c", Some("-5")),
        member("app", "d", Some("0")),
        member("other", "x", None),
    ];
    // Not in the group: another group, and another controller's class.
    ingresses[4]
        .metadata
        .annotations
        .as_mut()
        .unwrap()
        .insert("alb.ingress.kubernetes.io/group.name".into(), "api".into());
    ingresses.push(ingress(
        "shop",
        "n",
        json!({"alb.ingress.kubernetes.io/group.name": "web"}),
        json!({"ingressClassName": "nginx"}),
    ));
    let group = load_group(
        &GroupId::Explicit("web".into()),
        &ingresses,
        &world.context(),
    )
    .unwrap();
    let order: Vec<(i32, String)> = group.members.iter().map(|m| (m.order, m.key())).collect();
    assert_eq!(
        order,
        [
            (-5, "zoo/c".to_string()),
            (0, "app/d".to_string()),
            (0, "blog/b".to_string()),
            (10, "shop/a".to_string())
        ]
    );
    assert!(group.leaving.is_empty() && group.held.is_empty());
}

#[test]
fn a_malformed_order_holds_only_that_member() {
    let world = World::new();
    let ingresses = vec![
        member("shop", "a", Some("10")),
        member("shop", "bad", Some("1001")),
        member("shop", "worse", Some("ten")),
    ];
    let group = load_group(
        &GroupId::Explicit("web".into()),
        &ingresses,
        &world.context(),
    )
    .unwrap();
    assert_eq!(group.members.len(), 1, "the good member still reconciles");
    let held: Vec<&str> = group
        .held
        .iter()
        .map(|(i, _)| i.metadata.name.as_deref().unwrap())
        .collect();
    assert_eq!(held, ["bad", "worse"]);
    assert!(group.held[0].1.contains("outside -1000..1000"));
}

#[test]
fn leaving_members_and_blocked_groups() {
    let world = World::new();
    let web = GroupId::Explicit("web".into());
    let finalizer = "group.ingress.k8s.aws/web";
    let mut deleted = with_finalizers(member("shop", "gone", None), &[finalizer]);
    deleted.metadata.deletion_timestamp = Some(
        k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::UNIX_EPOCH),
    );
    let moved = with_finalizers(
        ingress(
            "shop",
            "moved",
            json!({"alb.ingress.kubernetes.io/group.name": "api"}),
            json!({"ingressClassName": "alb"}),
        ),
        &[finalizer],
    );
    let reclassed = with_finalizers(
        ingress(
            "shop",
            "nginx",
            json!({"alb.ingress.kubernetes.io/group.name": "web"}),
            json!({"ingressClassName": "nginx"}),
        ),
        &[finalizer],
    );
    let renamed_badly = with_finalizers(
        ingress(
            "shop",
            "bad-name",
            json!({"alb.ingress.kubernetes.io/group.name": "Web!"}),
            json!({"ingressClassName": "alb"}),
        ),
        &[finalizer],
    );
    let stays = member("shop", "stays", None);
    let all = vec![deleted, moved.clone(), reclassed, renamed_badly, stays];
    let group = load_group(&web, &all, &world.context()).unwrap();
    let leaving: Vec<&str> = group
        .leaving
        .iter()
        .map(|i| i.metadata.name.as_deref().unwrap())
        .collect();
    assert_eq!(leaving, ["gone", "moved", "nginx", "bad-name"]);
    assert_eq!(group.members.len(), 1);
    assert_eq!(
        groups_of(&moved, &world.context()),
        [GroupId::Explicit("api".into()), web.clone()],
        "a move concerns the old group (finalizer) and the new one"
    );

    // A member whose IngressClass disappeared blocks the group instead of losing its rules.
    let holder = with_finalizers(
        ingress(
            "shop",
            "orphan",
            json!({"alb.ingress.kubernetes.io/group.name": "web"}),
            json!({"ingressClassName": "deleted-class"}),
        ),
        &[finalizer],
    );
    assert!(matches!(
        load_group(&web, std::slice::from_ref(&holder), &world.context()),
        Err(GroupLoadError::Blocked { ingress, .. }) if ingress == "shop/orphan"
    ));
    // Without the finalizer it is simply not a member.
    let mut stranger = holder;
    stranger.metadata.finalizers = None;
    assert!(load_group(&web, &[stranger], &world.context())
        .unwrap()
        .is_empty());

    // An implicit group counts only its own Ingress's implicit finalizer.
    let own = GroupId::Implicit {
        namespace: "shop".into(),
        name: "solo".into(),
    };
    let other_with_implicit = with_finalizers(
        ingress(
            "shop",
            "other",
            json!({"kubernetes.io/ingress.class": "nginx"}),
            json!({}),
        ),
        &["ingress.k8s.aws/resources"],
    );
    assert!(load_group(&own, &[other_with_implicit], &world.context())
        .unwrap()
        .leaving
        .is_empty());
}

fn path(path: &str, path_type: &str) -> HTTPIngressPath {
    serde_json::from_value(json!({
        "path": path, "pathType": path_type,
        "backend": {"service": {"name": "s", "port": {"number": 80}}}
    }))
    .unwrap()
}

#[test]
fn paths_order_exact_then_longest_prefix_then_the_rest() {
    // The worked example's shop/a rule (spec §2.5.1): /healthz, /api/v2, /api, /*.
    let paths = vec![
        path("/api", "Prefix"),
        path("/api/v2", "Prefix"),
        path("/healthz", "Exact"),
        path("/*", "ImplementationSpecific"),
    ];
    let ordered: Vec<&str> = order_paths(&paths)
        .unwrap()
        .into_iter()
        .map(|p| p.path.as_deref().unwrap())
        .collect();
    assert_eq!(ordered, ["/healthz", "/api/v2", "/api", "/*"]);
    let ties = vec![
        path("/ab", "Prefix"),
        path("/cd", "Prefix"),
        path("/e", "Exact"),
        path("/f", "Exact"),
    ];
    let ordered: Vec<&str> = order_paths(&ties)
        .unwrap()
        .into_iter()
        .map(|p| p.path.as_deref().unwrap())
        .collect();
    assert_eq!(
        ordered,
        ["/e", "/f", "/ab", "/cd"],
        "ties keep manifest order"
    );
    assert!(order_paths(&[path("/x", "Regex")]).is_err());
}

#[test]
fn the_worked_example_orders_blog_before_shop() {
    let world = World::new();
    let a = member("shop", "a", Some("10"));
    let b = member("blog", "b", None);
    let group = load_group(&GroupId::Explicit("web".into()), &[a, b], &world.context()).unwrap();
    let keys: Vec<String> = group.members.iter().map(|m| m.key()).collect();
    assert_eq!(keys, ["blog/b", "shop/a"]);
}

mod listeners_and_rules {
    use super::*;
    use crate::cloud::RuleCondition;
    use crate::ingress::listen::{group_listeners, ssl_redirect_port};
    use crate::ingress::rules::{listener_rules, BackendRef, ServicePortRef};
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

    fn members(ingresses: &[Ingress]) -> Vec<crate::ingress::group::Member> {
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
}

mod held_members {
    use super::*;
    use crate::config::ControllerConfig;
    use crate::facts::CloudFacts;
    use crate::ingress::build::{build_ingress_stack, IngressBuildInput, MemberContribution};

    fn facts() -> CloudFacts {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/aws-facts.json");
        CloudFacts::from_documents(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn web_member(name: &str, path: &str, path_type: &str) -> Ingress {
        ingress(
            "shop",
            name,
            json!({"alb.ingress.kubernetes.io/group.name": "web"}),
            json!({"ingressClassName": "alb", "rules": [{"http": {"paths": [
                {"path": path, "pathType": path_type, "backend": {"service": {"name": "gone", "port": {"number": 80}}}}
            ]}}]}),
        )
    }

    fn build(
        ingresses: &[Ingress],
        previous: &BTreeMap<String, MemberContribution>,
    ) -> Result<crate::ingress::build::BuiltIngressStack, String> {
        let world = World::new();
        let id = GroupId::Explicit("web".into());
        let group = load_group(&id, ingresses, &world.context()).unwrap();
        let held_at_load: Vec<String> = group
            .held
            .iter()
            .map(|(i, _)| crate::ingress::group::ingress_key(i))
            .collect();
        let config = ControllerConfig::new("prod", "vpc-0example");
        let facts = facts();
        build_ingress_stack(&IngressBuildInput {
            group_id: &id,
            members: &group.members,
            services: &[],
            config: &config,
            facts: &facts,
            existing: None,
            previous,
            held_at_load: &held_at_load,
        })
    }

    fn rule_paths(built: &crate::ingress::build::BuiltIngressStack) -> Vec<(String, String)> {
        built
            .stack
            .rules
            .iter()
            .map(|(id, rule)| (id.clone(), format!("{:?}", rule.conditions)))
            .collect()
    }

    #[test]
    fn a_held_member_keeps_its_rules_in_place_and_the_others_go_on() {
        let good = [
            web_member("a", "/a", "Prefix"),
            web_member("b", "/b", "Prefix"),
        ];
        let first = build(&good, &BTreeMap::new()).unwrap();
        assert_eq!(first.stack.rules.len(), 2);

        // a breaks, b adds nothing new: a's rule stays at its priority, b's too.
        let broken = [
            web_member("a", "/a*", "Exact"),
            web_member("b", "/b", "Prefix"),
        ];
        let second = build(&broken, &first.contributions).unwrap();
        assert_eq!(second.held.len(), 1);
        assert_eq!(second.held[0].ingress, "shop/a");
        assert_eq!(
            rule_paths(&second),
            rule_paths(&first),
            "nothing of a is lost"
        );

        // Without what a had (e.g. after a restart) only b's rule is built.
        let cold = build(&broken, &BTreeMap::new()).unwrap();
        assert_eq!(cold.stack.rules.len(), 1);

        // A member held for its group.order keeps its rule too (after the others).
        let mut bad_order = web_member("a", "/a", "Prefix");
        bad_order.metadata.annotations.as_mut().unwrap().insert(
            "alb.ingress.kubernetes.io/group.order".into(),
            "5000".into(),
        );
        let third = build(
            &[bad_order, web_member("b", "/b", "Prefix")],
            &first.contributions,
        )
        .unwrap();
        assert_eq!(third.stack.rules.len(), 2, "a's rule is kept");

        // When no member builds, nothing may be deleted: the group fails instead.
        let all_broken = [
            web_member("a", "/a*", "Exact"),
            web_member("b", "/b*", "Exact"),
        ];
        let error = build(&all_broken, &first.contributions).unwrap_err();
        assert!(
            error.contains("shop/a") && error.contains("shop/b"),
            "{error}"
        );
    }
}
