//! Target group calls and their conversions: descriptions, creation, health checks, attributes,
//! targets and their health, and look-ups by name.

use super::{classify, tags_of};
use crate::cloud::{CloudError, CloudResult, ErrorKind, ObservedTargetGroup, TargetGroupInput};
use crate::model::{HealthCheck, Protocol, TargetType};
use aws_sdk_elasticloadbalancingv2::types::{
    Matcher, ProtocolEnum, TargetGroup, TargetGroupAttribute, TargetGroupIpAddressTypeEnum,
    TargetTypeEnum,
};
use aws_sdk_elasticloadbalancingv2::Client;
use std::collections::BTreeMap;

pub(super) fn protocol(value: Option<&ProtocolEnum>) -> Protocol {
    Protocol::parse_or_tcp(value.map(|p| p.as_str()).unwrap_or_default())
}

fn observed_target_group(group: &TargetGroup) -> ObservedTargetGroup {
    let health_protocol = protocol(group.health_check_protocol());
    let http = matches!(health_protocol, Protocol::Http | Protocol::Https);
    ObservedTargetGroup {
        arn: group.target_group_arn().unwrap_or_default().to_string(),
        name: group.target_group_name().unwrap_or_default().to_string(),
        target_type: group
            .target_type()
            .and_then(|t| TargetType::from_aws(t.as_str()))
            .unwrap_or(TargetType::Instance),
        protocol: protocol(group.protocol()),
        protocol_version: group.protocol_version().map(str::to_string),
        port: group.port().unwrap_or_default(),
        vpc_id: group.vpc_id().unwrap_or_default().to_string(),
        ip_address_type: group
            .ip_address_type()
            .map_or("ipv4", |t| t.as_str())
            .to_string(),
        health_check: HealthCheck {
            protocol: health_protocol,
            port: group
                .health_check_port()
                .unwrap_or("traffic-port")
                .to_string(),
            path: group
                .health_check_path()
                .filter(|_| http)
                .map(str::to_string),
            interval_seconds: group.health_check_interval_seconds().unwrap_or_default(),
            timeout_seconds: group.health_check_timeout_seconds().unwrap_or_default(),
            healthy_threshold: group.healthy_threshold_count().unwrap_or_default(),
            unhealthy_threshold: group.unhealthy_threshold_count().unwrap_or_default(),
            success_codes: group
                .matcher()
                .and_then(|m| m.http_code())
                .filter(|_| http)
                .map(str::to_string),
            grpc_success_codes: group
                .matcher()
                .and_then(|m| m.grpc_code())
                .filter(|_| http)
                .map(str::to_string),
        },
        load_balancer_arns: group.load_balancer_arns().to_vec(),
    }
}

/// The check's success codes as ELBv2's matcher: gRPC codes when given, else HTTP codes.
fn matcher(check: &HealthCheck) -> Option<Matcher> {
    match (&check.grpc_success_codes, &check.success_codes) {
        (Some(codes), _) => Some(Matcher::builder().grpc_code(codes).build()),
        (None, Some(codes)) => Some(Matcher::builder().http_code(codes).build()),
        (None, None) => None,
    }
}

pub(super) async fn describe(
    client: &Client,
    arns: &[String],
) -> CloudResult<Vec<ObservedTargetGroup>> {
    let output = client
        .describe_target_groups()
        .set_target_group_arns(Some(arns.to_vec()))
        .send()
        .await
        .map_err(classify)?;
    Ok(output
        .target_groups()
        .iter()
        .map(observed_target_group)
        .collect())
}

pub(super) async fn describe_attributes(
    client: &Client,
    arn: &str,
) -> CloudResult<BTreeMap<String, String>> {
    let output = client
        .describe_target_group_attributes()
        .target_group_arn(arn)
        .send()
        .await
        .map_err(classify)?;
    Ok(output
        .attributes()
        .iter()
        .map(|a| (a.key(), a.value()))
        .collect::<super::AttributeMap>()
        .0)
}

pub(super) async fn create(
    client: &Client,
    input: &TargetGroupInput,
) -> CloudResult<ObservedTargetGroup> {
    let check = &input.health_check;
    let output = client
        .create_target_group()
        .name(&input.name)
        .protocol(ProtocolEnum::from(input.protocol.as_str()))
        .set_protocol_version(input.protocol_version.clone())
        .set_target_control_port(input.target_control_port)
        .port(input.port)
        .vpc_id(&input.vpc_id)
        .target_type(TargetTypeEnum::from(input.target_type.as_str()))
        .set_ip_address_type(
            (input.ip_address_type != "ipv4")
                .then(|| TargetGroupIpAddressTypeEnum::from(input.ip_address_type.as_str())),
        )
        .health_check_enabled(true)
        .health_check_protocol(ProtocolEnum::from(check.protocol.as_str()))
        .health_check_port(&check.port)
        .set_health_check_path(check.path.clone())
        .health_check_interval_seconds(check.interval_seconds)
        .health_check_timeout_seconds(check.timeout_seconds)
        .healthy_threshold_count(check.healthy_threshold)
        .unhealthy_threshold_count(check.unhealthy_threshold)
        .set_matcher(matcher(check))
        .set_tags(Some(tags_of(&input.tags)))
        .send()
        .await
        .map_err(classify)?;
    output
        .target_groups()
        .first()
        .map(observed_target_group)
        .ok_or_else(|| CloudError::new(ErrorKind::Other, "", "AWS returned no target group"))
}

pub(super) async fn modify(client: &Client, arn: &str, check: &HealthCheck) -> CloudResult<()> {
    client
        .modify_target_group()
        .target_group_arn(arn)
        .health_check_enabled(true)
        .health_check_protocol(ProtocolEnum::from(check.protocol.as_str()))
        .health_check_port(&check.port)
        .set_health_check_path(check.path.clone())
        .health_check_interval_seconds(check.interval_seconds)
        .health_check_timeout_seconds(check.timeout_seconds)
        .healthy_threshold_count(check.healthy_threshold)
        .unhealthy_threshold_count(check.unhealthy_threshold)
        .set_matcher(matcher(check))
        .send()
        .await
        .map(|_| ())
        .map_err(classify)
}

pub(super) async fn modify_attributes(
    client: &Client,
    arn: &str,
    attributes: &BTreeMap<String, String>,
) -> CloudResult<()> {
    let attributes = attributes
        .iter()
        .map(|(k, v)| TargetGroupAttribute::builder().key(k).value(v).build())
        .collect();
    client
        .modify_target_group_attributes()
        .target_group_arn(arn)
        .set_attributes(Some(attributes))
        .send()
        .await
        .map(|_| ())
        .map_err(classify)
}

pub(super) async fn delete(client: &Client, arn: &str) -> CloudResult<()> {
    client
        .delete_target_group()
        .target_group_arn(arn)
        .send()
        .await
        .map(|_| ())
        .map_err(classify)
}

fn descriptions(
    targets: &[crate::cloud::Target],
) -> Vec<aws_sdk_elasticloadbalancingv2::types::TargetDescription> {
    targets
        .iter()
        .map(|t| {
            aws_sdk_elasticloadbalancingv2::types::TargetDescription::builder()
                .id(&t.id)
                .port(t.port)
                .build()
        })
        .collect()
}

pub(super) async fn register_targets(
    client: &Client,
    arn: &str,
    targets: &[crate::cloud::Target],
) -> CloudResult<()> {
    client
        .register_targets()
        .target_group_arn(arn)
        .set_targets(Some(descriptions(targets)))
        .send()
        .await
        .map(|_| ())
        .map_err(classify)
}

pub(super) async fn deregister_targets(
    client: &Client,
    arn: &str,
    targets: &[crate::cloud::Target],
) -> CloudResult<()> {
    client
        .deregister_targets()
        .target_group_arn(arn)
        .set_targets(Some(descriptions(targets)))
        .send()
        .await
        .map(|_| ())
        .map_err(classify)
}

pub(super) async fn describe_target_health(
    client: &Client,
    arn: &str,
) -> CloudResult<Vec<crate::cloud::TargetHealth>> {
    let output = client
        .describe_target_health()
        .target_group_arn(arn)
        .send()
        .await
        .map_err(classify)?;
    Ok(output
        .target_health_descriptions()
        .iter()
        .filter_map(|description| {
            let target = description.target()?;
            let health = description.target_health();
            Some(crate::cloud::TargetHealth {
                target: crate::cloud::Target {
                    id: target.id().unwrap_or_default().to_string(),
                    port: target.port().unwrap_or_default(),
                },
                state: crate::cloud::TargetState::parse(
                    health
                        .and_then(|h| h.state())
                        .map(|s| s.as_str())
                        .unwrap_or_default(),
                ),
                reason: health
                    .and_then(|h| h.reason())
                    .map(|r| r.as_str().to_string())
                    .unwrap_or_default(),
                description: health
                    .and_then(|h| h.description())
                    .unwrap_or_default()
                    .to_string(),
            })
        })
        .collect())
}

/// The target group named `name`, if any (AWS answers `TargetGroupNotFound` for none).
pub(super) async fn find_by_name(
    client: &Client,
    name: &str,
) -> CloudResult<Option<crate::facts::TargetGroup>> {
    match client.describe_target_groups().names(name).send().await {
        Ok(output) => Ok(output
            .target_groups()
            .first()
            .map(|group| crate::facts::TargetGroup {
                target_group_arn: group.target_group_arn().unwrap_or_default().to_string(),
                target_group_name: group.target_group_name().unwrap_or_default().to_string(),
                protocol: group
                    .protocol()
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_default(),
                vpc_id: group.vpc_id().unwrap_or_default().to_string(),
                target_type: group
                    .target_type()
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_default(),
                ip_address_type: group.ip_address_type().map(|t| t.as_str().to_string()),
                ..crate::facts::TargetGroup::default()
            })),
        Err(error) => {
            let error = classify(error);
            if error.kind == ErrorKind::NotFound {
                Ok(None)
            } else {
                Err(error)
            }
        }
    }
}
