//! EC2 calls (security groups, subnets) and their conversions.

use super::classify;
use crate::cloud::{CloudError, CloudResult, ErrorKind, ObservedSecurityGroup, SecurityGroupInput};
use crate::model::{IngressRule, Tags};
use aws_sdk_ec2::types::{
    Filter, IpPermission, IpRange, Ipv6Range, PrefixListId, ResourceType, Tag, TagSpecification,
};
use aws_sdk_ec2::Client;

fn rules_of(permission: &IpPermission) -> Vec<IngressRule> {
    let rule = |source: &str| IngressRule {
        protocol: permission.ip_protocol().unwrap_or_default().to_string(),
        from_port: permission.from_port().unwrap_or_default(),
        to_port: permission.to_port().unwrap_or_default(),
        source: source.to_string(),
    };
    let v4 = permission
        .ip_ranges()
        .iter()
        .filter_map(|r| r.cidr_ip())
        .map(rule);
    let v6 = permission
        .ipv6_ranges()
        .iter()
        .filter_map(|r| r.cidr_ipv6())
        .map(rule);
    let lists = permission
        .prefix_list_ids()
        .iter()
        .filter_map(|p| p.prefix_list_id())
        .map(rule);
    v4.chain(v6).chain(lists).collect()
}

fn permission_of(rule: &IngressRule) -> IpPermission {
    let builder = IpPermission::builder()
        .ip_protocol(&rule.protocol)
        .from_port(rule.from_port)
        .to_port(rule.to_port);
    if rule.source.starts_with("pl-") {
        builder
            .prefix_list_ids(PrefixListId::builder().prefix_list_id(&rule.source).build())
            .build()
    } else if rule.source.contains(':') {
        builder
            .ipv6_ranges(Ipv6Range::builder().cidr_ipv6(&rule.source).build())
            .build()
    } else {
        builder
            .ip_ranges(IpRange::builder().cidr_ip(&rule.source).build())
            .build()
    }
}

/// By ids, or by VPC and tags.
pub(super) async fn describe(
    client: &Client,
    ids: Option<&[String]>,
    vpc_id: Option<&str>,
    tags: &Tags,
) -> CloudResult<Vec<ObservedSecurityGroup>> {
    let mut request = client
        .describe_security_groups()
        .set_group_ids(ids.map(<[String]>::to_vec));
    if let Some(vpc_id) = vpc_id {
        request = request.filters(Filter::builder().name("vpc-id").values(vpc_id).build());
    }
    for (key, value) in tags {
        request = request.filters(
            Filter::builder()
                .name(format!("tag:{key}"))
                .values(value)
                .build(),
        );
    }
    let output = request.send().await.map_err(classify)?;
    Ok(output
        .security_groups()
        .iter()
        .map(|group| {
            let mut ingress: Vec<IngressRule> =
                group.ip_permissions().iter().flat_map(rules_of).collect();
            ingress.sort();
            let mut permissions: Vec<_> = group
                .ip_permissions()
                .iter()
                .flat_map(super::interfaces::observed_permissions)
                .collect();
            permissions.sort_by(|a, b| a.permission.cmp(&b.permission));
            ObservedSecurityGroup {
                permissions,
                id: group.group_id().unwrap_or_default().to_string(),
                name: group.group_name().unwrap_or_default().to_string(),
                description: group.description().unwrap_or_default().to_string(),
                ingress,
                tags: group
                    .tags()
                    .iter()
                    .map(|t| {
                        (
                            t.key().unwrap_or_default().to_string(),
                            t.value().unwrap_or_default().to_string(),
                        )
                    })
                    .collect(),
            }
        })
        .collect())
}

pub(super) async fn create(client: &Client, input: &SecurityGroupInput) -> CloudResult<String> {
    let tags: Vec<Tag> = input
        .tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    let output = client
        .create_security_group()
        .group_name(&input.name)
        .description(&input.description)
        .vpc_id(&input.vpc_id)
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::SecurityGroup)
                .set_tags(Some(tags))
                .build(),
        )
        .send()
        .await
        .map_err(classify)?;
    output
        .group_id()
        .map(str::to_string)
        .ok_or_else(|| CloudError::new(ErrorKind::Other, "", "AWS returned no group id"))
}

pub(super) async fn authorize(
    client: &Client,
    group_id: &str,
    rules: &[IngressRule],
) -> CloudResult<()> {
    send_authorize(client, group_id, rules.iter().map(permission_of).collect()).await
}

/// `AuthorizeSecurityGroupIngress` with these permissions.
pub(super) async fn send_authorize(
    client: &Client,
    group_id: &str,
    permissions: Vec<IpPermission>,
) -> CloudResult<()> {
    client
        .authorize_security_group_ingress()
        .group_id(group_id)
        .set_ip_permissions(Some(permissions))
        .send()
        .await
        .map(|_| ())
        .map_err(classify)
}

pub(super) async fn revoke(
    client: &Client,
    group_id: &str,
    rules: &[IngressRule],
) -> CloudResult<()> {
    send_revoke(client, group_id, rules.iter().map(permission_of).collect()).await
}

/// `RevokeSecurityGroupIngress` with these permissions.
pub(super) async fn send_revoke(
    client: &Client,
    group_id: &str,
    permissions: Vec<IpPermission>,
) -> CloudResult<()> {
    client
        .revoke_security_group_ingress()
        .group_id(group_id)
        .set_ip_permissions(Some(permissions))
        .send()
        .await
        .map(|_| ())
        .map_err(classify)
}

pub(super) async fn delete(client: &Client, group_id: &str) -> CloudResult<()> {
    client
        .delete_security_group()
        .group_id(group_id)
        .send()
        .await
        .map(|_| ())
        .map_err(classify)
}

pub(super) async fn describe_subnets(
    client: &Client,
    vpc_id: &str,
) -> CloudResult<Vec<crate::facts::Subnet>> {
    use crate::facts::{AwsTag, CidrState, Ipv6CidrAssociation, Subnet};
    let mut subnets = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .describe_subnets()
            .filters(Filter::builder().name("vpc-id").values(vpc_id).build())
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(classify)?;
        for subnet in page.subnets() {
            subnets.push(Subnet {
                subnet_id: subnet.subnet_id().unwrap_or_default().to_string(),
                vpc_id: subnet.vpc_id().unwrap_or_default().to_string(),
                availability_zone: subnet.availability_zone().unwrap_or_default().to_string(),
                availability_zone_id: subnet
                    .availability_zone_id()
                    .unwrap_or_default()
                    .to_string(),
                available_ip_address_count: i64::from(
                    subnet.available_ip_address_count().unwrap_or_default(),
                ),
                cidr_block: subnet.cidr_block().unwrap_or_default().to_string(),
                ipv6_cidr_block_association_set: subnet
                    .ipv6_cidr_block_association_set()
                    .iter()
                    .map(|a| Ipv6CidrAssociation {
                        ipv6_cidr_block: a.ipv6_cidr_block().unwrap_or_default().to_string(),
                        ipv6_cidr_block_state: a
                            .ipv6_cidr_block_state()
                            .and_then(|s| s.state())
                            .map(|state| CidrState {
                                state: state.as_str().to_string(),
                            }),
                    })
                    .collect(),
                outpost_arn: subnet.outpost_arn().map(str::to_string),
                tags: subnet
                    .tags()
                    .iter()
                    .map(|t| AwsTag {
                        key: t.key().unwrap_or_default().to_string(),
                        value: t.value().unwrap_or_default().to_string(),
                    })
                    .collect(),
            });
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(subnets);
        }
    }
}

pub(super) async fn describe_route_tables(
    client: &Client,
    vpc_id: &str,
) -> CloudResult<Vec<crate::facts::RouteTable>> {
    use crate::facts::{Route, RouteTable, RouteTableAssociation};
    let mut tables = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .describe_route_tables()
            .filters(Filter::builder().name("vpc-id").values(vpc_id).build())
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(classify)?;
        for table in page.route_tables() {
            tables.push(RouteTable {
                route_table_id: table.route_table_id().unwrap_or_default().to_string(),
                vpc_id: table.vpc_id().unwrap_or_default().to_string(),
                associations: table
                    .associations()
                    .iter()
                    .map(|a| RouteTableAssociation {
                        main: a.main().unwrap_or(false),
                        subnet_id: a.subnet_id().map(str::to_string),
                    })
                    .collect(),
                routes: table
                    .routes()
                    .iter()
                    .map(|r| Route {
                        gateway_id: r.gateway_id().map(str::to_string),
                    })
                    .collect(),
            });
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(tables);
        }
    }
}
