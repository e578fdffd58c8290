//! When a schedule fires: a cron expression read in an IANA time zone, and the firings it
//! has in a span of time. A firing is a wall-clock instant (ms since the Unix epoch), so the
//! same expression and zone give the same firings on every node and after every restart.

use std::str::FromStr;

use chrono::TimeZone;
use chrono_tz::Tz;
use croner::Cron;

/// Why a cron expression or a time zone is refused.
#[derive(Debug, thiserror::Error)]
pub enum WhenError {
    /// The expression does not parse.
    #[error(
        "`cron` is not a cron expression ({0}): expected 5 fields (minute hour day-of-month month day-of-week, e.g. `*/5 * * * *`) or 6 with seconds first"
    )]
    BadCron(String),
    /// The zone is not an IANA time zone name.
    #[error("`tz` `{0}` is not an IANA time zone (e.g. `UTC`, `Europe/Paris`)")]
    BadTz(String),
}

/// A parsed cron expression in its time zone.
pub struct When {
    cron: Cron,
    tz: Tz,
}

impl When {
    /// Parses `cron` (5 fields, or 6 with seconds first) in zone `tz`.
    pub fn parse(cron: &str, tz: &str) -> Result<Self, WhenError> {
        let fields = cron.split_whitespace().count();
        if !(5..=6).contains(&fields) {
            return Err(WhenError::BadCron(format!("{fields} fields")));
        }
        let parsed = Cron::from_str(cron).map_err(|e| WhenError::BadCron(e.to_string()))?;
        let tz = Tz::from_str(tz).map_err(|_| WhenError::BadTz(tz.chars().take(64).collect()))?;
        Ok(When { cron: parsed, tz })
    }

    /// The first firing strictly after `after_ms`, if the expression has one.
    pub fn next_after(&self, after_ms: u64) -> Option<u64> {
        let at = self
            .tz
            .timestamp_millis_opt(i64::try_from(after_ms).ok()?)
            .single()?;
        let next = self.cron.find_next_occurrence(&at, false).ok()?;
        u64::try_from(next.timestamp_millis()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: u64 = 60_000;

    #[test]
    fn firings_follow_the_expression_in_its_zone() {
        // 2026-12-03T10:07:30Z.
        let now = 1_796_292_450_000;
        let every_five = When::parse("*/5 * * * *", "UTC").expect("parses");
        let next = every_five.next_after(now).expect("has a next");
        assert_eq!(next % (5 * MINUTE), 0);
        assert!(next > now && next - now <= 5 * MINUTE);
        assert_eq!(every_five.next_after(next), Some(next + 5 * MINUTE));
        // 09:00 in Paris is 08:00 UTC in December (CET), 07:00 UTC in July (CEST).
        let nine = When::parse("0 9 * * *", "Europe/Paris").expect("parses");
        let december = nine.next_after(now).expect("has a next");
        assert_eq!((december / MINUTE) % (24 * 60), 8 * 60);
        // 2027-07-01T00:00:00Z.
        let july = nine.next_after(1_814_400_000_000).expect("has a next");
        assert_eq!((july / MINUTE) % (24 * 60), 7 * 60);
        let seconds = When::parse("*/2 * * * * *", "UTC").expect("parses");
        assert_eq!(seconds.next_after(now), Some(now + 2_000));
    }

    #[test]
    fn bad_expressions_and_zones_are_refused_by_name() {
        for bad in ["", "* * *", "61 * * * *", "* * * * * * * *", "every day"] {
            let err = When::parse(bad, "UTC").err().expect("refused");
            assert!(err.to_string().starts_with("`cron`"), "{bad}: {err}");
        }
        let err = When::parse("* * * * *", "Mars/Olympus")
            .err()
            .expect("refused");
        assert!(err.to_string().contains("`tz` `Mars/Olympus`"), "{err}");
    }
}
