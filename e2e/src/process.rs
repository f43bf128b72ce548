//! The controller binary as a process, for the tests and benchmarks that run it as a cluster
//! would: its path beside the test or bench binary, a kubeconfig for an emulator, free loopback
//! ports for its probes, its `/metrics` and `/readyz`, its memory, and the leader Lease.

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;
use std::path::{Path, PathBuf};
use tokio::process::{Child, Command};

pub const LEASE: &str = "aws-load-balancer-controller-leader";

/// The controller binary in the same target profile directory as the running test or bench
/// (`target/<profile>/deps/<binary>` → `target/<profile>/aws-load-balancer-controller`), when
/// it has been built.
pub fn controller_binary() -> Option<PathBuf> {
    let current = std::env::current_exe().ok()?;
    let binary = current
        .parent()?
        .parent()?
        .join("aws-load-balancer-controller");
    binary.exists().then_some(binary)
}

/// Writes a kubeconfig for the emulator at `server` (namespace `default`) into `directory`.
pub fn write_kubeconfig(directory: &Path, server: &str) -> PathBuf {
    let path = directory.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: e\n  cluster: {{server: \"{server}\"}}\n\
             users:\n- name: u\n  user: {{}}\ncontexts:\n- name: c\n  context: {{cluster: e, user: u, namespace: default}}\n\
             current-context: c\n"
        ),
    )
    .expect("write the kubeconfig");
    path
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}

/// Where one controller process reaches Kubernetes and AWS.
pub struct ControllerEnvironment<'a> {
    pub binary: &'a Path,
    pub kubeconfig: &'a Path,
    pub aws_endpoint: &'a str,
    pub region: &'a str,
    pub vpc_id: &'a str,
    /// Extra environment, e.g. `AWS_EC2_METADATA_SERVICE_ENDPOINT`.
    pub environment: Vec<(&'a str, String)>,
    /// Extra flags, e.g. `--aws-vpc-tags=…` (with an empty `vpc_id`, no `--aws-vpc-id` is given).
    pub arguments: Vec<String>,
}

/// A running controller process (killed when dropped).
pub struct ControllerProcess {
    pub child: Child,
    pub metrics_port: u16,
    pub health_port: u16,
    /// The admission webhooks' HTTPS port (certificate managed by the process, in the Secret
    /// [`WEBHOOK_SECRET`] of the kubeconfig's namespace).
    pub webhook_port: u16,
}

/// The Secret the processes keep their webhook certificate in.
pub const WEBHOOK_SECRET: &str = "aws-load-balancer-managed-tls";

impl ControllerProcess {
    /// Starts the binary as upstream's chart does (flags only, no `run`), with the pod name
    /// `hostname` (the election identity's prefix) and free ports for its endpoints.
    pub fn start(hostname: &str, environment: &ControllerEnvironment<'_>) -> Self {
        let (metrics_port, health_port, webhook_port) = (free_port(), free_port(), free_port());
        let mut command = Command::new(environment.binary);
        if !environment.vpc_id.is_empty() {
            command.arg(format!("--aws-vpc-id={}", environment.vpc_id));
        }
        command
            .args(&environment.arguments)
            .args([
                "--cluster-name=e2e-cluster".to_string(),
                format!("--aws-region={}", environment.region),
                format!("--aws-endpoint={}", environment.aws_endpoint),
                "--aws-max-retries=1".to_string(),
                format!("--metrics-bind-addr=127.0.0.1:{metrics_port}"),
                format!("--health-probe-bind-addr=127.0.0.1:{health_port}"),
                format!("--webhook-bind-port={webhook_port}"),
                format!("--webhook-tls-secret={WEBHOOK_SECRET}"),
            ])
            .env("KUBECONFIG", environment.kubeconfig)
            .env("HOSTNAME", hostname)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true);
        for (name, value) in &environment.environment {
            command.env(name, value);
        }
        let child = command.spawn().expect("start the controller binary");
        Self {
            child,
            metrics_port,
            health_port,
            webhook_port,
        }
    }

    /// GET `path` on the metrics (`metrics: true`) or health port: status and body.
    pub async fn get(&self, metrics: bool, path: &str) -> Option<(u16, String)> {
        let port = if metrics {
            self.metrics_port
        } else {
            self.health_port
        };
        let response = reqwest::get(format!("http://127.0.0.1:{port}{path}"))
            .await
            .ok()?;
        let status = response.status().as_u16();
        Some((status, response.text().await.ok()?))
    }

    /// Its `/metrics` text (empty when unreachable).
    pub async fn metrics(&self) -> String {
        self.get(true, "/metrics")
            .await
            .map(|(_, text)| text)
            .unwrap_or_default()
    }

    pub async fn is_ready(&self) -> bool {
        self.get(false, "/readyz")
            .await
            .is_some_and(|(status, _)| status == 200)
    }

    /// Resident and peak resident memory in MiB (VmRSS, VmHWM).
    pub fn memory_mib(&self) -> (u64, u64) {
        self.child.id().map(memory_of).unwrap_or_default()
    }
}

/// Resident and peak resident memory of process `pid` in MiB (VmRSS, VmHWM).
pub fn memory_of(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:") / 1024, field("VmHWM:") / 1024)
}

/// The value of the first series of a `/metrics` text whose line contains every one of `parts`.
pub fn series(metrics: &str, parts: &[&str]) -> Option<f64> {
    metrics
        .lines()
        .filter(|line| !line.starts_with('#'))
        .find(|line| parts.iter().all(|part| line.contains(part)))
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
}

/// The holder of the leader Lease in `default` (empty when none or released).
pub async fn lease_holder(client: &kube::Client) -> String {
    let leases: Api<Lease> = Api::namespaced(client.clone(), "default");
    leases
        .get_opt(LEASE)
        .await
        .ok()
        .flatten()
        .and_then(|lease| lease.spec?.holder_identity)
        .unwrap_or_default()
}
