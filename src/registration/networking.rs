//! The networking step of the registration loop (`platform.md` §2.4): makes the security groups
//! of a binding's targets admit what its `spec.networking` asks for — instance targets on their
//! primary interface's group, ip targets on the group of the interface holding the pod's IP (its
//! branch interface with security groups for pods, the VPC interface of a Fargate pod, else the
//! node's interface holding the IP or a prefix containing it). EKS hybrid nodes have no interface
//! and get no rule.
//!
//! One instance serves the whole process and serialises every change behind one lock, as
//! upstream. Interface lookups and security groups are cached for ten minutes (our own writes
//! update the cache); a refused change re-reads the group and is tried once more. Until every
//! binding carrying networking at start has been computed, rules are only added (the ledger in
//! `crate::target_rules`); then the managed rules nobody asks for go, on every known group.
//!
//! It does not decide which rules a binding needs (the Service and Ingress builds write them
//! into the binding), nor touch rules without the managed description.

use crate::cloud::{Cloud, CloudError, ErrorKind, NetworkInterface, ObservedSecurityGroup};
use crate::crd::target_group_binding::TargetGroupBindingNetworking;
use crate::target_rules::{
    binding_permissions, receiving_group, rule_changes, InterfaceGroup, NamedPorts,
    NetworkingLedger, ObservedPermission, Permission, MANAGED_RULE_DESCRIPTION,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// How long an interface lookup or a security group's rules are trusted.
const CACHE_TTL: Duration = Duration::from_secs(10 * 60);
/// DescribeNetworkInterfaces takes at most this many addresses in one filter.
const ADDRESSES_PER_CALL: usize = 199;
/// DescribeInstances ids per call.
const INSTANCES_PER_CALL: usize = 100;
/// The pod annotation the VPC CNI writes for a pod with its own branch interface.
pub const POD_ENI_ANNOTATION: &str = "vpc.amazonaws.com/pod-eni";
const COMPUTE_TYPE_LABEL: &str = "eks.amazonaws.com/compute-type";

/// What the step needs from the flags.
#[derive(Debug, Clone, Default)]
pub struct NetworkingSettings {
    pub cluster_name: String,
    pub vpc_id: String,
    /// Security-group sources merged into port ranges (off with `--disable-restricted-sg-rules`).
    pub restricted: bool,
    /// `--service-target-eni-security-group-tags`.
    pub required_tags: BTreeMap<String, String>,
}

impl NetworkingSettings {
    pub fn from_config(config: &crate::config::ControllerConfig) -> Self {
        Self {
            cluster_name: config.cluster_name.clone(),
            vpc_id: config.vpc_id.clone(),
            restricted: !config.disable_restricted_sg_rules,
            required_tags: config.service_target_eni_security_group_tags.clone(),
        }
    }
}

/// Where a target's traffic arrives, as the cluster describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetEndpoint {
    Instance {
        instance_id: String,
    },
    Pod {
        uid: String,
        ip: String,
        /// Its branch interface, from the `vpc.amazonaws.com/pod-eni` annotation.
        branch_interface: Option<String>,
        node: PodNode,
        /// Its containers' ports by name (for named networking ports).
        ports: NamedPorts,
    },
}

/// The node a pod runs on, as far as finding its interface goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodNode {
    /// An EC2 instance.
    Instance(String),
    Fargate,
    /// EKS hybrid: outside the VPC, no security group.
    Hybrid,
    /// Not known (yet): the pod's interface is looked up by its address.
    Unknown,
}

impl PodNode {
    /// From the node's labels and instance id.
    pub fn of(labels: Option<&BTreeMap<String, String>>, instance_id: Option<String>) -> Self {
        match labels
            .and_then(|l| l.get(COMPUTE_TYPE_LABEL))
            .map(String::as_str)
        {
            Some("fargate") => PodNode::Fargate,
            Some("hybrid") => PodNode::Hybrid,
            _ => instance_id.map_or(PodNode::Unknown, PodNode::Instance),
        }
    }
}

/// The branch interface of a pod whose IP is `ip`, from its `pod-eni` annotation.
pub fn branch_interface(annotation: Option<&str>, ip: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Branch {
        eni_id: String,
        #[serde(default)]
        private_ip: Option<String>,
        #[serde(default)]
        ipv6_addr: Option<String>,
    }
    let branches: Vec<Branch> = serde_json::from_str(annotation?).ok()?;
    branches
        .into_iter()
        .find(|b| b.private_ip.as_deref() == Some(ip) || b.ipv6_addr.as_deref() == Some(ip))
        .map(|b| b.eni_id)
}

#[derive(Debug, thiserror::Error)]
pub enum NetworkingError {
    /// The binding's networking cannot be applied as written.
    #[error("{0}")]
    Invalid(String),
    /// A target's interface or security group cannot be determined.
    #[error("{0}")]
    Unresolved(String),
    #[error("AWS: {0}")]
    Cloud(#[from] CloudError),
}

struct Cached<T> {
    at: Instant,
    value: T,
}

impl<T> Cached<T> {
    fn new(value: T) -> Self {
        Self {
            at: Instant::now(),
            value,
        }
    }
    fn fresh(&self) -> Option<&T> {
        (self.at.elapsed() < CACHE_TTL).then_some(&self.value)
    }
}

#[derive(Default)]
struct State {
    ledger: Option<NetworkingLedger>,
    /// Whether the managed rules of every known group were collected since the ledger completed.
    collected: bool,
    /// The receiving group of each endpoint (instance id or pod uid); `None`: none needed.
    endpoint_groups: HashMap<String, Cached<Option<String>>>,
    groups: HashMap<String, Cached<ObservedSecurityGroup>>,
}

/// The process-wide networking step.
pub struct TargetNetworking {
    settings: NetworkingSettings,
    state: tokio::sync::Mutex<State>,
}

impl TargetNetworking {
    pub fn new(settings: NetworkingSettings) -> Self {
        Self {
            settings,
            state: tokio::sync::Mutex::default(),
        }
    }

    /// Whether the ledger still needs the bindings that existed at start.
    pub async fn needs_start(&self) -> bool {
        self.state.lock().await.ledger.is_none()
    }

    /// Starts the ledger: `bindings` (`namespace/name`) carry networking at start; the VPC's
    /// groups tagged `kubernetes.io/cluster/<cluster>` (`owned` or `shared`) are known groups.
    pub async fn start<C: Cloud>(
        &self,
        cloud: &C,
        bindings: Vec<String>,
    ) -> Result<(), NetworkingError> {
        let mut state = self.state.lock().await;
        if state.ledger.is_some() {
            return Ok(());
        }
        let mut tagged = Vec::new();
        if !self.settings.vpc_id.is_empty() {
            let key = format!("kubernetes.io/cluster/{}", self.settings.cluster_name);
            for value in ["owned", "shared"] {
                let tags = BTreeMap::from([(key.clone(), value.to_string())]);
                for group in cloud
                    .find_security_groups(&self.settings.vpc_id, &tags)
                    .await?
                {
                    tagged.push(group.id.clone());
                    state.groups.insert(group.id.clone(), Cached::new(group));
                }
            }
        }
        state.ledger = Some(NetworkingLedger::new(bindings, tagged));
        Ok(())
    }

    /// Applies one binding's networking (`None` when it has none or is being deleted) to the
    /// groups of its `endpoints`, and the groups it used before. Returns how many permissions
    /// were authorised and revoked.
    pub async fn reconcile<C: Cloud>(
        &self,
        cloud: &C,
        binding: &str,
        networking: Option<&TargetGroupBindingNetworking>,
        endpoints: &[TargetEndpoint],
    ) -> Result<(usize, usize), NetworkingError> {
        let mut state = self.state.lock().await;
        let state = &mut *state;
        let by_group = match networking.filter(|n| !n.ingress.is_empty()) {
            None => BTreeMap::new(),
            Some(networking) => {
                let placed = self.place(cloud, state, endpoints).await?;
                let mut by_group = BTreeMap::new();
                for (group, ports) in placed {
                    let permissions = binding_permissions(networking, ports.as_ref())
                        .map_err(NetworkingError::Invalid)?;
                    if !permissions.is_empty() {
                        by_group.insert(group, permissions);
                    }
                }
                by_group
            }
        };
        // Without `start` (tests), no binding is awaited: the ledger is complete at once.
        let ledger = state.ledger.get_or_insert_with(NetworkingLedger::default);
        let mut touched: BTreeSet<String> = ledger.groups_of(binding);
        touched.extend(by_group.keys().cloned());
        ledger.record(binding, by_group);
        let complete = ledger.complete();
        if complete && !state.collected {
            touched.extend(ledger.desired(self.settings.restricted).into_keys());
            state.collected = true;
        }
        let desired = ledger.desired(self.settings.restricted);
        let mut counts = (0, 0);
        for group in touched {
            let wanted = desired.get(&group).cloned().unwrap_or_default();
            let (authorized, revoked) = self
                .reconcile_group(cloud, state, &group, &wanted, complete)
                .await?;
            counts.0 += authorized;
            counts.1 += revoked;
        }
        Ok(counts)
    }

    /// The receiving group of every endpoint, with the named ports of the pods behind it
    /// (`None` for instance targets).
    async fn place<C: Cloud>(
        &self,
        cloud: &C,
        state: &mut State,
        endpoints: &[TargetEndpoint],
    ) -> Result<BTreeMap<String, Option<NamedPorts>>, NetworkingError> {
        self.resolve_missing(cloud, state, endpoints).await?;
        let mut placed: BTreeMap<String, Option<NamedPorts>> = BTreeMap::new();
        for endpoint in endpoints {
            let key = endpoint_key(endpoint);
            let Some(group) = state
                .endpoint_groups
                .get(key)
                .and_then(Cached::fresh)
                .cloned()
                .flatten()
            else {
                continue;
            };
            match endpoint {
                TargetEndpoint::Instance { .. } => {
                    placed.entry(group).or_insert(None);
                }
                TargetEndpoint::Pod { ports, .. } => {
                    let merged = placed
                        .entry(group)
                        .or_insert_with(|| Some(NamedPorts::new()))
                        .get_or_insert_with(NamedPorts::new);
                    for (name, numbers) in ports {
                        let list = merged.entry(name.clone()).or_default();
                        list.extend(numbers.iter().copied());
                        list.sort_unstable();
                        list.dedup();
                    }
                }
            }
        }
        Ok(placed)
    }

    /// Finds the interfaces of the endpoints not cached, and their receiving groups.
    async fn resolve_missing<C: Cloud>(
        &self,
        cloud: &C,
        state: &mut State,
        endpoints: &[TargetEndpoint],
    ) -> Result<(), NetworkingError> {
        let missing: Vec<&TargetEndpoint> = endpoints
            .iter()
            .filter(|e| {
                state
                    .endpoint_groups
                    .get(endpoint_key(e))
                    .and_then(Cached::fresh)
                    .is_none()
            })
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let mut instances = BTreeSet::new();
        let mut branches = BTreeSet::new();
        let mut addresses = BTreeSet::new();
        for endpoint in &missing {
            match endpoint {
                TargetEndpoint::Instance { instance_id } => {
                    instances.insert(instance_id.clone());
                }
                TargetEndpoint::Pod {
                    branch_interface: Some(id),
                    ..
                } => {
                    branches.insert(id.clone());
                }
                TargetEndpoint::Pod {
                    node: PodNode::Instance(instance),
                    ..
                } => {
                    instances.insert(instance.clone());
                }
                TargetEndpoint::Pod {
                    node: PodNode::Fargate | PodNode::Unknown,
                    ip,
                    ..
                } => {
                    addresses.insert(ip.clone());
                }
                TargetEndpoint::Pod {
                    node: PodNode::Hybrid,
                    ..
                } => {}
            }
        }
        let mut interfaces: Vec<NetworkInterface> = Vec::new();
        let instances: Vec<String> = instances.into_iter().collect();
        for chunk in instances.chunks(INSTANCES_PER_CALL) {
            interfaces.extend(cloud.describe_instance_interfaces(chunk).await?);
        }
        if !branches.is_empty() {
            let ids: Vec<String> = branches.into_iter().collect();
            interfaces.extend(cloud.describe_network_interfaces(&ids).await?);
        }
        let addresses: Vec<String> = addresses.into_iter().collect();
        for chunk in addresses.chunks(ADDRESSES_PER_CALL) {
            interfaces.extend(
                cloud
                    .find_network_interfaces_by_address(&self.settings.vpc_id, chunk)
                    .await?,
            );
        }
        // The tags of groups on interfaces with several, to choose among them.
        let unknown_groups: Vec<String> = interfaces
            .iter()
            .filter(|i| i.security_groups.len() > 1)
            .flat_map(|i| i.security_groups.iter().cloned())
            .filter(|g| state.groups.get(g).and_then(Cached::fresh).is_none())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if !unknown_groups.is_empty() {
            for group in cloud.describe_security_groups(&unknown_groups).await? {
                state.groups.insert(group.id.clone(), Cached::new(group));
            }
        }
        let mut unresolved = Vec::new();
        for endpoint in missing {
            let interface = match endpoint {
                TargetEndpoint::Instance { instance_id } => interfaces.iter().find(|i| {
                    i.instance_id.as_deref() == Some(instance_id.as_str())
                        && i.device_index == Some(0)
                }),
                TargetEndpoint::Pod {
                    node: PodNode::Hybrid,
                    uid,
                    ..
                } => {
                    state.endpoint_groups.insert(uid.clone(), Cached::new(None));
                    continue;
                }
                TargetEndpoint::Pod {
                    branch_interface: Some(id),
                    ..
                } => interfaces.iter().find(|i| &i.id == id),
                TargetEndpoint::Pod {
                    node: PodNode::Instance(instance),
                    ip,
                    ..
                } => interfaces.iter().find(|i| {
                    i.instance_id.as_deref() == Some(instance.as_str()) && holds_address(i, ip)
                }),
                TargetEndpoint::Pod { ip, .. } => interfaces
                    .iter()
                    .find(|i| i.private_ips.contains(ip) || i.ipv6_addresses.contains(ip)),
            };
            let Some(interface) = interface else {
                unresolved.push(describe_endpoint(endpoint));
                continue;
            };
            let groups: Vec<InterfaceGroup> = interface
                .security_groups
                .iter()
                .map(|id| InterfaceGroup {
                    id: id.clone(),
                    tags: state
                        .groups
                        .get(id)
                        .map(|g| g.value.tags.clone())
                        .unwrap_or_default(),
                })
                .collect();
            let group = receiving_group(
                &interface.id,
                &groups,
                &self.settings.cluster_name,
                &self.settings.required_tags,
            )
            .map_err(NetworkingError::Unresolved)?;
            state
                .endpoint_groups
                .insert(endpoint_key(endpoint).to_string(), Cached::new(Some(group)));
        }
        if unresolved.is_empty() {
            Ok(())
        } else {
            Err(NetworkingError::Unresolved(format!(
                "cannot find the network interface of {}",
                unresolved.join(", ")
            )))
        }
    }

    /// Makes one group hold `desired` (revoking only when `may_revoke`); re-reads the group and
    /// tries once more when AWS refuses a change because the cached rules were stale.
    async fn reconcile_group<C: Cloud>(
        &self,
        cloud: &C,
        state: &mut State,
        group: &str,
        desired: &BTreeSet<Permission>,
        may_revoke: bool,
    ) -> Result<(usize, usize), NetworkingError> {
        for attempt in 0..2 {
            let cached = if attempt == 0 {
                state.groups.get(group).and_then(Cached::fresh).cloned()
            } else {
                None
            };
            let observed = match cached {
                Some(observed) => observed,
                None => match cloud.describe_security_groups(&[group.to_string()]).await {
                    Ok(mut found) if !found.is_empty() => {
                        let observed = found.remove(0);
                        state
                            .groups
                            .insert(group.to_string(), Cached::new(observed.clone()));
                        observed
                    }
                    Ok(_) => return Ok(self.forget(state, group)),
                    Err(error) if error.kind == ErrorKind::NotFound => {
                        return Ok(self.forget(state, group))
                    }
                    Err(error) => return Err(error.into()),
                },
            };
            let changes = rule_changes(desired, &observed.permissions, may_revoke);
            if changes.is_empty() {
                return Ok((0, 0));
            }
            let outcome = async {
                if !changes.revoke.is_empty() {
                    cloud
                        .revoke_target_permissions(group, &changes.revoke)
                        .await?;
                }
                if !changes.authorize.is_empty() {
                    cloud
                        .authorize_target_permissions(group, &changes.authorize)
                        .await?;
                }
                Ok::<(), CloudError>(())
            }
            .await;
            match outcome {
                Ok(()) => {
                    if let Some(entry) = state.groups.get_mut(group) {
                        let rules = &mut entry.value.permissions;
                        rules.retain(|o| !changes.revoke.contains(&o.permission));
                        rules.extend(changes.authorize.iter().map(|p| ObservedPermission {
                            permission: p.clone(),
                            description: Some(MANAGED_RULE_DESCRIPTION.to_string()),
                        }));
                    }
                    return Ok((changes.authorize.len(), changes.revoke.len()));
                }
                Err(error)
                    if attempt == 0
                        && matches!(
                            error.kind,
                            ErrorKind::Conflict | ErrorKind::NotFound | ErrorKind::QuotaExceeded
                        ) =>
                {
                    tracing::info!(%group, %error, "security group changed behind us: reading it again");
                }
                Err(error) => {
                    state.groups.remove(group);
                    return Err(error.into());
                }
            }
        }
        Ok((0, 0))
    }

    fn forget(&self, state: &mut State, group: &str) -> (usize, usize) {
        state.groups.remove(group);
        if let Some(ledger) = state.ledger.as_mut() {
            ledger.forget_group(group);
        }
        (0, 0)
    }
}

fn endpoint_key(endpoint: &TargetEndpoint) -> &str {
    match endpoint {
        TargetEndpoint::Instance { instance_id } => instance_id,
        TargetEndpoint::Pod { uid, .. } => uid,
    }
}

fn describe_endpoint(endpoint: &TargetEndpoint) -> String {
    match endpoint {
        TargetEndpoint::Instance { instance_id } => format!("node instance {instance_id}"),
        TargetEndpoint::Pod { ip, .. } => format!("pod {ip}"),
    }
}

/// The interface holds `ip` as an address or inside one of its prefixes.
fn holds_address(interface: &NetworkInterface, ip: &str) -> bool {
    if interface.private_ips.iter().any(|a| a == ip)
        || interface.ipv6_addresses.iter().any(|a| a == ip)
    {
        return true;
    }
    let Ok(address) = ip.parse::<std::net::IpAddr>() else {
        return false;
    };
    interface
        .ipv4_prefixes
        .iter()
        .chain(&interface.ipv6_prefixes)
        .filter_map(|p| p.parse::<ipnet::IpNet>().ok())
        .any(|prefix| prefix.contains(&address))
}

#[cfg(test)]
#[path = "networking_tests.rs"]
mod tests;
