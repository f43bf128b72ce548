//! Pipeline tests of network access: an Ingress group's load balancer, the networking its
//! TargetGroupBindings carry, and the networking step applying it to the nodes' or pods'
//! security group — the frontend rules, the backend group and the node/pod rules together, a
//! user's rule kept throughout, and nothing of ours left after the group is deleted.

use super::{member, with_annotation, Harness};
use crate::cloud::ports::*;
use crate::cloud::NetworkInterface;
use crate::registration::networking::{
    NetworkingSettings, PodNode, TargetEndpoint, TargetNetworking,
};
use crate::target_rules::{ObservedPermission, Permission, RuleSource, MANAGED_RULE_DESCRIPTION};
use std::collections::BTreeMap;

const VPC: &str = "vpc-0example";

/// The harness's cluster, with two nodes in a cluster-tagged node group.
struct Cluster {
    harness: Harness,
    nodes: String,
    networking: TargetNetworking,
}

fn cluster() -> Cluster {
    let harness = Harness::new();
    let tags = BTreeMap::from([(
        "kubernetes.io/cluster/prod".to_string(),
        "owned".to_string(),
    )]);
    let nodes = harness.cloud.add_security_group(VPC, "eks-nodes", &tags);
    harness
        .cloud
        .add_instance("i-01", "10.0.1.10", std::slice::from_ref(&nodes));
    harness.cloud.add_interface(NetworkInterface {
        id: "eni-pods".into(),
        instance_id: Some("i-02".into()),
        device_index: Some(0),
        private_ips: vec!["10.0.1.11".into(), "10.0.1.40".into()],
        security_groups: vec![nodes.clone()],
        ..NetworkInterface::default()
    });
    let networking = TargetNetworking::new(NetworkingSettings {
        cluster_name: "prod".into(),
        vpc_id: VPC.into(),
        restricted: true,
        required_tags: BTreeMap::new(),
    });
    Cluster {
        harness,
        nodes,
        networking,
    }
}

impl Cluster {
    /// Runs the networking step for every binding the last reconcile wants, with `endpoints`.
    async fn apply_bindings(&self, endpoints: &[TargetEndpoint]) {
        for binding in &self.harness.bindings {
            let key = format!("shop/{}", binding.metadata.name.clone().unwrap_or_default());
            self.networking
                .reconcile(
                    &self.harness.cloud,
                    &key,
                    binding.spec.networking.as_ref(),
                    endpoints,
                )
                .await
                .unwrap();
        }
    }

    /// Withdraws the bindings `before` held (as deleting them does).
    async fn withdraw(&self, before: &[String]) {
        for key in before {
            self.networking
                .reconcile(&self.harness.cloud, key, None, &[])
                .await
                .unwrap();
        }
    }

    fn binding_keys(&self) -> Vec<String> {
        self.harness
            .bindings
            .iter()
            .map(|b| format!("shop/{}", b.metadata.name.clone().unwrap_or_default()))
            .collect()
    }

    fn node_rules(&self) -> Vec<ObservedPermission> {
        self.harness.cloud.permissions(&self.nodes)
    }

    fn group(&self, name: &str) -> String {
        self.harness
            .cloud
            .security_group_id(name)
            .unwrap_or_else(|| {
                panic!(
                    "no group {name}: {:?}",
                    self.harness.cloud.security_group_names()
                )
            })
    }

    /// The cluster's shared backend group.
    fn backend_group(&self) -> String {
        let names = self.harness.cloud.security_group_names();
        let name = names
            .iter()
            .find(|n| n.starts_with("k8s-traffic-prod-"))
            .unwrap_or_else(|| panic!("no backend group: {names:?}"));
        self.group(name)
    }

    /// The frontend rules of the ALB's managed group, as (protocol, port, source).
    async fn frontend_rules(&self) -> Vec<(String, i32, String)> {
        let managed = self
            .harness
            .cloud
            .security_group_names()
            .into_iter()
            .find(|n| n.starts_with("k8s-web-"))
            .expect("the ALB's managed group");
        let id = self.group(&managed);
        let groups = self
            .harness
            .cloud
            .describe_security_groups(&[id])
            .await
            .unwrap();
        groups[0]
            .ingress
            .iter()
            .map(|r| (r.protocol.clone(), r.from_port, r.source.clone()))
            .collect()
    }
}

fn instances() -> Vec<TargetEndpoint> {
    ["i-01", "i-02"]
        .iter()
        .map(|id| TargetEndpoint::Instance {
            instance_id: id.to_string(),
        })
        .collect()
}

fn from(group: &str, port: i32) -> ObservedPermission {
    ObservedPermission {
        permission: Permission {
            protocol: "tcp".into(),
            from_port: port,
            to_port: port,
            source: RuleSource::SecurityGroup(group.into()),
        },
        description: Some(MANAGED_RULE_DESCRIPTION.into()),
    }
}

fn user_rule() -> Permission {
    Permission {
        protocol: "tcp".into(),
        from_port: 22,
        to_port: 22,
        source: RuleSource::Cidr("192.168.0.0/16".into()),
    }
}

#[tokio::test]
async fn instance_mode_admits_the_backend_group_on_the_node_port_keeps_user_rules_and_withdraws_on_delete(
) {
    let mut cluster = cluster();
    cluster
        .harness
        .cloud
        .add_foreign_permission(&cluster.nodes, user_rule(), None);
    let web = member("web", 0, &["/"]);
    cluster
        .harness
        .reconcile(std::slice::from_ref(&web))
        .await
        .unwrap();
    cluster.apply_bindings(&instances()).await;
    let backend = cluster.backend_group();
    assert_eq!(
        cluster.frontend_rules().await,
        vec![("tcp".to_string(), 80, "0.0.0.0/0".to_string())],
        "the frontend: HTTP from anywhere"
    );
    let rules = cluster.node_rules();
    assert!(rules.contains(&from(&backend, 30080)), "{rules:?}");
    assert_eq!(rules.len(), 2, "our one rule and the user's: {rules:?}");

    // inbound-cidrs changes the frontend only: no write on the node group.
    let narrowed = with_annotation(web.clone(), "inbound-cidrs", "10.0.0.0/8");
    cluster
        .harness
        .reconcile(std::slice::from_ref(&narrowed))
        .await
        .unwrap();
    assert_eq!(
        cluster.frontend_rules().await,
        vec![("tcp".to_string(), 80, "10.0.0.0/8".to_string())]
    );
    cluster.harness.cloud.calls.clear();
    cluster.apply_bindings(&instances()).await;
    assert!(cluster.harness.cloud.calls.writes().is_empty());
    assert_eq!(cluster.node_rules(), rules);

    // Deleting: the bindings go first (their rules withdrawn), then the stack; the shared
    // backend group stays for the cluster's other load balancers.
    cluster.withdraw(&cluster.binding_keys()).await;
    cluster.harness.reconcile(&[]).await.unwrap();
    assert!(cluster.harness.cloud.load_balancer_names().is_empty());
    let left: Vec<Permission> = cluster
        .node_rules()
        .into_iter()
        .map(|o| o.permission)
        .collect();
    assert_eq!(left, vec![user_rule()], "only the user's rule remains");
}

#[tokio::test]
async fn ip_mode_admits_the_backend_group_on_the_pods_target_port() {
    let mut cluster = cluster();
    let web = with_annotation(member("web", 0, &["/"]), "target-type", "ip");
    cluster
        .harness
        .reconcile(std::slice::from_ref(&web))
        .await
        .unwrap();
    let pod = TargetEndpoint::Pod {
        uid: "pod-1".into(),
        ip: "10.0.1.40".into(),
        branch_interface: None,
        node: PodNode::Instance("i-02".into()),
        ports: BTreeMap::new(),
    };
    cluster.apply_bindings(&[pod]).await;
    let backend = cluster.backend_group();
    assert_eq!(cluster.node_rules(), vec![from(&backend, 8080)]);
}

#[tokio::test]
async fn without_the_backend_group_the_managed_group_is_the_peer_and_is_deleted_once_released() {
    let mut cluster = cluster();
    cluster.harness.config.enable_backend_security_group = false;
    cluster
        .harness
        .reconcile(&[member("web", 0, &["/"])])
        .await
        .unwrap();
    cluster.apply_bindings(&instances()).await;
    let names = cluster.harness.cloud.security_group_names();
    assert!(
        !names.iter().any(|n| n.starts_with("k8s-traffic-")),
        "{names:?}"
    );
    let managed = names
        .iter()
        .find(|n| n.starts_with("k8s-web-"))
        .expect("the managed group");
    let managed = cluster.group(managed);
    assert_eq!(cluster.node_rules(), vec![from(&managed, 30080)]);

    // Deleting before the rules are withdrawn: AWS refuses the managed group while the node
    // rule references it; once the binding's rules go, the retry deletes it.
    let before = cluster.binding_keys();
    let refused = cluster.harness.reconcile(&[]).await.unwrap_err();
    assert!(refused.contains("DeleteSecurityGroup"), "{refused}");
    cluster.withdraw(&before).await;
    cluster.harness.reconcile(&[]).await.unwrap();
    assert_eq!(
        cluster.harness.cloud.security_group_names(),
        vec!["eks-nodes".to_string()]
    );
    assert!(cluster.node_rules().is_empty());
}
