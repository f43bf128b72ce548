use super::*;
use futures::{FutureExt, StreamExt};
use serde_json::json;

fn service(name: &str, kind: &str, annotations: serde_json::Value) -> Service {
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "shop", "uid": format!("uid-{name}"),
                     "resourceVersion": "1", "labels": {"app": name},
                     "annotations": annotations},
        "spec": {"type": kind, "clusterIP": "172.20.0.10", "selector": {"app": name},
                 "ipFamilies": ["IPv6"], "externalTrafficPolicy": "Local",
                 "sessionAffinity": "None",
                 "ports": [{"name": "http", "port": 80, "targetPort": "web", "nodePort": 30080,
                            "protocol": "TCP", "appProtocol": "http"}]},
        "status": {"loadBalancer": {"ingress": [{"hostname": "lb.example"}]}}
    }))
    .unwrap()
}

fn with_version(mut service: Service, version: &str) -> Service {
    service.metadata.resource_version = Some(version.into());
    service
}

#[test]
fn a_summary_keeps_what_the_readers_read_and_drops_the_rest() {
    let original = service(
        "web",
        "NodePort",
        json!({"alb.ingress.kubernetes.io/backend-protocol": "HTTPS",
               LAST_APPLIED: "x".repeat(1000),
               "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal"}),
    );
    let summarised = ServiceSummary::of(&original).to_service("shop");
    let spec = summarised.spec.clone().unwrap();
    let expected_port = ServicePort {
        app_protocol: None,
        ..original.spec.as_ref().unwrap().ports.clone().unwrap()[0].clone()
    };
    assert_eq!(spec.ports, Some(vec![expected_port]));
    assert_eq!(spec.type_.as_deref(), Some("NodePort"));
    assert_eq!(spec.selector, original.spec.as_ref().unwrap().selector);
    assert_eq!(spec.ip_families, Some(vec!["IPv6".to_string()]));
    assert_eq!(spec.external_traffic_policy.as_deref(), Some("Local"));
    assert_eq!(summarised.metadata.uid.as_deref(), Some("uid-web"));
    assert_eq!(summarised.metadata.resource_version.as_deref(), Some("1"));
    assert_eq!(summarised.metadata.namespace.as_deref(), Some("shop"));
    assert_eq!(
        summarised.metadata.annotations,
        Some(
            [(
                "alb.ingress.kubernetes.io/backend-protocol".to_string(),
                "HTTPS".to_string()
            )]
            .into()
        )
    );
    assert_eq!(spec.cluster_ip, None);
    assert_eq!(summarised.status, None);
    assert_eq!(summarised.metadata.labels, None);
}

#[test]
fn only_the_services_the_service_loop_may_act_on_are_kept_whole() {
    let mut leaving = service("leaving", "ClusterIP", json!({}));
    leaving.metadata.finalizers = Some(vec![SERVICE_FINALIZER.to_string()]);
    let watched = WatchedServices::filled([
        service("edge", "LoadBalancer", json!({LAST_APPLIED: "{}"})),
        service("internal", "ClusterIP", json!({})),
        service("annotated", "ClusterIP", json!({TYPE_ANNOTATION: "nlb-ip"})),
        leaving,
    ]);
    let mut whole: Vec<String> = watched
        .load_balancers()
        .state()
        .iter()
        .map(|s| s.metadata.name.clone().unwrap())
        .collect();
    whole.sort();
    assert_eq!(whole, ["annotated", "edge", "leaving"]);
    let edge = watched
        .load_balancers()
        .get(&ObjectRef::new("edge").within("shop"))
        .unwrap();
    assert!(
        edge.status.is_some(),
        "the Service loop reads the status it wrote"
    );
    assert!(!edge
        .metadata
        .annotations
        .as_ref()
        .unwrap()
        .contains_key(LAST_APPLIED));
    assert_eq!(watched.services_in("shop").len(), 4);
    assert!(watched.service("shop", "internal").is_some());
    assert!(watched.service("other", "internal").is_none());
}

#[tokio::test]
async fn changes_reach_every_subscriber_and_a_type_change_leaves_the_whole_store() {
    let (mut follower, watched) = WatchedServices::empty_with_writer();
    follower.apply(watcher::Event::Init);
    follower.apply(watcher::Event::InitApply(service(
        "edge",
        "LoadBalancer",
        json!({}),
    )));
    let mut early_changes = watched.subscribe_changes();
    let mut early_whole = watched.subscribe_load_balancers();
    follower.apply(watcher::Event::InitDone);
    watched.wait_until_ready().await;
    // The first list announces every whole Service; a later subscriber gets the stored ones.
    assert_eq!(
        early_whole.next().await.unwrap().metadata.name.as_deref(),
        Some("edge")
    );
    let mut late_whole = watched.subscribe_load_balancers();
    assert_eq!(
        late_whole.next().await.unwrap().metadata.name.as_deref(),
        Some("edge")
    );
    assert_eq!(
        early_changes.next().await,
        Some(ObjectRef::new("edge").within("shop"))
    );

    follower.apply(watcher::Event::Apply(with_version(
        service("edge", "ClusterIP", json!({})),
        "2",
    )));
    assert_eq!(
        early_changes.next().await,
        Some(ObjectRef::new("edge").within("shop"))
    );
    assert!(watched.load_balancers().state().is_empty());
    assert_eq!(
        watched
            .service("shop", "edge")
            .unwrap()
            .spec
            .unwrap()
            .type_
            .as_deref(),
        Some("ClusterIP")
    );
    follower.apply(watcher::Event::Delete(service(
        "edge",
        "ClusterIP",
        json!({}),
    )));
    assert_eq!(
        early_changes.next().await,
        Some(ObjectRef::new("edge").within("shop"))
    );
    assert!(watched.service("shop", "edge").is_none());
}

#[tokio::test]
async fn a_relist_announces_only_what_differs_deletions_included() {
    let (mut follower, watched) = WatchedServices::empty_with_writer();
    let list = |follower: &mut Follower, services: Vec<Service>| {
        follower.apply(watcher::Event::Init);
        for service in services {
            follower.apply(watcher::Event::InitApply(service));
        }
        follower.apply(watcher::Event::InitDone);
    };
    list(
        &mut follower,
        vec![
            service("same", "ClusterIP", json!({})),
            service("edited", "ClusterIP", json!({})),
            service("gone", "ClusterIP", json!({})),
            service("edge", "LoadBalancer", json!({})),
        ],
    );
    let mut changes = watched.subscribe_changes();
    let mut whole = watched.subscribe_load_balancers();
    assert_eq!(
        whole.next().await.unwrap().metadata.name.as_deref(),
        Some("edge")
    );
    let mut edited = service("edited", "ClusterIP", json!({}));
    edited.spec.as_mut().unwrap().ports.as_mut().unwrap()[0].port = 81;
    list(
        &mut follower,
        vec![
            service("same", "ClusterIP", json!({})),
            edited,
            service("new", "ClusterIP", json!({})),
            service("edge", "LoadBalancer", json!({})),
        ],
    );
    // The announcements are queued by the time the relist is applied.
    let mut announced = Vec::new();
    while let Some(Some(key)) = changes.next().now_or_never() {
        announced.push(key.name);
    }
    announced.sort();
    assert_eq!(announced, ["edited", "gone", "new"]);
    assert!(
        whole.next().now_or_never().is_none(),
        "an unchanged load balancer Service is not announced again"
    );
    assert_eq!(watched.services_in("shop").len(), 4);
}
