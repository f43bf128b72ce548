//! The `actions.<name>`, `conditions.<name>` and `transforms.<name>` annotations (upstream's
//! §3.5.2–§3.5.4, §3.5.6):
//! JSON decoded with Go's rules — object keys match field names whatever their case, unknown
//! fields are ignored, a type mismatch is an error. Pure.
//!
//! A `targetGroupName` is resolved by the build against the target groups the discover step
//! looked up by name.

use crate::cloud::{FixedResponseConfig, RedirectConfig, RuleCondition, RuleTransform};
use serde::Deserialize;
use serde_json::Value;

/// Lower-cases every object key, so structs with lower-case field names decode any casing.
fn lowercase_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| (key.to_lowercase(), lowercase_keys(value)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(lowercase_keys).collect()),
        other => other,
    }
}

pub(super) fn decode<T: for<'de> Deserialize<'de>>(raw: &str) -> Result<T, String> {
    let value: Value = serde_json::from_str(raw).map_err(|e| e.to_string())?;
    serde_json::from_value(lowercase_keys(value)).map_err(|e| e.to_string())
}

#[derive(Deserialize)]
struct FixedJson {
    #[serde(rename = "contenttype")]
    content_type: Option<String>,
    #[serde(rename = "messagebody")]
    message_body: Option<String>,
    #[serde(rename = "statuscode", default)]
    status_code: String,
}

#[derive(Deserialize)]
struct RedirectJson {
    host: Option<String>,
    path: Option<String>,
    port: Option<String>,
    protocol: Option<String>,
    query: Option<String>,
    #[serde(rename = "statuscode", default)]
    status_code: String,
}

#[derive(Deserialize)]
struct TupleJson {
    #[serde(rename = "targetgrouparn")]
    target_group_arn: Option<String>,
    #[serde(rename = "targetgroupname")]
    target_group_name: Option<String>,
    #[serde(rename = "servicename")]
    service_name: Option<String>,
    #[serde(rename = "serviceport")]
    service_port: Option<Value>,
    weight: Option<i32>,
}

#[derive(Deserialize)]
struct StickinessJson {
    enabled: Option<bool>,
    #[serde(rename = "durationseconds")]
    duration_seconds: Option<i32>,
}

#[derive(Deserialize)]
struct ForwardJson {
    #[serde(rename = "targetgroups", default)]
    target_groups: Vec<TupleJson>,
    #[serde(rename = "targetgroupstickinessconfig")]
    stickiness: Option<StickinessJson>,
}

#[derive(Deserialize)]
struct ActionJson {
    #[serde(rename = "type")]
    kind: String,
    #[serde(rename = "targetgrouparn")]
    target_group_arn: Option<String>,
    #[serde(rename = "targetgroupname")]
    target_group_name: Option<String>,
    #[serde(rename = "fixedresponseconfig")]
    fixed_response: Option<FixedJson>,
    #[serde(rename = "redirectconfig")]
    redirect: Option<RedirectJson>,
    #[serde(rename = "forwardconfig")]
    forward: Option<ForwardJson>,
}

/// A Service port as a backend names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ServicePortRef {
    Number(i32),
    Name(String),
}

impl std::fmt::Display for ServicePortRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServicePortRef::Number(number) => write!(f, "{number}"),
            ServicePortRef::Name(name) => f.write_str(name),
        }
    }
}

/// Where one forward tuple goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForwardTarget {
    Arn(String),
    /// An existing target group by name, looked up in AWS.
    Name(String),
    Service {
        name: String,
        port: ServicePortRef,
    },
}

/// A decoded `actions.<name>` annotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnnotatedAction {
    FixedResponse(FixedResponseConfig),
    Redirect(RedirectConfig),
    Forward {
        targets: Vec<(ForwardTarget, Option<i32>)>,
        stickiness_seconds: Option<i32>,
    },
}

fn service_port(value: &Value) -> Result<ServicePortRef, String> {
    match value {
        Value::Number(number) => number
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .map(ServicePortRef::Number)
            .ok_or_else(|| format!("servicePort {number} is not a port number")),
        Value::String(text) => Ok(match text.parse::<i32>() {
            Ok(number) => ServicePortRef::Number(number),
            Err(_) => ServicePortRef::Name(text.clone()),
        }),
        other => Err(format!(
            "servicePort {other} is neither a number nor a name"
        )),
    }
}

/// Decodes and validates `actions.<name>`.
pub fn parse_action(raw: &str) -> Result<AnnotatedAction, String> {
    let action: ActionJson = decode(raw)?;
    match action.kind.as_str() {
        "fixed-response" => match action.fixed_response {
            Some(fixed) if !fixed.status_code.is_empty() => {
                Ok(AnnotatedAction::FixedResponse(FixedResponseConfig {
                    status_code: fixed.status_code,
                    content_type: fixed.content_type,
                    message_body: fixed.message_body,
                }))
            }
            _ => Err("a fixed-response action needs fixedResponseConfig with a statusCode".into()),
        },
        "redirect" => match action.redirect {
            Some(redirect) if !redirect.status_code.is_empty() => {
                Ok(AnnotatedAction::Redirect(RedirectConfig {
                    protocol: redirect.protocol,
                    port: redirect.port,
                    host: redirect.host,
                    path: redirect.path,
                    query: redirect.query,
                    status_code: redirect.status_code,
                }))
            }
            _ => Err("a redirect action needs redirectConfig with a statusCode".into()),
        },
        "forward" => {
            let simplified =
                action.target_group_arn.is_some() || action.target_group_name.is_some();
            let forward = match (simplified, action.forward) {
                (true, Some(_)) => {
                    return Err("a forward action gives targetGroupARN/targetGroupName and forwardConfig; give one".into())
                }
                (false, None) => {
                    return Err("a forward action needs targetGroupARN, targetGroupName or forwardConfig".into())
                }
                (true, None) => ForwardJson {
                    target_groups: vec![TupleJson {
                        target_group_arn: action.target_group_arn,
                        target_group_name: action.target_group_name,
                        service_name: None,
                        service_port: None,
                        weight: None,
                    }],
                    stickiness: None,
                },
                (false, Some(forward)) => forward,
            };
            let several = forward.target_groups.len() > 1;
            let mut targets = Vec::new();
            for tuple in forward.target_groups {
                if several && tuple.weight.is_none() {
                    return Err("every target group of a weighted forward needs a weight".into());
                }
                let target = match (
                    tuple.target_group_arn,
                    tuple.target_group_name,
                    tuple.service_name,
                ) {
                    (Some(_), _, Some(_)) | (_, Some(_), Some(_)) => {
                        return Err(
                            "a target group names a Service and a target group; give one".into(),
                        )
                    }
                    (Some(arn), _, None) => ForwardTarget::Arn(arn),
                    (None, Some(name), None) => ForwardTarget::Name(name),
                    (None, None, Some(name)) => {
                        let port = tuple.service_port.as_ref().ok_or_else(|| {
                            format!("target group Service {name} has no servicePort")
                        })?;
                        ForwardTarget::Service {
                            name,
                            port: service_port(port)?,
                        }
                    }
                    (None, None, None) => {
                        return Err(
                            "a target group needs targetGroupARN, targetGroupName or serviceName"
                                .into(),
                        )
                    }
                };
                targets.push((target, tuple.weight));
            }
            let stickiness_seconds = forward
                .stickiness
                .filter(|s| s.enabled == Some(true))
                // AWS's default stickiness duration when none is given (unconfirmed for upstream).
                .map(|s| s.duration_seconds.unwrap_or(3600));
            Ok(AnnotatedAction::Forward {
                targets,
                stickiness_seconds,
            })
        }
        other => Err(format!(
            "action type {other:?} is not fixed-response, forward or redirect"
        )),
    }
}

#[derive(Deserialize)]
struct ValuesJson {
    #[serde(default)]
    values: Option<Vec<String>>,
    #[serde(rename = "regexvalues", default)]
    regex_values: Option<Vec<String>>,
    #[serde(rename = "httpheadername", default)]
    header_name: Option<String>,
}

#[derive(Deserialize)]
struct QueryPairJson {
    key: Option<String>,
    #[serde(default)]
    value: String,
}

#[derive(Deserialize)]
struct QueryJson {
    #[serde(default)]
    values: Vec<QueryPairJson>,
}

#[derive(Deserialize)]
struct ConditionJson {
    field: String,
    #[serde(rename = "hostheaderconfig")]
    host: Option<ValuesJson>,
    #[serde(rename = "pathpatternconfig")]
    path: Option<ValuesJson>,
    #[serde(rename = "httpheaderconfig")]
    header: Option<ValuesJson>,
    #[serde(rename = "httprequestmethodconfig")]
    method: Option<ValuesJson>,
    #[serde(rename = "querystringconfig")]
    query: Option<QueryJson>,
    #[serde(rename = "sourceipconfig")]
    source_ip: Option<ValuesJson>,
}

/// A condition's values: plain (`Ok(Ok(values))`) or regular expressions (`Ok(Err(regex))`).
type Matching = Result<Vec<String>, Vec<String>>;

fn matching_values(field: &str, config: Option<ValuesJson>) -> Result<Matching, String> {
    let config = config.ok_or_else(|| format!("a {field} condition needs its config"))?;
    match (
        config.values.filter(|v| !v.is_empty()),
        config.regex_values.filter(|v| !v.is_empty()),
    ) {
        (Some(_), Some(_)) => Err(format!(
            "a {field} condition gives values and regexValues; give one"
        )),
        (None, Some(regex)) => Ok(Err(regex)),
        (None, None) => Err(format!("a {field} condition needs values or regexValues")),
        (Some(values), None) => Ok(Ok(values)),
    }
}

fn plain_values(field: &str, config: Option<ValuesJson>) -> Result<Vec<String>, String> {
    let config = config.ok_or_else(|| format!("a {field} condition needs its config"))?;
    config
        .values
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("a {field} condition needs values"))
}

/// Decodes and validates `conditions.<name>`; unknown fields are ignored, as upstream does.
pub fn parse_conditions(raw: &str) -> Result<Vec<RuleCondition>, String> {
    let conditions: Vec<ConditionJson> = decode(raw)?;
    let mut parsed = Vec::new();
    for condition in conditions {
        parsed.push(match condition.field.as_str() {
            "host-header" => match matching_values("host-header", condition.host)? {
                Ok(values) => RuleCondition::HostHeader { values },
                Err(regex_values) => RuleCondition::HostHeaderRegex { regex_values },
            },
            "path-pattern" => match matching_values("path-pattern", condition.path)? {
                Ok(values) => RuleCondition::PathPattern { values },
                Err(regex_values) => RuleCondition::PathPatternRegex { regex_values },
            },
            "http-header" => {
                let name = condition
                    .header
                    .as_ref()
                    .and_then(|h| h.header_name.clone())
                    .unwrap_or_default();
                match matching_values("http-header", condition.header)? {
                    Ok(values) => RuleCondition::HttpHeader { name, values },
                    Err(regex_values) => RuleCondition::HttpHeaderRegex { name, regex_values },
                }
            }
            "http-request-method" => RuleCondition::HttpRequestMethod {
                values: plain_values("http-request-method", condition.method)?,
            },
            "query-string" => {
                let query = condition
                    .query
                    .filter(|q| !q.values.is_empty())
                    .ok_or("a query-string condition needs values")?;
                if query.values.iter().any(|pair| pair.value.is_empty()) {
                    return Err("every query-string pair needs a value".into());
                }
                RuleCondition::QueryString {
                    values: query.values.into_iter().map(|p| (p.key, p.value)).collect(),
                }
            }
            "source-ip" => RuleCondition::SourceIp {
                values: plain_values("source-ip", condition.source_ip)?,
            },
            _ => continue,
        });
    }
    Ok(parsed)
}

#[derive(Deserialize)]
struct RewriteJson {
    #[serde(default)]
    regex: String,
    #[serde(default)]
    replace: String,
}

#[derive(Deserialize)]
struct RewritesJson {
    #[serde(default)]
    rewrites: Vec<RewriteJson>,
}

#[derive(Deserialize)]
struct TransformJson {
    #[serde(rename = "type")]
    kind: String,
    #[serde(rename = "urlrewriteconfig")]
    url: Option<RewritesJson>,
    #[serde(rename = "hostheaderrewriteconfig")]
    host: Option<RewritesJson>,
}

/// Decodes and validates `transforms.<name>` (upstream's §3.5.4): `url-rewrite` or
/// `host-header-rewrite`, each with a non-empty list of `{regex, replace}`.
pub fn parse_transforms(raw: &str) -> Result<Vec<RuleTransform>, String> {
    let transforms: Vec<TransformJson> = decode(raw)?;
    transforms
        .into_iter()
        .map(|transform| {
            let config = match transform.kind.as_str() {
                "url-rewrite" => transform.url,
                "host-header-rewrite" => transform.host,
                other => {
                    return Err(format!(
                        "transform type {other:?} is not url-rewrite or host-header-rewrite"
                    ))
                }
            };
            let rewrites: Vec<(String, String)> = config
                .map(|c| c.rewrites)
                .filter(|r| !r.is_empty())
                .ok_or_else(|| format!("a {} transform needs rewrites", transform.kind))?
                .into_iter()
                .map(|r| (r.regex, r.replace))
                .collect();
            Ok(if transform.kind == "url-rewrite" {
                RuleTransform::UrlRewrite { rewrites }
            } else {
                RuleTransform::HostHeaderRewrite { rewrites }
            })
        })
        .collect()
}
