//! `run`'s webhook part: the flags (upstream's, plus the managed-certificate ones), what they
//! become, and starting the server with its caches and certificate source.

use crate::cloud::sdk::SdkCloud;
use crate::config::ControllerConfig;
use crate::lifecycle;
use crate::watched::services::WatchedServices;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The admission webhook server's flags (upstream's, plus the managed-certificate ones).
#[derive(clap::Args, Debug, Clone)]
pub struct WebhookFlags {
    /// Serve the admission webhooks (every replica serves them, leader or not).
    #[arg(long, default_value = "true", action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    enable_webhooks: bool,
    /// The webhooks' HTTPS port (every interface).
    #[arg(long, default_value_t = 9443)]
    webhook_bind_port: u16,
    /// Where `tls.crt`/`tls.key` are mounted; empty: `<tmp>/k8s-webhook-server/serving-certs`.
    #[arg(long, default_value = "")]
    webhook_cert_dir: String,
    /// The certificate file's name in the directory; empty: `tls.crt`.
    #[arg(long, default_value = "")]
    webhook_cert_file: String,
    /// The key file's name in the directory; empty: `tls.key`.
    #[arg(long, default_value = "")]
    webhook_key_file: String,
    /// Instead of files: the controller keeps a self-signed CA and serving certificate in this
    /// Secret (in the controller's namespace) and publishes the CA in the webhook configurations.
    #[arg(long, default_value = "")]
    webhook_tls_secret: String,
    /// The webhook Service the serving certificate is issued for (managed certificate).
    #[arg(long, default_value = "aws-load-balancer-webhook-service")]
    webhook_service_name: String,
    /// The Mutating- and ValidatingWebhookConfiguration that get the CA (managed certificate).
    #[arg(long, default_value = "aws-load-balancer-webhook")]
    webhook_configuration_name: String,
    /// The cluster's DNS domain, for the serving certificate's names (managed certificate).
    #[arg(long, default_value = "cluster.local")]
    cluster_dns_domain: String,
    /// Inject readiness gates into new pods of opted-in namespaces.
    #[arg(long, default_value = "true", action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    enable_pod_readiness_gate_inject: bool,
}

/// Where the webhook server's certificate comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum WebhookCertificateSource {
    Files {
        dir: std::path::PathBuf,
        cert_file: String,
        key_file: String,
    },
    /// The Secret's name; the namespace is the controller's.
    Managed {
        secret: String,
        service: String,
        configuration: String,
        dns_domain: String,
    },
}

/// What the webhook server is started with.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookServerSettings {
    pub address: SocketAddr,
    pub certificate: WebhookCertificateSource,
    pub inject_readiness_gates: bool,
}

impl WebhookFlags {
    pub(super) fn settings(&self) -> Option<WebhookServerSettings> {
        if !self.enable_webhooks {
            return None;
        }
        let or = |value: &str, default: &str| {
            if value.is_empty() {
                default.to_string()
            } else {
                value.to_string()
            }
        };
        let certificate = if self.webhook_tls_secret.is_empty() {
            let dir = if self.webhook_cert_dir.is_empty() {
                std::env::temp_dir().join("k8s-webhook-server/serving-certs")
            } else {
                self.webhook_cert_dir.clone().into()
            };
            WebhookCertificateSource::Files {
                dir,
                cert_file: or(&self.webhook_cert_file, "tls.crt"),
                key_file: or(&self.webhook_key_file, "tls.key"),
            }
        } else {
            WebhookCertificateSource::Managed {
                secret: self.webhook_tls_secret.clone(),
                service: self.webhook_service_name.clone(),
                configuration: self.webhook_configuration_name.clone(),
                dns_domain: self.cluster_dns_domain.clone(),
            }
        };
        Some(WebhookServerSettings {
            address: SocketAddr::from(([0, 0, 0, 0], self.webhook_bind_port)),
            certificate,
            inject_readiness_gates: self.enable_pod_readiness_gate_inject,
        })
    }
}

/// Starts the webhook server (on every replica): its caches, its certificate source and the
/// HTTPS listener; `/readyz` waits until the caches are filled and a certificate is loaded.
pub(super) async fn start_webhooks(
    client: &kube::Client,
    cloud: &SdkCloud,
    config: &ControllerConfig,
    ingress_class: &str,
    webhook: &WebhookServerSettings,
    services: &WatchedServices,
) -> Result<(), String> {
    use crate::webhook::{caches::WebhookCaches, certificates, server};
    lifecycle::set_webhooks_pending(true);
    let caches = WebhookCaches::spawn(client, services.clone());
    let serving = certificates::ServingCertificate::default();
    match &webhook.certificate {
        WebhookCertificateSource::Files {
            dir,
            cert_file,
            key_file,
        } => {
            tokio::spawn(certificates::follow_files(
                dir.clone(),
                cert_file.clone(),
                key_file.clone(),
                serving.clone(),
            ));
        }
        WebhookCertificateSource::Managed {
            secret,
            service,
            configuration,
            dns_domain,
        } => {
            let namespace = client.default_namespace().to_string();
            let managed = certificates::ManagedCertificate {
                dns_names: certificates::service_dns_names(service, &namespace, dns_domain),
                namespace,
                secret_name: secret.clone(),
                configuration_name: configuration.clone(),
            };
            tokio::spawn(managed.maintain(
                client.clone(),
                serving.clone(),
                Duration::from_secs(60),
            ));
        }
    }
    let admission = Arc::new(server::Admission {
        caches: caches.clone(),
        settings: crate::webhook::WebhookSettings {
            inject_readiness_gates: webhook.inject_readiness_gates,
            load_balancer_class: config.load_balancer_class.clone(),
            ingress_class: ingress_class.to_string(),
        },
        cloud: cloud.clone(),
    });
    let (address, _task) =
        server::serve(webhook.address, serving.clone(), server::router(admission)).await?;
    tokio::spawn(async move {
        if let Err(error) = caches.wait_until_ready().await {
            tracing::error!(%error, "webhook caches stopped");
            return;
        }
        while !serving.is_loaded() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        lifecycle::set_webhooks_pending(false);
        tracing::info!(%address, "webhooks serving");
    });
    Ok(())
}
