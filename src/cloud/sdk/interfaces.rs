//! EC2 calls of the target-rules step: the network interfaces of instances and pods, and the
//! inbound permissions written on their security groups (one source each, described as ours).

use super::{classify, EC2};
use crate::cloud::{CloudResult, NetworkInterface};
use crate::target_rules::{ObservedPermission, Permission, RuleSource, MANAGED_RULE_DESCRIPTION};
use aws_sdk_ec2::types::{Filter, IpPermission, IpRange, Ipv6Range, UserIdGroupPair};
use aws_sdk_ec2::Client;

/// The TCP and UDP permissions of a rule as AWS reports it, one per source.
pub(super) fn observed_permissions(permission: &IpPermission) -> Vec<ObservedPermission> {
    let protocol = match permission.ip_protocol().unwrap_or_default() {
        "tcp" | "6" => "tcp",
        "udp" | "17" => "udp",
        _ => return Vec::new(),
    };
    let observed = |source: RuleSource, description: Option<&str>| ObservedPermission {
        permission: Permission {
            protocol: protocol.to_string(),
            from_port: permission.from_port().unwrap_or_default(),
            to_port: permission.to_port().unwrap_or_default(),
            source,
        },
        description: description.map(str::to_string),
    };
    let v4 = permission.ip_ranges().iter().filter_map(|range| {
        let cidr = range.cidr_ip()?;
        Some(observed(
            RuleSource::Cidr(cidr.to_string()),
            range.description(),
        ))
    });
    let v6 = permission.ipv6_ranges().iter().filter_map(|range| {
        let cidr = range.cidr_ipv6()?;
        Some(observed(
            RuleSource::Cidr(cidr.to_string()),
            range.description(),
        ))
    });
    let groups = permission.user_id_group_pairs().iter().filter_map(|pair| {
        let group = pair.group_id()?;
        Some(observed(
            RuleSource::SecurityGroup(group.to_string()),
            pair.description(),
        ))
    });
    v4.chain(v6).chain(groups).collect()
}

/// One AWS permission per wanted permission, described as ours. Revocations carry the
/// description too: only our rules are revoked, and moto (like upstream's requests) matches it.
fn ip_permission(permission: &Permission) -> IpPermission {
    let description = Some(MANAGED_RULE_DESCRIPTION);
    let builder = IpPermission::builder()
        .ip_protocol(&permission.protocol)
        .from_port(permission.from_port)
        .to_port(permission.to_port);
    match &permission.source {
        RuleSource::SecurityGroup(group) => builder
            .user_id_group_pairs(
                UserIdGroupPair::builder()
                    .group_id(group)
                    .set_description(description.map(str::to_string))
                    .build(),
            )
            .build(),
        RuleSource::Cidr(cidr) if cidr.contains(':') => builder
            .ipv6_ranges(
                Ipv6Range::builder()
                    .cidr_ipv6(cidr)
                    .set_description(description.map(str::to_string))
                    .build(),
            )
            .build(),
        RuleSource::Cidr(cidr) => builder
            .ip_ranges(
                IpRange::builder()
                    .cidr_ip(cidr)
                    .set_description(description.map(str::to_string))
                    .build(),
            )
            .build(),
    }
}

pub(super) async fn authorize(
    client: &Client,
    group_id: &str,
    permissions: &[Permission],
) -> CloudResult<()> {
    let permissions = permissions.iter().map(ip_permission).collect();
    super::security_groups::send_authorize(client, group_id, permissions).await
}

pub(super) async fn revoke(
    client: &Client,
    group_id: &str,
    permissions: &[Permission],
) -> CloudResult<()> {
    let permissions = permissions.iter().map(ip_permission).collect();
    super::security_groups::send_revoke(client, group_id, permissions).await
}

/// Our interface from either SDK shape (a VPC interface or an instance's): the same accessors
/// on different types.
macro_rules! network_interface {
    ($interface:expr, $instance_id:expr, $device_index:expr) => {{
        let interface = $interface;
        NetworkInterface {
            id: interface
                .network_interface_id()
                .unwrap_or_default()
                .to_string(),
            instance_id: $instance_id,
            device_index: $device_index,
            private_ips: interface
                .private_ip_addresses()
                .iter()
                .filter_map(|a| a.private_ip_address())
                .map(str::to_string)
                .collect(),
            ipv6_addresses: interface
                .ipv6_addresses()
                .iter()
                .filter_map(|a| a.ipv6_address())
                .map(str::to_string)
                .collect(),
            ipv4_prefixes: interface
                .ipv4_prefixes()
                .iter()
                .filter_map(|p| p.ipv4_prefix())
                .map(str::to_string)
                .collect(),
            ipv6_prefixes: interface
                .ipv6_prefixes()
                .iter()
                .filter_map(|p| p.ipv6_prefix())
                .map(str::to_string)
                .collect(),
            security_groups: interface
                .groups()
                .iter()
                .filter_map(|g| g.group_id())
                .map(str::to_string)
                .collect(),
            vpc_id: interface.vpc_id().map(str::to_string),
        }
    }};
}

fn interface_of(interface: &aws_sdk_ec2::types::NetworkInterface) -> NetworkInterface {
    let attachment = interface.attachment();
    network_interface!(
        interface,
        attachment.and_then(|a| a.instance_id()).map(str::to_string),
        attachment.and_then(|a| a.device_index())
    )
}

fn instance_interface_of(
    instance_id: &str,
    interface: &aws_sdk_ec2::types::InstanceNetworkInterface,
) -> NetworkInterface {
    network_interface!(
        interface,
        Some(instance_id.to_string()),
        interface.attachment().and_then(|a| a.device_index())
    )
}

pub(super) async fn describe_instance_interfaces(
    client: &Client,
    instance_ids: &[String],
) -> CloudResult<Vec<NetworkInterface>> {
    let mut interfaces = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .describe_instances()
            .set_instance_ids(Some(instance_ids.to_vec()))
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(classify)?;
        for instance in page.reservations().iter().flat_map(|r| r.instances()) {
            let id = instance.instance_id().unwrap_or_default();
            interfaces.extend(
                instance
                    .network_interfaces()
                    .iter()
                    .map(|interface| instance_interface_of(id, interface)),
            );
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(interfaces);
        }
    }
}

pub(super) async fn describe_network_interfaces(
    client: &Client,
    ids: Option<&[String]>,
    filters: Vec<Filter>,
) -> CloudResult<Vec<NetworkInterface>> {
    let mut interfaces = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .describe_network_interfaces()
            .set_network_interface_ids(ids.map(<[String]>::to_vec))
            .set_filters((!filters.is_empty()).then(|| filters.clone()))
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(classify)?;
        interfaces.extend(page.network_interfaces().iter().map(interface_of));
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(interfaces);
        }
    }
}

/// The VPC's interfaces holding `addresses`: one call for the IPv4 ones, one for the IPv6 ones.
pub(super) async fn find_by_address(
    cloud: &super::SdkCloud,
    vpc_id: &str,
    addresses: &[String],
) -> CloudResult<Vec<NetworkInterface>> {
    let mut found = Vec::new();
    for filters in address_filters(vpc_id, addresses) {
        let call = cloud.begin(EC2, "DescribeNetworkInterfaces", false).await;
        found.extend(call.finished(describe_network_interfaces(&cloud.ec2, None, filters).await)?);
    }
    Ok(found)
}

/// The filters that find the VPC's interfaces holding `addresses` (IPv4 and IPv6 apart).
fn address_filters(vpc_id: &str, addresses: &[String]) -> Vec<Vec<Filter>> {
    let (v6, v4): (Vec<&String>, Vec<&String>) = addresses.iter().partition(|a| a.contains(':'));
    let vpc = Filter::builder().name("vpc-id").values(vpc_id).build();
    let mut searches = Vec::new();
    for (name, list) in [
        ("addresses.private-ip-address", v4),
        ("ipv6-addresses.ipv6-address", v6),
    ] {
        if !list.is_empty() {
            searches.push(vec![
                vpc.clone(),
                Filter::builder()
                    .name(name)
                    .set_values(Some(list.into_iter().cloned().collect()))
                    .build(),
            ]);
        }
    }
    searches
}

/// The VPCs carrying every tag of `tags` (DescribeVpcs filtered by tag).
pub(super) async fn find_vpcs(
    cloud: &super::SdkCloud,
    tags: &crate::model::Tags,
) -> CloudResult<Vec<String>> {
    let call = cloud.begin(EC2, "DescribeVpcs", false).await;
    let filters: Vec<Filter> = tags
        .iter()
        .map(|(key, value)| {
            Filter::builder()
                .name(format!("tag:{key}"))
                .values(value)
                .build()
        })
        .collect();
    let mut vpcs = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = cloud
            .ec2
            .describe_vpcs()
            .set_filters(Some(filters.clone()))
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| call.failed(classify(e)))?;
        vpcs.extend(
            page.vpcs()
                .iter()
                .filter_map(|v| v.vpc_id())
                .map(str::to_string),
        );
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(vpcs);
        }
    }
}
