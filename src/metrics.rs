//! The process's Prometheus metrics: one registry, the series it holds, and its text rendering.
//!
//! Names follow upstream's where it has them (`aws_api_calls_total`, `aws_api_call_duration_seconds`,
//! `aws_api_call_retries`, `aws_api_requests_total`, `aws_api_call_*_errors_total`,
//! `awslbc_controller_reconcile_errors_total`, `controller_runtime_reconcile_total`,
//! `controller_runtime_reconcile_time_seconds`, `controller_runtime_active_workers`,
//! `workqueue_depth`, `leader_election_master_status`, `controller_runtime_webhook_*`,
//! `aws_target_group_info`, `awslbc_readiness_gate_ready_seconds`,
//! `awslbc_webhook_validation_failure_total`, `awslbc_webhook_mutation_failure_total`); ours are prefixed `awslbc_` (`awslbc_aws_throttle_wait_seconds`,
//! `awslbc_aws_calls_in_flight`).
//!
//! It records and renders; serving the text over HTTP is `crate::probes`' job, and measuring AWS
//! calls is the SDK interceptor's (`crate::cloud::sdk::call_metrics`).

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use std::future::Future;
use std::sync::LazyLock;
use std::time::Instant;

/// Every series the controller exports.
pub struct Metrics {
    registry: Registry,
    pub aws_api_calls_total: IntCounterVec,
    pub aws_api_call_duration_seconds: HistogramVec,
    pub aws_api_call_retries: HistogramVec,
    pub aws_api_requests_total: IntCounterVec,
    pub aws_api_call_permission_errors_total: IntCounterVec,
    pub aws_api_call_service_limit_exceeded_errors_total: IntCounterVec,
    pub aws_api_call_throttled_errors_total: IntCounterVec,
    pub aws_api_call_validation_errors_total: IntCounterVec,
    pub aws_throttle_wait_seconds: HistogramVec,
    pub aws_calls_in_flight: IntGauge,
    pub reconcile_total: IntCounterVec,
    pub reconcile_errors_total: IntCounterVec,
    pub reconcile_time_seconds: HistogramVec,
    pub active_workers: IntGaugeVec,
    pub workqueue_depth: IntGaugeVec,
    pub leader_election_master_status: IntGaugeVec,
    pub target_group_info: IntGaugeVec,
    pub readiness_gate_ready_seconds: HistogramVec,
    pub webhook_requests_total: IntCounterVec,
    pub webhook_latency_seconds: HistogramVec,
    pub webhook_validation_failure_total: IntCounterVec,
    pub webhook_mutation_failure_total: IntCounterVec,
}

const AWS_CALL_LABELS: &[&str] = &["service", "operation", "status_code", "error_code"];

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let counter = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    registry
        .register(Box::new(counter.clone()))
        .expect("metric registered once");
    counter
}

fn histogram(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
    buckets: Option<Vec<f64>>,
) -> HistogramVec {
    let mut options = HistogramOpts::new(name, help);
    if let Some(buckets) = buckets {
        options = options.buckets(buckets);
    }
    let histogram = HistogramVec::new(options, labels).expect("valid metric");
    registry
        .register(Box::new(histogram.clone()))
        .expect("metric registered once");
    histogram
}

fn gauge_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let gauge = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
    registry
        .register(Box::new(gauge.clone()))
        .expect("metric registered once");
    gauge
}

impl Metrics {
    // Startup: the names and labels are constants, so registering cannot fail at run time.
    fn new() -> Self {
        let registry = Registry::new();
        let r = &registry;
        let in_flight = IntGauge::new(
            "awslbc_aws_calls_in_flight",
            "AWS calls started and not yet finished",
        )
        .expect("valid metric");
        registry
            .register(Box::new(in_flight.clone()))
            .expect("metric registered once");
        Self {
            aws_api_calls_total: counter(
                r,
                "aws_api_calls_total",
                "AWS SDK calls, after retries",
                AWS_CALL_LABELS,
            ),
            aws_api_call_duration_seconds: histogram(
                r,
                "aws_api_call_duration_seconds",
                "AWS SDK call latency, retries included",
                &["service", "operation"],
                None,
            ),
            aws_api_call_retries: histogram(
                r,
                "aws_api_call_retries",
                "Retries per AWS SDK call",
                &["service", "operation"],
                Some((0..=10).map(f64::from).collect()),
            ),
            aws_api_requests_total: counter(
                r,
                "aws_api_requests_total",
                "HTTP attempts of AWS SDK calls",
                AWS_CALL_LABELS,
            ),
            aws_api_call_permission_errors_total: counter(
                r,
                "aws_api_call_permission_errors_total",
                "AWS calls refused for permissions",
                AWS_CALL_LABELS,
            ),
            aws_api_call_service_limit_exceeded_errors_total: counter(
                r,
                "aws_api_call_service_limit_exceeded_errors_total",
                "AWS calls refused for a service limit",
                AWS_CALL_LABELS,
            ),
            aws_api_call_throttled_errors_total: counter(
                r,
                "aws_api_call_throttled_errors_total",
                "AWS calls throttled by AWS",
                AWS_CALL_LABELS,
            ),
            aws_api_call_validation_errors_total: counter(
                r,
                "aws_api_call_validation_errors_total",
                "AWS calls refused as invalid",
                AWS_CALL_LABELS,
            ),
            aws_throttle_wait_seconds: histogram(
                r,
                "awslbc_aws_throttle_wait_seconds",
                "Time AWS calls waited for the client-side throttle",
                &["service", "operation"],
                Some(vec![0.001, 0.01, 0.1, 0.5, 1.0, 5.0, 30.0]),
            ),
            aws_calls_in_flight: in_flight,
            reconcile_total: counter(
                r,
                "controller_runtime_reconcile_total",
                "Reconciles per controller and result",
                &["controller", "result"],
            ),
            reconcile_errors_total: counter(
                r,
                "awslbc_controller_reconcile_errors_total",
                "Failed reconciles per controller",
                &["controller", "error_category"],
            ),
            reconcile_time_seconds: histogram(
                r,
                "controller_runtime_reconcile_time_seconds",
                "Reconcile durations per controller",
                &["controller"],
                None,
            ),
            active_workers: gauge_vec(
                r,
                "controller_runtime_active_workers",
                "Reconciles running now per controller",
                &["controller"],
            ),
            workqueue_depth: gauge_vec(
                r,
                "workqueue_depth",
                "Keys waiting in a controller's work queue (the Ingress loop's groups)",
                &["name"],
            ),
            leader_election_master_status: gauge_vec(
                r,
                "leader_election_master_status",
                "1 while this process leads",
                &["name"],
            ),
            target_group_info: gauge_vec(
                r,
                "aws_target_group_info",
                "1 per TargetGroupBinding: its Service and target group",
                &["namespace", "service", "target_group"],
            ),
            readiness_gate_ready_seconds: histogram(
                r,
                "awslbc_readiness_gate_ready_seconds",
                "From a pod's readiness gate False (or the pod's creation) to True",
                &["namespace", "name"],
                Some(vec![
                    10.0, 30.0, 60.0, 120.0, 180.0, 240.0, 300.0, 360.0, 420.0, 480.0, 540.0, 600.0,
                ]),
            ),
            webhook_requests_total: counter(
                r,
                "controller_runtime_webhook_requests_total",
                "Admission requests per webhook path and HTTP code",
                &["webhook", "code"],
            ),
            webhook_latency_seconds: histogram(
                r,
                "controller_runtime_webhook_latency_seconds",
                "Admission request latency per webhook path",
                &["webhook"],
                Some(vec![0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0]),
            ),
            webhook_validation_failure_total: counter(
                r,
                "awslbc_webhook_validation_failure_total",
                "Objects refused by a validating webhook",
                &["webhook_name", "error_category"],
            ),
            webhook_mutation_failure_total: counter(
                r,
                "awslbc_webhook_mutation_failure_total",
                "Mutations a webhook could not make",
                &["webhook_name", "error_category"],
            ),
            registry,
        }
    }

    /// The registry in Prometheus' text exposition format.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut buffer) {
            return format!("# metrics could not be encoded: {error}\n");
        }
        String::from_utf8_lossy(&buffer).into_owned()
    }

    /// Counts one finished AWS call (after its retries) with its outcome.
    pub fn record_aws_call(&self, call: &AwsCallOutcome<'_>) {
        let labels = [
            call.service,
            call.operation,
            &call.status_code,
            call.error_code,
        ];
        self.aws_api_calls_total.with_label_values(&labels).inc();
        let pair = [call.service, call.operation];
        self.aws_api_call_duration_seconds
            .with_label_values(&pair)
            .observe(call.seconds);
        self.aws_api_call_retries
            .with_label_values(&pair)
            .observe(f64::from(call.attempts.saturating_sub(1)));
        if let Some(category) = error_category(call.status_code.parse().ok(), call.error_code) {
            let series = match category {
                ErrorCategory::Permission => &self.aws_api_call_permission_errors_total,
                ErrorCategory::ServiceLimit => {
                    &self.aws_api_call_service_limit_exceeded_errors_total
                }
                ErrorCategory::Throttled => &self.aws_api_call_throttled_errors_total,
                ErrorCategory::Validation => &self.aws_api_call_validation_errors_total,
            };
            series.with_label_values(&labels).inc();
        }
    }
}

/// One AWS call as the SDK interceptor saw it.
pub struct AwsCallOutcome<'a> {
    pub service: &'a str,
    pub operation: &'a str,
    /// The HTTP status of the last attempt, empty when none was received.
    pub status_code: String,
    /// AWS's error code, empty on success.
    pub error_code: &'a str,
    pub seconds: f64,
    pub attempts: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCategory {
    Permission,
    ServiceLimit,
    Throttled,
    Validation,
}

/// Which of upstream's error series a failed call counts in (service limits before throttling,
/// as upstream: `RequestLimitExceeded` is a limit).
pub fn error_category(status: Option<u16>, code: &str) -> Option<ErrorCategory> {
    if matches!(status, Some(401 | 403)) || matches!(code, "AccessDeniedException" | "AuthFailure")
    {
        Some(ErrorCategory::Permission)
    } else if code.contains("LimitExceeded") {
        Some(ErrorCategory::ServiceLimit)
    } else if matches!(
        code,
        "Throttling"
            | "ThrottlingException"
            | "ThrottledException"
            | "RequestThrottledException"
            | "TooManyRequestsException"
            | "ProvisionedThroughputExceededException"
            | "TransactionInProgressException"
            | "RequestThrottled"
            | "SlowDown"
            | "PriorRequestNotComplete"
            | "EC2ThrottledException"
    ) {
        Some(ErrorCategory::Throttled)
    } else if code == "ValidationError" {
        Some(ErrorCategory::Validation)
    } else {
        None
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    &METRICS
}

/// Runs one reconcile of `controller`, counting it, its duration and its outcome.
pub async fn observe_reconcile<T, E>(
    controller: &str,
    reconcile: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let metrics = metrics();
    let workers = metrics.active_workers.with_label_values(&[controller]);
    workers.inc();
    let started = Instant::now();
    let outcome = reconcile.await;
    workers.dec();
    metrics
        .reconcile_time_seconds
        .with_label_values(&[controller])
        .observe(started.elapsed().as_secs_f64());
    let result = if outcome.is_ok() { "success" } else { "error" };
    metrics
        .reconcile_total
        .with_label_values(&[controller, result])
        .inc();
    if outcome.is_err() {
        metrics
            .reconcile_errors_total
            .with_label_values(&[controller, "reconcile_error"])
            .inc();
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_fall_into_upstreams_series() {
        assert_eq!(
            error_category(Some(403), "UnauthorizedOperation"),
            Some(ErrorCategory::Permission)
        );
        assert_eq!(
            error_category(Some(400), "AccessDeniedException"),
            Some(ErrorCategory::Permission)
        );
        assert_eq!(
            error_category(Some(400), "RequestLimitExceeded"),
            Some(ErrorCategory::ServiceLimit),
            "a limit before a throttle, as upstream"
        );
        assert_eq!(
            error_category(Some(400), "Throttling"),
            Some(ErrorCategory::Throttled)
        );
        assert_eq!(
            error_category(Some(400), "ValidationError"),
            Some(ErrorCategory::Validation)
        );
        assert_eq!(error_category(Some(200), ""), None);
        assert_eq!(error_category(Some(400), "LoadBalancerNotFound"), None);
    }

    #[tokio::test]
    async fn reconciles_are_counted_per_controller_and_result() {
        let before_ok = metrics()
            .reconcile_total
            .with_label_values(&["test-metrics", "success"])
            .get();
        let _ = observe_reconcile("test-metrics", async { Ok::<_, ()>(()) }).await;
        let _ = observe_reconcile("test-metrics", async { Err::<(), _>("broken") }).await;
        let metrics = metrics();
        assert_eq!(
            metrics
                .reconcile_total
                .with_label_values(&["test-metrics", "success"])
                .get(),
            before_ok + 1
        );
        assert!(
            metrics
                .reconcile_errors_total
                .with_label_values(&["test-metrics", "reconcile_error"])
                .get()
                >= 1
        );
        let text = metrics.render();
        assert!(
            text.contains(
                "controller_runtime_reconcile_total{controller=\"test-metrics\",result=\"error\"}"
            ),
            "{text}"
        );
        assert!(text.contains("controller_runtime_reconcile_time_seconds_bucket"));
    }
}
