//! kube-rs against the emulator: the client and runtime pieces the controller is built from
//! (watcher, reflector, `Controller` + `finalizer()`, events `Recorder`, leases) must work
//! unchanged, as they would against a real API server.

use crate::waiting::eventually;
use e2e::cluster::TestCluster;
use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use k8s_openapi::api::events::v1::Event as KubeEvent;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch,
    PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::finalizer::{finalizer, Event as FinalizerEvent};
use kube::runtime::{reflector, watcher, Controller};
use kube::{Resource, ResourceExt};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn config_map(name: &str, value: &str) -> ConfigMap {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": "demo"}},
        "data": {"value": value}
    }))
    .expect("valid ConfigMap")
}

fn status_of(error: &kube::Error) -> (u16, String) {
    match error {
        kube::Error::Api(status) => (status.code, status.reason.clone()),
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn reflector_converges_and_survives_forced_relists() {
    let cluster = TestCluster::start().await;
    let api: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), "default");
    for index in 0..20 {
        api.create(
            &PostParams::default(),
            &config_map(&format!("cm-{index}"), "v1"),
        )
        .await
        .unwrap();
    }
    let (reader, writer) = reflector::store();
    let expired = Arc::new(Mutex::new(0usize));
    let other_errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let (expired_count, errors) = (expired.clone(), other_errors.clone());
    let stream = reflector(writer, watcher(api.clone(), watcher::Config::default()));
    tokio::spawn(stream.for_each(move |event| {
        match event {
            Err(watcher::Error::WatchError(status)) if status.code == 410 => {
                *expired_count.lock().unwrap() += 1
            }
            Err(error) => errors.lock().unwrap().push(error.to_string()),
            Ok(_) => {}
        }
        async {}
    }));
    let store = reader.clone();
    eventually("the store to hold 20 objects", || async {
        (store.state().len() == 20).then_some(())
    })
    .await;

    for round in 0..2 {
        cluster.server.emulator.compact();
        api.delete(&format!("cm-{round}"), &DeleteParams::default())
            .await
            .unwrap();
        api.create(
            &PostParams::default(),
            &config_map(&format!("late-{round}"), "v1"),
        )
        .await
        .unwrap();
        api.patch(
            "cm-10",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"value": format!("round-{round}")}})),
        )
        .await
        .unwrap();
        let wanted = format!("round-{round}");
        eventually(
            "the store to follow the changes made around the compaction",
            || async {
                let names: Vec<String> = store.state().iter().map(|o| o.name_any()).collect();
                let patched = store
                    .state()
                    .iter()
                    .find(|o| o.name_any() == "cm-10")
                    .and_then(|o| o.data.clone())
                    .and_then(|d| d.get("value").cloned());
                let converged = names.len() == 20
                    && !names.contains(&format!("cm-{round}"))
                    && names.contains(&format!("late-{round}"))
                    && patched.as_deref() == Some(wanted.as_str());
                converged.then_some(())
            },
        )
        .await;
    }
    assert!(
        *expired.lock().unwrap() >= 1,
        "a compaction must force at least one 410 relist"
    );
    assert!(
        other_errors.lock().unwrap().is_empty(),
        "watch errors: {:?}",
        other_errors.lock().unwrap()
    );
}

struct ReconcileContext {
    client: kube::Client,
    cleaned_up: Mutex<Vec<String>>,
    errors: Mutex<Vec<String>>,
}

const FINALIZER: &str = "service.k8s.aws/resources";

async fn reconcile(
    service: Arc<Service>,
    context: Arc<ReconcileContext>,
) -> Result<Action, kube::runtime::finalizer::Error<kube::Error>> {
    let namespace = service.namespace().unwrap_or_default();
    let api: Api<Service> = Api::namespaced(context.client.clone(), &namespace);
    finalizer(&api, FINALIZER, service, |event| async {
        match event {
            FinalizerEvent::Apply(service) => {
                let hostname = format!(
                    "{}-g{}.elb.test",
                    service.name_any(),
                    service.metadata.generation.unwrap_or(0)
                );
                let status =
                    json!({"status": {"loadBalancer": {"ingress": [{"hostname": hostname}]}}});
                api.patch_status(
                    &service.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(status),
                )
                .await?;
                Ok(Action::await_change())
            }
            FinalizerEvent::Cleanup(service) => {
                context.cleaned_up.lock().unwrap().push(service.name_any());
                Ok(Action::await_change())
            }
        }
    })
    .await
}

fn hostname(service: &Service) -> Option<String> {
    service
        .status
        .as_ref()?
        .load_balancer
        .as_ref()?
        .ingress
        .as_ref()?
        .first()?
        .hostname
        .clone()
}

#[tokio::test]
async fn controller_with_finalizer_adds_writes_status_follows_spec_and_cleans_up() {
    let cluster = TestCluster::start().await;
    let api: Api<Service> = Api::namespaced(cluster.client.clone(), "default");
    let context = Arc::new(ReconcileContext {
        client: cluster.client.clone(),
        cleaned_up: Mutex::new(Vec::new()),
        errors: Mutex::new(Vec::new()),
    });
    let errors = context.clone();
    let controller = Controller::new(api.clone(), watcher::Config::default())
        .run(
            reconcile,
            |_service, error, context: Arc<ReconcileContext>| {
                context.errors.lock().unwrap().push(error.to_string());
                Action::requeue(Duration::from_secs(1))
            },
            context.clone(),
        )
        .for_each(move |result| {
            if let Err(error) = result {
                let benign = matches!(error, kube::runtime::controller::Error::ObjectNotFound(_));
                if !benign {
                    errors.errors.lock().unwrap().push(error.to_string());
                }
            }
            async {}
        });
    tokio::spawn(controller);

    let service: Service = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "protocol": "TCP"}]}
    }))
    .unwrap();
    api.create(&PostParams::default(), &service).await.unwrap();
    let reconciled = eventually("the finalizer and the first status", || async {
        let current = api.get("web").await.ok()?;
        (current.finalizers().contains(&FINALIZER.to_string())
            && hostname(&current).as_deref() == Some("web-g1.elb.test"))
        .then_some(current)
    })
    .await;
    assert_eq!(
        reconciled.metadata.generation,
        Some(1),
        "status and finalizer writes must not bump generation"
    );

    let port_change = json!({"spec": {"ports": [{"port": 8080, "protocol": "TCP"}]}});
    api.patch("web", &PatchParams::default(), &Patch::Merge(port_change))
        .await
        .unwrap();
    eventually("the status to follow the spec change", || async {
        let current = api.get("web").await.ok()?;
        (hostname(&current).as_deref() == Some("web-g2.elb.test")).then_some(())
    })
    .await;

    api.delete("web", &DeleteParams::default()).await.unwrap();
    eventually("the service to disappear after cleanup", || async {
        matches!(api.get_opt("web").await, Ok(None)).then_some(())
    })
    .await;
    assert_eq!(*context.cleaned_up.lock().unwrap(), vec!["web".to_string()]);
    assert!(
        context.errors.lock().unwrap().is_empty(),
        "controller errors: {:?}",
        context.errors.lock().unwrap()
    );
}

#[tokio::test]
async fn lease_writes_with_a_stale_resource_version_are_refused() {
    let cluster = TestCluster::start().await;
    let api: Api<Lease> = Api::namespaced(cluster.client.clone(), "kube-system");
    let lease: Lease = serde_json::from_value(json!({
        "metadata": {"name": "aws-load-balancer-controller-leader"},
        "spec": {"holderIdentity": "pod-a", "leaseDurationSeconds": 15}
    }))
    .unwrap();
    let first = api.create(&PostParams::default(), &lease).await.unwrap();
    let second_create = api
        .create(&PostParams::default(), &lease)
        .await
        .unwrap_err();
    assert_eq!(
        status_of(&second_create),
        (409, "AlreadyExists".to_string())
    );

    let mut taken = first.clone();
    taken.spec.as_mut().unwrap().holder_identity = Some("pod-b".into());
    let replaced = api
        .replace(&first.name_any(), &PostParams::default(), &taken)
        .await
        .unwrap();
    assert_ne!(replaced.resource_version(), first.resource_version());

    let mut stale = first.clone();
    stale.spec.as_mut().unwrap().holder_identity = Some("pod-c".into());
    let refused = api
        .replace(&first.name_any(), &PostParams::default(), &stale)
        .await
        .unwrap_err();
    assert_eq!(status_of(&refused), (409, "Conflict".to_string()));
    let holder = api
        .get(&first.name_any())
        .await
        .unwrap()
        .spec
        .unwrap()
        .holder_identity;
    assert_eq!(holder.as_deref(), Some("pod-b"));
}

#[tokio::test]
async fn recorder_publishes_events_about_an_object() {
    let cluster = TestCluster::start().await;
    let services: Api<Service> = Api::namespaced(cluster.client.clone(), "default");
    let service: Service = serde_json::from_value(
        json!({"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}}),
    )
    .unwrap();
    let service = services
        .create(&PostParams::default(), &service)
        .await
        .unwrap();
    let recorder = Recorder::new(
        cluster.client.clone(),
        Reporter::from("aws-load-balancer-controller"),
    );
    let event = Event {
        type_: EventType::Warning,
        reason: "FailedBuildModel".into(),
        note: Some("bad annotation".into()),
        action: "Reconcile".into(),
        secondary: None,
    };
    recorder
        .publish(&event, &service.object_ref(&()))
        .await
        .unwrap();
    recorder
        .publish(&event, &service.object_ref(&()))
        .await
        .unwrap();
    let events: Api<KubeEvent> = Api::namespaced(cluster.client.clone(), "default");
    let listed = events.list(&ListParams::default()).await.unwrap().items;
    assert_eq!(
        listed.len(),
        1,
        "a repeated event is one object with a series"
    );
    let published = &listed[0];
    assert_eq!(published.reason.as_deref(), Some("FailedBuildModel"));
    assert_eq!(
        published.regarding.as_ref().and_then(|r| r.name.as_deref()),
        Some("web")
    );
    assert_eq!(published.series.as_ref().map(|s| s.count), Some(2));
}

#[tokio::test]
async fn a_no_op_patch_bumps_nothing_and_wakes_no_watcher() {
    let cluster = TestCluster::start().await;
    let api: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), "default");
    let created = api
        .create(&PostParams::default(), &config_map("settings", "a"))
        .await
        .unwrap();
    let version = created.resource_version().unwrap();
    let mut events = api
        .watch(&WatchParams::default(), &version)
        .await
        .unwrap()
        .boxed();

    let same = api
        .patch(
            "settings",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"value": "a"}})),
        )
        .await
        .unwrap();
    assert_eq!(same.resource_version().as_deref(), Some(version.as_str()));
    let changed = api
        .patch(
            "settings",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"value": "b"}})),
        )
        .await
        .unwrap();
    assert_ne!(
        changed.resource_version().as_deref(),
        Some(version.as_str())
    );

    match events.next().await {
        Some(Ok(WatchEvent::Modified(first))) => {
            assert_eq!(
                first.data.unwrap()["value"],
                "b",
                "the first event must be the real change"
            );
        }
        other => panic!("expected the real change first, got {other:?}"),
    }
}

fn target_group_bindings(client: &kube::Client) -> Api<DynamicObject> {
    let kind = GroupVersionKind::gvk("elbv2.k8s.aws", "v1beta1", "TargetGroupBinding");
    let resource = ApiResource::from_gvk_with_plural(&kind, "targetgroupbindings");
    Api::namespaced_with(client.clone(), "default", &resource)
}

#[tokio::test]
async fn status_and_spec_writes_are_isolated() {
    let cluster = TestCluster::start().await;
    let api = target_group_bindings(&cluster.client);
    let binding: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "elbv2.k8s.aws/v1beta1", "kind": "TargetGroupBinding",
        "metadata": {"name": "web"},
        "spec": {"targetGroupARN": "arn:one", "serviceRef": {"name": "web", "port": 80}},
        "status": {"observedGeneration": 99}
    }))
    .unwrap();
    let created = api.create(&PostParams::default(), &binding).await.unwrap();
    assert!(
        created.data.get("status").is_none(),
        "status is dropped on create"
    );

    let status_write =
        json!({"spec": {"targetGroupARN": "arn:sneaky"}, "status": {"observedGeneration": 1}});
    let after_status = api
        .patch_status("web", &PatchParams::default(), &Patch::Merge(status_write))
        .await
        .unwrap();
    assert_eq!(
        after_status.data["spec"]["targetGroupARN"], "arn:one",
        "a status write leaves spec alone"
    );
    assert_eq!(after_status.data["status"]["observedGeneration"], 1);
    assert_eq!(
        after_status.metadata.generation,
        Some(1),
        "a status write does not bump generation"
    );

    let spec_write =
        json!({"spec": {"targetGroupARN": "arn:two"}, "status": {"observedGeneration": 7}});
    let after_spec = api
        .patch("web", &PatchParams::default(), &Patch::Merge(spec_write))
        .await
        .unwrap();
    assert_eq!(after_spec.data["spec"]["targetGroupARN"], "arn:two");
    assert_eq!(
        after_spec.data["status"]["observedGeneration"], 1,
        "a spec write leaves status alone"
    );
    assert_eq!(after_spec.metadata.generation, Some(2));
}

#[tokio::test]
async fn label_and_field_selectors_filter_lists_and_watches() {
    let cluster = TestCluster::start().await;
    let api: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), "default");
    for (name, tier) in [("a", "front"), ("b", "back"), ("c", "front")] {
        let object: ConfigMap =
            serde_json::from_value(json!({"metadata": {"name": name, "labels": {"tier": tier}}}))
                .unwrap();
        api.create(&PostParams::default(), &object).await.unwrap();
    }
    let names = |list: kube::core::ObjectList<ConfigMap>| {
        list.items.iter().map(|o| o.name_any()).collect::<Vec<_>>()
    };
    assert_eq!(
        names(
            api.list(&ListParams::default().labels("tier=front"))
                .await
                .unwrap()
        ),
        ["a", "c"]
    );
    assert_eq!(
        names(
            api.list(&ListParams::default().labels("tier notin (front)"))
                .await
                .unwrap()
        ),
        ["b"]
    );
    assert_eq!(
        names(
            api.list(&ListParams::default().fields("metadata.name=c"))
                .await
                .unwrap()
        ),
        ["c"]
    );
    assert_eq!(
        names(
            api.list(
                &ListParams::default()
                    .labels("tier in (front,back)")
                    .fields("metadata.name!=a")
            )
            .await
            .unwrap()
        ),
        ["b", "c"]
    );

    let version = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut front = api
        .watch(&WatchParams::default().labels("tier=front"), &version)
        .await
        .unwrap()
        .boxed();
    api.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"tier": "back"}}})),
    )
    .await
    .unwrap();
    match front.next().await {
        Some(Ok(WatchEvent::Deleted(left))) => assert_eq!(left.name_any(), "a"),
        other => {
            panic!("an object leaving the selection must be DELETED for the watcher, got {other:?}")
        }
    }
}
