//! Listener calls and their conversions: default actions (an optional authentication before
//! the action), certificates, mutual TLS, attributes, and trust store look-ups.

use super::target_groups::protocol;
use super::{classify, tags_of};
use crate::cloud::{
    CloudError, CloudResult, ErrorKind, ListenerInput, MutualAuthentication, ObservedListener,
    RuleAction,
};
use aws_sdk_elasticloadbalancingv2::types::{
    Action, AdvertiseTrustStoreCaNamesEnum, Certificate, Listener, ListenerAttribute,
    MutualAuthenticationAttributes, ProtocolEnum,
};
use aws_sdk_elasticloadbalancingv2::Client;
use std::collections::BTreeMap;

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

pub(super) async fn describe_listeners(
    client: &Client,
    load_balancer_arn: &str,
) -> CloudResult<Vec<ObservedListener>> {
    let output = client
        .describe_listeners()
        .load_balancer_arn(load_balancer_arn)
        .send()
        .await
        .map_err(classify)?;
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
        .map_err(classify)?;
    output
        .listeners()
        .first()
        .map(observed_listener)
        .ok_or_else(|| CloudError::new(ErrorKind::Other, "", "AWS returned no listener"))
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
        .map_err(classify)
}

pub(super) async fn delete_listener(client: &Client, arn: &str) -> CloudResult<()> {
    client
        .delete_listener()
        .listener_arn(arn)
        .send()
        .await
        .map(|_| ())
        .map_err(classify)
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
        .map_err(classify)?;
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
        .map_err(classify)
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
        .map_err(classify)
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
        .map_err(classify)?;
    Ok(output
        .attributes()
        .iter()
        .map(|a| (a.key(), a.value()))
        .collect::<super::AttributeMap>()
        .0)
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
        .map_err(classify)
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
            let error = classify(error);
            if error.kind == ErrorKind::NotFound {
                Ok(None)
            } else {
                Err(error)
            }
        }
    }
}
