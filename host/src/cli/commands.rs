//! The subcommands.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use hyper::Method;

use super::client::ApiClient;
use super::output::{self, out};
use super::progress::{self, Sink};
use super::{Cli, Command, EgressArgs, KeyCommand, ScheduleCommand, Targets, TenantCommand};
use crate::access::{ADMIN_KEY_FILE, TENANT_KEY_FILE};
use crate::api::access_dto::{
    CreateKeyRequest, CreateTenantRequest, EgressAnswer, EgressRulesView, KeyList, KeyView,
    NewKeyView, TenantDetail,
};
use crate::api::dto::{
    BulkRequest, BulkView, CancelView, DeploymentList, DeploymentView, ForkRequest, GcView,
    InvocationList, InvocationView, JournalView, LogsView, MigrateRequest, MigratedView,
    RewindRequest,
};
use crate::api::dto::{ScheduleRequest, ScheduleView, UpgradeRequest, UpgradedView};
use crate::scheduler::{DrainProgress, SchedulerConfig};
use crate::server::{ServeOptions, run as serve};
use crate::storage::redb::StoreOptions;

/// How often `logs --follow` asks for new lines.
const FOLLOW_EVERY: Duration = Duration::from_millis(300);

/// How long `invoke --wait` first waits for the result before it shows progress.
const FIRST_WAIT_SECS: f64 = 1.0;

/// Longest single wait the client asks the server for.
const WAIT_SLICE_SECS: f64 = 60.0;

/// Runs `cli`; the exit code is 1 when a waited-for invocation failed.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let admin = matches!(
        cli.command,
        Command::Tenant { .. } | Command::Key { .. } | Command::Drain { .. }
    );
    let token = cli.token.clone().or_else(|| key_file(admin));
    let api = ApiClient::new(&cli.url).with_token(token);
    let json = cli.json;
    match cli.command {
        Command::Serve {
            data,
            listen,
            max_running,
            cache_mb,
            commit_batch,
            no_log,
            rate_limits,
            allow_egress,
            max_connections,
            memory_budget_mb,
            upload_budget_mb,
            sweep_every_secs,
            cluster_key_file,
            advertise,
            otlp_endpoint,
        } => {
            let traces = match otlp_endpoint {
                Some(endpoint) => crate::traces::Traces::to_collector(&endpoint, "reprise")
                    .context("--otlp-endpoint")?,
                None => crate::traces::Traces::off(),
            };
            let cluster_key = match cluster_key_file {
                Some(path) => Some(std::fs::read_to_string(&path).with_context(|| {
                    format!("cannot read the cluster key file {}", path.display())
                })?),
                None => None,
            };
            serve(ServeOptions {
                data,
                listen,
                scheduler: SchedulerConfig {
                    max_running,
                    sweep_every: Duration::from_secs(sweep_every_secs.max(1)),
                    traces,
                    ..SchedulerConfig::default()
                },
                store: StoreOptions {
                    cache_bytes: cache_mb.saturating_mul(1024 * 1024),
                    max_batch: commit_batch,
                    log: !no_log,
                    ..StoreOptions::default()
                },
                rate_limits: rate_limits.into_iter().collect(),
                allow_egress,
                max_connections,
                memory_budget_mb,
                upload_budget_mb,
                cluster_key,
                advertise,
            })
            .await?;
        }
        Command::New { name, lang, dir } => {
            let project = crate::scaffold::new_project(&dir, &name, lang)?;
            output::project(&project, &name, json)?;
        }
        Command::Deploy { name, path, policy } => {
            let bytes = std::fs::read(&path)
                .with_context(|| format!("cannot read component file {}", path.display()))?;
            let mut headers = Vec::new();
            if let Some(policy) = policy {
                let text = match policy.strip_prefix('@') {
                    Some(file) => std::fs::read_to_string(file)
                        .with_context(|| format!("cannot read policy file {file}"))?,
                    None => policy,
                };
                // One line: a header value cannot hold newlines.
                let value: serde_json::Value =
                    serde_json::from_str(&text).context("--policy is not valid JSON")?;
                headers.push((crate::api::POLICY_HEADER, value.to_string()));
            }
            let deployment: DeploymentView = api
                .call_with(
                    Method::PUT,
                    &format!("/v1/deployments/{}", encode(&name)),
                    "application/wasm",
                    &headers,
                    bytes,
                )
                .await?;
            output::deployment(&deployment, json)?;
        }
        Command::Deployments { name: None } => {
            let list: DeploymentList = api.get("/v1/deployments").await?;
            output::deployments(&list, json)?;
        }
        Command::Deployments { name: Some(name) } => {
            let path = format!("/v1/deployments/{}/versions", encode(&name));
            output::versions(&api.get(&path).await?, json)?;
        }
        Command::Upgrade {
            target:
                Targets {
                    id: Some(id),
                    filter: None,
                    ..
                },
            to,
        } => {
            let path = format!("/v1/invocations/{}/upgrade", encode(&id));
            let request = UpgradeRequest { to_version: to.0 };
            let view: UpgradedView = api.post_json(&path, &request).await?;
            output::upgraded(&view, json)?;
        }
        Command::Upgrade { target, to } => {
            let request = BulkRequest {
                to_version: to.0,
                ..BulkRequest::new("upgrade")
            };
            control(&api, target, request, json).await?
        }
        Command::Schedule { command } => schedule(&api, command, json).await?,
        Command::Tenant { command } => match command {
            TenantCommand::Create { name } => {
                let key: NewKeyView = api
                    .post_json("/v1/tenants", &CreateTenantRequest { name })
                    .await?;
                output::new_key(&key, json)?;
            }
            TenantCommand::Ls => output::tenants(&api.get("/v1/tenants").await?, json)?,
            TenantCommand::Show { name } => {
                let path = format!("/v1/tenants/{}", encode(&name));
                output::tenant(&api.get(&path).await?, json)?;
            }
            TenantCommand::Set { name, quotas } => {
                let body: serde_json::Map<String, serde_json::Value> = quotas
                    .into_iter()
                    .map(|(quota, value)| {
                        (quota, value.map_or(serde_json::Value::Null, Into::into))
                    })
                    .collect();
                let path = format!("/v1/tenants/{}/quotas", encode(&name));
                let detail: TenantDetail = api.post_json(&path, &body).await?;
                output::tenant(&detail, json)?;
            }
            TenantCommand::Egress { name, rules } => {
                let path = format!("/v1/tenants/{}/egress", encode(&name));
                egress(&api, &path, rules, json).await?;
            }
        },
        Command::Egress { deployment, rules } => {
            let path = format!("/v1/deployments/{}/egress", encode(&deployment));
            egress(&api, &path, rules, json).await?;
        }
        Command::Key { command } => match command {
            KeyCommand::Create { tenant, admin } => {
                let key: NewKeyView = api
                    .post_json("/v1/keys", &CreateKeyRequest { tenant, admin })
                    .await?;
                output::new_key(&key, json)?;
            }
            KeyCommand::Ls => output::keys(&api.get("/v1/keys").await?, json)?,
            KeyCommand::Revoke { id } => {
                let path = format!("/v1/keys/{}/revoke", encode(&id));
                let key: KeyView = api
                    .call(Method::POST, &path, "application/json", Vec::new())
                    .await?;
                output::keys(&KeyList { keys: vec![key] }, json)?;
            }
        },
        Command::Invoke {
            function,
            input,
            input_file,
            wait,
            timeout,
            idempotency_key,
            at,
            delay,
        } => {
            let input = match input_file {
                Some(path) => std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read input file {}", path.display()))?,
                None => input,
            };
            let input: Box<serde_json::value::RawValue> =
                serde_json::from_str(&input).context("--input is not valid JSON")?;
            let body = serde_json::to_vec(&crate::api::dto::InvokeRequest {
                function,
                input,
                start_at: at,
                delay_ms: delay.map(|d| d.as_millis() as u64),
            })?;
            let headers = key_header(idempotency_key);
            let deadline = Instant::now() + Duration::from_secs_f64(timeout.max(0.0));
            // A quick one finishes within the first wait (written with its first durable
            // write); a longer one shows its progress from then on.
            let path = if wait {
                format!("/v1/invocations?wait={}", timeout.min(FIRST_WAIT_SECS))
            } else {
                "/v1/invocations".to_string()
            };
            let view: InvocationView = api
                .call_with(Method::POST, &path, "application/json", &headers, body)
                .await?;
            if !wait {
                output::invocation_id(&view, json)?;
                return Ok(ExitCode::SUCCESS);
            }
            let view = match progress::finished(&view) || json {
                true => wait_until_finished(&api, view, timeout).await?,
                false => progress::watch(&api, view, Some(deadline), Sink::Stderr).await?,
            };
            return output::result(&view, json);
        }
        Command::Watch { id, timeout } => {
            let view: InvocationView = api.get(&format!("/v1/invocations/{}", encode(&id))).await?;
            let view = match json {
                true => wait_until_finished(&api, view, timeout).await?,
                false => {
                    let deadline = Instant::now() + Duration::from_secs_f64(timeout.max(0.0));
                    progress::watch(&api, view, Some(deadline), Sink::Stdout).await?
                }
            };
            return output::result(&view, json);
        }
        Command::Status { id, wait } => {
            let view: InvocationView = match wait {
                Some(secs) => {
                    let view = api.get(&format!("/v1/invocations/{}", encode(&id))).await?;
                    wait_until_finished(&api, view, secs).await?
                }
                None => api.get(&format!("/v1/invocations/{}", encode(&id))).await?,
            };
            output::status(&view, json)?;
        }
        Command::Signal {
            id,
            name,
            data,
            idempotency_key,
        } => {
            serde_json::from_str::<serde::de::IgnoredAny>(&data)
                .context("--data is not valid JSON")?;
            let path = format!("/v1/invocations/{}/signals/{}", encode(&id), encode(&name));
            let headers = key_header(idempotency_key);
            let view: InvocationView = api
                .call_with(
                    Method::POST,
                    &path,
                    "application/json",
                    &headers,
                    data.into_bytes(),
                )
                .await?;
            if json {
                output::status(&view, json)?;
            } else {
                out!("sent {name} to {id}");
            }
        }
        Command::Gc { dry_run } => {
            let path = format!("/v1/gc?dry_run={dry_run}");
            let swept: GcView = api
                .call(Method::POST, &path, "application/json", Vec::new())
                .await?;
            output::gc(&swept, json)?;
        }
        Command::Pause { target } => control(&api, target, BulkRequest::new("pause"), json).await?,
        Command::Resume { target } => {
            control(&api, target, BulkRequest::new("resume"), json).await?
        }
        Command::Cancel {
            target:
                Targets {
                    id: Some(id),
                    filter: None,
                    ..
                },
        } => {
            let path = format!("/v1/invocations/{}/cancel", encode(&id));
            let view: CancelView = api
                .call(Method::POST, &path, "application/json", Vec::new())
                .await?;
            output::cancelled(&view, json)?;
        }
        Command::Cancel { target } => {
            control(&api, target, BulkRequest::new("cancel"), json).await?
        }
        Command::Export { id, output } => {
            let path = format!("/v1/invocations/{}/bundle", encode(&id));
            let bundle = api
                .bytes(Method::GET, &path, "application/json", Vec::new())
                .await?;
            match output {
                Some(file) => std::fs::write(&file, &bundle)
                    .with_context(|| format!("cannot write {}", file.display()))?,
                None => {
                    use std::io::Write;
                    let mut stdout = std::io::stdout().lock();
                    stdout
                        .write_all(&bundle)
                        .context("cannot write the bundle")?;
                    stdout.flush().context("cannot write the bundle")?;
                }
            }
        }
        Command::Import { path } => {
            let bytes = if path.as_os_str() == "-" {
                use std::io::Read;
                let mut bytes = Vec::new();
                std::io::stdin()
                    .read_to_end(&mut bytes)
                    .context("cannot read the bundle from stdin")?;
                bytes
            } else {
                std::fs::read(&path)
                    .with_context(|| format!("cannot read bundle file {}", path.display()))?
            };
            let view: InvocationView = api
                .call(
                    Method::POST,
                    "/v1/bundles",
                    "application/octet-stream",
                    bytes,
                )
                .await?;
            output::status_or(&view, json, |v| format!("{} imported: {}", v.id, v.state))?;
        }
        Command::Migrate { id, to } => {
            let path = format!("/v1/invocations/{}/migrate", encode(&id));
            let view: MigratedView = api.post_json(&path, &MigrateRequest { to }).await?;
            output::migrated(&view, json)?;
        }
        Command::Drain { to } => {
            let mut progress: DrainProgress =
                api.post_json("/v1/drain", &MigrateRequest { to }).await?;
            let mut shown = output::Progress::new("drain");
            loop {
                if !json {
                    shown.line(&format!(
                        "draining to {}: {} moved, {} left here, {} found in the last pass",
                        progress.to, progress.moved, progress.skipped, progress.found
                    ));
                }
                if progress.done {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
                progress = api.get("/v1/drain").await?;
            }
            shown.finish();
            if json {
                out!("{}", serde_json::to_string_pretty(&progress)?);
            } else {
                for (id, why) in &progress.refusals {
                    eprintln!("left here: {id}: {why}");
                }
                out!(
                    "drained to {}: {} moved, {} left here",
                    progress.to,
                    progress.moved,
                    progress.skipped
                );
            }
            if progress.skipped > 0 {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Journal { id, history } => {
            // Every page, in order; the history comes with the first.
            let path = format!("/v1/invocations/{}/journal", encode(&id));
            let mut journal: JournalView = api.get(&format!("{path}?history={history}")).await?;
            while let Some(from) = journal.next.take() {
                let page: JournalView = api.get(&format!("{path}?from={from}")).await?;
                journal.steps.extend(page.steps);
                journal.next = page.next;
            }
            output::journal(&journal, json)?;
        }
        Command::Logs { id, follow } => {
            let path = format!("/v1/invocations/{}/logs", encode(&id));
            let mut seen = 0;
            loop {
                let logs: LogsView = api.get(&format!("{path}?after={seen}")).await?;
                output::log_lines(&logs.lines, json)?;
                seen = logs.next;
                if !follow || logs.done {
                    break;
                }
                tokio::time::sleep(FOLLOW_EVERY).await;
            }
        }
        Command::Rewind {
            target:
                Targets {
                    id: Some(id),
                    filter: None,
                    ..
                },
            to_step,
            onto,
        } => {
            let path = format!("/v1/invocations/{}/rewind", encode(&id));
            let request = RewindRequest {
                to_step,
                component: onto.component,
                deployment: onto.deployment,
            };
            let view: InvocationView = api.post_json(&path, &request).await?;
            output::status_or(&view, json, |v| {
                format!("{} rewound to step {to_step}: {}", v.id, v.state)
            })?;
        }
        Command::Rewind {
            target,
            to_step,
            onto,
        } => {
            let request = BulkRequest {
                to_step: Some(to_step),
                component: onto.component,
                deployment: onto.deployment,
                ..BulkRequest::new("rewind")
            };
            control(&api, target, request, json).await?
        }
        Command::Fork { id, at_step, onto } => {
            let path = format!("/v1/invocations/{}/fork", encode(&id));
            let request = ForkRequest {
                at_step,
                component: onto.component,
                deployment: onto.deployment,
            };
            let view: InvocationView = api.post_json(&path, &request).await?;
            output::status_or(&view, json, |v| {
                format!("{} (forked from {id} at step {at_step})", v.id)
            })?;
        }
        Command::Ls {
            state,
            parent,
            limit,
        } => {
            let mut path = format!("/v1/invocations?limit={limit}");
            if let Some(state) = state {
                path.push_str(&format!("&state={}", encode(&state)));
            }
            if let Some(parent) = parent {
                path.push_str(&format!("&parent={}", encode(&parent)));
            }
            let list: InvocationList = api.get(&path).await?;
            output::invocations(&list, json)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Shows, sets or clears the egress rules at `path`.
async fn egress(api: &ApiClient, path: &str, args: EgressArgs, json: bool) -> anyhow::Result<()> {
    let answer: EgressAnswer = if args.clear {
        api.call(Method::DELETE, path, "application/json", Vec::new())
            .await?
    } else if args.allow.is_empty() && args.port.is_empty() {
        api.get(path).await?
    } else {
        let rules = EgressRulesView {
            hosts: args.allow,
            ports: args.port,
        };
        let body = serde_json::to_vec(&rules)?;
        api.call(Method::PUT, path, "application/json", body)
            .await?
    };
    output::egress(&answer, json)
}

/// POSTs `bulk`'s action (`pause`, `resume`; or, with a filter, `cancel` and `rewind` too)
/// for the invocation `target` names and prints what it is now, or for every match of its
/// filter, page by page.
async fn control(
    api: &ApiClient,
    target: Targets,
    bulk: BulkRequest,
    json: bool,
) -> anyhow::Result<()> {
    let action = bulk.action.as_str();
    let Some(filter) = target.filter else {
        let id = target.id.unwrap_or_default();
        let path = format!("/v1/invocations/{}/{action}", encode(&id));
        let view: InvocationView = api
            .call(Method::POST, &path, "application/json", Vec::new())
            .await?;
        if json {
            return output::status(&view, json);
        }
        out!("{} is {}", view.id, view.state);
        return Ok(());
    };
    let mut total = BulkView {
        dry_run: target.dry_run,
        ..BulkView::default()
    };
    let mut progress = output::Progress::new(action);
    loop {
        let request = BulkRequest {
            filter: filter.clone(),
            dry_run: target.dry_run,
            limit: Some(1_000),
            before: total.next.take(),
            ..bulk.clone()
        };
        let page: BulkView = api.post_json("/v1/invocations/bulk", &request).await?;
        total.matched += page.matched;
        total.done += page.done;
        total.skipped += page.skipped;
        total.refusals.extend(page.refusals);
        total.next = page.next;
        // The page after a full last one is empty: nothing new to show.
        if page.matched > 0 || total.matched == 0 {
            progress.show(&total);
        }
        if total.next.is_none() {
            break;
        }
    }
    progress.finish();
    output::bulk(&total, action, json)
}

/// The `Idempotency-Key` header for `key`, if there is one.
fn key_header(key: Option<String>) -> Vec<(&'static str, String)> {
    key.map(|key| (crate::api::dto::IDEMPOTENCY_KEY_HEADER, key))
        .into_iter()
        .collect()
}

/// Polls (with server-side waits) until `view` has finished or `timeout` seconds passed.
async fn wait_until_finished(
    api: &ApiClient,
    mut view: InvocationView,
    timeout: f64,
) -> anyhow::Result<InvocationView> {
    let deadline = Instant::now() + Duration::from_secs_f64(timeout.max(0.0));
    while !matches!(view.state.as_str(), "completed" | "failed" | "cancelled") {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .as_secs_f64();
        if left <= 0.0 {
            break;
        }
        let slice = left.min(WAIT_SLICE_SECS);
        view = api
            .get(&format!("/v1/invocations/{}?wait={slice:.3}", view.id))
            .await?;
    }
    Ok(view)
}

/// The key a host's first start wrote in its data directory (`$REPRISE_DATA`, else the
/// default), the admin key if `admin`, if it is there and readable.
fn key_file(admin: bool) -> Option<String> {
    let data = std::env::var_os("REPRISE_DATA")
        .map_or_else(|| std::path::PathBuf::from(super::DEFAULT_DATA), Into::into);
    let file = if admin {
        ADMIN_KEY_FILE
    } else {
        TENANT_KEY_FILE
    };
    let text = std::fs::read_to_string(data.join(file)).ok()?;
    Some(text.trim().to_string()).filter(|k| !k.is_empty())
}

/// Percent-encodes a path segment or query value.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `reprise schedule …`.
async fn schedule(api: &ApiClient, command: ScheduleCommand, json: bool) -> anyhow::Result<()> {
    let path = |name: &str, action: &str| format!("/v1/schedules/{}{action}", encode(name));
    let view: ScheduleView = match command {
        ScheduleCommand::Create {
            name,
            cron,
            tz,
            target,
            input,
            missed,
            grace,
        } => {
            let input = serde_json::value::RawValue::from_string(input)
                .map_err(|e| anyhow::anyhow!("--input is not valid JSON: {e}"))?;
            let request = ScheduleRequest {
                name,
                cron,
                tz,
                function: target,
                input,
                missed: Some(missed),
                grace_ms: Some(u64::try_from(grace.as_millis()).unwrap_or(u64::MAX)),
            };
            api.post_json("/v1/schedules", &request).await?
        }
        ScheduleCommand::Ls => {
            return output::schedules(&api.get("/v1/schedules").await?, json);
        }
        ScheduleCommand::Show { name } => api.get(&path(&name, "")).await?,
        ScheduleCommand::Pause { name } => api.post_json(&path(&name, "/pause"), &()).await?,
        ScheduleCommand::Resume { name } => api.post_json(&path(&name, "/resume"), &()).await?,
        ScheduleCommand::Delete { name } => {
            let path = path(&name, "");
            api.call(Method::DELETE, &path, "application/json", Vec::new())
                .await?
        }
    };
    output::schedule(&view, json)
}
