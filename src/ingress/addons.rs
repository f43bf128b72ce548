//! Add-ons of a group's load balancer (upstream's §4.12, §4.13): the WAFv2 web ACL, the WAF
//! Classic web ACL, Shield Advanced protection, and the minimum capacity. Pure: web ACL names
//! are resolved against the facts the discover step read.
//!
//! Modelled only when a member says something; otherwise AWS is left as it is. A name
//! (`wafv2-acl-name`, params `wafv2AclName`) wins over ARNs (`wafv2-acl-arn`, params
//! `wafv2AclArn`); `none` (or an empty ARN annotation) disassociates. Members giving different
//! values fail the group, naming them. The same holds for `waf-acl-id` (`none` disassociates),
//! `shield-advanced-protection` and the minimum capacity (the first member's params win
//! outright, as upstream). Each is off with its flag (`--enable-wafv2`, `--enable-waf`,
//! `--enable-shield`) or gate (`LBCapacityReservation`).

use super::member::{Member, MemberSettings};
use super::settings::{agreed, asked_by, choices, member_settings};
use crate::config::ControllerConfig;
use crate::facts::CloudFacts;
use crate::model::NO_WEB_ACL;

/// Some member names a web ACL by name: the discover step lists the regional web ACLs.
pub fn needs_web_acl_names(members: &[Member], config: &ControllerConfig) -> bool {
    config.enable_wafv2
        && members
            .iter()
            .any(|m| member_settings(m).is_ok_and(|s| s.wafv2_acl_name.is_some()))
}

/// The web ACL the load balancer should have (`Some(NO_WEB_ACL)` for none), or `None` to leave
/// it as it is.
pub(super) fn web_acl(
    settings: &[(String, MemberSettings)],
    config: &ControllerConfig,
    facts: &CloudFacts,
) -> Result<Option<String>, String> {
    if !config.enable_wafv2 {
        return Ok(None);
    }
    let by_name = agreed(
        "WAFv2 web ACL name",
        &choices(settings, |s| s.wafv2_acl_name.clone()),
    )?;
    match by_name {
        Some(name) if name == NO_WEB_ACL => Ok(Some(NO_WEB_ACL.to_string())),
        Some(name) => facts
            .web_acls
            .iter()
            .find(|acl| acl.name == name)
            .map(|acl| Some(acl.arn.clone()))
            .ok_or_else(|| {
                format!(
                    "no regional WAFv2 web ACL is named {name}{}",
                    asked_by(settings, "wafv2-acl-name", |s| s.wafv2_acl_name.is_some())
                )
            }),
        None => agreed(
            "WAFv2 web ACL ARN",
            &choices(settings, |s| s.wafv2_acl_arn.clone()),
        ),
    }
}

/// The WAF Classic web ACL id (`none` to disassociate), or `None` to leave AWS as it is.
pub(super) fn classic_web_acl(
    settings: &[(String, MemberSettings)],
    config: &ControllerConfig,
) -> Result<Option<String>, String> {
    if !config.enable_waf {
        return Ok(None);
    }
    agreed(
        "WAF Classic web ACL",
        &choices(settings, |s| s.waf_classic_acl.clone()),
    )
}

/// Shield Advanced protection wanted (`true`), to be removed (`false`), or left (`None`).
pub(super) fn shield_protection(
    settings: &[(String, MemberSettings)],
    config: &ControllerConfig,
) -> Result<Option<bool>, String> {
    if !config.enable_shield {
        return Ok(None);
    }
    Ok(agreed(
        "Shield Advanced protection",
        &choices(settings, |s| s.shield.map(|b| b.to_string())),
    )?
    .map(|value| value == "true"))
}

/// The minimum capacity units (`0` resets), or `None` to leave the reservation alone.
pub(super) fn minimum_capacity(
    first_member_params: Option<i32>,
    settings: &[(String, MemberSettings)],
    config: &ControllerConfig,
) -> Result<Option<i32>, String> {
    if !config.feature_gates.lb_capacity_reservation {
        return Ok(None);
    }
    if first_member_params.is_some() {
        return Ok(first_member_params);
    }
    Ok(agreed(
        "minimum load balancer capacity",
        &choices(settings, |s| s.capacity_units.map(|u| u.to_string())),
    )?
    .and_then(|units| units.parse().ok()))
}
