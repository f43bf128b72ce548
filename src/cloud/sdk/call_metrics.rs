//! An SDK interceptor that measures every AWS call into `crate::metrics`: calls and HTTP attempts
//! by service, operation, status and AWS error code; durations; retries; calls in flight.
//!
//! It only observes: it never changes a request or an outcome.

use crate::metrics::{metrics, AwsCallOutcome};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
    FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::{HttpResponse, Metadata};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use std::time::Instant;

#[derive(Debug, Clone)]
struct CallStarted {
    at: Instant,
    attempts: u32,
}

impl Storable for CallStarted {
    type Storer = StoreReplace<Self>;
}

/// Add to every SDK client's configuration (`.interceptor(CallMetrics)`).
#[derive(Debug, Clone, Copy, Default)]
pub struct CallMetrics;

fn names(cfg: &ConfigBag) -> (String, String) {
    cfg.load::<Metadata>()
        .map(|metadata| (metadata.service().to_string(), metadata.name().to_string()))
        .unwrap_or_default()
}

/// AWS's error code in a response: the JSON protocols' `x-amzn-errortype` header, else the
/// `<Code>` of a query/EC2 XML body, else the `__type` of a JSON body.
pub fn error_code(response: &HttpResponse) -> String {
    if response.status().is_success() {
        return String::new();
    }
    if let Some(kind) = response.headers().get("x-amzn-errortype") {
        return kind.split(':').next().unwrap_or_default().to_string();
    }
    let body = response
        .body()
        .bytes()
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    if let Some(start) = body.find("<Code>") {
        let rest = &body[start + "<Code>".len()..];
        if let Some(end) = rest.find("</Code>") {
            return rest[..end].trim().to_string();
        }
    }
    if let Ok(json) = serde_json::from_str::<serde_json::Value>(&body) {
        if let Some(kind) = json.get("__type").and_then(|v| v.as_str()) {
            return kind.rsplit('#').next().unwrap_or_default().to_string();
        }
    }
    String::new()
}

impl Intercept for CallMetrics {
    fn name(&self) -> &'static str {
        "CallMetrics"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        metrics().aws_calls_in_flight.inc();
        cfg.interceptor_state().store_put(CallStarted {
            at: Instant::now(),
            attempts: 0,
        });
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(mut started) = cfg.load::<CallStarted>().cloned() {
            started.attempts += 1;
            cfg.interceptor_state().store_put(started);
        }
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (service, operation) = names(cfg);
        let (status, code) = context
            .response()
            .map(|response| (response.status().as_u16().to_string(), error_code(response)))
            .unwrap_or_default();
        metrics()
            .aws_api_requests_total
            .with_label_values(&[&service, &operation, &status, &code])
            .inc();
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        metrics().aws_calls_in_flight.dec();
        let (service, operation) = names(cfg);
        let started = cfg.load::<CallStarted>().cloned();
        let (status_code, code) = context
            .response()
            .map(|response| (response.status().as_u16().to_string(), error_code(response)))
            .unwrap_or_default();
        metrics().record_aws_call(&AwsCallOutcome {
            service: &service,
            operation: &operation,
            status_code,
            error_code: &code,
            seconds: started
                .as_ref()
                .map(|s| s.at.elapsed().as_secs_f64())
                .unwrap_or_default(),
            attempts: started.map(|s| s.attempts).unwrap_or(1),
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_types::body::SdkBody;

    fn response(status: u16, body: &str, header: Option<&str>) -> HttpResponse {
        let mut response = HttpResponse::new(
            status.try_into().expect("status"),
            SdkBody::from(body.to_string()),
        );
        if let Some(value) = header {
            response
                .headers_mut()
                .insert("x-amzn-errortype", value.to_string());
        }
        response
    }

    #[test]
    fn error_codes_are_read_from_every_protocol() {
        assert_eq!(error_code(&response(200, "<Code>X</Code>", None)), "");
        assert_eq!(
            error_code(&response(
                400,
                "<ErrorResponse><Error><Code>LoadBalancerNotFound</Code></Error></ErrorResponse>",
                None
            )),
            "LoadBalancerNotFound"
        );
        assert_eq!(
            error_code(&response(
                400,
                "{}",
                Some("ThrottlingException:http://internal.amazon.com/")
            )),
            "ThrottlingException"
        );
        assert_eq!(
            error_code(&response(
                400,
                r#"{"__type":"com.amazonaws.acm#ResourceNotFoundException"}"#,
                None
            )),
            "ResourceNotFoundException"
        );
    }
}
