//! Certificates the controller requests (gate `EnableCertificateManagement`): found by their tags
//! (ACM has no tag filter, so every certificate's tags are read), requested with DNS validation
//! (or from a private CA), deleted; and their validation records written into Route 53.

use super::{classify, SdkCloud, ACM, ROUTE53};
use crate::cloud::{
    CertificateRequest, CloudError, CloudResult, ErrorKind, ObservedCertificate, ValidationRecord,
};
use crate::model::Tags;
use aws_sdk_acm::types::{Tag, ValidationMethod};

fn unbuilt(error: impl std::fmt::Display) -> CloudError {
    CloudError::new(ErrorKind::Invalid, "", error.to_string())
}

/// Every certificate carrying all of `wanted`, described.
pub(super) async fn find(cloud: &SdkCloud, wanted: &Tags) -> CloudResult<Vec<ObservedCertificate>> {
    let mut arns = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let call = cloud.begin(ACM, "ListCertificates", false).await;
        let page = cloud
            .acm
            .list_certificates()
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| call.failed(classify(e)))?;
        arns.extend(
            page.certificate_summary_list()
                .iter()
                .filter_map(|s| s.certificate_arn().map(str::to_string)),
        );
        match page.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_string()),
            _ => break,
        }
    }
    let mut found = Vec::new();
    for arn in arns {
        let call = cloud.begin(ACM, "ListTagsForCertificate", false).await;
        let tags: Tags = cloud
            .acm
            .list_tags_for_certificate()
            .certificate_arn(&arn)
            .send()
            .await
            .map_err(|e| call.failed(classify(e)))?
            .tags()
            .iter()
            .map(|t| {
                (
                    t.key().to_string(),
                    t.value().unwrap_or_default().to_string(),
                )
            })
            .collect();
        if !wanted.iter().all(|(k, v)| tags.get(k) == Some(v)) {
            continue;
        }
        let call = cloud.begin(ACM, "DescribeCertificate", false).await;
        let described = cloud
            .acm
            .describe_certificate()
            .certificate_arn(&arn)
            .send()
            .await
            .map_err(|e| call.failed(classify(e)))?;
        let Some(detail) = described.certificate() else {
            continue;
        };
        found.push(ObservedCertificate {
            arn,
            tags,
            status: detail
                .status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            domain_name: detail.domain_name().unwrap_or_default().to_string(),
            subject_alternative_names: detail.subject_alternative_names().to_vec(),
            certificate_authority_arn: detail.certificate_authority_arn().map(str::to_string),
            requested_at: detail
                .created_at()
                .and_then(|at| std::time::SystemTime::try_from(*at).ok()),
            validation_records: detail
                .domain_validation_options()
                .iter()
                .filter_map(|option| option.resource_record())
                .map(|record| ValidationRecord {
                    name: record.name().to_string(),
                    record_type: record.r#type().as_str().to_string(),
                    value: record.value().to_string(),
                })
                .collect(),
        });
    }
    Ok(found)
}

pub(super) async fn request(
    client: &aws_sdk_acm::Client,
    request: &CertificateRequest,
) -> CloudResult<String> {
    let tags = request
        .tags
        .iter()
        .map(|(key, value)| Tag::builder().key(key).value(value).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(unbuilt)?;
    let mut call = client
        .request_certificate()
        .domain_name(&request.domain_name)
        .set_subject_alternative_names(Some(request.subject_alternative_names.clone()))
        .set_certificate_authority_arn(request.certificate_authority_arn.clone())
        .set_tags(Some(tags));
    if request.certificate_authority_arn.is_none() {
        call = call.validation_method(ValidationMethod::Dns);
    }
    let output = call.send().await.map_err(classify)?;
    Ok(output.certificate_arn().unwrap_or_default().to_string())
}

pub(super) async fn delete(client: &aws_sdk_acm::Client, arn: &str) -> CloudResult<()> {
    client
        .delete_certificate()
        .certificate_arn(arn)
        .send()
        .await
        .map_err(classify)?;
    Ok(())
}

/// Upserts each record into the hosted zone whose name is the longest suffix of the record's.
pub(super) async fn write_records(
    cloud: &SdkCloud,
    records: &[ValidationRecord],
) -> CloudResult<()> {
    use aws_sdk_route53::types::{
        Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
    };
    let mut zones: Vec<(String, String)> = Vec::new();
    let mut marker: Option<String> = None;
    let listing = loop {
        let call = cloud.begin(ROUTE53, "ListHostedZones", false).await;
        let page = cloud
            .route53
            .list_hosted_zones()
            .set_marker(marker.take())
            .send()
            .await
            .map_err(|e| call.failed(classify(e)))?;
        zones.extend(page.hosted_zones().iter().map(|zone| {
            (
                zone.id().to_string(),
                zone.name().trim_end_matches('.').to_string(),
            )
        }));
        match page.next_marker() {
            Some(next) if page.is_truncated() => marker = Some(next.to_string()),
            _ => break call,
        }
    };
    for record in records {
        let name = record.name.trim_end_matches('.');
        let zone = zones
            .iter()
            .filter(|(_, zone)| name == zone || name.ends_with(&format!(".{zone}")))
            .max_by_key(|(_, zone)| zone.len())
            .ok_or_else(|| {
                listing.failed(CloudError::new(
                    ErrorKind::NotFound,
                    "",
                    format!("no Route 53 hosted zone holds {name}"),
                ))
            })?;
        let call = cloud.begin(ROUTE53, "ChangeResourceRecordSets", true).await;
        let value = ResourceRecord::builder()
            .value(&record.value)
            .build()
            .map_err(|e| call.failed(unbuilt(e)))?;
        let set = ResourceRecordSet::builder()
            .name(&record.name)
            .r#type(RrType::from(record.record_type.as_str()))
            .ttl(300)
            .resource_records(value)
            .build()
            .map_err(|e| call.failed(unbuilt(e)))?;
        let change = Change::builder()
            .action(ChangeAction::Upsert)
            .resource_record_set(set)
            .build()
            .map_err(|e| call.failed(unbuilt(e)))?;
        let batch = ChangeBatch::builder()
            .changes(change)
            .build()
            .map_err(|e| call.failed(unbuilt(e)))?;
        let call = cloud.begin(ROUTE53, "ChangeResourceRecordSets", true).await;
        cloud
            .route53
            .change_resource_record_sets()
            .hosted_zone_id(&zone.0)
            .change_batch(batch)
            .send()
            .await
            .map_err(|e| call.failed(classify(e)))?;
    }
    Ok(())
}
