//! A record of every AWS call a [`super::Cloud`] implementation made, so tests and benchmarks
//! can count reads and writes per operation.

use std::sync::Mutex;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub operation: &'static str,
    pub write: bool,
}

#[derive(Debug, Default)]
pub struct CallLog {
    calls: Mutex<Vec<Call>>,
}

impl CallLog {
    pub fn record(&self, operation: &'static str, write: bool) {
        self.lock().push(Call { operation, write });
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

    pub fn clear(&self) {
        self.lock().clear();
    }
}
