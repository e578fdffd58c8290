//! One thread that ends short sleeps on time.
//!
//! tokio's timer counts whole milliseconds: it rounds a deadline up to the next tick and its
//! driver may wake up to another tick late, so a 100 ms sleep ended 1–3 ms late under load.
//! Short in-memory sleeps (a timer wait within a second) are ended here instead: a heap of
//! deadlines served by one thread that waits on a condition variable with a timeout, which
//! Linux ends within the thread's timer slack (set to 10 µs).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Instant;

use tokio::sync::oneshot;

/// A sleeper: when to wake it, and how. Sleepers compare by deadline alone.
struct Alarm {
    at: Instant,
    wake: oneshot::Sender<()>,
}

impl PartialEq for Alarm {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at
    }
}
impl Eq for Alarm {}
impl PartialOrd for Alarm {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Alarm {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.at.cmp(&other.at)
    }
}

/// The sleepers, earliest deadline first.
type Pending = BinaryHeap<Reverse<Alarm>>;

/// The sleepers and the thread that wakes them.
struct Alarms {
    pending: Mutex<Pending>,
    changed: Condvar,
}

static ALARMS: Alarms = Alarms {
    pending: Mutex::new(BinaryHeap::new()),
    changed: Condvar::new(),
};

/// The alarm thread, started on first use; `None` if it could not be started.
fn alarms() -> Option<&'static Alarms> {
    static STARTED: OnceLock<bool> = OnceLock::new();
    let started = STARTED.get_or_init(|| {
        match std::thread::Builder::new()
            .name("reprise-alarms".into())
            .spawn(|| ALARMS.serve())
        {
            Ok(_) => true,
            Err(err) => {
                tracing::warn!("cannot start the alarm thread, sleeps use tokio's timer: {err}");
                false
            }
        }
    });
    started.then_some(&ALARMS)
}

/// Sleeps until `at`, ending within tens of µs of it.
pub async fn sleep_until(at: Instant) {
    let Some(alarms) = alarms() else {
        return tokio::time::sleep_until(at.into()).await;
    };
    let (wake, woken) = oneshot::channel();
    {
        let mut pending = alarms.lock();
        let earliest = pending.peek().map(|Reverse(a)| a.at);
        pending.push(Reverse(Alarm { at, wake }));
        if earliest.is_none_or(|earliest| at < earliest) {
            alarms.changed.notify_one();
        }
    }
    if woken.await.is_err() {
        // Cannot happen while the thread runs (it never gives up its alarms); should it end,
        // fall back rather than end early.
        tokio::time::sleep_until(at.into()).await;
    }
}

impl Alarms {
    /// The sleepers. A panic while they were held cannot leave the heap inconsistent, so a
    /// poisoned lock is used as it is.
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The thread's loop: wakes each sleeper when its time comes.
    fn serve(&self) {
        // SAFETY: prctl(PR_SET_TIMERSLACK) only changes this thread's timer slack.
        #[cfg(target_os = "linux")]
        #[allow(unsafe_code)]
        unsafe {
            libc::prctl(libc::PR_SET_TIMERSLACK, 10_000 as libc::c_ulong);
        }
        let mut due = Vec::new();
        let mut pending = self.lock();
        loop {
            let now = Instant::now();
            while pending.peek().is_some_and(|Reverse(alarm)| alarm.at <= now) {
                if let Some(Reverse(alarm)) = pending.pop() {
                    due.push(alarm.wake);
                }
            }
            if !due.is_empty() {
                // Woken outside the lock, so sleepers being added are not held up.
                drop(pending);
                for wake in due.drain(..) {
                    let _ = wake.send(());
                }
                pending = self.lock();
                continue;
            }
            pending = match pending.peek().map(|Reverse(alarm)| alarm.at) {
                Some(at) => {
                    self.changed
                        .wait_timeout(pending, at - now)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
                None => self
                    .changed
                    .wait(pending)
                    .unwrap_or_else(PoisonError::into_inner),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn sleepers_wake_in_deadline_order_on_time_and_never_early() {
        let start = Instant::now();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        // Added latest-first, so each new one is the earliest and must reschedule the thread.
        for ms in [300u64, 250, 200, 60] {
            let tx = tx.clone();
            tokio::spawn(async move {
                let at = start + Duration::from_millis(ms);
                sleep_until(at).await;
                let _ = tx.send((ms, at, Instant::now()));
            });
            // Each finds the thread waiting for the one before.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        drop(tx);
        let mut order = Vec::new();
        while let Some((ms, at, woke)) = rx.recv().await {
            assert!(woke >= at, "the {ms} ms sleep ended early");
            // Had it not rescheduled the thread, the 60 ms sleeper would have woken with the
            // 300 ms one.
            if ms == 60 {
                assert!(
                    woke < start + Duration::from_millis(250),
                    "woke {:?} late",
                    woke - at
                );
            }
            order.push(ms);
        }
        assert_eq!(order, vec![60, 200, 250, 300]);
    }
}
