//! The inbound rules the targets' security groups need, from the TargetGroupBindings'
//! `spec.networking` (`platform.md` §2.4): each binding's permissions with its ports resolved,
//! aggregated per target security group as upstream does, compared with the group's rules, and
//! the ledger that keeps revocation safe until every binding has been computed since start.
//!
//! Pure: no AWS call, no clock. Finding the security group of a node or pod ENI and applying
//! the changes is the registration loop's job, not this module's.

use crate::crd::target_group_binding::{NetworkingProtocol, TargetGroupBindingNetworking};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::{BTreeMap, BTreeSet};

/// The description that marks a rule as the controller's (upstream's label); rules without it
/// are the user's and are never revoked.
pub const MANAGED_RULE_DESCRIPTION: &str = "elbv2.k8s.aws/targetGroupBinding=shared";

/// Who may send the traffic.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RuleSource {
    SecurityGroup(String),
    /// An IPv4 or IPv6 CIDR, normalised.
    Cidr(String),
}

/// One inbound permission with a single source, as AWS identifies a rule (descriptions aside).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Permission {
    /// `tcp` or `udp`.
    pub protocol: String,
    pub from_port: i32,
    pub to_port: i32,
    pub source: RuleSource,
}

/// A rule a security group holds, with its description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedPermission {
    pub permission: Permission,
    pub description: Option<String>,
}

impl ObservedPermission {
    pub fn is_managed(&self) -> bool {
        self.description.as_deref() == Some(MANAGED_RULE_DESCRIPTION)
    }
}

/// The container ports of a binding's pods by name (ip targets); instance targets have none,
/// and a named port is refused there, as upstream.
pub type NamedPorts = BTreeMap<String, Vec<i32>>;

const ALL_PORTS: (i32, i32) = (0, 65535);

/// The permissions a binding's networking asks for. An empty `ports` list means every TCP port,
/// as the CRD documents (upstream v3.5.0 writes nothing for it; see `docs/operations.md`).
pub fn binding_permissions(
    networking: &TargetGroupBindingNetworking,
    named_ports: Option<&NamedPorts>,
) -> Result<BTreeSet<Permission>, String> {
    let mut permissions = BTreeSet::new();
    for (index, rule) in networking.ingress.iter().enumerate() {
        let mut sources = Vec::new();
        for (peer_index, peer) in rule.from.iter().enumerate() {
            let at = format!("spec.networking.ingress[{index}].from[{peer_index}]");
            match (&peer.ip_block, &peer.security_group) {
                (Some(block), None) => {
                    let cidr: ipnet::IpNet = block.cidr.trim().parse().map_err(|_| {
                        format!("{at}.ipBlock.cidr: {:?} is not a CIDR", block.cidr)
                    })?;
                    sources.push(RuleSource::Cidr(cidr.trunc().to_string()));
                }
                (None, Some(group)) if is_security_group_id(&group.group_id) => {
                    sources.push(RuleSource::SecurityGroup(group.group_id.clone()));
                }
                (None, Some(group)) => {
                    return Err(format!(
                        "{at}.securityGroup.groupID: {:?} is not a security group id",
                        group.group_id
                    ))
                }
                _ => {
                    return Err(format!(
                        "{at}: exactly one of ipBlock and securityGroup is needed"
                    ))
                }
            }
        }
        let mut ranges: Vec<(String, i32, i32)> = Vec::new();
        if rule.ports.is_empty() {
            ranges.push(("tcp".into(), ALL_PORTS.0, ALL_PORTS.1));
        }
        for (port_index, port) in rule.ports.iter().enumerate() {
            let protocol = match port.protocol {
                Some(NetworkingProtocol::Udp) => "udp",
                _ => "tcp",
            };
            match &port.port {
                None => ranges.push((protocol.into(), ALL_PORTS.0, ALL_PORTS.1)),
                Some(IntOrString::Int(number)) if (ALL_PORTS.0..=ALL_PORTS.1).contains(number) => {
                    ranges.push((protocol.into(), *number, *number))
                }
                Some(IntOrString::Int(number)) => {
                    return Err(format!(
                        "spec.networking.ingress[{index}].ports[{port_index}].port: {number} is not a port (0-65535)"
                    ))
                }
                Some(IntOrString::String(name)) => {
                    let numbers = named_ports
                        .map(|ports| ports.get(name).cloned().unwrap_or_default())
                        .ok_or_else(|| {
                        format!("spec.networking.ingress[{index}]: named port {name:?}: named ports can only be used with pod endpoints")
                    })?;
                    ranges.extend(numbers.into_iter().map(|n| (protocol.to_string(), n, n)));
                }
            }
        }
        for source in &sources {
            for (protocol, from_port, to_port) in &ranges {
                permissions.insert(Permission {
                    protocol: protocol.clone(),
                    from_port: *from_port,
                    to_port: *to_port,
                    source: source.clone(),
                });
            }
        }
    }
    Ok(permissions)
}

/// `sg-` and hexadecimal digits, as EC2 names security groups.
fn is_security_group_id(id: &str) -> bool {
    id.strip_prefix("sg-").is_some_and(|digits| {
        !digits.is_empty()
            && digits
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// What one target security group must hold, from the permissions every binding asks of it.
/// Restricted (the default): permissions from a security group are merged per protocol and
/// source into one rule from the lowest to the highest port; CIDR permissions stay one by one.
/// Unrestricted (`--disable-restricted-sg-rules`): the union, deduplicated.
pub fn aggregate(
    permissions: impl IntoIterator<Item = Permission>,
    restricted: bool,
) -> BTreeSet<Permission> {
    let mut merged: BTreeMap<(String, RuleSource), (i32, i32)> = BTreeMap::new();
    let mut kept = BTreeSet::new();
    for permission in permissions {
        match (&permission.source, restricted) {
            (RuleSource::SecurityGroup(_), true) => {
                let range = merged
                    .entry((permission.protocol.clone(), permission.source.clone()))
                    .or_insert((permission.from_port, permission.to_port));
                range.0 = range.0.min(permission.from_port);
                range.1 = range.1.max(permission.to_port);
            }
            _ => {
                kept.insert(permission);
            }
        }
    }
    kept.extend(
        merged
            .into_iter()
            .map(|((protocol, source), (from_port, to_port))| Permission {
                protocol,
                from_port,
                to_port,
                source,
            }),
    );
    kept
}

/// The changes that make a security group hold `desired`: missing permissions authorised
/// (with the managed description), and — only when `may_revoke` — the managed permissions no
/// longer desired revoked. The user's rules are never touched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleChanges {
    pub authorize: Vec<Permission>,
    pub revoke: Vec<Permission>,
}

impl RuleChanges {
    pub fn is_empty(&self) -> bool {
        self.authorize.is_empty() && self.revoke.is_empty()
    }
}

pub fn rule_changes(
    desired: &BTreeSet<Permission>,
    observed: &[ObservedPermission],
    may_revoke: bool,
) -> RuleChanges {
    let present: BTreeSet<&Permission> = observed.iter().map(|o| &o.permission).collect();
    let authorize = desired
        .iter()
        .filter(|permission| !present.contains(permission))
        .cloned()
        .collect();
    let revoke = if may_revoke {
        observed
            .iter()
            .filter(|o| o.is_managed() && !desired.contains(&o.permission))
            .map(|o| o.permission.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    } else {
        Vec::new()
    };
    RuleChanges { authorize, revoke }
}

/// What every binding asked of every target security group, and whether that is known for all
/// bindings with networking since the process started (upstream's GC safety): until it is, only
/// authorisations are made.
#[derive(Debug, Default)]
pub struct NetworkingLedger {
    /// Bindings (`namespace/name`) with networking not computed yet since start.
    pending: BTreeSet<String>,
    /// By binding, by target security group.
    computed: BTreeMap<String, BTreeMap<String, BTreeSet<Permission>>>,
    /// Every target security group seen: the cluster-tagged ones at start, and each one a
    /// binding used, so one no binding uses any more loses our rules.
    known_groups: BTreeSet<String>,
}

impl NetworkingLedger {
    /// A ledger waiting for `bindings` (those carrying networking, listed at start), knowing the
    /// cluster's tagged security groups.
    pub fn new(
        bindings: impl IntoIterator<Item = String>,
        tagged_groups: impl IntoIterator<Item = String>,
    ) -> Self {
        Self {
            pending: bindings.into_iter().collect(),
            computed: BTreeMap::new(),
            known_groups: tagged_groups.into_iter().collect(),
        }
    }

    /// Records what `binding` asks of each target security group now (empty when it is deleted
    /// or has no networking any more).
    pub fn record(&mut self, binding: &str, by_group: BTreeMap<String, BTreeSet<Permission>>) {
        self.pending.remove(binding);
        self.known_groups.extend(by_group.keys().cloned());
        if by_group.is_empty() {
            self.computed.remove(binding);
        } else {
            self.computed.insert(binding.to_string(), by_group);
        }
    }

    /// The target security groups `binding` asked something of when last recorded.
    pub fn groups_of(&self, binding: &str) -> BTreeSet<String> {
        self.computed
            .get(binding)
            .map(|by_group| by_group.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Whether every binding with networking has been computed since start.
    pub fn complete(&self) -> bool {
        self.pending.is_empty()
    }

    /// What each known security group must hold, aggregated; groups no binding uses map to
    /// nothing (their managed rules go once the ledger is complete).
    pub fn desired(&self, restricted: bool) -> BTreeMap<String, BTreeSet<Permission>> {
        let mut wanted: BTreeMap<String, Vec<Permission>> = self
            .known_groups
            .iter()
            .map(|group| (group.clone(), Vec::new()))
            .collect();
        for by_group in self.computed.values() {
            for (group, permissions) in by_group {
                wanted
                    .entry(group.clone())
                    .or_default()
                    .extend(permissions.iter().cloned());
            }
        }
        wanted
            .into_iter()
            .map(|(group, permissions)| (group, aggregate(permissions, restricted)))
            .collect()
    }

    /// Forgets a security group that no longer exists.
    pub fn forget_group(&mut self, group: &str) {
        self.known_groups.remove(group);
        for by_group in self.computed.values_mut() {
            by_group.remove(group);
        }
    }
}

/// A security group on a target's network interface, with its tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceGroup {
    pub id: String,
    pub tags: BTreeMap<String, String>,
}

/// The security group of a node or pod interface that receives the rules: its only group, else
/// the one group carrying the `kubernetes.io/cluster/<cluster>` tag (any value) and every tag of
/// `--service-target-eni-security-group-tags`.
pub fn receiving_group(
    interface_id: &str,
    groups: &[InterfaceGroup],
    cluster: &str,
    required_tags: &BTreeMap<String, String>,
) -> Result<String, String> {
    if let [only] = groups {
        return Ok(only.id.clone());
    }
    let cluster_key = format!("kubernetes.io/cluster/{cluster}");
    let tagged: Vec<&InterfaceGroup> = groups
        .iter()
        .filter(|group| {
            group.tags.contains_key(&cluster_key)
                && required_tags
                    .iter()
                    .all(|(key, value)| group.tags.get(key) == Some(value))
        })
        .collect();
    match tagged.as_slice() {
        [one] => Ok(one.id.clone()),
        _ => Err(format!(
            "expected exactly one security group tagged {cluster_key}{} on interface {interface_id}, found {:?}",
            if required_tags.is_empty() { String::new() } else { format!(" and {required_tags:?}") },
            tagged.iter().map(|g| g.id.as_str()).collect::<Vec<_>>()
        )),
    }
}

#[cfg(test)]
#[path = "target_rules_tests.rs"]
mod tests;
