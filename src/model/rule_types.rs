//! Listener rules in our own types, shared by the model and the AWS port: conditions and
//! actions as ELBv2 knows them, and a listener's mutual TLS. A rule's
//! *content* (conditions + actions) is compared in a canonical order, so the same rule read back
//! from AWS in another order is not a change.

use super::Tags;

/// One condition of a rule. Values keep their order; comparisons go through `RuleContent`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase", tag = "field")]
pub enum RuleCondition {
    #[serde(rename = "host-header")]
    HostHeader { values: Vec<String> },
    #[serde(rename = "path-pattern")]
    PathPattern { values: Vec<String> },
    #[serde(rename = "http-header")]
    HttpHeader { name: String, values: Vec<String> },
    #[serde(rename = "http-request-method")]
    HttpRequestMethod { values: Vec<String> },
    /// `(key, value)` pairs; a pair without a key matches the value alone.
    #[serde(rename = "query-string")]
    QueryString {
        values: Vec<(Option<String>, String)>,
    },
    #[serde(rename = "source-ip")]
    SourceIp { values: Vec<String> },
    /// `host-header` matched by regular expressions (`RegexValues`), never mixed with values.
    #[serde(rename = "host-header-regex", rename_all = "camelCase")]
    HostHeaderRegex { regex_values: Vec<String> },
    /// `path-pattern` matched by regular expressions.
    #[serde(rename = "path-pattern-regex", rename_all = "camelCase")]
    PathPatternRegex { regex_values: Vec<String> },
    /// `http-header` matched by regular expressions.
    #[serde(rename = "http-header-regex", rename_all = "camelCase")]
    HttpHeaderRegex {
        name: String,
        regex_values: Vec<String>,
    },
}

/// Where a redirect goes; unset parts keep the request's (`#{host}` etc. in AWS terms).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RedirectConfig {
    pub protocol: Option<String>,
    pub port: Option<String>,
    pub host: Option<String>,
    pub path: Option<String>,
    pub query: Option<String>,
    /// `HTTP_301` or `HTTP_302`.
    pub status_code: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FixedResponseConfig {
    pub status_code: String,
    pub content_type: Option<String>,
    pub message_body: Option<String>,
}

/// What authenticate actions share: what to do with an unauthenticated request, the scope, the
/// session cookie and its lifetime, and extra parameters of the authentication request.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationSettings {
    /// `authenticate`, `allow` or `deny`.
    pub on_unauthenticated_request: String,
    pub scope: String,
    pub session_cookie_name: String,
    pub session_timeout: i64,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub extra_params: std::collections::BTreeMap<String, String>,
}

/// Authenticate through an OpenID Connect identity provider.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OidcConfig {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub user_info_endpoint: String,
    pub client_id: String,
    /// Sent on writes; AWS never returns it, so it is left out of comparisons and printouts.
    #[serde(skip_serializing)]
    pub client_secret: Option<String>,
    #[serde(flatten)]
    pub settings: AuthenticationSettings,
}

/// Authenticate through an Amazon Cognito user pool.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CognitoConfig {
    pub user_pool_arn: String,
    pub user_pool_client_id: String,
    pub user_pool_domain: String,
    #[serde(flatten)]
    pub settings: AuthenticationSettings,
}

/// One more claim a JWT must carry: its `format` (`single-string`, `string-array`,
/// `space-separated-values`), name and accepted values.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JwtClaim {
    pub format: String,
    pub name: String,
    pub values: Vec<String>,
}

/// Validate a bearer JWT against an issuer's keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JwtValidationConfig {
    pub jwks_endpoint: String,
    pub issuer: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub additional_claims: Vec<JwtClaim>,
}

/// An action of a rule (or of a listener's default).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum RuleAction {
    /// Target groups by ARN with optional weights; stickiness duration in seconds when enabled.
    #[serde(rename = "forward", rename_all = "camelCase")]
    Forward {
        target_groups: Vec<(String, Option<i32>)>,
        stickiness_seconds: Option<i32>,
    },
    #[serde(rename = "redirect")]
    Redirect(RedirectConfig),
    #[serde(rename = "fixed-response")]
    FixedResponse(FixedResponseConfig),
    #[serde(rename = "authenticate-oidc")]
    AuthenticateOidc(OidcConfig),
    #[serde(rename = "authenticate-cognito")]
    AuthenticateCognito(CognitoConfig),
    #[serde(rename = "jwt-validation")]
    JwtValidation(JwtValidationConfig),
}

impl RuleAction {
    /// The action as AWS reports it back: without an OIDC client secret.
    pub fn as_reported(&self) -> Self {
        match self {
            RuleAction::AuthenticateOidc(config) => RuleAction::AuthenticateOidc(OidcConfig {
                client_secret: None,
                ..config.clone()
            }),
            other => other.clone(),
        }
    }
}

/// A rewrite a rule applies before its actions: of the URL or of the Host header, each rewrite
/// a `(regex, replace)` pair.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum RuleTransform {
    #[serde(rename = "url-rewrite")]
    UrlRewrite { rewrites: Vec<(String, String)> },
    #[serde(rename = "host-header-rewrite")]
    HostHeaderRewrite { rewrites: Vec<(String, String)> },
}

/// What a rule matches and does.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct RuleContent {
    pub conditions: Vec<RuleCondition>,
    pub actions: Vec<RuleAction>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub transforms: Vec<RuleTransform>,
}

impl RuleContent {
    /// Conditions sorted (AWS may return them in any order); actions keep their order, which
    /// AWS fixes by their `Order` field, and are compared as AWS reports them (no OIDC secret).
    pub fn canonical(&self) -> Self {
        let mut conditions = self.conditions.clone();
        conditions.sort();
        Self {
            conditions,
            actions: self.actions.iter().map(RuleAction::as_reported).collect(),
            transforms: self.transforms.clone(),
        }
    }

    /// The content as AWS reports it back (no OIDC client secret).
    pub fn as_reported(&self) -> Self {
        Self {
            conditions: self.conditions.clone(),
            actions: self.actions.iter().map(RuleAction::as_reported).collect(),
            transforms: self.transforms.clone(),
        }
    }

    pub fn same_as(&self, other: &RuleContent) -> bool {
        self.canonical() == other.canonical()
    }
}

/// A non-default rule of a listener as AWS holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedRule {
    pub arn: String,
    pub listener_arn: String,
    pub priority: i32,
    pub content: RuleContent,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleInput {
    pub listener_arn: String,
    pub priority: i32,
    pub content: RuleContent,
    pub tags: Tags,
}

/// Mutual TLS of an HTTPS listener.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MutualAuthentication {
    /// `off`, `passthrough` or `verify`.
    pub mode: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trust_store_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignore_client_certificate_expiry: Option<bool>,
    /// `on` or `off` (verify only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advertise_trust_store_ca_names: Option<String>,
}
