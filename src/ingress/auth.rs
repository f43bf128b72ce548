//! Authentication in front of a member's rules (upstream's §4.8.4): `auth-type` `oidc` or
//! `cognito` puts an authenticate action before the rule's own action on HTTPS listeners (on
//! HTTP listeners it is skipped, as upstream). The annotations come from the Ingress; when the
//! rule forwards to exactly one Service, that Service's `auth-*` annotations win key by key.
//! Pure: the OIDC client credentials come from Secrets the controller read by name.
//!
//! A listener's default action from `spec.defaultBackend` is authenticated the same way.
//! `jwt-validation` (Ingress only) puts a JWT validation action there instead; asking for both
//! on one rule is the member's problem.

use super::actions::decode;
use super::input::{IngressBuildInput, OidcClient, OidcClients};
use super::member::{annotations, problem, Member, MemberProblem, INGRESS_PREFIX};
use crate::annotations::Annotations;
use crate::cloud::{
    AuthenticationSettings, CognitoConfig, JwtClaim, JwtValidationConfig, OidcConfig,
};
use crate::model::ListenerAction;
use k8s_openapi::api::core::v1::{Secret, Service};
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// A Secret's `clientID` (legacy `clientId`), trailing white space trimmed, and `clientSecret`,
/// trailing control characters trimmed.
pub fn oidc_client(data: &BTreeMap<String, Vec<u8>>) -> Result<OidcClient, String> {
    let text = |key: &str| {
        data.get(key)
            .map(|v| String::from_utf8_lossy(v).to_string())
    };
    let client_id = text("clientID")
        .or_else(|| text("clientId"))
        .ok_or("the Secret has no clientID")?;
    let client_secret = text("clientSecret").ok_or("the Secret has no clientSecret")?;
    Ok(OidcClient {
        client_id: client_id.trim_end().to_string(),
        client_secret: client_secret.trim_end_matches(char::is_control).to_string(),
    })
}

/// The OIDC clients of `names` (`namespace/name`) among `secrets`; a name without its Secret
/// is left out (the build says it was not found).
pub fn oidc_clients_from(secrets: &[Secret], names: &BTreeSet<String>) -> OidcClients {
    secrets
        .iter()
        .filter_map(|secret| {
            let key = format!(
                "{}/{}",
                secret.metadata.namespace.as_deref().unwrap_or_default(),
                secret.metadata.name.as_deref().unwrap_or_default()
            );
            if !names.contains(&key) {
                return None;
            }
            let mut data: BTreeMap<String, Vec<u8>> = secret
                .data
                .iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.0.clone()))
                .collect();
            for (k, v) in secret.string_data.iter().flatten() {
                data.insert(k.clone(), v.clone().into_bytes());
            }
            Some((key, oidc_client(&data)))
        })
        .collect()
}

#[derive(Deserialize)]
struct OidcJson {
    #[serde(default)]
    issuer: String,
    #[serde(rename = "authorizationendpoint", default)]
    authorization_endpoint: String,
    #[serde(rename = "tokenendpoint", default)]
    token_endpoint: String,
    #[serde(rename = "userinfoendpoint", default)]
    user_info_endpoint: String,
    #[serde(rename = "secretname", default)]
    secret_name: String,
}

#[derive(Deserialize)]
struct CognitoJson {
    #[serde(rename = "userpoolarn", default)]
    user_pool_arn: String,
    #[serde(rename = "userpoolclientid", default)]
    user_pool_client_id: String,
    #[serde(rename = "userpooldomain", default)]
    user_pool_domain: String,
}

/// `authenticationRequestExtraParams` of an IdP document, its keys as written (only the field
/// name matches case-insensitively).
fn extra_params(raw: &str) -> Result<BTreeMap<String, String>, String> {
    let value: Value = serde_json::from_str(raw).map_err(|e| e.to_string())?;
    let found = value.as_object().and_then(|object| {
        object
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case("authenticationRequestExtraParams"))
            .map(|(_, v)| v.clone())
    });
    match found {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(params) => serde_json::from_value(params)
            .map_err(|e| format!("authenticationRequestExtraParams: {e}")),
    }
}

/// The Secrets named by `auth-idp-oidc` of the members and of the Services of their
/// namespaces, as `namespace/name`.
pub fn oidc_secret_names(members: &[Member], services: &[Service]) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for member in members {
        let namespace = member
            .ingress
            .metadata
            .namespace
            .clone()
            .unwrap_or_default();
        let own = annotations(member)
            .string("auth-idp-oidc")
            .map(str::to_string);
        let of_services = services
            .iter()
            .filter(|s| s.metadata.namespace.as_deref() == Some(namespace.as_str()))
            .filter_map(|s| {
                Annotations::new(s.metadata.annotations.as_ref(), INGRESS_PREFIX)
                    .string("auth-idp-oidc")
                    .map(str::to_string)
            });
        for raw in own.into_iter().chain(of_services) {
            if let Ok(parsed) = decode::<OidcJson>(&raw) {
                if !parsed.secret_name.is_empty() {
                    names.insert(format!("{namespace}/{}", parsed.secret_name));
                }
            }
        }
    }
    names
}

/// The authenticate action (none, or one) that goes before a rule's own action. `service` is
/// the one Service the rule forwards to, if it forwards to exactly one.
pub(super) fn auth_actions(
    input: &IngressBuildInput,
    member: &Member,
    service: Option<&Service>,
    https: bool,
) -> Result<Vec<ListenerAction>, MemberProblem> {
    let service_annotations =
        service.map(|s| Annotations::new(s.metadata.annotations.as_ref(), INGRESS_PREFIX));
    let ingress_annotations = annotations(member);
    let read = |suffix: &str| -> Option<String> {
        service_annotations
            .as_ref()
            .and_then(|a| a.string(suffix))
            .or_else(|| ingress_annotations.string(suffix))
            .map(str::to_string)
    };
    let fail = |text: String| problem(member, text);
    let auth_type = read("auth-type").unwrap_or_else(|| "none".to_string());
    if !matches!(auth_type.as_str(), "none" | "oidc" | "cognito") {
        return Err(fail(format!(
            "{INGRESS_PREFIX}auth-type: {auth_type:?} is not none, oidc or cognito"
        )));
    }
    if !https {
        return Ok(Vec::new());
    }
    let jwt = jwt_validation(member)?;
    if auth_type == "none" {
        return Ok(jwt.into_iter().collect());
    }
    if jwt.is_some() {
        return Err(fail(format!(
            "{INGRESS_PREFIX}jwt-validation and auth-type {auth_type} cannot both apply to a rule"
        )));
    }
    let session_timeout = match read("auth-session-timeout") {
        None => 604_800,
        Some(text) => text.parse::<i64>().map_err(|_| {
            fail(format!(
                "{INGRESS_PREFIX}auth-session-timeout: {text:?} is not an integer"
            ))
        })?,
    };
    let settings = |extra_params| AuthenticationSettings {
        on_unauthenticated_request: read("auth-on-unauthenticated-request")
            .unwrap_or_else(|| "authenticate".into()),
        scope: read("auth-scope").unwrap_or_else(|| "openid".into()),
        session_cookie_name: read("auth-session-cookie")
            .unwrap_or_else(|| "AWSELBAuthSessionCookie".into()),
        session_timeout,
        extra_params,
    };
    let idp_key = format!("auth-idp-{auth_type}");
    let raw = read(&idp_key).ok_or_else(|| {
        fail(format!(
            "auth-type {auth_type} needs {INGRESS_PREFIX}{idp_key}"
        ))
    })?;
    let bad_idp = |e: String| fail(format!("{INGRESS_PREFIX}{idp_key}: {e}"));
    let extra = extra_params(&raw).map_err(bad_idp)?;
    let action = if auth_type == "cognito" {
        let idp: CognitoJson = decode(&raw).map_err(bad_idp)?;
        ListenerAction::AuthenticateCognito(CognitoConfig {
            user_pool_arn: idp.user_pool_arn,
            user_pool_client_id: idp.user_pool_client_id,
            user_pool_domain: idp.user_pool_domain,
            settings: settings(extra),
        })
    } else {
        let idp: OidcJson = decode(&raw).map_err(bad_idp)?;
        let namespace = member
            .ingress
            .metadata
            .namespace
            .clone()
            .unwrap_or_default();
        let key = format!("{namespace}/{}", idp.secret_name);
        let client = match input.oidc_clients.get(&key) {
            Some(Ok(client)) => client,
            Some(Err(why)) => return Err(fail(format!("OIDC Secret {key}: {why}"))),
            None => return Err(fail(format!("OIDC Secret {key} was not found"))),
        };
        ListenerAction::AuthenticateOidc(OidcConfig {
            issuer: idp.issuer,
            authorization_endpoint: idp.authorization_endpoint,
            token_endpoint: idp.token_endpoint,
            user_info_endpoint: idp.user_info_endpoint,
            client_id: client.client_id.clone(),
            client_secret: Some(client.client_secret.clone()),
            settings: settings(extra),
        })
    };
    Ok(vec![action])
}

#[derive(Deserialize)]
struct ClaimJson {
    #[serde(default)]
    format: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    values: Vec<String>,
}

#[derive(Deserialize)]
struct JwtJson {
    #[serde(rename = "jwksendpoint", default)]
    jwks_endpoint: String,
    #[serde(default)]
    issuer: String,
    #[serde(rename = "additionalclaims", default)]
    additional_claims: Vec<ClaimJson>,
}

/// The member's `jwt-validation` action (upstream's §3.5.7), read from the Ingress only.
fn jwt_validation(member: &Member) -> Result<Option<ListenerAction>, MemberProblem> {
    let Some(raw) = annotations(member).string("jwt-validation") else {
        return Ok(None);
    };
    let fail = |text: &str| problem(member, format!("{INGRESS_PREFIX}jwt-validation: {text}"));
    let parsed: JwtJson = decode(raw).map_err(|e| fail(&e))?;
    if parsed.jwks_endpoint.is_empty() || parsed.issuer.is_empty() {
        return Err(fail("jwksEndpoint and issuer are required"));
    }
    if parsed
        .additional_claims
        .iter()
        .any(|c| c.format.is_empty() || c.name.is_empty() || c.values.is_empty())
    {
        return Err(fail(
            "every additional claim needs a format, a name and values",
        ));
    }
    Ok(Some(ListenerAction::JwtValidation(JwtValidationConfig {
        jwks_endpoint: parsed.jwks_endpoint,
        issuer: parsed.issuer,
        additional_claims: parsed
            .additional_claims
            .into_iter()
            .map(|c| JwtClaim {
                format: c.format,
                name: c.name,
                values: c.values,
            })
            .collect(),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_give_trimmed_credentials_and_accept_the_legacy_key() {
        let data = BTreeMap::from([
            ("clientId".to_string(), b"my-app \n".to_vec()),
            ("clientSecret".to_string(), b"s3cr3t\r\n".to_vec()),
        ]);
        let client = oidc_client(&data).unwrap();
        assert_eq!(client.client_id, "my-app");
        assert_eq!(client.client_secret, "s3cr3t");
        let no_secret = BTreeMap::from([("clientID".to_string(), b"x".to_vec())]);
        assert!(oidc_client(&no_secret).is_err());
    }

    #[test]
    fn extra_params_keep_their_keys_as_written() {
        let params =
            extra_params(r#"{"AuthenticationRequestExtraParams": {"Prompt": "login"}}"#).unwrap();
        assert_eq!(params["Prompt"], "login");
    }
}
