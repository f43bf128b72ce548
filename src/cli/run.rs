//! `run`: the controller in the cluster. Flags become the controller configuration and the AWS
//! client settings; the probes and metrics are served; once this replica leads (Lease election,
//! unless turned off) the Service, Ingress and target-registration loops run until SIGTERM or
//! SIGINT (then: no new AWS call starts, the calls under way finish, the Lease is released, exit
//! 0) or until leadership is lost (exit 1, so a restart rejoins the election).

use super::{controller_config, ControllerFlags};
use crate::aws_clients::{load_sdk_config, AwsClientSettings};
use crate::cloud::sdk::SdkCloud;
use crate::cloud::throttle::{rules_with_overrides, ThrottleRule};
use crate::config::ControllerConfig;
use crate::controller::ingress::{run_ingress_controller, IngressReconciler};
use crate::controller::{run_service_controller, ServiceReconciler};
use crate::leader_election::{LeaderElector, DEFAULT_LEASE_NAME};
use crate::lifecycle;
use crate::metrics::metrics;
use crate::registration::networking::NetworkingSettings;
use crate::registration::run_registration_loop;
use crate::watched::services::WatchedServices;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

mod webhooks;
use webhooks::{start_webhooks, WebhookFlags};
pub use webhooks::{WebhookCertificateSource, WebhookServerSettings};

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
    /// Without `--aws-vpc-id`: the VPC is the one carrying all these tags (`k=v,k2=v2`); without
    /// either, instance metadata's, else that of the instance named by `NODENAME`.
    #[arg(long, default_value = "")]
    aws_vpc_tags: String,
    /// Deprecated upstream and ignored (a warning when given).
    #[arg(long, default_value = "Name")]
    aws_vpc_tag_key: String,
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
    /// Ingress groups reconciled at once (one group is never reconciled twice at once).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..))]
    ingress_max_concurrent_reconciles: u16,
    /// How often an unchanged Service's load balancer is checked against AWS for drift
    /// (`10h`, `30m`, `10h0m0s`).
    #[arg(long, default_value = "10h", value_parser = humantime::parse_duration)]
    sync_period: Duration,
    /// Prometheus `/metrics` (`:8080` is every interface).
    #[arg(long, default_value = ":8080")]
    metrics_bind_addr: String,
    /// `/healthz` and `/readyz`.
    #[arg(long, default_value = ":61779")]
    health_probe_bind_addr: String,
    /// Only the replica holding the Lease works; the others wait to take over.
    #[arg(long, default_value = "true", action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    enable_leader_election: bool,
    /// The Lease's name.
    #[arg(long, default_value = DEFAULT_LEASE_NAME)]
    leader_election_id: String,
    /// The Lease's namespace; empty: the pod's own (the client's default namespace).
    #[arg(long, default_value = "")]
    leader_election_namespace: String,
    /// `info` or `debug` (other values behave as info, as upstream); RUST_LOG wins when set.
    #[arg(long, default_value = "info")]
    pub log_level: String,
    /// `text` or `json` (one JSON object per line).
    #[arg(long, value_parser = ["text", "json"], default_value = "text")]
    pub log_format: String,
    #[command(flatten)]
    webhook: WebhookFlags,
}

/// What `run` will use, derived from its flags.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSettings {
    pub config: ControllerConfig,
    pub aws: AwsClientSettings,
    pub drift_check_interval: Duration,
    pub throttle: Vec<ThrottleRule>,
    pub metrics_address: SocketAddr,
    pub health_address: SocketAddr,
    /// The Lease (namespace, empty for the client's default; name), or none without election.
    pub leader_election: Option<(String, String)>,
    /// `--aws-vpc-tags`, used when `--aws-vpc-id` is not given.
    pub vpc_tags: crate::model::Tags,
    /// None with `--enable-webhooks=false`.
    pub webhook: Option<WebhookServerSettings>,
}

impl RunArguments {
    pub fn settings(&self) -> Result<RunSettings, String> {
        let cluster_name = self
            .controller
            .cluster_name
            .clone()
            .ok_or("--cluster-name is required")?;
        // Without --aws-vpc-id the VPC is discovered at startup (`run`, `crate::vpc`).
        let vpc_id = self.controller.vpc_id.clone().unwrap_or_default();
        Ok(RunSettings {
            config: controller_config(&self.controller, &cluster_name, &vpc_id)?,
            aws: AwsClientSettings {
                region: self.aws_region.clone(),
                endpoint: self.aws_endpoint.clone(),
                max_attempts: self.aws_max_retries.max(1),
                ..AwsClientSettings::default()
            },
            drift_check_interval: self.sync_period,
            vpc_tags: crate::annotations::parse_string_map(&self.aws_vpc_tags)
                .map_err(|e| format!("--aws-vpc-tags: {e}"))?,
            throttle: rules_with_overrides(&throttle_overrides(&self.aws_api_throttle)?),
            metrics_address: crate::probes::parse_bind_address(&self.metrics_bind_addr)
                .map_err(|e| format!("--metrics-bind-addr: {e}"))?,
            health_address: crate::probes::parse_bind_address(&self.health_probe_bind_addr)
                .map_err(|e| format!("--health-probe-bind-addr: {e}"))?,
            webhook: self.webhook.settings(),
            leader_election: self.enable_leader_election.then(|| {
                (
                    self.leader_election_namespace.clone(),
                    self.leader_election_id.clone(),
                )
            }),
        })
    }
}

fn throttle_overrides(entries: &str) -> Result<Vec<ThrottleRule>, String> {
    crate::annotations::parse_string_list(entries)
        .iter()
        .map(|entry| ThrottleRule::parse(entry))
        .collect()
}

/// This replica's name in the election: the pod's name (HOSTNAME) and a per-process suffix, as
/// client-go does, so a restarted pod is a new candidate.
fn election_identity() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "aws-load-balancer-controller".into());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("{host}_{:x}{:08x}", std::process::id(), nanos)
}

/// Resolves on SIGTERM or SIGINT.
async fn stop_requested() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = terminate.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The VPC of the instance this pod runs on, from instance metadata (IMDSv2): the VPC of its
/// primary network interface.
async fn vpc_id_from_instance_metadata() -> Result<String, String> {
    let imds = aws_config::imds::Client::builder()
        .max_attempts(2)
        .connect_timeout(Duration::from_secs(1))
        .read_timeout(Duration::from_secs(2))
        .build();
    let mac = imds
        .get("/latest/meta-data/mac")
        .await
        .map_err(|e| e.to_string())?;
    let vpc_id = imds
        .get(format!(
            "/latest/meta-data/network/interfaces/macs/{}/vpc-id",
            mac.as_ref()
        ))
        .await
        .map_err(|e| e.to_string())?;
    Ok(vpc_id.as_ref().trim().to_string())
}

/// The cluster's VPC: the flag's when given (nothing is then contacted), else discovered
/// ([`crate::vpc::discover_vpc_id`]: tags, instance metadata, the `NODENAME` instance).
async fn resolve_vpc_id(
    config: &mut ControllerConfig,
    cloud: &SdkCloud,
    tags: &crate::model::Tags,
) -> Result<(), String> {
    if !config.vpc_id.is_empty() {
        return Ok(());
    }
    let sources = crate::vpc::VpcSources {
        tags: tags.clone(),
        node_name: std::env::var("NODENAME").ok().filter(|n| !n.is_empty()),
    };
    let vpc_id =
        crate::vpc::discover_vpc_id(cloud, &sources, vpc_id_from_instance_metadata()).await?;
    tracing::info!(%vpc_id, "VPC discovered");
    config.vpc_id = vpc_id;
    Ok(())
}

/// How long a stopping process waits for the AWS calls under way.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(8);

async fn aws_calls_drained() {
    let deadline = tokio::time::Instant::now() + DRAIN_TIMEOUT;
    while metrics().aws_calls_in_flight.get() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs the controller until stopped (Ok) or until it cannot go on (Err).
pub async fn run(arguments: &RunArguments) -> Result<(), String> {
    let mut settings = arguments.settings()?;
    if arguments.aws_vpc_tag_key != "Name" {
        tracing::warn!("--aws-vpc-tag-key is deprecated and ignored");
    }
    let cloud = SdkCloud::with_throttle(&load_sdk_config(&settings.aws).await, settings.throttle);
    resolve_vpc_id(&mut settings.config, &cloud, &settings.vpc_tags).await?;
    let _probes = crate::probes::serve(settings.metrics_address, settings.health_address).await?;
    let client = kube::Client::try_default()
        .await
        .map_err(|e| format!("cannot reach the Kubernetes API: {e}"))?;
    // The one watch of Services, for the webhooks (every replica) and the loops (the leader).
    let watched_services = WatchedServices::spawn(&client);
    if let Some(webhook) = &settings.webhook {
        start_webhooks(
            &client,
            &cloud,
            &settings.config,
            &arguments.ingress_class,
            webhook,
            &watched_services,
        )
        .await?;
    }
    let mut elector = settings.leader_election.as_ref().map(|(namespace, name)| {
        let namespace = if namespace.is_empty() {
            client.default_namespace().to_string()
        } else {
            namespace.clone()
        };
        LeaderElector::new(client.clone(), &namespace, name, &election_identity())
    });
    let stop = stop_requested();
    tokio::pin!(stop);
    if let Some(elector) = elector.as_mut() {
        tracing::info!(identity = %elector.identity, "waiting for leadership");
        loop {
            match elector.try_acquire_or_renew().await {
                Ok(true) => break,
                // Leadership is known (someone else leads): a standby is ready.
                Ok(false) => lifecycle::set_ready(true),
                Err(error) => tracing::warn!(%error, "cannot read or write the leader Lease"),
            }
            tokio::select! {
                // A standby looks twice per retry period, and just after the holder's expiry.
                _ = tokio::time::sleep(elector.next_look()) => {}
                _ = &mut stop => return Ok(()),
            }
        }
        metrics()
            .leader_election_master_status
            .with_label_values(&[elector.identity.as_str()])
            .set(1);
    }
    let services = Arc::new(ServiceReconciler::new(
        client.clone(),
        cloud.clone(),
        settings.config.clone(),
        settings.drift_check_interval,
    ));
    let networking = NetworkingSettings::from_config(&settings.config);
    let mut ingress_reconciler = IngressReconciler::new(
        client.clone(),
        cloud.clone(),
        settings.config,
        &arguments.ingress_class,
    );
    ingress_reconciler.drift_check_interval = settings.drift_check_interval;
    ingress_reconciler.max_concurrent_reconciles =
        usize::from(arguments.ingress_max_concurrent_reconciles);
    let ingresses = Arc::new(ingress_reconciler);
    // Ready once the three loops' caches hold their first lists (not merely started).
    lifecycle::expect_cache_syncs(3);
    let loops = async {
        tokio::select! {
            _ = run_service_controller(services, watched_services.clone()) => "the Service watch ended",
            _ = run_ingress_controller(ingresses, watched_services.clone()) => "the Ingress watch ended",
            _ = run_registration_loop(client, cloud, networking, watched_services) => "the TargetGroupBinding watch ended",
        }
    };
    tokio::pin!(loops);
    lifecycle::set_ready(true);
    tracing::info!("controller started");
    let renewing = async {
        match elector.as_mut() {
            Some(elector) => elector.keep_renewing().await,
            None => std::future::pending().await,
        }
    };
    let outcome = tokio::select! {
        ended = &mut loops => Err(ended.to_string()),
        _ = renewing => Err("leadership lost: the Lease could not be renewed in time".to_string()),
        _ = &mut stop => Ok(()),
    };
    lifecycle::set_ready(false);
    if outcome.is_ok() {
        tracing::info!("stopping: finishing the AWS calls under way");
        lifecycle::begin_stopping();
        tokio::select! {
            _ = &mut loops => {}
            _ = aws_calls_drained() => {}
        }
    }
    if let Some(elector) = elector.as_mut() {
        if let Err(error) = elector.release().await {
            tracing::warn!(%error, "cannot release the leader Lease");
        }
    }
    outcome
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
            Command::Run(arguments) => *arguments,
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
    fn upstreams_flags_alone_imply_run_and_booleans_take_false() {
        let line: Vec<std::ffi::OsString> = [
            "aws-load-balancer-controller",
            "--cluster-name=prod",
            "--aws-vpc-id=vpc-1",
            "--enable-backend-security-group=false",
            "--enable-leader-election=false",
            "--enable-shield=false",
            "--disable-restricted-sg-rules",
            "--tolerate-non-existent-backend-action=false",
            "--metrics-bind-addr=:9090",
        ]
        .iter()
        .map(Into::into)
        .collect();
        let parsed = Arguments::try_parse_from(crate::cli::with_implied_run(line)).unwrap();
        let Command::Run(arguments) = parsed.command else {
            panic!("flags alone are a run");
        };
        let settings = arguments.settings().unwrap();
        assert!(!settings.config.enable_backend_security_group);
        assert!(!settings.config.enable_shield);
        assert!(
            settings.config.disable_restricted_sg_rules,
            "a boolean flag alone means true"
        );
        assert!(!settings.config.tolerate_missing_backend_action);
        assert_eq!(settings.leader_election, None);
        assert_eq!(settings.metrics_address.port(), 9090);
        let defaults = run_arguments(&["--cluster-name=prod", "--aws-vpc-id=vpc-1"])
            .settings()
            .unwrap();
        assert_eq!(
            defaults.leader_election,
            Some((String::new(), "aws-load-balancer-controller-leader".into()))
        );
        assert_eq!(defaults.health_address.port(), 61779);
        let help: Vec<std::ffi::OsString> = vec!["x".into(), "--help".into()];
        assert_eq!(crate::cli::with_implied_run(help.clone()), help);
    }

    #[test]
    fn missing_or_invalid_flags_are_refused_with_their_names() {
        let no_cluster = run_arguments(&["--aws-vpc-id=vpc-1"])
            .settings()
            .unwrap_err();
        assert!(no_cluster.contains("--cluster-name"), "{no_cluster}");
        let no_vpc = run_arguments(&["--cluster-name=prod"]).settings().unwrap();
        assert_eq!(
            no_vpc.config.vpc_id, "",
            "found in instance metadata at startup"
        );
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
