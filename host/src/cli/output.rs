//! Printing API answers for people (text) or scripts (`--json`).

use std::process::ExitCode;

use serde::Serialize;

use crate::api::access_dto::{
    EgressAnswer, EgressRulesView, KeyList, NewKeyView, TenantDetail, TenantList,
};
use crate::api::dto::{
    BulkView, CancelView, DeploymentList, DeploymentView, GcView, InvocationList, InvocationView,
    JournalView, StepView,
};
use crate::api::dto::{ScheduleList, ScheduleView, UpgradedView, VersionList};

fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// A migration done.
pub fn migrated(m: &crate::api::dto::MigratedView, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(m);
    }
    println!("{} moved to {} ({} there)", m.id, m.to, m.state);
    Ok(())
}

/// A deployment.
pub fn deployment(d: &DeploymentView, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(d);
    }
    println!(
        "deployed {} v{} (component {}, {} bytes)",
        d.name,
        d.version,
        &d.component[..12.min(d.component.len())],
        d.size
    );
    match d.functions.as_slice() {
        [only] => println!("invoke it as `{}` (function {only})", d.name),
        functions => {
            for f in functions {
                println!("  function {f}: invoke as `{}.{f}`", d.name);
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
    println!("{:<24} {:>4} {:<14} FUNCTIONS", "NAME", "VER", "COMPONENT");
    for d in &list.deployments {
        println!(
            "{:<24} {:>4} {:<14} {}",
            d.name,
            d.version,
            &d.component[..12.min(d.component.len())],
            d.functions.join(", ")
        );
    }
    Ok(())
}

/// A deployment's versions, newest first.
pub fn versions(list: &VersionList, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(list);
    }
    println!(
        "{:>7} {:<14} {:<25} {:>10}",
        "VERSION", "COMPONENT", "DEPLOYED", "UNFINISHED"
    );
    for v in &list.versions {
        let version = v.version.map_or("-".to_string(), |n| n.to_string());
        let current = if v.current { "  (current)" } else { "" };
        println!(
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
    println!(
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
    println!("{}", view.id);
    Ok(())
}

/// The result of a finished invocation: its output, or its error (exit code 1).
pub fn result(view: &InvocationView, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        print_json(view)?;
    } else if let Some(output) = &view.output {
        println!("{}", serde_json::to_string_pretty(output)?);
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
    println!("id:        {}", view.id);
    println!("function:  {}", view.function);
    println!("component: {}", view.component);
    println!("state:     {}", view.state);
    if let Some(parent) = &view.parent {
        let detached = if view.detached { " (detached)" } else { "" };
        println!("parent:    {parent}{detached}");
    }
    println!("attempts:  {}", view.attempts);
    println!("created:   {}", view.created_at);
    println!("updated:   {}", view.updated_at);
    if let Some(finished) = &view.finished_at {
        println!("finished:  {finished}");
    }
    if let Some(waiting) = &view.waiting {
        println!("waiting:   {}", waiting.summary);
    }
    if let Some(output) = &view.output {
        println!("output:    {}", serde_json::to_string(output)?);
    }
    if let Some(error) = &view.error {
        println!("error:     {} — {}", error.kind, error.message);
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
        println!();
        if event.event == "upgraded" {
            println!(
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
            Some(from) => println!(
                "{}  forked from {from} at step {} (component {})",
                event.at,
                event.step,
                short(&event.from_component)
            ),
            None => {
                let onto = event.to_component.as_deref().unwrap_or_default();
                println!(
                    "{}  rewound to step {} from {} (component {} -> {}, deployment {})",
                    event.at,
                    event.step,
                    event.from_state.as_deref().unwrap_or_default(),
                    short(&event.from_component),
                    short(onto),
                    event.to_deployment.as_deref().unwrap_or_default()
                );
                if let Some(error) = &event.error {
                    println!("  it had failed ({}): {}", error.kind, error.message);
                }
                if let Some(output) = &event.output {
                    println!("  it had returned: {output}");
                }
                for child in &event.cancelled {
                    println!("  cancelled child {child}");
                }
                if !event.dropped.is_empty() {
                    println!("  dropped:");
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
    println!("{:>5}  {:<16} {:<60} OUTCOME", "SEQ", "KIND", "REQUEST");
    for step in steps {
        let attempts = if step.attempts > 1 {
            format!(" after {} attempts", step.attempts)
        } else {
            String::new()
        };
        println!(
            "{:>5}  {:<16} {:<60} {}{attempts}",
            step.seq, step.kind, step.request, step.outcome
        );
    }
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
    println!("{}", line(view));
    Ok(())
}

/// Invocations.
pub fn invocations(list: &InvocationList, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(list);
    }
    println!("{:<26}  {:<10} {:<30} CREATED", "ID", "STATE", "FUNCTION");
    for v in &list.invocations {
        println!(
            "{:<26}  {:<10} {:<30} {}",
            v.id, v.state, v.function, v.created_at
        );
    }
    Ok(())
}

/// The invocations a cancellation ended.
pub fn cancelled(view: &CancelView, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(view);
    }
    match view.cancelled.split_first() {
        Some((first, [])) => println!("cancelled {first}"),
        Some((first, rest)) => println!(
            "cancelled {first} and {} descendant{}",
            rest.len(),
            if rest.len() == 1 { "" } else { "s" }
        ),
        None => println!("nothing to cancel"),
    }
    Ok(())
}

/// A key just made: the key itself (only now), then what is listed of it.
pub fn new_key(key: &NewKeyView, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(key);
    }
    println!("{}", key.key);
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
    println!("{:<32} CREATED", "NAME");
    for t in &list.tenants {
        println!("{:<32} {}", t.name, t.created_at);
    }
    Ok(())
}

/// Keys as a table.
pub fn keys(list: &KeyList, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(list);
    }
    println!(
        "{:<12} {:<6} {:<24} {:<24} REVOKED",
        "ID", "ROLE", "TENANT", "CREATED"
    );
    for k in &list.keys {
        println!(
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
    println!(
        "tenant {} (created {})",
        detail.tenant.name, detail.tenant.created_at
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
            println!("  {name:<16} {limit:>14}  {origin}");
        }
    }
    println!("  egress           {}", egress_line(detail.egress.as_ref()));
    println!("  stored now       {:>14}  bytes", detail.stored_bytes);
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
        println!(
            "{} invocations match (dry run: nothing changed)",
            total.matched
        );
    } else {
        println!(
            "{action}: {} of {} matching invocations ({} skipped)",
            total.done, total.matched, total.skipped
        );
        for refusal in &total.refusals {
            println!("  skipped {}: {}", refusal.id, refusal.message);
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
    println!(
        "{verb} {} finished invocations (finished before {}) and {} idempotency keys",
        view.invocations, view.finished_before, view.keys
    );
    if view.versions.is_empty() {
        println!("{verb} no old versions: each is current or has unfinished invocations");
    }
    for v in &view.versions {
        println!(
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
    println!("egress: {}", egress_line(answer.egress.as_ref()));
    Ok(())
}

/// Schedules as a table.
pub fn schedules(list: &ScheduleList, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(list);
    }
    println!(
        "{:<24} {:<16} {:<14} {:<24} {:<7} {:>6} {:>7} NEXT",
        "NAME", "CRON", "TZ", "FUNCTION", "STATE", "FIRED", "SKIPPED"
    );
    for s in &list.schedules {
        println!(
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
    println!("schedule {} ({})", s.name, s.state);
    println!("  cron      {} ({})", s.cron, s.tz);
    println!("  function  {}  input {}", s.function, s.input);
    println!("  missed    {} (grace {} ms)", s.missed, s.grace_ms);
    println!("  next      {}", s.next.as_deref().unwrap_or("-"));
    println!(
        "  fired     {}  skipped {}  refused {}",
        s.fired, s.skipped, s.refused
    );
    if let (Some(at), Some(id)) = (&s.last_fired, &s.last_invocation) {
        println!("  last      {at} -> {id}");
    }
    if let Some(why) = &s.last_refusal {
        println!("  refused   {why}");
    }
    Ok(())
}
