//! SDK errors turned into the port's classification (`ErrorKind`), by AWS error code, with the
//! operation named. It classifies; retrying is the SDK's job and deciding what to do the caller's.

use crate::cloud::{CloudError, ErrorKind};
use aws_sdk_elasticloadbalancingv2::error::ProvideErrorMetadata;

/// Turns an SDK error into our classification, by AWS error code. The operation is named by
/// the adapter's `Call` the error is returned through.
pub(crate) fn classify<E, R>(
    error: aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> CloudError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let code = error.code().unwrap_or_default().to_string();
    let message = error.message().map(str::to_string).unwrap_or_else(|| {
        aws_smithy_types::error::display::DisplayErrorContext(&error).to_string()
    });
    let kind = match code.as_str() {
        "LoadBalancerNotFound"
        | "TargetGroupNotFound"
        | "ListenerNotFound"
        | "RuleNotFound"
        | "InvalidGroup.NotFound"
        | "InvalidGroupId.NotFound"
        | "InvalidPermission.NotFound"
        | "TrustStoreNotFound"
        | "ResourceNotFoundException"
        | "WAFNonexistentItemException" => ErrorKind::NotFound,
        "ResourceInUse" | "DependencyViolation" => ErrorKind::InUse,
        "RulesPerSecurityGroupLimitExceeded" => ErrorKind::QuotaExceeded,
        "DuplicateLoadBalancerName"
        | "DuplicateTargetGroupName"
        | "DuplicateListener"
        | "InvalidGroup.Duplicate"
        | "InvalidPermission.Duplicate"
        | "PriorityInUse"
        | "DuplicateTagKeys" => ErrorKind::Conflict,
        "Throttling"
        | "ThrottlingException"
        | "RequestLimitExceeded"
        | "TooManyRequestsException" => ErrorKind::Throttled,
        "ValidationError"
        | "InvalidConfigurationRequest"
        | "OperationNotPermitted"
        | "InvalidParameterValue"
        | "InvalidParameterCombination"
        | "InvalidSubnet"
        | "InvalidSecurityGroup"
        | "UnsupportedProtocol"
        | "InvalidScheme"
        | "CertificateNotFound"
        | "TooManyLoadBalancers"
        | "TooManyTargetGroups"
        | "TooManyListeners" => ErrorKind::Invalid,
        _ => ErrorKind::Other,
    };
    let message = if code.is_empty() {
        message
    } else {
        format!("{code}: {message}")
    };
    CloudError::new(kind, "", message)
}
