//! Live progress of one invocation until it finishes: on a terminal, a spinner line
//! (indicatif) saying its state, the steps it took, what it waits for and the retries it is
//! between, with each new step printed above it; elsewhere, plain lines, one per new step
//! and one per change of that status.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::client::ApiClient;
use super::output::out;
use crate::api::dto::{InvocationView, JournalView, StepView};

/// How long one poll waits for the invocation to finish before looking at its steps again.
const POLL_SECS: f64 = 0.25;

/// Where progress goes.
#[derive(Clone, Copy)]
pub enum Sink {
    /// Standard output (`reprise watch`).
    Stdout,
    /// Standard error, so stdout keeps only the result (`reprise invoke --wait`).
    Stderr,
}

/// What progress has shown so far.
struct Progress {
    sink: Sink,
    bar: Option<ProgressBar>,
    status: String,
    steps: u32,
}

impl Progress {
    fn new(sink: Sink) -> Progress {
        let terminal = match sink {
            Sink::Stdout => std::io::stdout().is_terminal(),
            Sink::Stderr => std::io::stderr().is_terminal(),
        };
        let bar = terminal.then(|| {
            let target = match sink {
                Sink::Stdout => ProgressDrawTarget::stdout(),
                Sink::Stderr => ProgressDrawTarget::stderr(),
            };
            let bar = ProgressBar::with_draw_target(None, target);
            if let Ok(style) = ProgressStyle::with_template("{spinner} {elapsed:>3} {wide_msg}") {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        Progress {
            sink,
            bar,
            status: String::new(),
            steps: 0,
        }
    }

    /// A line that stays (above the spinner, on a terminal).
    fn line(&self, text: &str) {
        match (&self.bar, self.sink) {
            (Some(bar), _) => bar.println(text),
            (None, Sink::Stdout) => out!("{text}"),
            (None, Sink::Stderr) => eprintln!("{text}"),
        }
    }

    fn show(&mut self, view: &InvocationView, new_steps: &[StepView]) {
        for step in new_steps {
            self.line(&step_line(step));
            self.steps = self.steps.max(step.seq + 1);
        }
        let status = status_line(view, self.steps);
        if status != self.status {
            match &self.bar {
                Some(bar) => bar.set_message(status.clone()),
                None => self.line(&status),
            }
            self.status = status;
        }
    }

    fn finish(&mut self) {
        // On a terminal the spinner goes, and its last status stays as a line.
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
            if !self.status.is_empty() {
                self.line(&self.status);
            }
        }
    }
}

/// Shows `view`'s invocation's progress on `sink` until it finishes or `deadline` passes;
/// returns its last view.
pub async fn watch(
    api: &ApiClient,
    mut view: InvocationView,
    deadline: Option<Instant>,
    sink: Sink,
) -> anyhow::Result<InvocationView> {
    let mut progress = Progress::new(sink);
    let path = format!("/v1/invocations/{}", view.id);
    loop {
        let mut new_steps = Vec::new();
        loop {
            let from = progress.steps + new_steps.len() as u32;
            let page: JournalView = api.get(&format!("{path}/journal?from={from}")).await?;
            new_steps.extend(page.steps);
            if page.next.is_none() {
                break;
            }
        }
        progress.show(&view, &new_steps);
        let over = deadline.is_some_and(|d| Instant::now() >= d);
        if finished(&view) || over {
            progress.finish();
            return Ok(view);
        }
        view = api.get(&format!("{path}?wait={POLL_SECS}")).await?;
    }
}

/// Whether `view` is of a finished invocation.
pub fn finished(view: &InvocationView) -> bool {
    matches!(view.state.as_str(), "completed" | "failed" | "cancelled")
}

/// One journal step, for people.
fn step_line(step: &StepView) -> String {
    let attempts = match step.attempts {
        0 | 1 => String::new(),
        n => format!(" after {n} attempts"),
    };
    let request = match step.request.as_str() {
        "" => String::new(),
        request => format!(" {request}"),
    };
    format!(
        "step {:>3}  {}{request} -> {}{attempts}",
        step.seq, step.kind, step.outcome
    )
}

/// Where the invocation is, for people: its state, steps, and what it waits for.
fn status_line(view: &InvocationView, steps: u32) -> String {
    let steps = match steps {
        1 => "1 step".to_string(),
        n => format!("{n} steps"),
    };
    let detail = if let Some(retry) = &view.retrying {
        let next = retry
            .next_at
            .as_deref()
            .map(|at| format!(", next at {at}"))
            .unwrap_or_default();
        match retry.step {
            Some(step) => format!("retrying step {step}: {} attempts{next}", retry.attempts),
            None => {
                let why = view
                    .error
                    .as_ref()
                    .map(|e| format!(" after: {}", first_line(&e.message)))
                    .unwrap_or_default();
                format!("rerun {} of the function{next}{why}", retry.attempts + 1)
            }
        }
    } else if let Some(waiting) = &view.waiting {
        format!("waiting: {}", waiting.summary)
    } else if let Some(error) = view.error.as_ref().filter(|_| finished(view)) {
        format!("{}: {}", error.kind, first_line(&error.message))
    } else {
        String::new()
    };
    match detail.as_str() {
        "" => format!("{} · {steps}", view.state),
        _ => format!("{} · {steps} · {detail}", view.state),
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}
