//! Identity: IngressGroup ids and their finalizers, resource ids and the tags that carry them —
//! the vocabulary by which stacks and their resources are told apart, shared by the model,
//! `naming`, `observe` (which sorts what it finds), `plan` and the Ingress modules.

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

/// The finalizer of an implicit group (one Ingress): upstream's.
pub const IMPLICIT_GROUP_FINALIZER: &str = "ingress.k8s.aws/resources";
/// The finalizer of explicit group `<name>` is this prefix and the name: upstream's.
pub const EXPLICIT_GROUP_FINALIZER_PREFIX: &str = "group.ingress.k8s.aws/";

/// An IngressGroup's identity: an explicit group by name, or one Ingress alone.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GroupId {
    Explicit(String),
    Implicit { namespace: String, name: String },
}

impl GroupId {
    /// The value of the `ingress.k8s.aws/stack` tag: the group name, or `namespace/name`.
    pub fn stack_id(&self) -> String {
        match self {
            GroupId::Explicit(name) => name.clone(),
            GroupId::Implicit { namespace, name } => format!("{namespace}/{name}"),
        }
    }

    /// The finalizer the group's members carry.
    pub fn finalizer(&self) -> String {
        match self {
            GroupId::Explicit(name) => format!("{EXPLICIT_GROUP_FINALIZER_PREFIX}{name}"),
            GroupId::Implicit { .. } => IMPLICIT_GROUP_FINALIZER.to_string(),
        }
    }
}

impl std::fmt::Display for GroupId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.stack_id())
    }
}
