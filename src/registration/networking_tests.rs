use super::*;
use crate::cloud::ports::*;
use crate::cloud::simulator::Simulator;
use crate::target_rules::RuleSource;

const VPC: &str = "vpc-1";
const CLUSTER: &str = "demo";

fn settings() -> NetworkingSettings {
    NetworkingSettings {
        cluster_name: CLUSTER.into(),
        vpc_id: VPC.into(),
        restricted: true,
        required_tags: BTreeMap::new(),
    }
}

fn cluster_tags() -> BTreeMap<String, String> {
    BTreeMap::from([(format!("kubernetes.io/cluster/{CLUSTER}"), "owned".into())])
}

fn from_group(group: &str, ports: &[serde_json::Value]) -> TargetGroupBindingNetworking {
    serde_json::from_value(serde_json::json!({"ingress": [
        {"from": [{"securityGroup": {"groupID": group}}], "ports": ports}
    ]}))
    .unwrap()
}

fn tcp(port: i32) -> serde_json::Value {
    serde_json::json!({"protocol": "TCP", "port": port})
}

fn instance(id: &str) -> TargetEndpoint {
    TargetEndpoint::Instance {
        instance_id: id.into(),
    }
}

fn pod(uid: &str, ip: &str, node: PodNode) -> TargetEndpoint {
    TargetEndpoint::Pod {
        uid: uid.into(),
        ip: ip.into(),
        branch_interface: None,
        node,
        ports: BTreeMap::from([("http".to_string(), vec![8080])]),
    }
}

fn managed(group: &str, from_port: i32, to_port: i32) -> ObservedPermission {
    ObservedPermission {
        permission: Permission {
            protocol: "tcp".into(),
            from_port,
            to_port,
            source: RuleSource::SecurityGroup(group.into()),
        },
        description: Some(MANAGED_RULE_DESCRIPTION.into()),
    }
}

/// A node group (cluster-tagged), an extra group on the same interfaces, and the backend group.
struct Ground {
    cloud: Simulator,
    nodes: String,
    extra: String,
    backend: String,
}

fn ground() -> Ground {
    let cloud = Simulator::default();
    let nodes = cloud.add_security_group(VPC, "eks-nodes", &cluster_tags());
    let extra = cloud.add_security_group(VPC, "ssh", &BTreeMap::new());
    let backend = cloud.add_security_group(VPC, "k8s-traffic-demo", &BTreeMap::new());
    for (index, id) in ["i-01", "i-02"].iter().enumerate() {
        cloud.add_instance(
            id,
            &format!("10.0.1.{}", 10 + index),
            &[extra.clone(), nodes.clone()],
        );
    }
    Ground {
        cloud,
        nodes,
        extra,
        backend,
    }
}

#[tokio::test]
async fn instance_targets_admit_the_peer_on_the_cluster_tagged_group_of_the_primary_interface() {
    let ground = ground();
    let networking = TargetNetworking::new(settings());
    networking
        .start(&ground.cloud, vec!["default/web".into()])
        .await
        .unwrap();
    let rules = from_group(&ground.backend, &[tcp(30080), tcp(30081)]);
    let counts = networking
        .reconcile(
            &ground.cloud,
            "default/web",
            Some(&rules),
            &[instance("i-01"), instance("i-02")],
        )
        .await
        .unwrap();
    assert_eq!(counts, (1, 0), "one merged rule");
    assert_eq!(
        ground.cloud.permissions(&ground.nodes),
        vec![managed(&ground.backend, 30080, 30081)],
        "restricted mode merges the ports of one source into one range"
    );
    assert!(ground.cloud.permissions(&ground.extra).is_empty());

    // Unchanged: no AWS call at all (the interfaces and the group are cached).
    let before = ground.cloud.calls.calls().len();
    networking
        .reconcile(
            &ground.cloud,
            "default/web",
            Some(&rules),
            &[instance("i-01"), instance("i-02")],
        )
        .await
        .unwrap();
    assert_eq!(ground.cloud.calls.calls().len(), before);
}

#[tokio::test]
async fn pods_get_rules_on_the_group_of_the_interface_holding_their_address() {
    let ground = ground();
    let branch_group = ground
        .cloud
        .add_security_group(VPC, "pods", &BTreeMap::new());
    let fargate_group = ground
        .cloud
        .add_security_group(VPC, "fargate", &BTreeMap::new());
    // A node interface with a delegated prefix, a branch interface, a Fargate interface.
    ground.cloud.add_interface(NetworkInterface {
        id: "eni-prefix".into(),
        instance_id: Some("i-01".into()),
        device_index: Some(1),
        private_ips: vec!["10.0.1.50".into()],
        ipv4_prefixes: vec!["10.0.2.16/28".into()],
        security_groups: vec![ground.nodes.clone()],
        ..NetworkInterface::default()
    });
    ground.cloud.add_interface(NetworkInterface {
        id: "eni-branch".into(),
        private_ips: vec!["10.0.3.7".into()],
        security_groups: vec![branch_group.clone()],
        ..NetworkInterface::default()
    });
    ground.cloud.add_interface(NetworkInterface {
        id: "eni-fargate".into(),
        private_ips: vec!["10.0.4.9".into()],
        security_groups: vec![fargate_group.clone()],
        ..NetworkInterface::default()
    });
    let mut branch_pod = pod("uid-b", "10.0.3.7", PodNode::Instance("i-02".into()));
    if let TargetEndpoint::Pod {
        branch_interface, ..
    } = &mut branch_pod
    {
        *branch_interface = branch_interface_of_annotation("10.0.3.7");
    }
    let endpoints = vec![
        pod("uid-a", "10.0.2.20", PodNode::Instance("i-01".into())),
        branch_pod,
        pod("uid-f", "10.0.4.9", PodNode::Fargate),
        pod("uid-h", "192.168.9.9", PodNode::Hybrid),
    ];
    let networking = TargetNetworking::new(settings());
    let rules = from_group(
        &ground.backend,
        &[serde_json::json!({"protocol": "TCP", "port": "http"})],
    );
    networking
        .reconcile(&ground.cloud, "default/api", Some(&rules), &endpoints)
        .await
        .unwrap();
    for group in [&ground.nodes, &branch_group, &fargate_group] {
        assert_eq!(
            ground.cloud.permissions(group),
            vec![managed(&ground.backend, 8080, 8080)],
            "{group}: the named port resolved to the pods' container port"
        );
    }
    assert!(ground.cloud.permissions(&ground.extra).is_empty());
}

fn branch_interface_of_annotation(ip: &str) -> Option<String> {
    let annotation = format!(r#"[{{"eniId":"eni-branch","privateIp":"{ip}","vlanId":1}}]"#);
    branch_interface(Some(&annotation), ip)
}

#[tokio::test]
async fn nothing_is_revoked_before_every_binding_was_computed_and_user_rules_are_never_touched() {
    let ground = ground();
    let stale = managed("sg-0old", 80, 80);
    ground.cloud.add_foreign_permission(
        &ground.nodes,
        stale.permission.clone(),
        Some(MANAGED_RULE_DESCRIPTION),
    );
    let user = Permission {
        protocol: "tcp".into(),
        from_port: 22,
        to_port: 22,
        source: RuleSource::Cidr("10.9.0.0/16".into()),
    };
    ground
        .cloud
        .add_foreign_permission(&ground.nodes, user.clone(), Some("ssh from the VPN"));
    let networking = TargetNetworking::new(settings());
    networking
        .start(&ground.cloud, vec!["default/a".into(), "default/b".into()])
        .await
        .unwrap();
    let endpoints = [instance("i-01")];
    networking
        .reconcile(
            &ground.cloud,
            "default/a",
            Some(&from_group(&ground.backend, &[tcp(30080)])),
            &endpoints,
        )
        .await
        .unwrap();
    assert!(
        ground.cloud.permissions(&ground.nodes).contains(&stale),
        "binding b is not computed yet: nothing revoked"
    );
    networking
        .reconcile(
            &ground.cloud,
            "default/b",
            Some(&from_group(&ground.backend, &[tcp(30090)])),
            &endpoints,
        )
        .await
        .unwrap();
    let rules = ground.cloud.permissions(&ground.nodes);
    assert!(!rules.contains(&stale), "complete: the stale rule goes");
    assert!(rules.iter().any(|r| r.permission == user), "{rules:?}");
    assert!(
        rules.contains(&managed(&ground.backend, 30080, 30090)),
        "both bindings' ports merged: {rules:?}"
    );

    // Deleting b narrows the range; deleting a removes ours and keeps the user's.
    networking
        .reconcile(&ground.cloud, "default/b", None, &[])
        .await
        .unwrap();
    assert!(ground.cloud.permissions(&ground.nodes).contains(&managed(
        &ground.backend,
        30080,
        30080
    )));
    networking
        .reconcile(&ground.cloud, "default/a", None, &[])
        .await
        .unwrap();
    let left: Vec<Permission> = ground
        .cloud
        .permissions(&ground.nodes)
        .into_iter()
        .map(|o| o.permission)
        .collect();
    assert_eq!(left, vec![user]);
    // The backend group is no longer referenced: it can be deleted.
    ground
        .cloud
        .delete_security_group(&ground.backend)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_group_changed_behind_the_cache_is_read_again_and_the_change_retried() {
    let ground = ground();
    let networking = TargetNetworking::new(settings());
    let endpoints = [instance("i-01")];
    networking
        .reconcile(
            &ground.cloud,
            "default/a",
            Some(&from_group(&ground.backend, &[tcp(30080)])),
            &endpoints,
        )
        .await
        .unwrap();
    // Someone removes our rule; the cache still believes it is there. A new port makes the
    // step authorise again, which AWS refuses as a duplicate of what the cache missed.
    ground
        .cloud
        .revoke_target_permissions(
            &ground.nodes,
            &[managed(&ground.backend, 30080, 30080).permission],
        )
        .await
        .unwrap();
    ground
        .cloud
        .fail_call("AuthorizeSecurityGroupIngress", 1, ErrorKind::Conflict);
    networking
        .reconcile(
            &ground.cloud,
            "default/a",
            Some(&from_group(&ground.backend, &[tcp(30080), tcp(30081)])),
            &endpoints,
        )
        .await
        .unwrap();
    assert_eq!(
        ground.cloud.permissions(&ground.nodes),
        vec![managed(&ground.backend, 30080, 30081)]
    );
}

#[tokio::test]
async fn unresolvable_targets_and_bad_networking_are_errors_that_name_them() {
    let ground = ground();
    let networking = TargetNetworking::new(settings());
    let error = networking
        .reconcile(
            &ground.cloud,
            "default/a",
            Some(&from_group(&ground.backend, &[tcp(80)])),
            &[pod("uid-x", "10.0.9.9", PodNode::Instance("i-01".into()))],
        )
        .await
        .unwrap_err();
    assert!(matches!(error, NetworkingError::Unresolved(_)));
    assert!(error.to_string().contains("pod 10.0.9.9"), "{error}");

    let named = from_group(
        &ground.backend,
        &[serde_json::json!({"protocol": "TCP", "port": "http"})],
    );
    let error = networking
        .reconcile(
            &ground.cloud,
            "default/a",
            Some(&named),
            &[instance("i-01")],
        )
        .await
        .unwrap_err();
    assert!(error.to_string().contains("named port"), "{error}");

    // Two cluster-tagged groups on one interface: ambiguous, the interface named.
    let second = ground
        .cloud
        .add_security_group(VPC, "eks-nodes-2", &cluster_tags());
    ground
        .cloud
        .add_instance("i-03", "10.0.1.30", &[ground.nodes.clone(), second]);
    let error = networking
        .reconcile(
            &ground.cloud,
            "default/a",
            Some(&from_group(&ground.backend, &[tcp(80)])),
            &[instance("i-03")],
        )
        .await
        .unwrap_err();
    assert!(error.to_string().contains("eni-03"), "{error}");
    assert!(
        ground.cloud.permissions(&ground.nodes).is_empty(),
        "no partial change"
    );
}

#[test]
fn the_node_kind_comes_from_the_compute_type_label() {
    let labels =
        |value: &str| BTreeMap::from([(COMPUTE_TYPE_LABEL.to_string(), value.to_string())]);
    assert_eq!(
        PodNode::of(Some(&labels("fargate")), None),
        PodNode::Fargate
    );
    assert_eq!(
        PodNode::of(Some(&labels("hybrid")), Some("i-1".into())),
        PodNode::Hybrid
    );
    assert_eq!(
        PodNode::of(None, Some("i-1".into())),
        PodNode::Instance("i-1".into())
    );
    assert_eq!(PodNode::of(None, None), PodNode::Unknown);
    assert_eq!(branch_interface(Some("not json"), "10.0.0.1"), None);
}
