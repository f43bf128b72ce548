//! What one member of a group contributes to its stack: its rules per listener port (with
//! authentication, actions and transforms), its target groups, and the default action of
//! `spec.defaultBackend`. A member whose own inputs are wrong gets a `MemberProblem` instead and
//! is held by the build. Pure.

use super::auth::auth_actions;
use super::backends::backend_action;
use super::certificates::member_certificates;
use super::input::{BuiltIngressStack, ContributedRule, IngressBuildInput, MemberContribution};
use super::listen::{listen_ports, member_inbound_sources, member_listener_attributes};
use super::member::{problem, Member, MemberProblem};
use super::mtls::resolved_mutual_authentication;
use super::rules::listener_rules;
use super::settings::member_settings;
use crate::model::{ListenerAction, Protocol, Stack, TargetGroupSpec};
use k8s_openapi::api::core::v1::Service;
use std::collections::{BTreeMap, BTreeSet};

pub(super) fn member_contribution(
    input: &IngressBuildInput,
    member: &Member,
    redirected_ports: &BTreeSet<i32>,
) -> Result<MemberContribution, MemberProblem> {
    member_settings(member)?;
    member_certificates(member, input.facts, input.config).map_err(|e| problem(member, e))?;
    member_inbound_sources(member).map_err(|e| problem(member, e))?;
    resolved_mutual_authentication(member, &input.facts.trust_stores)
        .map_err(|e| problem(member, e))?;
    let mut contribution = MemberContribution {
        rules: Vec::new(),
        target_groups: BTreeMap::new(),
        default_action: None,
        default_authentication: None,
    };
    let default_backend = member
        .ingress
        .spec
        .as_ref()
        .and_then(|spec| spec.default_backend.as_ref());
    if let Some(backend) = default_backend {
        let backend = super::rules::backend_ref(backend)
            .map_err(|e| problem(member, format!("spec.defaultBackend: {e}")))?;
        let action = backend_action(input, member, &backend, &mut contribution.target_groups)?;
        let service = forwarded_service(input, &action, &contribution.target_groups);
        contribution.default_authentication = auth_actions(input, member, service, true)?
            .into_iter()
            .next();
        contribution.default_action = Some(action);
    }
    for (port, protocol) in listen_ports(member).map_err(|e| problem(member, e))? {
        member_listener_attributes(member, port, protocol).map_err(|e| problem(member, e))?;
        let single = std::slice::from_ref(member);
        for rule in listener_rules(single, port, redirected_ports.contains(&port))? {
            let action = backend_action(
                input,
                member,
                &rule.backend,
                &mut contribution.target_groups,
            )?;
            let service = forwarded_service(input, &action, &contribution.target_groups);
            let mut actions = auth_actions(input, member, service, protocol == Protocol::Https)?;
            actions.push(action);
            contribution.rules.push(ContributedRule {
                port,
                conditions: rule.conditions,
                actions,
                transforms: rule.transforms,
            });
        }
    }
    Ok(contribution)
}

/// The one Service an action forwards to (through a target group of this member), if exactly one.
fn forwarded_service<'a>(
    input: &IngressBuildInput<'a>,
    action: &ListenerAction,
    groups: &BTreeMap<String, TargetGroupSpec>,
) -> Option<&'a Service> {
    let [target] = action.target_groups()[..] else {
        return None;
    };
    let binding = groups.get(target)?.binding.as_ref()?;
    input.services.iter().find(|s| {
        s.metadata.namespace.as_deref() == Some(binding.namespace.as_str())
            && s.metadata.name.as_deref() == Some(binding.service_name.as_str())
    })
}

/// A held member without a remembered share may have rules in the group's existing load
/// balancer (it carries the group's finalizer, or, held while loading, nothing says it does
/// not): building without it could delete them.
pub(super) fn may_have_deployed(input: &IngressBuildInput, member: Option<&Member>) -> bool {
    let finalizer = input.group_id.finalizer();
    input.existing.is_some()
        && member.is_none_or(|m| {
            m.ingress
                .metadata
                .finalizers
                .iter()
                .flatten()
                .any(|f| *f == finalizer)
        })
}

pub(super) fn unknown_share(key: &str) -> String {
    format!(
        "Ingress {key} is held and this controller does not know which of the load balancer's rules are its own (it has not deployed this group since it started): nothing changes until the Ingress is fixed"
    )
}

/// No member builds: with none held the group is gone (empty stack); with some held nothing
/// may be deleted, so the group fails instead.
pub(super) fn nothing_builds(
    input: &IngressBuildInput,
    held: Vec<MemberProblem>,
) -> Result<BuiltIngressStack, String> {
    if held.is_empty() && input.held_at_load.is_empty() {
        return Ok(BuiltIngressStack {
            stack: Stack::empty(&input.group_id.stack_id()),
            held,
            contributions: BTreeMap::new(),
        });
    }
    Err(format!(
        "no member of the group can be built, so nothing is changed: {}",
        held.iter()
            .map(|p| p.to_string())
            .chain(
                input
                    .held_at_load
                    .iter()
                    .map(|key| format!("Ingress {key}: held"))
            )
            .collect::<Vec<_>>()
            .join("; ")
    ))
}
