//! Reading Kubernetes manifests as `kubectl apply -f` accepts them: multi-document YAML (or
//! JSON), with `kind: List` documents expanded into their items.
//!
//! Only parsing: what the objects mean is for the collect and build steps.

use serde::Deserialize;
use serde_json::Value;

/// A manifest that could not be read: which source and document, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}, document {document}: {message}")]
pub struct ManifestError {
    pub source_name: String,
    pub document: usize,
    pub message: String,
}

/// Every object in `text`, in order. `source_name` names the file in errors.
pub fn read_manifests(source_name: &str, text: &str) -> Result<Vec<Value>, ManifestError> {
    let mut objects = Vec::new();
    for (index, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let error = |message: String| ManifestError {
            source_name: source_name.to_string(),
            document: index + 1,
            message,
        };
        let value = Value::deserialize(document).map_err(|e| error(e.to_string()))?;
        match value {
            Value::Null => {}
            Value::Object(ref map) => {
                if map
                    .get("kind")
                    .and_then(Value::as_str)
                    .is_some_and(|kind| kind.ends_with("List"))
                {
                    let items = map
                        .get("items")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    objects.extend(items);
                } else if map.get("kind").and_then(Value::as_str).is_none() {
                    return Err(error("the object has no kind".to_string()));
                } else {
                    objects.push(value);
                }
            }
            _ => return Err(error("a document must be an object".to_string())),
        }
    }
    Ok(objects)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_documents_and_expands_lists() {
        let text = "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\n---\n{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [{\"kind\": \"Service\", \"metadata\": {\"name\": \"b\"}}]}\n";
        let objects = read_manifests("test.yaml", text).unwrap();
        let names: Vec<&str> = objects
            .iter()
            .filter_map(|o| o["metadata"]["name"].as_str())
            .collect();
        assert_eq!(names, ["a", "b"]);
    }

    #[test]
    fn errors_name_the_source_and_document() {
        let error = read_manifests("bad.yaml", "kind: Service\n---\n- 1\n").unwrap_err();
        assert_eq!(
            (error.source_name.as_str(), error.document),
            ("bad.yaml", 2)
        );
        assert!(read_manifests("x", "metadata: {name: a}\n").is_err());
        assert!(read_manifests("x", "kind: [unclosed\n").is_err());
    }
}
