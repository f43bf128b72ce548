//! Load balancer calls and their conversions.

use super::{classify, tags_of};
use crate::cloud::{CloudError, CloudResult, ErrorKind, LoadBalancerInput, ObservedLoadBalancer};
use crate::model::{IpAddressType, LoadBalancerType, Scheme, SubnetMapping};
use aws_sdk_elasticloadbalancingv2::types::{
    IpAddressType as SdkIpAddressType, IpamPools, LoadBalancer, LoadBalancerAttribute,
    LoadBalancerSchemeEnum, LoadBalancerTypeEnum, RemoveIpamPoolEnum,
    SubnetMapping as SdkSubnetMapping,
};
use aws_sdk_elasticloadbalancingv2::Client;
use std::collections::BTreeMap;

fn observed(load_balancer: &LoadBalancer) -> Result<ObservedLoadBalancer, CloudError> {
    let load_balancer_type = match load_balancer
        .r#type()
        .and_then(|t| LoadBalancerType::parse(t.as_str()))
    {
        Some(known) => known,
        None => {
            let other = load_balancer.r#type();
            let message =
                format!("load balancer type {other:?} is not one this controller manages");
            return Err(CloudError::new(ErrorKind::Other, "", message));
        }
    };
    let subnet_mappings = load_balancer
        .availability_zones()
        .iter()
        .map(|zone| {
            let address = zone.load_balancer_addresses().first();
            SubnetMapping {
                subnet_id: zone.subnet_id().unwrap_or_default().to_string(),
                allocation_id: address.and_then(|a| a.allocation_id()).map(str::to_string),
                private_ipv4_address: address
                    .and_then(|a| a.private_ipv4_address())
                    .map(str::to_string),
                ipv6_address: address.and_then(|a| a.ipv6_address()).map(str::to_string),
                source_nat_ipv6_prefix: zone.source_nat_ipv6_prefixes().first().cloned(),
            }
        })
        .collect();
    Ok(ObservedLoadBalancer {
        arn: load_balancer
            .load_balancer_arn()
            .unwrap_or_default()
            .to_string(),
        name: load_balancer
            .load_balancer_name()
            .unwrap_or_default()
            .to_string(),
        load_balancer_type,
        scheme: match load_balancer.scheme() {
            Some(LoadBalancerSchemeEnum::InternetFacing) => Scheme::InternetFacing,
            _ => Scheme::Internal,
        },
        ip_address_type: IpAddressType::parse_or_ipv4(
            load_balancer
                .ip_address_type()
                .map(|t| t.as_str())
                .unwrap_or_default(),
        ),
        subnet_mappings,
        security_groups: load_balancer.security_groups().to_vec(),
        dns_name: load_balancer.dns_name().unwrap_or_default().to_string(),
        state: load_balancer
            .state()
            .and_then(|s| s.code())
            .map(|c| c.as_str().to_string())
            .unwrap_or_default(),
        ipv4_ipam_pool: load_balancer
            .ipam_pools()
            .and_then(|p| p.ipv4_ipam_pool_id())
            .map(str::to_string),
    })
}

fn source_nat_flag(
    on: bool,
) -> aws_sdk_elasticloadbalancingv2::types::EnablePrefixForIpv6SourceNatEnum {
    use aws_sdk_elasticloadbalancingv2::types::EnablePrefixForIpv6SourceNatEnum as Flag;
    if on {
        Flag::On
    } else {
        Flag::Off
    }
}

fn sdk_mappings(mappings: &[SubnetMapping]) -> Vec<SdkSubnetMapping> {
    mappings
        .iter()
        .map(|m| {
            SdkSubnetMapping::builder()
                .subnet_id(&m.subnet_id)
                .set_allocation_id(m.allocation_id.clone())
                .set_private_ipv4_address(m.private_ipv4_address.clone())
                .set_ipv6_address(m.ipv6_address.clone())
                .set_source_nat_ipv6_prefix(m.source_nat_ipv6_prefix.clone())
                .build()
        })
        .collect()
}

pub(super) async fn describe(
    client: &Client,
    arns: &[String],
) -> CloudResult<Vec<ObservedLoadBalancer>> {
    let output = client
        .describe_load_balancers()
        .set_load_balancer_arns(Some(arns.to_vec()))
        .send()
        .await
        .map_err(classify)?;
    output.load_balancers().iter().map(observed).collect()
}

pub(super) async fn describe_attributes(
    client: &Client,
    arn: &str,
) -> CloudResult<BTreeMap<String, String>> {
    let output = client
        .describe_load_balancer_attributes()
        .load_balancer_arn(arn)
        .send()
        .await
        .map_err(classify)?;
    Ok(output
        .attributes()
        .iter()
        .map(|a| (a.key(), a.value()))
        .collect::<super::AttributeMap>()
        .0)
}

pub(super) async fn create(
    client: &Client,
    input: &LoadBalancerInput,
) -> CloudResult<ObservedLoadBalancer> {
    let load_balancer_type = match input.load_balancer_type {
        LoadBalancerType::Network => LoadBalancerTypeEnum::Network,
        LoadBalancerType::Application => LoadBalancerTypeEnum::Application,
    };
    let output = client
        .create_load_balancer()
        .name(&input.name)
        .r#type(load_balancer_type)
        .scheme(LoadBalancerSchemeEnum::from(input.scheme.as_str()))
        .ip_address_type(SdkIpAddressType::from(input.ip_address_type.as_str()))
        .set_subnet_mappings(Some(sdk_mappings(&input.subnet_mappings)))
        .set_enable_prefix_for_ipv6_source_nat(input.ipv6_source_nat.map(source_nat_flag))
        .set_security_groups(
            (!input.security_groups.is_empty()).then(|| input.security_groups.clone()),
        )
        .set_customer_owned_ipv4_pool(input.address_pools.customer_owned_ipv4.clone())
        .set_ipam_pools(
            input
                .address_pools
                .ipv4_ipam
                .as_ref()
                .map(|pool| IpamPools::builder().ipv4_ipam_pool_id(pool).build()),
        )
        .set_tags(Some(tags_of(&input.tags)))
        .send()
        .await
        .map_err(classify)?;
    let created = output
        .load_balancers()
        .first()
        .ok_or_else(|| CloudError::new(ErrorKind::Other, "", "AWS returned no load balancer"))?;
    observed(created)
}

pub(super) async fn delete(client: &Client, arn: &str) -> CloudResult<()> {
    client
        .delete_load_balancer()
        .load_balancer_arn(arn)
        .send()
        .await
        .map(|_| ())
        .map_err(classify)
}

pub(super) async fn modify_attributes(
    client: &Client,
    arn: &str,
    attributes: &BTreeMap<String, String>,
) -> CloudResult<()> {
    let attributes = attributes
        .iter()
        .map(|(k, v)| LoadBalancerAttribute::builder().key(k).value(v).build())
        .collect();
    client
        .modify_load_balancer_attributes()
        .load_balancer_arn(arn)
        .set_attributes(Some(attributes))
        .send()
        .await
        .map(|_| ())
        .map_err(classify)
}

pub(super) async fn set_security_groups(
    client: &Client,
    arn: &str,
    group_ids: &[String],
) -> CloudResult<()> {
    client
        .set_security_groups()
        .load_balancer_arn(arn)
        .set_security_groups(Some(group_ids.to_vec()))
        .send()
        .await
        .map(|_| ())
        .map_err(classify)
}

pub(super) async fn set_subnets(
    client: &Client,
    arn: &str,
    mappings: &[SubnetMapping],
    ipv6_source_nat: Option<bool>,
) -> CloudResult<()> {
    client
        .set_subnets()
        .load_balancer_arn(arn)
        .set_subnet_mappings(Some(sdk_mappings(mappings)))
        .set_enable_prefix_for_ipv6_source_nat(ipv6_source_nat.map(source_nat_flag))
        .send()
        .await
        .map(|_| ())
        .map_err(classify)
}

pub(super) async fn set_ip_address_type(
    client: &Client,
    arn: &str,
    ip_address_type: IpAddressType,
) -> CloudResult<()> {
    client
        .set_ip_address_type()
        .load_balancer_arn(arn)
        .ip_address_type(SdkIpAddressType::from(ip_address_type.as_str()))
        .send()
        .await
        .map(|_| ())
        .map_err(classify)
}

pub(super) async fn set_ipam_pool(
    client: &Client,
    arn: &str,
    pool: Option<&str>,
) -> CloudResult<()> {
    let request = client.modify_ip_pools().load_balancer_arn(arn);
    let request = match pool {
        Some(pool) => request.ipam_pools(IpamPools::builder().ipv4_ipam_pool_id(pool).build()),
        None => request.remove_ipam_pools(RemoveIpamPoolEnum::Ipv4),
    };
    request.send().await.map(|_| ()).map_err(classify)
}
