//! `reprise serve`: open the store, resume unfinished invocations, serve the API.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;

use crate::host_calls::HttpClient;
use crate::outbound::{Cidr, EgressPolicy};
use crate::runtime::CompiledCache;
use crate::runtime::{Components, new_engine};
use crate::scheduler::{Scheduler, SchedulerConfig};
use crate::storage::redb::{Store, StoreOptions};

/// File name of the database inside the data directory.
pub const DATABASE_FILE: &str = "reprise.redb";
/// The directory under the data directory holding compiled components.
pub const COMPILED_DIR: &str = "compiled";

/// How to run a host.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// Directory holding the redb file.
    pub data: PathBuf,
    /// Address of the API.
    pub listen: SocketAddr,
    /// Scheduler limits.
    pub scheduler: SchedulerConfig,
    /// How the journal is opened (page cache, batch size, write-ahead log).
    pub store: StoreOptions,
    /// Fixed rate limits (requests per second) by destination `host:port`.
    pub rate_limits: std::collections::HashMap<String, f64>,
    /// Address ranges guests may reach besides public addresses.
    pub allow_egress: Vec<Cidr>,
    /// Most API connections open at once.
    pub max_connections: usize,
    /// MiB of linear memory all guests may hold together.
    pub memory_budget_mb: u64,
    /// MiB all uploads being received may buffer together.
    pub upload_budget_mb: usize,
    /// The cluster key other nodes present (and this one presents to them), if any.
    pub cluster_key: Option<String>,
    /// The URL other nodes and clients reach this node at (default: `http://` and the
    /// address it listens on).
    pub advertise: Option<String>,
}

/// Runs a host until SIGINT or SIGTERM.
pub async fn run(options: ServeOptions) -> anyhow::Result<()> {
    private_data_dir(&options.data)?;
    let db_path = options.data.join(DATABASE_FILE);
    let store = std::sync::Arc::new(Store::open_with(&db_path, &options.store)?);
    if let Some(first) = crate::access::first_start(&*store, &options.data).await? {
        // On stderr: stdout's first line is the address, which scripts read.
        eprintln!(
            "first start: the admin key is in {} and the `default` tenant's key in {} \
             (readable by this user only; the CLI on this machine reads them)",
            first.admin.display(),
            first.tenant.display()
        );
    }
    // Executing stores, plus room for deploy-time listings.
    let slots = u32::try_from(options.scheduler.max_running)
        .unwrap_or(u32::MAX)
        .saturating_add(64);
    let engine =
        new_engine(Some(slots)).map_err(|e| anyhow::anyhow!("cannot create the engine: {e:#}"))?;
    let compiled_dir = options.data.join(COMPILED_DIR);
    let compiled = CompiledCache::open(&compiled_dir, &engine)
        .with_context(|| format!("cannot create {}", compiled_dir.display()))?;
    let components = Components::new(engine, Some(compiled))
        .map_err(|e| anyhow::anyhow!("cannot build the linker: {e:#}"))?
        .with_memory_budget(options.memory_budget_mb.saturating_mul(1024 * 1024));
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("cannot listen on {}", options.listen))?;
    let addr = listener.local_addr()?;
    // Guests never reach this host's own API, whatever ranges are allowed.
    let egress = EgressPolicy::new(options.allow_egress.clone()).with_own_address(addr);
    let advertise = options
        .advertise
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let cluster = crate::cluster::Cluster::new(&advertise, options.cluster_key.clone())?;
    let scheduler = Scheduler::new(
        store,
        components,
        HttpClient::new(egress),
        crate::outbound::Destinations::new(options.rate_limits.clone()),
        SchedulerConfig {
            cluster,
            ..options.scheduler.clone()
        },
    );
    let resumed = scheduler.resume_unfinished()?;
    scheduler.start_timers();
    scheduler.start_move_resolver();
    scheduler.start_outbox();
    tracing::info!(resumed, data = %db_path.display(), "host started");
    // Scripts and tests read this line to learn the address (e.g. with `--listen 127.0.0.1:0`).
    println!(
        "reprise listening on http://{addr} (data: {})",
        db_path.display()
    );

    let halted = {
        let store = scheduler.store().clone();
        async move { store.halted().await }
    };
    let api = tokio::spawn(crate::api::serve(
        listener,
        scheduler,
        options.max_connections,
        crate::api::Uploads::new(options.upload_budget_mb),
    ));
    tokio::select! {
        () = shutdown_signal() => {
            tracing::info!("stopping; unfinished invocations resume at next start");
            api.abort();
            Ok(())
        }
        why = halted => {
            // Every write is refused from now on: stop, so that a supervisor restarts the
            // host and the restart recovers every acknowledged write from the log.
            api.abort();
            anyhow::bail!("the journal halted ({why}); restart the host to recover")
        }
    }
}

/// Creates the data directory if needed and makes it, and everything the host creates from
/// now on, private to the service user (0700 directories, 0600 files): stored inputs,
/// outputs and keys are nobody else's to read.
fn private_data_dir(data: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    set_private_umask();
    std::fs::create_dir_all(data)
        .with_context(|| format!("cannot create data directory {}", data.display()))?;
    std::fs::set_permissions(data, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot make data directory {} private", data.display()))?;
    for entry in std::fs::read_dir(data)?.flatten() {
        let mode = if entry.path().is_dir() { 0o700 } else { 0o600 };
        std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("cannot make {} private", entry.path().display()))?;
    }
    Ok(())
}

/// Files and directories created from now on get no group or other permissions.
#[allow(unsafe_code)]
fn set_private_umask() {
    // SAFETY: `umask` only sets this process's file-creation mask; it touches no memory.
    unsafe { libc::umask(0o077) };
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
