//! The CLI's live views: `watch` and `invoke --wait` in a real pseudo-terminal (a spinner
//! redrawn in place, tables that fit its width) and in plain mode (a line per change,
//! tables as wide as their cells, stdout keeping only the result).

use std::process::Command;

use reprise_tests::host::{Host, reprise_bin};
use serde_json::{Value, json};

/// Runs `reprise ARGS` against `host` in a pseudo-terminal `cols` wide (util-linux `script`,
/// from Debian's essential bsdutils); returns what the terminal was sent.
fn in_terminal(host: &Host, args: &[&str], cols: u16) -> String {
    let quote = |arg: &str| format!("'{}'", arg.replace('\'', r"'\''"));
    let mut line = format!(
        "stty cols {cols} rows 40; exec {}",
        quote(&reprise_bin().to_string_lossy())
    );
    for arg in args.iter().copied().chain(["--url", host.url.as_str()]) {
        line.push(' ');
        line.push_str(&quote(arg));
    }
    let out = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env("REPRISE_DATA", &host.data)
        .env_remove("REPRISE_TOKEN")
        .output()
        .expect("run script");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The JSON value that ends `text` (a result printed after progress).
fn last_json(text: &str) -> Value {
    let start = text.find('{').expect("a JSON object");
    serde_json::from_str(text[start..].trim()).expect("a JSON result")
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_and_invoke_wait_show_progress_in_place_on_a_terminal_and_as_lines_elsewhere() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = Host::start(dir.path());
    host.deploy("tg", "reprise_test_guests");
    let nap = json!({"millis": 1500}).to_string();

    // In a terminal: a spinner redrawn in place, the steps above it, then the result.
    let id = host.cli_ok(&["invoke", "tg.nap", "--input", &nap]);
    let shown = in_terminal(&host, &["watch", id.trim()], 100);
    assert!(shown.contains("\r\x1b[2K"), "no redraw in place: {shown:?}");
    assert!(shown.contains("waiting: timer due"), "{shown:?}");
    assert!(shown.contains("step   2  await timer until"), "{shown:?}");
    assert!(shown.contains("completed · 4 steps"), "{shown:?}");
    assert!(last_json(&shown)["slept_millis"].as_u64() >= Some(1500));

    // Elsewhere: one line per step and per change, no escape codes, then the result.
    let id = host.cli_ok(&["invoke", "tg.nap", "--input", &nap]);
    let plain = host.cli_ok(&["watch", id.trim()]);
    assert!(
        !plain.contains('\x1b') && !plain.contains('\r'),
        "{plain:?}"
    );
    let lines: Vec<&str> = plain.lines().collect();
    assert!(lines[0].starts_with("step   0  wall_clock"), "{plain}");
    assert!(lines[1].starts_with("step   1  wall_clock"), "{plain}");
    let states: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| !l.starts_with("step"))
        .collect();
    assert!(
        states[0].starts_with("suspended · 2 steps · waiting: timer due"),
        "{plain}"
    );
    assert!(states.contains(&"completed · 4 steps"), "{plain}");
    assert!(last_json(&plain)["slept_millis"].as_u64() >= Some(1500));

    // `invoke --wait`: progress on stderr, only the result on stdout.
    let slow = json!({"millis": 2500}).to_string();
    let out = host.cli(&["invoke", "tg.nap", "--input", &slow, "--wait"]);
    assert!(out.status.success(), "{out:?}");
    let stdout: Value = serde_json::from_slice(&out.stdout).expect("only the result");
    assert!(stdout["slept_millis"].as_u64() >= Some(2500));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("completed · 4 steps"), "{stderr}");
    let shown = in_terminal(
        &host,
        &["invoke", "tg.nap", "--input", &slow, "--wait"],
        100,
    );
    assert!(shown.contains("\r\x1b[2K"), "{shown:?}");
    assert!(last_json(&shown)["slept_millis"].as_u64() >= Some(2500));
    // A failure: its error, and exit code 1.
    let boom = json!({"message": "boom"}).to_string();
    let out = host.cli(&["invoke", "tg.fail_error", "--input", &boom, "--wait"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("boom"));
}

#[tokio::test(flavor = "multi_thread")]
async fn tables_fit_the_terminal_and_stay_one_row_per_line_elsewhere() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = Host::start(dir.path());
    host.deploy("tg", "reprise_test_guests");

    // The test guests' function list is far wider than 60 columns.
    let shown = in_terminal(&host, &["deployments"], 60);
    let lines: Vec<&str> = shown.lines().map(|l| l.trim_end_matches('\r')).collect();
    assert!(lines.len() > 2, "the long cell wraps: {shown}");
    for line in &lines {
        assert!(
            line.chars().count() <= 60,
            "{line:?} is wider than the terminal"
        );
    }
    let plain = host.cli_ok(&["deployments"]);
    let plain: Vec<&str> = plain.lines().collect();
    assert_eq!(plain.len(), 2, "a header and one row: {plain:?}");
    assert!(
        plain[1].len() > 200 && plain[1].starts_with("tg "),
        "{plain:?}"
    );
    assert!(plain[1].contains("chatter"));
}
