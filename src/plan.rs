//! Plan: the ordered changes that take what AWS holds (an [`ObservedStack`]) to what a stack wants
//! (a [`Stack`]). Pure and deterministic; its `Display` is one line per change, which is also the
//! dry run's "plan of changes".
//!
//! Order, as upstream deploys: security groups; target groups (create, modify); the load balancer
//! (a replaced one is deleted first, then created or updated); listeners (delete, create, modify);
//! then target groups no longer wanted, and last the managed security group. Unchanged resources
//! get no change at all. What is only modified in place is never replaced: a load balancer is
//! replaced only when its type or scheme differs, a target group only when its target type or
//! protocol does.

pub mod certificates;
mod display;
pub mod frontend;
pub mod rules;
pub mod security_groups;
mod tags;

use crate::model::{IngressRule, IpAddressType, ListenerSpec, Stack, Tags, NO_WEB_ACL};
use crate::observe::{LoadBalancerState, ObservedStack, TargetGroupState};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

pub use load_balancer::SHIELD_PROTECTION_NAMES;
pub use tags::tag_changes;

pub use crate::model::identity::LOAD_BALANCER_ID;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "camelCase")]
pub enum Change {
    CreateBackendSecurityGroup {
        name: String,
    },
    /// Shard `shard` of the managed group (0: the group itself; see [`security_groups`]).
    CreateSecurityGroup {
        name: String,
        #[serde(skip_serializing_if = "security_groups::is_first_shard")]
        shard: usize,
    },
    /// `group_id` is `None` for a managed group (shard `shard`) created earlier in the same plan.
    AuthorizeIngress {
        group_id: Option<String>,
        #[serde(skip_serializing_if = "security_groups::is_first_shard")]
        shard: usize,
        rules: Vec<IngressRule>,
    },
    RevokeIngress {
        group_id: String,
        rules: Vec<IngressRule>,
    },
    CreateTargetGroup {
        resource_id: String,
        name: String,
    },
    ModifyTargetGroup {
        resource_id: String,
        arn: String,
    },
    ModifyTargetGroupAttributes {
        resource_id: String,
        arn: String,
        attributes: BTreeMap<String, String>,
    },
    DeleteLoadBalancer {
        arn: String,
        name: String,
        reason: String,
    },
    CreateLoadBalancer {
        name: String,
    },
    SetSecurityGroups {
        arn: String,
    },
    SetSubnets {
        arn: String,
    },
    SetIpAddressType {
        arn: String,
        ip_address_type: IpAddressType,
    },
    ModifyLoadBalancerAttributes {
        arn: String,
        attributes: BTreeMap<String, String>,
    },
    UpdateTags {
        arn: String,
        add: Tags,
        remove: Vec<String>,
    },
    DeleteListener {
        arn: String,
        port: i32,
    },
    CreateListener {
        port: i32,
    },
    ModifyListener {
        arn: String,
        port: i32,
    },
    /// Associate the load balancer with a WAF Classic web ACL (`None`: the one being created).
    AssociateClassicWebAcl {
        arn: Option<String>,
        web_acl_id: String,
    },
    DisassociateClassicWebAcl {
        arn: String,
    },
    /// Protect the load balancer with Shield Advanced (`None`: the one being created).
    CreateShieldProtection {
        arn: Option<String>,
    },
    /// Remove a Shield Advanced protection this controller made.
    DeleteShieldProtection {
        id: String,
    },
    /// Reserve capacity units (`None`: reset) for the load balancer (`None`: the one being
    /// created).
    SetCapacityReservation {
        arn: Option<String>,
        units: Option<i32>,
    },
    /// Set or remove the IPAM pool of the load balancer's IPv4 addresses.
    SetIpamPool {
        arn: String,
        pool: Option<String>,
    },
    /// Associate the load balancer with a WAFv2 web ACL (`None`: the one being created).
    AssociateWebAcl {
        arn: Option<String>,
        web_acl_arn: String,
    },
    DisassociateWebAcl {
        arn: String,
    },
    /// Listed listener attributes that differ (others are never reset).
    ModifyListenerAttributes {
        arn: String,
        port: i32,
        attributes: BTreeMap<String, String>,
    },
    /// SNI certificates of a TLS/HTTPS listener, beyond its default one.
    UpdateListenerCertificates {
        arn: String,
        port: i32,
        add: Vec<String>,
        remove: Vec<String>,
    },
    DeleteTargetGroup {
        arn: String,
        name: String,
    },
    DeleteSecurityGroup {
        group_id: String,
        name: String,
    },
    /// Register the stack's ALB in a frontend NLB target group (by resource id) on `port`.
    RegisterAlbTarget {
        target_group: String,
        port: i32,
    },
    /// Take a load balancer out of a frontend NLB target group.
    DeregisterAlbTarget {
        target_group_arn: String,
        target: crate::cloud::Target,
    },
    /// Request the ACM certificate of the stack's `certificates` entry `resource_id`.
    RequestCertificate {
        resource_id: String,
        domain: String,
    },
    DeleteCertificate {
        arn: String,
        domain: String,
    },
    /// Write a pending certificate's DNS validation records into Route 53.
    WriteValidationRecords {
        arn: String,
        records: Vec<crate::cloud::ValidationRecord>,
    },
}

impl Change {
    pub fn is_delete(&self) -> bool {
        matches!(
            self,
            Self::DeleteLoadBalancer { .. }
                | Self::DeleteListener { .. }
                | Self::DeleteTargetGroup { .. }
                | Self::DeleteSecurityGroup { .. }
        )
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub changes: Vec<Change>,
}

impl Plan {
    /// Whether the plan deletes the target group `arn`.
    pub fn deletes_target_group(&self, arn: &str) -> bool {
        self.changes.iter().any(|change| {
            matches!(change, Change::DeleteTargetGroup { arn: deleted, .. } if deleted == arn)
        })
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The ARNs of the load balancers this plan deletes.
    pub fn deleted_load_balancers(&self) -> Vec<&str> {
        self.changes
            .iter()
            .filter_map(|change| match change {
                Change::DeleteLoadBalancer { arn, .. } => Some(arn.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The observed load balancer with resource id `id` that this plan keeps.
    pub fn kept_load_balancer<'a>(
        &self,
        observed: &'a ObservedStack,
        id: &str,
    ) -> Option<&'a crate::observe::LoadBalancerState> {
        let deleted = self.deleted_load_balancers();
        observed.load_balancers.iter().find(|lb| {
            lb.resource_id.as_deref() == Some(id)
                && !deleted.contains(&lb.load_balancer.arn.as_str())
        })
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for change in &self.changes {
            writeln!(formatter, "{change}")?;
        }
        Ok(())
    }
}

/// What `plan` needs beyond the two stacks.
pub struct PlanContext<'a> {
    /// Tag keys never added or removed by the controller.
    pub external_managed_tags: &'a BTreeSet<String>,
    /// The name of the shared backend security group, created when a stack needs it.
    pub backend_security_group_name: &'a str,
    /// The resource id of the stack's load balancer ([`LOAD_BALANCER_ID`], or
    /// [`crate::model::FRONTEND_NLB_ID`] for a frontend NLB).
    pub load_balancer_id: &'a str,
    /// The account's quota of inbound rules per security group (AWS's default: 60).
    pub rules_per_security_group: usize,
}

impl<'a> PlanContext<'a> {
    /// The context of a stack's main load balancer under `config`.
    pub fn from_config(
        config: &'a crate::config::ControllerConfig,
        backend_security_group_name: &'a str,
    ) -> Self {
        Self {
            external_managed_tags: &config.external_managed_tags,
            backend_security_group_name,
            load_balancer_id: LOAD_BALANCER_ID,
            rules_per_security_group: config.rules_per_security_group,
        }
    }
}

/// Why the stack cannot be planned: AWS holds something tagged as ours that we cannot place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PlanError(pub String);

pub(crate) fn kept_target_groups<'a>(
    desired: &Stack,
    observed: &'a ObservedStack,
) -> BTreeMap<String, &'a TargetGroupState> {
    let mut kept = BTreeMap::new();
    for (id, spec) in &desired.target_groups {
        // A replacement cut short leaves the old and the new group with the same resource id:
        // the one that fits is kept (the other is deleted once nothing uses it).
        let fitting = observed
            .target_groups
            .iter()
            .filter(|state| state.resource_id.as_deref() == Some(id.as_str()))
            .find(|state| {
                // The protocol version is fixed at creation (compared only where both know one).
                let version_differs = matches!(
                    (&state.target_group.protocol_version, &spec.protocol_version),
                    (Some(observed), Some(wanted)) if observed != wanted
                );
                state.target_group.target_type == spec.target_type
                    && state.target_group.protocol == spec.protocol
                    && !version_differs
            });
        if let Some(state) = fitting {
            kept.insert(id.clone(), state);
        }
    }
    kept
}

fn changed_attributes(
    desired: &BTreeMap<String, String>,
    observed: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    desired
        .iter()
        .filter(|(key, value)| observed.get(*key) != Some(*value))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn plan_target_groups(
    desired: &Stack,
    kept: &BTreeMap<String, &TargetGroupState>,
    context: &PlanContext,
    changes: &mut Vec<Change>,
) {
    for (id, spec) in &desired.target_groups {
        let Some(state) = kept.get(id) else {
            changes.push(Change::CreateTargetGroup {
                resource_id: id.clone(),
                name: spec.name.clone(),
            });
            continue;
        };
        let arn = state.target_group.arn.clone();
        if state.target_group.health_check != spec.health_check {
            changes.push(Change::ModifyTargetGroup {
                resource_id: id.clone(),
                arn: arn.clone(),
            });
        }
        let attributes = changed_attributes(&spec.attributes, &state.attributes);
        if !attributes.is_empty() {
            changes.push(Change::ModifyTargetGroupAttributes {
                resource_id: id.clone(),
                arn: arn.clone(),
                attributes,
            });
        }
        if let Some(change) =
            tag_changes(&arn, &spec.tags, &state.tags, context.external_managed_tags)
        {
            changes.push(change);
        }
    }
}

/// A desired listener's default action as AWS would hold it, when every target group it
/// forwards to already exists.
fn resolved_default_action(
    listener: &ListenerSpec,
    kept: &BTreeMap<String, &TargetGroupState>,
) -> Option<crate::cloud::RuleAction> {
    listener.default_action.resolve(|id| {
        kept.get(id)
            .map(|state| state.target_group.arn.clone())
            .or_else(|| id.starts_with("arn:").then(|| id.to_string()))
    })
}

/// Whether AWS has deletion protection on for the load balancer.
fn deletion_protected(state: &LoadBalancerState) -> bool {
    state
        .attributes
        .get("deletion_protection.enabled")
        .is_some_and(|value| value == "true")
}

/// Plans the changes from `observed` to `desired`.
pub fn plan(
    desired: &Stack,
    observed: &ObservedStack,
    context: &PlanContext,
) -> Result<Plan, PlanError> {
    if let Some(untagged) = observed
        .load_balancers
        .iter()
        .find(|lb| lb.resource_id.is_none())
    {
        return Err(PlanError(format!(
            "load balancer {} carries the stack's tags but no resource id tag",
            untagged.load_balancer.arn
        )));
    }
    let mut changes = Vec::new();
    let layout = security_groups::managed_layout(desired, observed, context)?;
    security_groups::plan_security_groups(desired, observed, &layout, context, &mut changes);
    let kept = kept_target_groups(desired, observed);
    plan_target_groups(desired, &kept, context, &mut changes);

    let mut current = None;
    for state in &observed.load_balancers {
        let wanted = desired.load_balancer.as_ref().filter(|_| {
            state.resource_id.as_deref() == Some(context.load_balancer_id) && current.is_none()
        });
        match wanted {
            Some(spec)
                if spec.load_balancer_type == state.load_balancer.load_balancer_type
                    && spec.scheme == state.load_balancer.scheme =>
            {
                current = Some(state);
            }
            Some(_) if deletion_protected(state) => {
                // Refused before any write: the new groups and listeners would wait for a
                // delete AWS will not do.
                return Err(PlanError(format!(
                    "load balancer {} must be replaced (its type or scheme changed) but has deletion protection on: set deletion_protection.enabled=false first, then change the type or scheme",
                    state.load_balancer.name
                )));
            }
            Some(_) => changes.push(Change::DeleteLoadBalancer {
                arn: state.load_balancer.arn.clone(),
                name: state.load_balancer.name.clone(),
                reason: "its type or scheme changed: replaced".into(),
            }),
            None => changes.push(Change::DeleteLoadBalancer {
                arn: state.load_balancer.arn.clone(),
                name: state.load_balancer.name.clone(),
                reason: "no longer wanted".into(),
            }),
        }
    }
    if let Some(spec) = &desired.load_balancer {
        match current {
            None => {
                changes.push(Change::CreateLoadBalancer {
                    name: spec.name.clone(),
                });
                changes.extend(
                    desired
                        .listeners
                        .values()
                        .map(|l| Change::CreateListener { port: l.port }),
                );
                if let Some(web_acl_arn) = spec.wafv2_acl.as_ref().filter(|a| *a != NO_WEB_ACL) {
                    changes.push(Change::AssociateWebAcl {
                        arn: None,
                        web_acl_arn: web_acl_arn.clone(),
                    });
                }
                load_balancer::plan_new_add_ons(spec, observed, &mut changes);
            }
            Some(state) => {
                load_balancer::plan_update(spec, state, observed, &layout, context, &mut changes);
                load_balancer::plan_listeners(desired, state, &kept, &mut changes);
            }
        }
    }
    for state in &observed.target_groups {
        let still_used = state.resource_id.as_ref().is_some_and(|id| {
            kept.get(id)
                .is_some_and(|k| k.target_group.arn == state.target_group.arn)
        });
        if !still_used {
            changes.push(Change::DeleteTargetGroup {
                arn: state.target_group.arn.clone(),
                name: state.target_group.name.clone(),
            });
        }
    }
    changes.extend(certificates::plan_certificate_deletions(
        desired,
        &observed.certificates,
    ));
    security_groups::plan_security_group_deletions(&layout, &mut changes);
    Ok(Plan { changes })
}

mod load_balancer;

#[cfg(test)]
mod tests;
