//! `run`: the controller in the cluster. Flags become the controller configuration and the AWS
//! client settings; then the Service loop runs until the process is interrupted.

use super::{controller_config, ControllerFlags};
use crate::aws_clients::{load_sdk_config, AwsClientSettings};
use crate::cloud::sdk::SdkCloud;
use crate::cloud::throttle::{rules_with_overrides, ThrottleRule};
use crate::config::ControllerConfig;
use crate::controller::ingress::{run_ingress_controller, IngressReconciler};
use crate::controller::{run_service_controller, ServiceReconciler};
use crate::registration::run_registration_loop;
use std::sync::Arc;
use std::time::Duration;

#[derive(clap::Args)]
pub struct RunArguments {
    #[command(flatten)]
    controller: ControllerFlags,
    /// AWS region; defaults to the SDK's (AWS_REGION, profile, instance metadata).
    #[arg(long)]
    aws_region: Option<String>,
    /// One endpoint for every AWS service (e.g. an AWS-compatible test server); the SDK's
    /// AWS_ENDPOINT_URL works too.
    #[arg(long)]
    aws_endpoint: Option<String>,
    /// Attempts per AWS call, the first included.
    #[arg(long, default_value_t = 10)]
    aws_max_retries: u32,
    /// Client-side rate limits, comma-separated `serviceID:operationRegex=rate:burst` entries;
    /// a service named here loses its default rules (see docs/operations.md).
    #[arg(long, default_value = "")]
    aws_api_throttle: String,
    /// The legacy `kubernetes.io/ingress.class` value this controller serves; empty also takes
    /// Ingresses without any class.
    #[arg(long, default_value = "alb")]
    ingress_class: String,
    /// How often an unchanged Service's load balancer is checked against AWS for drift
    /// (`10h`, `30m`, `10h0m0s`).
    #[arg(long, default_value = "10h", value_parser = humantime::parse_duration)]
    sync_period: Duration,
}

/// What `run` will use, derived from its flags.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSettings {
    pub config: ControllerConfig,
    pub aws: AwsClientSettings,
    pub drift_check_interval: Duration,
    pub throttle: Vec<ThrottleRule>,
}

impl RunArguments {
    pub fn settings(&self) -> Result<RunSettings, String> {
        let cluster_name = self
            .controller
            .cluster_name
            .clone()
            .ok_or("--cluster-name is required")?;
        let vpc_id = self.controller.vpc_id.clone().ok_or("--aws-vpc-id is required (VPC discovery from instance metadata is not implemented yet)")?;
        Ok(RunSettings {
            config: controller_config(&self.controller, &cluster_name, &vpc_id)?,
            aws: AwsClientSettings {
                region: self.aws_region.clone(),
                endpoint: self.aws_endpoint.clone(),
                max_attempts: self.aws_max_retries.max(1),
                ..AwsClientSettings::default()
            },
            drift_check_interval: self.sync_period,
            throttle: rules_with_overrides(&throttle_overrides(&self.aws_api_throttle)?),
        })
    }
}

fn throttle_overrides(entries: &str) -> Result<Vec<ThrottleRule>, String> {
    crate::annotations::parse_string_list(entries)
        .iter()
        .map(|entry| ThrottleRule::parse(entry))
        .collect()
}

/// Runs the controller until interrupted.
pub async fn run(arguments: &RunArguments) -> Result<(), String> {
    let settings = arguments.settings()?;
    let client = kube::Client::try_default()
        .await
        .map_err(|e| format!("cannot reach the Kubernetes API: {e}"))?;
    let cloud = SdkCloud::with_throttle(&load_sdk_config(&settings.aws).await, settings.throttle);
    let services = Arc::new(ServiceReconciler::new(
        client.clone(),
        cloud.clone(),
        settings.config.clone(),
        settings.drift_check_interval,
    ));
    let ingresses = Arc::new(IngressReconciler::new(
        client.clone(),
        cloud.clone(),
        settings.config,
        &arguments.ingress_class,
    ));
    tracing::info!("controller started");
    tokio::select! {
        _ = run_service_controller(services) => Err("the Service watch ended".to_string()),
        _ = run_ingress_controller(ingresses) => Err("the Ingress watch ended".to_string()),
        _ = run_registration_loop(client, cloud) => Err("the TargetGroupBinding watch ended".to_string()),
        signal = tokio::signal::ctrl_c() => signal.map_err(|e| e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Arguments, Command};
    use crate::cloud::throttle::ELBV2;
    use clap::Parser;

    fn run_arguments(line: &[&str]) -> RunArguments {
        let mut full = vec!["aws-load-balancer-controller", "run"];
        full.extend(line);
        match Arguments::try_parse_from(full)
            .expect("valid arguments")
            .command
        {
            Command::Run(arguments) => arguments,
            _ => panic!("not parsed as run"),
        }
    }

    #[test]
    fn flags_become_configuration_and_aws_settings() {
        let settings = run_arguments(&[
            "--cluster-name=prod",
            "--aws-vpc-id=vpc-1",
            "--aws-region=eu-west-1",
            "--aws-endpoint=http://127.0.0.1:5000",
            "--aws-max-retries=3",
            "--sync-period=10h0m0s",
            "--default-tags=team=a",
            "--feature-gates=EnableTCPUDPListener=true",
        ])
        .settings()
        .unwrap();
        assert_eq!(settings.config.cluster_name, "prod");
        assert_eq!(settings.config.vpc_id, "vpc-1");
        assert_eq!(settings.config.default_tags["team"], "a");
        assert!(settings.config.feature_gates.tcp_udp_listener);
        assert_eq!(settings.aws.region.as_deref(), Some("eu-west-1"));
        assert_eq!(
            settings.aws.endpoint.as_deref(),
            Some("http://127.0.0.1:5000")
        );
        assert_eq!(settings.aws.max_attempts, 3);
        assert_eq!(settings.drift_check_interval, Duration::from_secs(36_000));
        assert_eq!(
            settings
                .throttle
                .iter()
                .filter(|rule| rule.service == ELBV2)
                .count(),
            3,
            "upstream's default rules"
        );
        let throttled = run_arguments(&[
            "--cluster-name=prod",
            "--aws-vpc-id=vpc-1",
            "--aws-api-throttle=Elastic Load Balancing v2:.*=5:5",
        ])
        .settings()
        .unwrap();
        let elbv2: Vec<_> = throttled
            .throttle
            .iter()
            .filter(|rule| rule.service == ELBV2)
            .collect();
        assert_eq!(elbv2.len(), 1, "an entry replaces the service's defaults");
        assert_eq!((elbv2[0].rate, elbv2[0].burst), (5.0, 5));
    }

    #[test]
    fn missing_or_invalid_flags_are_refused_with_their_names() {
        let no_cluster = run_arguments(&["--aws-vpc-id=vpc-1"])
            .settings()
            .unwrap_err();
        assert!(no_cluster.contains("--cluster-name"), "{no_cluster}");
        let no_vpc = run_arguments(&["--cluster-name=prod"])
            .settings()
            .unwrap_err();
        assert!(no_vpc.contains("--aws-vpc-id"), "{no_vpc}");
        let tracking = run_arguments(&[
            "--cluster-name=prod",
            "--aws-vpc-id=v",
            "--default-tags=service.k8s.aws/stack=x",
        ])
        .settings()
        .unwrap_err();
        assert!(tracking.contains("service.k8s.aws/stack"), "{tracking}");
        let throttle = run_arguments(&[
            "--cluster-name=prod",
            "--aws-vpc-id=v",
            "--aws-api-throttle=EC2:^Describe=fast:1",
        ])
        .settings()
        .unwrap_err();
        assert!(throttle.contains("--aws-api-throttle"), "{throttle}");
        let mut line = vec!["aws-load-balancer-controller", "run", "--sync-period=soon"];
        assert!(Arguments::try_parse_from(line.drain(..)).is_err());
    }
}
