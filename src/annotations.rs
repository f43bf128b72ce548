//! Reading annotation values in upstream's formats: boolean, 32-bit integer, string list,
//! string map and JSON, each failure naming the annotation and the rule it broke.
//!
//! This module knows the formats, not the meaning of any annotation: the builders decide which
//! keys they read and what the values do. It never panics on user input.

use std::collections::BTreeMap;

/// A bad annotation value: which annotation, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("annotation {key}: {problem}")]
pub struct AnnotationError {
    pub key: String,
    pub problem: String,
}

impl AnnotationError {
    pub fn new(key: &str, problem: impl Into<String>) -> Self {
        Self {
            key: key.to_string(),
            problem: problem.into(),
        }
    }
}

/// The annotations of one object, read under one prefix (e.g. `service.beta.kubernetes.io/`).
#[derive(Debug, Clone, Copy)]
pub struct Annotations<'a> {
    values: Option<&'a BTreeMap<String, String>>,
    prefix: &'a str,
}

impl<'a> Annotations<'a> {
    pub fn new(values: Option<&'a BTreeMap<String, String>>, prefix: &'a str) -> Self {
        Self { values, prefix }
    }

    /// The full key of `suffix`, e.g. `service.beta.kubernetes.io/aws-load-balancer-scheme`.
    pub fn key(&self, suffix: &str) -> String {
        format!("{}{}", self.prefix, suffix)
    }

    /// The raw value; present even when empty.
    pub fn string(&self, suffix: &str) -> Option<&'a str> {
        self.values?.get(&self.key(suffix)).map(String::as_str)
    }

    pub fn contains(&self, suffix: &str) -> bool {
        self.string(suffix).is_some()
    }

    /// Every annotation whose key starts with `prefix + suffix_prefix`, by the rest of the key.
    pub fn with_suffix_prefix(&self, suffix_prefix: &str) -> BTreeMap<&'a str, &'a str> {
        let full = self.key(suffix_prefix);
        self.values
            .into_iter()
            .flatten()
            .filter_map(|(key, value)| key.strip_prefix(&full).map(|rest| (rest, value.as_str())))
            .collect()
    }

    /// Go's `strconv.ParseBool` spellings.
    pub fn boolean(&self, suffix: &str) -> Result<Option<bool>, AnnotationError> {
        let Some(raw) = self.string(suffix) else {
            return Ok(None);
        };
        parse_boolean(raw).map(Some).ok_or_else(|| {
            AnnotationError::new(
                &self.key(suffix),
                format!("{raw:?} is not a boolean (use true or false)"),
            )
        })
    }

    /// A base-10 signed 32-bit integer.
    pub fn integer(&self, suffix: &str) -> Result<Option<i32>, AnnotationError> {
        let Some(raw) = self.string(suffix) else {
            return Ok(None);
        };
        raw.parse::<i32>().map(Some).map_err(|_| {
            AnnotationError::new(
                &self.key(suffix),
                format!("{raw:?} is not a 32-bit integer"),
            )
        })
    }

    /// Comma-separated items, trimmed, empty items dropped.
    pub fn string_list(&self, suffix: &str) -> Option<Vec<String>> {
        self.string(suffix).map(parse_string_list)
    }

    /// `k1=v1,k2=v2` with backslash escapes; see [`parse_string_map`].
    pub fn string_map(
        &self,
        suffix: &str,
    ) -> Result<Option<BTreeMap<String, String>>, AnnotationError> {
        let Some(raw) = self.string(suffix) else {
            return Ok(None);
        };
        parse_string_map(raw)
            .map(Some)
            .map_err(|problem| AnnotationError::new(&self.key(suffix), problem))
    }

    /// A JSON document decoded into `T`.
    pub fn json<T: serde::de::DeserializeOwned>(
        &self,
        suffix: &str,
    ) -> Result<Option<T>, AnnotationError> {
        let Some(raw) = self.string(suffix) else {
            return Ok(None);
        };
        serde_json::from_str(raw).map(Some).map_err(|error| {
            AnnotationError::new(&self.key(suffix), format!("invalid JSON: {error}"))
        })
    }
}

pub fn parse_boolean(raw: &str) -> Option<bool> {
    match raw {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

pub fn parse_string_list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_string)
        .collect()
}

/// Splits on commas not escaped by a backslash; a backslash keeps the next character as is.
fn split_unescaped_commas(raw: &str) -> Vec<String> {
    let mut items = vec![String::new()];
    let mut characters = raw.chars();
    while let Some(character) = characters.next() {
        match character {
            '\\' => {
                if let (Some(next), Some(item)) = (characters.next(), items.last_mut()) {
                    item.push(next);
                }
            }
            ',' => items.push(String::new()),
            other => {
                if let Some(item) = items.last_mut() {
                    item.push(other);
                }
            }
        }
    }
    items
}

/// Upstream's string map: items split on unescaped commas, each on its first `=`, keys and
/// values trimmed. A trailing comma stays in the last value; any other item without `=` is an
/// error, as is an empty key.
pub fn parse_string_map(raw: &str) -> Result<BTreeMap<String, String>, String> {
    let mut map = BTreeMap::new();
    if raw.trim().is_empty() {
        return Ok(map);
    }
    let items = split_unescaped_commas(raw);
    let mut pending: Option<(String, String)> = None;
    for (index, item) in items.iter().enumerate() {
        match item.split_once('=') {
            Some((key, value)) => {
                if let Some((key, value)) = pending.take() {
                    map.insert(key, value);
                }
                let key = key.trim();
                if key.is_empty() {
                    return Err(format!("item {item:?} has an empty key"));
                }
                pending = Some((key.to_string(), value.trim().to_string()));
            }
            None if item.trim().is_empty() && index == items.len() - 1 => {
                if let Some((_, value)) = pending.as_mut() {
                    value.push(',');
                }
            }
            None if item.trim().is_empty() => {}
            None => return Err(format!("item {item:?} is not of the form key=value")),
        }
    }
    if let Some((key, value)) = pending {
        map.insert(key, value);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(key, value)| (format!("p/{key}"), value.to_string()))
            .collect()
    }

    #[test]
    fn booleans_follow_go_spellings_and_name_the_key_on_error() {
        let values = annotations(&[("a", "True"), ("b", "0"), ("c", "yes")]);
        let read = Annotations::new(Some(&values), "p/");
        assert_eq!(read.boolean("a"), Ok(Some(true)));
        assert_eq!(read.boolean("b"), Ok(Some(false)));
        assert_eq!(read.boolean("missing"), Ok(None));
        let error = read.boolean("c").unwrap_err();
        assert_eq!(error.key, "p/c");
    }

    #[test]
    fn integers_are_32_bit() {
        let values = annotations(&[("ok", "-15"), ("big", "2147483648"), ("word", "ten")]);
        let read = Annotations::new(Some(&values), "p/");
        assert_eq!(read.integer("ok"), Ok(Some(-15)));
        assert!(read.integer("big").is_err());
        assert!(read.integer("word").is_err());
    }

    #[test]
    fn string_lists_trim_and_drop_empty_items() {
        assert_eq!(parse_string_list("a, b,,c "), ["a", "b", "c"]);
        assert!(parse_string_list("").is_empty());
    }

    #[test]
    fn string_maps_split_on_the_first_equals_and_honour_escapes() {
        let parsed = parse_string_map("k=a=b, x = y ,e=1\\,2").unwrap();
        assert_eq!(parsed["k"], "a=b");
        assert_eq!(parsed["x"], "y");
        assert_eq!(parsed["e"], "1,2");
        assert!(parse_string_map("=v").is_err());
        assert!(parse_string_map("a=1,oops,b=2").is_err());
        assert_eq!(parse_string_map("a=1,").unwrap()["a"], "1,");
    }
}
