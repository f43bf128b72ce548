//! IngressGroups (upstream's §2): which group an Ingress belongs to, who the members of a group
//! are, in which order, and who is leaving. Pure.
//!
//! - Explicit groups (`group.name` of the IngressClassParams, else the annotation
//!   `alb.ingress.kubernetes.io/group.name`) and implicit ones (one Ingress, `namespace/name`).
//! - Members are sorted by `group.order` (−1000…1000, default 0), then by `namespace/name`.
//! - An Ingress that holds the group's finalizer but no longer belongs to it (deleted, moved,
//!   class changed, group name invalid) is *leaving*: its rules go, then its finalizer.
//! - An Ingress that holds the finalizer while its class or params are missing blocks the group,
//!   so a deleted IngressClass never tears rules down by accident (upstream's rule).
//!
//! Better than upstream: a member whose own `group.order` is malformed is *held* — left out of
//! this build with the problem named, while the rest of the group reconciles (upstream fails the
//! whole group). What happens to a held member's existing rules is the deploy step's business.

use super::class::{classify, ClassContext, Classification};
pub use super::member::{ingress_key, Member};
use crate::crd::ingress_class_params::IngressClassParams;
use k8s_openapi::api::networking::v1::Ingress;
use regex::Regex;
use std::sync::LazyLock;

pub use crate::model::identity::{EXPLICIT_GROUP_FINALIZER_PREFIX, IMPLICIT_GROUP_FINALIZER};
pub const GROUP_NAME_ANNOTATION: &str = "alb.ingress.kubernetes.io/group.name";
pub const GROUP_ORDER_ANNOTATION: &str = "alb.ingress.kubernetes.io/group.order";

static GROUP_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$").unwrap_or_else(|_| unreachable!())
});

pub use crate::model::identity::GroupId;

fn implicit_group_of(ingress: &Ingress) -> GroupId {
    GroupId::Implicit {
        namespace: ingress.metadata.namespace.clone().unwrap_or_default(),
        name: ingress.metadata.name.clone().unwrap_or_default(),
    }
}

/// The Ingress holds group `id`'s finalizer (an implicit group's only for its own Ingress).
pub fn holds_group(ingress: &Ingress, id: &GroupId) -> bool {
    let finalizers = ingress.metadata.finalizers.as_deref().unwrap_or_default();
    let has = |wanted: &str| finalizers.iter().any(|f| f == wanted);
    match id {
        GroupId::Explicit(_) => has(&id.finalizer()),
        GroupId::Implicit { .. } => {
            *id == implicit_group_of(ingress) && has(IMPLICIT_GROUP_FINALIZER)
        }
    }
}

fn annotation<'a>(ingress: &'a Ingress, key: &str) -> Option<&'a str> {
    ingress
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .map(String::as_str)
}

pub fn validate_group_name(name: &str) -> Result<(), String> {
    if !GROUP_NAME.is_match(name) {
        return Err(format!(
            "group name {name:?} must be lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
        ));
    }
    if name.len() > 63 {
        return Err(format!("group name {name:?} is longer than 63 characters"));
    }
    Ok(())
}

/// The group an Ingress of ours asks for; params' `group.name` wins over the annotation.
pub fn group_id_of(
    ingress: &Ingress,
    params: Option<&IngressClassParams>,
) -> Result<GroupId, String> {
    let explicit = params
        .and_then(|p| p.spec.group.as_ref())
        .map(|g| g.name.as_str())
        .or_else(|| annotation(ingress, GROUP_NAME_ANNOTATION));
    match explicit {
        Some(name) => validate_group_name(name).map(|()| GroupId::Explicit(name.to_string())),
        None => Ok(implicit_group_of(ingress)),
    }
}

/// `group.order`: a base-10 integer in −1000…1000, default 0.
pub fn group_order(ingress: &Ingress) -> Result<i32, String> {
    let Some(raw) = annotation(ingress, GROUP_ORDER_ANNOTATION) else {
        return Ok(0);
    };
    match raw.parse::<i32>() {
        Ok(order) if (-1000..=1000).contains(&order) => Ok(order),
        Ok(order) => Err(format!(
            "annotation {GROUP_ORDER_ANNOTATION}: {order} is outside -1000..1000"
        )),
        Err(_) => Err(format!(
            "annotation {GROUP_ORDER_ANNOTATION}: {raw:?} is not an integer"
        )),
    }
}

/// A group as loaded: its members in member order, the Ingresses leaving it, and the members
/// held out of this build (with the problem).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Group {
    pub members: Vec<Member>,
    pub leaving: Vec<Ingress>,
    pub held: Vec<(Ingress, String)>,
}

impl Group {
    /// No member left and none held: the group's load balancer goes.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.held.is_empty()
    }

    /// Every Ingress the group concerns: members, held members, leaving Ingresses.
    pub fn ingresses(&self) -> impl Iterator<Item = &Ingress> {
        self.members
            .iter()
            .map(|m| &m.ingress)
            .chain(self.held.iter().map(|(i, _)| i))
            .chain(self.leaving.iter())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupLoadError {
    /// A member's class or params are missing: nothing of the group is changed until fixed.
    #[error("Ingress {ingress} holds this group but its class is not usable: {problem}")]
    Blocked { ingress: String, problem: String },
    #[error("{0}")]
    Cluster(String),
}

/// Loads group `id` from every Ingress the controller sees.
pub fn load_group<'a>(
    id: &GroupId,
    ingresses: impl IntoIterator<Item = &'a Ingress>,
    context: &ClassContext,
) -> Result<Group, GroupLoadError> {
    let mut group = Group::default();
    for ingress in ingresses {
        let holds = holds_group(ingress, id);
        match classify(ingress, context) {
            Classification::Error(problem) => return Err(GroupLoadError::Cluster(problem)),
            Classification::InvalidClass(problem) if holds => {
                return Err(GroupLoadError::Blocked {
                    ingress: ingress_key(ingress),
                    problem,
                })
            }
            Classification::InvalidClass(_) | Classification::NotOurs => {
                if holds {
                    group.leaving.push(ingress.clone());
                }
            }
            Classification::Ours { params } => match group_id_of(ingress, params.as_deref()) {
                Ok(wanted) if wanted == *id => match group_order(ingress) {
                    Ok(order) => group
                        .members
                        .push(Member::new(ingress.clone(), params, order)),
                    Err(problem) => group.held.push((ingress.clone(), problem)),
                },
                _ if holds => group.leaving.push(ingress.clone()),
                _ => {}
            },
        }
    }
    group
        .members
        .sort_by_cached_key(|member| (member.order, member.key()));
    Ok(group)
}

/// The groups an Ingress change concerns: those it holds a finalizer of, and the one it asks
/// for now (if it is ours and the name is valid).
/// Upstream's guard: a leaving Ingress that is being deleted while its own
/// `load-balancer-attributes` enable deletion protection fails its group (nothing is changed)
/// until the annotation is changed. A malformed map or flag there fails it too.
pub fn refuse_protected_deletions(leaving: &[Ingress]) -> Result<(), String> {
    for ingress in leaving
        .iter()
        .filter(|i| i.metadata.deletion_timestamp.is_some())
    {
        let key = ingress_key(ingress);
        let Some(raw) = annotation(
            ingress,
            "alb.ingress.kubernetes.io/load-balancer-attributes",
        ) else {
            continue;
        };
        let attributes = crate::annotations::parse_string_map(raw)
            .map_err(|e| format!("Ingress {key}: load-balancer-attributes: {e}"))?;
        if let Some(value) = attributes.get("deletion_protection.enabled") {
            match crate::annotations::parse_boolean(value) {
                Some(false) => {}
                Some(true) => {
                    return Err(format!(
                        "Ingress {key} is being deleted while its load-balancer-attributes enable deletion protection: set deletion_protection.enabled=false on it first"
                    ))
                }
                None => {
                    return Err(format!(
                        "Ingress {key}: deletion_protection.enabled={value:?} is not a boolean"
                    ))
                }
            }
        }
    }
    Ok(())
}

pub fn groups_of(ingress: &Ingress, context: &ClassContext) -> Vec<GroupId> {
    let mut groups: Vec<GroupId> = ingress
        .metadata
        .finalizers
        .iter()
        .flatten()
        .filter_map(|finalizer| {
            if finalizer == IMPLICIT_GROUP_FINALIZER {
                Some(implicit_group_of(ingress))
            } else {
                finalizer
                    .strip_prefix(EXPLICIT_GROUP_FINALIZER_PREFIX)
                    .map(|name| GroupId::Explicit(name.to_string()))
            }
        })
        .collect();
    if let Classification::Ours { params } = classify(ingress, context) {
        if let Ok(id) = group_id_of(ingress, params.as_deref()) {
            groups.push(id);
        }
    }
    groups.sort();
    groups.dedup();
    groups
}
