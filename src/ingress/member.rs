//! One member of an Ingress group as the build reads it: the Ingress, its IngressClassParams and
//! `group.order`, and what is parsed of it once however many steps ask — settings, listen ports,
//! inbound sources, its own certificates — with the vocabulary every step of the build shares
//! (`MemberProblem`, the annotation prefix, `namespace/name` keys, the hosts). Pure.
//!
//! The bottom layer of `ingress/`: it imports no other module of it but `actions` (the parsers of
//! `actions.*` and `conditions.*`, which import none), so every step may import it
//! (`purity_tests` checks that `ingress/` has no import cycle). Parsing lives with each subject
//! (`settings`, `listen`, `mtls`, `frontend`, `actions`) and this module keeps the results; only
//! the member's own certificates (one params field or one annotation) are read here.
//! Authentication is parsed per member and backend Service (its annotations may sit on either),
//! once per rule that asks.

use super::actions::{parse_action, parse_conditions, AnnotatedAction, ForwardTarget};
use crate::annotations::Annotations;
use crate::cloud::RuleCondition;
use crate::crd::ingress_class_params::IngressClassParams;
use crate::model::{Protocol, Tags};
use k8s_openapi::api::networking::v1::Ingress;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};

pub const INGRESS_PREFIX: &str = "alb.ingress.kubernetes.io/";

/// A member's annotations under the Ingress prefix.
pub fn annotations(member: &Member) -> Annotations<'_> {
    Annotations::new(member.ingress.metadata.annotations.as_ref(), INGRESS_PREFIX)
}

/// `namespace/name` of an Ingress.
pub fn ingress_key(ingress: &Ingress) -> String {
    format!(
        "{}/{}",
        ingress.metadata.namespace.as_deref().unwrap_or_default(),
        ingress.metadata.name.as_deref().unwrap_or_default()
    )
}

/// A member's problem: which Ingress, and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Ingress {ingress}: {problem}")]
pub struct MemberProblem {
    pub ingress: String,
    pub problem: String,
}

pub(super) fn problem(member: &Member, text: impl Into<String>) -> MemberProblem {
    MemberProblem {
        ingress: member.key(),
        problem: text.into(),
    }
}

/// An active member of a group.
#[derive(Debug, Clone)]
pub struct Member {
    pub ingress: Ingress,
    pub params: Option<Box<IngressClassParams>>,
    pub order: i32,
    /// What the build parses of the member, parsed once however many steps ask (shared by
    /// clones: a member never changes).
    pub(super) parsed: Arc<ParsedMember>,
}

/// The member's annotations as parsed, filled on first use.
#[derive(Debug, Default)]
pub(super) struct ParsedMember {
    pub(super) settings: OnceLock<Result<MemberSettings, MemberProblem>>,
    pub(super) listen_ports: OnceLock<Result<BTreeMap<i32, Protocol>, String>>,
    pub(super) explicit_certificates: OnceLock<Option<Vec<String>>>,
    pub(super) inbound_sources: OnceLock<Result<InboundSources, String>>,
    /// `mutual-authentication` by port, trust stores as written (ARN or name).
    pub(super) mutual_authentication:
        OnceLock<Result<BTreeMap<i32, crate::cloud::MutualAuthentication>, String>>,
    /// The `frontend-nlb-*` annotations.
    pub(super) frontend: OnceLock<Result<MemberFrontend, MemberProblem>>,
    /// The `actions.<name>` annotations by name.
    pub(super) actions: OnceLock<BTreeMap<String, Result<AnnotatedAction, String>>>,
    /// The `conditions.<name>` annotations by name.
    pub(super) conditions: OnceLock<BTreeMap<String, Result<Vec<RuleCondition>, String>>>,
}

impl PartialEq for Member {
    fn eq(&self, other: &Self) -> bool {
        self.ingress == other.ingress && self.params == other.params && self.order == other.order
    }
}

impl Member {
    pub fn new(ingress: Ingress, params: Option<Box<IngressClassParams>>, order: i32) -> Self {
        Self {
            ingress,
            params,
            order,
            parsed: Arc::default(),
        }
    }

    pub fn key(&self) -> String {
        ingress_key(&self.ingress)
    }
}

#[derive(Debug, Clone)]
pub struct MemberSettings {
    pub(super) scheme: Option<String>,
    pub(super) ip_address_type: Option<String>,
    pub(super) name: Option<String>,
    pub(super) tags: Tags,
    pub(super) subnets: Option<Vec<String>>,
    /// `load-balancer-attributes`.
    pub(super) attributes: BTreeMap<String, String>,
    /// `security-groups`, in the order given.
    pub(super) security_groups: Option<Vec<String>>,
    pub(super) manage_backend_rules: Option<bool>,
    /// `wafv2-acl-name` (params `wafv2AclName`), non-empty.
    pub(super) wafv2_acl_name: Option<String>,
    /// `wafv2-acl-arn` (params `wafv2AclArn`); an empty annotation means `none`.
    pub(super) wafv2_acl_arn: Option<String>,
    /// `customer-owned-ipv4-pool`.
    pub(super) customer_owned_ipv4_pool: Option<String>,
    /// `ipam-ipv4-pool-id` (params `ipamConfiguration.ipv4IPAMPoolId`); empty means unset.
    pub(super) ipv4_ipam_pool: Option<String>,
    /// `waf-acl-id` (else the legacy `web-acl-id`); empty means unset.
    pub(super) waf_classic_acl: Option<String>,
    /// `shield-advanced-protection`.
    pub(super) shield: Option<bool>,
    /// `minimum-load-balancer-capacity` `CapacityUnits` (params win over the annotation).
    pub(super) capacity_units: Option<i32>,
}

/// The member's `actions.<name>` annotations by name, each parsed (once: the discover step's
/// lookups and every rule naming one ask).
pub fn annotated_actions(member: &Member) -> &BTreeMap<String, Result<AnnotatedAction, String>> {
    member.parsed.actions.get_or_init(|| {
        annotations(member)
            .with_suffix_prefix("actions.")
            .into_iter()
            .map(|(name, raw)| (name.to_string(), parse_action(raw)))
            .collect()
    })
}

/// The member's `conditions.<name>` annotations by name, each parsed (once: admission's check
/// and every rule naming one ask).
pub fn annotated_conditions(
    member: &Member,
) -> &BTreeMap<String, Result<Vec<RuleCondition>, String>> {
    member.parsed.conditions.get_or_init(|| {
        annotations(member)
            .with_suffix_prefix("conditions.")
            .into_iter()
            .map(|(name, raw)| (name.to_string(), parse_conditions(raw)))
            .collect()
    })
}

/// The target group names the members' `actions.*` annotations forward to, once each (for the
/// discover step's lookups); malformed actions name none (the build reports them).
pub fn forwarded_target_group_names(members: &[Member]) -> Vec<String> {
    let names: BTreeSet<String> = members
        .iter()
        .flat_map(|member| annotated_actions(member).values())
        .flat_map(|action| match action {
            Ok(AnnotatedAction::Forward { targets, .. }) => targets
                .iter()
                .filter_map(|(target, _)| match target {
                    ForwardTarget::Name(name) => Some(name.clone()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        })
        .collect();
    names.into_iter().collect()
}

/// The hosts of the member's rules and TLS section, de-duplicated and sorted.
pub fn member_hosts(member: &Member) -> BTreeSet<String> {
    let Some(spec) = member.ingress.spec.as_ref() else {
        return BTreeSet::new();
    };
    let rule_hosts = spec.rules.iter().flatten().filter_map(|r| r.host.clone());
    let tls_hosts = spec
        .tls
        .iter()
        .flatten()
        .flat_map(|tls| tls.hosts.clone().unwrap_or_default());
    rule_hosts
        .chain(tls_hosts)
        .filter(|host| !host.is_empty())
        .collect()
}

/// The member's own certificates: params `certificateArn` (non-empty), else the annotation.
pub fn explicit_certificates(member: &Member) -> Option<Vec<String>> {
    member
        .parsed
        .explicit_certificates
        .get_or_init(|| parse_explicit_certificates(member))
        .clone()
}

fn parse_explicit_certificates(member: &Member) -> Option<Vec<String>> {
    member
        .params
        .as_ref()
        .and_then(|p| p.spec.certificate_arn.clone())
        .filter(|arns| !arns.is_empty())
        .or_else(|| annotations(member).string_list("certificate-arn"))
        .filter(|arns| !arns.is_empty())
}

/// What one member admits to its listeners; `None` where it says nothing.
#[derive(Debug, Clone)]
pub struct InboundSources {
    pub cidrs: Option<BTreeSet<String>>,
    pub prefix_lists: Option<BTreeSet<String>>,
}

/// One member's `frontend-nlb-health-check-*` values, as given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct HealthCheckWishes {
    pub(super) port: Option<String>,
    pub(super) protocol: Option<String>,
    pub(super) path: Option<String>,
    pub(super) interval: Option<i32>,
    pub(super) timeout: Option<i32>,
    pub(super) healthy: Option<i32>,
    pub(super) unhealthy: Option<i32>,
    pub(super) success_codes: Option<String>,
}

/// One member's frontend NLB annotations, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct MemberFrontend {
    pub(super) enabled: Option<bool>,
    pub(super) scheme: Option<String>,
    pub(super) subnets: Option<Vec<String>>,
    pub(super) security_groups: Option<Vec<String>>,
    /// NLB port → ALB port.
    pub(super) port_mapping: Option<BTreeMap<i32, i32>>,
    pub(super) eip_allocations: Option<Vec<String>>,
    pub(super) health_check: HealthCheckWishes,
    pub(super) attributes: Option<BTreeMap<String, String>>,
    pub(super) tags: Option<Tags>,
}
