//! Printing API answers for people (text) or scripts (`--json`). Every line goes through
//! [`write_line`], so a reader that goes away (`reprise status ID | head -1`) ends the command
//! quietly, as it ends a Unix tool, rather than with a panic.

use std::io::Write;
use std::process::ExitCode;

use serde::Serialize;

use crate::api::access_dto::{
    EgressAnswer, EgressRulesView, KeyList, NewKeyView, TenantDetail, TenantList,
};
use crate::api::dto::{
    BulkView, CancelView, DeploymentList, DeploymentView, GcView, InvocationList, InvocationView,
    JournalView, LogLineView, StepView,
};
use crate::api::dto::{ScheduleList, ScheduleView, UpgradedView, VersionList};

use super::table::Columns;

/// `println!` through [`write_line`].
macro_rules! out {
    () => {
        $crate::cli::output::write_line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::cli::output::write_line(format_args!($($arg)*))
    };
}
pub(crate) use out;

/// Writes `args` and a newline to stdout. If the reader has gone, the command ends here with
/// success (what it printed was all that was wanted); another write error ends it with a
/// message on stderr and failure.
pub(crate) fn write_line(args: std::fmt::Arguments) {
    let mut stdout = std::io::stdout().lock();
    let written = stdout
        .write_fmt(args)
        .and_then(|()| stdout.write_all(b"\n"))
        .and_then(|()| stdout.flush());
    match written {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(err) => {
            eprintln!("error: cannot write to stdout: {err}");
            std::process::exit(1);
        }
    }
}

fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    out!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// A project `reprise new` wrote as `name`, and how to build and run it.
pub fn project(project: &crate::scaffold::Project, name: &str, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(&serde_json::json!({
            "path": project.dir,
            "component": project.component,
            "build": project.build,
        }));
    }
    let (dir, wasm) = (project.dir.display(), &project.component);
    out!("created {dir}");
    out!();
    out!("  cd {dir}");
    for command in &project.build {
        out!("  {command}");
    }
    out!("  reprise deploy {name} {wasm}");
    out!("  reprise invoke {name} --input '{{\"name\": \"Ada\"}}' --wait");
    Ok(())
}

/// A migration done.
pub fn migrated(m: &crate::api::dto::MigratedView, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(m);
    }
    out!("{} moved to {} ({} there)", m.id, m.to, m.state);
    Ok(())
}

/// A deployment.
pub fn deployment(d: &DeploymentView, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(d);
    }
    out!(
        "deployed {} v{} (component {}, {} bytes)",
        d.name,
        d.version,
        &d.component[..12.min(d.component.len())],
        d.size
    );
    match d.functions.as_slice() {
        [only] => out!("invoke it as `{}` (function {only})", d.name),
        functions => {
            for f in functions {
                out!("  function {f}: invoke as `{}.{f}`", d.name);
            }
        }
    }
    Ok(())
}

/// Deployments.
pub fn deployments(list: &DeploymentList, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(list);
    }
    let mut table = Columns::new(&["NAME", "VER", "COMPONENT", "FUNCTIONS"], &[1]);
    for d in &list.deployments {
        table.row(vec![
            d.name.clone(),
            d.version.to_string(),
            short(&d.component).to_string(),
            d.functions.join(", "),
        ]);
    }
    table.print();
    Ok(())
}

/// A deployment's versions, newest first.
pub fn versions(list: &VersionList, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(list);
    }
    out!(
        "{:>7} {:<14} {:<25} {:>10}",
        "VERSION",
        "COMPONENT",
        "DEPLOYED",
        "UNFINISHED"
    );
    for v in &list.versions {
        let version = v.version.map_or("-".to_string(), |n| n.to_string());
        let current = if v.current { "  (current)" } else { "" };
        out!(
            "{version:>7} {:<14} {:<25} {:>10}{current}",
            short(&v.component),
            v.deployed_at.as_deref().unwrap_or("-"),
            v.unfinished,
        );
    }
    Ok(())
}

/// An upgrade made.
pub fn upgraded(view: &UpgradedView, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(view);
    }
    out!(
        "{} upgraded to version {} after replaying {} steps (component {} -> {}); {}",
        view.id,
        view.to_version,
        view.steps,
        short(&view.from_component),
        short(&view.to_component),
        view.state
    );
    Ok(())
}

/// The id of a new invocation.
pub fn invocation_id(view: &InvocationView, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(view);
    }
    out!("{}", view.id);
    Ok(())
}

/// The result of a finished invocation: its output, or its error (exit code 1).
pub fn result(view: &InvocationView, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        print_json(view)?;
    } else if let Some(output) = &view.output {
        out!("{}", serde_json::to_string_pretty(output)?);
    } else if let Some(error) = &view.error {
        eprintln!(
            "invocation {} failed ({}): {}",
            view.id, error.kind, error.message
        );
    } else {
        eprintln!("invocation {} is still {}", view.id, view.state);
    }
    Ok(match view.state.as_str() {
        "completed" => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    })
}

/// An invocation's status.
pub fn status(view: &InvocationView, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(view);
    }
    out!("id:        {}", view.id);
    out!("function:  {}", view.function);
    out!("component: {}", view.component);
    out!("state:     {}", view.state);
    if let Some(parent) = &view.parent {
        let detached = if view.detached { " (detached)" } else { "" };
        out!("parent:    {parent}{detached}");
    }
    out!("attempts:  {}", view.attempts);
    out!("created:   {}", view.created_at);
    out!("updated:   {}", view.updated_at);
    if let Some(finished) = &view.finished_at {
        out!("finished:  {finished}");
    }
    if let Some(waiting) = &view.waiting {
        out!("waiting:   {}", waiting.summary);
    }
    if let Some(output) = &view.output {
        out!("output:    {}", serde_json::to_string(output)?);
    }
    if let Some(error) = &view.error {
        out!("error:     {} — {}", error.kind, error.message);
    }
    Ok(())
}

/// Lines of an invocation's log; with `json`, one JSON object per line.
pub fn log_lines(lines: &[LogLineView], json: bool) -> anyhow::Result<()> {
    for line in lines {
        if json {
            out!("{}", serde_json::to_string(line)?);
            continue;
        }
        let source = line.level.as_deref().unwrap_or(&line.stream);
        out!("{}  {source:<6} {}", line.at, line.text);
    }
    Ok(())
}

/// An invocation's journal.
pub fn journal(view: &JournalView, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(view);
    }
    steps(&view.steps);
    for event in view.history.iter().flatten() {
        out!();
        if event.event == "upgraded" {
            out!(
                "{}  upgraded to version {} after replaying {} steps (component {} -> {})",
                event.at,
                event.to_version.unwrap_or_default(),
                event.step,
                short(&event.from_component),
                short(event.to_component.as_deref().unwrap_or_default())
            );
            continue;
        }
        match event.from.as_deref() {
            Some(from) => out!(
                "{}  forked from {from} at step {} (component {})",
                event.at,
                event.step,
                short(&event.from_component)
            ),
            None => {
                let onto = event.to_component.as_deref().unwrap_or_default();
                out!(
                    "{}  rewound to step {} from {} (component {} -> {}, deployment {})",
                    event.at,
                    event.step,
                    event.from_state.as_deref().unwrap_or_default(),
                    short(&event.from_component),
                    short(onto),
                    event.to_deployment.as_deref().unwrap_or_default()
                );
                if let Some(error) = &event.error {
                    out!("  it had failed ({}): {}", error.kind, error.message);
                }
                if let Some(output) = &event.output {
                    out!("  it had returned: {output}");
                }
                for child in &event.cancelled {
                    out!("  cancelled child {child}");
                }
                if !event.dropped.is_empty() {
                    out!("  dropped:");
                    steps(&event.dropped);
                }
            }
        }
    }
    Ok(())
}

/// The first 12 hex digits of a hash.
fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// Journal steps as a table.
fn steps(steps: &[StepView]) {
    let mut table = Columns::new(&["SEQ", "KIND", "REQUEST", "OUTCOME"], &[0]);
    for step in steps {
        let attempts = match step.attempts {
            0 | 1 => String::new(),
            n => format!(" after {n} attempts"),
        };
        table.row(vec![
            step.seq.to_string(),
            step.kind.clone(),
            step.request.clone(),
            format!("{}{attempts}", step.outcome),
        ]);
    }
    table.print();
}

/// An invocation's status as JSON, or one `line` about it.
pub fn status_or(
    view: &InvocationView,
    json: bool,
    line: impl FnOnce(&InvocationView) -> String,
) -> anyhow::Result<()> {
    if json {
        return status(view, json);
    }
    out!("{}", line(view));
    Ok(())
}

/// Invocations.
pub fn invocations(list: &InvocationList, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(list);
    }
    let mut table = Columns::new(&["ID", "STATE", "FUNCTION", "CREATED", "WAITING"], &[]);
    for v in &list.invocations {
        let waiting = v.waiting.as_ref().map(|w| w.summary.clone());
        table.row(vec![
            v.id.clone(),
            v.state.clone(),
            v.function.clone(),
            v.created_at.clone(),
            waiting.unwrap_or_default(),
        ]);
    }
    table.print();
    Ok(())
}

/// The invocations a cancellation ended.
pub fn cancelled(view: &CancelView, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(view);
    }
    match view.cancelled.split_first() {
        Some((first, [])) => out!("cancelled {first}"),
        Some((first, rest)) => out!(
            "cancelled {first} and {} descendant{}",
            rest.len(),
            if rest.len() == 1 { "" } else { "s" }
        ),
        None => out!("nothing to cancel"),
    }
    Ok(())
}

/// A key just made: the key itself (only now), then what is listed of it.
pub fn new_key(key: &NewKeyView, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(key);
    }
    out!("{}", key.key);
    eprintln!(
        "key {} for {}: keep it now, it is not shown again",
        key.view.id,
        key.view.tenant.as_deref().unwrap_or("the admin")
    );
    Ok(())
}

/// Tenants as a table.
pub fn tenants(list: &TenantList, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(list);
    }
    out!("{:<32} CREATED", "NAME");
    for t in &list.tenants {
        out!("{:<32} {}", t.name, t.created_at);
    }
    Ok(())
}

/// Keys as a table.
pub fn keys(list: &KeyList, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(list);
    }
    out!(
        "{:<12} {:<6} {:<24} {:<24} REVOKED",
        "ID",
        "ROLE",
        "TENANT",
        "CREATED"
    );
    for k in &list.keys {
        out!(
            "{:<12} {:<6} {:<24} {:<24} {}",
            k.id,
            k.role,
            k.tenant.as_deref().unwrap_or("-"),
            k.created_at,
            k.revoked_at.as_deref().unwrap_or("-")
        );
    }
    Ok(())
}

/// A tenant's quotas and limits, one per line: `QUOTA  LIMIT  (set|default)`.
pub fn tenant(detail: &TenantDetail, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(detail);
    }
    out!(
        "tenant {} (created {})",
        detail.tenant.name,
        detail.tenant.created_at
    );
    let quotas = serde_json::to_value(&detail.quotas)?;
    let limits = serde_json::to_value(detail.limits)?;
    if let serde_json::Value::Object(limits) = limits {
        for (name, limit) in limits {
            let origin = if quotas[&name].is_null() {
                "default"
            } else {
                "set"
            };
            out!("  {name:<16} {limit:>14}  {origin}");
        }
    }
    out!("  egress           {}", egress_line(detail.egress.as_ref()));
    out!("  stored now       {:>14}  bytes", detail.stored_bytes);
    Ok(())
}

/// Egress rules on one line.
fn egress_line(rules: Option<&EgressRulesView>) -> String {
    let Some(rules) = rules else {
        return "no rules (the host's policy only)".to_string();
    };
    let hosts = match rules.hosts.is_empty() {
        true => "any host".to_string(),
        false => rules.hosts.join(", "),
    };
    let ports = match rules.ports.is_empty() {
        true => "any port".to_string(),
        false => {
            let ports: Vec<String> = rules.ports.iter().map(ToString::to_string).collect();
            format!("port {}", ports.join(" or "))
        }
    };
    format!("{hosts}; {ports}")
}

/// A progress line for a long action on stderr: rewritten in place on a terminal, a line
/// per page otherwise.
pub struct Progress {
    action: String,
    terminal: bool,
    shown: bool,
}

impl Progress {
    /// Progress of `action`.
    pub fn new(action: &str) -> Self {
        use std::io::IsTerminal;
        Progress {
            action: action.to_string(),
            terminal: std::io::stderr().is_terminal(),
            shown: false,
        }
    }

    /// Shows the totals so far.
    pub fn show(&mut self, total: &BulkView) {
        let line = format!(
            "{}: {} matched, {} done, {} skipped",
            self.action, total.matched, total.done, total.skipped
        );
        self.line(&line);
    }

    /// Shows `line`, after the action's name.
    pub fn line(&mut self, line: &str) {
        if self.terminal {
            eprint!("\r{line}");
        } else {
            eprintln!("{line}");
        }
        self.shown = true;
    }

    /// Ends the line on a terminal.
    pub fn finish(&self) {
        if self.terminal && self.shown {
            eprintln!();
        }
    }
}

/// The totals of a bulk action.
pub fn bulk(total: &BulkView, action: &str, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(total);
    }
    if total.dry_run {
        out!(
            "{} invocations match (dry run: nothing changed)",
            total.matched
        );
    } else {
        out!(
            "{action}: {} of {} matching invocations ({} skipped)",
            total.done,
            total.matched,
            total.skipped
        );
        for refusal in &total.refusals {
            out!("  skipped {}: {}", refusal.id, refusal.message);
        }
    }
    Ok(())
}

/// What a retention sweep removed, or would remove.
pub fn gc(view: &GcView, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(view);
    }
    let verb = if view.dry_run {
        "would remove"
    } else {
        "removed"
    };
    out!(
        "{verb} {} finished invocations (finished before {}) and {} idempotency keys",
        view.invocations,
        view.finished_before,
        view.keys
    );
    if view.versions.is_empty() {
        out!("{verb} no old versions: each is current or has unfinished invocations");
    }
    for v in &view.versions {
        out!(
            "{verb} version {} of {} (component {})",
            v.version.unwrap_or_default(),
            v.name,
            short(&v.component)
        );
    }
    Ok(())
}

/// A tenant's or a deployment's egress rules.
pub fn egress(answer: &EgressAnswer, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(answer);
    }
    out!("egress: {}", egress_line(answer.egress.as_ref()));
    Ok(())
}

/// Schedules as a table.
pub fn schedules(list: &ScheduleList, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(list);
    }
    out!(
        "{:<24} {:<16} {:<14} {:<24} {:<7} {:>6} {:>7} NEXT",
        "NAME",
        "CRON",
        "TZ",
        "FUNCTION",
        "STATE",
        "FIRED",
        "SKIPPED"
    );
    for s in &list.schedules {
        out!(
            "{:<24} {:<16} {:<14} {:<24} {:<7} {:>6} {:>7} {}",
            s.name,
            s.cron,
            s.tz,
            s.function,
            s.state,
            s.fired,
            s.skipped,
            s.next.as_deref().unwrap_or("-")
        );
    }
    Ok(())
}

/// One schedule.
pub fn schedule(s: &ScheduleView, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(s);
    }
    out!("schedule {} ({})", s.name, s.state);
    out!("  cron      {} ({})", s.cron, s.tz);
    out!("  function  {}  input {}", s.function, s.input);
    out!("  missed    {} (grace {} ms)", s.missed, s.grace_ms);
    out!("  next      {}", s.next.as_deref().unwrap_or("-"));
    out!(
        "  fired     {}  skipped {}  refused {}",
        s.fired,
        s.skipped,
        s.refused
    );
    if let (Some(at), Some(id)) = (&s.last_fired, &s.last_invocation) {
        out!("  last      {at} -> {id}");
    }
    if let Some(why) = &s.last_refusal {
        out!("  refused   {why}");
    }
    Ok(())
}
