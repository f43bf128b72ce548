//! A record of every AWS call a [`super::Cloud`] implementation made, so tests and benchmarks
//! can count reads and writes per operation.

use std::collections::VecDeque;
use std::sync::Mutex;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub operation: &'static str,
    pub write: bool,
    /// When the call was made (benchmarks measure latencies from it).
    pub at: std::time::Instant,
    /// The resource the call acted on, when recorded (target-group ARN for target calls).
    pub resource: Option<String>,
    /// How many items (targets) the call carried.
    pub items: usize,
}

/// The log keeps this many of the latest calls, so a long-running controller's memory stays flat.
const KEPT_CALLS: usize = 10_000;

#[derive(Debug, Default)]
pub struct CallLog {
    calls: Mutex<VecDeque<Call>>,
}

impl CallLog {
    pub fn record(&self, operation: &'static str, write: bool) {
        self.record_on(operation, write, None, 0);
    }

    /// Records a call on `resource` carrying `items` items.
    pub fn record_on(
        &self,
        operation: &'static str,
        write: bool,
        resource: Option<&str>,
        items: usize,
    ) {
        let mut calls = self.lock();
        if calls.len() == KEPT_CALLS {
            calls.pop_front();
        }
        calls.push_back(Call {
            operation,
            write,
            at: std::time::Instant::now(),
            resource: resource.map(str::to_string),
            items,
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Call>> {
        self.calls
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn calls(&self) -> Vec<Call> {
        self.lock().iter().cloned().collect()
    }

    pub fn writes(&self) -> Vec<&'static str> {
        self.lock()
            .iter()
            .filter(|c| c.write)
            .map(|c| c.operation)
            .collect()
    }

    pub fn reads(&self) -> Vec<&'static str> {
        self.lock()
            .iter()
            .filter(|c| !c.write)
            .map(|c| c.operation)
            .collect()
    }

    /// How many calls of `operation` were made.
    pub fn count(&self, operation: &str) -> usize {
        self.lock()
            .iter()
            .filter(|c| c.operation == operation)
            .count()
    }

    pub fn clear(&self) {
        self.lock().clear();
    }
}
