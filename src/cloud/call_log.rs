//! A record of every AWS call a [`super::Cloud`] implementation made, so tests and benchmarks
//! can count reads and writes per operation.

use std::sync::Mutex;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub operation: &'static str,
    pub write: bool,
    /// When the call was made (benchmarks measure latencies from it).
    pub at: std::time::Instant,
}

#[derive(Debug, Default)]
pub struct CallLog {
    calls: Mutex<Vec<Call>>,
}

impl CallLog {
    pub fn record(&self, operation: &'static str, write: bool) {
        self.lock().push(Call {
            operation,
            write,
            at: std::time::Instant::now(),
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Call>> {
        self.calls
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn calls(&self) -> Vec<Call> {
        self.lock().clone()
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
