//! The write rules of the API server: create, replace, patch, delete and seed.
//!
//! What the server owns (`uid`, `creationTimestamp`, `resourceVersion`, `generation`,
//! `deletionTimestamp`) is set here and never taken from a client body. Status and spec writes
//! are isolated for kinds with a status subresource. A write that changes nothing bumps nothing
//! and emits no event. A body carrying a `resourceVersion` other than the stored one is refused
//! with `409 Conflict`. Deletion honours finalizers: the object stays, marked, until the write
//! that removes its last finalizer.
//!
//! Deliberately left out: admission, defaulting, schema validation, managedFields, garbage
//! collection by owner reference.

use crate::patch::{apply_patch, PatchError, PatchKind};
use crate::status::ApiError;
use crate::store::{EventType, ObjectKey, Store, StoredObject};
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// Which part of an object a replace or patch addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Main,
    Status,
}

fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn metadata_mut(object: &mut Value) -> &mut Map<String, Value> {
    if !object.get("metadata").is_some_and(Value::is_object) {
        object["metadata"] = json!({});
    }
    match object.get_mut("metadata") {
        Some(Value::Object(metadata)) => metadata,
        _ => unreachable!("metadata was just made an object"),
    }
}

fn metadata_str<'a>(object: &'a Value, field: &str) -> Option<&'a str> {
    object
        .get("metadata")?
        .get(field)?
        .as_str()
        .filter(|text| !text.is_empty())
}

fn finalizers(object: &Value) -> Vec<String> {
    object
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn is_deleting(object: &Value) -> bool {
    metadata_str(object, "deletionTimestamp").is_some()
}

/// Whether anything but `metadata` and `status` differs: such a change bumps `generation`.
fn spec_changed(before: &Value, after: &Value) -> bool {
    let is_spec_field =
        |key: &String| !matches!(key.as_str(), "metadata" | "status" | "apiVersion" | "kind");
    let (Some(before), Some(after)) = (before.as_object(), after.as_object()) else {
        return before != after;
    };
    let differs_from = |one: &Map<String, Value>, other: &Map<String, Value>| {
        one.iter()
            .filter(|(key, _)| is_spec_field(key))
            .any(|(key, value)| other.get(key) != Some(value))
    };
    differs_from(before, after) || differs_from(after, before)
}

fn valid_name(group: &str, name: &str) -> bool {
    if group == "rbac.authorization.k8s.io" {
        return !name.is_empty()
            && !name.contains('/')
            && !name.contains('%')
            && name != "."
            && name != "..";
    }
    name.len() <= 253
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
}

fn generated_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    uuid::Uuid::new_v4()
        .as_bytes()
        .iter()
        .take(5)
        .map(|byte| ALPHABET[usize::from(*byte) % ALPHABET.len()] as char)
        .collect()
}

/// Checks that a body's `apiVersion`/`kind`, when given, name the kind of the URL.
fn check_kind(store: &Store, resource: usize, body: &Value) -> Result<(), ApiError> {
    let resource_type = store.table.get(resource);
    let api_version = body.get("apiVersion").and_then(Value::as_str);
    let kind = body.get("kind").and_then(Value::as_str);
    let api_version_ok = api_version.is_none_or(|v| v == resource_type.api_version());
    let kind_ok = kind.is_none_or(|k| k == resource_type.kind);
    if api_version_ok && kind_ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "the body is a {}/{}, but this URL serves {}/{}",
            api_version.unwrap_or("?"),
            kind.unwrap_or("?"),
            resource_type.api_version(),
            resource_type.kind
        )))
    }
}

/// Drops empty `finalizers`, `labels` and `annotations`, as the real server's serialization
/// (Go's `omitempty`) does: clients see the field absent, never empty.
fn omit_empty_metadata(value: &mut Value) {
    let metadata = metadata_mut(value);
    for field in ["finalizers", "labels", "annotations", "ownerReferences"] {
        let empty = match metadata.get(field) {
            Some(Value::Array(items)) => items.is_empty(),
            Some(Value::Object(map)) => map.is_empty(),
            Some(Value::Null) => true,
            _ => false,
        };
        if empty {
            metadata.remove(field);
        }
    }
}

/// Mirrors a change of an `events.k8s.io` Event into the core `v1` events (see `event_mirror`).
fn mirror_event(
    store: &mut Store,
    resource: usize,
    key: &ObjectKey,
    event_type: EventType,
    value: &Value,
) {
    let table = &store.table;
    let is_events_api =
        table.get(resource).group == "events.k8s.io" && table.get(resource).plural == "events";
    let Some(core) = table.find("", "v1", "events").filter(|_| is_events_api) else {
        return;
    };
    let mut mirrored = crate::event_mirror::core_event(value);
    if event_type == EventType::Deleted && !store.contains(core, key) {
        return;
    }
    let version = store.next_resource_version();
    metadata_mut(&mut mirrored).insert("resourceVersion".into(), json!(version.to_string()));
    let core_type = match (event_type, store.contains(core, key)) {
        (EventType::Deleted, _) => EventType::Deleted,
        (_, true) => EventType::Modified,
        (_, false) => EventType::Added,
    };
    store.commit(core, key.clone(), core_type, mirrored, version);
}

fn commit_versioned(
    store: &mut Store,
    resource: usize,
    key: ObjectKey,
    event_type: EventType,
    mut value: Value,
) -> Arc<StoredObject> {
    omit_empty_metadata(&mut value);
    mirror_event(store, resource, &key, event_type, &value);
    let version = store.next_resource_version();
    metadata_mut(&mut value).insert("resourceVersion".into(), json!(version.to_string()));
    store.commit(resource, key, event_type, value, version)
}

/// POST to a collection. `namespace` is the URL's namespace (empty for cluster-scoped kinds).
pub fn create(
    store: &mut Store,
    resource: usize,
    namespace: &str,
    mut body: Value,
) -> Result<Arc<StoredObject>, ApiError> {
    if !body.is_object() {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    }
    check_kind(store, resource, &body)?;
    let resource_type = store.table.get(resource).clone();
    let plural = resource_type.qualified_plural();
    if metadata_str(&body, "resourceVersion").is_some() {
        return Err(ApiError::bad_request(
            "resourceVersion should not be set on objects to be created",
        ));
    }
    let body_namespace = metadata_str(&body, "namespace")
        .unwrap_or_default()
        .to_string();
    if resource_type.namespaced && !body_namespace.is_empty() && body_namespace != namespace {
        return Err(ApiError::bad_request(format!(
            "the namespace of the object ({body_namespace}) does not match the namespace of the request ({namespace})"
        )));
    }
    let name = match (
        metadata_str(&body, "name"),
        metadata_str(&body, "generateName"),
    ) {
        (Some(name), _) => name.to_string(),
        (None, Some(prefix)) => loop {
            let candidate = format!("{prefix}{}", generated_suffix());
            if !store.contains(resource, &ObjectKey::new(namespace, &candidate)) {
                break candidate;
            }
        },
        (None, None) => {
            return Err(ApiError::invalid(
                &plural,
                "",
                "metadata.name: Required value: name or generateName is required",
            ))
        }
    };
    if !valid_name(&resource_type.group, &name) {
        return Err(ApiError::invalid(
            &plural,
            &name,
            "metadata.name: Invalid value: must be a lower case RFC 1123 subdomain",
        ));
    }
    let key = ObjectKey::new(
        if resource_type.namespaced {
            namespace
        } else {
            ""
        },
        &name,
    );
    store.take_injected_failure(resource, false)?;
    if store.contains(resource, &key) {
        return Err(ApiError::already_exists(&plural, &name));
    }
    let object = body
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("not an object"))?;
    object.insert("apiVersion".into(), json!(resource_type.api_version()));
    object.insert("kind".into(), json!(resource_type.kind));
    if resource_type.status_subresource {
        object.remove("status");
    }
    if resource_type.plural == "namespaces" && resource_type.group.is_empty() {
        object.insert("status".into(), json!({"phase": "Active"}));
    }
    let metadata = metadata_mut(&mut body);
    for server_owned in [
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "managedFields",
        "selfLink",
    ] {
        metadata.remove(server_owned);
    }
    metadata.insert("name".into(), json!(name));
    if resource_type.namespaced {
        metadata.insert("namespace".into(), json!(namespace));
    } else {
        metadata.remove("namespace");
    }
    metadata.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
    metadata.insert("creationTimestamp".into(), json!(now()));
    metadata.insert("generation".into(), json!(1));
    Ok(commit_versioned(
        store,
        resource,
        key,
        EventType::Added,
        body,
    ))
}

/// PUT of an object or of its status.
pub fn replace(
    store: &mut Store,
    resource: usize,
    key: &ObjectKey,
    body: Value,
    target: Target,
) -> Result<Arc<StoredObject>, ApiError> {
    if !body.is_object() {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    }
    check_kind(store, resource, &body)?;
    if let Some(body_name) = metadata_str(&body, "name") {
        if body_name != key.name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({})",
                key.name
            )));
        }
    }
    store.take_injected_failure(resource, target == Target::Status)?;
    update(store, resource, key, body, target)
}

/// The shared tail of replace and patch: merges `incoming` with what the server owns, then
/// commits it unless nothing changed.
fn update(
    store: &mut Store,
    resource: usize,
    key: &ObjectKey,
    incoming: Value,
    target: Target,
) -> Result<Arc<StoredObject>, ApiError> {
    let resource_type = store.table.get(resource).clone();
    let plural = resource_type.qualified_plural();
    let existing = store
        .get(resource, key)
        .ok_or_else(|| ApiError::not_found(&plural, &key.name))?;
    let stored_version = metadata_str(&existing.value, "resourceVersion")
        .unwrap_or_default()
        .to_string();
    if let Some(version) = metadata_str(&incoming, "resourceVersion") {
        if version != stored_version {
            return Err(ApiError::conflict(&plural, &key.name));
        }
    }
    let mut merged = if target == Target::Status {
        let mut merged = existing.value.clone();
        match incoming.get("status") {
            Some(status) => merged["status"] = status.clone(),
            None => {
                merged.as_object_mut().map(|object| object.remove("status"));
            }
        }
        merged
    } else {
        let mut merged = incoming;
        if resource_type.status_subresource {
            match existing.value.get("status") {
                Some(status) => merged["status"] = status.clone(),
                None => {
                    merged.as_object_mut().map(|object| object.remove("status"));
                }
            }
        }
        let old_metadata = existing.value.get("metadata").cloned().unwrap_or_default();
        let metadata = metadata_mut(&mut merged);
        metadata.remove("managedFields");
        for server_owned in [
            "name",
            "namespace",
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ] {
            match old_metadata.get(server_owned) {
                Some(value) => metadata.insert(server_owned.into(), value.clone()),
                None => metadata.remove(server_owned),
            };
        }
        merged
    };
    merged["apiVersion"] = json!(resource_type.api_version());
    merged["kind"] = json!(resource_type.kind);
    metadata_mut(&mut merged).insert("resourceVersion".into(), json!(stored_version));
    if is_deleting(&existing.value) {
        let before = finalizers(&existing.value);
        if let Some(added) = finalizers(&merged)
            .into_iter()
            .find(|f| !before.contains(f))
        {
            return Err(ApiError::invalid(
                &plural,
                &key.name,
                format!("metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers [\"{added}\"]"),
            ));
        }
    }
    if target == Target::Main && spec_changed(&existing.value, &merged) {
        let generation = existing
            .value
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        metadata_mut(&mut merged).insert("generation".into(), json!(generation + 1));
    }
    omit_empty_metadata(&mut merged);
    if merged == existing.value {
        return Ok(existing);
    }
    let event_type = if is_deleting(&merged) && finalizers(&merged).is_empty() {
        EventType::Deleted
    } else {
        EventType::Modified
    };
    Ok(commit_versioned(
        store,
        resource,
        key.clone(),
        event_type,
        merged,
    ))
}

/// PATCH of an object or of its status. An apply patch of a missing object creates it.
pub fn patch(
    store: &mut Store,
    resource: usize,
    key: &ObjectKey,
    kind: PatchKind,
    patch_body: &Value,
    target: Target,
) -> Result<Arc<StoredObject>, ApiError> {
    let resource_type = store.table.get(resource).clone();
    let plural = resource_type.qualified_plural();
    if kind == PatchKind::Strategic && !resource_type.built_in {
        return Err(ApiError::new(
            415,
            "UnsupportedMediaType",
            format!("the body of the request was in an unknown format - strategic merge patch is not supported for {plural}"),
        ));
    }
    let Some(existing) = store.get(resource, key) else {
        if kind == PatchKind::Apply && target == Target::Main {
            let mut body = patch_body.clone();
            metadata_mut(&mut body).insert("name".into(), json!(key.name));
            return create(store, resource, &key.namespace, body);
        }
        return Err(ApiError::not_found(&plural, &key.name));
    };
    let mut patched = existing.value.clone();
    apply_patch(kind, &mut patched, patch_body).map_err(|error| match error {
        PatchError::Malformed(message) => ApiError::bad_request(message),
        PatchError::Failed(message) => ApiError::invalid(&plural, &key.name, message),
    })?;
    if kind == PatchKind::Apply {
        check_kind(store, resource, patch_body)?;
    }
    store.take_injected_failure(resource, target == Target::Status)?;
    update(store, resource, key, patched, target)
}

/// DELETE of one object, honouring `DeleteOptions.preconditions` and finalizers. Deleting a
/// namespace deletes what it holds the same way.
pub fn delete(
    store: &mut Store,
    resource: usize,
    key: &ObjectKey,
    options: &Value,
) -> Result<Arc<StoredObject>, ApiError> {
    let resource_type = store.table.get(resource).clone();
    let plural = resource_type.qualified_plural();
    let existing = store
        .get(resource, key)
        .ok_or_else(|| ApiError::not_found(&plural, &key.name))?;
    let preconditions = options.get("preconditions");
    for (field, path) in [
        ("uid", "/metadata/uid"),
        ("resourceVersion", "/metadata/resourceVersion"),
    ] {
        let wanted = preconditions
            .and_then(|p| p.get(field))
            .and_then(Value::as_str);
        if wanted.is_some_and(|wanted| {
            existing.value.pointer(path).and_then(Value::as_str) != Some(wanted)
        }) {
            return Err(ApiError::conflict(&plural, &key.name));
        }
    }
    store.take_injected_failure(resource, false)?;
    if resource_type.plural == "namespaces" && resource_type.group.is_empty() {
        delete_namespace_contents(store, &key.name);
    }
    if finalizers(&existing.value).is_empty() {
        return Ok(commit_versioned(
            store,
            resource,
            key.clone(),
            EventType::Deleted,
            existing.value.clone(),
        ));
    }
    if is_deleting(&existing.value) {
        return Ok(existing);
    }
    let mut marked = existing.value.clone();
    let metadata = metadata_mut(&mut marked);
    metadata.insert("deletionTimestamp".into(), json!(now()));
    metadata.insert("deletionGracePeriodSeconds".into(), json!(0));
    Ok(commit_versioned(
        store,
        resource,
        key.clone(),
        EventType::Modified,
        marked,
    ))
}

fn delete_namespace_contents(store: &mut Store, namespace: &str) {
    for resource in 0..store.table.len() {
        if !store.table.get(resource).namespaced {
            continue;
        }
        for object in store.list(resource, Some(namespace)) {
            let name = metadata_str(&object.value, "name")
                .unwrap_or_default()
                .to_string();
            // Each object is deleted as if by its own DELETE; one that fails stays behind.
            let _ = delete(
                store,
                resource,
                &ObjectKey::new(namespace, &name),
                &Value::Null,
            );
        }
    }
}

/// Test control: stores `object` as given (status included), creating or overwriting it.
pub fn seed(store: &mut Store, mut object: Value) -> Result<Arc<StoredObject>, ApiError> {
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let resource = store
        .table
        .find_by_kind(api_version, kind)
        .ok_or_else(|| ApiError::bad_request(format!("no resource serves {api_version} {kind}")))?;
    let resource_type = store.table.get(resource).clone();
    let name = metadata_str(&object, "name")
        .ok_or_else(|| ApiError::bad_request("a seeded object needs metadata.name"))?
        .to_string();
    let namespace = if resource_type.namespaced {
        metadata_str(&object, "namespace")
            .unwrap_or("default")
            .to_string()
    } else {
        String::new()
    };
    let key = ObjectKey::new(&namespace, &name);
    let existing = store.get(resource, &key);
    let metadata = metadata_mut(&mut object);
    if resource_type.namespaced {
        metadata.insert("namespace".into(), json!(namespace));
    }
    let uid = existing
        .as_ref()
        .and_then(|e| e.value.pointer("/metadata/uid").cloned())
        .unwrap_or_else(|| json!(uuid::Uuid::new_v4().to_string()));
    metadata.entry("uid").or_insert(uid);
    metadata
        .entry("creationTimestamp")
        .or_insert_with(|| json!(now()));
    metadata.entry("generation").or_insert(json!(1));
    let event_type = if existing.is_some() {
        EventType::Modified
    } else {
        EventType::Added
    };
    Ok(commit_versioned(store, resource, key, event_type, object))
}
