//! What a suspended invocation waits for, and how far that wait has come.
//!
//! An invocation waits on a list of [`Awaitable`]s under an [`AwaitMode`]. While it is
//! suspended the writer keeps a [`WaitState`] for it: counters that each event (a child
//! finishing, a timer falling due, a signal arriving) updates in O(1), so that the invocation
//! is woken once, when the wait is satisfied, however many items it waits on.

use serde::{Deserialize, Serialize};

use crate::ids::InvocationId;

/// Something an invocation can wait for.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Awaitable {
    /// A child invocation to finish.
    Child(InvocationId),
    /// Wall-clock time to reach this many ms since the Unix epoch.
    Timer { due_ms: u64 },
    /// The next signal of this name.
    Signal(String),
}

/// When a wait on several items is satisfied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AwaitMode {
    /// When all succeeded, or as soon as one failed.
    All,
    /// When one succeeded, or all failed.
    Any,
    /// When one finished, either way.
    Race,
}

impl AwaitMode {
    /// The lowercase name used in the API and CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Any => "any",
            Self::Race => "race",
        }
    }

    /// Whether a wait with `pending` unresolved items, having seen a success (`succeeded`)
    /// and/or a failure (`failed`), is over.
    pub fn satisfied(self, pending: usize, succeeded: bool, failed: bool) -> bool {
        pending == 0
            || match self {
                Self::All => failed,
                Self::Any => succeeded,
                Self::Race => succeeded || failed,
            }
    }
}

/// The progress of a suspended invocation's wait.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WaitState {
    /// The journal position of the wait step, which replays reach again when woken.
    pub seq: u32,
    /// When it is satisfied.
    pub mode: AwaitMode,
    /// How many children it waits on in all.
    pub children_total: u32,
    /// How many of them have not finished.
    pub children_pending: u32,
    /// Due times (ms since the Unix epoch) of the timers not yet due.
    pub timers: Vec<u64>,
    /// Names of the signals not yet received, one per awaited signal.
    pub signals: Vec<String>,
    /// Whether an item has succeeded.
    pub succeeded: bool,
    /// Whether an item has failed.
    pub failed: bool,
}

impl WaitState {
    /// How many items are unresolved.
    pub fn pending(&self) -> usize {
        self.children_pending as usize + self.timers.len() + self.signals.len()
    }

    /// Whether the wait is over.
    pub fn satisfied(&self) -> bool {
        self.mode
            .satisfied(self.pending(), self.succeeded, self.failed)
    }

    /// Records that a child finished (`ok` if it completed).
    pub fn child_finished(&mut self, ok: bool) {
        self.children_pending = self.children_pending.saturating_sub(1);
        self.settle(ok);
    }

    /// Records that time reached `now_ms`; returns whether a timer fell due.
    pub fn time_reached(&mut self, now_ms: u64) -> bool {
        let before = self.timers.len();
        self.timers.retain(|&due| due > now_ms);
        let fired = self.timers.len() < before;
        if fired {
            self.settle(true);
        }
        fired
    }

    /// Records that a signal `name` arrived; returns whether the wait was waiting for it.
    pub fn signal_arrived(&mut self, name: &str) -> bool {
        match self.signals.iter().position(|n| n == name) {
            Some(at) => {
                self.signals.swap_remove(at);
                self.settle(true);
                true
            }
            None => false,
        }
    }

    fn settle(&mut self, ok: bool) {
        if ok {
            self.succeeded = true;
        } else {
            self.failed = true;
        }
    }
}

/// How one awaited item ended, as the guest sees it: its output, or an error message.
pub type Settled = Result<Vec<u8>, String>;

#[cfg(test)]
mod tests {
    use super::*;

    fn state(mode: AwaitMode, children: u32) -> WaitState {
        WaitState {
            seq: 3,
            mode,
            children_total: children,
            children_pending: children,
            timers: vec![100],
            signals: vec!["go".into()],
            succeeded: false,
            failed: false,
        }
    }

    #[test]
    fn all_waits_for_everything_but_stops_at_the_first_failure() {
        let mut s = state(AwaitMode::All, 2);
        s.child_finished(true);
        assert!(s.time_reached(100));
        assert!(s.signal_arrived("go"));
        assert!(!s.satisfied());
        s.child_finished(true);
        assert!(s.satisfied());

        let mut s = state(AwaitMode::All, 2);
        s.child_finished(false);
        assert!(s.satisfied());
    }

    #[test]
    fn any_waits_for_a_success_and_race_for_anything() {
        let mut any = state(AwaitMode::Any, 1);
        any.child_finished(false);
        assert!(!any.satisfied());
        assert!(!any.signal_arrived("other"));
        assert!(!any.time_reached(99));
        assert!(any.time_reached(100));
        assert!(any.satisfied());

        let mut race = state(AwaitMode::Race, 1);
        race.child_finished(false);
        assert!(race.satisfied());
    }
}
