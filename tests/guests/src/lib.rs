//! Functions used by the Reprise host's integration tests.
//!
//! Built as one component, `target/wasm32-wasip2/release/reprise_test_guests.wasm`:
//! `cargo build --release --target wasm32-wasip2 -p reprise-test-guests`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::BuildHasher;
use std::time::{Duration, Instant, SystemTime};

use reprise_sdk::{Error, http};
use serde::{Deserialize, Serialize};

/// Input of functions that only need a server URL.
#[derive(Deserialize)]
pub struct UrlInput {
    /// Base URL of the test server.
    pub url: String,
}

/// Input of [`steps`].
#[derive(Deserialize)]
pub struct StepsInput {
    /// URL to POST each step to.
    pub url: String,
    /// Number of steps.
    pub count: u32,
    /// A durable sleep this long between two steps (none by default).
    #[serde(default)]
    pub sleep_ms: u64,
}

/// Output of [`steps`].
#[derive(Serialize)]
pub struct StepsOutput {
    /// The `value` of each response, in order.
    pub values: Vec<u64>,
    /// `acc = acc * 31 + value` (wrapping) over all values.
    pub acc: u64,
}

#[derive(Serialize)]
struct StepRequest {
    i: u32,
    /// Set only by the `diverged` build: its steps ask for other requests than the default's.
    #[serde(skip_serializing_if = "Option::is_none")]
    v: Option<u32>,
}

#[derive(Deserialize)]
struct StepResponse {
    value: u64,
}

/// POSTs `{"i": i}` to `url` for `i` in `0..count` (sleeping `sleep_ms` between two); each
/// answer is `{"value": u64}`. The `diverged` build POSTs `{"i": i, "v": 2}` instead.
#[reprise_sdk::function]
pub fn steps(input: StepsInput) -> Result<StepsOutput, Error> {
    let mut values = Vec::with_capacity(input.count as usize);
    let mut acc: u64 = 0;
    for i in 0..input.count {
        if i > 0 && input.sleep_ms > 0 {
            reprise_sdk::sleep(Duration::from_millis(input.sleep_ms));
        }
        let response: StepResponse = http::post(&input.url)
            .json(&StepRequest {
                i,
                v: cfg!(feature = "diverged").then_some(2),
            })
            .send()?
            .error_for_status()?
            .json()?;
        values.push(response.value);
        acc = acc.wrapping_mul(31).wrapping_add(response.value);
    }
    Ok(StepsOutput { values, acc })
}

/// Nondeterministic values observed by [`entropy`]; all must be equal after a replay.
#[derive(Serialize, Deserialize, Debug, PartialEq, Eq)]
pub struct Entropy {
    /// `std::time::SystemTime::now()`, nanoseconds since the Unix epoch.
    pub system_time_nanos: u64,
    /// `reprise_sdk::now()`, nanoseconds since the Unix epoch.
    pub sdk_now_nanos: u64,
    /// Nanoseconds between two `std::time::Instant::now()` calls.
    pub instant_elapsed_nanos: u64,
    /// 16 bytes from `getrandom::fill`, hex.
    pub getrandom_hex: String,
    /// `reprise_sdk::random_bytes(16)`, hex.
    pub sdk_random_hex: String,
    /// `RandomState::new().hash_one("reprise")` (std's `HashMap` seed).
    pub hashmap_hash: u64,
}

/// Reads every source of nondeterminism, POSTs the values to `url` and returns them.
#[reprise_sdk::function]
pub fn entropy(input: UrlInput) -> Result<Entropy, Error> {
    let system_time_nanos = nanos_since_epoch(SystemTime::now())?;
    let sdk_now_nanos = nanos_since_epoch(reprise_sdk::now())?;

    let first = Instant::now();
    let second = Instant::now();
    let instant_elapsed_nanos = saturating_u64(second.duration_since(first).as_nanos());

    let mut getrandom_bytes = [0u8; 16];
    getrandom::fill(&mut getrandom_bytes).map_err(|err| Error::msg(format!("getrandom: {err}")))?;
    let sdk_random = reprise_sdk::random_bytes(16);

    let hashmap_hash = HashMap::<(), ()>::new().hasher().hash_one("reprise");

    let entropy = Entropy {
        system_time_nanos,
        sdk_now_nanos,
        instant_elapsed_nanos,
        getrandom_hex: hex(&getrandom_bytes),
        sdk_random_hex: hex(&sdk_random),
        hashmap_hash,
    };
    http::post(&input.url)
        .json(&entropy)
        .send()?
        .error_for_status()?;
    Ok(entropy)
}

/// GETs `{url}/a`, then `{url}/hold`; returns `"a"`. With [`det_b`], provokes a
/// determinism violation when the component is swapped between crash and replay.
#[reprise_sdk::function]
pub fn det_a(input: UrlInput) -> Result<String, Error> {
    http::get(format!("{}/a", input.url))
        .send()?
        .error_for_status()?;
    http::get(format!("{}/hold", input.url))
        .send()?
        .error_for_status()?;
    Ok("a".to_owned())
}

/// GETs `{url}/b`; returns `"b"`.
#[reprise_sdk::function]
pub fn det_b(input: UrlInput) -> Result<String, Error> {
    http::get(format!("{}/b", input.url))
        .send()?
        .error_for_status()?;
    Ok("b".to_owned())
}

/// Input of [`fail_panic`] and [`fail_error`].
#[derive(Deserialize)]
pub struct MessageInput {
    /// The panic or error message.
    pub message: String,
}

/// Panics with `input.message`.
#[reprise_sdk::function]
pub fn fail_panic(input: MessageInput) {
    panic!("{}", input.message);
}

/// Returns `input.message` as an error.
#[reprise_sdk::function]
pub fn fail_error(input: MessageInput) -> Result<(), Error> {
    Err(Error::msg(input.message))
}

/// Sleeps durably for `millis`, then reports how long it slept by its own clock.
#[reprise_sdk::function]
pub fn nap(input: NapInput) -> NapOutput {
    let before = reprise_sdk::now();
    reprise_sdk::sleep(Duration::from_millis(input.millis));
    let after = reprise_sdk::now();
    NapOutput {
        slept_millis: after.duration_since(before).unwrap_or_default().as_millis() as u64,
    }
}

/// Sleeps durably for `millis` and does nothing else (two steps: the clock, the wait).
#[reprise_sdk::function]
pub fn doze(input: NapInput) {
    reprise_sdk::sleep(Duration::from_millis(input.millis));
}

/// Reads the clock, sleeps durably until `millis` after that reading and reads the clock
/// again: how late a timer ends, as the function sees it (`reprise_sdk::sleep` is this).
#[reprise_sdk::function]
pub fn alarm(input: NapInput) -> AlarmOutput {
    let start = reprise_sdk::now();
    reprise_sdk::sleep_until(start + Duration::from_millis(input.millis));
    let woke = reprise_sdk::now();
    AlarmOutput {
        slept_micros: woke.duration_since(start).unwrap_or_default().as_micros() as u64,
    }
}

/// Output of [`alarm`].
#[derive(Serialize)]
pub struct AlarmOutput {
    /// Wall-clock time from the first clock reading to the one after the sleep.
    pub slept_micros: u64,
}

/// Input of [`nap`], [`doze`] and [`alarm`].
#[derive(Deserialize)]
pub struct NapInput {
    /// How long to sleep.
    pub millis: u64,
}

/// Output of [`nap`].
#[derive(Serialize)]
pub struct NapOutput {
    /// Wall-clock time between before and after the sleep, as the function saw it.
    pub slept_millis: u64,
}

/// Returns its input unchanged.
#[reprise_sdk::function]
pub fn echo(input: serde_json::Value) -> serde_json::Value {
    input
}

/// Input of [`log_lines`].
#[derive(Deserialize)]
pub struct CountInput {
    /// How many lines to log.
    pub count: u32,
}

/// Logs `count` lines (`line 0`, `line 1`, ...) and returns `count`.
#[reprise_sdk::function]
pub fn log_lines(input: CountInput) -> u32 {
    for i in 0..input.count {
        reprise_sdk::info!("line {i}");
    }
    input.count
}

/// For each of `count` steps writes `out {i}` to stdout, `err {i}` to stderr and logs
/// `log {i}`, then POSTs `{"i": i}` to `url`; at the end writes `done` without a line end.
#[reprise_sdk::function]
pub fn chatter(input: StepsInput) -> Result<u32, Error> {
    for i in 0..input.count {
        println!("out {i}");
        eprintln!("err {i}");
        reprise_sdk::info!("log {i}");
        http::post(&input.url)
            .json(&StepRequest { i, v: None })
            .send()?
            .error_for_status()?;
    }
    print!("done");
    // A component's export returns without the exit that would flush std's line buffer.
    let _ = std::io::Write::flush(&mut std::io::stdout());
    Ok(input.count)
}

/// What one [`child`] does.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct ChildPlan {
    /// Its number; it returns `2 * n`.
    #[serde(default)]
    pub n: u64,
    /// Sleep this long (durably) first.
    #[serde(default)]
    pub sleep_ms: u64,
    /// POST `{"n": n}` to this URL first (lets a test count or hold children).
    #[serde(default)]
    pub url: Option<String>,
    /// Fail with `child n failed` instead of returning.
    #[serde(default)]
    pub fail: bool,
}

/// A child: sleeps, posts, then returns `2 * n` or fails, as its plan says.
#[reprise_sdk::function]
pub fn child(plan: ChildPlan) -> Result<u64, Error> {
    if plan.sleep_ms > 0 {
        reprise_sdk::sleep(Duration::from_millis(plan.sleep_ms));
    }
    if let Some(url) = &plan.url {
        http::post(url)
            .json(&serde_json::json!({"n": plan.n}))
            .send()?
            .error_for_status()?;
    }
    if plan.fail {
        return Err(Error::msg(format!("child {} failed", plan.n)));
    }
    Ok(2 * plan.n)
}

/// Input of [`fan_out`].
#[derive(Deserialize)]
pub struct FanOut {
    /// How many children.
    pub count: u64,
    /// Each child's plan, but for `n` (its index) and `fail` (only child `fail_at`).
    #[serde(default)]
    pub plan: ChildPlan,
    /// The index of the child that fails, if any.
    #[serde(default)]
    pub fail_at: Option<u64>,
    /// How many of the children are detached (the last ones).
    #[serde(default)]
    pub detached: u64,
    /// A durable sleep this long after dispatching them, before gathering (none by default).
    #[serde(default)]
    pub nap_ms: u64,
}

/// Output of [`fan_out`].
#[derive(Serialize)]
pub struct FanOutOutput {
    /// Children gathered.
    pub count: usize,
    /// Sum of their outputs.
    pub sum: u64,
}

/// Dispatches `count` [`child`]ren, naps `nap_ms`, and gathers their outputs.
#[reprise_sdk::function]
pub fn fan_out(input: FanOut) -> Result<FanOutOutput, Error> {
    let handles: Vec<_> = (0..input.count)
        .map(|n| {
            let plan = ChildPlan {
                n,
                fail: input.fail_at == Some(n),
                ..input.plan.clone()
            };
            if n >= input.count - input.detached {
                child::dispatch_detached(&plan)
            } else {
                child::dispatch(&plan)
            }
        })
        .collect();
    if input.nap_ms > 0 {
        reprise_sdk::sleep(Duration::from_millis(input.nap_ms));
    }
    let outputs = reprise_sdk::gather(&handles)?;
    Ok(FanOutOutput {
        count: outputs.len(),
        sum: outputs.iter().sum(),
    })
}

/// Input of [`choose`].
#[derive(Deserialize)]
pub struct Choose {
    /// `any` (first success) or `race` (first to finish).
    pub mode: String,
    /// The children to start.
    pub children: Vec<ChildPlan>,
}

/// Output of [`choose`].
#[derive(Serialize)]
pub struct Chosen {
    /// Which child won.
    pub index: usize,
    /// Its output, if it succeeded.
    pub value: Option<u64>,
    /// Its error, if it failed.
    pub error: Option<String>,
}

/// Starts the children and waits for the first success (`any`) or the first to finish
/// (`race`).
#[reprise_sdk::function]
pub fn choose(input: Choose) -> Result<Chosen, Error> {
    let handles: Vec<_> = input.children.iter().map(child::dispatch).collect();
    match input.mode.as_str() {
        "any" => match reprise_sdk::children::any(&handles) {
            Ok((index, value)) => Ok(Chosen {
                index,
                value: Some(value),
                error: None,
            }),
            Err(err) => Ok(Chosen {
                index: usize::MAX,
                value: None,
                error: Some(err.message().to_string()),
            }),
        },
        "race" => {
            let items: Vec<_> = handles.iter().map(|h| h.awaitable()).collect();
            let first = reprise_sdk::wait::race(&items);
            Ok(Chosen {
                index: first.index,
                value: first.json().ok(),
                error: first.outcome.err(),
            })
        }
        other => Err(Error::msg(format!("mode must be any or race, got {other}"))),
    }
}

/// Input of [`signals`].
#[derive(Deserialize)]
pub struct SignalsInput {
    /// The signal names to wait for, one after the other.
    pub names: Vec<String>,
}

/// Waits for each named signal in turn and returns their payloads.
#[reprise_sdk::function]
pub fn signals(input: SignalsInput) -> Result<Vec<serde_json::Value>, Error> {
    input
        .names
        .iter()
        .map(|name| reprise_sdk::await_signal(name))
        .collect()
}

/// Input of [`relay`].
#[derive(Deserialize)]
pub struct Relay {
    /// `deployment.function` to dispatch.
    pub target: String,
    /// Its input.
    pub input: serde_json::Value,
}

/// Dispatches `target` with `input` and returns its output (or why it could not start).
#[reprise_sdk::function]
pub fn relay(input: Relay) -> Result<serde_json::Value, Error> {
    reprise_sdk::children::dispatch::<_, serde_json::Value>(&input.target, &input.input, false)?
        .join()
}

/// Allocates and touches `mib` MiB of memory; returns a checksum of it.
#[reprise_sdk::function]
pub fn hog(mib: usize) -> u64 {
    checksum(&touched(mib))
}

/// `mib` MiB of memory, every page touched.
fn touched(mib: usize) -> Vec<u8> {
    vec![1u8; mib * 1024 * 1024]
}

/// A sum over every page of `memory`, so that it is not optimised away.
fn checksum(memory: &[u8]) -> u64 {
    std::hint::black_box(memory)
        .iter()
        .step_by(4096)
        .map(|&b| u64::from(b))
        .sum()
}

/// Recurses `depth` levels deep (no host call); returns the depth reached.
#[reprise_sdk::function]
pub fn recurse(depth: u64) -> u64 {
    fn down(n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            1 + std::hint::black_box(down(n - 1))
        }
    }
    down(depth)
}

/// Input of [`hold`].
#[derive(Deserialize)]
pub struct Hold {
    /// MiB to allocate and touch.
    pub mib: usize,
    /// How long to keep them (an in-memory sleep), in ms.
    pub millis: u64,
}

/// Allocates `mib` MiB, keeps them `millis` ms, returns a checksum.
#[reprise_sdk::function]
pub fn hold(input: Hold) -> u64 {
    let memory = touched(input.mib);
    reprise_sdk::sleep(Duration::from_millis(input.millis));
    checksum(&memory)
}

/// Returns a string of `mib` MiB.
#[reprise_sdk::function]
pub fn big_output(mib: usize) -> String {
    "x".repeat(mib * 1024 * 1024)
}

/// Computes for `rounds` rounds without any host call; returns a checksum.
#[reprise_sdk::function]
pub fn spin(rounds: u64) -> u64 {
    let mut acc: u64 = 1;
    for i in 0..rounds {
        acc = std::hint::black_box(acc.wrapping_mul(6364136223846793005).wrapping_add(i));
    }
    acc
}

/// Sleeps with `std::thread::sleep` (a WASI monotonic-clock subscription), then reports how
/// long it slept by `Instant`.
#[reprise_sdk::function]
pub fn thread_sleep(input: NapInput) -> NapOutput {
    let before = Instant::now();
    std::thread::sleep(Duration::from_millis(input.millis));
    NapOutput {
        slept_millis: before.elapsed().as_millis() as u64,
    }
}

/// Input of [`wake_at`].
#[derive(Deserialize)]
pub struct WakeAt {
    /// When to wake, in ms since the Unix epoch.
    pub due_ms: u64,
}

/// Output of [`wake_at`].
#[derive(Serialize)]
pub struct Woke {
    /// How long after `due_ms` the function saw the time after its sleep (ms; may be 0).
    pub late_ms: u64,
}

/// Sleeps durably until `due_ms`, then reports how late it woke.
#[reprise_sdk::function]
pub fn wake_at(input: WakeAt) -> Result<Woke, Error> {
    let due = SystemTime::UNIX_EPOCH + Duration::from_millis(input.due_ms);
    reprise_sdk::sleep_until(due);
    let late = reprise_sdk::now().duration_since(due).unwrap_or_default();
    Ok(Woke {
        late_ms: late.as_millis() as u64,
    })
}

/// Input of [`post_then_fail`].
#[derive(Deserialize)]
pub struct PostThenFail {
    /// Where to POST first.
    pub url: String,
    /// `panic`, `retryable` or `error`.
    pub how: String,
}

/// POSTs to `url` (a journaled step), then fails as `how` says.
#[reprise_sdk::function]
pub fn post_then_fail(input: PostThenFail) -> Result<(), Error> {
    http::post(&input.url)
        .json(&serde_json::json!({"i": 0}))
        .send()?;
    match input.how.as_str() {
        "panic" => panic!("failing on purpose"),
        "retryable" => Err(Error::retryable("not yet, try again")),
        _ => Err(Error::msg("failing for good")),
    }
}

/// Input of [`export_users`].
#[derive(Deserialize)]
pub struct ExportUsers {
    /// Each user is POSTed to `{url}/users/{n}`.
    pub url: String,
    /// How many users.
    pub users: u32,
    /// The user the default build exports wrongly.
    pub bad: u32,
}

/// Rewind tests: POSTs each user to `{url}/users/{n}`, one step each; returns how many. The
/// default build sends user `bad` without its email and then fails. Built with feature
/// `fixed`, it sends the email (another request at that step, the same ones before it);
/// with `diverged`, it posts to `{url}/v2/users/{n}` from the first user on.
#[reprise_sdk::function]
pub fn export_users(input: ExportUsers) -> Result<u32, Error> {
    let base = if cfg!(feature = "diverged") {
        format!("{}/v2", input.url)
    } else {
        input.url.clone()
    };
    for n in 0..input.users {
        let broken = n == input.bad && !cfg!(feature = "fixed");
        let body = if broken {
            serde_json::json!({"user": n})
        } else {
            serde_json::json!({"user": n, "email": format!("user{n}@example.com")})
        };
        http::post(format!("{base}/users/{n}"))
            .json(&body)
            .send()?
            .error_for_status()?;
        if broken {
            return Err(Error::msg(format!(
                "user {n} was exported without its email"
            )));
        }
    }
    Ok(input.users)
}

/// Input of [`random_steps`].
#[derive(Deserialize)]
pub struct RandomSteps {
    /// Journaled steps to take (8 random bytes each).
    pub count: u32,
    /// Then sleep durably this long,
    #[serde(default)]
    pub sleep_ms: u64,
    /// this many times (at least once).
    #[serde(default)]
    pub sleeps: u32,
}

/// Takes `count` journaled steps (random bytes), sleeps `sleep_ms` `sleeps` times, returns
/// the last byte.
#[reprise_sdk::function]
pub fn random_steps(input: RandomSteps) -> u8 {
    let mut last = 0;
    for _ in 0..input.count {
        last = reprise_sdk::random_bytes(8)[0];
    }
    if input.sleep_ms > 0 {
        for _ in 0..input.sleeps.max(1) {
            reprise_sdk::sleep(Duration::from_millis(input.sleep_ms));
        }
    }
    last
}

reprise_sdk::export!(
    steps,
    entropy,
    det_a,
    det_b,
    fail_panic,
    fail_error,
    nap,
    doze,
    alarm,
    echo,
    log_lines,
    child,
    fan_out,
    choose,
    signals,
    thread_sleep,
    wake_at,
    post_then_fail,
    random_steps,
    spin,
    relay,
    hog,
    recurse,
    big_output,
    hold,
    export_users,
    chatter,
);

fn nanos_since_epoch(time: SystemTime) -> Result<u64, Error> {
    let since_epoch = time.duration_since(SystemTime::UNIX_EPOCH)?;
    Ok(saturating_u64(since_epoch.as_nanos()))
}

fn saturating_u64(value: u128) -> u64 {
    u64::try_from(value).unwrap_or(u64::MAX)
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, byte| {
            let _ = write!(out, "{byte:02x}");
            out
        })
}
