use super::*;

fn networking(value: serde_json::Value) -> TargetGroupBindingNetworking {
    serde_json::from_value(value).unwrap()
}

fn from_group(group: &str, protocol: &str, from_port: i32, to_port: i32) -> Permission {
    Permission {
        protocol: protocol.into(),
        from_port,
        to_port,
        source: RuleSource::SecurityGroup(group.into()),
    }
}

fn from_cidr(cidr: &str, protocol: &str, port: i32) -> Permission {
    Permission {
        protocol: protocol.into(),
        from_port: port,
        to_port: port,
        source: RuleSource::Cidr(cidr.into()),
    }
}

#[test]
fn every_peer_on_every_port_with_named_ports_resolved_per_pod() {
    let rules = networking(serde_json::json!({"ingress": [
        {"from": [{"securityGroup": {"groupID": "sg-0bac"}}, {"ipBlock": {"cidr": "10.0.0.5/16"}}],
         "ports": [{"protocol": "TCP", "port": 8080}, {"protocol": "UDP", "port": "dns"}, {"protocol": "TCP"}]}
    ]}));
    let pods = BTreeMap::from([("dns".to_string(), vec![53, 5353])]);
    let permissions = binding_permissions(&rules, Some(&pods)).unwrap();
    assert_eq!(permissions.len(), 8, "{permissions:?}");
    assert!(permissions.contains(&from_group("sg-0bac", "tcp", 8080, 8080)));
    assert!(permissions.contains(&from_group("sg-0bac", "udp", 5353, 5353)));
    assert!(permissions.contains(&from_group("sg-0bac", "tcp", 0, 65535)));
    assert!(
        permissions.contains(&from_cidr("10.0.0.0/16", "udp", 53)),
        "CIDRs normalised"
    );
    let refused = binding_permissions(&rules, None).unwrap_err();
    assert!(
        refused.contains("named ports can only be used with pod endpoints"),
        "{refused}"
    );
}

#[test]
fn bad_peers_are_refused_with_their_field() {
    for (peer, expected) in [
        (
            serde_json::json!({"ipBlock": {"cidr": "10.0.0/8"}}),
            "from[0].ipBlock.cidr",
        ),
        (
            serde_json::json!({"securityGroup": {"groupID": "web"}}),
            "groupID",
        ),
        (
            serde_json::json!({}),
            "exactly one of ipBlock and securityGroup",
        ),
        // Found by the fuzzed bindings: EC2 refused these on every retry.
        (
            serde_json::json!({"securityGroup": {"groupID": "sg-1, sg-2"}}),
            "groupID: \"sg-1, sg-2\" is not a security group id",
        ),
    ] {
        let rules = networking(serde_json::json!({"ingress": [{"from": [peer], "ports": []}]}));
        let error = binding_permissions(&rules, None).unwrap_err();
        assert!(error.contains(expected), "{error}");
    }
}

/// Found by the fuzzed bindings: a port number out of range went to EC2, refused on every retry.
#[test]
fn a_port_number_out_of_range_is_refused_with_its_field() {
    for number in [-1, 65536, i32::MAX] {
        let rules = networking(serde_json::json!({"ingress": [
            {"from": [{"securityGroup": {"groupID": "sg-1"}}], "ports": [{"port": 80}, {"port": number}]}
        ]}));
        let error = binding_permissions(&rules, None).unwrap_err();
        assert!(
            error.starts_with("spec.networking.ingress[0].ports[1].port: ")
                && error.contains("is not a port"),
            "{error}"
        );
    }
}

#[test]
fn an_empty_port_list_admits_every_tcp_port() {
    let rules = networking(serde_json::json!({"ingress": [
        {"from": [{"securityGroup": {"groupID": "sg-1"}}], "ports": []}
    ]}));
    let permissions = binding_permissions(&rules, None).unwrap();
    assert_eq!(
        permissions.into_iter().collect::<Vec<_>>(),
        [from_group("sg-1", "tcp", 0, 65535)]
    );
}

#[test]
fn restricted_rules_merge_per_source_group_into_one_range_and_keep_cidrs() {
    let asked = [
        from_group("sg-backend", "tcp", 30080, 30080),
        from_group("sg-backend", "tcp", 31443, 31443),
        from_group("sg-backend", "udp", 30053, 30053),
        from_group("sg-other", "tcp", 8080, 8080),
        from_cidr("203.0.113.0/24", "tcp", 30080),
        from_cidr("203.0.113.0/24", "tcp", 31443),
    ];
    let restricted = aggregate(asked.clone(), true);
    assert_eq!(
        restricted.into_iter().collect::<Vec<_>>(),
        [
            from_group("sg-backend", "tcp", 30080, 31443),
            from_group("sg-backend", "udp", 30053, 30053),
            from_group("sg-other", "tcp", 8080, 8080),
            from_cidr("203.0.113.0/24", "tcp", 30080),
            from_cidr("203.0.113.0/24", "tcp", 31443),
        ]
        .into_iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect::<Vec<_>>()
    );
    assert_eq!(
        aggregate(asked.clone(), false).len(),
        asked.len(),
        "no merge"
    );
}

#[test]
fn only_managed_rules_are_revoked_and_only_once_revoking_is_safe() {
    let desired = BTreeSet::from([from_group("sg-backend", "tcp", 30080, 31443)]);
    let observed = vec![
        ObservedPermission {
            permission: from_group("sg-backend", "tcp", 30080, 30080),
            description: Some(MANAGED_RULE_DESCRIPTION.into()),
        },
        ObservedPermission {
            permission: from_cidr("192.0.2.0/24", "tcp", 22),
            description: Some("ssh from the office".into()),
        },
        ObservedPermission {
            permission: from_cidr("198.51.100.0/24", "tcp", 22),
            description: None,
        },
    ];
    let changes = rule_changes(&desired, &observed, true);
    assert_eq!(
        changes.authorize,
        [from_group("sg-backend", "tcp", 30080, 31443)]
    );
    assert_eq!(
        changes.revoke,
        [from_group("sg-backend", "tcp", 30080, 30080)],
        "the user's rules stay"
    );
    let unsafe_yet = rule_changes(&desired, &observed, false);
    assert!(unsafe_yet.revoke.is_empty());
    assert_eq!(unsafe_yet.authorize.len(), 1);
    let settled = rule_changes(
        &desired,
        &[ObservedPermission {
            permission: from_group("sg-backend", "tcp", 30080, 31443),
            description: None,
        }],
        true,
    );
    assert!(settled.is_empty(), "equality ignores descriptions");
}

#[test]
fn the_ledger_waits_for_every_binding_and_empties_groups_nobody_uses() {
    let mut ledger = NetworkingLedger::new(
        ["shop/web".to_string(), "shop/api".to_string()],
        ["sg-nodes".to_string(), "sg-stale".to_string()],
    );
    ledger.record(
        "shop/web",
        BTreeMap::from([(
            "sg-nodes".to_string(),
            BTreeSet::from([from_group("sg-backend", "tcp", 30080, 30080)]),
        )]),
    );
    assert!(!ledger.complete(), "shop/api not computed yet");
    ledger.record(
        "shop/api",
        BTreeMap::from([(
            "sg-nodes".to_string(),
            BTreeSet::from([from_group("sg-backend", "tcp", 30443, 30443)]),
        )]),
    );
    assert!(ledger.complete());
    let desired = ledger.desired(true);
    assert_eq!(
        desired["sg-nodes"],
        BTreeSet::from([from_group("sg-backend", "tcp", 30080, 30443)]),
        "both bindings, merged"
    );
    assert!(
        desired["sg-stale"].is_empty(),
        "a tagged group no binding uses"
    );
    ledger.record("shop/api", BTreeMap::new());
    assert_eq!(
        ledger.desired(true)["sg-nodes"],
        BTreeSet::from([from_group("sg-backend", "tcp", 30080, 30080)]),
        "a deleted binding contributes nothing"
    );
    ledger.forget_group("sg-stale");
    assert!(!ledger.desired(true).contains_key("sg-stale"));
}

#[test]
fn the_receiving_group_is_the_only_one_or_the_one_cluster_tagged() {
    let group = |id: &str, tags: &[(&str, &str)]| InterfaceGroup {
        id: id.into(),
        tags: tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    };
    let none = BTreeMap::new();
    let only = [group("sg-only", &[])];
    assert_eq!(
        receiving_group("eni-1", &only, "prod", &none).unwrap(),
        "sg-only"
    );
    let several = [
        group("sg-user", &[]),
        group("sg-node", &[("kubernetes.io/cluster/prod", "owned")]),
        group("sg-other", &[("kubernetes.io/cluster/staging", "owned")]),
    ];
    assert_eq!(
        receiving_group("eni-1", &several, "prod", &none).unwrap(),
        "sg-node"
    );
    let required = BTreeMap::from([("role".to_string(), "targets".to_string())]);
    let error = receiving_group("eni-1", &several, "prod", &required).unwrap_err();
    assert!(
        error.contains("kubernetes.io/cluster/prod") && error.contains("eni-1"),
        "{error}"
    );
    let twice = [
        group("sg-a", &[("kubernetes.io/cluster/prod", "shared")]),
        group("sg-b", &[("kubernetes.io/cluster/prod", "owned")]),
    ];
    let error = receiving_group("eni-2", &twice, "prod", &none).unwrap_err();
    assert!(error.contains("sg-a") && error.contains("sg-b"), "{error}");
}
