//! Which certificates a member's HTTPS listeners carry (upstream's §4.5.1 and §4.6): its own
//! (params `certificateArn`, else the `certificate-arn` annotation), else those ACM holds for its
//! hosts. Pure: the certificates are facts the discover step read.
//!
//! Discovery takes the union of the hosts of `spec.rules[].host` and `spec.tls[].hosts` and, per
//! host, every issued certificate with a matching name: equal, or a `*.` wildcard with the same
//! number of labels and the same labels after the first (case-sensitive, as upstream). A host
//! no certificate covers is the member's problem. The result is sorted by ARN, so the smallest
//! ARN is the listener's default certificate. With `--allowed-certificate-authority-arns`, only
//! certificates of those private CAs are candidates.

use super::listen::listen_ports;
use super::member::{explicit_certificates, member_hosts, Member};
use crate::facts::CertificateSummary;
use crate::model::Protocol;
use std::collections::BTreeSet;

fn has_https_port(member: &Member) -> bool {
    listen_ports(member).is_ok_and(|ports| ports.values().any(|p| *p == Protocol::Https))
}

/// Some member has an HTTPS port and no certificate of its own: ACM must be read.
pub fn needs_certificate_discovery(members: &[Member]) -> bool {
    members
        .iter()
        .any(|m| has_https_port(m) && explicit_certificates(m).is_none())
}

/// `domain` (a certificate name) covers `host`.
pub fn domain_covers(domain: &str, host: &str) -> bool {
    if domain == host {
        return true;
    }
    let Some(rest) = domain.strip_prefix("*.") else {
        return false;
    };
    let host_labels: Vec<&str> = host.split('.').collect();
    let domain_labels = rest.split('.').count() + 1;
    host_labels.len() == domain_labels && host_labels[1..].join(".") == rest
}

/// The certificates of a member's HTTPS listeners: its own, else the one the controller
/// requested for it (once issued), else those discovered for its hosts.
pub fn member_certificates(
    member: &Member,
    facts: &crate::facts::CloudFacts,
    config: &crate::config::ControllerConfig,
) -> Result<Vec<String>, String> {
    if let Some(own) = explicit_certificates(member) {
        return Ok(own);
    }
    let requested = super::certificate_requests::requested_certificate(member, config)?;
    if !has_https_port(member) {
        return Ok(Vec::new());
    }
    if let Some((resource_id, spec)) = requested {
        return match facts
            .owned_certificates
            .iter()
            .find(|c| c.resource_id == resource_id)
        {
            Some(owned) if owned.issued => Ok(vec![owned.arn.clone()]),
            Some(owned) if owned.problem.is_some() => Err(format!(
                "the ACM certificate requested for {} cannot be validated: {}",
                spec.domain_name,
                owned.problem.as_deref().unwrap_or_default()
            )),
            Some(_) => Err(format!(
                "the ACM certificate requested for {} is not issued yet (validation pending); the Ingress joins once it is",
                spec.domain_name
            )),
            None => Err(format!(
                "an ACM certificate for {} is being requested; the Ingress joins once it is issued",
                spec.domain_name
            )),
        };
    }
    // Certificates this controller requested for the group are not discovered (upstream).
    let candidates: Vec<CertificateSummary> = facts
        .certificate_summary_list
        .iter()
        .filter(|c| {
            !facts
                .owned_certificates
                .iter()
                .any(|owned| owned.arn == c.certificate_arn)
        })
        .cloned()
        .collect();
    discovered_certificates(member, &candidates, &config.allowed_certificate_authorities)
}

/// Every issued certificate covering each of the member's hosts.
fn discovered_certificates(
    member: &Member,
    certificates: &[CertificateSummary],
    allowed_authorities: &BTreeSet<String>,
) -> Result<Vec<String>, String> {
    let mut found = BTreeSet::new();
    for host in member_hosts(member) {
        let matching: Vec<&str> = certificates
            .iter()
            .filter(|c| c.status.is_empty() || c.status == "ISSUED")
            // With allowed CAs, any other certificate covers nothing (upstream).
            .filter(|c| {
                allowed_authorities.is_empty()
                    || c.certificate_authority_arn
                        .as_ref()
                        .is_some_and(|ca| allowed_authorities.contains(ca))
            })
            .filter(|c| c.domains().iter().any(|d| domain_covers(d, &host)))
            .map(|c| c.certificate_arn.as_str())
            .collect();
        if matching.is_empty() {
            return Err(format!(
                "no issued ACM certificate covers host {host}: import or request one, or name one with certificate-arn"
            ));
        }
        found.extend(matching.into_iter().map(str::to_string));
    }
    Ok(found.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_authorities_leave_other_certificates_out() {
        let member = Member::new(
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": "a", "namespace": "n", "annotations": {
                    "alb.ingress.kubernetes.io/listen-ports": "[{\"HTTPS\": 443}]"}},
                "spec": {"rules": [{"host": "a.example.com"}]}
            }))
            .unwrap(),
            None,
            0,
        );
        let certificate = |arn: &str, authority: Option<&str>| CertificateSummary {
            certificate_arn: arn.into(),
            domain_name: "*.example.com".into(),
            status: "ISSUED".into(),
            certificate_authority_arn: authority.map(str::to_string),
            ..CertificateSummary::default()
        };
        let certificates = [
            certificate("arn:public", None),
            certificate("arn:private-ok", Some("arn:ca:ours")),
            certificate("arn:private-other", Some("arn:ca:theirs")),
        ];
        let any = BTreeSet::new();
        assert_eq!(
            discovered_certificates(&member, &certificates, &any).unwrap(),
            ["arn:private-ok", "arn:private-other", "arn:public"]
        );
        let ours = BTreeSet::from(["arn:ca:ours".to_string()]);
        assert_eq!(
            discovered_certificates(&member, &certificates, &ours).unwrap(),
            ["arn:private-ok"]
        );
        let none = BTreeSet::from(["arn:ca:nobody".to_string()]);
        assert!(discovered_certificates(&member, &certificates, &none).is_err());
    }

    #[test]
    fn wildcards_cover_one_label_only() {
        assert!(domain_covers("*.example.com", "a.example.com"));
        assert!(domain_covers("*.example.com", "*.example.com"));
        assert!(!domain_covers("*.example.com", "a.b.example.com"));
        assert!(!domain_covers("*.example.com", "example.com"));
        assert!(domain_covers("example.com", "example.com"));
        assert!(!domain_covers("Example.com", "example.com"));
    }
}
