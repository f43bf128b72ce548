//! An in-memory AWS for pipeline tests and benchmarks. Unlike moto it enforces the rules our
//! ordering depends on: create is idempotent for identical input and a conflict otherwise; a
//! target group used by a listener, or a security group attached to a load balancer, cannot be
//! deleted; listener ports are unique per load balancer; subnets must be in distinct zones (two
//! at least for an ALB); deletion protection blocks deletes. ARNs and DNS names are deterministic.
//!
//! Failures can be injected ("fail the Nth next call of operation X with kind K"), and every call
//! is recorded in [`CallLog`].

use super::*;
use crate::facts::Subnet;
use crate::model::{HealthCheck, IngressRule, IpAddressType, LoadBalancerType, SubnetMapping};
use std::collections::BTreeSet;
use std::sync::Mutex;

const ARN_PREFIX: &str = "arn:aws:elasticloadbalancing:us-west-2:123456789012";

#[derive(Debug, Clone)]
struct StoredLoadBalancer {
    observed: ObservedLoadBalancer,
    attributes: BTreeMap<String, String>,
    tags: Tags,
}

#[derive(Debug, Clone)]
struct StoredListener {
    observed: ObservedListener,
    tags: Tags,
}

#[derive(Debug, Clone)]
struct StoredTargetGroup {
    observed: ObservedTargetGroup,
    attributes: BTreeMap<String, String>,
    tags: Tags,
}

#[derive(Debug, Clone)]
struct StoredSecurityGroup {
    observed: ObservedSecurityGroup,
    vpc_id: String,
}

struct InjectedFailure {
    operation: String,
    remaining: usize,
    kind: ErrorKind,
}

#[derive(Default)]
struct State {
    counter: u64,
    subnets: Vec<Subnet>,
    load_balancers: BTreeMap<String, StoredLoadBalancer>,
    listeners: BTreeMap<String, StoredListener>,
    target_groups: BTreeMap<String, StoredTargetGroup>,
    security_groups: BTreeMap<String, StoredSecurityGroup>,
    failures: Vec<InjectedFailure>,
}

impl State {
    fn next_id(&mut self) -> String {
        self.counter += 1;
        format!("{:016x}", self.counter)
    }

    fn find_tags_mut(&mut self, arn: &str) -> Option<&mut Tags> {
        if let Some(lb) = self.load_balancers.get_mut(arn) {
            return Some(&mut lb.tags);
        }
        if let Some(listener) = self.listeners.get_mut(arn) {
            return Some(&mut listener.tags);
        }
        self.target_groups.get_mut(arn).map(|tg| &mut tg.tags)
    }

    fn target_group_users(&self, target_group_arn: &str) -> Vec<String> {
        let users: BTreeSet<String> = self
            .listeners
            .values()
            .filter(|l| {
                l.observed
                    .default_action
                    .target_groups
                    .iter()
                    .any(|(arn, _)| arn == target_group_arn)
            })
            .map(|l| l.observed.load_balancer_arn.clone())
            .collect();
        users.into_iter().collect()
    }
}

#[derive(Default)]
pub struct Simulator {
    state: Mutex<State>,
    pub calls: CallLog,
}

fn has_all_tags(tags: &Tags, wanted: &Tags) -> bool {
    wanted
        .iter()
        .all(|(key, value)| tags.get(key) == Some(value))
}

fn error<T>(kind: ErrorKind, operation: &str, message: impl Into<String>) -> CloudResult<T> {
    Err(CloudError::new(kind, operation, message))
}

impl Simulator {
    /// A simulator that knows the VPC's subnets (for the zone rules of load balancers).
    pub fn with_subnets(subnets: Vec<Subnet>) -> Self {
        let simulator = Self::default();
        simulator.lock().subnets = subnets;
        simulator
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Makes the `nth` next call (1 = the very next) of `operation` fail with `kind`.
    pub fn fail_call(&self, operation: &str, nth: usize, kind: ErrorKind) {
        self.lock().failures.push(InjectedFailure {
            operation: operation.to_string(),
            remaining: nth.max(1),
            kind,
        });
    }

    /// Records the call and fires an injected failure when one is due.
    fn begin(
        &self,
        operation: &'static str,
        write: bool,
    ) -> CloudResult<std::sync::MutexGuard<'_, State>> {
        self.calls.record(operation, write);
        let mut state = self.lock();
        let mut fired = None;
        for failure in state
            .failures
            .iter_mut()
            .filter(|f| f.operation == operation)
        {
            failure.remaining -= 1;
            if failure.remaining == 0 {
                fired = Some(failure.kind);
            }
        }
        state.failures.retain(|f| f.remaining > 0);
        match fired {
            Some(kind) => error(kind, operation, "injected failure"),
            None => Ok(state),
        }
    }

    // Views for assertions.

    pub fn load_balancer_names(&self) -> Vec<String> {
        self.lock()
            .load_balancers
            .values()
            .map(|lb| lb.observed.name.clone())
            .collect()
    }

    pub fn target_group_names(&self) -> Vec<String> {
        self.lock()
            .target_groups
            .values()
            .map(|tg| tg.observed.name.clone())
            .collect()
    }

    pub fn listener_ports(&self) -> Vec<i32> {
        self.lock()
            .listeners
            .values()
            .map(|l| l.observed.port)
            .collect()
    }

    pub fn security_group_names(&self) -> Vec<String> {
        self.lock()
            .security_groups
            .values()
            .map(|g| g.observed.name.clone())
            .collect()
    }

    pub fn load_balancer_attributes_by_name(&self, name: &str) -> Option<BTreeMap<String, String>> {
        self.lock()
            .load_balancers
            .values()
            .find(|lb| lb.observed.name == name)
            .map(|lb| lb.attributes.clone())
    }

    pub fn target_group_attributes_by_name(&self, name: &str) -> Option<BTreeMap<String, String>> {
        self.lock()
            .target_groups
            .values()
            .find(|tg| tg.observed.name == name)
            .map(|tg| tg.attributes.clone())
    }

    fn check_subnets(
        state: &State,
        operation: &str,
        load_balancer_type: LoadBalancerType,
        mappings: &[SubnetMapping],
    ) -> CloudResult<()> {
        if state.subnets.is_empty() {
            return Ok(());
        }
        let mut zones = BTreeSet::new();
        for mapping in mappings {
            let Some(subnet) = state
                .subnets
                .iter()
                .find(|s| s.subnet_id == mapping.subnet_id)
            else {
                return error(
                    ErrorKind::Invalid,
                    operation,
                    format!("subnet {} does not exist", mapping.subnet_id),
                );
            };
            if !zones.insert(subnet.availability_zone.clone()) {
                return error(
                    ErrorKind::Invalid,
                    operation,
                    "two subnets in one Availability Zone",
                );
            }
        }
        let minimum = if load_balancer_type == LoadBalancerType::Application {
            2
        } else {
            1
        };
        if zones.len() < minimum {
            return error(
                ErrorKind::Invalid,
                operation,
                format!("at least {minimum} subnets in distinct zones are required"),
            );
        }
        Ok(())
    }
}

impl Cloud for Simulator {
    async fn find_tagged(&self, tags: &Tags) -> CloudResult<Vec<TaggedResource>> {
        let state = self.begin("GetResources", false)?;
        let load_balancers = state
            .load_balancers
            .iter()
            .map(|(arn, lb)| (arn, &lb.tags, TaggedKind::LoadBalancer));
        let target_groups = state
            .target_groups
            .iter()
            .map(|(arn, tg)| (arn, &tg.tags, TaggedKind::TargetGroup));
        Ok(load_balancers
            .chain(target_groups)
            .filter(|(_, resource_tags, _)| has_all_tags(resource_tags, tags))
            .map(|(arn, resource_tags, kind)| TaggedResource {
                arn: arn.clone(),
                kind,
                tags: resource_tags.clone(),
            })
            .collect())
    }

    async fn describe_load_balancers(
        &self,
        arns: &[String],
    ) -> CloudResult<Vec<ObservedLoadBalancer>> {
        let state = self.begin("DescribeLoadBalancers", false)?;
        arns.iter()
            .map(|arn| match state.load_balancers.get(arn) {
                Some(lb) => Ok(lb.observed.clone()),
                None => error(
                    ErrorKind::NotFound,
                    "DescribeLoadBalancers",
                    format!("load balancer {arn} not found"),
                ),
            })
            .collect()
    }

    async fn describe_load_balancer_attributes(
        &self,
        arn: &str,
    ) -> CloudResult<BTreeMap<String, String>> {
        let state = self.begin("DescribeLoadBalancerAttributes", false)?;
        match state.load_balancers.get(arn) {
            Some(lb) => Ok(lb.attributes.clone()),
            None => error(
                ErrorKind::NotFound,
                "DescribeLoadBalancerAttributes",
                format!("load balancer {arn} not found"),
            ),
        }
    }

    async fn describe_listeners(
        &self,
        load_balancer_arn: &str,
    ) -> CloudResult<Vec<ObservedListener>> {
        let state = self.begin("DescribeListeners", false)?;
        if !state.load_balancers.contains_key(load_balancer_arn) {
            return error(
                ErrorKind::NotFound,
                "DescribeListeners",
                format!("load balancer {load_balancer_arn} not found"),
            );
        }
        Ok(state
            .listeners
            .values()
            .filter(|l| l.observed.load_balancer_arn == load_balancer_arn)
            .map(|l| l.observed.clone())
            .collect())
    }

    async fn describe_target_groups(
        &self,
        arns: &[String],
    ) -> CloudResult<Vec<ObservedTargetGroup>> {
        let state = self.begin("DescribeTargetGroups", false)?;
        arns.iter()
            .map(|arn| match state.target_groups.get(arn) {
                Some(tg) => {
                    let mut observed = tg.observed.clone();
                    observed.load_balancer_arns = state.target_group_users(arn);
                    Ok(observed)
                }
                None => error(
                    ErrorKind::NotFound,
                    "DescribeTargetGroups",
                    format!("target group {arn} not found"),
                ),
            })
            .collect()
    }

    async fn describe_target_group_attributes(
        &self,
        arn: &str,
    ) -> CloudResult<BTreeMap<String, String>> {
        let state = self.begin("DescribeTargetGroupAttributes", false)?;
        match state.target_groups.get(arn) {
            Some(tg) => Ok(tg.attributes.clone()),
            None => error(
                ErrorKind::NotFound,
                "DescribeTargetGroupAttributes",
                format!("target group {arn} not found"),
            ),
        }
    }

    async fn describe_tags(&self, arns: &[String]) -> CloudResult<BTreeMap<String, Tags>> {
        let mut state = self.begin("DescribeTags", false)?;
        let mut found = BTreeMap::new();
        for arn in arns {
            match state.find_tags_mut(arn) {
                Some(tags) => {
                    found.insert(arn.clone(), tags.clone());
                }
                None => {
                    return error(
                        ErrorKind::NotFound,
                        "DescribeTags",
                        format!("{arn} not found"),
                    )
                }
            }
        }
        Ok(found)
    }

    async fn describe_security_groups(
        &self,
        group_ids: &[String],
    ) -> CloudResult<Vec<ObservedSecurityGroup>> {
        let state = self.begin("DescribeSecurityGroups", false)?;
        group_ids
            .iter()
            .map(|id| match state.security_groups.get(id) {
                Some(group) => Ok(group.observed.clone()),
                None => error(
                    ErrorKind::NotFound,
                    "DescribeSecurityGroups",
                    format!("security group {id} not found"),
                ),
            })
            .collect()
    }

    async fn find_security_groups(
        &self,
        vpc_id: &str,
        tags: &Tags,
    ) -> CloudResult<Vec<ObservedSecurityGroup>> {
        let state = self.begin("DescribeSecurityGroups", false)?;
        Ok(state
            .security_groups
            .values()
            .filter(|g| g.vpc_id == vpc_id && has_all_tags(&g.observed.tags, tags))
            .map(|g| g.observed.clone())
            .collect())
    }

    async fn create_load_balancer(
        &self,
        input: &LoadBalancerInput,
    ) -> CloudResult<ObservedLoadBalancer> {
        const OPERATION: &str = "CreateLoadBalancer";
        let mut state = self.begin(OPERATION, true)?;
        if input.name.len() > 32 {
            return error(
                ErrorKind::Invalid,
                OPERATION,
                "a load balancer name has at most 32 characters",
            );
        }
        if let Some(existing) = state
            .load_balancers
            .values()
            .find(|lb| lb.observed.name == input.name)
        {
            let same = existing.observed.load_balancer_type == input.load_balancer_type
                && existing.observed.scheme == input.scheme
                && existing.observed.subnet_mappings == input.subnet_mappings
                && existing.observed.security_groups == input.security_groups
                && existing.tags == input.tags;
            return if same {
                Ok(existing.observed.clone())
            } else {
                error(
                    ErrorKind::Conflict,
                    OPERATION,
                    format!(
                        "a load balancer named {} exists with other settings",
                        input.name
                    ),
                )
            };
        }
        Self::check_subnets(
            &state,
            OPERATION,
            input.load_balancer_type,
            &input.subnet_mappings,
        )?;
        for group in &input.security_groups {
            if !state.security_groups.contains_key(group) {
                return error(
                    ErrorKind::Invalid,
                    OPERATION,
                    format!("security group {group} does not exist"),
                );
            }
        }
        let id = state.next_id();
        let kind = if input.load_balancer_type == LoadBalancerType::Network {
            "net"
        } else {
            "app"
        };
        let observed = ObservedLoadBalancer {
            arn: format!("{ARN_PREFIX}:loadbalancer/{kind}/{}/{id}", input.name),
            name: input.name.clone(),
            load_balancer_type: input.load_balancer_type,
            scheme: input.scheme,
            ip_address_type: input.ip_address_type,
            subnet_mappings: input.subnet_mappings.clone(),
            security_groups: input.security_groups.clone(),
            dns_name: format!("{}-{id}.elb.us-west-2.amazonaws.com", input.name),
            state: "active".into(),
        };
        let stored = StoredLoadBalancer {
            observed: observed.clone(),
            attributes: BTreeMap::new(),
            tags: input.tags.clone(),
        };
        state.load_balancers.insert(observed.arn.clone(), stored);
        Ok(observed)
    }

    async fn delete_load_balancer(&self, arn: &str) -> CloudResult<()> {
        const OPERATION: &str = "DeleteLoadBalancer";
        let mut state = self.begin(OPERATION, true)?;
        let Some(existing) = state.load_balancers.get(arn) else {
            return error(
                ErrorKind::NotFound,
                OPERATION,
                format!("load balancer {arn} not found"),
            );
        };
        if existing
            .attributes
            .get("deletion_protection.enabled")
            .map(String::as_str)
            == Some("true")
        {
            return error(
                ErrorKind::Invalid,
                OPERATION,
                "deletion protection is enabled",
            );
        }
        state.load_balancers.remove(arn);
        state
            .listeners
            .retain(|_, l| l.observed.load_balancer_arn != arn);
        Ok(())
    }

    async fn modify_load_balancer_attributes(
        &self,
        arn: &str,
        attributes: &BTreeMap<String, String>,
    ) -> CloudResult<()> {
        let mut state = self.begin("ModifyLoadBalancerAttributes", true)?;
        match state.load_balancers.get_mut(arn) {
            Some(lb) => {
                lb.attributes.extend(attributes.clone());
                Ok(())
            }
            None => error(
                ErrorKind::NotFound,
                "ModifyLoadBalancerAttributes",
                format!("load balancer {arn} not found"),
            ),
        }
    }

    async fn set_security_groups(&self, arn: &str, group_ids: &[String]) -> CloudResult<()> {
        let mut state = self.begin("SetSecurityGroups", true)?;
        if let Some(missing) = group_ids
            .iter()
            .find(|g| !state.security_groups.contains_key(*g))
        {
            return error(
                ErrorKind::Invalid,
                "SetSecurityGroups",
                format!("security group {missing} does not exist"),
            );
        }
        match state.load_balancers.get_mut(arn) {
            Some(lb) if lb.observed.security_groups.is_empty() => error(
                ErrorKind::Invalid,
                "SetSecurityGroups",
                "a load balancer created without security groups cannot get any",
            ),
            Some(lb) => {
                lb.observed.security_groups = group_ids.to_vec();
                Ok(())
            }
            None => error(
                ErrorKind::NotFound,
                "SetSecurityGroups",
                format!("load balancer {arn} not found"),
            ),
        }
    }

    async fn set_subnets(&self, arn: &str, mappings: &[SubnetMapping]) -> CloudResult<()> {
        let mut state = self.begin("SetSubnets", true)?;
        let load_balancer_type = match state.load_balancers.get(arn) {
            Some(lb) => lb.observed.load_balancer_type,
            None => {
                return error(
                    ErrorKind::NotFound,
                    "SetSubnets",
                    format!("load balancer {arn} not found"),
                )
            }
        };
        Self::check_subnets(&state, "SetSubnets", load_balancer_type, mappings)?;
        if let Some(lb) = state.load_balancers.get_mut(arn) {
            lb.observed.subnet_mappings = mappings.to_vec();
        }
        Ok(())
    }

    async fn set_ip_address_type(
        &self,
        arn: &str,
        ip_address_type: IpAddressType,
    ) -> CloudResult<()> {
        let mut state = self.begin("SetIpAddressType", true)?;
        match state.load_balancers.get_mut(arn) {
            Some(lb) => {
                lb.observed.ip_address_type = ip_address_type;
                Ok(())
            }
            None => error(
                ErrorKind::NotFound,
                "SetIpAddressType",
                format!("load balancer {arn} not found"),
            ),
        }
    }

    async fn create_target_group(
        &self,
        input: &TargetGroupInput,
    ) -> CloudResult<ObservedTargetGroup> {
        const OPERATION: &str = "CreateTargetGroup";
        let mut state = self.begin(OPERATION, true)?;
        if input.name.len() > 32 {
            return error(
                ErrorKind::Invalid,
                OPERATION,
                "a target group name has at most 32 characters",
            );
        }
        if let Some(existing) = state
            .target_groups
            .values()
            .find(|tg| tg.observed.name == input.name)
        {
            let same = existing.observed.protocol == input.protocol
                && existing.observed.port == input.port
                && existing.observed.target_type == input.target_type
                && existing.observed.vpc_id == input.vpc_id
                && existing.observed.health_check == input.health_check;
            return if same {
                Ok(existing.observed.clone())
            } else {
                error(
                    ErrorKind::Conflict,
                    OPERATION,
                    format!(
                        "a target group named {} exists with other settings",
                        input.name
                    ),
                )
            };
        }
        let id = state.next_id();
        let observed = ObservedTargetGroup {
            arn: format!("{ARN_PREFIX}:targetgroup/{}/{id}", input.name),
            name: input.name.clone(),
            target_type: input.target_type,
            protocol: input.protocol,
            port: input.port,
            vpc_id: input.vpc_id.clone(),
            health_check: input.health_check.clone(),
            load_balancer_arns: Vec::new(),
        };
        let stored = StoredTargetGroup {
            observed: observed.clone(),
            attributes: BTreeMap::new(),
            tags: input.tags.clone(),
        };
        state.target_groups.insert(observed.arn.clone(), stored);
        Ok(observed)
    }

    async fn modify_target_group(&self, arn: &str, health_check: &HealthCheck) -> CloudResult<()> {
        let mut state = self.begin("ModifyTargetGroup", true)?;
        match state.target_groups.get_mut(arn) {
            Some(tg) => {
                tg.observed.health_check = health_check.clone();
                Ok(())
            }
            None => error(
                ErrorKind::NotFound,
                "ModifyTargetGroup",
                format!("target group {arn} not found"),
            ),
        }
    }

    async fn modify_target_group_attributes(
        &self,
        arn: &str,
        attributes: &BTreeMap<String, String>,
    ) -> CloudResult<()> {
        let mut state = self.begin("ModifyTargetGroupAttributes", true)?;
        match state.target_groups.get_mut(arn) {
            Some(tg) => {
                tg.attributes.extend(attributes.clone());
                Ok(())
            }
            None => error(
                ErrorKind::NotFound,
                "ModifyTargetGroupAttributes",
                format!("target group {arn} not found"),
            ),
        }
    }

    async fn delete_target_group(&self, arn: &str) -> CloudResult<()> {
        let mut state = self.begin("DeleteTargetGroup", true)?;
        if !state.target_groups.contains_key(arn) {
            return error(
                ErrorKind::NotFound,
                "DeleteTargetGroup",
                format!("target group {arn} not found"),
            );
        }
        if !state.target_group_users(arn).is_empty() {
            return error(
                ErrorKind::InUse,
                "DeleteTargetGroup",
                format!("target group {arn} is used by a listener"),
            );
        }
        state.target_groups.remove(arn);
        Ok(())
    }

    async fn create_listener(&self, input: &ListenerInput) -> CloudResult<ObservedListener> {
        const OPERATION: &str = "CreateListener";
        let mut state = self.begin(OPERATION, true)?;
        let Some(lb) = state.load_balancers.get(&input.load_balancer_arn) else {
            return error(
                ErrorKind::NotFound,
                OPERATION,
                format!("load balancer {} not found", input.load_balancer_arn),
            );
        };
        let lb_name = lb.observed.name.clone();
        if state.listeners.values().any(|l| {
            l.observed.load_balancer_arn == input.load_balancer_arn && l.observed.port == input.port
        }) {
            return error(
                ErrorKind::Conflict,
                OPERATION,
                format!("a listener on port {} exists", input.port),
            );
        }
        if let Some((missing, _)) = input
            .default_action
            .target_groups
            .iter()
            .find(|(arn, _)| !state.target_groups.contains_key(arn))
        {
            return error(
                ErrorKind::NotFound,
                OPERATION,
                format!("target group {missing} not found"),
            );
        }
        if matches!(
            input.protocol,
            crate::model::Protocol::Tls | crate::model::Protocol::Https
        ) && input.certificates.is_empty()
        {
            return error(
                ErrorKind::Invalid,
                OPERATION,
                "a TLS listener needs a certificate",
            );
        }
        let id = state.next_id();
        let observed = ObservedListener {
            arn: format!("{ARN_PREFIX}:listener/net/{lb_name}/{id}"),
            load_balancer_arn: input.load_balancer_arn.clone(),
            port: input.port,
            protocol: input.protocol,
            default_action: input.default_action.clone(),
            certificates: input.certificates.clone(),
            ssl_policy: input.ssl_policy.clone(),
            alpn_policy: input.alpn_policy.clone(),
        };
        state.listeners.insert(
            observed.arn.clone(),
            StoredListener {
                observed: observed.clone(),
                tags: input.tags.clone(),
            },
        );
        Ok(observed)
    }

    async fn modify_listener(&self, arn: &str, input: &ListenerInput) -> CloudResult<()> {
        let mut state = self.begin("ModifyListener", true)?;
        if let Some((missing, _)) = input
            .default_action
            .target_groups
            .iter()
            .find(|(tg, _)| !state.target_groups.contains_key(tg))
        {
            return error(
                ErrorKind::NotFound,
                "ModifyListener",
                format!("target group {missing} not found"),
            );
        }
        match state.listeners.get_mut(arn) {
            Some(listener) => {
                let observed = &mut listener.observed;
                observed.port = input.port;
                observed.protocol = input.protocol;
                observed.default_action = input.default_action.clone();
                observed.certificates = input.certificates.clone();
                observed.ssl_policy = input.ssl_policy.clone();
                observed.alpn_policy = input.alpn_policy.clone();
                Ok(())
            }
            None => error(
                ErrorKind::NotFound,
                "ModifyListener",
                format!("listener {arn} not found"),
            ),
        }
    }

    async fn delete_listener(&self, arn: &str) -> CloudResult<()> {
        let mut state = self.begin("DeleteListener", true)?;
        match state.listeners.remove(arn) {
            Some(_) => Ok(()),
            None => error(
                ErrorKind::NotFound,
                "DeleteListener",
                format!("listener {arn} not found"),
            ),
        }
    }

    async fn add_tags(&self, arns: &[String], tags: &Tags) -> CloudResult<()> {
        let mut state = self.begin("AddTags", true)?;
        for arn in arns {
            match state.find_tags_mut(arn) {
                Some(existing) => existing.extend(tags.clone()),
                None => return error(ErrorKind::NotFound, "AddTags", format!("{arn} not found")),
            }
        }
        Ok(())
    }

    async fn remove_tags(&self, arns: &[String], keys: &[String]) -> CloudResult<()> {
        let mut state = self.begin("RemoveTags", true)?;
        for arn in arns {
            match state.find_tags_mut(arn) {
                Some(existing) => existing.retain(|key, _| !keys.contains(key)),
                None => {
                    return error(
                        ErrorKind::NotFound,
                        "RemoveTags",
                        format!("{arn} not found"),
                    )
                }
            }
        }
        Ok(())
    }

    async fn create_security_group(&self, input: &SecurityGroupInput) -> CloudResult<String> {
        let mut state = self.begin("CreateSecurityGroup", true)?;
        if state
            .security_groups
            .values()
            .any(|g| g.vpc_id == input.vpc_id && g.observed.name == input.name)
        {
            return error(
                ErrorKind::Conflict,
                "CreateSecurityGroup",
                format!("security group {} exists in {}", input.name, input.vpc_id),
            );
        }
        let id = format!("sg-0{}", state.next_id());
        let observed = ObservedSecurityGroup {
            id: id.clone(),
            name: input.name.clone(),
            description: input.description.clone(),
            ingress: Vec::new(),
            tags: input.tags.clone(),
        };
        state.security_groups.insert(
            id.clone(),
            StoredSecurityGroup {
                observed,
                vpc_id: input.vpc_id.clone(),
            },
        );
        Ok(id)
    }

    async fn authorize_ingress(&self, group_id: &str, rules: &[IngressRule]) -> CloudResult<()> {
        let mut state = self.begin("AuthorizeSecurityGroupIngress", true)?;
        let Some(group) = state.security_groups.get_mut(group_id) else {
            return error(
                ErrorKind::NotFound,
                "AuthorizeSecurityGroupIngress",
                format!("security group {group_id} not found"),
            );
        };
        if let Some(duplicate) = rules.iter().find(|r| group.observed.ingress.contains(r)) {
            return error(
                ErrorKind::Conflict,
                "AuthorizeSecurityGroupIngress",
                format!("rule {duplicate:?} already exists"),
            );
        }
        group.observed.ingress.extend(rules.iter().cloned());
        group.observed.ingress.sort();
        Ok(())
    }

    async fn revoke_ingress(&self, group_id: &str, rules: &[IngressRule]) -> CloudResult<()> {
        let mut state = self.begin("RevokeSecurityGroupIngress", true)?;
        match state.security_groups.get_mut(group_id) {
            Some(group) => {
                group.observed.ingress.retain(|rule| !rules.contains(rule));
                Ok(())
            }
            None => error(
                ErrorKind::NotFound,
                "RevokeSecurityGroupIngress",
                format!("security group {group_id} not found"),
            ),
        }
    }

    async fn delete_security_group(&self, group_id: &str) -> CloudResult<()> {
        let mut state = self.begin("DeleteSecurityGroup", true)?;
        if !state.security_groups.contains_key(group_id) {
            return error(
                ErrorKind::NotFound,
                "DeleteSecurityGroup",
                format!("security group {group_id} not found"),
            );
        }
        if state
            .load_balancers
            .values()
            .any(|lb| lb.observed.security_groups.iter().any(|g| g == group_id))
        {
            return error(
                ErrorKind::InUse,
                "DeleteSecurityGroup",
                format!("security group {group_id} is attached to a load balancer"),
            );
        }
        state.security_groups.remove(group_id);
        Ok(())
    }
}
