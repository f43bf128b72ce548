//! The simulator's construction, its lock, and the bookkeeping of every call: recorded in the
//! call log, and failed when an injected failure is due.

use super::*;

impl Simulator {
    /// A simulator that knows the VPC's subnets (for the zone rules of load balancers).
    pub fn with_subnets(subnets: Vec<Subnet>) -> Self {
        let simulator = Self::default();
        simulator.lock().subnets = subnets;
        simulator
    }

    /// A simulator that knows the VPC's subnets and route tables.
    pub fn with_network(subnets: Vec<Subnet>, route_tables: Vec<crate::facts::RouteTable>) -> Self {
        let simulator = Self::with_subnets(subnets);
        simulator.lock().route_tables = route_tables;
        simulator
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Makes the `nth` next call (1 = the very next) of `operation` fail with `kind`.
    pub fn fail_call(&self, operation: &str, nth: usize, kind: ErrorKind) {
        self.lock().failures.push(InjectedFailure {
            operation: operation.to_string(),
            remaining: nth.max(1),
            kind,
        });
    }

    /// Records the call and fires an injected failure when one is due.
    pub(super) fn begin(
        &self,
        operation: &'static str,
        write: bool,
    ) -> CloudResult<std::sync::MutexGuard<'_, State>> {
        self.calls.record(operation, write);
        let mut state = self.lock();
        let mut fired = None;
        for failure in state
            .failures
            .iter_mut()
            .filter(|f| f.operation == operation)
        {
            failure.remaining -= 1;
            if failure.remaining == 0 {
                fired = Some(failure.kind);
            }
        }
        state.failures.retain(|f| f.remaining > 0);
        match fired {
            Some(kind) => error(kind, operation, "injected failure"),
            None => Ok(state),
        }
    }
}
