//! The simulator's tagging API, ACM, Route 53, WAF and Shield parts of the port.

use super::*;

impl ResourceTagging for Simulator {
    async fn find_tagged(&self, tags: &Tags) -> CloudResult<Vec<TaggedResource>> {
        self.begin("GetResources", false)?.find_tagged(tags)
    }
}

impl CertificateManager for Simulator {
    async fn list_certificates(&self) -> CloudResult<Vec<crate::facts::CertificateSummary>> {
        Ok(self
            .begin("ListCertificates", false)?
            .certificate_summaries())
    }

    async fn find_certificates(&self, tags: &Tags) -> CloudResult<Vec<ObservedCertificate>> {
        let state = self.begin("ListCertificates", false)?;
        Ok(state
            .requested_certificates
            .values()
            .filter(|c| has_all_tags(&c.observed.tags, tags))
            .map(|c| c.observed.clone())
            .collect())
    }

    async fn request_certificate(&self, request: &CertificateRequest) -> CloudResult<String> {
        Ok(self
            .begin("RequestCertificate", true)?
            .request_certificate(request))
    }

    async fn delete_certificate(&self, arn: &str) -> CloudResult<()> {
        self.write("DeleteCertificate", |state| state.delete_certificate(arn))
    }

    async fn describe_certificate(&self, arn: &str) -> CloudResult<(Vec<String>, Option<String>)> {
        let state = self.begin("DescribeCertificate", false)?;
        Ok((state.certificate_domains(arn)?, None))
    }
}

impl Dns for Simulator {
    async fn write_validation_records(&self, records: &[ValidationRecord]) -> CloudResult<()> {
        self.write("ChangeResourceRecordSets", |state| {
            state.write_validation_records(records)
        })
    }
}

impl WebAcls for Simulator {
    async fn classic_web_acl_of(&self, resource_arn: &str) -> CloudResult<Option<String>> {
        let state = self.begin("GetWebACLForResource", false)?;
        Ok(state.classic_web_acls.get(resource_arn).cloned())
    }

    async fn associate_classic_web_acl(
        &self,
        web_acl_id: &str,
        resource_arn: &str,
    ) -> CloudResult<()> {
        self.write("AssociateWebACL", |state| {
            state.associate_classic_web_acl(web_acl_id, resource_arn)
        })
    }

    async fn disassociate_classic_web_acl(&self, resource_arn: &str) -> CloudResult<()> {
        let mut state = self.begin("DisassociateWebACL", true)?;
        state.classic_web_acls.remove(resource_arn);
        Ok(())
    }

    async fn list_web_acls(&self) -> CloudResult<Vec<crate::facts::WebAcl>> {
        Ok(self.begin("ListWebACLs", false)?.web_acls.clone())
    }

    async fn web_acl_of(&self, resource_arn: &str) -> CloudResult<Option<String>> {
        let state = self.begin("GetWebACLForResource", false)?;
        Ok(state.web_acl_associations.get(resource_arn).cloned())
    }

    async fn associate_web_acl(&self, web_acl_arn: &str, resource_arn: &str) -> CloudResult<()> {
        self.write("AssociateWebACL", |state| {
            state.associate_web_acl(web_acl_arn, resource_arn)
        })
    }

    async fn disassociate_web_acl(&self, resource_arn: &str) -> CloudResult<()> {
        let mut state = self.begin("DisassociateWebACL", true)?;
        state.web_acl_associations.remove(resource_arn);
        Ok(())
    }
}

impl ShieldAdvanced for Simulator {
    async fn shield_subscription_active(&self) -> CloudResult<bool> {
        Ok(self.begin("GetSubscriptionState", false)?.shield_subscribed)
    }

    async fn describe_protection(
        &self,
        resource_arn: &str,
    ) -> CloudResult<Option<ShieldProtection>> {
        let state = self.begin("DescribeProtection", false)?;
        Ok(state.protections.get(resource_arn).cloned())
    }

    async fn create_protection(&self, name: &str, resource_arn: &str) -> CloudResult<()> {
        self.write("CreateProtection", |state| {
            state.create_protection(name, resource_arn)
        })
    }

    async fn delete_protection(&self, id: &str) -> CloudResult<()> {
        self.write("DeleteProtection", |state| state.delete_protection(id))
    }
}
