//! Discover: the AWS reads that shape a Service's desired stack — the VPC's subnets; its route
//! tables only when no subnet carries a role tag (subnet discovery then falls back to
//! reachability); its security groups only when the Service names some.
//!
//! Reads only, through the [`Cloud`] port; what the facts mean is the build's business.

use crate::cloud::{Cloud, CloudResult};
use crate::facts::{AwsTag, CloudFacts, SecurityGroup};
use crate::model::Tags;
use crate::service::ANNOTATION_PREFIX;
use k8s_openapi::api::core::v1::Service;

const ROLE_TAGS: [&str; 2] = ["kubernetes.io/role/elb", "kubernetes.io/role/internal-elb"];

/// The facts a Service's build reads, with no read it does not need.
pub async fn discover_service_facts(
    cloud: &impl Cloud,
    vpc_id: &str,
    service: &Service,
) -> CloudResult<CloudFacts> {
    let (subnets, route_tables) = subnets_and_route_tables(cloud, vpc_id).await?;
    let names_groups = service.metadata.annotations.as_ref().is_some_and(|a| {
        a.contains_key(&format!(
            "{ANNOTATION_PREFIX}aws-load-balancer-security-groups"
        ))
    });
    let security_groups = if names_groups {
        vpc_security_groups(cloud, vpc_id).await?
    } else {
        Vec::new()
    };
    Ok(CloudFacts {
        subnets,
        route_tables,
        security_groups,
        ..CloudFacts::default()
    })
}

/// Every security group of the VPC, to resolve the ids and Name tags users give.
async fn vpc_security_groups(cloud: &impl Cloud, vpc_id: &str) -> CloudResult<Vec<SecurityGroup>> {
    Ok(cloud
        .find_security_groups(vpc_id, &Tags::new())
        .await?
        .into_iter()
        .map(|group| SecurityGroup {
            group_id: group.id,
            group_name: group.name,
            vpc_id: vpc_id.to_string(),
            description: group.description,
            ip_permissions: Vec::new(),
            tags: group
                .tags
                .into_iter()
                .map(|(key, value)| AwsTag { key, value })
                .collect(),
        })
        .collect())
}

/// The VPC's subnets, and its route tables only when no subnet carries a role tag (discovery by
/// reachability needs them then).
async fn subnets_and_route_tables(
    cloud: &impl Cloud,
    vpc_id: &str,
) -> CloudResult<(Vec<crate::facts::Subnet>, Vec<crate::facts::RouteTable>)> {
    let subnets = cloud.describe_subnets(vpc_id).await?;
    let role_tagged = subnets.iter().any(|subnet| {
        ROLE_TAGS
            .iter()
            .any(|role| matches!(subnet.tag(role), Some("") | Some("1")))
    });
    let route_tables = if role_tagged {
        Vec::new()
    } else {
        cloud.describe_route_tables(vpc_id).await?
    };
    Ok((subnets, route_tables))
}

/// The reads an Ingress group's build needs: subnets, route tables only when no subnet carries
/// a role tag, security groups only when a member names some, ACM certificates only when a
/// member's HTTPS port has no certificate of its own.
pub async fn discover_ingress_facts(
    cloud: &impl Cloud,
    config: &crate::config::ControllerConfig,
    needs: IngressFactNeeds,
) -> CloudResult<CloudFacts> {
    let (subnets, route_tables) = subnets_and_route_tables(cloud, &config.vpc_id).await?;
    let security_groups = if needs.security_groups {
        vpc_security_groups(cloud, &config.vpc_id).await?
    } else {
        Vec::new()
    };
    let certificates = if needs.certificates {
        issued_certificates(cloud, !config.allowed_certificate_authorities.is_empty()).await?
    } else {
        Vec::new()
    };
    let web_acls = if needs.web_acls {
        cloud.list_web_acls().await?
    } else {
        Vec::new()
    };
    let mut target_groups = Vec::new();
    for name in &needs.target_group_names {
        target_groups.extend(cloud.find_target_group_by_name(name).await?);
    }
    let mut trust_stores = Vec::new();
    for name in &needs.trust_store_names {
        trust_stores.extend(cloud.find_trust_store(name).await?);
    }
    Ok(CloudFacts {
        subnets,
        route_tables,
        security_groups,
        certificate_summary_list: certificates,
        web_acls,
        target_groups,
        trust_stores,
        ..CloudFacts::default()
    })
}

pub use crate::ingress::IngressFactNeeds;

/// Issued ACM certificates with every name they cover: one ListCertificates (paged), plus one
/// DescribeCertificate only for a certificate whose summary lists names partly (upstream
/// describes every certificate). With `--allowed-certificate-authority-arns` every certificate
/// is described (its CA is only there).
async fn issued_certificates(
    cloud: &impl Cloud,
    authorities_restricted: bool,
) -> CloudResult<Vec<crate::facts::CertificateSummary>> {
    let mut certificates = cloud.list_certificates().await?;
    for certificate in &mut certificates {
        if authorities_restricted
            || certificate.has_additional_subject_alternative_names
            || certificate.subject_alternative_name_summaries.is_empty()
        {
            let (names, authority) = cloud
                .describe_certificate(&certificate.certificate_arn)
                .await?;
            certificate.subject_alternative_name_summaries = names;
            certificate.certificate_authority_arn = authority;
            certificate.has_additional_subject_alternative_names = false;
        }
    }
    Ok(certificates)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::ports::*;
    use crate::cloud::simulator::Simulator;
    use crate::cloud::SecurityGroupInput;
    use crate::config::ControllerConfig;
    use crate::facts::{Route, RouteTable, RouteTableAssociation, Subnet};
    use crate::model::SecurityGroupRef;
    use crate::service::{build_service_stack, ServiceBuildInput};

    fn subnet(id: &str, zone: &str, tags: &[(&str, &str)]) -> Subnet {
        Subnet {
            subnet_id: id.into(),
            vpc_id: "vpc-1".into(),
            availability_zone: zone.into(),
            available_ip_address_count: 100,
            tags: tags
                .iter()
                .map(|(k, v)| AwsTag {
                    key: k.to_string(),
                    value: v.to_string(),
                })
                .collect(),
            ..Subnet::default()
        }
    }

    fn service(annotations: serde_json::Value) -> Service {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "namespace": "shop", "uid": "u-1", "annotations": annotations},
            "spec": {"type": "LoadBalancer", "loadBalancerClass": "service.k8s.aws/nlb", "ports": [{"port": 80, "targetPort": 80, "nodePort": 30080}]}
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn role_tagged_subnets_need_no_other_read() {
        let cloud = Simulator::with_subnets(vec![subnet(
            "subnet-1",
            "a",
            &[("kubernetes.io/role/internal-elb", "1")],
        )]);
        let facts = discover_service_facts(&cloud, "vpc-1", &service(serde_json::json!({})))
            .await
            .unwrap();
        assert_eq!(facts.subnets.len(), 1);
        assert_eq!(cloud.calls.reads(), ["DescribeSubnets"]);
    }

    #[tokio::test]
    async fn without_role_tags_route_tables_are_read_and_reachability_chooses() {
        let route_table = |id: &str, main: bool, subnet: Option<&str>, gateway: &str| RouteTable {
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
        let cloud = Simulator::with_network(
            vec![
                subnet("subnet-private", "a", &[]),
                subnet("subnet-public", "b", &[]),
            ],
            vec![
                route_table("rtb-main", true, None, "local"),
                route_table("rtb-igw", false, Some("subnet-public"), "igw-1"),
            ],
        );
        let public = service(
            serde_json::json!({"service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing"}),
        );
        let facts = discover_service_facts(&cloud, "vpc-1", &public)
            .await
            .unwrap();
        assert_eq!(
            cloud.calls.reads(),
            ["DescribeSubnets", "DescribeRouteTables"]
        );
        let config = ControllerConfig::new("prod", "vpc-1");
        let stack = build_service_stack(&ServiceBuildInput {
            service: &public,
            config: &config,
            facts: &facts,
            existing: None,
        })
        .unwrap()
        .stack;
        let subnets: Vec<String> = stack
            .load_balancer
            .unwrap()
            .subnet_mappings
            .into_iter()
            .map(|m| m.subnet_id)
            .collect();
        assert_eq!(subnets, ["subnet-public"]);
    }

    #[tokio::test]
    async fn security_groups_named_by_the_service_are_discovered() {
        let cloud = Simulator::with_subnets(vec![subnet(
            "subnet-1",
            "a",
            &[("kubernetes.io/role/internal-elb", "1")],
        )]);
        let input = SecurityGroupInput {
            name: "frontend".into(),
            description: "user group".into(),
            vpc_id: "vpc-1".into(),
            tags: Tags::from([("Name".into(), "frontend".into())]),
        };
        let group_id = cloud.create_security_group(&input).await.unwrap();
        let named = service(
            serde_json::json!({"service.beta.kubernetes.io/aws-load-balancer-security-groups": "frontend"}),
        );
        cloud.calls.clear();
        let facts = discover_service_facts(&cloud, "vpc-1", &named)
            .await
            .unwrap();
        assert_eq!(
            cloud.calls.reads(),
            ["DescribeSubnets", "DescribeSecurityGroups"]
        );
        let config = ControllerConfig::new("prod", "vpc-1");
        let stack = build_service_stack(&ServiceBuildInput {
            service: &named,
            config: &config,
            facts: &facts,
            existing: None,
        })
        .unwrap()
        .stack;
        assert_eq!(
            stack.load_balancer.unwrap().security_groups,
            [SecurityGroupRef::Id(group_id)]
        );
    }

    #[tokio::test]
    async fn certificates_are_read_only_when_wanted_and_described_only_when_cut_short() {
        let cloud = Simulator::default();
        cloud.add_certificate("arn:short", &["shop.example.com"]);
        cloud.add_certificate(
            "arn:long",
            &["*.example.com", "example.com", "www.example.org"],
        );
        let config = ControllerConfig::new("prod", "vpc-1");
        let facts = discover_ingress_facts(&cloud, &config, IngressFactNeeds::default())
            .await
            .unwrap();
        assert!(facts.certificate_summary_list.is_empty());
        assert_eq!(cloud.calls.count("ListCertificates"), 0);

        let needs = IngressFactNeeds {
            certificates: true,
            ..IngressFactNeeds::default()
        };
        let facts = discover_ingress_facts(&cloud, &config, needs)
            .await
            .unwrap();
        assert_eq!(cloud.calls.count("ListCertificates"), 1);
        assert_eq!(
            cloud.calls.count("DescribeCertificate"),
            1,
            "only the certificate whose summary is cut short is described"
        );
        let long = facts
            .certificate_summary_list
            .iter()
            .find(|c| c.certificate_arn == "arn:long")
            .unwrap();
        assert_eq!(
            long.domains(),
            ["*.example.com", "example.com", "www.example.org"]
        );
    }

    #[tokio::test]
    async fn target_groups_named_by_actions_are_looked_up_one_by_one() {
        let cloud = Simulator::default();
        cloud
            .create_target_group(&crate::cloud::TargetGroupInput {
                name: "legacy-blue".into(),
                target_type: crate::model::TargetType::Ip,
                protocol: crate::model::Protocol::Http,
                protocol_version: None,
                target_control_port: None,
                port: 80,
                ip_address_type: "ipv4".into(),
                vpc_id: "vpc-1".into(),
                health_check: crate::model::HealthCheck::nlb_default(),
                tags: Default::default(),
            })
            .await
            .unwrap();
        let needs = IngressFactNeeds {
            target_group_names: vec!["legacy-blue".into(), "legacy-green".into()],
            ..IngressFactNeeds::default()
        };
        let config = ControllerConfig::new("prod", "vpc-1");
        let facts = discover_ingress_facts(&cloud, &config, needs)
            .await
            .unwrap();
        assert_eq!(cloud.calls.count("DescribeTargetGroups"), 2);
        let names: Vec<&str> = facts
            .target_groups
            .iter()
            .map(|tg| tg.target_group_name.as_str())
            .collect();
        assert_eq!(names, ["legacy-blue"], "a missing name is simply not found");
    }
}
