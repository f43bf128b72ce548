//! The four PATCH flavours of the API, applied to a stored object's JSON.
//!
//! - JSON merge patch (RFC 7386);
//! - JSON patch (RFC 6902) with the real server's quirk that a `test` of `null` passes when the
//!   path is missing (kube-runtime's `finalizer()` relies on it);
//! - strategic merge patch for built-in kinds: lists with a known merge key are merged element by
//!   element, `metadata.finalizers` is merged as a set, and the `$patch`, `$setElementOrder`,
//!   `$retainKeys` and `$deleteFromPrimitiveList` directives are understood. The merge keys come
//!   from a small table of the fields kubectl and controllers touch, not from the OpenAPI schema;
//! - server-side apply, approximated as a merge patch (field ownership is not tracked, so an apply
//!   never removes a field another manager set).
//!
//! This module does not decide which kinds accept which flavour; the router does.

use serde_json::{Map, Value};

/// The PATCH flavours, by `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    Merge,
    Json,
    Strategic,
    Apply,
}

impl PatchKind {
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let media_type = content_type.split(';').next().unwrap_or_default().trim();
        match media_type {
            "application/merge-patch+json" => Some(Self::Merge),
            "application/json-patch+json" => Some(Self::Json),
            "application/strategic-merge-patch+json" => Some(Self::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+json" => Some(Self::Apply),
            _ => None,
        }
    }
}

/// Why a patch could not be applied: the body is malformed (400) or an operation failed (422).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchError {
    Malformed(String),
    Failed(String),
}

/// Applies `patch` (already parsed from the body) to `target`.
pub fn apply_patch(kind: PatchKind, target: &mut Value, patch: &Value) -> Result<(), PatchError> {
    match kind {
        PatchKind::Merge | PatchKind::Apply => {
            if !patch.is_object() {
                return Err(PatchError::Malformed(
                    "a merge patch must be a JSON object".into(),
                ));
            }
            json_patch::merge(target, patch);
            Ok(())
        }
        PatchKind::Json => apply_json_patch(target, patch),
        PatchKind::Strategic => match (target, patch) {
            (Value::Object(target), Value::Object(patch)) => {
                merge_object_strategically(target, patch);
                Ok(())
            }
            _ => Err(PatchError::Malformed(
                "a strategic merge patch must be a JSON object".into(),
            )),
        },
    }
}

fn apply_json_patch(target: &mut Value, patch: &Value) -> Result<(), PatchError> {
    let operations = patch.as_array().ok_or_else(|| {
        PatchError::Malformed("a JSON patch must be an array of operations".into())
    })?;
    // The real server lets `{"op":"test","path":P,"value":null}` pass when P does not exist.
    let kept: Vec<Value> = operations
        .iter()
        .filter(|operation| {
            let is_null_test = operation.get("op").and_then(Value::as_str) == Some("test")
                && operation.get("value").is_some_and(Value::is_null);
            let path_missing = operation
                .get("path")
                .and_then(Value::as_str)
                .is_some_and(|path| target.pointer(path).is_none());
            !(is_null_test && path_missing)
        })
        .cloned()
        .collect();
    let parsed: json_patch::Patch = serde_json::from_value(Value::Array(kept))
        .map_err(|error| PatchError::Malformed(format!("malformed JSON patch: {error}")))?;
    json_patch::patch(target, &parsed).map_err(|error| PatchError::Failed(error.to_string()))
}

/// The merge key of a list field, for the lists built-in kinds declare `patchStrategy=merge`.
fn merge_key(field: &str, elements: &[Value]) -> Option<&'static str> {
    let key = match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "resourceClaims" => "name",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "conditions" | "addresses" => "type",
        "ownerReferences" => "uid",
        "hostAliases" => "ip",
        "topologySpreadConstraints" => "topologyKey",
        "ports" => {
            let container_ports = elements.iter().any(|e| e.get("containerPort").is_some());
            if container_ports {
                "containerPort"
            } else {
                "port"
            }
        }
        _ => return None,
    };
    Some(key)
}

/// Lists of scalars that built-in kinds merge as sets.
fn is_merged_scalar_list(field: &str) -> bool {
    field == "finalizers"
}

fn is_directive(key: &str) -> bool {
    key == "$patch"
        || key == "$retainKeys"
        || key.starts_with("$setElementOrder/")
        || key.starts_with("$deleteFromPrimitiveList/")
}

/// A copy of a patch fragment with every directive removed, for inserting as new content.
fn without_directives(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(key, _)| !is_directive(key))
                .map(|(key, value)| (key.clone(), without_directives(value)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_directives).collect()),
        other => other.clone(),
    }
}

fn patch_directive(value: &Value) -> Option<&str> {
    value.get("$patch").and_then(Value::as_str)
}

fn merge_object_strategically(target: &mut Map<String, Value>, patch: &Map<String, Value>) {
    if patch.get("$patch").and_then(Value::as_str) == Some("replace") {
        *target = match without_directives(&Value::Object(patch.clone())) {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        return;
    }
    for (key, patch_value) in patch {
        if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(current)), Some(removed)) =
                (target.get_mut(field), patch_value.as_array())
            {
                current.retain(|item| !removed.contains(item));
            }
            continue;
        }
        if is_directive(key) {
            continue;
        }
        match patch_value {
            Value::Null => {
                target.remove(key);
            }
            Value::Object(patch_map) if patch_directive(patch_value) == Some("delete") => {
                let _ = patch_map;
                target.remove(key);
            }
            Value::Object(patch_map) => match target.get_mut(key) {
                Some(Value::Object(existing)) => merge_object_strategically(existing, patch_map),
                _ => {
                    target.insert(key.clone(), without_directives(patch_value));
                }
            },
            Value::Array(patch_items) => {
                let merged = merge_list(key, target.remove(key), patch_items);
                target.insert(key.clone(), merged);
            }
            scalar => {
                target.insert(key.clone(), scalar.clone());
            }
        }
    }
    if let Some(Value::Array(retained)) = patch.get("$retainKeys") {
        let retained: Vec<&str> = retained.iter().filter_map(Value::as_str).collect();
        target.retain(|key, _| retained.contains(&key.as_str()));
    }
}

fn merge_list(field: &str, current: Option<Value>, patch_items: &[Value]) -> Value {
    let replace_whole = patch_items
        .iter()
        .any(|item| patch_directive(item) == Some("replace"));
    let mut current = match current {
        Some(Value::Array(items)) if !replace_whole => items,
        _ => Vec::new(),
    };
    if replace_whole {
        let items = patch_items
            .iter()
            .filter(|item| patch_directive(item).is_none())
            .map(without_directives)
            .collect();
        return Value::Array(items);
    }
    if is_merged_scalar_list(field) {
        for item in patch_items {
            if !current.contains(item) {
                current.push(item.clone());
            }
        }
        return Value::Array(current);
    }
    let Some(key) = merge_key(field, patch_items) else {
        return without_directives(&Value::Array(patch_items.to_vec()));
    };
    for item in patch_items {
        let Some(item_key) = item.get(key) else {
            current.push(without_directives(item));
            continue;
        };
        let position = current
            .iter()
            .position(|existing| existing.get(key) == Some(item_key));
        match (patch_directive(item), position) {
            (Some("delete"), Some(index)) => {
                current.remove(index);
            }
            (Some("delete"), None) => {}
            (_, Some(index)) => {
                if let (Value::Object(existing), Value::Object(patch_map)) =
                    (&mut current[index], item)
                {
                    merge_object_strategically(existing, patch_map);
                }
            }
            (_, None) => current.push(without_directives(item)),
        }
    }
    Value::Array(current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn null_test_passes_when_the_path_is_missing() {
        let mut object = json!({"metadata": {"name": "a"}});
        let patch = json!([
            {"op": "test", "path": "/metadata/finalizers", "value": null},
            {"op": "add", "path": "/metadata/finalizers", "value": ["f"]}
        ]);
        apply_patch(PatchKind::Json, &mut object, &patch).unwrap();
        assert_eq!(object["metadata"]["finalizers"], json!(["f"]));
    }

    #[test]
    fn failed_test_is_reported_as_failure_not_malformed() {
        let mut object = json!({"metadata": {"finalizers": ["f"]}});
        let patch = json!([{"op": "test", "path": "/metadata/finalizers/0", "value": "g"}]);
        let outcome = apply_patch(PatchKind::Json, &mut object, &patch);
        assert!(matches!(outcome, Err(PatchError::Failed(_))));
        let malformed = apply_patch(PatchKind::Json, &mut object, &json!({"op": "add"}));
        assert!(matches!(malformed, Err(PatchError::Malformed(_))));
    }

    #[test]
    fn strategic_merge_merges_containers_by_name_and_keeps_the_rest() {
        let mut deployment = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "v1", "ports": [{"containerPort": 80}]},
            {"name": "sidecar", "image": "s1"}
        ]}}}});
        let patch = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
            "containers": [{"name": "app", "image": "v2"}]
        }}}});
        apply_patch(PatchKind::Strategic, &mut deployment, &patch).unwrap();
        let containers = &deployment["spec"]["template"]["spec"]["containers"];
        assert_eq!(containers[0]["image"], "v2");
        assert_eq!(containers[0]["ports"][0]["containerPort"], 80);
        assert_eq!(containers[1]["image"], "s1");
        assert!(deployment["spec"]["template"]["spec"]
            .get("$setElementOrder/containers")
            .is_none());
    }

    #[test]
    fn strategic_merge_directives_delete_and_replace() {
        let mut service = json!({"metadata": {"finalizers": ["a"]}, "spec": {"ports": [
            {"port": 80, "name": "http"}, {"port": 443, "name": "https"}
        ], "selector": {"app": "x", "tier": "y"}}});
        let patch = json!({
            "metadata": {"finalizers": ["b"]},
            "spec": {"ports": [{"port": 443, "$patch": "delete"}], "selector": {"$patch": "replace", "app": "z"}}
        });
        apply_patch(PatchKind::Strategic, &mut service, &patch).unwrap();
        assert_eq!(service["metadata"]["finalizers"], json!(["a", "b"]));
        assert_eq!(
            service["spec"]["ports"],
            json!([{"port": 80, "name": "http"}])
        );
        assert_eq!(service["spec"]["selector"], json!({"app": "z"}));
        let removal = json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}});
        apply_patch(PatchKind::Strategic, &mut service, &removal).unwrap();
        assert_eq!(service["metadata"]["finalizers"], json!(["b"]));
    }

    #[test]
    fn lists_without_a_merge_key_are_replaced() {
        let mut ingress = json!({"spec": {"rules": [{"host": "a"}, {"host": "b"}]}});
        apply_patch(
            PatchKind::Strategic,
            &mut ingress,
            &json!({"spec": {"rules": [{"host": "c"}]}}),
        )
        .unwrap();
        assert_eq!(ingress["spec"]["rules"], json!([{"host": "c"}]));
    }

    #[test]
    fn merge_patch_removes_nulls() {
        let mut object = json!({"metadata": {"annotations": {"a": "1", "b": "2"}}});
        apply_patch(
            PatchKind::Merge,
            &mut object,
            &json!({"metadata": {"annotations": {"a": null}}}),
        )
        .unwrap();
        assert_eq!(object["metadata"]["annotations"], json!({"b": "2"}));
    }
}
