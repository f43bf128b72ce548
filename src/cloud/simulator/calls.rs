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

    /// Records the call and fires an injected or scripted failure when one is due (a scripted
    /// lost answer fails a read, or a write not made through [`Self::write`], before it acts).
    pub(super) fn begin(
        &self,
        operation: &'static str,
        write: bool,
    ) -> CloudResult<std::sync::MutexGuard<'_, State>> {
        let (state, lost) = self.begin_call(operation, write)?;
        match lost {
            Some(kind) => error(kind, operation, "scripted fault"),
            None => Ok(state),
        }
    }

    /// A write: recorded, failed before it acts when a failure is due, else made — and then
    /// failed all the same when the script says its answer is lost (the effect stays, as when a
    /// call times out after AWS did it).
    pub(super) fn write<T>(
        &self,
        operation: &'static str,
        act: impl FnOnce(&mut State) -> CloudResult<T>,
    ) -> CloudResult<T> {
        let (mut state, lost) = self.begin_call(operation, true)?;
        let before = state.chaos.is_some().then(|| state.resource_ids());
        let result = act(&mut state);
        if let Some(before) = before {
            let at = state.calls_made;
            let created: Vec<String> = state
                .resource_ids()
                .into_iter()
                .filter(|id| !before.contains(id))
                .collect();
            for id in created {
                state.created_at.insert(id, at);
            }
        }
        match (lost, result) {
            (Some(kind), Ok(_)) => error(
                kind,
                operation,
                "scripted fault: the call took effect but its answer was lost",
            ),
            (_, result) => result,
        }
    }

    fn begin_call(
        &self,
        operation: &'static str,
        write: bool,
    ) -> CloudResult<(std::sync::MutexGuard<'_, State>, Option<ErrorKind>)> {
        self.calls.record(operation, write);
        let mut state = self.lock();
        state.calls_made += 1;
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
        if let Some(kind) = fired {
            return error(kind, operation, "injected failure");
        }
        match state.chaos.as_mut().and_then(|chaos| chaos.next_fault()) {
            Some(Fault::Throttled) => error(
                ErrorKind::Throttled,
                operation,
                "scripted fault: Rate exceeded",
            ),
            Some(Fault::ServerError) => error(
                ErrorKind::Other,
                operation,
                "scripted fault: 503 Service Unavailable",
            ),
            Some(Fault::LostAnswer) if write => Ok((state, Some(ErrorKind::Other))),
            Some(Fault::LostAnswer) => error(
                ErrorKind::Other,
                operation,
                "scripted fault: the answer was lost",
            ),
            None => Ok((state, None)),
        }
    }
}
