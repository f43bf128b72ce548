//! The simulator's account beyond ELBv2's core: ACM certificates, WAFv2 and WAF Classic
//! associations, Shield Advanced (the subscription and protections) and capacity reservations.

use super::{error, Simulator, State};
use crate::cloud::{CloudResult, ErrorKind, ShieldProtection};

impl State {
    /// Certificates as ListCertificates summarises them: at most two names, flagged when cut.
    pub(super) fn certificate_summaries(&self) -> Vec<crate::facts::CertificateSummary> {
        self.certificates
            .iter()
            .map(|(arn, domains)| crate::facts::CertificateSummary {
                certificate_arn: arn.clone(),
                domain_name: domains.first().cloned().unwrap_or_default(),
                subject_alternative_name_summaries: domains.iter().take(2).cloned().collect(),
                has_additional_subject_alternative_names: domains.len() > 2,
                status: "ISSUED".into(),
                certificate_authority_arn: None,
            })
            .collect()
    }

    pub(super) fn certificate_domains(&self, arn: &str) -> CloudResult<Vec<String>> {
        match self.certificates.iter().find(|(a, _)| a == arn) {
            Some((_, domains)) => Ok(domains.clone()),
            None => error(
                ErrorKind::NotFound,
                "DescribeCertificate",
                format!("certificate {arn} not found"),
            ),
        }
    }

    pub(super) fn associate_web_acl(&mut self, web_acl_arn: &str, arn: &str) -> CloudResult<()> {
        if !self.web_acls.iter().any(|acl| acl.arn == web_acl_arn) {
            return error(
                ErrorKind::NotFound,
                "AssociateWebACL",
                format!("web ACL {web_acl_arn} not found"),
            );
        }
        self.require_load_balancer("AssociateWebACL", arn)?;
        self.web_acl_associations
            .insert(arn.to_string(), web_acl_arn.to_string());
        Ok(())
    }

    fn require_load_balancer(&self, operation: &str, arn: &str) -> CloudResult<()> {
        if self.load_balancers.contains_key(arn) {
            Ok(())
        } else {
            error(
                ErrorKind::NotFound,
                operation,
                format!("load balancer {arn} not found"),
            )
        }
    }

    pub(super) fn associate_classic_web_acl(&mut self, acl: &str, arn: &str) -> CloudResult<()> {
        self.require_load_balancer("AssociateWebACL", arn)?;
        self.classic_web_acls
            .insert(arn.to_string(), acl.to_string());
        Ok(())
    }

    pub(super) fn create_protection(&mut self, name: &str, arn: &str) -> CloudResult<()> {
        self.require_load_balancer("CreateProtection", arn)?;
        if !self.shield_subscribed {
            return error(
                ErrorKind::Invalid,
                "CreateProtection",
                "no Shield Advanced subscription",
            );
        }
        let id = self.next_id();
        self.protections.insert(
            arn.to_string(),
            ShieldProtection {
                id,
                name: name.to_string(),
            },
        );
        Ok(())
    }

    pub(super) fn delete_protection(&mut self, id: &str) -> CloudResult<()> {
        let before = self.protections.len();
        self.protections.retain(|_, p| p.id != id);
        if self.protections.len() == before {
            return error(
                ErrorKind::NotFound,
                "DeleteProtection",
                format!("protection {id} not found"),
            );
        }
        Ok(())
    }

    pub(super) fn modify_capacity(&mut self, arn: &str, units: Option<i32>) -> CloudResult<()> {
        self.require_load_balancer("ModifyCapacityReservation", arn)?;
        match units {
            Some(units) => self.capacity.insert(arn.to_string(), units),
            None => self.capacity.remove(arn),
        };
        Ok(())
    }
}

impl Simulator {
    /// Makes the account subscribed to Shield Advanced (or not).
    pub fn set_shield_subscription(&self, active: bool) {
        self.lock().shield_subscribed = active;
    }

    /// A protection made outside the controller.
    pub fn add_protection(&self, load_balancer_name: &str, protection_name: &str) {
        let mut state = self.lock();
        let Some(arn) = state
            .load_balancers
            .values()
            .find(|lb| lb.observed.name == load_balancer_name)
            .map(|lb| lb.observed.arn.clone())
        else {
            return;
        };
        let id = state.next_id();
        state.protections.insert(
            arn,
            ShieldProtection {
                id,
                name: protection_name.to_string(),
            },
        );
    }

    fn arn_of_load_balancer(&self, name: &str) -> Option<String> {
        self.lock()
            .load_balancers
            .values()
            .find(|lb| lb.observed.name == name)
            .map(|lb| lb.observed.arn.clone())
    }

    /// The name of the Shield protection of the load balancer named `name`.
    pub fn protection_of_load_balancer(&self, name: &str) -> Option<String> {
        let arn = self.arn_of_load_balancer(name)?;
        self.lock().protections.get(&arn).map(|p| p.name.clone())
    }

    /// The WAF Classic web ACL of the load balancer named `name`.
    pub fn classic_web_acl_of_load_balancer(&self, name: &str) -> Option<String> {
        let arn = self.arn_of_load_balancer(name)?;
        self.lock().classic_web_acls.get(&arn).cloned()
    }

    /// The reserved capacity units of the load balancer named `name`.
    pub fn capacity_of_load_balancer(&self, name: &str) -> Option<i32> {
        let arn = self.arn_of_load_balancer(name)?;
        self.lock().capacity.get(&arn).copied()
    }
}
