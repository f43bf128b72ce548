//! Rule transforms (URL and Host header rewrites) between our type and the SDK's.

use crate::cloud::RuleTransform;
use aws_sdk_elasticloadbalancingv2::types::{
    HostHeaderRewriteConfig, RewriteConfig, RuleTransform as SdkTransform, TransformTypeEnum,
    UrlRewriteConfig,
};

fn sdk_rewrites(rewrites: &[(String, String)]) -> Vec<RewriteConfig> {
    rewrites
        .iter()
        .map(|(regex, replace)| {
            RewriteConfig::builder()
                .regex(regex)
                .replace(replace)
                .build()
        })
        .collect()
}

fn our_rewrites(rewrites: &[RewriteConfig]) -> Vec<(String, String)> {
    rewrites
        .iter()
        .map(|r| {
            (
                r.regex().unwrap_or_default().to_string(),
                r.replace().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The SDK's transforms; `None` when there are none (the field is then left out).
pub(super) fn sdk_transforms(transforms: &[RuleTransform]) -> Option<Vec<SdkTransform>> {
    if transforms.is_empty() {
        return None;
    }
    Some(
        transforms
            .iter()
            .map(|transform| match transform {
                RuleTransform::UrlRewrite { rewrites } => SdkTransform::builder()
                    .r#type(TransformTypeEnum::UrlRewrite)
                    .url_rewrite_config(
                        UrlRewriteConfig::builder()
                            .set_rewrites(Some(sdk_rewrites(rewrites)))
                            .build(),
                    )
                    .build(),
                RuleTransform::HostHeaderRewrite { rewrites } => SdkTransform::builder()
                    .r#type(TransformTypeEnum::HostHeaderRewrite)
                    .host_header_rewrite_config(
                        HostHeaderRewriteConfig::builder()
                            .set_rewrites(Some(sdk_rewrites(rewrites)))
                            .build(),
                    )
                    .build(),
            })
            .collect(),
    )
}

pub(super) fn our_transform(transform: &SdkTransform) -> Option<RuleTransform> {
    match transform.r#type()? {
        TransformTypeEnum::UrlRewrite => Some(RuleTransform::UrlRewrite {
            rewrites: our_rewrites(transform.url_rewrite_config()?.rewrites()),
        }),
        TransformTypeEnum::HostHeaderRewrite => Some(RuleTransform::HostHeaderRewrite {
            rewrites: our_rewrites(transform.host_header_rewrite_config()?.rewrites()),
        }),
        _ => None,
    }
}
