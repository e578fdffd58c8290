//! Bulk actions: cancel, pause, resume or rewind every invocation of a tenant that a filter matches,
//! one page at a time (newest first, by id), so a caller can show progress and no request
//! runs long whatever the number of matches.

use std::str::FromStr;

use super::{ControlError, Onto, RewindError, Scheduler, UpgradeError};
use crate::ids::{InvocationId, TenantId};
use crate::journal::{InvocationRecord, InvocationState, StoreError};

/// Most matches one page acts on.
pub const MAX_PAGE: usize = 10_000;
/// Actions in flight at once within a page (each is one write; the writer batches them).
const IN_FLIGHT: usize = 256;
/// Rewinds in flight at once within a page (each replays a journal on a component first).
const REPLAYS_IN_FLIGHT: usize = 2;

/// Which invocations a bulk action takes: all of these that are given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// In this state (as shown: `running` is a pending one executing).
    pub state: Option<InvocationState>,
    /// Of this deployment.
    pub deployment: Option<String>,
    /// Of this function (with `deployment`).
    pub function: Option<String>,
    /// Created at or after this time (ms since the Unix epoch).
    pub since_ms: Option<u64>,
}

/// Why a filter does not parse.
#[derive(Debug, thiserror::Error)]
pub enum BadFilter {
    /// A term that is not `KEY=VALUE`.
    #[error(
        "`{0}` is not KEY=VALUE; a filter is terms like `state=failed function=crm.send since=1h`"
    )]
    Malformed(String),
    /// A key the filter does not know.
    #[error("the filter has no key `{0}`; keys: state, function, since")]
    UnknownKey(String),
    /// Not a state.
    #[error(
        "`{0}` is not a state: pending, running, suspended, scheduled, paused, completed, failed or cancelled"
    )]
    BadState(String),
    /// Not a duration.
    #[error("`since={0}` is not a duration such as 30m, 1h or 7days")]
    BadSince(String),
}

impl Filter {
    /// Parses `state=S function=DEPLOYMENT[.FUNCTION] since=DURATION` (any of them, in any
    /// order), `since` counted back from `now_ms`.
    pub fn parse(text: &str, now_ms: u64) -> Result<Self, BadFilter> {
        let clip = |s: &str| s.chars().take(64).collect::<String>();
        let mut filter = Filter::default();
        for term in text.split_whitespace() {
            let (key, value) = term
                .split_once('=')
                .ok_or_else(|| BadFilter::Malformed(clip(term)))?;
            match key {
                "state" => {
                    let state = InvocationState::parse(value)
                        .ok_or_else(|| BadFilter::BadState(clip(value)))?;
                    filter.state = Some(state);
                }
                "function" => match value.split_once('.') {
                    Some((deployment, function)) => {
                        filter.deployment = Some(deployment.to_string());
                        filter.function = Some(function.to_string());
                    }
                    None => filter.deployment = Some(value.to_string()),
                },
                "since" => {
                    let ago = humantime::parse_duration(value)
                        .map_err(|_| BadFilter::BadSince(clip(value)))?;
                    filter.since_ms = Some(now_ms.saturating_sub(ago.as_millis() as u64));
                }
                other => return Err(BadFilter::UnknownKey(clip(other))),
            }
        }
        Ok(filter)
    }

    /// The smallest id a match can have: ids begin with their creation time (give or take
    /// the moment between making the id and the record, allowed for by a second).
    pub fn first_id(&self) -> Option<InvocationId> {
        self.since_ms
            .map(|since| InvocationId::first_at(since.saturating_sub(1000)))
    }

    /// Whether `record`, shown in state `state`, matches.
    pub fn matches(&self, record: &InvocationRecord, state: InvocationState) -> bool {
        self.state.is_none_or(|s| s == state)
            && self
                .deployment
                .as_ref()
                .is_none_or(|d| *d == record.deployment)
            && self.function.as_ref().is_none_or(|f| *f == record.function)
            && self
                .since_ms
                .is_none_or(|since| record.created_at_ms >= since)
    }
}

/// What a bulk action does to each match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Cancel it (and its attached descendants).
    Cancel,
    /// Pause it.
    Pause,
    /// Resume it.
    Resume,
    /// Rewind it to its first `to_step` steps, on `onto`.
    Rewind { to_step: u32, onto: Onto },
    /// Upgrade it to version `to` of its deployment (the current one if `None`).
    Upgrade { to: Option<u32> },
}

/// An action that is not one.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not a bulk action: cancel, pause, resume, rewind or upgrade")]
pub struct BadAction(String);

impl FromStr for Action {
    type Err = BadAction;

    /// Parses `cancel`, `pause` or `resume`, `rewind` (to step 0 on the same code: set its
    /// step and code with [`Action::Rewind`]'s fields) or `upgrade` (to the current version).
    fn from_str(text: &str) -> Result<Self, BadAction> {
        match text {
            "cancel" => Ok(Action::Cancel),
            "pause" => Ok(Action::Pause),
            "resume" => Ok(Action::Resume),
            "rewind" => Ok(Action::Rewind {
                to_step: 0,
                onto: Onto::Same,
            }),
            "upgrade" => Ok(Action::Upgrade { to: None }),
            other => Err(BadAction(other.chars().take(64).collect())),
        }
    }
}

/// Most refusals a page reports (the rest are only counted).
const MAX_REFUSALS: usize = 10;

/// What one page of a bulk action found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Page {
    /// Invocations the filter matched on this page.
    pub matched: u64,
    /// Those the action was applied to.
    pub done: u64,
    /// Those it did not apply to (finished meanwhile, not paused, diverged, …).
    pub skipped: u64,
    /// Why, for the first few of them.
    pub refusals: Vec<(InvocationId, String)>,
    /// Where the next page starts (`None`: this was the last).
    pub next: Option<InvocationId>,
}

impl Scheduler {
    /// Applies `action` (or, `dry_run`, only counts) to at most `limit` of `tenant`'s
    /// invocations that `filter` matches, older than `before` if given, newest first.
    pub async fn bulk(
        &self,
        tenant: &TenantId,
        action: Action,
        filter: &Filter,
        dry_run: bool,
        before: Option<InvocationId>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let limit = limit.clamp(1, MAX_PAGE);
        let keep = |r: &InvocationRecord| filter.matches(r, self.live_state(r));
        // Through the index of the filter's state, if it has one; `since` bounds the ids.
        let scan = crate::storage::Page {
            before,
            from: filter.first_id(),
            limit,
            budget: usize::MAX,
            state: filter.state,
        };
        let (matches, _) = self.store().invocations_page(tenant, &keep, scan)?;
        let mut page = Page {
            matched: matches.len() as u64,
            next: (matches.len() == limit)
                .then(|| matches.last().map(|r| r.id))
                .flatten(),
            ..Page::default()
        };
        if dry_run {
            return Ok(page);
        }
        // A rewind or an upgrade replays each match's steps first: as many at once as there
        // are cores.
        let in_flight = match action {
            Action::Rewind { .. } | Action::Upgrade { .. } => REPLAYS_IN_FLIGHT,
            _ => IN_FLIGHT,
        };
        for chunk in matches.chunks(in_flight) {
            let mut acting = tokio::task::JoinSet::new();
            for record in chunk {
                let (scheduler, tenant, id) = (self.clone(), tenant.clone(), record.id);
                let action = action.clone();
                acting.spawn(async move { (id, scheduler.act(&tenant, &action, id).await) });
            }
            while let Some(result) = acting.join_next().await {
                match result {
                    Ok((_, Ok(()))) => page.done += 1,
                    Ok((_, Err(Refusal::Store(err)))) => return Err(err),
                    // Finished meanwhile (cancelled with its parent, say), not paused, …
                    Ok((id, Err(Refusal::Refused(why)))) => {
                        page.skipped += 1;
                        if page.refusals.len() < MAX_REFUSALS {
                            page.refusals.push((id, why));
                        }
                    }
                    Err(_) => page.skipped += 1,
                }
            }
        }
        page.refusals.sort();
        Ok(page)
    }

    /// Applies `action` to invocation `id`.
    async fn act(
        &self,
        tenant: &TenantId,
        action: &Action,
        id: InvocationId,
    ) -> Result<(), Refusal> {
        match action {
            Action::Cancel => self
                .cancel(tenant, id)
                .await
                .map(drop)
                .map_err(Refusal::from),
            Action::Pause => self.pause(tenant, id).await.map_err(Refusal::from),
            Action::Resume => self.resume(tenant, id).await.map_err(Refusal::from),
            Action::Rewind { to_step, onto } => match self.rewind(tenant, id, *to_step, onto).await
            {
                Ok(_) => Ok(()),
                Err(RewindError::Store(err)) => Err(Refusal::Store(err)),
                Err(err) => Err(Refusal::Refused(err.to_string())),
            },
            Action::Upgrade { to } => match self.upgrade(tenant, id, *to).await {
                Ok(_) => Ok(()),
                Err(UpgradeError::Store(err)) => Err(Refusal::Store(err)),
                Err(err) => Err(Refusal::Refused(err.to_string())),
            },
        }
    }
}

/// Why a bulk action did not apply to one match.
enum Refusal {
    /// Storage failed: the page stops.
    Store(StoreError),
    /// The action does not apply to it, for this reason.
    Refused(String),
}

impl From<ControlError> for Refusal {
    fn from(err: ControlError) -> Self {
        match err {
            ControlError::Store(err) => Refusal::Store(err),
            err => Refusal::Refused(err.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_and_name_what_is_wrong() {
        let filter = Filter::parse("state=failed function=crm.send_user since=1h", 10_000_000)
            .expect("filter");
        assert_eq!(filter.state, Some(InvocationState::Failed));
        assert_eq!(filter.deployment.as_deref(), Some("crm"));
        assert_eq!(filter.function.as_deref(), Some("send_user"));
        assert_eq!(filter.since_ms, Some(10_000_000 - 3_600_000));
        assert_eq!(Filter::parse("", 0).expect("empty"), Filter::default());
        for (bad, says) in [
            ("state", "is not KEY=VALUE"),
            ("colour=red", "no key `colour`"),
            ("state=sad", "`sad` is not a state"),
            ("since=soon", "`since=soon` is not a duration"),
        ] {
            let err = Filter::parse(bad, 0).expect_err(bad).to_string();
            assert!(err.contains(says), "{bad}: {err}");
        }
        assert_eq!("pause".parse::<Action>().expect("pause"), Action::Pause);
        assert!("rewind".parse::<Action>().is_ok());
        assert!("fork".parse::<Action>().is_err());
    }
}
