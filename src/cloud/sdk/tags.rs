//! Finding resources by tag (tagging API, or ELBv2 listing as a fallback) and ELBv2 tag writes.

use super::{classify, tags_of, SdkCloud};
use crate::cloud::throttle::{ELBV2, TAGGING};
use crate::cloud::{CloudError, CloudResult, ErrorKind, TaggedKind, TaggedResource};
use crate::model::Tags;
use aws_sdk_resourcegroupstagging::types::TagFilter;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

const RESOURCE_TYPES: [&str; 2] = [
    "elasticloadbalancing:loadbalancer",
    "elasticloadbalancing:targetgroup",
];
/// DescribeTags takes at most this many ARNs.
const TAG_CHUNK: usize = 20;

fn kind_of(arn: &str) -> Option<TaggedKind> {
    if arn.contains(":loadbalancer/") {
        Some(TaggedKind::LoadBalancer)
    } else if arn.contains(":targetgroup/") {
        Some(TaggedKind::TargetGroup)
    } else {
        None
    }
}

/// The tagging API refused us (its permission is not in upstream's IAM policy).
fn denied(error: &CloudError) -> bool {
    error.kind == ErrorKind::Other && error.message.contains("AccessDenied")
}

fn carries_all(tags: &Tags, wanted: &Tags) -> bool {
    wanted
        .iter()
        .all(|(key, value)| tags.get(key) == Some(value))
}

pub(super) async fn find_tagged(
    cloud: &SdkCloud,
    wanted: &Tags,
) -> CloudResult<Vec<TaggedResource>> {
    if !cloud.tagging_denied.load(Ordering::Relaxed) {
        match find_with_tagging_api(cloud, wanted).await {
            Err(error) if denied(&error) => cloud.tagging_denied.store(true, Ordering::Relaxed),
            other => return other,
        }
    }
    find_by_listing(cloud, wanted).await
}

async fn find_with_tagging_api(
    cloud: &SdkCloud,
    wanted: &Tags,
) -> CloudResult<Vec<TaggedResource>> {
    let filters: Vec<TagFilter> = wanted
        .iter()
        .map(|(key, value)| TagFilter::builder().key(key).values(value).build())
        .collect();
    let mut found = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let call = cloud.begin(TAGGING, "GetResources", false).await;
        let page = cloud
            .tagging
            .get_resources()
            .set_tag_filters(Some(filters.clone()))
            .set_resource_type_filters(Some(RESOURCE_TYPES.iter().map(|t| t.to_string()).collect()))
            .set_pagination_token(token.clone())
            .send()
            .await
            .map_err(|e| call.failed(classify(e)))?;
        for mapping in page.resource_tag_mapping_list() {
            let arn = mapping.resource_arn().unwrap_or_default().to_string();
            let tags: Tags = mapping
                .tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect();
            if let Some(kind) = kind_of(&arn) {
                if carries_all(&tags, wanted) {
                    found.push(TaggedResource { arn, kind, tags });
                }
            }
        }
        token = page
            .pagination_token()
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        if token.is_none() {
            return Ok(found);
        }
    }
}

async fn find_by_listing(cloud: &SdkCloud, wanted: &Tags) -> CloudResult<Vec<TaggedResource>> {
    let mut arns = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let call = cloud.begin(ELBV2, "DescribeLoadBalancers", false).await;
        let page = cloud
            .elbv2
            .describe_load_balancers()
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|e| call.failed(classify(e)))?;
        arns.extend(
            page.load_balancers()
                .iter()
                .filter_map(|lb| lb.load_balancer_arn().map(str::to_string)),
        );
        marker = page.next_marker().map(str::to_string);
        if marker.is_none() {
            break;
        }
    }
    loop {
        let call = cloud.begin(ELBV2, "DescribeTargetGroups", false).await;
        let page = cloud
            .elbv2
            .describe_target_groups()
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|e| call.failed(classify(e)))?;
        arns.extend(
            page.target_groups()
                .iter()
                .filter_map(|tg| tg.target_group_arn().map(str::to_string)),
        );
        marker = page.next_marker().map(str::to_string);
        if marker.is_none() {
            break;
        }
    }
    let tags = describe_tags(cloud, &arns).await?;
    Ok(tags
        .into_iter()
        .filter(|(_, tags)| carries_all(tags, wanted))
        .filter_map(|(arn, tags)| kind_of(&arn).map(|kind| TaggedResource { arn, kind, tags }))
        .collect())
}

pub(super) async fn describe_tags(
    cloud: &SdkCloud,
    arns: &[String],
) -> CloudResult<BTreeMap<String, Tags>> {
    let mut found = BTreeMap::new();
    for chunk in arns.chunks(TAG_CHUNK) {
        let call = cloud.begin(ELBV2, "DescribeTags", false).await;
        let output = cloud
            .elbv2
            .describe_tags()
            .set_resource_arns(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| call.failed(classify(e)))?;
        for description in output.tag_descriptions() {
            let tags: Tags = description
                .tags()
                .iter()
                .map(|t| {
                    (
                        t.key().unwrap_or_default().to_string(),
                        t.value().unwrap_or_default().to_string(),
                    )
                })
                .collect();
            found.insert(
                description.resource_arn().unwrap_or_default().to_string(),
                tags,
            );
        }
    }
    Ok(found)
}

pub(super) async fn add_tags(
    client: &aws_sdk_elasticloadbalancingv2::Client,
    arns: &[String],
    tags: &Tags,
) -> CloudResult<()> {
    client
        .add_tags()
        .set_resource_arns(Some(arns.to_vec()))
        .set_tags(Some(tags_of(tags)))
        .send()
        .await
        .map(|_| ())
        .map_err(classify)
}

pub(super) async fn remove_tags(
    client: &aws_sdk_elasticloadbalancingv2::Client,
    arns: &[String],
    keys: &[String],
) -> CloudResult<()> {
    client
        .remove_tags()
        .set_resource_arns(Some(arns.to_vec()))
        .set_tag_keys(Some(keys.to_vec()))
        .send()
        .await
        .map(|_| ())
        .map_err(classify)
}
