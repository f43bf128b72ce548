use super::*;
use crate::facts::{
    AwsTag, CidrState, Ipv6CidrAssociation, Route, RouteTable, RouteTableAssociation,
};

fn subnet(id: &str, zone: &str, tags: &[(&str, &str)]) -> Subnet {
    Subnet {
        subnet_id: id.to_string(),
        vpc_id: "vpc-1".to_string(),
        availability_zone: zone.to_string(),
        available_ip_address_count: 100,
        tags: tags
            .iter()
            .map(|(key, value)| AwsTag {
                key: key.to_string(),
                value: value.to_string(),
            })
            .collect(),
        ..Subnet::default()
    }
}

fn request(scheme: Scheme, load_balancer_type: LoadBalancerType) -> SubnetRequest<'static> {
    SubnetRequest {
        cluster_name: "prod",
        vpc_id: "vpc-1",
        scheme,
        load_balancer_type,
        ip_address_type: IpAddressType::Ipv4,
        explicit: None,
        cluster_tag_check: true,
    }
}

fn ids(subnets: &[Subnet]) -> Vec<&str> {
    subnets.iter().map(|s| s.subnet_id.as_str()).collect()
}

const PUBLIC: (&str, &str) = ("kubernetes.io/role/elb", "1");
const OWN: (&str, &str) = ("kubernetes.io/cluster/prod", "owned");

#[test]
fn discovery_keeps_one_subnet_per_zone_preferring_the_own_cluster_tag_then_the_smallest_id() {
    let facts = CloudFacts {
        subnets: vec![
            subnet("subnet-c", "us-west-2a", &[PUBLIC]),
            subnet("subnet-b", "us-west-2a", &[PUBLIC, OWN]),
            subnet("subnet-a", "us-west-2a", &[PUBLIC]),
            subnet("subnet-9", "us-west-2b", &[PUBLIC]),
            subnet("subnet-8", "us-west-2b", &[PUBLIC]),
            subnet(
                "subnet-0",
                "us-west-2c",
                &[("kubernetes.io/role/internal-elb", "1")],
            ),
        ],
        ..CloudFacts::default()
    };
    let chosen = choose_subnets(
        &facts,
        &request(Scheme::InternetFacing, LoadBalancerType::Network),
    )
    .unwrap();
    assert_eq!(ids(&chosen), ["subnet-8", "subnet-b"]);
}

#[test]
fn discovery_filters_other_clusters_and_full_subnets_and_explains_why_nothing_is_left() {
    let mut full = subnet("subnet-1", "us-west-2a", &[PUBLIC]);
    full.available_ip_address_count = 7;
    let facts = CloudFacts {
        subnets: vec![
            full,
            subnet(
                "subnet-2",
                "us-west-2b",
                &[PUBLIC, ("kubernetes.io/cluster/other", "shared")],
            ),
        ],
        ..CloudFacts::default()
    };
    let error = choose_subnets(
        &facts,
        &request(Scheme::InternetFacing, LoadBalancerType::Network),
    )
    .unwrap_err();
    assert_eq!(
        error,
        SubnetError::NoneEligible {
            evaluated: 2,
            other_clusters: 1,
            few_addresses: 1,
            without_ipv6: String::new()
        }
    );
}

#[test]
fn albs_need_two_zones_and_dualstack_needs_ipv6() {
    let mut with_ipv6 = subnet("subnet-1", "us-west-2a", &[PUBLIC]);
    with_ipv6.ipv6_cidr_block_association_set = vec![Ipv6CidrAssociation {
        ipv6_cidr_block: "2600:1f14::/64".into(),
        ipv6_cidr_block_state: Some(CidrState {
            state: "associated".into(),
        }),
    }];
    let facts = CloudFacts {
        subnets: vec![with_ipv6, subnet("subnet-2", "us-west-2b", &[PUBLIC])],
        ..CloudFacts::default()
    };
    let mut dualstack = request(Scheme::InternetFacing, LoadBalancerType::Network);
    dualstack.ip_address_type = IpAddressType::Dualstack;
    assert_eq!(
        ids(&choose_subnets(&facts, &dualstack).unwrap()),
        ["subnet-1"]
    );
    dualstack.load_balancer_type = LoadBalancerType::Application;
    assert_eq!(
        choose_subnets(&facts, &dualstack).unwrap_err(),
        SubnetError::TooFew {
            found: 1,
            minimum: 2
        }
    );
}

#[test]
fn explicit_subnets_keep_their_order_and_resolve_repeated_names_in_id_order() {
    let facts = CloudFacts {
        subnets: vec![
            subnet("subnet-2", "us-west-2b", &[("Name", "edge")]),
            subnet("subnet-1", "us-west-2a", &[("Name", "edge")]),
            subnet("subnet-3", "us-west-2c", &[]),
        ],
        ..CloudFacts::default()
    };
    let entries = vec![
        "subnet-3".to_string(),
        "edge".to_string(),
        "edge".to_string(),
    ];
    let mut explicit = request(Scheme::Internal, LoadBalancerType::Network);
    explicit.explicit = Some(&entries);
    assert_eq!(
        ids(&choose_subnets(&facts, &explicit).unwrap()),
        ["subnet-3", "subnet-1", "subnet-2"]
    );

    let unknown = vec!["subnet-9".to_string(), "nowhere".to_string()];
    explicit.explicit = Some(&unknown);
    let error = choose_subnets(&facts, &explicit).unwrap_err();
    assert_eq!(
        error,
        SubnetError::NotFound {
            missing: unknown.clone()
        }
    );

    let same_zone = vec!["subnet-1".to_string(), "subnet-1".to_string()];
    explicit.explicit = Some(&same_zone);
    assert!(matches!(
        choose_subnets(&facts, &explicit),
        Err(SubnetError::SameZone { .. })
    ));
}

#[test]
fn without_role_tags_public_subnets_are_found_through_their_route_to_an_internet_gateway() {
    let table = |id: &str, main: bool, subnet: Option<&str>, gateway: &str| RouteTable {
        route_table_id: id.into(),
        vpc_id: "vpc-1".into(),
        associations: vec![RouteTableAssociation {
            main,
            subnet_id: subnet.map(str::to_string),
        }],
        routes: vec![Route {
            gateway_id: Some(gateway.into()),
        }],
    };
    let facts = CloudFacts {
        subnets: vec![
            subnet("subnet-1", "us-west-2a", &[]),
            subnet("subnet-2", "us-west-2b", &[]),
        ],
        route_tables: vec![
            table("rtb-main", true, None, "local"),
            table("rtb-public", false, Some("subnet-2"), "igw-1"),
        ],
        ..CloudFacts::default()
    };
    let public = choose_subnets(
        &facts,
        &request(Scheme::InternetFacing, LoadBalancerType::Network),
    )
    .unwrap();
    assert_eq!(ids(&public), ["subnet-2"]);
    let private = choose_subnets(
        &facts,
        &request(Scheme::Internal, LoadBalancerType::Network),
    )
    .unwrap();
    assert_eq!(ids(&private), ["subnet-1"]);
}
