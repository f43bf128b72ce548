//! Target groups and listeners in the simulator.

use super::*;

impl State {
    pub(super) fn target_group_users(&self, target_group_arn: &str) -> Vec<String> {
        let users: BTreeSet<String> = self
            .listeners
            .values()
            .filter(|l| {
                matches!(&l.observed.default_action, RuleAction::Forward { target_groups, .. }
                    if target_groups.iter().any(|(arn, _)| arn == target_group_arn))
            })
            .map(|l| l.observed.load_balancer_arn.clone())
            .chain(
                self.rules
                    .values()
                    .filter(|r| {
                        r.observed.content.actions.iter().any(|action| {
                            matches!(action, RuleAction::Forward { target_groups, .. }
                                if target_groups.iter().any(|(arn, _)| arn == target_group_arn))
                        })
                    })
                    .map(|r| r.observed.arn.clone()),
            )
            .collect();
        users.into_iter().collect()
    }

    pub(super) fn describe_listeners(
        &mut self,
        load_balancer_arn: &str,
    ) -> CloudResult<Vec<ObservedListener>> {
        if !self.load_balancers.contains_key(load_balancer_arn) {
            return error(
                ErrorKind::NotFound,
                "DescribeListeners",
                format!("load balancer {load_balancer_arn} not found"),
            );
        }
        Ok(self
            .listeners
            .values()
            .filter(|l| l.observed.load_balancer_arn == load_balancer_arn)
            .map(|l| {
                let mut observed = l.observed.clone();
                observed.certificates.truncate(1);
                observed
            })
            .collect())
    }

    pub(super) fn describe_target_groups(
        &mut self,
        arns: &[String],
    ) -> CloudResult<Vec<ObservedTargetGroup>> {
        arns.iter()
            .map(|arn| match self.target_groups.get(arn) {
                Some(tg) => {
                    let mut observed = tg.observed.clone();
                    observed.load_balancer_arns = self.target_group_users(arn);
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

    pub(super) fn describe_target_group_attributes(
        &mut self,
        arn: &str,
    ) -> CloudResult<BTreeMap<String, String>> {
        match self.target_groups.get(arn) {
            Some(tg) => Ok(tg.attributes.clone()),
            None => error(
                ErrorKind::NotFound,
                "DescribeTargetGroupAttributes",
                format!("target group {arn} not found"),
            ),
        }
    }

    pub(super) fn create_target_group(
        &mut self,
        input: &TargetGroupInput,
    ) -> CloudResult<ObservedTargetGroup> {
        if input.name.len() > 32 {
            return error(
                ErrorKind::Invalid,
                "CreateTargetGroup",
                "a target group name has at most 32 characters",
            );
        }
        if let Some(existing) = self
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
                    "CreateTargetGroup",
                    format!(
                        "a target group named {} exists with other settings",
                        input.name
                    ),
                )
            };
        }
        let id = self.next_id();
        let observed = ObservedTargetGroup {
            arn: format!("{ARN_PREFIX}:targetgroup/{}/{id}", input.name),
            name: input.name.clone(),
            target_type: input.target_type,
            protocol: input.protocol,
            protocol_version: input.protocol_version.clone(),
            port: input.port,
            vpc_id: input.vpc_id.clone(),
            ip_address_type: input.ip_address_type.clone(),
            health_check: input.health_check.clone(),
            load_balancer_arns: Vec::new(),
        };
        let stored = StoredTargetGroup {
            observed: observed.clone(),
            attributes: BTreeMap::new(),
            tags: input.tags.clone(),
        };
        self.target_groups.insert(observed.arn.clone(), stored);
        Ok(observed)
    }

    pub(super) fn modify_target_group(
        &mut self,
        arn: &str,
        health_check: &HealthCheck,
    ) -> CloudResult<()> {
        match self.target_groups.get_mut(arn) {
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

    pub(super) fn modify_target_group_attributes(
        &mut self,
        arn: &str,
        attributes: &BTreeMap<String, String>,
    ) -> CloudResult<()> {
        match self.target_groups.get_mut(arn) {
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

    pub(super) fn delete_target_group(&mut self, arn: &str) -> CloudResult<()> {
        if !self.target_groups.contains_key(arn) {
            return error(
                ErrorKind::NotFound,
                "DeleteTargetGroup",
                format!("target group {arn} not found"),
            );
        }
        if !self.target_group_users(arn).is_empty() {
            return error(
                ErrorKind::InUse,
                "DeleteTargetGroup",
                format!("target group {arn} is used by a listener"),
            );
        }
        self.target_groups.remove(arn);
        self.targets.remove(arn);
        Ok(())
    }

    pub(super) fn create_listener(
        &mut self,
        input: &ListenerInput,
    ) -> CloudResult<ObservedListener> {
        let Some(lb) = self.load_balancers.get(&input.load_balancer_arn) else {
            return error(
                ErrorKind::NotFound,
                "CreateListener",
                format!("load balancer {} not found", input.load_balancer_arn),
            );
        };
        let lb_name = lb.observed.name.clone();
        if self.listeners.values().any(|l| {
            l.observed.load_balancer_arn == input.load_balancer_arn && l.observed.port == input.port
        }) {
            return error(
                ErrorKind::Conflict,
                "CreateListener",
                format!("a listener on port {} exists", input.port),
            );
        }
        self.check_forward_targets("CreateListener", &input.default_action)?;
        if matches!(
            input.protocol,
            crate::model::Protocol::Tls | crate::model::Protocol::Https
        ) && input.certificates.is_empty()
        {
            return error(
                ErrorKind::Invalid,
                "CreateListener",
                "a TLS listener needs a certificate",
            );
        }
        let id = self.next_id();
        let observed = ObservedListener {
            arn: format!("{ARN_PREFIX}:listener/net/{lb_name}/{id}"),
            load_balancer_arn: input.load_balancer_arn.clone(),
            port: input.port,
            protocol: input.protocol,
            default_action: input.default_action.clone(),
            default_authentication: input
                .default_authentication
                .as_ref()
                .map(RuleAction::as_reported),
            // CreateListener takes the default certificate only; others are listener certificates.
            certificates: input.certificates.iter().take(1).cloned().collect(),
            ssl_policy: input.ssl_policy.clone(),
            alpn_policy: input.alpn_policy.clone(),
            mutual_authentication: input.mutual_authentication.clone(),
            attributes: BTreeMap::new(),
        };
        self.listeners.insert(
            observed.arn.clone(),
            StoredListener {
                observed: observed.clone(),
                attributes: BTreeMap::new(),
                tags: input.tags.clone(),
            },
        );
        Ok(observed)
    }

    pub(super) fn target_group_named(&self, name: &str) -> Option<crate::facts::TargetGroup> {
        self.target_groups
            .values()
            .find(|tg| tg.observed.name == name)
            .map(|tg| crate::facts::TargetGroup {
                target_group_arn: tg.observed.arn.clone(),
                target_group_name: tg.observed.name.clone(),
                protocol: tg.observed.protocol.as_str().to_string(),
                vpc_id: tg.observed.vpc_id.clone(),
                target_type: tg.observed.target_type.as_str().to_string(),
                ip_address_type: Some(tg.observed.ip_address_type.clone()),
                ..crate::facts::TargetGroup::default()
            })
    }

    pub(super) fn listener_attributes(&self, arn: &str) -> CloudResult<BTreeMap<String, String>> {
        match self.listeners.get(arn) {
            Some(listener) => Ok(listener.attributes.clone()),
            None => error(
                ErrorKind::NotFound,
                "DescribeListenerAttributes",
                format!("listener {arn} not found"),
            ),
        }
    }

    pub(super) fn modify_listener_attributes(
        &mut self,
        arn: &str,
        attributes: &BTreeMap<String, String>,
    ) -> CloudResult<()> {
        match self.listeners.get_mut(arn) {
            Some(listener) => {
                listener.attributes.extend(attributes.clone());
                Ok(())
            }
            None => error(
                ErrorKind::NotFound,
                "ModifyListenerAttributes",
                format!("listener {arn} not found"),
            ),
        }
    }

    pub(super) fn modify_listener(&mut self, arn: &str, input: &ListenerInput) -> CloudResult<()> {
        self.check_forward_targets("ModifyListener", &input.default_action)?;
        match self.listeners.get_mut(arn) {
            Some(listener) => {
                let observed = &mut listener.observed;
                observed.port = input.port;
                observed.protocol = input.protocol;
                observed.default_action = input.default_action.clone();
                observed.default_authentication = input
                    .default_authentication
                    .as_ref()
                    .map(RuleAction::as_reported);
                // ModifyListener sets the default certificate; listener certificates stay.
                match (
                    observed.certificates.first_mut(),
                    input.certificates.first(),
                ) {
                    (Some(current), Some(default)) => *current = default.clone(),
                    (None, Some(default)) => observed.certificates.push(default.clone()),
                    (_, None) => observed.certificates.clear(),
                }
                observed.ssl_policy = input.ssl_policy.clone();
                observed.alpn_policy = input.alpn_policy.clone();
                if input.mutual_authentication.is_some() {
                    observed.mutual_authentication = input.mutual_authentication.clone();
                }
                Ok(())
            }
            None => error(
                ErrorKind::NotFound,
                "ModifyListener",
                format!("listener {arn} not found"),
            ),
        }
    }

    pub(super) fn delete_listener(&mut self, arn: &str) -> CloudResult<()> {
        match self.listeners.remove(arn) {
            Some(_) => {
                self.rules.retain(|_, r| r.observed.listener_arn != arn);
                Ok(())
            }
            None => error(
                ErrorKind::NotFound,
                "DeleteListener",
                format!("listener {arn} not found"),
            ),
        }
    }

    pub(super) fn describe_listener_certificates(&mut self, arn: &str) -> CloudResult<Vec<String>> {
        match self.listeners.get(arn) {
            Some(listener) => Ok(listener
                .observed
                .certificates
                .iter()
                .skip(1)
                .cloned()
                .collect()),
            None => error(
                ErrorKind::NotFound,
                "DescribeListenerCertificates",
                format!("listener {arn} not found"),
            ),
        }
    }

    pub(super) fn add_listener_certificates(
        &mut self,
        arn: &str,
        certificates: &[String],
    ) -> CloudResult<()> {
        match self.listeners.get_mut(arn) {
            Some(listener) => {
                for certificate in certificates {
                    if !listener.observed.certificates.contains(certificate) {
                        listener.observed.certificates.push(certificate.clone());
                    }
                }
                Ok(())
            }
            None => error(
                ErrorKind::NotFound,
                "AddListenerCertificates",
                format!("listener {arn} not found"),
            ),
        }
    }

    pub(super) fn remove_listener_certificates(
        &mut self,
        arn: &str,
        certificates: &[String],
    ) -> CloudResult<()> {
        match self.listeners.get_mut(arn) {
            Some(listener) => {
                let default = listener.observed.certificates.first().cloned();
                listener
                    .observed
                    .certificates
                    .retain(|c| Some(c) == default.as_ref() || !certificates.contains(c));
                Ok(())
            }
            None => error(
                ErrorKind::NotFound,
                "RemoveListenerCertificates",
                format!("listener {arn} not found"),
            ),
        }
    }

    fn target_group_kind(&self, arn: &str, operation: &str) -> CloudResult<TargetType> {
        match self.target_groups.get(arn) {
            Some(group) => Ok(group.observed.target_type),
            None => error(
                ErrorKind::NotFound,
                operation,
                format!("target group {arn} not found"),
            ),
        }
    }

    pub(super) fn register_targets(&mut self, arn: &str, targets: &[Target]) -> CloudResult<()> {
        let kind = self.target_group_kind(arn, "RegisterTargets")?;
        for target in targets {
            let valid = match kind {
                TargetType::Instance => target.id.starts_with("i-"),
                TargetType::Ip => target.id.parse::<std::net::IpAddr>().is_ok(),
                TargetType::Alb => {
                    target.id.starts_with("arn:") && target.id.contains(":loadbalancer/app/")
                }
            };
            if !valid || target.port <= 0 {
                return error(
                    ErrorKind::Invalid,
                    "RegisterTargets",
                    format!(
                        "target {}:{} does not fit a {} target group",
                        target.id,
                        target.port,
                        kind.as_str()
                    ),
                );
            }
        }
        if kind == TargetType::Alb {
            for target in targets {
                // An ALB is registered on a port it listens on.
                let listens = self.listeners.values().any(|l| {
                    l.observed.load_balancer_arn == target.id && l.observed.port == target.port
                });
                if !listens {
                    return error(
                        ErrorKind::Invalid,
                        "RegisterTargets",
                        format!("{} has no listener on port {}", target.id, target.port),
                    );
                }
            }
        }
        let registered = self.targets.entry(arn.to_string()).or_default();
        for target in targets {
            registered
                .entry(target.clone())
                .or_insert(TargetState::Initial);
        }
        Ok(())
    }

    pub(super) fn deregister_targets(&mut self, arn: &str, targets: &[Target]) -> CloudResult<()> {
        self.target_group_kind(arn, "DeregisterTargets")?;
        if let Some(registered) = self.targets.get_mut(arn) {
            for target in targets {
                registered.remove(target);
            }
        }
        Ok(())
    }

    pub(super) fn describe_target_health(&mut self, arn: &str) -> CloudResult<Vec<TargetHealth>> {
        self.target_group_kind(arn, "DescribeTargetHealth")?;
        Ok(self
            .targets
            .get(arn)
            .map(|registered| {
                registered
                    .iter()
                    .map(|(target, state)| TargetHealth::new(target.clone(), *state))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// A listener may only forward to target groups that exist.
    fn check_forward_targets(&self, operation: &str, action: &RuleAction) -> CloudResult<()> {
        let target_groups = match action {
            RuleAction::Forward { target_groups, .. } => target_groups.as_slice(),
            _ => &[],
        };
        match target_groups
            .iter()
            .find(|(arn, _)| !self.target_groups.contains_key(arn))
        {
            Some((missing, _)) => error(
                ErrorKind::NotFound,
                operation,
                format!("target group {missing} not found"),
            ),
            None => Ok(()),
        }
    }
}
