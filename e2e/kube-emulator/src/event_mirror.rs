//! One set of events behind two APIs, as in a real API server: every write of an
//! `events.k8s.io/v1` Event is mirrored, in the same commit, as a core `v1` Event with the fields
//! converted (regarding → involvedObject, note → message, series → count and lastTimestamp,
//! reportingController → source.component), so `kubectl get events` shows what controllers
//! publish through kube's `Recorder`.
//!
//! Only that direction is mirrored: core `v1` Events written directly stay core-only.

use serde_json::{json, Map, Value};

fn copy(from: &Value, to: &mut Map<String, Value>, source: &str, target: &str) {
    if let Some(value) = from.get(source).filter(|v| !v.is_null()) {
        to.insert(target.to_string(), value.clone());
    }
}

/// The core `v1` form of an `events.k8s.io/v1` Event.
pub fn core_event(event: &Value) -> Value {
    let mut core = Map::new();
    core.insert("apiVersion".into(), json!("v1"));
    core.insert("kind".into(), json!("Event"));
    let mut metadata = event.get("metadata").cloned().unwrap_or_else(|| json!({}));
    if let Some(map) = metadata.as_object_mut() {
        map.remove("resourceVersion");
        map.remove("managedFields");
    }
    core.insert("metadata".into(), metadata);
    for (source, target) in [
        ("regarding", "involvedObject"),
        ("related", "related"),
        ("reason", "reason"),
        ("note", "message"),
        ("type", "type"),
        ("action", "action"),
        ("eventTime", "eventTime"),
        ("reportingController", "reportingComponent"),
        ("reportingInstance", "reportingInstance"),
    ] {
        copy(event, &mut core, source, target);
    }
    let series = event.get("series");
    let count = series
        .and_then(|s| s.get("count"))
        .or_else(|| event.get("deprecatedCount"))
        .and_then(Value::as_i64)
        .unwrap_or(1);
    core.insert("count".into(), json!(count));
    let first = event
        .get("deprecatedFirstTimestamp")
        .or_else(|| event.get("eventTime"))
        .cloned()
        .unwrap_or(Value::Null);
    let last = series
        .and_then(|s| s.get("lastObservedTime"))
        .or_else(|| event.get("deprecatedLastTimestamp"))
        .or_else(|| event.get("eventTime"))
        .cloned()
        .unwrap_or(Value::Null);
    core.insert("firstTimestamp".into(), first);
    core.insert("lastTimestamp".into(), last);
    let component = event
        .get("reportingController")
        .cloned()
        .unwrap_or(Value::Null);
    core.insert("source".into(), json!({"component": component}));
    Value::Object(core)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_events_api_event_reads_as_a_core_event() {
        let event = json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "web.1", "namespace": "shop", "resourceVersion": "7"},
            "regarding": {"kind": "Service", "name": "web", "namespace": "shop"},
            "reason": "FailedBuildModel", "note": "bad annotation", "type": "Warning",
            "reportingController": "service-controller", "eventTime": "2026-01-01T00:00:00.000000Z",
            "series": {"count": 3, "lastObservedTime": "2026-01-01T00:05:00.000000Z"}
        });
        let core = core_event(&event);
        assert_eq!(core["apiVersion"], "v1");
        assert_eq!(core["involvedObject"]["name"], "web");
        assert_eq!(core["message"], "bad annotation");
        assert_eq!(core["count"], 3);
        assert_eq!(core["lastTimestamp"], "2026-01-01T00:05:00.000000Z");
        assert_eq!(core["source"]["component"], "service-controller");
        assert!(core["metadata"].get("resourceVersion").is_none());
    }
}
