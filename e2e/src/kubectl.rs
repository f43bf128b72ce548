//! Runs the machine's kubectl against an emulator, with its own empty kubeconfig and discovery
//! cache so runs never see each other's state.

use std::path::PathBuf;
use std::process::Stdio;
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, Command};

/// What a kubectl run printed and whether it succeeded.
#[derive(Debug)]
pub struct KubectlOutput {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// kubectl bound to one API server URL.
pub struct Kubectl {
    server: String,
    home: tempfile::TempDir,
    binary: PathBuf,
}

impl Kubectl {
    /// Uses `$KUBECTL`, else `kubectl` from `PATH`. Panics if no temp dir can be made.
    pub fn new(server: &str) -> Self {
        let binary = std::env::var_os("KUBECTL")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("kubectl"));
        let home = tempfile::tempdir().expect("temporary kubectl home");
        let kubeconfig = home.path().join("config");
        std::fs::write(
            &kubeconfig,
            "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n",
        )
        .expect("write an empty kubeconfig");
        Self {
            server: server.to_string(),
            home,
            binary,
        }
    }

    fn command(&self, arguments: &[&str]) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .arg(format!("--server={}", self.server))
            .arg(format!(
                "--kubeconfig={}",
                self.home.path().join("config").display()
            ))
            .arg(format!(
                "--cache-dir={}",
                self.home.path().join("cache").display()
            ))
            .args(arguments)
            .env("HOME", self.home.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    /// Runs kubectl with `arguments`, feeding `stdin` if given, and waits for it.
    pub async fn run_with_input(&self, arguments: &[&str], stdin: Option<&str>) -> KubectlOutput {
        let mut child = self.command(arguments).spawn().expect("spawn kubectl");
        if let Some(mut pipe) = child.stdin.take() {
            if let Some(input) = stdin {
                pipe.write_all(input.as_bytes())
                    .await
                    .expect("write kubectl stdin");
            }
        }
        let output = child.wait_with_output().await.expect("wait for kubectl");
        KubectlOutput {
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    pub async fn run(&self, arguments: &[&str]) -> KubectlOutput {
        self.run_with_input(arguments, None).await
    }

    /// Like [`Kubectl::run`], but panics with kubectl's stderr unless it succeeded.
    pub async fn ok(&self, arguments: &[&str]) -> String {
        let output = self.run(arguments).await;
        assert!(
            output.success,
            "kubectl {arguments:?} failed: {}",
            output.stderr
        );
        output.stdout
    }

    /// `kubectl apply -f -` of a manifest (no OpenAPI documents are served, so no validation).
    pub async fn apply(&self, manifest: &str) -> String {
        let output = self
            .run_with_input(&["apply", "--validate=false", "-f", "-"], Some(manifest))
            .await;
        assert!(output.success, "kubectl apply failed: {}", output.stderr);
        output.stdout
    }

    /// Starts a long-running kubectl (e.g. `get --watch`) with stdout piped; killed on drop.
    pub fn spawn(&self, arguments: &[&str]) -> Child {
        self.command(arguments).spawn().expect("spawn kubectl")
    }
}
