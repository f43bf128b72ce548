//! Listener rules through the ELBv2 SDK: conversion between our rule types and the SDK's, and the
//! five rule calls. A single-target-group forward without stickiness is written and read as a
//! plain `TargetGroupArn`, as AWS reports it, so it compares equal to what was asked.

use super::classify;
use crate::cloud::{
    AuthenticationSettings, CloudResult, CognitoConfig, FixedResponseConfig, JwtClaim,
    JwtValidationConfig, ObservedRule, OidcConfig, RedirectConfig, RuleAction, RuleCondition,
    RuleContent, RuleInput,
};
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, AuthenticateCognitoActionConditionalBehaviorEnum,
    AuthenticateCognitoActionConfig, AuthenticateOidcActionConditionalBehaviorEnum,
    AuthenticateOidcActionConfig, FixedResponseActionConfig, ForwardActionConfig,
    HostHeaderConditionConfig, HttpHeaderConditionConfig, HttpRequestMethodConditionConfig,
    JwtValidationActionAdditionalClaim, JwtValidationActionAdditionalClaimFormatEnum,
    JwtValidationActionConfig, PathPatternConditionConfig, QueryStringConditionConfig,
    QueryStringKeyValuePair, RedirectActionConfig, RedirectActionStatusCodeEnum, Rule,
    RuleCondition as SdkCondition, RulePriorityPair, SourceIpConditionConfig, Tag,
    TargetGroupStickinessConfig, TargetGroupTuple,
};
use aws_sdk_elasticloadbalancingv2::Client;

fn sdk_condition(condition: &RuleCondition) -> SdkCondition {
    let builder = SdkCondition::builder();
    match condition {
        RuleCondition::HostHeader { values } => builder.field("host-header").host_header_config(
            HostHeaderConditionConfig::builder()
                .set_values(Some(values.clone()))
                .build(),
        ),
        RuleCondition::PathPattern { values } => builder.field("path-pattern").path_pattern_config(
            PathPatternConditionConfig::builder()
                .set_values(Some(values.clone()))
                .build(),
        ),
        RuleCondition::HttpHeader { name, values } => {
            builder.field("http-header").http_header_config(
                HttpHeaderConditionConfig::builder()
                    .http_header_name(name)
                    .set_values(Some(values.clone()))
                    .build(),
            )
        }
        RuleCondition::HttpRequestMethod { values } => builder
            .field("http-request-method")
            .http_request_method_config(
                HttpRequestMethodConditionConfig::builder()
                    .set_values(Some(values.clone()))
                    .build(),
            ),
        RuleCondition::QueryString { values } => builder.field("query-string").query_string_config(
            QueryStringConditionConfig::builder()
                .set_values(Some(
                    values
                        .iter()
                        .map(|(key, value)| {
                            QueryStringKeyValuePair::builder()
                                .set_key(key.clone())
                                .value(value)
                                .build()
                        })
                        .collect(),
                ))
                .build(),
        ),
        RuleCondition::SourceIp { values } => builder.field("source-ip").source_ip_config(
            SourceIpConditionConfig::builder()
                .set_values(Some(values.clone()))
                .build(),
        ),
        RuleCondition::HostHeaderRegex { regex_values } => {
            builder.field("host-header").host_header_config(
                HostHeaderConditionConfig::builder()
                    .set_regex_values(Some(regex_values.clone()))
                    .build(),
            )
        }
        RuleCondition::PathPatternRegex { regex_values } => {
            builder.field("path-pattern").path_pattern_config(
                PathPatternConditionConfig::builder()
                    .set_regex_values(Some(regex_values.clone()))
                    .build(),
            )
        }
        RuleCondition::HttpHeaderRegex { name, regex_values } => {
            builder.field("http-header").http_header_config(
                HttpHeaderConditionConfig::builder()
                    .http_header_name(name)
                    .set_regex_values(Some(regex_values.clone()))
                    .build(),
            )
        }
    }
    .build()
}

fn our_condition(condition: &SdkCondition) -> Option<RuleCondition> {
    let legacy = || condition.values().to_vec();
    let values_or_legacy = |values: Option<&[String]>| {
        values
            .filter(|v| !v.is_empty())
            .map(<[String]>::to_vec)
            .unwrap_or_else(legacy)
    };
    let regex_of =
        |values: Option<&[String]>| values.filter(|v| !v.is_empty()).map(<[String]>::to_vec);
    Some(match condition.field()? {
        "host-header" => match regex_of(condition.host_header_config().map(|c| c.regex_values())) {
            Some(regex_values) => RuleCondition::HostHeaderRegex { regex_values },
            None => RuleCondition::HostHeader {
                values: values_or_legacy(condition.host_header_config().map(|c| c.values())),
            },
        },
        "path-pattern" => {
            match regex_of(condition.path_pattern_config().map(|c| c.regex_values())) {
                Some(regex_values) => RuleCondition::PathPatternRegex { regex_values },
                None => RuleCondition::PathPattern {
                    values: values_or_legacy(condition.path_pattern_config().map(|c| c.values())),
                },
            }
        }
        "http-header" => {
            let config = condition.http_header_config()?;
            let name = config.http_header_name().unwrap_or_default().to_string();
            match regex_of(Some(config.regex_values())) {
                Some(regex_values) => RuleCondition::HttpHeaderRegex { name, regex_values },
                None => RuleCondition::HttpHeader {
                    name,
                    values: config.values().to_vec(),
                },
            }
        }
        "http-request-method" => RuleCondition::HttpRequestMethod {
            values: condition
                .http_request_method_config()
                .map(|c| c.values().to_vec())
                .unwrap_or_default(),
        },
        "query-string" => RuleCondition::QueryString {
            values: condition
                .query_string_config()
                .map(|c| {
                    c.values()
                        .iter()
                        .map(|pair| {
                            (
                                pair.key().map(str::to_string),
                                pair.value().unwrap_or_default().to_string(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
        },
        "source-ip" => RuleCondition::SourceIp {
            values: condition
                .source_ip_config()
                .map(|c| c.values().to_vec())
                .unwrap_or_default(),
        },
        _ => return None,
    })
}

pub(super) fn sdk_action(action: &RuleAction, order: i32) -> Action {
    let builder = Action::builder().order(order);
    match action {
        RuleAction::Forward {
            target_groups,
            stickiness_seconds,
        } => match (target_groups.as_slice(), stickiness_seconds) {
            ([(arn, None)], None) => builder
                .r#type(ActionTypeEnum::Forward)
                .target_group_arn(arn),
            (groups, stickiness) => {
                let tuples = groups
                    .iter()
                    .map(|(arn, weight)| {
                        TargetGroupTuple::builder()
                            .target_group_arn(arn)
                            .set_weight(*weight)
                            .build()
                    })
                    .collect();
                let mut config = ForwardActionConfig::builder().set_target_groups(Some(tuples));
                if let Some(seconds) = stickiness {
                    config = config.target_group_stickiness_config(
                        TargetGroupStickinessConfig::builder()
                            .enabled(true)
                            .duration_seconds(*seconds)
                            .build(),
                    );
                }
                builder
                    .r#type(ActionTypeEnum::Forward)
                    .forward_config(config.build())
            }
        },
        RuleAction::Redirect(redirect) => builder.r#type(ActionTypeEnum::Redirect).redirect_config(
            RedirectActionConfig::builder()
                .set_protocol(redirect.protocol.clone())
                .set_port(redirect.port.clone())
                .set_host(redirect.host.clone())
                .set_path(redirect.path.clone())
                .set_query(redirect.query.clone())
                .status_code(RedirectActionStatusCodeEnum::from(
                    redirect.status_code.as_str(),
                ))
                .build(),
        ),
        RuleAction::AuthenticateOidc(oidc) => builder
            .r#type(ActionTypeEnum::AuthenticateOidc)
            .authenticate_oidc_config(
                AuthenticateOidcActionConfig::builder()
                    .issuer(&oidc.issuer)
                    .authorization_endpoint(&oidc.authorization_endpoint)
                    .token_endpoint(&oidc.token_endpoint)
                    .user_info_endpoint(&oidc.user_info_endpoint)
                    .client_id(&oidc.client_id)
                    .set_client_secret(oidc.client_secret.clone())
                    .on_unauthenticated_request(
                        AuthenticateOidcActionConditionalBehaviorEnum::from(
                            oidc.settings.on_unauthenticated_request.as_str(),
                        ),
                    )
                    .scope(&oidc.settings.scope)
                    .session_cookie_name(&oidc.settings.session_cookie_name)
                    .session_timeout(oidc.settings.session_timeout)
                    .set_authentication_request_extra_params(
                        (!oidc.settings.extra_params.is_empty())
                            .then(|| oidc.settings.extra_params.clone().into_iter().collect()),
                    )
                    .build(),
            ),
        RuleAction::AuthenticateCognito(cognito) => builder
            .r#type(ActionTypeEnum::AuthenticateCognito)
            .authenticate_cognito_config(
                AuthenticateCognitoActionConfig::builder()
                    .user_pool_arn(&cognito.user_pool_arn)
                    .user_pool_client_id(&cognito.user_pool_client_id)
                    .user_pool_domain(&cognito.user_pool_domain)
                    .on_unauthenticated_request(
                        AuthenticateCognitoActionConditionalBehaviorEnum::from(
                            cognito.settings.on_unauthenticated_request.as_str(),
                        ),
                    )
                    .scope(&cognito.settings.scope)
                    .session_cookie_name(&cognito.settings.session_cookie_name)
                    .session_timeout(cognito.settings.session_timeout)
                    .set_authentication_request_extra_params(
                        (!cognito.settings.extra_params.is_empty())
                            .then(|| cognito.settings.extra_params.clone().into_iter().collect()),
                    )
                    .build(),
            ),
        RuleAction::JwtValidation(jwt) => builder
            .r#type(ActionTypeEnum::JwtValidation)
            .jwt_validation_config(
                JwtValidationActionConfig::builder()
                    .jwks_endpoint(&jwt.jwks_endpoint)
                    .issuer(&jwt.issuer)
                    .set_additional_claims((!jwt.additional_claims.is_empty()).then(|| {
                        jwt.additional_claims
                            .iter()
                            .map(|claim| {
                                JwtValidationActionAdditionalClaim::builder()
                                    .format(JwtValidationActionAdditionalClaimFormatEnum::from(
                                        claim.format.as_str(),
                                    ))
                                    .name(&claim.name)
                                    .set_values(Some(claim.values.clone()))
                                    .build()
                            })
                            .collect()
                    }))
                    .build(),
            ),
        RuleAction::FixedResponse(fixed) => builder
            .r#type(ActionTypeEnum::FixedResponse)
            .fixed_response_config(
                FixedResponseActionConfig::builder()
                    .status_code(&fixed.status_code)
                    .set_content_type(fixed.content_type.clone())
                    .set_message_body(fixed.message_body.clone())
                    .build(),
            ),
    }
    .build()
}

/// What OIDC and Cognito actions share, as AWS reports them (their SDK types differ).
fn authentication_settings(
    on_unauthenticated_request: Option<&str>,
    scope: Option<&str>,
    session_cookie_name: Option<&str>,
    session_timeout: Option<i64>,
    extra_params: Option<&std::collections::HashMap<String, String>>,
) -> AuthenticationSettings {
    AuthenticationSettings {
        on_unauthenticated_request: on_unauthenticated_request.unwrap_or_default().to_string(),
        scope: scope.unwrap_or_default().to_string(),
        session_cookie_name: session_cookie_name.unwrap_or_default().to_string(),
        session_timeout: session_timeout.unwrap_or_default(),
        extra_params: extra_params
            .map(|p| p.clone().into_iter().collect())
            .unwrap_or_default(),
    }
}

pub(super) fn our_action(action: &Action) -> Option<RuleAction> {
    Some(match action.r#type()? {
        ActionTypeEnum::Forward => {
            let config = action.forward_config();
            let tuples = config.map(|c| c.target_groups()).unwrap_or_default();
            let stickiness_seconds = config
                .and_then(|c| c.target_group_stickiness_config())
                .filter(|s| s.enabled() == Some(true))
                .map(|s| s.duration_seconds().unwrap_or_default());
            let target_groups = if tuples.len() > 1 || stickiness_seconds.is_some() {
                tuples
                    .iter()
                    .map(|t| {
                        (
                            t.target_group_arn().unwrap_or_default().to_string(),
                            t.weight(),
                        )
                    })
                    .collect()
            } else {
                action
                    .target_group_arn()
                    .or_else(|| tuples.first().and_then(|t| t.target_group_arn()))
                    .map(|arn| vec![(arn.to_string(), None)])
                    .unwrap_or_default()
            };
            RuleAction::Forward {
                target_groups,
                stickiness_seconds,
            }
        }
        ActionTypeEnum::Redirect => {
            let config = action.redirect_config()?;
            RuleAction::Redirect(RedirectConfig {
                protocol: config.protocol().map(str::to_string),
                port: config.port().map(str::to_string),
                host: config.host().map(str::to_string),
                path: config.path().map(str::to_string),
                query: config.query().map(str::to_string),
                status_code: config
                    .status_code()
                    .map(|c| c.as_str().to_string())
                    .unwrap_or_default(),
            })
        }
        ActionTypeEnum::AuthenticateOidc => {
            let config = action.authenticate_oidc_config()?;
            RuleAction::AuthenticateOidc(OidcConfig {
                issuer: config.issuer().unwrap_or_default().to_string(),
                authorization_endpoint: config
                    .authorization_endpoint()
                    .unwrap_or_default()
                    .to_string(),
                token_endpoint: config.token_endpoint().unwrap_or_default().to_string(),
                user_info_endpoint: config.user_info_endpoint().unwrap_or_default().to_string(),
                client_id: config.client_id().unwrap_or_default().to_string(),
                client_secret: None,
                settings: authentication_settings(
                    config.on_unauthenticated_request().map(|b| b.as_str()),
                    config.scope(),
                    config.session_cookie_name(),
                    config.session_timeout(),
                    config.authentication_request_extra_params(),
                ),
            })
        }
        ActionTypeEnum::AuthenticateCognito => {
            let config = action.authenticate_cognito_config()?;
            RuleAction::AuthenticateCognito(CognitoConfig {
                user_pool_arn: config.user_pool_arn().unwrap_or_default().to_string(),
                user_pool_client_id: config.user_pool_client_id().unwrap_or_default().to_string(),
                user_pool_domain: config.user_pool_domain().unwrap_or_default().to_string(),
                settings: authentication_settings(
                    config.on_unauthenticated_request().map(|b| b.as_str()),
                    config.scope(),
                    config.session_cookie_name(),
                    config.session_timeout(),
                    config.authentication_request_extra_params(),
                ),
            })
        }
        ActionTypeEnum::JwtValidation => {
            let config = action.jwt_validation_config()?;
            RuleAction::JwtValidation(JwtValidationConfig {
                jwks_endpoint: config.jwks_endpoint().unwrap_or_default().to_string(),
                issuer: config.issuer().unwrap_or_default().to_string(),
                additional_claims: config
                    .additional_claims()
                    .iter()
                    .map(|claim| JwtClaim {
                        format: claim
                            .format()
                            .map(|f| f.as_str().to_string())
                            .unwrap_or_default(),
                        name: claim.name().unwrap_or_default().to_string(),
                        values: claim.values().to_vec(),
                    })
                    .collect(),
            })
        }
        ActionTypeEnum::FixedResponse => {
            let config = action.fixed_response_config()?;
            RuleAction::FixedResponse(FixedResponseConfig {
                status_code: config.status_code().unwrap_or_default().to_string(),
                content_type: config.content_type().map(str::to_string),
                message_body: config.message_body().map(str::to_string),
            })
        }
        _ => return None,
    })
}

fn sdk_actions(content: &RuleContent) -> Vec<Action> {
    content
        .actions
        .iter()
        .zip(1..)
        .map(|(action, order)| sdk_action(action, order))
        .collect()
}

fn observed_rule(listener_arn: &str, rule: &Rule) -> Option<ObservedRule> {
    let priority = rule.priority()?.parse::<i32>().ok()?;
    let mut actions: Vec<&Action> = rule.actions().iter().collect();
    actions.sort_by_key(|a| a.order().unwrap_or_default());
    Some(ObservedRule {
        arn: rule.rule_arn().unwrap_or_default().to_string(),
        listener_arn: listener_arn.to_string(),
        priority,
        content: RuleContent {
            conditions: rule.conditions().iter().filter_map(our_condition).collect(),
            actions: actions.into_iter().filter_map(our_action).collect(),
            transforms: rule
                .transforms()
                .iter()
                .filter_map(super::rule_transforms::our_transform)
                .collect(),
        },
    })
}

pub(super) async fn describe_rules(
    client: &Client,
    listener_arn: &str,
) -> CloudResult<Vec<ObservedRule>> {
    let mut rules = Vec::new();
    let mut marker = None;
    loop {
        let output = client
            .describe_rules()
            .listener_arn(listener_arn)
            .set_marker(marker)
            .send()
            .await
            .map_err(classify)?;
        // The default rule has priority "default" and is left out.
        rules.extend(
            output
                .rules()
                .iter()
                .filter(|r| r.is_default() != Some(true))
                .filter_map(|r| observed_rule(listener_arn, r)),
        );
        marker = output.next_marker().map(str::to_string);
        if marker.is_none() {
            break;
        }
    }
    rules.sort_by_key(|r| r.priority);
    Ok(rules)
}

pub(super) async fn create_rule(client: &Client, input: &RuleInput) -> CloudResult<ObservedRule> {
    let tags: Vec<Tag> = input
        .tags
        .iter()
        .map(|(key, value)| Tag::builder().key(key).value(value).build())
        .collect();
    let output = client
        .create_rule()
        .listener_arn(&input.listener_arn)
        .priority(input.priority)
        .set_conditions(Some(
            input.content.conditions.iter().map(sdk_condition).collect(),
        ))
        .set_actions(Some(sdk_actions(&input.content)))
        .set_transforms(super::rule_transforms::sdk_transforms(
            &input.content.transforms,
        ))
        .set_tags((!tags.is_empty()).then_some(tags))
        .send()
        .await
        .map_err(classify)?;
    Ok(ObservedRule {
        arn: output
            .rules()
            .first()
            .and_then(|r| r.rule_arn())
            .unwrap_or_default()
            .to_string(),
        listener_arn: input.listener_arn.clone(),
        priority: input.priority,
        content: input.content.clone(),
    })
}

pub(super) async fn modify_rule(
    client: &Client,
    arn: &str,
    content: &RuleContent,
) -> CloudResult<()> {
    client
        .modify_rule()
        .rule_arn(arn)
        .set_conditions(Some(content.conditions.iter().map(sdk_condition).collect()))
        .set_actions(Some(sdk_actions(content)))
        .set_transforms(super::rule_transforms::sdk_transforms(&content.transforms))
        // A rule that loses its transforms must say so.
        .set_reset_transforms(content.transforms.is_empty().then_some(true))
        .send()
        .await
        .map(|_| ())
        .map_err(classify)
}

pub(super) async fn set_rule_priorities(
    client: &Client,
    priorities: &[(String, i32)],
) -> CloudResult<()> {
    client
        .set_rule_priorities()
        .set_rule_priorities(Some(
            priorities
                .iter()
                .map(|(arn, priority)| {
                    RulePriorityPair::builder()
                        .rule_arn(arn)
                        .priority(*priority)
                        .build()
                })
                .collect(),
        ))
        .send()
        .await
        .map(|_| ())
        .map_err(classify)
}

pub(super) async fn delete_rule(client: &Client, arn: &str) -> CloudResult<()> {
    client
        .delete_rule()
        .rule_arn(arn)
        .send()
        .await
        .map(|_| ())
        .map_err(classify)
}
