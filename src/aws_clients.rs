//! Builds the AWS SDK configuration and clients the controller talks to: region, an optional
//! endpoint override (`--aws-endpoint` or the SDK's own `AWS_ENDPOINT_URL`, which is how tests
//! reach moto), capped retries and timeouts.
//!
//! It does not call AWS; it only configures clients (each one measured into `crate::metrics`). Credentials come from the SDK's default
//! chain unless static ones are given (tests).

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use std::time::Duration;

/// How the controller reaches AWS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsClientSettings {
    pub region: Option<String>,
    /// Overrides every service's endpoint, e.g. `http://127.0.0.1:5000` for moto.
    pub endpoint: Option<String>,
    /// Attempts per call including the first; 1 means no retry.
    pub max_attempts: u32,
    /// Access key id and secret, instead of the default credential chain.
    pub static_credentials: Option<(String, String)>,
    pub operation_timeout: Duration,
}

impl Default for AwsClientSettings {
    fn default() -> Self {
        Self {
            region: None,
            endpoint: None,
            max_attempts: 3,
            static_credentials: None,
            operation_timeout: Duration::from_secs(30),
        }
    }
}

/// The SDK configuration for `settings`, falling back to the environment for what is unset.
pub async fn load_sdk_config(settings: &AwsClientSettings) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(settings.max_attempts.max(1)))
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(settings.operation_timeout)
                .build(),
        );
    if let Some(region) = &settings.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(endpoint) = &settings.endpoint {
        loader = loader.endpoint_url(endpoint.clone());
    }
    if let Some((access_key_id, secret)) = &settings.static_credentials {
        let credentials = aws_sdk_elasticloadbalancingv2::config::Credentials::new(
            access_key_id.clone(),
            secret.clone(),
            None,
            None,
            "static",
        );
        loader = loader.credentials_provider(credentials);
    }
    loader.load().await
}

/// The SDK clients of the services the controller uses.
#[derive(Debug, Clone)]
pub struct AwsClients {
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub acm: aws_sdk_acm::Client,
    pub wafv2: aws_sdk_wafv2::Client,
    pub route53: aws_sdk_route53::Client,
}

/// A client of the SDK crate `$sdk` for `$config`, its calls measured into the metrics.
#[macro_export]
macro_rules! measured_client {
    ($sdk:ident, $config:expr) => {
        $sdk::Client::from_conf(
            $sdk::config::Builder::from($config)
                .interceptor($crate::cloud::sdk::call_metrics::CallMetrics)
                .build(),
        )
    };
}

impl AwsClients {
    pub fn new(config: &SdkConfig) -> Self {
        Self {
            elbv2: measured_client!(aws_sdk_elasticloadbalancingv2, config),
            ec2: measured_client!(aws_sdk_ec2, config),
            acm: measured_client!(aws_sdk_acm, config),
            wafv2: measured_client!(aws_sdk_wafv2, config),
            route53: measured_client!(aws_sdk_route53, config),
        }
    }

    pub async fn from_settings(settings: &AwsClientSettings) -> Self {
        Self::new(&load_sdk_config(settings).await)
    }
}
