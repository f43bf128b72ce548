//! The Ingress loop running in process against the emulator and moto, for the end-to-end tests
//! that need AWS to answer as the SDK sees it: a VPC with two tagged subnets, a cluster, kubectl,
//! and the loop re-checking AWS in full on every event (no trust in unchanged inputs). The loop
//! stops when the value is dropped.

use aws_load_balancer_controller::aws_clients::AwsClients;
use aws_load_balancer_controller::cloud::CallLog;
use aws_load_balancer_controller::config::ControllerConfig;
use aws_load_balancer_controller::controller::ingress::{
    run_ingress_controller, IngressReconciler,
};
use aws_load_balancer_controller::watched::services::WatchedServices;
use e2e::cluster::TestCluster;
use e2e::kubectl::Kubectl;
use e2e::moto::{create_vpc_with_subnets, MotoLease, MotoServer};
use std::sync::Arc;

/// The IngressClass `alb` of this controller.
pub const ALB_CLASS: &str = "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: alb}\nspec: {controller: ingress.k8s.aws/alb}\n";

/// Service `default/web` (NodePort 30080), the backend of the tests' Ingresses.
pub const WEB_SERVICE: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default}\nspec:\n  type: NodePort\n  ports: [{port: 80, targetPort: 8080, nodePort: 30080}]\n";

pub struct MotoIngressLoop {
    pub aws: AwsClients,
    pub vpc_id: String,
    pub kubectl: Kubectl,
    /// The SDK calls the loop makes.
    pub calls: Arc<CallLog>,
    task: tokio::task::JoinHandle<()>,
    _cluster: TestCluster,
    pub moto: MotoLease,
}

impl MotoIngressLoop {
    /// Re-checks the group of Ingress `name` (in `default`) by touching it, waits for the
    /// re-check to reach `read` (an AWS read late in the deploy), and asserts it wrote nothing.
    pub async fn assert_recheck_writes_nothing(&self, name: &str, read: &str) {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        self.calls.clear();
        self.kubectl
            .ok(&["label", "--overwrite", "ingress", name, "recheck=1"])
            .await;
        crate::waiting::eventually("the re-check", || async {
            (self.calls.count(read) > 0).then_some(())
        })
        .await;
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        assert!(self.calls.writes().is_empty(), "{:?}", self.calls.writes());
    }
}

/// The first load balancer in moto and its listener on port 443, once both exist.
pub async fn https_listener(
    aws: &AwsClients,
) -> Option<(String, aws_sdk_elasticloadbalancingv2::types::Listener)> {
    let lbs = aws.elbv2.describe_load_balancers().send().await.ok()?;
    let arn = lbs
        .load_balancers()
        .first()?
        .load_balancer_arn()?
        .to_string();
    let listeners = aws
        .elbv2
        .describe_listeners()
        .load_balancer_arn(&arn)
        .send()
        .await
        .ok()?;
    let listener = listeners
        .listeners()
        .iter()
        .find(|l| l.port() == Some(443))?
        .clone();
    Some((arn, listener))
}

impl Drop for MotoIngressLoop {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the loop on a fresh VPC (`vpc_index` keeps CIDRs apart) whose subnets carry
/// `role_tag`; `tune` adjusts the controller's configuration.
pub async fn start(
    vpc_index: u8,
    role_tag: &str,
    tune: impl FnOnce(&mut ControllerConfig),
) -> MotoIngressLoop {
    let moto = MotoServer::lease().await;
    let aws = moto.clients().await;
    let (vpc_id, _) =
        create_vpc_with_subnets(&aws.ec2, vpc_index, &["us-west-2a", "us-west-2b"], role_tag).await;
    let cluster = TestCluster::start().await;
    let kubectl = Kubectl::new(&cluster.url());
    let cloud = moto.cloud().await;
    let calls = cloud.calls.clone();
    let mut config = ControllerConfig::new("e2e-cluster", &vpc_id);
    tune(&mut config);
    let mut reconciler = IngressReconciler::new(cluster.client.clone(), cloud, config, "alb");
    reconciler.drift_check_interval = std::time::Duration::ZERO;
    let task = tokio::spawn(run_ingress_controller(
        Arc::new(reconciler),
        WatchedServices::spawn(&cluster.client),
    ));
    MotoIngressLoop {
        aws,
        vpc_id,
        kubectl,
        calls,
        task,
        _cluster: cluster,
        moto,
    }
}
