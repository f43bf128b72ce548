//! Label and field selectors: parsing the query-string syntax and matching objects.
//!
//! Label selectors support every operator of the real API (`=`, `==`, `!=`, `in`, `notin`,
//! `key`, `!key`). Field selectors support `=`, `==` and `!=` on any dotted field path
//! (`metadata.name`, `metadata.namespace`, `involvedObject.name`, `spec.nodeName`, ...), which is
//! more lenient than the real server's per-kind allow list. Malformed selectors are rejected
//! with `400 BadRequest` by the caller.

use serde_json::Value;
use std::collections::BTreeSet;

#[derive(Debug, Clone, PartialEq, Eq)]
enum LabelRequirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, BTreeSet<String>),
    NotIn(String, BTreeSet<String>),
    Exists(String),
    DoesNotExist(String),
}

/// A parsed `labelSelector`; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<LabelRequirement>,
}

/// A parsed `fieldSelector`; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    /// (dotted path, value, negated)
    requirements: Vec<(String, String, bool)>,
}

/// Splits on commas that are not inside parentheses.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (index, character) in text.char_indices() {
        match character {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn valid_label_key(key: &str) -> bool {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    let name_ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    let prefix_ok = prefix.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 253
            && p.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.'))
    });
    name_ok && prefix_ok
}

fn valid_label_value(value: &str) -> bool {
    value.is_empty()
        || (value.len() <= 63
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && value.starts_with(|c: char| c.is_ascii_alphanumeric())
            && value.ends_with(|c: char| c.is_ascii_alphanumeric()))
}

fn parse_value_set(text: &str) -> Result<BTreeSet<String>, String> {
    let inner = text
        .trim()
        .strip_prefix('(')
        .and_then(|rest| rest.strip_suffix(')'))
        .ok_or_else(|| format!("expected a parenthesised value list, found {text:?}"))?;
    let values: BTreeSet<String> = inner
        .split(',')
        .map(|value| value.trim().to_string())
        .filter(|value| !value.is_empty())
        .collect();
    if values.is_empty() {
        return Err("a set-based requirement needs at least one value".to_string());
    }
    if let Some(bad) = values.iter().find(|value| !valid_label_value(value)) {
        return Err(format!("invalid label value {bad:?}"));
    }
    Ok(values)
}

fn parse_label_requirement(term: &str) -> Result<LabelRequirement, String> {
    let term = term.trim();
    let checked_key = |key: &str| -> Result<String, String> {
        let key = key.trim();
        if valid_label_key(key) {
            Ok(key.to_string())
        } else {
            Err(format!("invalid label key {key:?}"))
        }
    };
    let checked_value = |value: &str| -> Result<String, String> {
        let value = value.trim();
        if valid_label_value(value) {
            Ok(value.to_string())
        } else {
            Err(format!("invalid label value {value:?}"))
        }
    };
    if let Some(key) = term.strip_prefix('!') {
        return Ok(LabelRequirement::DoesNotExist(checked_key(key)?));
    }
    if let Some((key, value)) = term.split_once("!=") {
        return Ok(LabelRequirement::NotEquals(
            checked_key(key)?,
            checked_value(value)?,
        ));
    }
    if let Some((key, value)) = term.split_once("==") {
        return Ok(LabelRequirement::Equals(
            checked_key(key)?,
            checked_value(value)?,
        ));
    }
    if let Some((key, value)) = term.split_once('=') {
        return Ok(LabelRequirement::Equals(
            checked_key(key)?,
            checked_value(value)?,
        ));
    }
    if let Some((key, rest)) = term.split_once(" notin ") {
        return Ok(LabelRequirement::NotIn(
            checked_key(key)?,
            parse_value_set(rest)?,
        ));
    }
    if let Some((key, rest)) = term.split_once(" in ") {
        return Ok(LabelRequirement::In(
            checked_key(key)?,
            parse_value_set(rest)?,
        ));
    }
    Ok(LabelRequirement::Exists(checked_key(term)?))
}

impl LabelSelector {
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        let requirements = split_top_level(text)
            .into_iter()
            .map(parse_label_requirement)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { requirements })
    }

    pub fn matches(&self, object: &Value) -> bool {
        let labels = object.pointer("/metadata/labels");
        let label = |key: &str| labels.and_then(|l| l.get(key)).and_then(Value::as_str);
        self.requirements
            .iter()
            .all(|requirement| match requirement {
                LabelRequirement::Equals(key, value) => label(key) == Some(value.as_str()),
                LabelRequirement::NotEquals(key, value) => label(key) != Some(value.as_str()),
                LabelRequirement::In(key, values) => label(key).is_some_and(|v| values.contains(v)),
                LabelRequirement::NotIn(key, values) => {
                    label(key).is_none_or(|v| !values.contains(v))
                }
                LabelRequirement::Exists(key) => label(key).is_some(),
                LabelRequirement::DoesNotExist(key) => label(key).is_none(),
            })
    }
}

/// The value at a dotted path rendered as a field selector compares it: strings as they are,
/// numbers and booleans as text, anything missing as the empty string.
fn field_value(object: &Value, path: &str) -> String {
    let pointer = format!("/{}", path.replace('.', "/"));
    match object.pointer(&pointer) {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

impl FieldSelector {
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        let mut requirements = Vec::new();
        for term in text.split(',') {
            let (path, value, negated) = if let Some((path, value)) = term.split_once("!=") {
                (path, value, true)
            } else if let Some((path, value)) = term.split_once("==") {
                (path, value, false)
            } else if let Some((path, value)) = term.split_once('=') {
                (path, value, false)
            } else {
                return Err(format!(
                    "invalid field selector term {term:?}: expected an operator"
                ));
            };
            let path = path.trim();
            let path_ok = !path.is_empty()
                && path.split('.').all(|part| {
                    !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric())
                });
            if !path_ok {
                return Err(format!("invalid field path {path:?}"));
            }
            requirements.push((path.to_string(), value.trim().to_string(), negated));
        }
        Ok(Self { requirements })
    }

    pub fn matches(&self, object: &Value) -> bool {
        self.requirements
            .iter()
            .all(|(path, value, negated)| (field_value(object, path) == *value) != *negated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(labels: Value) -> Value {
        json!({"metadata": {"name": "web-1", "namespace": "shop", "labels": labels}, "spec": {"nodeName": "n1"}})
    }

    #[test]
    fn every_label_operator_filters() {
        let object = pod(json!({"app": "web", "tier": "front"}));
        let cases = [
            ("app=web", true),
            ("app==web", true),
            ("app!=web", false),
            ("app in (web,api)", true),
            ("app notin (web,api)", false),
            ("tier notin (back)", true),
            ("app", true),
            ("!app", false),
            ("!missing", true),
            ("app=web,tier=back", false),
            ("app in (api, web),!missing", true),
        ];
        for (selector, expected) in cases {
            let parsed = LabelSelector::parse(selector).unwrap();
            assert_eq!(parsed.matches(&object), expected, "{selector}");
        }
    }

    #[test]
    fn malformed_label_selectors_are_rejected() {
        for selector in [
            "app in web",
            "=web",
            "app=we b",
            "app in ()",
            "Bad_Prefix/x=y",
        ] {
            assert!(LabelSelector::parse(selector).is_err(), "{selector}");
        }
    }

    #[test]
    fn field_selectors_follow_dotted_paths() {
        let object = pod(json!({}));
        let matching =
            FieldSelector::parse("metadata.name=web-1,metadata.namespace==shop").unwrap();
        assert!(matching.matches(&object));
        assert!(FieldSelector::parse("spec.nodeName!=n2")
            .unwrap()
            .matches(&object));
        assert!(!FieldSelector::parse("metadata.name=web-2")
            .unwrap()
            .matches(&object));
        assert!(FieldSelector::parse("metadata.name").is_err());
        assert!(FieldSelector::parse("meta..name=x").is_err());
    }
}
