//! Security groups, tags and the tag search in the simulator.

use super::*;

impl State {
    pub(super) fn find_tagged(&mut self, tags: &Tags) -> CloudResult<Vec<TaggedResource>> {
        let load_balancers = self
            .load_balancers
            .iter()
            .map(|(arn, lb)| (arn, &lb.tags, TaggedKind::LoadBalancer));
        let target_groups = self
            .target_groups
            .iter()
            .map(|(arn, tg)| (arn, &tg.tags, TaggedKind::TargetGroup));
        Ok(load_balancers
            .chain(target_groups)
            .filter(|(arn, resource_tags, _)| {
                has_all_tags(resource_tags, tags) && !self.hidden_from_tag_lookups(arn)
            })
            .map(|(arn, resource_tags, kind)| TaggedResource {
                arn: arn.clone(),
                kind,
                tags: resource_tags.clone(),
            })
            .collect())
    }

    pub(super) fn describe_tags(&mut self, arns: &[String]) -> CloudResult<BTreeMap<String, Tags>> {
        let mut found = BTreeMap::new();
        for arn in arns {
            match self.find_tags_mut(arn) {
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

    pub(super) fn describe_security_groups(
        &mut self,
        group_ids: &[String],
    ) -> CloudResult<Vec<ObservedSecurityGroup>> {
        group_ids
            .iter()
            .map(|id| match self.security_groups.get(id) {
                Some(group) => Ok(Self::observed_group(group)),
                None => error(
                    ErrorKind::NotFound,
                    "DescribeSecurityGroups",
                    format!("security group {id} not found"),
                ),
            })
            .collect()
    }

    pub(super) fn find_security_groups(
        &mut self,
        vpc_id: &str,
        tags: &Tags,
    ) -> CloudResult<Vec<ObservedSecurityGroup>> {
        Ok(self
            .security_groups
            .values()
            .filter(|g| {
                g.vpc_id == vpc_id
                    && has_all_tags(&g.observed.tags, tags)
                    && !self.hidden_from_tag_lookups(&g.observed.id)
            })
            .map(Self::observed_group)
            .collect())
    }

    fn observed_group(group: &StoredSecurityGroup) -> ObservedSecurityGroup {
        ObservedSecurityGroup {
            permissions: Self::permissions_of(group),
            ..group.observed.clone()
        }
    }

    pub(super) fn set_security_groups(
        &mut self,
        arn: &str,
        group_ids: &[String],
    ) -> CloudResult<()> {
        too_many_groups("SetSecurityGroups", group_ids)?;
        if let Some(missing) = group_ids
            .iter()
            .find(|g| !self.security_groups.contains_key(*g))
        {
            return error(
                ErrorKind::Invalid,
                "SetSecurityGroups",
                format!("security group {missing} does not exist"),
            );
        }
        match self.load_balancers.get_mut(arn) {
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

    pub(super) fn add_tags(&mut self, arns: &[String], tags: &Tags) -> CloudResult<()> {
        for arn in arns {
            match self.find_tags_mut(arn) {
                Some(existing) => existing.extend(tags.clone()),
                None => return error(ErrorKind::NotFound, "AddTags", format!("{arn} not found")),
            }
        }
        Ok(())
    }

    pub(super) fn remove_tags(&mut self, arns: &[String], keys: &[String]) -> CloudResult<()> {
        for arn in arns {
            match self.find_tags_mut(arn) {
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

    pub(super) fn create_security_group(
        &mut self,
        input: &SecurityGroupInput,
    ) -> CloudResult<String> {
        if self
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
        let id = format!("sg-0{}", self.next_id());
        let observed = ObservedSecurityGroup {
            id: id.clone(),
            name: input.name.clone(),
            description: input.description.clone(),
            ingress: Vec::new(),
            permissions: Vec::new(),
            tags: input.tags.clone(),
        };
        self.security_groups.insert(
            id.clone(),
            StoredSecurityGroup {
                observed,
                vpc_id: input.vpc_id.clone(),
                permissions: Vec::new(),
            },
        );
        Ok(id)
    }

    pub(super) fn authorize_ingress(
        &mut self,
        group_id: &str,
        rules: &[IngressRule],
    ) -> CloudResult<()> {
        let quota = self.rule_quota();
        let Some(group) = self.security_groups.get_mut(group_id) else {
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
        if Self::rule_count(group) + rules.len() > quota {
            return error(
                ErrorKind::QuotaExceeded,
                "AuthorizeSecurityGroupIngress",
                format!(
                    "RulesPerSecurityGroupLimitExceeded: {group_id} holds at most {quota} rules"
                ),
            );
        }
        group.observed.ingress.extend(rules.iter().cloned());
        group.observed.ingress.sort();
        Ok(())
    }

    pub(super) fn revoke_ingress(
        &mut self,
        group_id: &str,
        rules: &[IngressRule],
    ) -> CloudResult<()> {
        match self.security_groups.get_mut(group_id) {
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

    pub(super) fn delete_security_group(&mut self, group_id: &str) -> CloudResult<()> {
        if !self.security_groups.contains_key(group_id) {
            return error(
                ErrorKind::NotFound,
                "DeleteSecurityGroup",
                format!("security group {group_id} not found"),
            );
        }
        if self
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
        if let Some(reason) = self.group_dependents(group_id) {
            return error(ErrorKind::InUse, "DeleteSecurityGroup", reason);
        }
        self.security_groups.remove(group_id);
        Ok(())
    }
}

/// AWS's limit of five security groups on one load balancer.
pub(super) fn too_many_groups(operation: &str, group_ids: &[String]) -> CloudResult<()> {
    if group_ids.len() > crate::plan::security_groups::SECURITY_GROUPS_PER_LOAD_BALANCER {
        return error(
            ErrorKind::QuotaExceeded,
            operation,
            format!(
                "{} security groups: a load balancer holds at most 5",
                group_ids.len()
            ),
        );
    }
    Ok(())
}
