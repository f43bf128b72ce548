//! What the build of one Ingress group is given and gives back — the input (members, Services,
//! facts, the existing load balancer, what each member contributed last time, the OIDC clients),
//! the built stack with its held members, one member's contribution — and the tags that
//! identify the group's resources. Pure values; the build itself is `build`.
//!
//! Below every step of the build and above `member` (checked by `purity_tests`).

use super::member::{Member, MemberProblem};
use crate::config::ControllerConfig;
use crate::facts::CloudFacts;
use crate::model::identity::GroupId;
use crate::model::{ExistingLoadBalancer, ListenerAction, Stack, Tags, TargetGroupSpec};
use k8s_openapi::api::core::v1::Service;
use std::collections::BTreeMap;

/// The client credentials of an OIDC identity provider, from a Secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcClient {
    pub client_id: String,
    pub client_secret: String,
}

/// The OIDC clients of the Secrets the members name, by `namespace/name`: the credentials, or
/// why the Secret cannot give them.
pub type OidcClients = BTreeMap<String, Result<OidcClient, String>>;

/// One rule a member contributes to the listener of `port`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ContributedRule {
    pub(super) port: i32,
    pub(super) conditions: Vec<crate::cloud::RuleCondition>,
    pub(super) actions: Vec<ListenerAction>,
    pub(super) transforms: Vec<crate::cloud::RuleTransform>,
}

/// What one member contributes: its rules per port (with their actions) and target groups.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberContribution {
    pub(super) rules: Vec<ContributedRule>,
    pub(super) target_groups: BTreeMap<String, TargetGroupSpec>,
    /// From `spec.defaultBackend`: the default action of the listeners it declares.
    pub(super) default_action: Option<ListenerAction>,
    /// The authentication in front of that default action on HTTPS listeners.
    pub(super) default_authentication: Option<ListenerAction>,
}

impl MemberContribution {
    /// A member known to have nothing in the stack (held before it ever built).
    pub(super) fn nothing() -> Self {
        Self {
            rules: Vec::new(),
            target_groups: BTreeMap::new(),
            default_action: None,
            default_authentication: None,
        }
    }
}

pub struct IngressBuildInput<'a> {
    pub group_id: &'a GroupId,
    /// Active members in member order.
    pub members: &'a [Member],
    /// The Services of the members' namespaces.
    pub services: &'a [Service],
    pub config: &'a ControllerConfig,
    pub facts: &'a CloudFacts,
    pub existing: Option<&'a ExistingLoadBalancer>,
    /// What each member contributed to the last stack deployed, by `namespace/name`: a member
    /// held now keeps those rules and target groups instead of losing them.
    pub previous: &'a BTreeMap<String, MemberContribution>,
    /// Members held while loading the group (their `group.order` is unusable): they keep what
    /// they had, after the other members.
    pub held_at_load: &'a [String],
    /// The OIDC client credentials of the Secrets the members name.
    pub oidc_clients: &'a OidcClients,
}

/// The stack, and the members held out of it with their problems.
#[derive(Debug, Clone, PartialEq)]
pub struct BuiltIngressStack {
    pub stack: Stack,
    pub held: Vec<MemberProblem>,
    /// What each member contributed (a held member: what it had before), for the next build.
    pub contributions: BTreeMap<String, MemberContribution>,
}

/// `user` tags, then `--default-tags`, then the tracking tags (the last win).
pub(super) fn tracking_tags(input: &IngressBuildInput, resource_id: &str, user: &Tags) -> Tags {
    let mut tags = user.clone();
    tags.extend(input.config.default_tags.clone());
    tags.extend(identity_tags(input, resource_id));
    tags
}

/// The three tags that identify a resource of the group's stack.
pub(super) fn identity_tags(input: &IngressBuildInput, resource_id: &str) -> Tags {
    group_identity_tags(input.config, input.group_id, resource_id)
}

/// The tags that identify resource `resource_id` of `group`'s stack.
pub fn group_identity_tags(config: &ControllerConfig, group: &GroupId, resource_id: &str) -> Tags {
    Tags::from([
        (
            "elbv2.k8s.aws/cluster".to_string(),
            config.cluster_name.clone(),
        ),
        ("ingress.k8s.aws/stack".to_string(), group.stack_id()),
        (
            "ingress.k8s.aws/resource".to_string(),
            resource_id.to_string(),
        ),
    ])
}
