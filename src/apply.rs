//! Apply: carries out a [`Plan`] through the [`Cloud`] port, in order, resolving resource ids to
//! ARNs as resources appear. It stops at the first failure and keeps no memory: the next
//! reconcile observes again (creates carry their tags, so whatever was made is found) and plans
//! only what is left. A delete of something already gone counts as done.

use crate::cloud::{
    Cloud, CloudError, ErrorKind, ListenerInput, LoadBalancerInput, RuleAction, SecurityGroupInput,
    Target, TargetGroupInput,
};
use crate::model::{ListenerAction, ListenerSpec, SecurityGroupRef, Stack, Tags};
use crate::observe::{ObservedStack, StackIdentity};
use crate::plan::{Change, Plan};
use security_groups::{create_managed_shard, managed_groups_kept};
use std::collections::BTreeMap;

mod rules;
mod security_groups;

pub use rules::apply_rule_changes;
use rules::sync_rules;

/// What exists after a successful apply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    pub load_balancer_arn: Option<String>,
    /// Lower-cased, as it goes into the object's status.
    pub dns_name: Option<String>,
    /// The frontend NLB's, lower-cased (Ingress groups with one).
    pub frontend_dns_name: Option<String>,
    /// By resource id.
    pub target_group_arns: BTreeMap<String, String>,
    /// The managed security group's shards in order (the first is the managed group itself),
    /// and the shared backend security group, when they exist.
    pub managed_security_groups: Vec<String>,
    pub backend_security_group: Option<String>,
}

impl Applied {
    /// The managed security group (its first shard), the one targets admit traffic from.
    pub fn managed_security_group(&self) -> Option<&str> {
        self.managed_security_groups.first().map(String::as_str)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{change}: {error}")]
pub struct ApplyError {
    pub change: String,
    #[source]
    pub error: CloudError,
}

/// Ids and ARNs known so far in one apply.
struct Known {
    load_balancer: Option<(String, String)>,
    target_groups: BTreeMap<String, String>,
    listeners: BTreeMap<i32, String>,
    /// The managed group's shards by index.
    managed_groups: BTreeMap<usize, String>,
    backend_group: Option<String>,
}

impl Known {
    fn from_observed(observed: &ObservedStack, plan: &Plan, load_balancer_id: &str) -> Self {
        let kept = plan.kept_load_balancer(observed, load_balancer_id);
        Self {
            load_balancer: kept.map(|lb| {
                (
                    lb.load_balancer.arn.clone(),
                    lb.load_balancer.dns_name.clone(),
                )
            }),
            // A group the plan deletes is not the one its resource id resolves to: after a
            // replacement cut short, the old and the new group carry the same resource id.
            target_groups: observed
                .target_groups
                .iter()
                .filter(|tg| !plan.deletes_target_group(&tg.target_group.arn))
                .filter_map(|tg| {
                    tg.resource_id
                        .clone()
                        .map(|id| (id, tg.target_group.arn.clone()))
                })
                .collect(),
            listeners: kept
                .map(|lb| {
                    lb.listeners
                        .iter()
                        .map(|l| (l.port, l.arn.clone()))
                        .collect()
                })
                .unwrap_or_default(),
            managed_groups: managed_groups_kept(observed, plan),
            backend_group: observed.backend_security_group.clone(),
        }
    }

    /// `arn`, or (for `None`) the load balancer this apply created.
    fn load_balancer_or(&self, arn: &Option<String>) -> Result<String, CloudError> {
        match arn {
            Some(arn) => Ok(arn.clone()),
            None => self
                .load_balancer
                .as_ref()
                .map(|(arn, _)| arn.clone())
                .ok_or_else(|| self.missing("the load balancer")),
        }
    }

    fn missing(&self, what: &str) -> CloudError {
        CloudError::new(
            ErrorKind::Other,
            "apply",
            format!("{what} is not known yet (plan out of order)"),
        )
    }

    fn security_groups(&self, refs: &[SecurityGroupRef]) -> Result<Vec<String>, CloudError> {
        refs.iter()
            .map(|group| match group {
                SecurityGroupRef::Managed if self.managed_groups.is_empty() => {
                    Err(self.missing("the managed security group"))
                }
                SecurityGroupRef::Managed => Ok(self.managed_groups.values().cloned().collect()),
                SecurityGroupRef::Backend => self
                    .backend_group
                    .clone()
                    .map(|id| vec![id])
                    .ok_or_else(|| self.missing("the backend security group")),
                SecurityGroupRef::Id(id) => Ok(vec![id.clone()]),
            })
            .collect::<Result<Vec<Vec<String>>, CloudError>>()
            .map(|groups| groups.concat())
    }

    fn load_balancer_arn(&self) -> Result<String, CloudError> {
        self.load_balancer
            .as_ref()
            .map(|(arn, _)| arn.clone())
            .ok_or_else(|| self.missing("the load balancer"))
    }

    /// An action with the stack's target groups resolved to ARNs (ARNs given by users pass).
    fn resolve_action(&self, action: &ListenerAction) -> Result<RuleAction, CloudError> {
        action
            .resolve(|id| {
                self.target_groups
                    .get(id)
                    .cloned()
                    .or_else(|| id.starts_with("arn:").then(|| id.to_string()))
            })
            .ok_or_else(|| {
                self.missing(&format!(
                    "target group {}",
                    action.target_groups().join(", ")
                ))
            })
    }

    fn listener_input(&self, spec: &ListenerSpec) -> Result<ListenerInput, CloudError> {
        let default_action = self.resolve_action(&spec.default_action)?;
        let default_authentication = spec
            .default_authentication
            .as_ref()
            .map(|action| self.resolve_action(action))
            .transpose()?;
        Ok(ListenerInput {
            load_balancer_arn: self.load_balancer_arn()?,
            port: spec.port,
            protocol: spec.protocol,
            default_action,
            default_authentication,
            certificates: spec.certificates.clone(),
            ssl_policy: spec.ssl_policy.clone(),
            alpn_policy: spec.alpn_policy.clone(),
            mutual_authentication: spec.mutual_authentication.clone(),
            tags: spec.tags.clone(),
        })
    }
}

fn gone_is_done(outcome: Result<(), CloudError>) -> Result<(), CloudError> {
    match outcome {
        Err(error) if error.kind == ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

fn not_in_stack(what: &str) -> CloudError {
    CloudError::new(
        ErrorKind::Other,
        "apply",
        format!("{what} is not in the desired stack"),
    )
}

async fn apply_change(
    cloud: &impl Cloud,
    change: &Change,
    desired: &Stack,
    context: &ApplyContext<'_>,
    known: &mut Known,
) -> Result<(), CloudError> {
    match change {
        Change::CreateBackendSecurityGroup { name } => {
            let mut tags = context.default_tags.clone();
            tags.extend(context.identity.backend_tags());
            let input = SecurityGroupInput {
                name: name.clone(),
                description: "[k8s] Shared Backend SecurityGroup for LoadBalancer".into(),
                vpc_id: context.vpc_id.to_string(),
                tags,
            };
            known.backend_group = Some(cloud.create_security_group(&input).await?);
        }
        Change::CreateSecurityGroup { shard, .. } => {
            let spec = desired
                .security_group
                .as_ref()
                .ok_or_else(|| not_in_stack("the managed security group"))?;
            let id = create_managed_shard(cloud, spec, *shard, context).await?;
            known.managed_groups.insert(*shard, id);
        }
        Change::AuthorizeIngress {
            group_id,
            shard,
            rules,
        } => {
            let group = match group_id {
                Some(id) => id.clone(),
                None => known
                    .managed_groups
                    .get(shard)
                    .cloned()
                    .ok_or_else(|| known.missing("the managed security group"))?,
            };
            cloud.authorize_ingress(&group, rules).await?;
        }
        Change::RevokeIngress { group_id, rules } => cloud.revoke_ingress(group_id, rules).await?,
        Change::CreateTargetGroup { resource_id, .. } => {
            let spec = desired
                .target_groups
                .get(resource_id)
                .ok_or_else(|| not_in_stack(resource_id))?;
            let input = TargetGroupInput {
                name: spec.name.clone(),
                target_type: spec.target_type,
                protocol: spec.protocol,
                protocol_version: spec.protocol_version.clone(),
                target_control_port: spec.target_control_port,
                port: spec.port,
                ip_address_type: spec.ip_address_type.clone(),
                vpc_id: spec.vpc_id.clone(),
                health_check: spec.health_check.clone(),
                tags: spec.tags.clone(),
            };
            let created = cloud.create_target_group(&input).await?;
            if !spec.attributes.is_empty() {
                cloud
                    .modify_target_group_attributes(&created.arn, &spec.attributes)
                    .await?;
            }
            known.target_groups.insert(resource_id.clone(), created.arn);
        }
        Change::ModifyTargetGroup { resource_id, arn } => {
            let spec = desired
                .target_groups
                .get(resource_id)
                .ok_or_else(|| not_in_stack(resource_id))?;
            cloud.modify_target_group(arn, &spec.health_check).await?;
        }
        Change::ModifyTargetGroupAttributes {
            arn, attributes, ..
        } => {
            cloud
                .modify_target_group_attributes(arn, attributes)
                .await?
        }
        Change::DeleteLoadBalancer { arn, .. } => {
            gone_is_done(cloud.delete_load_balancer(arn).await)?
        }
        Change::CreateLoadBalancer { .. } => {
            let spec = desired
                .load_balancer
                .as_ref()
                .ok_or_else(|| not_in_stack("the load balancer"))?;
            let input = LoadBalancerInput {
                name: spec.name.clone(),
                load_balancer_type: spec.load_balancer_type,
                scheme: spec.scheme,
                ip_address_type: spec.ip_address_type,
                subnet_mappings: spec.subnet_mappings.clone(),
                ipv6_source_nat: spec.ipv6_source_nat,
                security_groups: known.security_groups(&spec.security_groups)?,
                address_pools: spec.address_pools.clone(),
                tags: spec.tags.clone(),
            };
            let created = cloud.create_load_balancer(&input).await?;
            if !spec.attributes.is_empty() {
                cloud
                    .modify_load_balancer_attributes(&created.arn, &spec.attributes)
                    .await?;
            }
            known.load_balancer = Some((created.arn, created.dns_name));
            known.listeners.clear();
        }
        Change::SetSecurityGroups { arn } => {
            let spec = desired
                .load_balancer
                .as_ref()
                .ok_or_else(|| not_in_stack("the load balancer"))?;
            cloud
                .set_security_groups(arn, &known.security_groups(&spec.security_groups)?)
                .await?;
        }
        Change::SetSubnets { arn } => {
            let spec = desired
                .load_balancer
                .as_ref()
                .ok_or_else(|| not_in_stack("the load balancer"))?;
            cloud
                .set_subnets(arn, &spec.subnet_mappings, spec.ipv6_source_nat)
                .await?;
        }
        Change::SetIpAddressType {
            arn,
            ip_address_type,
        } => cloud.set_ip_address_type(arn, *ip_address_type).await?,
        Change::AssociateWebAcl { arn, web_acl_arn } => {
            let arn = known.load_balancer_or(arn)?;
            cloud.associate_web_acl(web_acl_arn, &arn).await?
        }
        Change::AssociateClassicWebAcl { arn, web_acl_id } => {
            let arn = known.load_balancer_or(arn)?;
            cloud.associate_classic_web_acl(web_acl_id, &arn).await?
        }
        Change::DisassociateClassicWebAcl { arn } => {
            cloud.disassociate_classic_web_acl(arn).await?
        }
        Change::CreateShieldProtection { arn } => {
            let arn = known.load_balancer_or(arn)?;
            cloud
                .create_protection(crate::plan::SHIELD_PROTECTION_NAMES[0], &arn)
                .await?
        }
        Change::DeleteShieldProtection { id } => cloud.delete_protection(id).await?,
        Change::SetCapacityReservation { arn, units } => {
            let arn = known.load_balancer_or(arn)?;
            cloud.modify_capacity_reservation(&arn, *units).await?
        }
        Change::DisassociateWebAcl { arn } => cloud.disassociate_web_acl(arn).await?,
        Change::SetIpamPool { arn, pool } => cloud.set_ipam_pool(arn, pool.as_deref()).await?,
        Change::ModifyListenerAttributes {
            arn, attributes, ..
        } => cloud.modify_listener_attributes(arn, attributes).await?,
        Change::ModifyLoadBalancerAttributes { arn, attributes } => {
            cloud
                .modify_load_balancer_attributes(arn, attributes)
                .await?
        }
        Change::UpdateTags { arn, add, remove } => {
            if !add.is_empty() {
                cloud.add_tags(std::slice::from_ref(arn), add).await?;
            }
            if !remove.is_empty() {
                cloud.remove_tags(std::slice::from_ref(arn), remove).await?;
            }
        }
        Change::DeleteListener { arn, port } => {
            gone_is_done(cloud.delete_listener(arn).await)?;
            known.listeners.remove(port);
        }
        Change::CreateListener { port } => {
            let spec = desired
                .listeners
                .values()
                .find(|l| l.port == *port)
                .ok_or_else(|| not_in_stack(&format!("listener {port}")))?;
            let created = cloud.create_listener(&known.listener_input(spec)?).await?;
            if spec.certificates.len() > 1 {
                cloud
                    .add_listener_certificates(&created.arn, &spec.certificates[1..])
                    .await?;
            }
            if !spec.attributes.is_empty() {
                cloud
                    .modify_listener_attributes(&created.arn, &spec.attributes)
                    .await?;
            }
            known.listeners.insert(*port, created.arn);
        }
        Change::ModifyListener { arn, port } => {
            let spec = desired
                .listeners
                .values()
                .find(|l| l.port == *port)
                .ok_or_else(|| not_in_stack(&format!("listener {port}")))?;
            cloud
                .modify_listener(arn, &known.listener_input(spec)?)
                .await?;
        }
        Change::UpdateListenerCertificates {
            arn, add, remove, ..
        } => {
            if !add.is_empty() {
                cloud.add_listener_certificates(arn, add).await?;
            }
            if !remove.is_empty() {
                cloud.remove_listener_certificates(arn, remove).await?;
            }
        }
        Change::DeleteTargetGroup { arn, .. } => {
            gone_is_done(cloud.delete_target_group(arn).await)?
        }
        Change::DeleteSecurityGroup { group_id, .. } => {
            gone_is_done(cloud.delete_security_group(group_id).await)?
        }
        Change::RequestCertificate { .. }
        | Change::DeleteCertificate { .. }
        | Change::WriteValidationRecords { .. } => {
            apply_certificate_change(cloud, change, &desired.certificates).await?
        }
        Change::RegisterAlbTarget { target_group, port } => {
            let target_group_arn = known
                .target_groups
                .get(target_group)
                .ok_or_else(|| known.missing(&format!("target group {target_group}")))?;
            let alb = context
                .alb_arn
                .ok_or_else(|| known.missing("the ALB behind the frontend NLB"))?;
            let target = Target {
                id: alb.to_string(),
                port: *port,
            };
            cloud
                .register_targets(target_group_arn, std::slice::from_ref(&target))
                .await?
        }
        Change::DeregisterAlbTarget {
            target_group_arn,
            target,
        } => gone_is_done(
            cloud
                .deregister_targets(target_group_arn, std::slice::from_ref(target))
                .await,
        )?,
    }
    Ok(())
}

/// Carries out a certificate change (`wanted`: the stack's certificates, by resource id); a
/// certificate already gone counts as deleted.
pub async fn apply_certificate_change(
    cloud: &impl Cloud,
    change: &Change,
    wanted: &BTreeMap<String, crate::model::CertificateSpec>,
) -> Result<(), CloudError> {
    match change {
        Change::RequestCertificate { resource_id, .. } => {
            let spec = wanted
                .get(resource_id)
                .ok_or_else(|| not_in_stack(resource_id))?;
            cloud
                .request_certificate(&crate::cloud::CertificateRequest {
                    domain_name: spec.domain_name.clone(),
                    subject_alternative_names: spec.subject_alternative_names.clone(),
                    certificate_authority_arn: spec.certificate_authority_arn.clone(),
                    tags: spec.tags.clone(),
                })
                .await?;
        }
        Change::DeleteCertificate { arn, .. } => gone_is_done(cloud.delete_certificate(arn).await)?,
        Change::WriteValidationRecords { records, .. } => {
            cloud.write_validation_records(records).await?
        }
        _ => {}
    }
    Ok(())
}

/// What `apply` needs beyond the plan and the stacks.
pub struct ApplyContext<'a> {
    pub identity: &'a StackIdentity,
    pub vpc_id: &'a str,
    /// `--default-tags`, also put on the shared backend security group.
    pub default_tags: &'a Tags,
    /// The resource id of the stack's load balancer (`LoadBalancer`, or `FrontendNlb`).
    pub load_balancer_id: &'a str,
    /// The ALB a frontend NLB registers as its target.
    pub alb_arn: Option<&'a str>,
    /// The managed (its shards in order) and backend security groups of the stack a frontend
    /// NLB belongs to.
    pub inherited_groups: Option<&'a (Vec<String>, Option<String>)>,
}

/// Carries out `plan`, which was made from `observed` towards `desired`.
pub async fn apply(
    cloud: &impl Cloud,
    desired: &Stack,
    observed: &ObservedStack,
    plan: &Plan,
    context: &ApplyContext<'_>,
) -> Result<Applied, ApplyError> {
    let mut known = Known::from_observed(observed, plan, context.load_balancer_id);
    if let Some((managed, backend)) = context.inherited_groups {
        if known.managed_groups.is_empty() {
            known.managed_groups = managed.iter().cloned().enumerate().collect();
        }
        known.backend_group = known.backend_group.or(backend.clone());
    }
    // Rules are synced once the listeners are right and before target groups go, since a rule
    // may still forward to a target group about to be deleted.
    let deletions_start = plan
        .changes
        .iter()
        .position(|c| {
            matches!(
                c,
                Change::DeleteTargetGroup { .. }
                    | Change::DeleteSecurityGroup { .. }
                    | Change::DeleteCertificate { .. }
            )
        })
        .unwrap_or(plan.changes.len());
    let (before, after) = plan.changes.split_at(deletions_start);
    apply_changes(cloud, before, desired, context, &mut known).await?;
    sync_rules(cloud, desired, plan, &known).await?;
    apply_changes(cloud, after, desired, context, &mut known).await?;
    let load_balancer = desired
        .load_balancer
        .as_ref()
        .and(known.load_balancer.clone());
    Ok(Applied {
        load_balancer_arn: load_balancer.as_ref().map(|(arn, _)| arn.clone()),
        dns_name: load_balancer.map(|(_, dns)| dns.to_lowercase()),
        frontend_dns_name: None,
        target_group_arns: known
            .target_groups
            .into_iter()
            .filter(|(id, _)| desired.target_groups.contains_key(id))
            .collect(),
        managed_security_groups: known.managed_groups.into_values().collect(),
        backend_security_group: known.backend_group,
    })
}

/// Applies `changes` in order, stopping at the first failure.
async fn apply_changes(
    cloud: &impl Cloud,
    changes: &[Change],
    desired: &Stack,
    context: &ApplyContext<'_>,
    known: &mut Known,
) -> Result<(), ApplyError> {
    for change in changes {
        apply_change(cloud, change, desired, context, known)
            .await
            .map_err(|error| ApplyError {
                change: change.to_string(),
                error,
            })?;
    }
    Ok(())
}
