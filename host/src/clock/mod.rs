//! Host wall-clock helpers: record timestamps and sleeps until a wall-clock time.

mod alarms;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Sleeps until wall-clock time `end_ms` (ms since the Unix epoch), measured to the
/// nanosecond rather than from a rounded `now_ms`, so the sleep ends as near to it as the
/// alarm thread allows (tens of µs).
pub async fn sleep_until_ms(end_ms: u64) {
    let end = UNIX_EPOCH + Duration::from_millis(end_ms);
    // Measured again after each sleep: if the wall clock was set back meanwhile, the sleep
    // goes on until the clock shows `end_ms`, so nothing that follows sees an earlier time.
    while let Ok(left) = end.duration_since(SystemTime::now()) {
        if left.is_zero() {
            break;
        }
        alarms::sleep_until(Instant::now() + left).await;
    }
}
