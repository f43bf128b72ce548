//! One AWS call of the SDK adapter: `begin` records it in the call log, waits for the throttle
//! and holds it once the process is stopping; the [`Call`] it returns is the one place the
//! operation is named — the errors the call returns carry that name (the per-operation code
//! classifies without naming it).

use super::*;

/// One AWS call under way: the one place its operation is named (for the call log, the
/// throttle, the IAM policy check and the errors it returns).
#[must_use]
#[derive(Clone, Copy)]
pub(super) struct Call {
    operation: &'static str,
}

impl Call {
    /// The call's result, its error naming the operation.
    pub(super) fn finished<T>(self, result: CloudResult<T>) -> CloudResult<T> {
        result.map_err(|error| self.failed(error))
    }

    /// `error`, naming the operation.
    pub(super) fn failed(self, mut error: CloudError) -> CloudError {
        error.operation = self.operation.to_string();
        error
    }
}

impl SdkCloud {
    /// Records the call and waits for the throttle rules it matches.
    /// Once the process is stopping, no new call starts (the ones under way finish).
    pub(super) async fn begin(&self, service: &str, operation: &'static str, write: bool) -> Call {
        crate::lifecycle::hold_if_stopping().await;
        self.calls.record(operation, write);
        self.paced(service, operation).await;
        Call { operation }
    }

    async fn paced(&self, service: &str, operation: &'static str) {
        let started = std::time::Instant::now();
        self.throttle.wait(service, operation).await;
        crate::metrics::metrics()
            .aws_throttle_wait_seconds
            .with_label_values(&[service, operation])
            .observe(started.elapsed().as_secs_f64());
    }

    /// `begin` for a call on one target group carrying `targets` targets.
    pub(super) async fn begin_target_call(
        &self,
        operation: &'static str,
        write: bool,
        arn: &str,
        targets: usize,
    ) -> Call {
        crate::lifecycle::hold_if_stopping().await;
        self.calls.record_on(operation, write, Some(arn), targets);
        self.paced(ELBV2, operation).await;
        Call { operation }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_names_its_operation_on_the_errors_it_returns() {
        let call = Call {
            operation: "DescribeLoadBalancers",
        };
        let failed: CloudResult<()> = Err(CloudError::new(ErrorKind::Throttled, "", "slow down"));
        let error = call.finished(failed).unwrap_err();
        assert_eq!(
            (error.operation.as_str(), error.kind, error.message.as_str()),
            ("DescribeLoadBalancers", ErrorKind::Throttled, "slow down")
        );
        assert_eq!(call.finished(Ok(7)).unwrap(), 7);
    }
}
