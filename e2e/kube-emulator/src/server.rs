//! The HTTP face of the emulator: parses API paths, content types and query parameters, calls
//! the store's write rules, and renders objects, lists, watch streams and `Status` errors.
//!
//! Also serves discovery (`/version`, `/api`, `/apis`, resource lists) and the test control
//! endpoints under `/emulator/` (seed, compact, fail-next-write). It does not serve OpenAPI
//! documents (kubectl needs `--validate=false`), protobuf, tables or aggregated discovery;
//! kubectl falls back to plain JSON for all of them.

use crate::listing;
use crate::patch::PatchKind;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::status::{success_status, ApiError};
use crate::store::{InjectedFailure, ObjectKey, WatchStart};
use crate::watch::{refused_watch_body, stream_events, WatchFilter, WatchOptions};
use crate::writes::{self, Target};
use crate::Emulator;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;
use tokio_stream::StreamExt;

/// Request bodies larger than this are refused.
const BODY_LIMIT: usize = 16 * 1024 * 1024;

/// A path under `/api` or `/apis` that names a kind (and maybe a namespace, object, subresource).
struct ResourcePath {
    resource: usize,
    namespace: Option<String>,
    name: Option<String>,
    status: bool,
}

enum Route {
    Version,
    Health,
    CoreVersions,
    GroupList,
    Group(String),
    ResourceList(String, String),
    Control(String),
    Resource(ResourcePath),
}

pub(crate) fn json_response(code: u16, body: impl Into<Bytes>) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.into()))
        .unwrap_or_default()
}

fn value_response(code: u16, value: &Value) -> Response {
    json_response(code, value.to_string())
}

fn error_response(error: &ApiError) -> Response {
    value_response(error.code, &error.to_status())
}

fn parse_resource_path(
    emulator: &Emulator,
    group: &str,
    version: &str,
    rest: &[&str],
) -> Result<ResourcePath, ApiError> {
    let (namespace, plural, tail) = match rest {
        ["namespaces", namespace, plural, tail @ ..] => {
            (Some(namespace.to_string()), *plural, tail)
        }
        [plural, tail @ ..] => (None, *plural, tail),
        [] => return Err(ApiError::path_not_found(group)),
    };
    let table = &emulator.table;
    let resource = table
        .find(group, version, plural)
        .ok_or_else(|| ApiError::path_not_found(&format!("{group}/{version}/{plural}")))?;
    let resource_type = table.get(resource);
    if namespace.is_some() && !resource_type.namespaced {
        return Err(ApiError::path_not_found(plural));
    }
    let (name, status) = match tail {
        [] => (None, false),
        [name] => (Some(name.to_string()), false),
        [name, "status"] if resource_type.status_subresource => (Some(name.to_string()), true),
        _ => return Err(ApiError::path_not_found(&rest.join("/"))),
    };
    Ok(ResourcePath {
        resource,
        namespace,
        name,
        status,
    })
}

fn route(emulator: &Emulator, path: &str) -> Result<Route, ApiError> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        ["version"] => Ok(Route::Version),
        ["healthz"] | ["readyz"] | ["livez"] => Ok(Route::Health),
        ["emulator", action] => Ok(Route::Control(action.to_string())),
        ["api"] => Ok(Route::CoreVersions),
        ["api", "v1"] => Ok(Route::ResourceList(String::new(), "v1".into())),
        ["api", "v1", rest @ ..] => {
            parse_resource_path(emulator, "", "v1", rest).map(Route::Resource)
        }
        ["apis"] => Ok(Route::GroupList),
        ["apis", group] => Ok(Route::Group(group.to_string())),
        ["apis", group, version] => Ok(Route::ResourceList(group.to_string(), version.to_string())),
        ["apis", group, version, rest @ ..] => {
            parse_resource_path(emulator, group, version, rest).map(Route::Resource)
        }
        _ => Err(ApiError::path_not_found(path)),
    }
}

fn query_parameters(query: Option<&str>) -> HashMap<String, String> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn content_type(request: &Request) -> String {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// Parses a create/replace body: JSON or YAML by `Content-Type`, anything else is 415.
fn parse_object_body(content_type: &str, body: &[u8]) -> Result<Value, ApiError> {
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    let parsed: Result<Value, String> = match media_type {
        "application/json" => serde_json::from_slice(body).map_err(|e| e.to_string()),
        "application/yaml" => serde_yaml::from_slice(body).map_err(|e| e.to_string()),
        _ => return Err(ApiError::unsupported_media_type(content_type)),
    };
    let value = parsed.map_err(|error| {
        ApiError::bad_request(format!("the request body could not be decoded: {error}"))
    })?;
    if value.is_object() {
        Ok(value)
    } else {
        Err(ApiError::bad_request("the request body must be an object"))
    }
}

fn parse_patch_body(kind: PatchKind, body: &[u8]) -> Result<Value, ApiError> {
    let parsed = match kind {
        PatchKind::Apply => serde_json::from_slice(body)
            .or_else(|_| serde_yaml::from_slice(body).map_err(|e| e.to_string())),
        _ => serde_json::from_slice(body).map_err(|e| e.to_string()),
    };
    parsed
        .map_err(|error| ApiError::bad_request(format!("the patch could not be decoded: {error}")))
}

pub async fn handle(State(emulator): State<Emulator>, request: Request) -> Response {
    match dispatch(&emulator, request).await {
        Ok(response) => response,
        Err(error) => error_response(&error),
    }
}

async fn dispatch(emulator: &Emulator, request: Request) -> Result<Response, ApiError> {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let query = query_parameters(request.uri().query());
    let content_type = content_type(&request);
    let body = axum::body::to_bytes(request.into_body(), BODY_LIMIT)
        .await
        .map_err(|error| {
            ApiError::bad_request(format!("could not read the request body: {error}"))
        })?;
    let table = &emulator.table;
    let not_found = || ApiError::path_not_found(&path);
    match route(emulator, &path)? {
        Route::Version => Ok(value_response(200, &version_document())),
        Route::Health => Ok(json_response(200, "ok")),
        Route::CoreVersions => Ok(value_response(200, &table.core_versions_document())),
        Route::GroupList => Ok(value_response(200, &table.group_list_document())),
        Route::Group(group) => table
            .group_document_for(&group)
            .map(|d| value_response(200, &d))
            .ok_or_else(not_found),
        Route::ResourceList(group, version) => table
            .resource_list_document(&group, &version)
            .map(|d| value_response(200, &d))
            .ok_or_else(not_found),
        Route::Control(action) if method == Method::POST => control(emulator, &action, &body),
        Route::Control(_) => Err(ApiError::method_not_allowed(method.as_str(), &path)),
        Route::Resource(target) => {
            let (content_type, body) =
                admitted(emulator, &method, &target, content_type, body).await?;
            resource_request(
                emulator,
                &method,
                &path,
                target,
                &query,
                &content_type,
                &body,
            )
        }
    }
}

/// The body after the admission webhooks, for creates and replacements of a main resource.
async fn admitted(
    emulator: &Emulator,
    method: &Method,
    target: &ResourcePath,
    content_type: String,
    body: Bytes,
) -> Result<(String, Bytes), ApiError> {
    let creating = *method == Method::POST && target.name.is_none();
    let replacing = *method == Method::PUT && target.name.is_some() && !target.status;
    if !(creating || replacing) {
        return Ok((content_type, body));
    }
    let object = parse_object_body(&content_type, &body)?;
    let old = match target.name.as_deref() {
        Some(name) if replacing => {
            let key = object_key(emulator, target, name);
            emulator
                .with_store(|store| store.get(target.resource, &key))
                .map(|stored| stored.value.clone())
        }
        _ => None,
    };
    if replacing && old.is_none() {
        return Ok((content_type, body));
    }
    let namespace = target
        .namespace
        .clone()
        .or_else(|| object["metadata"]["namespace"].as_str().map(String::from))
        .unwrap_or_default();
    let admitted =
        crate::admission::admit(emulator, target.resource, &namespace, object, old.as_ref())
            .await?;
    let json = serde_json::to_vec(&admitted)
        .map_err(|e| ApiError::bad_request(format!("cannot encode the object: {e}")))?;
    Ok(("application/json".to_string(), Bytes::from(json)))
}

fn version_document() -> Value {
    json!({
        "major": "1", "minor": "33", "gitVersion": "v1.33.0-kube-emulator", "gitCommit": "", "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z", "goVersion": "n/a", "compiler": "rustc", "platform": "linux/amd64"
    })
}

fn object_key(emulator: &Emulator, target: &ResourcePath, name: &str) -> ObjectKey {
    let namespaced = emulator.table.get(target.resource).namespaced;
    let namespace = if namespaced {
        target.namespace.as_deref().unwrap_or("default")
    } else {
        ""
    };
    ObjectKey::new(namespace, name)
}

fn resource_request(
    emulator: &Emulator,
    method: &Method,
    path: &str,
    target: ResourcePath,
    query: &HashMap<String, String>,
    content_type: &str,
    body: &[u8],
) -> Result<Response, ApiError> {
    let resource = target.resource;
    let subresource = if target.status {
        Target::Status
    } else {
        Target::Main
    };
    let namespaced = emulator.table.get(resource).namespaced;
    let watching = matches!(query.get("watch").map(String::as_str), Some("true" | "1"));
    let verb = match (method, target.name.is_some()) {
        (&Method::GET, false) if watching => "watch",
        (&Method::GET, false) => "list",
        (&Method::GET, true) => "get",
        (&Method::POST, _) => "create",
        (&Method::PUT, _) => "update",
        (&Method::PATCH, _) => "patch",
        (&Method::DELETE, _) => "delete",
        _ => "other",
    };
    emulator.count_request(verb, &emulator.table.get(resource).plural);
    match (method, target.name.as_deref()) {
        (&Method::GET, None)
            if matches!(query.get("watch").map(String::as_str), Some("true" | "1")) =>
        {
            watch(emulator, resource, target.namespace, query)
        }
        (&Method::GET, None) => {
            listing::list(emulator, resource, target.namespace.as_deref(), query)
        }
        (&Method::GET, Some(name)) => {
            let key = object_key(emulator, &target, name);
            let object = emulator.with_store(|store| store.get(resource, &key));
            let plural = emulator.table.get(resource).qualified_plural();
            object
                .map(|o| json_response(200, o.json.clone()))
                .ok_or_else(|| ApiError::not_found(&plural, name))
        }
        (&Method::POST, None) => {
            if namespaced && target.namespace.is_none() {
                return Err(ApiError::method_not_allowed("POST", path));
            }
            let object = parse_object_body(content_type, body)?;
            let namespace = target.namespace.unwrap_or_default();
            let created =
                emulator.with_store(|store| writes::create(store, resource, &namespace, object))?;
            Ok(json_response(201, created.json.clone()))
        }
        (&Method::PUT, Some(name)) => {
            let object = parse_object_body(content_type, body)?;
            let key = object_key(emulator, &target, name);
            let replaced = emulator
                .with_store(|store| writes::replace(store, resource, &key, object, subresource))?;
            Ok(json_response(200, replaced.json.clone()))
        }
        (&Method::PATCH, Some(name)) => {
            let kind = PatchKind::from_content_type(content_type)
                .ok_or_else(|| ApiError::unsupported_media_type(content_type))?;
            let patch_body = parse_patch_body(kind, body)?;
            let key = object_key(emulator, &target, name);
            let (patched, created) = emulator.with_store(|store| {
                let existed = store.contains(resource, &key);
                writes::patch(store, resource, &key, kind, &patch_body, subresource)
                    .map(|o| (o, !existed))
            })?;
            Ok(json_response(
                if created { 201 } else { 200 },
                patched.json.clone(),
            ))
        }
        (&Method::DELETE, Some(name)) => {
            let options = if body.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(body)
                    .map_err(|e| ApiError::bad_request(format!("malformed DeleteOptions: {e}")))?
            };
            let key = object_key(emulator, &target, name);
            let deleted =
                emulator.with_store(|store| writes::delete(store, resource, &key, &options))?;
            Ok(json_response(200, deleted.json.clone()))
        }
        (&Method::DELETE, None) => {
            delete_collection(emulator, resource, target.namespace.as_deref(), query)
        }
        _ => Err(ApiError::method_not_allowed(method.as_str(), path)),
    }
}

pub(crate) fn selectors(
    query: &HashMap<String, String>,
) -> Result<(LabelSelector, FieldSelector), ApiError> {
    let labels = LabelSelector::parse(
        query
            .get("labelSelector")
            .map(String::as_str)
            .unwrap_or_default(),
    )
    .map_err(|e| ApiError::bad_request(format!("unable to parse requirement: {e}")))?;
    let fields = FieldSelector::parse(
        query
            .get("fieldSelector")
            .map(String::as_str)
            .unwrap_or_default(),
    )
    .map_err(|e| ApiError::bad_request(format!("invalid field selector: {e}")))?;
    Ok((labels, fields))
}

fn delete_collection(
    emulator: &Emulator,
    resource: usize,
    namespace: Option<&str>,
    query: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let (labels, fields) = selectors(query)?;
    emulator.with_store(|store| {
        for object in store.list(resource, namespace) {
            if labels.matches(&object.value) && fields.matches(&object.value) {
                let metadata = &object.value["metadata"];
                let key = ObjectKey::new(
                    metadata["namespace"].as_str().unwrap_or_default(),
                    metadata["name"].as_str().unwrap_or_default(),
                );
                writes::delete(store, resource, &key, &Value::Null)?;
            }
        }
        Ok::<_, ApiError>(())
    })?;
    Ok(value_response(200, &success_status()))
}

fn watch(
    emulator: &Emulator,
    resource: usize,
    namespace: Option<String>,
    query: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let (labels, fields) = selectors(query)?;
    let requested = query
        .get("resourceVersion")
        .map(String::as_str)
        .unwrap_or_default();
    let start = match requested {
        "" | "0" => WatchStart::CurrentState,
        text => WatchStart::After(
            text.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {text:?}")))?,
        ),
    };
    let timeout = match query.get("timeoutSeconds") {
        Some(text) => Some(Duration::from_secs(text.parse().map_err(|_| {
            ApiError::bad_request(format!("invalid timeoutSeconds {text:?}"))
        })?)),
        None => None,
    };
    let resource_type = emulator.table.get(resource);
    let options = WatchOptions {
        filter: WatchFilter {
            namespace,
            labels,
            fields,
        },
        timeout,
        bookmarks: query
            .get("allowWatchBookmarks")
            .is_some_and(|v| v == "true"),
        initial_events_end: query.get("sendInitialEvents").is_some_and(|v| v == "true")
            && matches!(start, WatchStart::CurrentState),
        api_version: resource_type.api_version(),
        kind: resource_type.kind.clone(),
    };
    let subscription = match emulator.with_store(|store| store.subscribe(resource, start)) {
        Ok(subscription) => subscription,
        Err(error) => return Ok(json_response(200, refused_watch_body(&error))),
    };
    let (sink, source) = tokio::sync::mpsc::channel::<Bytes>(1024);
    tokio::spawn(stream_events(subscription, options, sink));
    let stream = tokio_stream::wrappers::ReceiverStream::new(source).map(Ok::<_, Infallible>);
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(stream))
        .unwrap_or_default())
}

/// `/emulator/{seed,compact,fail-next-write}`: the test control interface over HTTP.
fn control(emulator: &Emulator, action: &str, body: &[u8]) -> Result<Response, ApiError> {
    let parsed = || -> Result<Value, ApiError> {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("malformed control body: {e}")))
    };
    match action {
        "seed" => {
            let body = parsed()?;
            let objects = match body.get("items").and_then(Value::as_array) {
                Some(items) => items.clone(),
                None => vec![body],
            };
            let mut seeded = Vec::new();
            for object in objects {
                seeded.push(emulator.seed(object)?);
            }
            Ok(value_response(200, &json!({"items": seeded})))
        }
        "compact" => {
            emulator.compact();
            Ok(value_response(200, &success_status()))
        }
        "fail-next-write" => {
            let body = parsed()?;
            let field = |name: &str| {
                body.get(name)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            let code = body.get("code").and_then(Value::as_u64).unwrap_or(500);
            let reason = body
                .get("reason")
                .and_then(Value::as_str)
                .unwrap_or("InternalError");
            let error = ApiError::new(u16::try_from(code).unwrap_or(500), reason, field("message"));
            emulator.fail_next_write(&field("apiVersion"), &field("resource"), error)?;
            Ok(value_response(200, &success_status()))
        }
        _ => Err(ApiError::path_not_found(action)),
    }
}

/// Queues `error` for the next write of the kind `(api_version, plural)`; `plural/status`: for
/// the next write of a status only.
pub(crate) fn injected_failure(
    emulator: &Emulator,
    api_version: &str,
    plural: &str,
    error: ApiError,
) -> Result<InjectedFailure, ApiError> {
    let (plural, status_only) = match plural.strip_suffix("/status") {
        Some(plural) => (plural, true),
        None => (plural, false),
    };
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let resource = emulator
        .table
        .find(group, version, plural)
        .ok_or_else(|| ApiError::bad_request(format!("no resource {plural} in {api_version}")))?;
    Ok(InjectedFailure {
        resource,
        status_only,
        error,
    })
}
