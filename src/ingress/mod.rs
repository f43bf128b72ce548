//! Ingresses → Application Load Balancers: the pure half (collect and build).
//!
//! - `class`: which Ingresses are ours (legacy annotation, IngressClass, default class,
//!   IngressClassParams with its namespace selector);
//! - `group`: IngressGroups — identity, finalizers, members in `group.order` order, leaving and
//!   held members, protected deletions;
//! - `paths`, `rules`: the priority order of paths, each listener's rules with conditions
//!   (regex included), transforms and backends;
//! - `listen`: listen ports, the SSL redirect port, inbound sources, listener attributes;
//! - `actions`, `backends`, `auth`: `actions.*`/`conditions.*`/`transforms.*`, target groups,
//!   authentication and JWT validation;
//! - `certificates`, `mtls`, `addons`, `settings`: certificates (ACM discovery), mutual TLS,
//!   WAF/Shield/capacity, group-wide settings;
//! - `contribution`, `optimize`, `build`: one member's share, upstream's rule optimizer, the
//!   group's stack.
//!
//! Layers (no import cycle, checked by `purity_tests`): `member` at the bottom, `input` for the
//! build's values, `build` on top.
//!
//! The loop that runs it is `controller::ingress`; the dry run is `dry_run::ingress`. Not here:
//! the frontend NLB and controller-created ACM certificates.

pub mod actions;
pub mod addons;
pub mod auth;
mod backends;
pub mod build;
pub mod certificate_requests;
pub mod certificates;
pub mod class;
mod contribution;
pub mod frontend;
pub mod group;
pub mod input;
pub mod listen;
pub mod member;
pub mod mtls;
mod optimize;
pub mod paths;
pub mod rules;
mod settings;

use crate::config::ControllerConfig;
use member::Member;

/// Which optional reads an Ingress group's build needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngressFactNeeds {
    pub security_groups: bool,
    pub certificates: bool,
    pub web_acls: bool,
    /// Target groups the members' actions name: one lookup each.
    pub target_group_names: Vec<String>,
    /// Trust stores the members' mutual TLS names: one lookup each.
    pub trust_store_names: Vec<String>,
}

/// What the build of a group with `members` needs discovered in AWS (one question, asked of
/// every module that reads something of AWS).
pub fn group_fact_needs(members: &[Member], config: &ControllerConfig) -> IngressFactNeeds {
    IngressFactNeeds {
        security_groups: frontend::needs_security_group_lookup(members),
        certificates: certificates::needs_certificate_discovery(members),
        web_acls: addons::needs_web_acl_names(members, config),
        target_group_names: member::forwarded_target_group_names(members),
        trust_store_names: mtls::trust_store_names(members),
    }
}

/// What is wrong with one member's own annotations (group settings, listen ports, inbound
/// sources), judged without any AWS fact — what admission can tell at once. `None`: nothing
/// that the build would hold the member for on these grounds.
pub fn member_annotation_problem(member: &Member) -> Option<String> {
    if let Err(problem) = settings::member_settings(member) {
        return Some(problem.problem);
    }
    if let Err(problem) = listen::listen_ports(member) {
        return Some(problem);
    }
    if let Err(problem) = listen::member_inbound_sources(member) {
        return Some(problem);
    }
    let backend_names = member
        .ingress
        .spec
        .iter()
        .flat_map(|spec| spec.rules.iter().flatten())
        .flat_map(|rule| rule.http.iter().flat_map(|http| http.paths.iter()))
        .filter_map(|path| path.backend.service.as_ref().map(|s| s.name.as_str()));
    for name in backend_names {
        if let Some(Err(problem)) = member::annotated_conditions(member).get(name) {
            return Some(format!(
                "{}conditions.{name}: {problem}",
                member::INGRESS_PREFIX
            ));
        }
    }
    None
}

#[cfg(test)]
mod golden_tests;
#[cfg(test)]
mod pipeline_tests;
#[cfg(test)]
mod tests;
