//! Schedules: made, listed, paused, resumed and removed for a tenant, and the service that
//! fires them.
//!
//! A firing is one invocation of the schedule's target under the idempotency key
//! `schedule:NAME@FIRE_MS`, made before the schedule records that it fired. A crash between
//! the two makes the same firing again after the restart, and the key returns the invocation
//! it made the first time: a firing is never made twice, and never skipped without being
//! counted. Firings due while the host was down (or later than the schedule's grace) are
//! missed, and the schedule's [`Missed`] policy says which of them are still made.

use std::collections::VecDeque;
use std::time::Duration;

use super::cron::{When, WhenError};
use super::{InvokeError, InvokeOptions, Scheduler};
use crate::ids::TenantId;
use crate::journal::{Missed, Schedule, StoreError, WriteError};
use crate::target::TargetError;

/// Longest sleep between two looks at the schedules.
const MAX_IDLE: Duration = Duration::from_secs(60);

/// What a new schedule is made of.
#[derive(Clone, Debug)]
pub struct NewSchedule {
    /// Its name.
    pub name: String,
    /// Its cron expression.
    pub cron: String,
    /// Its time zone.
    pub tz: String,
    /// What it invokes: `DEPLOYMENT[.FUNCTION]`.
    pub target: String,
    /// The JSON input of each firing.
    pub input: Vec<u8>,
    /// What happens to missed firings.
    pub missed: Missed,
    /// How late a firing may be and still count as on time.
    pub grace: Duration,
}

/// Why a schedule operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// The name is not usable.
    #[error(
        "schedule name `{0}` is invalid: use 1 to 128 characters of letters, digits, `_` and `-`"
    )]
    BadName(String),
    /// The expression or the zone is not usable.
    #[error(transparent)]
    When(#[from] WhenError),
    /// The expression has no firing to come.
    #[error("`cron` `{0}` has no firing to come")]
    NeverFires(String),
    /// The target does not name a function of a deployment.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// The input is not JSON.
    #[error("`input` is not valid JSON: {0}")]
    BadInput(String),
    /// A schedule of the tenant has this name already.
    #[error("schedule `{0}` exists already")]
    Exists(String),
    /// The tenant has no schedule with this name.
    #[error("no schedule `{0}`")]
    NotFound(String),
    /// Storage failed; nothing changed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Scheduler {
    /// Durably makes schedule `new` for `tenant`; its first firing is the first after now.
    pub async fn create_schedule(
        &self,
        tenant: &TenantId,
        new: NewSchedule,
    ) -> Result<Schedule, ScheduleError> {
        if !crate::names::valid(&new.name) {
            return Err(ScheduleError::BadName(new.name.chars().take(200).collect()));
        }
        let when = When::parse(&new.cron, &new.tz)?;
        self.function_of::<ScheduleError>(tenant, &new.target)?;
        serde_json::from_slice::<serde::de::IgnoredAny>(&new.input)
            .map_err(|e| ScheduleError::BadInput(e.to_string()))?;
        let now = crate::clock::now_ms();
        let next_ms = when.next_after(now);
        if next_ms.is_none() {
            return Err(ScheduleError::NeverFires(new.cron));
        }
        let schedule = Schedule {
            tenant: tenant.clone(),
            name: new.name,
            cron: new.cron,
            tz: new.tz,
            target: new.target,
            input: new.input,
            missed: new.missed,
            grace_ms: u64::try_from(new.grace.as_millis()).unwrap_or(u64::MAX),
            paused: false,
            next_ms,
            fired: 0,
            skipped: 0,
            refused: 0,
            last_fired: None,
            last_refusal: None,
            created_at_ms: now,
            revision: 0,
        };
        self.write_schedule(schedule.clone()).await?;
        Ok(schedule)
    }

    /// The schedules of `tenant`, by name.
    pub fn schedules(&self, tenant: &TenantId) -> Result<Vec<Schedule>, StoreError> {
        self.inner.store.schedules(tenant)
    }

    /// The schedule `name` of `tenant`.
    pub fn schedule(&self, tenant: &TenantId, name: &str) -> Result<Schedule, ScheduleError> {
        self.inner
            .store
            .schedule(tenant, name)?
            .ok_or_else(|| ScheduleError::NotFound(name.to_string()))
    }

    /// Durably pauses (or resumes) schedule `name`. A resumed schedule's next firing is the
    /// first after now: the firings due while it was paused are not made, nor counted.
    pub async fn pause_schedule(
        &self,
        tenant: &TenantId,
        name: &str,
        paused: bool,
    ) -> Result<Schedule, ScheduleError> {
        loop {
            let mut schedule = self.schedule(tenant, name)?;
            if schedule.paused == paused {
                return Ok(schedule);
            }
            schedule.paused = paused;
            if !paused {
                let when = When::parse(&schedule.cron, &schedule.tz)?;
                schedule.next_ms = when.next_after(crate::clock::now_ms());
            }
            schedule.revision += 1;
            match self.write_schedule(schedule.clone()).await {
                Err(ScheduleError::Store(StoreError::Write(WriteError::ScheduleChanged(_)))) => {}
                written => return written.map(|()| schedule),
            }
        }
    }

    /// Durably removes schedule `name` of `tenant` (the invocations it made stay).
    pub async fn delete_schedule(
        &self,
        tenant: &TenantId,
        name: &str,
    ) -> Result<(), ScheduleError> {
        match self.inner.store.remove_schedule(tenant, name).await {
            Err(StoreError::Write(WriteError::NoSuchSchedule(name))) => {
                Err(ScheduleError::NotFound(name))
            }
            written => Ok(written?),
        }
    }

    /// Writes `schedule` and wakes the service, which may have to fire it sooner.
    async fn write_schedule(&self, schedule: Schedule) -> Result<(), ScheduleError> {
        let written = self.inner.store.put_schedule(schedule).await;
        self.inner.schedules_changed.notify_one();
        match written {
            Err(StoreError::Write(WriteError::ScheduleExists(name))) => {
                Err(ScheduleError::Exists(name))
            }
            Err(StoreError::Write(WriteError::NoSuchSchedule(name))) => {
                Err(ScheduleError::NotFound(name))
            }
            written => Ok(written?),
        }
    }
}

/// Runs the service until the process ends: fires what is due, then sleeps until the next
/// firing (or until a schedule changes).
pub(super) async fn run(scheduler: Scheduler) {
    loop {
        // Before reading the schedules: a skip while they are read wakes the sleep below.
        let mut skips = crate::clock::skips();
        let wait = match fire_due(&scheduler).await {
            Ok(wait) => wait,
            Err(err) => {
                tracing::error!("schedule service: {err}");
                Duration::from_millis(500)
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait.min(MAX_IDLE)) => {}
            _ = scheduler.inner.schedules_changed.notified() => {}
            _ = skips.changed() => {}
        }
    }
}

/// Fires every schedule that is due; returns how long until the next firing.
async fn fire_due(scheduler: &Scheduler) -> Result<Duration, StoreError> {
    let now = crate::clock::now_ms();
    let mut next = None::<u64>;
    for schedule in scheduler.inner.store.all_schedules()? {
        if schedule.paused {
            continue;
        }
        let Some(due) = schedule.next_ms else {
            continue;
        };
        let due = if due <= now {
            match fire(scheduler, schedule, now).await {
                Ok(Some(due)) => due,
                Ok(None) => continue,
                Err(err) => return Err(err),
            }
        } else {
            due
        };
        next = Some(next.map_or(due, |n| n.min(due)));
    }
    let now = crate::clock::now_ms();
    Ok(next.map_or(MAX_IDLE, |due| {
        Duration::from_millis(due.saturating_sub(now))
    }))
}

/// What one round of a schedule did.
struct Round {
    /// The next firing the round started from.
    from: Option<u64>,
    /// Firings made: their time and invocation, oldest first.
    made: Vec<(u64, crate::ids::InvocationId)>,
    /// Why firings were refused.
    refused: Vec<String>,
    /// Firings skipped.
    skipped: u64,
    /// The next firing after the round.
    next: Option<u64>,
}

/// Makes the firings of `schedule` due by `now` that its policy keeps, and records them;
/// returns its next firing.
async fn fire(
    scheduler: &Scheduler,
    schedule: Schedule,
    now: u64,
) -> Result<Option<u64>, StoreError> {
    let when = match When::parse(&schedule.cron, &schedule.tz) {
        Ok(when) => when,
        Err(err) => {
            // Checked when it was made: only a zone removed from a later tz database gets here.
            tracing::error!(schedule = %schedule.name, "cannot fire: {err}");
            return Ok(None);
        }
    };
    let (keep, skipped, next) = due_firings(&when, &schedule, now);
    let mut round = Round {
        from: schedule.next_ms,
        made: Vec::new(),
        refused: Vec::new(),
        skipped,
        next,
    };
    for fire_ms in keep {
        let options = InvokeOptions {
            key: Some(format!("schedule:{}@{fire_ms}", schedule.name)),
            ..InvokeOptions::default()
        };
        let (tenant, target) = (&schedule.tenant, &schedule.target);
        match scheduler
            .invoke(tenant, target, schedule.input.clone(), options)
            .await
        {
            Ok(invoked) => round.made.push((fire_ms, invoked.record.id)),
            Err(InvokeError::Store(err)) => return Err(err),
            Err(refused) => {
                tracing::warn!(schedule = %schedule.name, fire_ms, "firing refused: {refused}");
                round.refused.push(refused.to_string());
            }
        }
    }
    record(scheduler, &schedule, round).await?;
    Ok(next)
}

/// Durably records `round` of `schedule`. If the schedule was written meanwhile (paused,
/// say), the round is recorded on the newer revision, unless that one no longer starts where
/// the round did (resumed, or deleted and made again: the firings are then not its own).
async fn record(
    scheduler: &Scheduler,
    schedule: &Schedule,
    round: Round,
) -> Result<(), StoreError> {
    let store = &scheduler.inner.store;
    loop {
        let Some(mut stored) = store.schedule(&schedule.tenant, &schedule.name)? else {
            return Ok(());
        };
        if stored.next_ms != round.from || stored.created_at_ms != schedule.created_at_ms {
            return Ok(());
        }
        stored.fired += round.made.len() as u64;
        stored.last_fired = round.made.last().copied().or(stored.last_fired);
        stored.refused += round.refused.len() as u64;
        stored.last_refusal = round.refused.last().cloned().or(stored.last_refusal);
        stored.skipped += round.skipped;
        stored.next_ms = round.next;
        stored.revision += 1;
        match store.put_schedule(stored).await {
            Err(StoreError::Write(WriteError::ScheduleChanged(_))) => {}
            written => return written,
        }
    }
}

/// The firings of `schedule` due by `now` to make (oldest first), how many to skip, and
/// the next one after `now`.
fn due_firings(when: &When, schedule: &Schedule, now: u64) -> (Vec<u64>, u64, Option<u64>) {
    let late_by = |fire_ms: u64| fire_ms.saturating_add(schedule.grace_ms) < now;
    let keep_late = match schedule.missed {
        Missed::Skip => 0,
        Missed::Once => 1,
        Missed::All(n) => n as usize,
    };
    let (mut late, mut timely, mut missed) = (VecDeque::new(), Vec::new(), 0u64);
    let mut next = schedule.next_ms;
    while let Some(fire_ms) = next.filter(|at| *at <= now) {
        if late_by(fire_ms) {
            missed += 1;
            late.push_back(fire_ms);
            if late.len() > keep_late {
                late.pop_front();
            }
        } else {
            timely.push(fire_ms);
        }
        next = when.next_after(fire_ms);
    }
    let skipped = missed - late.len() as u64;
    let keep = late.into_iter().chain(timely).collect();
    (keep, skipped, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A per-second schedule whose next firing is `next_ms`, under `missed`, grace 1 s.
    fn every_second(next_ms: u64, missed: Missed) -> Schedule {
        Schedule {
            tenant: "acme".into(),
            name: "s".into(),
            cron: "* * * * * *".into(),
            tz: "UTC".into(),
            target: "d.f".into(),
            input: b"null".to_vec(),
            missed,
            grace_ms: 1000,
            paused: false,
            next_ms: Some(next_ms),
            fired: 0,
            skipped: 0,
            refused: 0,
            last_fired: None,
            last_refusal: None,
            created_at_ms: 0,
            revision: 0,
        }
    }

    #[test]
    fn the_policy_keeps_the_latest_missed_firings_and_counts_the_rest() {
        let when = When::parse("* * * * * *", "UTC").expect("parses");
        let t = 1_796_292_450_000;
        // Firings t … t+10 s are due at t+10.5 s; only the last is within the grace.
        let now = t + 10_500;
        let seconds = |from: u64, to: u64| (from..=to).map(|s| t + s * 1000).collect::<Vec<_>>();
        for (missed, keep, skipped) in [
            (Missed::Skip, seconds(10, 10), 10),
            (Missed::Once, seconds(9, 10), 9),
            (Missed::All(3), seconds(7, 10), 7),
            (Missed::All(1000), seconds(0, 10), 0),
        ] {
            let (kept, n, next) = due_firings(&when, &every_second(t, missed), now);
            assert_eq!((kept, n), (keep, skipped), "{missed}");
            assert_eq!(next, Some(t + 11_000));
        }
        // On time: one firing, nothing missed.
        let (kept, n, _) = due_firings(&when, &every_second(t, Missed::Skip), t + 20);
        assert_eq!((kept, n), (vec![t], 0));
        // Not yet due: nothing.
        let (kept, n, next) = due_firings(&when, &every_second(t, Missed::Once), t - 1);
        assert_eq!((kept, n, next), (vec![], 0, Some(t)));
    }
}
