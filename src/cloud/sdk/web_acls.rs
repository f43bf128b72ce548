//! WAFv2 calls: regional web ACLs by name, and the association of a load balancer with one.

use super::classify;
use crate::cloud::CloudResult;
use crate::facts::WebAcl;
use aws_sdk_wafv2::types::Scope;
use aws_sdk_wafv2::Client;

pub(super) async fn list(client: &Client) -> CloudResult<Vec<WebAcl>> {
    let mut acls = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = client
            .list_web_acls()
            .scope(Scope::Regional)
            .limit(100)
            .set_next_marker(marker.take())
            .send()
            .await
            .map_err(classify)?;
        let listed = page.web_acls();
        acls.extend(listed.iter().map(|acl| WebAcl {
            name: acl.name().unwrap_or_default().to_string(),
            arn: acl.arn().unwrap_or_default().to_string(),
        }));
        match page.next_marker() {
            Some(next) if !next.is_empty() && !listed.is_empty() => marker = Some(next.to_string()),
            _ => return Ok(acls),
        }
    }
}

pub(super) async fn of_resource(
    client: &Client,
    resource_arn: &str,
) -> CloudResult<Option<String>> {
    let output = client
        .get_web_acl_for_resource()
        .resource_arn(resource_arn)
        .send()
        .await
        .map_err(classify)?;
    Ok(output
        .web_acl()
        .map(|acl| acl.arn().to_string())
        .filter(|arn| !arn.is_empty()))
}

pub(super) async fn associate(
    client: &Client,
    web_acl_arn: &str,
    resource_arn: &str,
) -> CloudResult<()> {
    client
        .associate_web_acl()
        .web_acl_arn(web_acl_arn)
        .resource_arn(resource_arn)
        .send()
        .await
        .map(|_| ())
        .map_err(classify)
}

pub(super) async fn disassociate(client: &Client, resource_arn: &str) -> CloudResult<()> {
    client
        .disassociate_web_acl()
        .resource_arn(resource_arn)
        .send()
        .await
        .map(|_| ())
        .map_err(classify)
}
