//! Seeding the simulated account (certificates, web ACLs, trust stores) and reading it back for
//! assertions; none of this is part of the Cloud port.

use super::*;

impl Simulator {
    /// Creates an ip-type TCP target group `name` on port 8080 in `vpc-1` (as a user's own tooling
    /// would, with no tags) and returns its ARN.
    pub async fn create_ip_target_group(&self, name: &str) -> CloudResult<String> {
        use crate::cloud::LoadBalancing;
        let input = crate::cloud::TargetGroupInput {
            name: name.into(),
            target_type: TargetType::Ip,
            protocol: crate::model::Protocol::Tcp,
            protocol_version: None,
            target_control_port: None,
            port: 8080,
            ip_address_type: "ipv4".into(),
            vpc_id: "vpc-1".into(),
            health_check: crate::model::HealthCheck::nlb_default(),
            tags: crate::model::Tags::new(),
        };
        Ok(self.create_target_group(&input).await?.arn)
    }

    /// Adds an ELBv2 trust store.
    pub fn add_trust_store(&self, name: &str, arn: &str) {
        self.lock().trust_stores.push(crate::facts::TrustStore {
            name: name.to_string(),
            trust_store_arn: arn.to_string(),
        });
    }

    /// Adds a regional WAFv2 web ACL.
    pub fn add_web_acl(&self, name: &str, arn: &str) {
        self.lock().web_acls.push(crate::facts::WebAcl {
            name: name.to_string(),
            arn: arn.to_string(),
        });
    }

    /// The web ACL associated with the load balancer named `name`.
    pub fn web_acl_of_load_balancer(&self, name: &str) -> Option<String> {
        let state = self.lock();
        let arn = state
            .load_balancers
            .values()
            .find(|lb| lb.observed.name == name)?
            .observed
            .arn
            .clone();
        state.web_acl_associations.get(&arn).cloned()
    }

    /// Adds an issued ACM certificate covering `domains` (the first is its domain name).
    pub fn add_certificate(&self, arn: &str, domains: &[&str]) {
        self.lock().certificates.push((
            arn.to_string(),
            domains.iter().map(|d| d.to_string()).collect(),
        ));
    }

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

    /// The registered targets of a target group (by name), for assertions.
    pub fn targets_of(&self, target_group_name: &str) -> Vec<Target> {
        let state = self.lock();
        let Some(arn) = state
            .target_groups
            .iter()
            .find(|(_, tg)| tg.observed.name == target_group_name)
            .map(|(arn, _)| arn.clone())
        else {
            return Vec::new();
        };
        state
            .targets
            .get(&arn)
            .map(|targets| targets.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Sets the health AWS would report for every target of a target group (by name).
    pub fn set_target_health(&self, target_group_name: &str, health: TargetState) {
        let mut state = self.lock();
        let arn = state
            .target_groups
            .iter()
            .find(|(_, tg)| tg.observed.name == target_group_name)
            .map(|(arn, _)| arn.clone());
        if let Some(targets) = arn.and_then(|arn| state.targets.get_mut(&arn)) {
            targets.values_mut().for_each(|value| *value = health);
        }
    }

    /// The certificates (default first) of the listeners on `port`.
    pub fn listener_certificates(&self, port: i32) -> Vec<String> {
        self.lock()
            .listeners
            .values()
            .filter(|l| l.observed.port == port)
            .flat_map(|l| l.observed.certificates.clone())
            .collect()
    }

    /// Every listener rule as (listener port, priority, path-pattern values), in that order.
    pub fn rule_paths(&self) -> Vec<(i32, i32, Vec<String>)> {
        let state = self.lock();
        let mut rules: Vec<(i32, i32, Vec<String>)> = state
            .rules
            .values()
            .map(|rule| {
                let port = state
                    .listeners
                    .get(&rule.observed.listener_arn)
                    .map(|l| l.observed.port)
                    .unwrap_or_default();
                let paths = rule
                    .observed
                    .content
                    .conditions
                    .iter()
                    .filter_map(|c| match c {
                        RuleCondition::PathPattern { values } => Some(values.clone()),
                        _ => None,
                    })
                    .flatten()
                    .collect();
                (port, rule.observed.priority, paths)
            })
            .collect();
        rules.sort();
        rules
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

    /// The id of the security group named `name`.
    pub fn security_group_id(&self, name: &str) -> Option<String> {
        self.lock()
            .security_groups
            .values()
            .find(|g| g.observed.name == name)
            .map(|g| g.observed.id.clone())
    }

    /// The protocol versions of the target groups, by name.
    pub fn target_group_protocol_versions(&self) -> Vec<Option<String>> {
        self.lock()
            .target_groups
            .values()
            .map(|tg| tg.observed.protocol_version.clone())
            .collect()
    }

    /// The attributes of the listener on `port` (of any load balancer).
    pub fn listener_attributes(&self, port: i32) -> Option<BTreeMap<String, String>> {
        self.lock()
            .listeners
            .values()
            .find(|l| l.observed.port == port)
            .map(|l| l.attributes.clone())
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

    /// The tags of every load balancer, by name.
    pub fn load_balancer_tags(&self) -> BTreeMap<String, Tags> {
        self.lock()
            .load_balancers
            .values()
            .map(|lb| (lb.observed.name.clone(), lb.tags.clone()))
            .collect()
    }

    /// The security groups of the load balancer named `name`, in order.
    pub fn load_balancer_security_groups(&self, name: &str) -> Vec<String> {
        self.lock()
            .load_balancers
            .values()
            .find(|lb| lb.observed.name == name)
            .map(|lb| lb.observed.security_groups.clone())
            .unwrap_or_default()
    }

    /// The ARN of the load balancer named `name`.
    pub fn load_balancer_arn(&self, name: &str) -> Option<String> {
        self.lock()
            .load_balancers
            .iter()
            .find(|(_, lb)| lb.observed.name == name)
            .map(|(arn, _)| arn.clone())
    }

    /// The mutual TLS of the listener on `port` (of any load balancer), as AWS reports it.
    pub fn listener_mutual_authentication(
        &self,
        port: i32,
    ) -> Option<crate::cloud::MutualAuthentication> {
        self.lock()
            .listeners
            .values()
            .find(|l| l.observed.port == port)
            .and_then(|l| l.observed.mutual_authentication.clone())
    }
}
