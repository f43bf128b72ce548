//! Load balancer add-ons outside ELBv2's own calls: WAF Classic (regional) web ACLs, Shield
//! Advanced protections, and capacity reservations.

use super::classify;
use crate::cloud::{CloudResult, ErrorKind, ShieldProtection};

pub(super) async fn classic_web_acl_of(
    client: &aws_sdk_wafregional::Client,
    resource_arn: &str,
) -> CloudResult<Option<String>> {
    let output = client
        .get_web_acl_for_resource()
        .resource_arn(resource_arn)
        .send()
        .await
        .map_err(classify)?;
    Ok(output
        .web_acl_summary()
        .map(|acl| acl.web_acl_id().to_string())
        .filter(|id| !id.is_empty()))
}

pub(super) async fn associate_classic_web_acl(
    client: &aws_sdk_wafregional::Client,
    web_acl_id: &str,
    resource_arn: &str,
) -> CloudResult<()> {
    client
        .associate_web_acl()
        .web_acl_id(web_acl_id)
        .resource_arn(resource_arn)
        .send()
        .await
        .map(|_| ())
        .map_err(classify)
}

pub(super) async fn disassociate_classic_web_acl(
    client: &aws_sdk_wafregional::Client,
    resource_arn: &str,
) -> CloudResult<()> {
    client
        .disassociate_web_acl()
        .resource_arn(resource_arn)
        .send()
        .await
        .map(|_| ())
        .map_err(classify)
}

pub(super) async fn shield_subscription_active(
    client: &aws_sdk_shield::Client,
) -> CloudResult<bool> {
    let output = client
        .get_subscription_state()
        .send()
        .await
        .map_err(classify)?;
    Ok(output.subscription_state().as_str() == "ACTIVE")
}

pub(super) async fn describe_protection(
    client: &aws_sdk_shield::Client,
    resource_arn: &str,
) -> CloudResult<Option<ShieldProtection>> {
    match client
        .describe_protection()
        .resource_arn(resource_arn)
        .send()
        .await
    {
        Ok(output) => Ok(output.protection().map(|p| ShieldProtection {
            id: p.id().unwrap_or_default().to_string(),
            name: p.name().unwrap_or_default().to_string(),
        })),
        Err(error) => {
            let error = classify(error);
            if error.kind == ErrorKind::NotFound {
                Ok(None)
            } else {
                Err(error)
            }
        }
    }
}

pub(super) async fn create_protection(
    client: &aws_sdk_shield::Client,
    name: &str,
    resource_arn: &str,
) -> CloudResult<()> {
    client
        .create_protection()
        .name(name)
        .resource_arn(resource_arn)
        .send()
        .await
        .map(|_| ())
        .map_err(classify)
}

pub(super) async fn delete_protection(
    client: &aws_sdk_shield::Client,
    id: &str,
) -> CloudResult<()> {
    client
        .delete_protection()
        .protection_id(id)
        .send()
        .await
        .map(|_| ())
        .map_err(classify)
}

pub(super) async fn describe_capacity_reservation(
    client: &aws_sdk_elasticloadbalancingv2::Client,
    arn: &str,
) -> CloudResult<Option<i32>> {
    let output = client
        .describe_capacity_reservation()
        .load_balancer_arn(arn)
        .send()
        .await
        .map_err(classify)?;
    Ok(output
        .minimum_load_balancer_capacity()
        .and_then(|c| c.capacity_units()))
}

pub(super) async fn modify_capacity_reservation(
    client: &aws_sdk_elasticloadbalancingv2::Client,
    arn: &str,
    units: Option<i32>,
) -> CloudResult<()> {
    use aws_sdk_elasticloadbalancingv2::types::MinimumLoadBalancerCapacity;
    let request = client.modify_capacity_reservation().load_balancer_arn(arn);
    let request = match units {
        Some(units) => request.minimum_load_balancer_capacity(
            MinimumLoadBalancerCapacity::builder()
                .capacity_units(units)
                .build(),
        ),
        None => request.reset_capacity_reservation(true),
    };
    request.send().await.map(|_| ()).map_err(classify)
}
