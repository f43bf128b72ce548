//! The emulator's answers to bad input, concurrent writers and injected failures, seen over
//! plain HTTP: every refusal is a `Status` with the code and reason a real API server gives.

use e2e::cluster::TestCluster;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::ResourceExt;
use kube_emulator::ApiError;
use serde_json::{json, Value};

/// Sends one request and returns the HTTP code and the parsed body.
async fn send(
    method: reqwest::Method,
    url: &str,
    content_type: Option<&str>,
    body: &str,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(method, url)
        .body(body.to_string());
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let response = request.send().await.expect("the emulator answers");
    let code = response.status().as_u16();
    let text = response.text().await.expect("a response body");
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("a JSON body, got {text:?}"));
    (code, body)
}

fn assert_status(outcome: &(u16, Value), code: u16, reason: &str, case: &str) {
    let (actual_code, body) = outcome;
    assert_eq!(*actual_code, code, "{case}: {body}");
    assert_eq!(body["kind"], "Status", "{case}");
    assert_eq!(body["reason"], reason, "{case}");
    assert_eq!(body["code"], code, "{case}");
}

#[tokio::test]
async fn bad_input_gets_the_status_a_real_server_gives() {
    use reqwest::Method;
    let cluster = TestCluster::start().await;
    let base = cluster.url();
    let services = format!("{base}/api/v1/namespaces/default/services");
    let json = Some("application/json");

    let malformed = send(Method::POST, &services, json, "{\"metadata\": ").await;
    assert_status(&malformed, 400, "BadRequest", "malformed body");
    let not_an_object = send(Method::POST, &services, json, "[1, 2]").await;
    assert_status(&not_an_object, 400, "BadRequest", "array body");
    let wrong_kind = send(
        Method::POST,
        &services,
        json,
        r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"}}"#,
    )
    .await;
    assert_status(&wrong_kind, 400, "BadRequest", "kind of another resource");
    let unknown_kind = send(
        Method::GET,
        &format!("{base}/api/v1/namespaces/default/widgets"),
        None,
        "",
    )
    .await;
    assert_status(&unknown_kind, 404, "NotFound", "unknown kind");
    let unknown_group = send(
        Method::GET,
        &format!("{base}/apis/nope.example.com/v1/things"),
        None,
        "",
    )
    .await;
    assert_status(&unknown_group, 404, "NotFound", "unknown group");
    let missing = send(Method::GET, &format!("{services}/absent"), None, "").await;
    assert_status(&missing, 404, "NotFound", "missing object");
    let bad_labels = send(
        Method::GET,
        &format!("{services}?labelSelector=app%20in%20web"),
        None,
        "",
    )
    .await;
    assert_status(&bad_labels, 400, "BadRequest", "bad label selector");
    let bad_fields = send(
        Method::GET,
        &format!("{services}?fieldSelector=metadata.name"),
        None,
        "",
    )
    .await;
    assert_status(&bad_fields, 400, "BadRequest", "bad field selector");
    let text = send(Method::POST, &services, Some("text/plain"), "{}").await;
    assert_status(&text, 415, "UnsupportedMediaType", "text/plain body");
    let nameless = send(Method::POST, &services, json, r#"{"metadata":{}}"#).await;
    assert_status(&nameless, 422, "Invalid", "no name");
    let bad_name = send(
        Method::POST,
        &services,
        json,
        r#"{"metadata":{"name":"Not_Valid"}}"#,
    )
    .await;
    assert_status(&bad_name, 422, "Invalid", "invalid name");
    let preset_version = send(
        Method::POST,
        &services,
        json,
        r#"{"metadata":{"name":"a","resourceVersion":"5"}}"#,
    )
    .await;
    assert_status(
        &preset_version,
        400,
        "BadRequest",
        "resourceVersion on create",
    );

    let created = send(
        Method::POST,
        &services,
        json,
        r#"{"metadata":{"name":"web"},"spec":{"ports":[{"port":80}]}}"#,
    )
    .await;
    assert_eq!(created.0, 201);
    let unknown_patch = send(
        Method::PATCH,
        &format!("{services}/web"),
        Some("application/xml"),
        "{}",
    )
    .await;
    assert_status(
        &unknown_patch,
        415,
        "UnsupportedMediaType",
        "unknown patch type",
    );
    let failing_test = r#"[{"op":"test","path":"/metadata/name","value":"other"}]"#;
    let failed = send(
        Method::PATCH,
        &format!("{services}/web"),
        Some("application/json-patch+json"),
        failing_test,
    )
    .await;
    assert_status(&failed, 422, "Invalid", "failed JSON-patch test");

    let bindings =
        format!("{base}/apis/elbv2.k8s.aws/v1beta1/namespaces/default/targetgroupbindings");
    let binding = r#"{"apiVersion":"elbv2.k8s.aws/v1beta1","kind":"TargetGroupBinding","metadata":{"name":"b"},"spec":{}}"#;
    assert_eq!(send(Method::POST, &bindings, json, binding).await.0, 201);
    let strategic = send(
        Method::PATCH,
        &format!("{bindings}/b"),
        Some("application/strategic-merge-patch+json"),
        "{}",
    )
    .await;
    assert_status(
        &strategic,
        415,
        "UnsupportedMediaType",
        "strategic merge patch of a custom resource",
    );
}

#[tokio::test]
async fn concurrent_writers_never_lose_an_update() {
    let cluster = TestCluster::start().await;
    let api: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), "default");
    let counter: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "counter"}, "data": {"count": "0"}}))
            .unwrap();
    api.create(&PostParams::default(), &counter).await.unwrap();

    let writers = 8;
    let increments = 15;
    let mut tasks = Vec::new();
    for writer in 0..writers {
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            let mut conflicts = 0;
            for increment in 0..increments {
                let label =
                    json!({"metadata": {"labels": {format!("w{writer}-{increment}"): "x"}}});
                api.patch("counter", &PatchParams::default(), &Patch::Merge(label))
                    .await
                    .unwrap();
                loop {
                    let mut current = api.get("counter").await.unwrap();
                    let data = current.data.get_or_insert_with(Default::default);
                    let count: u32 = data["count"].parse().unwrap();
                    data.insert("count".into(), (count + 1).to_string());
                    match api
                        .replace("counter", &PostParams::default(), &current)
                        .await
                    {
                        Ok(_) => break,
                        Err(kube::Error::Api(status)) if status.reason == "Conflict" => {
                            conflicts += 1
                        }
                        Err(other) => panic!("unexpected error: {other}"),
                    }
                }
            }
            conflicts
        }));
    }
    let mut conflicts = 0;
    for task in tasks {
        conflicts += task.await.unwrap();
    }
    let last = api.get("counter").await.unwrap();
    assert_eq!(
        last.data.as_ref().unwrap()["count"],
        (writers * increments).to_string(),
        "after {conflicts} conflicts"
    );
    assert_eq!(
        last.labels().len(),
        writers * increments,
        "every concurrent merge patch is kept"
    );
}

#[tokio::test]
async fn an_injected_failure_hits_the_next_write_of_its_kind_only() {
    let cluster = TestCluster::start().await;
    let api: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), "default");
    let object: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "x"}})).unwrap();
    cluster
        .server
        .emulator
        .fail_next_write(
            "v1",
            "configmaps",
            ApiError::new(409, "Conflict", "injected"),
        )
        .unwrap();
    match api.create(&PostParams::default(), &object).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"))
        }
        other => panic!("expected the injected conflict, got {other:?}"),
    }
    assert!(
        api.get_opt("x").await.unwrap().is_none(),
        "the failed write changed nothing"
    );
    api.create(&PostParams::default(), &object).await.unwrap();

    let seeded = cluster
        .server
        .emulator
        .seed(json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}, "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.1"}]}}))
        .unwrap();
    assert_eq!(
        seeded["status"]["addresses"][0]["address"], "10.0.0.1",
        "seeding keeps status"
    );
}

#[tokio::test]
async fn a_list_comes_in_pages_of_its_limit_at_one_resource_version() {
    use kube::api::ListParams;
    let cluster = TestCluster::start().await;
    let maps: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), "default");
    for index in 0..5 {
        let map: ConfigMap =
            serde_json::from_value(json!({"metadata": {"name": format!("map-{index}")}})).unwrap();
        maps.create(&PostParams::default(), &map).await.unwrap();
    }
    let first = maps.list(&ListParams::default().limit(2)).await.unwrap();
    let version = first.metadata.resource_version.clone();
    let mut names: Vec<String> = first.items.iter().map(|m| m.name_any()).collect();
    assert_eq!(names, ["map-0", "map-1"]);
    // A write between pages moves the store on, not the list's version.
    let late: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "map-9"}})).unwrap();
    maps.create(&PostParams::default(), &late).await.unwrap();
    let mut token = first.metadata.continue_;
    let mut pages = 1;
    while let Some(next) = token.filter(|t| !t.is_empty()) {
        let page = maps
            .list(&ListParams::default().limit(2).continue_token(&next))
            .await
            .unwrap();
        assert_eq!(page.metadata.resource_version, version, "page {pages}");
        names.extend(page.items.iter().map(|m| m.name_any()));
        token = page.metadata.continue_;
        pages += 1;
    }
    assert_eq!(
        names,
        ["map-0", "map-1", "map-2", "map-3", "map-4", "map-9"]
    );
    assert_eq!(pages, 3);
    let whole = maps.list(&ListParams::default()).await.unwrap();
    assert_eq!(whole.items.len(), 6);
    assert!(whole.metadata.continue_.is_none());
    let (code, _) = send(
        reqwest::Method::GET,
        &format!(
            "{}/api/v1/namespaces/default/configmaps?limit=2&continue=nonsense",
            cluster.url()
        ),
        None,
        "",
    )
    .await;
    assert_eq!(code, 400, "a malformed continue token is refused");
}
