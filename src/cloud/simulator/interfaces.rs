//! Instances' and pods' network interfaces, and the inbound rules the target-rules step writes
//! on their security groups, in the simulator. AWS's rules kept: a group holds at most
//! `rule_quota` inbound rules (60 by default, one per source), a duplicate authorization is
//! refused, and a group still referenced by another group's rule or by an interface cannot be
//! deleted (`DependencyViolation`).

use super::*;
use crate::target_rules::{ObservedPermission, Permission, RuleSource, MANAGED_RULE_DESCRIPTION};

/// AWS's default quota of inbound rules per security group.
pub(super) const DEFAULT_RULE_QUOTA: usize = 60;

impl State {
    /// The VPCs carrying every tag of `tags`.
    pub(super) fn find_vpcs(&self, tags: &Tags) -> Vec<String> {
        self.vpcs
            .iter()
            .filter(|(_, held)| tags.iter().all(|(k, v)| held.get(k) == Some(v)))
            .map(|(id, _)| id.clone())
            .collect()
    }

    pub(super) fn rule_quota(&self) -> usize {
        self.rule_quota.unwrap_or(DEFAULT_RULE_QUOTA)
    }

    /// Every inbound rule of a group as the target-rules step reads them.
    pub(super) fn permissions_of(group: &StoredSecurityGroup) -> Vec<ObservedPermission> {
        let from_ingress = group
            .observed
            .ingress
            .iter()
            .filter(|rule| {
                (rule.protocol == "tcp" || rule.protocol == "udp")
                    && !rule.source.starts_with("pl-")
            })
            .map(|rule| ObservedPermission {
                permission: Permission {
                    protocol: rule.protocol.clone(),
                    from_port: rule.from_port,
                    to_port: rule.to_port,
                    source: RuleSource::Cidr(rule.source.clone()),
                },
                description: None,
            });
        let mut all: Vec<ObservedPermission> = from_ingress
            .chain(group.permissions.iter().cloned())
            .collect();
        all.sort_by(|a, b| a.permission.cmp(&b.permission));
        all
    }

    pub(super) fn rule_count(group: &StoredSecurityGroup) -> usize {
        group.observed.ingress.len() + group.permissions.len()
    }

    pub(super) fn describe_interfaces(
        &self,
        keep: impl Fn(&NetworkInterface) -> bool,
    ) -> Vec<NetworkInterface> {
        self.interfaces
            .values()
            .filter(|i| keep(i))
            .cloned()
            .collect()
    }

    pub(super) fn describe_instance_interfaces(
        &self,
        instance_ids: &[String],
    ) -> CloudResult<Vec<NetworkInterface>> {
        let known: BTreeSet<&String> = self
            .interfaces
            .values()
            .filter_map(|i| i.instance_id.as_ref())
            .collect();
        if let Some(missing) = instance_ids.iter().find(|id| !known.contains(id)) {
            return error(
                ErrorKind::NotFound,
                "DescribeInstances",
                format!("InvalidInstanceID.NotFound: {missing}"),
            );
        }
        Ok(self.describe_interfaces(|i| {
            i.instance_id
                .as_ref()
                .is_some_and(|id| instance_ids.contains(id))
        }))
    }

    pub(super) fn describe_network_interfaces(
        &self,
        ids: &[String],
    ) -> CloudResult<Vec<NetworkInterface>> {
        if let Some(missing) = ids.iter().find(|id| !self.interfaces.contains_key(*id)) {
            return error(
                ErrorKind::NotFound,
                "DescribeNetworkInterfaces",
                format!("network interface {missing} not found"),
            );
        }
        Ok(self.describe_interfaces(|i| ids.contains(&i.id)))
    }

    pub(super) fn authorize_target_permissions(
        &mut self,
        group_id: &str,
        permissions: &[Permission],
    ) -> CloudResult<()> {
        const OPERATION: &str = "AuthorizeSecurityGroupIngress";
        let quota = self.rule_quota();
        if let Some(RuleSource::SecurityGroup(missing)) = permissions
            .iter()
            .map(|p| &p.source)
            .find(|s| matches!(s, RuleSource::SecurityGroup(id) if !self.security_groups.contains_key(id)))
        {
            return error(
                ErrorKind::NotFound,
                OPERATION,
                format!("security group {missing} not found"),
            );
        }
        let Some(group) = self.security_groups.get_mut(group_id) else {
            return error(
                ErrorKind::NotFound,
                OPERATION,
                format!("security group {group_id} not found"),
            );
        };
        let present = Self::permissions_of(group);
        if let Some(duplicate) = permissions
            .iter()
            .find(|p| present.iter().any(|o| &o.permission == *p))
        {
            return error(
                ErrorKind::Conflict,
                OPERATION,
                format!("InvalidPermission.Duplicate: {duplicate:?} already exists"),
            );
        }
        if Self::rule_count(group) + permissions.len() > quota {
            return error(
                ErrorKind::QuotaExceeded,
                OPERATION,
                format!(
                    "RulesPerSecurityGroupLimitExceeded: {group_id} holds at most {quota} rules"
                ),
            );
        }
        group
            .permissions
            .extend(permissions.iter().map(|permission| ObservedPermission {
                permission: permission.clone(),
                description: Some(MANAGED_RULE_DESCRIPTION.to_string()),
            }));
        Ok(())
    }

    pub(super) fn revoke_target_permissions(
        &mut self,
        group_id: &str,
        permissions: &[Permission],
    ) -> CloudResult<()> {
        let Some(group) = self.security_groups.get_mut(group_id) else {
            return error(
                ErrorKind::NotFound,
                "RevokeSecurityGroupIngress",
                format!("security group {group_id} not found"),
            );
        };
        group
            .permissions
            .retain(|o| !permissions.contains(&o.permission));
        group.observed.ingress.retain(|rule| {
            !permissions.iter().any(|p| {
                p.protocol == rule.protocol
                    && p.from_port == rule.from_port
                    && p.to_port == rule.to_port
                    && p.source == RuleSource::Cidr(rule.source.clone())
            })
        });
        Ok(())
    }

    /// Why a group cannot be deleted yet: another group's rule or an interface uses it.
    pub(super) fn group_dependents(&self, group_id: &str) -> Option<String> {
        let source = RuleSource::SecurityGroup(group_id.to_string());
        if let Some(referrer) = self
            .security_groups
            .values()
            .find(|g| g.permissions.iter().any(|o| o.permission.source == source))
        {
            return Some(format!(
                "security group {group_id} is referenced by a rule of {}",
                referrer.observed.id
            ));
        }
        self.interfaces
            .values()
            .find(|i| i.security_groups.iter().any(|g| g == group_id))
            .map(|i| {
                format!(
                    "security group {group_id} is used by network interface {}",
                    i.id
                )
            })
    }
}

/// Test set-up and views of interfaces and target rules.
impl Simulator {
    /// A security group of the VPC not created by the controller (e.g. a node group).
    pub fn add_security_group(&self, vpc_id: &str, name: &str, tags: &Tags) -> String {
        let mut state = self.lock();
        let id = format!("sg-0{}", state.next_id());
        state.security_groups.insert(
            id.clone(),
            StoredSecurityGroup {
                observed: ObservedSecurityGroup {
                    id: id.clone(),
                    name: name.to_string(),
                    description: name.to_string(),
                    ingress: Vec::new(),
                    permissions: Vec::new(),
                    tags: tags.clone(),
                },
                vpc_id: vpc_id.to_string(),
                permissions: Vec::new(),
            },
        );
        id
    }

    /// A rule written by someone else (its description is theirs, or none).
    pub fn add_foreign_permission(
        &self,
        group_id: &str,
        permission: Permission,
        description: Option<&str>,
    ) {
        if let Some(group) = self.lock().security_groups.get_mut(group_id) {
            group.permissions.push(ObservedPermission {
                permission,
                description: description.map(str::to_string),
            });
        }
    }

    /// An interface; its id is taken from `interface.id`.
    pub fn add_interface(&self, interface: NetworkInterface) {
        self.lock()
            .interfaces
            .insert(interface.id.clone(), interface);
    }

    /// An instance with its primary interface (device 0) holding `private_ip`, in `groups`;
    /// returns the interface's id.
    pub fn add_instance(&self, instance_id: &str, private_ip: &str, groups: &[String]) -> String {
        let interface_id = format!("eni-{}", instance_id.trim_start_matches("i-"));
        self.add_interface(NetworkInterface {
            id: interface_id.clone(),
            instance_id: Some(instance_id.to_string()),
            device_index: Some(0),
            private_ips: vec![private_ip.to_string()],
            security_groups: groups.to_vec(),
            ..NetworkInterface::default()
        });
        interface_id
    }

    /// The inbound rules of a group, one source each, sorted.
    pub fn permissions(&self, group_id: &str) -> Vec<ObservedPermission> {
        self.lock()
            .security_groups
            .get(group_id)
            .map(State::permissions_of)
            .unwrap_or_default()
    }

    /// A VPC carrying `tags` (found by `find_vpcs`).
    pub fn add_vpc(&self, vpc_id: &str, tags: &Tags) {
        self.lock().vpcs.insert(vpc_id.to_string(), tags.clone());
    }

    /// Sets the inbound-rule quota of every security group.
    pub fn set_rule_quota(&self, quota: usize) {
        self.lock().rule_quota = Some(quota);
    }
}
