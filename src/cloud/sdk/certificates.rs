//! ACM reads for certificate discovery: issued certificates of every key algorithm, and the names
//! one certificate covers.

use super::classify;
use crate::cloud::CloudResult;
use crate::facts::CertificateSummary;
use aws_sdk_acm::types::{CertificateStatus, Filters, KeyAlgorithm};
use aws_sdk_acm::Client;

/// Every issued certificate (all pages); ListCertificates alone returns only RSA-2048 ones unless
/// asked for every key algorithm.
pub(super) async fn list(client: &Client) -> CloudResult<Vec<CertificateSummary>> {
    let filters = Filters::builder()
        .set_key_types(Some(
            KeyAlgorithm::values()
                .iter()
                .map(|v| KeyAlgorithm::from(*v))
                .collect(),
        ))
        .build();
    let mut certificates = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .list_certificates()
            .certificate_statuses(CertificateStatus::Issued)
            .includes(filters.clone())
            .set_next_token(token.take())
            .send()
            .await
            .map_err(classify)?;
        for summary in page.certificate_summary_list() {
            certificates.push(CertificateSummary {
                certificate_arn: summary.certificate_arn().unwrap_or_default().to_string(),
                domain_name: summary.domain_name().unwrap_or_default().to_string(),
                subject_alternative_name_summaries: summary
                    .subject_alternative_name_summaries()
                    .to_vec(),
                has_additional_subject_alternative_names: summary
                    .has_additional_subject_alternative_names()
                    .unwrap_or(false),
                status: summary
                    .status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                certificate_authority_arn: None,
            });
        }
        match page.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_string()),
            _ => return Ok(certificates),
        }
    }
}

pub(super) async fn describe(
    client: &Client,
    arn: &str,
) -> CloudResult<(Vec<String>, Option<String>)> {
    let output = client
        .describe_certificate()
        .certificate_arn(arn)
        .send()
        .await
        .map_err(classify)?;
    let Some(certificate) = output.certificate() else {
        return Ok((Vec::new(), None));
    };
    let names = certificate.subject_alternative_names().to_vec();
    let names = if names.is_empty() {
        certificate
            .domain_name()
            .map(str::to_string)
            .into_iter()
            .collect()
    } else {
        names
    };
    Ok((
        names,
        certificate.certificate_authority_arn().map(str::to_string),
    ))
}
