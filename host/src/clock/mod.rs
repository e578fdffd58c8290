//! The host's wall clock: record timestamps, what guests' clocks read, timers' due times, and
//! sleeps until a wall-clock time.
//!
//! The host's clock is the system's plus a skip that only ever grows, and that only the test
//! kit moves ([`skip`]: a test's 7-day sleep ends at once). A skip wakes every sleep until a
//! wall-clock time and the services that sleep until the next timer or schedule.

mod alarms;

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

/// Milliseconds the host's clock is ahead of the system's.
static SKIPPED_MS: AtomicU64 = AtomicU64::new(0);

/// Announces each skip (the total skipped, in ms).
fn skips_sender() -> &'static watch::Sender<u64> {
    static SKIPS: OnceLock<watch::Sender<u64>> = OnceLock::new();
    SKIPS.get_or_init(|| watch::channel(0).0)
}

/// The host's wall clock now.
pub fn system_now() -> SystemTime {
    SystemTime::now() + Duration::from_millis(SKIPPED_MS.load(Ordering::Acquire))
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    system_now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Moves the host's clock `by` forward, for the whole process, and wakes what sleeps until a
/// wall-clock time (the test kit's time skipping; a host never calls it).
pub fn skip(by: Duration) {
    let by = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
    let total = SKIPPED_MS
        .fetch_add(by, Ordering::AcqRel)
        .saturating_add(by);
    skips_sender().send_replace(total);
}

/// A receiver whose `changed()` returns at the next [`skip`] after this call.
pub fn skips() -> watch::Receiver<u64> {
    skips_sender().subscribe()
}

/// Sleeps until wall-clock time `end_ms` (ms since the Unix epoch), measured to the
/// nanosecond rather than from a rounded `now_ms`, so the sleep ends as near to it as the
/// alarm thread allows (tens of µs).
pub async fn sleep_until_ms(end_ms: u64) {
    let end = UNIX_EPOCH + Duration::from_millis(end_ms);
    // Measured again after each sleep: if the wall clock was set back meanwhile, the sleep
    // goes on until the clock shows `end_ms`, so nothing that follows sees an earlier time.
    loop {
        let mut skipped = skips();
        let Ok(left) = end.duration_since(system_now()) else {
            break;
        };
        if left.is_zero() {
            break;
        }
        tokio::select! {
            () = alarms::sleep_until(Instant::now() + left) => {}
            _ = skipped.changed() => {}
        }
    }
}
