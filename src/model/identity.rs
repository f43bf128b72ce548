//! Resource ids and the tags that carry them: the vocabulary by which a stack's resources are
//! told apart in AWS, shared by the model, `observe` (which sorts what it finds) and `plan`.

use super::Tags;

/// The resource id of a stack's load balancer.
pub const LOAD_BALANCER_ID: &str = "LoadBalancer";

/// The resource id of a stack's managed security group (shard n > 0: `…-<n+1>`).
pub const MANAGED_GROUP_RESOURCE: &str = "ManagedLBSecurityGroup";

/// The tag that names an Ingress resource's id.
pub const INGRESS_RESOURCE_TAG: &str = "ingress.k8s.aws/resource";

/// The tags that name a resource's id (Ingress and Service stacks).
pub const RESOURCE_TAG_KEYS: [&str; 2] = [INGRESS_RESOURCE_TAG, "service.k8s.aws/resource"];

/// The resource id an Ingress stack's resource (e.g. a certificate) carries in `tags`.
pub fn ingress_resource_id(tags: &Tags) -> Option<&str> {
    tags.get(INGRESS_RESOURCE_TAG).map(String::as_str)
}

/// The shard a managed group holds, read from its resource tag (0 when it has none).
pub fn shard_of(tags: &Tags) -> usize {
    RESOURCE_TAG_KEYS
        .iter()
        .find_map(|key| tags.get(*key))
        .and_then(|value| value.strip_prefix(MANAGED_GROUP_RESOURCE))
        .and_then(|rest| rest.strip_prefix('-'))
        .and_then(|number| number.parse::<usize>().ok())
        .and_then(|number| number.checked_sub(1))
        .unwrap_or(0)
}
