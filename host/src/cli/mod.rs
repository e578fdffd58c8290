//! The command line: `reprise serve` and the client commands that talk to a host's API.

pub mod client;
mod commands;
mod output;
mod progress;
mod table;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Default API address of `reprise serve` and of the client commands.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7420";
/// Default data directory of `reprise serve`.
pub const DEFAULT_DATA: &str = "reprise-data";

/// Reprise: durable functions as WebAssembly components.
#[derive(Debug, Parser)]
#[command(name = "reprise", version, about)]
pub struct Cli {
    /// URL of the host's API (client commands).
    #[arg(
        long,
        global = true,
        env = "REPRISE_URL",
        default_value = "http://127.0.0.1:7420"
    )]
    pub url: String,
    /// Print JSON for scripts instead of text for people.
    #[arg(long, global = true)]
    pub json: bool,
    /// API key (client commands); without it the CLI reads the key a host's first start
    /// wrote in its data directory, `$REPRISE_DATA` or `./reprise-data` (`default.key`, or
    /// `admin.key` for `tenant` and `key`).
    #[arg(long, global = true, env = "REPRISE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a host: the API, the scheduler and the journal in DIR.
    Serve {
        /// Data directory (holds reprise.redb).
        #[arg(long, env = "REPRISE_DATA", default_value = DEFAULT_DATA)]
        data: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = DEFAULT_LISTEN)]
        listen: SocketAddr,
        /// Most invocations executing at once.
        #[arg(long, default_value_t = 512)]
        max_running: usize,
        /// MiB of database pages kept in memory (bounds the host's memory, whatever the
        /// number of invocations stored).
        #[arg(long, env = "REPRISE_CACHE_MB", default_value_t = 16)]
        cache_mb: usize,
        /// Most writes committed in one journal transaction (group commit); 1 commits every
        /// write on its own (for benchmarks).
        #[arg(long, env = "REPRISE_COMMIT_BATCH", default_value_t = 4096)]
        commit_batch: usize,
        /// Commit every batch durably in redb instead of in the write-ahead log (slower; for
        /// benchmarks).
        #[arg(long)]
        no_log: bool,
        /// A fixed rate limit for a destination: `HOST:PORT=REQUESTS_PER_SECOND` (repeatable).
        #[arg(long = "rate-limit", value_parser = parse_rate_limit)]
        rate_limits: Vec<(String, f64)>,
        /// An address range guests may reach although it is not public, e.g. `127.0.0.0/8`
        /// for APIs on this machine (repeatable). Loopback, private, link-local (cloud
        /// metadata) and the like are denied otherwise; this host's own API always is.
        #[arg(long = "allow-egress", value_name = "CIDR")]
        allow_egress: Vec<crate::outbound::Cidr>,
        /// Most API connections open at once; at the cap a new one closes the connection idle
        /// longest (keep it below the open-file limit).
        #[arg(long, default_value_t = 10_000)]
        max_connections: usize,
        /// MiB of linear memory all guests may hold together; a guest growing past it fails
        /// that run, which is run again later under its rerun policy.
        #[arg(long, default_value_t = 4096)]
        memory_budget_mb: u64,
        /// MiB all component uploads being received may buffer together; an upload past it
        /// is answered 503 (retry shortly).
        #[arg(long, default_value_t = 256)]
        upload_budget_mb: usize,
        /// Seconds between two retention sweeps (each removes the finished invocations
        /// older than their tenant's `retention_secs`).
        #[arg(long, default_value_t = 60)]
        sweep_every_secs: u64,
        /// File holding the cluster key (at least 16 characters), the same on every node:
        /// nodes present it to each other to move invocations. Without one, this node takes
        /// part in no moves.
        #[arg(long, env = "REPRISE_CLUSTER_KEY_FILE")]
        cluster_key_file: Option<PathBuf>,
        /// The URL other nodes and clients reach this node at (default: http:// and the
        /// listen address).
        #[arg(long)]
        advertise: Option<String>,
        /// Export a span per invocation run and per live step to this OpenTelemetry
        /// collector (OTLP over HTTP, e.g. http://127.0.0.1:4318); off when not given.
        #[arg(long, env = "REPRISE_OTLP_ENDPOINT", value_name = "URL")]
        otlp_endpoint: Option<String>,
    },
    /// Write a new function project NAME (a directory) that builds on its own.
    New {
        /// The project's name: its directory, crate, deployment and function (`-` as `_`).
        name: String,
        /// The language of the project.
        #[arg(long, value_enum, default_value = "rust")]
        lang: crate::scaffold::Lang,
        /// The directory to make the project in.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Upload a component and make its functions invocable as NAME (or NAME.FUNCTION).
    Deploy {
        /// Deployment name.
        name: String,
        /// The component file (built with `--target wasm32-wasip2`).
        path: PathBuf,
        /// Retry policies as JSON, or `@FILE`: `{"retry": {"max_attempts": 5, ...},
        /// "functions": {"NAME": {"retry": {...}}}}`.
        #[arg(long)]
        policy: Option<String>,
    },
    /// Start an invocation; prints its id, or its result with --wait.
    Invoke {
        /// NAME, or NAME.FUNCTION when the component exports several functions.
        function: String,
        /// JSON input.
        #[arg(long, short, default_value = "null", conflicts_with = "input_file")]
        input: String,
        /// Read the JSON input from a file.
        #[arg(long)]
        input_file: Option<PathBuf>,
        /// Wait until it finishes and print the result (its progress on stderr meanwhile).
        #[arg(long)]
        wait: bool,
        /// With --wait: give up after this many seconds.
        #[arg(long, default_value_t = 3600.0)]
        timeout: f64,
        /// An idempotency key: invoking again with it (within 7 days) gets this invocation,
        /// never a second one.
        #[arg(long, value_name = "KEY")]
        idempotency_key: Option<String>,
        /// Start it at this RFC 3339 time (e.g. 2026-12-02T10:00:00Z); until then it is
        /// `scheduled`.
        #[arg(long, value_name = "TIME", conflicts_with = "delay")]
        at: Option<String>,
        /// Start it after this long (e.g. 90s, 10m, 2h 30m, 1day).
        #[arg(long, value_name = "DURATION", value_parser = parse_delay)]
        delay: Option<std::time::Duration>,
    },
    /// Show an invocation's progress until it finishes (each step as it is taken, what it
    /// waits for, its retries), then its result.
    Watch {
        /// Invocation id.
        id: String,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 3600.0)]
        timeout: f64,
    },
    /// Show an invocation's state, result or error.
    Status {
        /// Invocation id.
        id: String,
        /// Wait up to this many seconds for it to finish first.
        #[arg(long)]
        wait: Option<f64>,
    },
    /// Send signal NAME with JSON data to an invocation; a wait for NAME receives it.
    Signal {
        /// Invocation id.
        id: String,
        /// Signal name (letters, digits, `_`, `-`).
        name: String,
        /// JSON payload.
        #[arg(long, short, default_value = "null")]
        data: String,
        /// An idempotency key: the same signal sent again with it is dropped.
        #[arg(long, value_name = "KEY")]
        idempotency_key: Option<String>,
    },
    /// Cancel an unfinished invocation and its children (except detached ones), or every
    /// invocation a --filter matches.
    Cancel {
        /// The invocation, or every match of the filter.
        #[command(flatten)]
        target: Targets,
    },
    /// Pause an unfinished invocation (or every match of --filter): it stops at once (or,
    /// suspended, does not wake) until resumed.
    Pause {
        /// The invocation, or every match of the filter.
        #[command(flatten)]
        target: Targets,
    },
    /// Resume a paused invocation (or every match of --filter) where it was.
    Resume {
        /// The invocation, or every match of the filter.
        #[command(flatten)]
        target: Targets,
    },
    /// Run a finished or paused invocation (or every match of --filter) again from a step:
    /// steps 0..N are kept (the code it runs on must replay them identically, or nothing
    /// changes), later ones move to its history (`journal --history`).
    Rewind {
        /// The invocation, or every match of the filter.
        #[command(flatten)]
        target: Targets,
        /// Keep N steps: step N and later run again, live.
        #[arg(long, value_name = "N")]
        to_step: u32,
        /// The code to run on (default: its own).
        #[command(flatten)]
        onto: OntoArgs,
    },
    /// Make a new invocation with the same input and the first N steps of this one, which
    /// runs on from step N (the original is left alone).
    Fork {
        /// Invocation id.
        id: String,
        /// Take N steps: the fork runs live from step N.
        #[arg(long, value_name = "N")]
        at_step: u32,
        /// The code to run on (default: the original's).
        #[command(flatten)]
        onto: OntoArgs,
    },
    /// Write an unfinished invocation as a bundle file (to stdout, or --output): it stops
    /// running here, and whichever host imports the bundle owns it (this one too).
    Export {
        /// Invocation id.
        id: String,
        /// File to write (default: stdout).
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
    },
    /// Import a bundle file (from `reprise export`): this host owns the invocation from now
    /// on and runs it on from its journal.
    Import {
        /// The bundle file (`-` for stdin).
        path: PathBuf,
    },
    /// Move an unfinished invocation to another host, live (both need the same
    /// --cluster-key-file); returns once that host owns it.
    Migrate {
        /// Invocation id.
        id: String,
        /// The other host's URL.
        #[arg(long)]
        to: String,
    },
    /// Move every unfinished invocation of this host to another (admin key), showing
    /// progress; this host takes no new work from then on.
    Drain {
        /// The other host's URL.
        #[arg(long)]
        to: String,
    },
    /// Show an invocation's journal: each step's kind, request and outcome.
    Journal {
        /// Invocation id.
        id: String,
        /// Also show its rewinds (with the steps each dropped) and the fork that made it.
        #[arg(long)]
        history: bool,
    },
    /// Show an invocation's log: its `reprise_sdk::log` lines and what it wrote to stdout
    /// and stderr, each once however often it was replayed.
    Logs {
        /// Invocation id.
        id: String,
        /// Keep printing new lines until the invocation finishes.
        #[arg(long, short)]
        follow: bool,
    },
    /// List invocations, newest first.
    Ls {
        /// Only those in this state (pending, running, suspended, completed, failed, cancelled).
        #[arg(long)]
        state: Option<String>,
        /// Only the children this invocation dispatched.
        #[arg(long)]
        parent: Option<String>,
        /// At most this many (up to 10000).
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// List deployments; with NAME, its versions and how many unfinished invocations run on
    /// each.
    Deployments {
        /// A deployment name.
        name: Option<String>,
    },
    /// Move an unfinished invocation (or every match of --filter) onto another version of its
    /// deployment: that version replays its journal first, and if it takes a step
    /// differently nothing changes (the error names the step).
    Upgrade {
        /// The invocation, or every match of the filter.
        #[command(flatten)]
        target: Targets,
        /// The version: a number (see `reprise deployments NAME`) or `current`.
        #[arg(long, value_name = "VERSION", value_parser = parse_version)]
        to: ToVersion,
    },
    /// Show, set or clear a deployment's egress rules, which narrow the tenant's: with
    /// neither --allow, --port nor --clear, shows them.
    Egress {
        /// Deployment name.
        deployment: String,
        /// The rules.
        #[command(flatten)]
        rules: EgressArgs,
    },
    /// Remove now the finished invocations (and idempotency keys) that the tenant's
    /// retention lets go, and the old versions no unfinished invocation runs on (with their
    /// code, unless something else uses it); with --dry-run, only count them.
    Gc {
        /// Count, remove nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Manage schedules: cron expressions that invoke a function at each firing.
    Schedule {
        /// What to do.
        #[command(subcommand)]
        command: ScheduleCommand,
    },
    /// Manage tenants (needs the admin key).
    Tenant {
        /// What to do.
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// Manage API keys (needs the admin key).
    Key {
        /// What to do.
        #[command(subcommand)]
        command: KeyCommand,
    },
}

/// `reprise schedule …`.
#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Create a schedule that invokes TARGET with the input at each firing of the cron
    /// expression.
    Create {
        /// Schedule name (letters, digits, `_`, `-`).
        name: String,
        /// Cron expression: 5 fields (`*/5 * * * *`), or 6 with seconds first.
        #[arg(long)]
        cron: String,
        /// IANA time zone the expression is read in.
        #[arg(long, default_value = "UTC")]
        tz: String,
        /// What to invoke: `DEPLOYMENT` or `DEPLOYMENT.FUNCTION`.
        target: String,
        /// JSON input of each firing.
        #[arg(long, short, default_value = "null")]
        input: String,
        /// Firings missed while the host was down: `skip` them, run the latest `once`, or
        /// run the latest N of them (`all:N`).
        #[arg(long, default_value = "once")]
        missed: String,
        /// How late a firing may be made and still count as on time.
        #[arg(long, default_value = "1m", value_parser = parse_delay)]
        grace: std::time::Duration,
    },
    /// List the tenant's schedules.
    Ls,
    /// Show one schedule.
    Show {
        /// Schedule name.
        name: String,
    },
    /// Pause a schedule: it makes no firings (and misses none) until resumed.
    Pause {
        /// Schedule name.
        name: String,
    },
    /// Resume a paused schedule from its next firing after now.
    Resume {
        /// Schedule name.
        name: String,
    },
    /// Delete a schedule (the invocations it made stay).
    Delete {
        /// Schedule name.
        name: String,
    },
}

/// `reprise tenant …`.
#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant; prints its first API key (shown only this once).
    Create {
        /// Tenant name (letters, digits, `_`, `-`).
        name: String,
    },
    /// List tenants.
    Ls,
    /// Show a tenant's quotas and the limits it runs under.
    Show {
        /// Tenant name.
        name: String,
    },
    /// Set a tenant's quotas (the others keep their values).
    Set {
        /// Tenant name.
        name: String,
        /// Quotas to set: `QUOTA=N` (`max_running`, `max_waiting`, `run_ms`, `memory_bytes`,
        /// `component_bytes`, `input_bytes`, `output_bytes`, `journal_entries`,
        /// `journal_bytes`, `stored_bytes`, `retention_secs`), or `QUOTA=default` to go back
        /// to the host's default.
        #[arg(required = true, value_parser = parse_quota)]
        quotas: Vec<(String, Option<u64>)>,
    },
    /// Show, set or clear a tenant's egress rules, which narrow the host's policy for its
    /// guests: with neither --allow, --port nor --clear, shows them.
    Egress {
        /// Tenant name.
        name: String,
        /// The rules.
        #[command(flatten)]
        rules: EgressArgs,
    },
}

/// One invocation, or every invocation of the tenant a filter matches.
#[derive(Debug, clap::Args)]
pub struct Targets {
    /// Invocation id.
    #[arg(required_unless_present = "filter", conflicts_with = "filter")]
    pub id: Option<String>,
    /// Every invocation matching `state=S function=DEPLOYMENT[.FUNCTION] since=DURATION`
    /// (any of them), newest first, in pages of 1,000, with a progress line.
    #[arg(long)]
    pub filter: Option<String>,
    /// With --filter: count the matches, change nothing.
    #[arg(long, requires = "filter")]
    pub dry_run: bool,
}

/// The code a rewound or forked invocation runs on.
#[derive(Debug, clap::Args)]
pub struct OntoArgs {
    /// This component (its sha256, or a unique start of it): the invocation's own, or one
    /// deployed by the tenant.
    #[arg(long, value_name = "HASH", conflicts_with = "deployment")]
    pub component: Option<String>,
    /// The component deployed under this name now (the invocation then runs through it).
    #[arg(long, value_name = "NAME")]
    pub deployment: Option<String>,
}

/// Egress rules on the command line: they replace the ones set before.
#[derive(Debug, clap::Args)]
pub struct EgressArgs {
    /// A host guests may reach: a name (`api.example.com`), a wildcard (`*.example.com`) or
    /// an address range (`203.0.113.0/24`) (repeatable; none: every host).
    #[arg(long, value_name = "HOST")]
    pub allow: Vec<String>,
    /// A port guests may reach (repeatable; none: every port).
    #[arg(long, value_name = "PORT")]
    pub port: Vec<u16>,
    /// Remove the rules instead.
    #[arg(long, conflicts_with_all = ["allow", "port"])]
    pub clear: bool,
}

/// Parses `QUOTA=N` or `QUOTA=default`.
fn parse_quota(text: &str) -> Result<(String, Option<u64>), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("expected QUOTA=N or QUOTA=default, got `{text}`"))?;
    let value = match value {
        "default" => None,
        n => Some(n.replace('_', "").parse().map_err(|_| {
            format!("`{n}` is not a whole number (or `default`) for quota `{name}`")
        })?),
    };
    Ok((name.to_string(), value))
}

/// `reprise key …`.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a key for a tenant (or an admin key); prints it (shown only this once).
    Create {
        /// The tenant the key acts for.
        #[arg(long, required_unless_present = "admin", conflicts_with = "admin")]
        tenant: Option<String>,
        /// An admin key instead.
        #[arg(long)]
        admin: bool,
    },
    /// List keys (their ids, never the keys).
    Ls,
    /// Revoke a key: refused from the next request on.
    Revoke {
        /// The key's id, as `reprise key ls` shows it.
        id: String,
    },
}

/// The version an upgrade moves onto.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ToVersion(pub Option<u32>);

/// Parses a version number, or `current`.
fn parse_version(text: &str) -> Result<ToVersion, String> {
    if text == "current" {
        return Ok(ToVersion(None));
    }
    match text.parse::<u32>() {
        Ok(n) if n > 0 => Ok(ToVersion(Some(n))),
        _ => Err(format!(
            "`{text}` is not a version: a number from 1 (see `reprise deployments NAME`) or `current`"
        )),
    }
}

/// Parses a duration such as `90s`, `10m` or `2h 30m`.
fn parse_delay(text: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(text)
        .map_err(|e| format!("`{text}` is not a duration such as 90s, 10m or 2h 30m: {e}"))
}

/// Parses `HOST:PORT=RPS`.
fn parse_rate_limit(text: &str) -> Result<(String, f64), String> {
    let (destination, rate) = text
        .split_once('=')
        .ok_or_else(|| format!("expected HOST:PORT=REQUESTS_PER_SECOND, got `{text}`"))?;
    if !destination.contains(':') {
        return Err(format!("`{destination}` must be HOST:PORT"));
    }
    let rate: f64 = rate
        .parse()
        .ok()
        .filter(|r: &f64| r.is_finite() && *r > 0.0)
        .ok_or_else(|| format!("`{rate}` is not a positive number of requests per second"))?;
    Ok((destination.to_string(), rate))
}

/// Parses the command line, runs it, and maps errors to exit code 1 (2 for usage).
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(matches!(cli.command, Command::Serve { .. }));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(server: bool) {
    let default = if server { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("REPRISE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
