//! What a suspended invocation waits for, and how far that wait has come.
//!
//! An invocation waits on a list of [`Awaitable`]s under an [`AwaitMode`]. What each item has
//! come to ([`resolve`], with the k-th-signal rule) and whether that ends the wait
//! ([`decide`]) are written here once, for the host's live evaluation and for the writer's
//! evaluation when an invocation suspends. While it is suspended the writer keeps a
//! [`WaitState`] for it: counters that each event (a child finishing, a timer falling due, a
//! signal arriving) updates in O(1), so that the invocation is woken once, when the wait is
//! satisfied, however many items it waits on. A property test checks that the counters and
//! the evaluation agree on random mixes of children, timers and signals.

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

    /// Records that time reached `now_ms`; returns the due times of the timers that fell due.
    pub fn time_reached(&mut self, now_ms: u64) -> Vec<u64> {
        let (due, later): (Vec<u64>, Vec<u64>) = self.timers.iter().partition(|&&d| d <= now_ms);
        if !due.is_empty() {
            self.timers = later;
            self.settle(true);
        }
        due
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

/// How far one awaited item has come: `None` while it has not finished, else whether it
/// succeeded or failed, with what the caller keeps of it (the guest's value live, nothing in
/// the writer).
pub type Resolution<S, F = S> = Option<Result<S, F>>;

/// Resolves each of `items` at `now_ms`: a child by `child` (its id), a timer by the clock,
/// and the k-th signal item of a name in the list by `signal(name, k)` — the k-th kept signal
/// of that name. The one place the rules of what an item has come to are written; the live
/// evaluation and the writer's both use it.
pub fn resolve<S, F, E>(
    items: &[Awaitable],
    now_ms: u64,
    mut child: impl FnMut(InvocationId) -> Result<Resolution<S, F>, E>,
    mut signal: impl FnMut(&str, usize) -> Result<Option<S>, E>,
    timer: impl Fn() -> S,
) -> Result<Vec<Resolution<S, F>>, E> {
    let mut taken: Vec<(&str, usize)> = Vec::new();
    items
        .iter()
        .map(|item| match item {
            Awaitable::Child(id) => child(*id),
            Awaitable::Timer { due_ms } if *due_ms <= now_ms => Ok(Some(Ok(timer()))),
            Awaitable::Timer { .. } => Ok(None),
            Awaitable::Signal(name) => {
                let k = match taken.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, count)) => {
                        *count += 1;
                        *count - 1
                    }
                    None => {
                        taken.push((name, 1));
                        0
                    }
                };
                Ok(signal(name, k)?.map(Ok))
            }
        })
        .collect()
}

/// Which items count if a wait under `mode` whose items have come to `resolved` is over;
/// `None` while it is not. `all` counts every item (or only the first failure), `any` the
/// first success (or every failure), `race` the first finished item in list order.
pub fn decide<S, F>(mode: AwaitMode, resolved: &[Resolution<S, F>]) -> Option<Vec<bool>> {
    let only = |at: usize| Some((0..resolved.len()).map(|i| i == at).collect());
    let all_resolved = resolved.iter().all(Option::is_some);
    let first = |wanted: fn(&Resolution<S, F>) -> bool| resolved.iter().position(wanted);
    match mode {
        AwaitMode::All => match first(|r| matches!(r, Some(Err(_)))) {
            Some(at) => only(at),
            None if all_resolved => Some(vec![true; resolved.len()]),
            None => None,
        },
        AwaitMode::Any => match first(|r| matches!(r, Some(Ok(_)))) {
            Some(at) => only(at),
            None if all_resolved => Some(vec![true; resolved.len()]),
            None => None,
        },
        AwaitMode::Race => match first(Option::is_some) {
            Some(at) => only(at),
            None if resolved.is_empty() => Some(Vec::new()),
            None => None,
        },
    }
}

impl WaitState {
    /// The counters of a wait at `seq` under `mode` on `items` that have come to `resolved`
    /// (as [`resolve`] found them): what the writer keeps while the invocation is suspended.
    pub fn new<S, F>(
        seq: u32,
        mode: AwaitMode,
        items: &[Awaitable],
        resolved: &[Resolution<S, F>],
    ) -> Self {
        let mut wait = WaitState {
            seq,
            mode,
            children_total: 0,
            children_pending: 0,
            timers: Vec::new(),
            signals: Vec::new(),
            succeeded: false,
            failed: false,
        };
        for (item, resolution) in items.iter().zip(resolved) {
            match (item, resolution) {
                (Awaitable::Child(_), _) => wait.children_total += 1,
                (Awaitable::Timer { due_ms }, None) => wait.timers.push(*due_ms),
                (Awaitable::Signal(name), None) => wait.signals.push(name.clone()),
                _ => {}
            }
            match resolution {
                None if matches!(item, Awaitable::Child(_)) => wait.children_pending += 1,
                None => {}
                Some(Ok(_)) => wait.succeeded = true,
                Some(Err(_)) => wait.failed = true,
            }
        }
        wait
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
        assert_eq!(s.time_reached(100), vec![100]);
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
        assert!(any.time_reached(99).is_empty());
        assert_eq!(any.time_reached(100), vec![100]);
        assert!(any.satisfied());

        let mut race = state(AwaitMode::Race, 1);
        race.child_finished(false);
        assert!(race.satisfied());
    }

    use proptest::prelude::*;

    /// An event that may change what a wait's items have come to.
    #[derive(Clone, Debug)]
    enum Event {
        /// Child `n` (an index into the children) finishes, completed if `ok`.
        ChildFinishes(usize, bool),
        /// The clock moves on by this many ms.
        Tick(u64),
        /// A signal of name `n` (0 or 1) arrives.
        Signal(usize),
    }

    const NAMES: [&str; 2] = ["a", "b"];

    fn item() -> impl Strategy<Value = (u8, u64)> {
        (0u8..3, 0u64..20)
    }

    fn event() -> impl Strategy<Value = Event> {
        prop_oneof![
            (0usize..6, any::<bool>()).prop_map(|(n, ok)| Event::ChildFinishes(n, ok)),
            (1u64..8).prop_map(Event::Tick),
            (0usize..2).prop_map(Event::Signal),
        ]
    }

    fn mode() -> impl Strategy<Value = AwaitMode> {
        prop_oneof![
            Just(AwaitMode::All),
            Just(AwaitMode::Any),
            Just(AwaitMode::Race)
        ]
    }

    /// What has happened: each child's end, the clock, and the signals kept per name.
    struct Facts {
        children: Vec<Option<bool>>,
        now: u64,
        kept: [usize; 2],
    }

    impl Facts {
        fn resolve(&self, items: &[Awaitable]) -> Vec<Resolution<()>> {
            let child = |id: InvocationId| {
                Ok::<_, ()>(
                    self.children[id.0 as usize].map(|ok| if ok { Ok(()) } else { Err(()) }),
                )
            };
            let signal = |name: &str, k: usize| {
                let n = NAMES.iter().position(|x| *x == name).expect("a name");
                Ok((self.kept[n] > k).then_some(()))
            };
            resolve(items, self.now, child, signal, || ()).expect("no lookup fails")
        }
    }

    proptest! {
        /// The writer's counters, updated event by event as the writer does, say the wait
        /// is over exactly when the live evaluation of the same facts does.
        #[test]
        fn counters_agree_with_the_live_evaluation(
            mode in mode(),
            raw in prop::collection::vec(item(), 0..8),
            children in prop::collection::vec(prop::option::of(any::<bool>()), 6),
            kept in (0usize..3, 0usize..3),
            events in prop::collection::vec(event(), 0..24),
        ) {
            // Each child at most once in a list (the host refuses a repeat).
            let mut items = Vec::new();
            let mut used = [false; 6];
            for (kind, n) in raw {
                match kind {
                    0 if !used[n as usize % 6] => {
                        used[n as usize % 6] = true;
                        items.push(Awaitable::Child(InvocationId(n as u128 % 6)));
                    }
                    0 => {}
                    1 => items.push(Awaitable::Timer { due_ms: 100 + n }),
                    _ => items.push(Awaitable::Signal(NAMES[n as usize % 2].into())),
                }
            }
            let mut facts = Facts { children, now: 100, kept: [kept.0, kept.1] };
            let resolved = facts.resolve(&items);
            let mut wait = WaitState::new(3, mode, &items, &resolved);
            prop_assert_eq!(wait.satisfied(), decide(mode, &resolved).is_some());
            for event in events {
                if wait.satisfied() {
                    break; // the writer wakes the invocation and drops the counters
                }
                match event.clone() {
                    Event::ChildFinishes(n, ok) => {
                        if facts.children[n].is_some() {
                            continue; // a finished record never changes
                        }
                        facts.children[n] = Some(ok);
                        if used[n] {
                            wait.child_finished(ok);
                        }
                    }
                    Event::Tick(ms) => {
                        facts.now += ms;
                        wait.time_reached(facts.now);
                    }
                    Event::Signal(n) => {
                        facts.kept[n] += 1;
                        wait.signal_arrived(NAMES[n]);
                    }
                }
                let live = decide(mode, &facts.resolve(&items)).is_some();
                prop_assert_eq!(wait.satisfied(), live, "after {:?} on {:?}", event, items);
            }
        }
    }
}
