//! Certificates the controller requests in ACM for an Ingress (upstream's §4.15, gate
//! `EnableCertificateManagement`): an Ingress with `create-acm-cert: "true"` and no
//! `certificate-arn` annotation gets one certificate for its hosts (those certificate discovery
//! reads): the first host (sorted) as domain name, every host as a subject alternative name,
//! `PRIVATE` from `acm-pca-arn` (else `--default-pca-arn`), else `AMAZON_ISSUED` validated by DNS.
//! Its resource id is `<type>/<domain>-<first 8 of sha256("<ns>/<name>")>`, `*` spelt
//! `wildcard`. Pure: whether the certificate exists and is issued is a fact read with the stack.
//!
//! Until it is issued the Ingress is held (its listeners cannot use it yet); the rest of its group
//! reconciles. It does not request, validate or delete anything (the deploy step does).

use super::group::GroupId;
use super::input::group_identity_tags;
use super::member::{annotations, member_hosts, Member};
use super::settings::member_settings;
use crate::config::ControllerConfig;
use crate::model::CertificateSpec;
use crate::naming::hash;
use std::collections::BTreeMap;

/// The certificate `member` asks the controller to request, with its resource id (tags are the
/// build's); `None` when it asks for none. An Ingress without hosts cannot have one.
pub fn requested_certificate(
    member: &Member,
    config: &ControllerConfig,
) -> Result<Option<(String, CertificateSpec)>, String> {
    let read = annotations(member);
    let asks = read
        .boolean("create-acm-cert")
        .map_err(|e| e.to_string())?
        .unwrap_or(false);
    if !config.feature_gates.certificate_management || !asks || read.contains("certificate-arn") {
        return Ok(None);
    }
    let hosts: Vec<String> = member_hosts(member).into_iter().collect();
    let Some(domain_name) = hosts.first().cloned() else {
        return Err(
            "create-acm-cert needs hosts (spec.rules[].host or spec.tls[].hosts) to name the certificate"
                .into(),
        );
    };
    let certificate_authority_arn = read
        .string("acm-pca-arn")
        .filter(|arn| !arn.is_empty())
        .map(str::to_string)
        .or_else(|| config.default_pca_arn.clone());
    let kind = if certificate_authority_arn.is_some() {
        "private"
    } else {
        "amazon_issued"
    };
    let owner = format!(
        "{}/{}",
        member
            .ingress
            .metadata
            .namespace
            .as_deref()
            .unwrap_or_default(),
        member.ingress.metadata.name.as_deref().unwrap_or_default()
    );
    let resource_id = format!(
        "{kind}/{}-{}",
        domain_name.replace('*', "wildcard"),
        &hash(&[&owner])[..8]
    );
    Ok(Some((
        resource_id,
        CertificateSpec {
            domain_name,
            subject_alternative_names: hosts,
            certificate_authority_arn,
            tags: Default::default(),
        },
    )))
}

/// The certificates the members of `group` ask the controller to request, by resource id (a
/// held member's too: it waits for its certificate), each tagged with that Ingress's tags under
/// `--default-tags` and the tracking tags.
pub fn group_certificate_requests(
    group: &GroupId,
    members: &[Member],
    config: &ControllerConfig,
) -> BTreeMap<String, CertificateSpec> {
    members
        .iter()
        .filter_map(|member| {
            let (id, mut spec) = requested_certificate(member, config).ok()??;
            let mut tags = member_settings(member).map(|s| s.tags).unwrap_or_default();
            tags.extend(config.default_tags.clone());
            tags.extend(group_identity_tags(config, group, &id));
            spec.tags = tags;
            Some((id, spec))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(annotations: serde_json::Value, hosts: &[&str]) -> Member {
        let rules: Vec<serde_json::Value> = hosts
            .iter()
            .map(|h| serde_json::json!({"host": h}))
            .collect();
        Member::new(
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": "web", "namespace": "shop", "annotations": annotations},
                "spec": {"rules": rules}
            }))
            .unwrap(),
            None,
            0,
        )
    }

    #[test]
    fn a_request_is_named_after_its_first_host_and_owner_and_needs_the_gate() {
        let mut config = ControllerConfig::new("prod", "vpc-1");
        let asking = member(
            serde_json::json!({"alb.ingress.kubernetes.io/create-acm-cert": "true"}),
            &["www.example.com", "*.example.com"],
        );
        assert_eq!(
            requested_certificate(&asking, &config),
            Ok(None),
            "gate off"
        );
        config.feature_gates.certificate_management = true;
        let (id, spec) = requested_certificate(&asking, &config).unwrap().unwrap();
        // sha256("shop/web") starts 97375646 (computed independently).
        assert_eq!(id, "amazon_issued/wildcard.example.com-97375646");
        assert_eq!(spec.domain_name, "*.example.com");
        assert_eq!(
            spec.subject_alternative_names,
            ["*.example.com", "www.example.com"]
        );
        assert_eq!(spec.certificate_authority_arn, None);

        config.default_pca_arn =
            Some("arn:aws:acm-pca:us-west-2:1:certificate-authority/ca".into());
        let (id, spec) = requested_certificate(&asking, &config).unwrap().unwrap();
        assert!(id.starts_with("private/"), "{id}");
        assert!(spec.certificate_authority_arn.is_some());

        let own = member(
            serde_json::json!({"alb.ingress.kubernetes.io/create-acm-cert": "true",
                               "alb.ingress.kubernetes.io/certificate-arn": "arn:cert"}),
            &["www.example.com"],
        );
        assert_eq!(
            requested_certificate(&own, &config),
            Ok(None),
            "its own certificate wins"
        );
        let hostless = member(
            serde_json::json!({"alb.ingress.kubernetes.io/create-acm-cert": "true"}),
            &[],
        );
        assert!(requested_certificate(&hostless, &config).is_err());
    }
}
