//! Scripted faults for reliability tests: a script gives the fault of each next call (or none),
//! and what every call after the script gets; resources created while a script runs can stay
//! invisible to the tag lookups (`GetResources`, `DescribeSecurityGroups` by tag) for a number of
//! calls, as AWS's tagging index lags behind a create.

use super::*;

/// What a scripted call suffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Refused before acting, as AWS throttles (`Throttled`).
    Throttled,
    /// Refused before acting with a 5xx (`Other`).
    ServerError,
    /// A write that takes effect but whose answer is lost (a timeout after AWS did it): the
    /// caller gets `Other`. A read so scripted fails before acting.
    LostAnswer,
}

/// The faults of the next calls.
#[derive(Debug, Clone, Default)]
pub struct FaultScript {
    /// The fault of each next call, in order (`None`: that call goes through).
    pub faults: Vec<Option<Fault>>,
    /// The fault of every call once `faults` is used up (`None`: no more faults). A crash is
    /// `Some(ServerError)` here: nothing the process would have done after it reaches AWS.
    pub afterwards: Option<Fault>,
    /// For how many calls a resource created under the script stays out of the tag lookups.
    pub hidden_for_calls: u64,
}

/// What a script did: the calls made under it and how many of them faulted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultTally {
    pub calls: usize,
    pub faulted: usize,
}

#[derive(Debug)]
pub(super) struct Chaos {
    script: std::collections::VecDeque<Option<Fault>>,
    afterwards: Option<Fault>,
    pub(super) hidden_for_calls: u64,
    tally: FaultTally,
}

impl Chaos {
    pub(super) fn next_fault(&mut self) -> Option<Fault> {
        let fault = match self.script.pop_front() {
            Some(fault) => fault,
            None => self.afterwards,
        };
        self.tally.calls += 1;
        self.tally.faulted += usize::from(fault.is_some());
        fault
    }
}

impl Simulator {
    /// Runs `script` from the next call on (replacing any script before).
    pub fn script_faults(&self, script: FaultScript) {
        let mut state = self.lock();
        state.chaos = Some(Chaos {
            script: script.faults.into(),
            afterwards: script.afterwards,
            hidden_for_calls: script.hidden_for_calls,
            tally: FaultTally::default(),
        });
    }

    /// Ends the script: no more faults, and every resource is visible to the tag lookups.
    /// What the script did (nothing when none ran).
    pub fn stop_faults(&self) -> FaultTally {
        let mut state = self.lock();
        state.created_at.clear();
        state
            .chaos
            .take()
            .map(|chaos| chaos.tally)
            .unwrap_or_default()
    }
}

impl State {
    /// The ids of the resources the tag lookups find (load balancers, target groups, security
    /// groups).
    pub(super) fn resource_ids(&self) -> BTreeSet<String> {
        self.load_balancers
            .keys()
            .chain(self.target_groups.keys())
            .chain(self.security_groups.keys())
            .cloned()
            .collect()
    }

    /// Whether the tag lookups still miss resource `id` (created too few calls ago).
    pub(super) fn hidden_from_tag_lookups(&self, id: &str) -> bool {
        let Some(chaos) = &self.chaos else {
            return false;
        };
        self.created_at
            .get(id)
            .is_some_and(|at| self.calls_made < at + chaos.hidden_for_calls)
    }
}
