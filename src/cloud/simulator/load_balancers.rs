//! Load balancers in the simulator.

use super::*;

impl State {
    pub(super) fn check_subnets(
        &self,
        operation: &str,
        load_balancer_type: LoadBalancerType,
        mappings: &[SubnetMapping],
    ) -> CloudResult<()> {
        if self.subnets.is_empty() {
            return Ok(());
        }
        let mut zones = BTreeSet::new();
        for mapping in mappings {
            let Some(subnet) = self
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

    pub(super) fn describe_load_balancers(
        &mut self,
        arns: &[String],
    ) -> CloudResult<Vec<ObservedLoadBalancer>> {
        arns.iter()
            .map(|arn| match self.load_balancers.get(arn) {
                Some(lb) => Ok(lb.observed.clone()),
                None => error(
                    ErrorKind::NotFound,
                    "DescribeLoadBalancers",
                    format!("load balancer {arn} not found"),
                ),
            })
            .collect()
    }

    pub(super) fn describe_load_balancer_attributes(
        &mut self,
        arn: &str,
    ) -> CloudResult<BTreeMap<String, String>> {
        match self.load_balancers.get(arn) {
            Some(lb) => Ok(lb.attributes.clone()),
            None => error(
                ErrorKind::NotFound,
                "DescribeLoadBalancerAttributes",
                format!("load balancer {arn} not found"),
            ),
        }
    }

    pub(super) fn create_load_balancer(
        &mut self,
        input: &LoadBalancerInput,
    ) -> CloudResult<ObservedLoadBalancer> {
        super::security_groups::too_many_groups("CreateLoadBalancer", &input.security_groups)?;
        if input.name.len() > 32 {
            return error(
                ErrorKind::Invalid,
                "CreateLoadBalancer",
                "a load balancer name has at most 32 characters",
            );
        }
        if let Some(existing) = self
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
                    "CreateLoadBalancer",
                    format!(
                        "a load balancer named {} exists with other settings",
                        input.name
                    ),
                )
            };
        }
        Self::check_subnets(
            self,
            "CreateLoadBalancer",
            input.load_balancer_type,
            &input.subnet_mappings,
        )?;
        for group in &input.security_groups {
            if !self.security_groups.contains_key(group) {
                return error(
                    ErrorKind::Invalid,
                    "CreateLoadBalancer",
                    format!("security group {group} does not exist"),
                );
            }
        }
        let id = self.next_id();
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
            ipv4_ipam_pool: input.address_pools.ipv4_ipam.clone(),
        };
        let stored = StoredLoadBalancer {
            observed: observed.clone(),
            attributes: BTreeMap::new(),
            tags: input.tags.clone(),
        };
        self.load_balancers.insert(observed.arn.clone(), stored);
        Ok(observed)
    }

    pub(super) fn delete_load_balancer(&mut self, arn: &str) -> CloudResult<()> {
        let Some(existing) = self.load_balancers.get(arn) else {
            return error(
                ErrorKind::NotFound,
                "DeleteLoadBalancer",
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
                "DeleteLoadBalancer",
                "deletion protection is enabled",
            );
        }
        if self
            .targets
            .values()
            .any(|registered| registered.keys().any(|target| target.id == arn))
        {
            return error(
                ErrorKind::InUse,
                "DeleteLoadBalancer",
                format!("{arn} is registered as a target of a network load balancer"),
            );
        }
        self.load_balancers.remove(arn);
        let gone: Vec<String> = self
            .listeners
            .iter()
            .filter(|(_, l)| l.observed.load_balancer_arn == arn)
            .map(|(listener, _)| listener.clone())
            .collect();
        self.listeners
            .retain(|_, l| l.observed.load_balancer_arn != arn);
        self.rules
            .retain(|_, r| !gone.contains(&r.observed.listener_arn));
        Ok(())
    }

    pub(super) fn modify_load_balancer_attributes(
        &mut self,
        arn: &str,
        attributes: &BTreeMap<String, String>,
    ) -> CloudResult<()> {
        match self.load_balancers.get_mut(arn) {
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

    pub(super) fn set_subnets(&mut self, arn: &str, mappings: &[SubnetMapping]) -> CloudResult<()> {
        let load_balancer_type = match self.load_balancers.get(arn) {
            Some(lb) => lb.observed.load_balancer_type,
            None => {
                return error(
                    ErrorKind::NotFound,
                    "SetSubnets",
                    format!("load balancer {arn} not found"),
                )
            }
        };
        Self::check_subnets(self, "SetSubnets", load_balancer_type, mappings)?;
        if let Some(lb) = self.load_balancers.get_mut(arn) {
            lb.observed.subnet_mappings = mappings.to_vec();
        }
        Ok(())
    }

    pub(super) fn set_ipam_pool(&mut self, arn: &str, pool: Option<&str>) -> CloudResult<()> {
        match self.load_balancers.get_mut(arn) {
            Some(lb) => {
                lb.observed.ipv4_ipam_pool = pool.map(str::to_string);
                Ok(())
            }
            None => error(
                ErrorKind::NotFound,
                "ModifyIpPools",
                format!("load balancer {arn} not found"),
            ),
        }
    }

    pub(super) fn set_ip_address_type(
        &mut self,
        arn: &str,
        ip_address_type: IpAddressType,
    ) -> CloudResult<()> {
        match self.load_balancers.get_mut(arn) {
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
}
