//! The embedded host a test runs functions on: the real scheduler, runtime and journal over
//! a redb file in a temporary directory, in this process, with scripted HTTP beside it.
//!
//! Invariant: one `TestHost` exists at a time in a process (the others wait for it): the
//! host's clock is the process's, and a test's skip must not end another test's sleeps.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use reprise::host_calls::HttpClient;
use reprise::ids::{InvocationId, TenantId};
use reprise::journal::{Deployment, InvocationRecord, InvocationState, StepEntry};
use reprise::outbound::{Cidr, Destinations, EgressPolicy, Policy};
use reprise::runtime::{Components, new_engine};
use reprise::scheduler::{InvokeOptions, Scheduler, SchedulerConfig};
use reprise::storage::redb::Store;
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::error::TestError;
use crate::http::ScriptedHttp;

/// How long [`TestHost::finish`] waits, in real time, for an invocation to finish.
const FINISH_WITHIN: Duration = Duration::from_secs(120);

/// How an invocation ended.
#[derive(Clone, Debug)]
pub struct Finished {
    /// Its record (state, output, failure, attempts).
    pub record: InvocationRecord,
}

impl Finished {
    /// Its output as JSON, or an error saying how it ended instead.
    pub fn output(&self) -> Result<serde_json::Value, TestError> {
        match (&self.record.state, &self.record.output) {
            (InvocationState::Completed, Some(bytes)) => Ok(serde_json::from_slice(bytes)?),
            _ => Err(TestError::DidNotComplete {
                id: self.record.id,
                state: self.record.state.as_str(),
                failure: self.record.failure.as_ref().map(|f| f.message.clone()),
            }),
        }
    }

    /// Its failure message, if it failed.
    pub fn failure(&self) -> Option<&str> {
        self.record.failure.as_ref().map(|f| f.message.as_str())
    }
}

/// An embedded Reprise host for one test.
pub struct TestHost {
    scheduler: Scheduler,
    tenant: TenantId,
    http: ScriptedHttp,
    _dir: tempfile::TempDir,
    _turn: OwnedMutexGuard<()>,
}

impl TestHost {
    /// Starts a host (waiting for any other of this process to be dropped) with a scripted
    /// HTTP server its functions may reach on loopback.
    pub async fn start() -> Result<TestHost, TestError> {
        static TURN: std::sync::OnceLock<Arc<Mutex<()>>> = std::sync::OnceLock::new();
        let turn = TURN.get_or_init(Arc::default).clone().lock_owned().await;
        let dir = tempfile::tempdir()?;
        let store = Arc::new(Store::open(&dir.path().join("reprise.redb"))?);
        reprise::access::first_start(&*store, dir.path()).await?;
        let engine = new_engine(None).map_err(TestError::Engine)?;
        let components = Components::new(engine, None).map_err(TestError::Engine)?;
        let loopback: Cidr = "127.0.0.0/8".parse()?;
        let scheduler = Scheduler::new(
            store,
            components,
            HttpClient::new(EgressPolicy::new(vec![loopback])),
            Destinations::new(Default::default()),
            SchedulerConfig::default(),
        );
        scheduler.resume_unfinished()?;
        scheduler.start_timers();
        Ok(TestHost {
            scheduler,
            tenant: TenantId::default_tenant(),
            http: ScriptedHttp::start().await?,
            _dir: dir,
            _turn: turn,
        })
    }

    /// The scripted HTTP server (`http().url(path)` is what functions are given to call).
    pub fn http(&self) -> &ScriptedHttp {
        &self.http
    }

    /// The scheduler, for what the kit does not wrap.
    pub fn scheduler(&self) -> &Scheduler {
        &self.scheduler
    }

    /// Deploys the component at `path` (a `.wasm` file) as `name`.
    pub async fn deploy(
        &self,
        name: &str,
        path: impl AsRef<Path>,
    ) -> Result<Deployment, TestError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| TestError::Component {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(self
            .scheduler
            .deploy(&self.tenant, name, bytes, Policy::default())
            .await?)
    }

    /// Invokes `target` (`NAME` or `NAME.FUNCTION`) with `input`; returns its id at once.
    pub async fn invoke(
        &self,
        target: &str,
        input: &serde_json::Value,
    ) -> Result<InvocationId, TestError> {
        let input = serde_json::to_vec(input)?;
        let invoked = self
            .scheduler
            .invoke(&self.tenant, target, input, InvokeOptions::default())
            .await?;
        Ok(invoked.record.id)
    }

    /// Sends signal `name` with `payload` to invocation `id`.
    pub async fn signal(
        &self,
        id: InvocationId,
        name: &str,
        payload: &serde_json::Value,
    ) -> Result<(), TestError> {
        let payload = serde_json::to_vec(payload)?;
        self.scheduler
            .signal(&self.tenant, id, name, payload, None)
            .await?;
        Ok(())
    }

    /// Moves the host's clock `by` forward: timers that fall due fire now.
    pub fn skip(&self, by: Duration) {
        reprise::clock::skip(by);
    }

    /// The host's clock now (ms since the Unix epoch), skips included.
    pub fn now_ms(&self) -> u64 {
        reprise::clock::now_ms()
    }

    /// Waits for `id` to finish, skipping the clock to the next timer whenever it is
    /// suspended on one: a week's sleep ends at once. Refused if it stays unfinished for two
    /// minutes of real time (e.g. waiting for a signal nobody sends, or paused).
    pub async fn finish(&self, id: InvocationId) -> Result<Finished, TestError> {
        self.finish_within(id, FINISH_WITHIN).await
    }

    /// [`TestHost::finish`], refused after `within` of real time.
    pub(crate) async fn finish_within(
        &self,
        id: InvocationId,
        within: Duration,
    ) -> Result<Finished, TestError> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let record = self
                .scheduler
                .wait(&self.tenant, id, Duration::from_millis(20))
                .await?
                .ok_or(TestError::NoSuchInvocation(id))?;
            if record.state.is_terminal() {
                return Ok(Finished { record });
            }
            if record.state == InvocationState::Suspended
                && let Some(due) = self.scheduler.store().next_timer()?
            {
                let now = reprise::clock::now_ms();
                if due > now {
                    reprise::clock::skip(Duration::from_millis(due - now));
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(TestError::Unfinished {
                    id,
                    state: record.state.as_str(),
                });
            }
        }
    }

    /// The journal of `id`: its steps in order.
    pub fn journal(&self, id: InvocationId) -> Result<Vec<StepEntry>, TestError> {
        let recorded = self.scheduler.store().recorded(id)?;
        Ok(recorded
            .decode_all()?
            .into_iter()
            .map(|(_, entry)| entry)
            .collect())
    }

    /// The tenant the kit's invocations belong to.
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }
}
