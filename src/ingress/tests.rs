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

mod listeners_and_rules;

mod held_members;

mod backend_checks;

#[test]
fn a_protected_member_being_deleted_blocks_its_group_until_unprotected() {
    let deleting = |attributes: &str| {
        let mut leaving = ingress(
            "shop",
            "old",
            json!({"alb.ingress.kubernetes.io/load-balancer-attributes": attributes}),
            json!({}),
        );
        leaving.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                "2026-01-01T00:00:00Z".parse().unwrap(),
            ));
        leaving
    };
    let protected = deleting("deletion_protection.enabled=true,idle_timeout.timeout_seconds=60");
    let problem =
        super::group::refuse_protected_deletions(std::slice::from_ref(&protected)).unwrap_err();
    assert!(problem.contains("shop/old"), "{problem}");
    assert!(super::group::refuse_protected_deletions(&[deleting(
        "deletion_protection.enabled=false"
    )])
    .is_ok());
    assert!(
        super::group::refuse_protected_deletions(&[deleting("deletion_protection.enabled=yes")])
            .is_err(),
        "a flag that is not a boolean is an error too"
    );
    let mut moved_away = protected;
    moved_away.metadata.deletion_timestamp = None;
    assert!(
        super::group::refuse_protected_deletions(&[moved_away]).is_ok(),
        "only a deletion is refused, not a member moving to another group"
    );
}

#[test]
fn an_ingress_moving_into_an_explicit_group_leaves_its_own_implicit_group_empty() {
    // Upstream issue #2028: the ALB of the Ingress's implicit group must not be orphaned.
    let world = World::new();
    let moved = with_finalizers(
        ingress(
            "shop",
            "solo",
            json!({"alb.ingress.kubernetes.io/group.name": "shared"}),
            json!({"ingressClassName": "alb"}),
        ),
        &["ingress.k8s.aws/resources"],
    );
    let implicit = GroupId::Implicit {
        namespace: "shop".into(),
        name: "solo".into(),
    };
    let groups = groups_of(&moved, &world.context());
    assert!(groups.contains(&implicit), "{groups:?}");
    assert!(groups.contains(&GroupId::Explicit("shared".into())));
    let old = load_group(&implicit, std::slice::from_ref(&moved), &world.context()).unwrap();
    assert!(old.members.is_empty(), "its old group has no member left");
    assert_eq!(
        old.leaving.len(),
        1,
        "so its stack is deleted and the finalizer dropped"
    );
}

#[test]
fn a_members_annotations_are_parsed_once_and_the_parse_is_shared_by_its_clones() {
    let ingress: Ingress = serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "shop", "annotations": {
            "alb.ingress.kubernetes.io/scheme": "internal",
            "alb.ingress.kubernetes.io/listen-ports": "[{\"HTTP\": 8080}]",
            "alb.ingress.kubernetes.io/inbound-cidrs": "10.0.0.0/8",
            "alb.ingress.kubernetes.io/certificate-arn": "arn:aws:acm:eu-west-1:1:certificate/a",
            "alb.ingress.kubernetes.io/mutual-authentication": "[{\"port\": 443, \"mode\": \"passthrough\"}]",
            "alb.ingress.kubernetes.io/actions.blue": "{\"type\": \"forward\", \"forwardConfig\": {\"targetGroups\": [{\"targetGroupName\": \"legacy\"}]}}",
            "alb.ingress.kubernetes.io/conditions.blue": "[{\"field\": \"http-request-method\", \"httpRequestMethodConfig\": {\"Values\": [\"GET\"]}}]"}}
    }))
    .unwrap();
    let member = super::member::Member::new(ingress, None, 0);
    let copy = member.clone();
    assert!(member.parsed.settings.get().is_none() && member.parsed.listen_ports.get().is_none());
    let settings = super::settings::member_settings(&copy).unwrap();
    assert_eq!(settings.scheme.as_deref(), Some("internal"));
    let ports = super::listen::listen_ports(&copy).unwrap();
    assert_eq!(ports.keys().copied().collect::<Vec<_>>(), vec![8080]);
    assert!(
        member.parsed.settings.get().is_some() && member.parsed.listen_ports.get().is_some(),
        "the clone's parse serves the original: the build's steps parse a member once"
    );
    assert!(member.parsed.explicit_certificates.get().is_none());
    assert_eq!(
        super::member::explicit_certificates(&copy).map(|arns| arns.len()),
        Some(1)
    );
    assert!(member.parsed.explicit_certificates.get().is_some());
    assert!(member.parsed.inbound_sources.get().is_none());
    let sources = super::listen::member_inbound_sources(&copy).unwrap();
    assert_eq!(sources.cidrs.map(|c| c.len()), Some(1));
    assert!(member.parsed.inbound_sources.get().is_some());
    assert!(member.parsed.mutual_authentication.get().is_none());
    let mutual = super::mtls::member_mutual_authentication(&copy).unwrap();
    assert_eq!(mutual[&443].mode, "passthrough");
    assert!(member.parsed.mutual_authentication.get().is_some());
    assert!(member.parsed.actions.get().is_none() && member.parsed.conditions.get().is_none());
    assert_eq!(
        super::member::forwarded_target_group_names(std::slice::from_ref(&copy)),
        vec!["legacy".to_string()]
    );
    assert!(super::member::annotated_conditions(&copy)["blue"].is_ok());
    assert!(member.parsed.actions.get().is_some() && member.parsed.conditions.get().is_some());
    assert_eq!(member, copy, "equality ignores the parse cache");
}
