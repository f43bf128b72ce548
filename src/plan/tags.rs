//! Tag reconciliation on an existing resource: desired tags are added or overwritten, other tags
//! removed — except AWS's own (`aws:`), keys managed outside the controller, and the legacy keys
//! upstream leaves alone.

use super::Change;
use crate::model::Tags;
use std::collections::BTreeSet;

const LEGACY_KEYS: &[&str] = &[
    "kubernetes.io/cluster-name",
    "kubernetes.io/namespace",
    "kubernetes.io/ingress-name",
    "kubernetes.io/service-name",
    "kubernetes.io/service-port",
    "ingress.k8s.aws/cluster",
];

fn untouchable(key: &str, external: &BTreeSet<String>) -> bool {
    key.starts_with("aws:")
        || key.starts_with("kubernetes.io/cluster/")
        || LEGACY_KEYS.contains(&key)
        || external.contains(key)
}

/// The retag of `arn`, or `None` when its tags already match.
pub fn tag_changes(
    arn: &str,
    desired: &Tags,
    observed: &Tags,
    external: &BTreeSet<String>,
) -> Option<Change> {
    let add: Tags = desired
        .iter()
        .filter(|(key, value)| !untouchable(key, external) && observed.get(*key) != Some(*value))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let remove: Vec<String> = observed
        .keys()
        .filter(|key| !desired.contains_key(*key) && !untouchable(key, external))
        .cloned()
        .collect();
    if add.is_empty() && remove.is_empty() {
        None
    } else {
        Some(Change::UpdateTags {
            arn: arn.to_string(),
            add,
            remove,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_owned_tags_are_changed() {
        let desired = Tags::from([("team".into(), "b".into()), ("new".into(), "1".into())]);
        let observed = Tags::from([
            ("team".into(), "a".into()),
            ("stale".into(), "x".into()),
            ("aws:cloudformation:stack-name".into(), "s".into()),
            ("kubernetes.io/cluster/prod".into(), "owned".into()),
            ("cost-center".into(), "42".into()),
        ]);
        let external = BTreeSet::from(["cost-center".to_string()]);
        let Some(Change::UpdateTags { add, remove, .. }) =
            tag_changes("arn", &desired, &observed, &external)
        else {
            panic!("tags differ");
        };
        assert_eq!(add, desired);
        assert_eq!(remove, ["stale"]);
        assert_eq!(tag_changes("arn", &desired, &desired, &external), None);
    }
}
