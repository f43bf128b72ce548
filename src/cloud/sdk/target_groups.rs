//! Target group and listener calls and their conversions.

use super::{classify, tags_of};
use crate::cloud::{
    CloudError, CloudResult, ErrorKind, ListenerInput, MutualAuthentication, ObservedListener,
    ObservedTargetGroup, RuleAction, TargetGroupInput,
};
use crate::model::{HealthCheck, Protocol, TargetType};
use aws_sdk_elasticloadbalancingv2::types::{
    Action, AdvertiseTrustStoreCaNamesEnum, Certificate, Listener, ListenerAttribute, Matcher,
    MutualAuthenticationAttributes, ProtocolEnum, TargetGroup, TargetGroupAttribute,
    TargetGroupIpAddressTypeEnum, TargetTypeEnum,
};
use aws_sdk_elasticloadbalancingv2::Client;
use std::collections::BTreeMap;

fn protocol(value: Option<&ProtocolEnum>) -> Protocol {
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
            .and_then(|t| TargetType::parse(t.as_str()))
            .unwrap_or(TargetType::Instance),
        protocol: protocol(group.protocol()),
        protocol_version: group.protocol_version().map(str::to_string),
        port: group.port().unwrap_or_default(),
        vpc_id: group.vpc_id().unwrap_or_default().to_string(),
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

/// A listener's default action (the first by `Order`).
fn default_action_of(actions: &[Action]) -> RuleAction {
    let mut sorted: Vec<&Action> = actions.iter().collect();
    sorted.sort_by_key(|a| a.order().unwrap_or_default());
    sorted
        .last()
        .and_then(|action| super::rules::our_action(action))
        .unwrap_or(RuleAction::Forward {
            target_groups: Vec::new(),
            stickiness_seconds: None,
        })
}

/// The authenticate action before a listener's default action, when there is one.
fn default_authentication_of(actions: &[Action]) -> Option<RuleAction> {
    let mut sorted: Vec<&Action> = actions.iter().collect();
    sorted.sort_by_key(|a| a.order().unwrap_or_default());
    if sorted.len() < 2 {
        return None;
    }
    sorted
        .first()
        .and_then(|action| super::rules::our_action(action))
        .filter(|action| {
            matches!(
                action,
                RuleAction::AuthenticateOidc(_)
                    | RuleAction::AuthenticateCognito(_)
                    | RuleAction::JwtValidation(_)
            )
        })
}

/// What a listener's default actions are: its authentication (if any), then its action.
fn sdk_default_actions(input: &ListenerInput) -> Vec<Action> {
    let mut actions: Vec<Action> = input
        .default_authentication
        .iter()
        .map(|auth| super::rules::sdk_action(auth, 1))
        .collect();
    let order = actions.len() as i32 + 1;
    actions.push(super::rules::sdk_action(&input.default_action, order));
    actions
}

fn sdk_mutual_authentication(input: &ListenerInput) -> Option<MutualAuthenticationAttributes> {
    input.mutual_authentication.as_ref().map(|m| {
        MutualAuthenticationAttributes::builder()
            .mode(&m.mode)
            .set_trust_store_arn(m.trust_store_arn.clone())
            .set_ignore_client_certificate_expiry(m.ignore_client_certificate_expiry)
            .set_advertise_trust_store_ca_names(
                m.advertise_trust_store_ca_names
                    .as_deref()
                    .map(AdvertiseTrustStoreCaNamesEnum::from),
            )
            .build()
    })
}

fn observed_listener(listener: &Listener) -> ObservedListener {
    ObservedListener {
        arn: listener.listener_arn().unwrap_or_default().to_string(),
        load_balancer_arn: listener.load_balancer_arn().unwrap_or_default().to_string(),
        port: listener.port().unwrap_or_default(),
        protocol: protocol(listener.protocol()),
        default_action: default_action_of(listener.default_actions()),
        default_authentication: default_authentication_of(listener.default_actions()),
        certificates: listener
            .certificates()
            .iter()
            .filter_map(|c| c.certificate_arn().map(str::to_string))
            .collect(),
        ssl_policy: listener.ssl_policy().map(str::to_string),
        alpn_policy: listener.alpn_policy().first().cloned(),
        mutual_authentication: listener
            .mutual_authentication()
            .map(|m| MutualAuthentication {
                mode: m.mode().unwrap_or_default().to_string(),
                trust_store_arn: m.trust_store_arn().map(str::to_string),
                ignore_client_certificate_expiry: m.ignore_client_certificate_expiry(),
                advertise_trust_store_ca_names: m
                    .advertise_trust_store_ca_names()
                    .map(|a| a.as_str().to_string()),
            }),
        attributes: BTreeMap::new(),
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
        .map_err(|e| classify("DescribeTargetGroups", e))?;
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
        .map_err(|e| classify("DescribeTargetGroupAttributes", e))?;
    Ok(output
        .attributes()
        .iter()
        .map(|a| {
            (
                a.key().unwrap_or_default().to_string(),
                a.value().unwrap_or_default().to_string(),
            )
        })
        .collect())
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
        .map_err(|e| classify("CreateTargetGroup", e))?;
    output
        .target_groups()
        .first()
        .map(observed_target_group)
        .ok_or_else(|| {
            CloudError::new(
                ErrorKind::Other,
                "CreateTargetGroup",
                "AWS returned no target group",
            )
        })
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
        .map_err(|e| classify("ModifyTargetGroup", e))
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
        .map_err(|e| classify("ModifyTargetGroupAttributes", e))
}

pub(super) async fn delete(client: &Client, arn: &str) -> CloudResult<()> {
    client
        .delete_target_group()
        .target_group_arn(arn)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| classify("DeleteTargetGroup", e))
}

pub(super) async fn describe_listeners(
    client: &Client,
    load_balancer_arn: &str,
) -> CloudResult<Vec<ObservedListener>> {
    let output = client
        .describe_listeners()
        .load_balancer_arn(load_balancer_arn)
        .send()
        .await
        .map_err(|e| classify("DescribeListeners", e))?;
    Ok(output.listeners().iter().map(observed_listener).collect())
}

fn default_certificate(input: &ListenerInput) -> Option<Vec<Certificate>> {
    input
        .certificates
        .first()
        .map(|arn| vec![Certificate::builder().certificate_arn(arn).build()])
}

pub(super) async fn create_listener(
    client: &Client,
    input: &ListenerInput,
) -> CloudResult<ObservedListener> {
    let output = client
        .create_listener()
        .load_balancer_arn(&input.load_balancer_arn)
        .port(input.port)
        .protocol(ProtocolEnum::from(input.protocol.as_str()))
        .set_default_actions(Some(sdk_default_actions(input)))
        .set_mutual_authentication(sdk_mutual_authentication(input))
        .set_certificates(default_certificate(input))
        .set_ssl_policy(input.ssl_policy.clone())
        .set_alpn_policy(input.alpn_policy.clone().map(|policy| vec![policy]))
        .set_tags((!input.tags.is_empty()).then(|| tags_of(&input.tags)))
        .send()
        .await
        .map_err(|e| classify("CreateListener", e))?;
    output
        .listeners()
        .first()
        .map(observed_listener)
        .ok_or_else(|| {
            CloudError::new(
                ErrorKind::Other,
                "CreateListener",
                "AWS returned no listener",
            )
        })
}

pub(super) async fn modify_listener(
    client: &Client,
    arn: &str,
    input: &ListenerInput,
) -> CloudResult<()> {
    client
        .modify_listener()
        .listener_arn(arn)
        .port(input.port)
        .protocol(ProtocolEnum::from(input.protocol.as_str()))
        .set_default_actions(Some(sdk_default_actions(input)))
        .set_mutual_authentication(sdk_mutual_authentication(input))
        .set_certificates(default_certificate(input))
        .set_ssl_policy(input.ssl_policy.clone())
        .set_alpn_policy(input.alpn_policy.clone().map(|policy| vec![policy]))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| classify("ModifyListener", e))
}

pub(super) async fn delete_listener(client: &Client, arn: &str) -> CloudResult<()> {
    client
        .delete_listener()
        .listener_arn(arn)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| classify("DeleteListener", e))
}

fn certificates_of(arns: &[String]) -> Vec<Certificate> {
    arns.iter()
        .map(|arn| Certificate::builder().certificate_arn(arn).build())
        .collect()
}

pub(super) async fn describe_listener_certificates(
    client: &Client,
    arn: &str,
) -> CloudResult<Vec<String>> {
    let output = client
        .describe_listener_certificates()
        .listener_arn(arn)
        .send()
        .await
        .map_err(|e| classify("DescribeListenerCertificates", e))?;
    Ok(output
        .certificates()
        .iter()
        .filter(|c| c.is_default() != Some(true))
        .filter_map(|c| c.certificate_arn().map(str::to_string))
        .collect())
}

pub(super) async fn add_listener_certificates(
    client: &Client,
    arn: &str,
    certificates: &[String],
) -> CloudResult<()> {
    client
        .add_listener_certificates()
        .listener_arn(arn)
        .set_certificates(Some(certificates_of(certificates)))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| classify("AddListenerCertificates", e))
}

pub(super) async fn remove_listener_certificates(
    client: &Client,
    arn: &str,
    certificates: &[String],
) -> CloudResult<()> {
    client
        .remove_listener_certificates()
        .listener_arn(arn)
        .set_certificates(Some(certificates_of(certificates)))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| classify("RemoveListenerCertificates", e))
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
        .map_err(|e| classify("RegisterTargets", e))
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
        .map_err(|e| classify("DeregisterTargets", e))
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
        .map_err(|e| classify("DescribeTargetHealth", e))?;
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

pub(super) async fn describe_listener_attributes(
    client: &Client,
    arn: &str,
) -> CloudResult<BTreeMap<String, String>> {
    let output = client
        .describe_listener_attributes()
        .listener_arn(arn)
        .send()
        .await
        .map_err(|e| classify("DescribeListenerAttributes", e))?;
    Ok(output
        .attributes()
        .iter()
        .map(|a| {
            (
                a.key().unwrap_or_default().to_string(),
                a.value().unwrap_or_default().to_string(),
            )
        })
        .collect())
}

pub(super) async fn modify_listener_attributes(
    client: &Client,
    arn: &str,
    attributes: &BTreeMap<String, String>,
) -> CloudResult<()> {
    let attributes = attributes
        .iter()
        .map(|(key, value)| ListenerAttribute::builder().key(key).value(value).build())
        .collect();
    client
        .modify_listener_attributes()
        .listener_arn(arn)
        .set_attributes(Some(attributes))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| classify("ModifyListenerAttributes", e))
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
                ..crate::facts::TargetGroup::default()
            })),
        Err(error) => {
            let error = classify("DescribeTargetGroups", error);
            if error.kind == ErrorKind::NotFound {
                Ok(None)
            } else {
                Err(error)
            }
        }
    }
}

/// The trust store named `name`, if any.
pub(super) async fn find_trust_store(
    client: &Client,
    name: &str,
) -> CloudResult<Option<crate::facts::TrustStore>> {
    match client.describe_trust_stores().names(name).send().await {
        Ok(output) => Ok(output
            .trust_stores()
            .first()
            .map(|store| crate::facts::TrustStore {
                name: store.name().unwrap_or_default().to_string(),
                trust_store_arn: store.trust_store_arn().unwrap_or_default().to_string(),
            })),
        Err(error) => {
            let error = classify("DescribeTrustStores", error);
            if error.kind == ErrorKind::NotFound {
                Ok(None)
            } else {
                Err(error)
            }
        }
    }
}
