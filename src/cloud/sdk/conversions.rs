//! Shapes shared by several ELBv2 calls of the SDK adapter: attributes collected into a map, and
//! tags as ELBv2 takes them.

use crate::model::Tags;
use std::collections::BTreeMap;

/// Attributes as ELBv2 returns them (load balancer, target group, listener: each its own SDK
/// type with a key and a value), collected into one map.
pub(super) struct AttributeMap(pub(super) BTreeMap<String, String>);

impl<'a> FromIterator<(Option<&'a str>, Option<&'a str>)> for AttributeMap {
    fn from_iter<I: IntoIterator<Item = (Option<&'a str>, Option<&'a str>)>>(pairs: I) -> Self {
        Self(
            pairs
                .into_iter()
                .map(|(key, value)| {
                    (
                        key.unwrap_or_default().to_string(),
                        value.unwrap_or_default().to_string(),
                    )
                })
                .collect(),
        )
    }
}

pub(super) fn tags_of(tags: &Tags) -> Vec<aws_sdk_elasticloadbalancingv2::types::Tag> {
    tags.iter()
        .map(|(key, value)| {
            aws_sdk_elasticloadbalancingv2::types::Tag::builder()
                .key(key)
                .value(value)
                .build()
        })
        .collect()
}
