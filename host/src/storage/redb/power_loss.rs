//! Power loss, proven: random workloads run on a simulated disk that records every write and
//! sync of the database and the log; at every sync and at random points between, the disk is
//! cut as a power loss could leave it, reopened, and checked.
//!
//! For each crash image: the store opens; its state is exactly the state the first run had
//! after some op `k`, with every op acknowledged before the loss included (`k ≥ acked`) and
//! nothing beyond those submitted (`k ≤ submitted`) — so no acknowledged op is lost, none is
//! half-applied, and the log's replay wrote exactly what the first application wrote (every
//! time in it comes from the ops); every index agrees with its records; and, for a sample of
//! images, running the rest of the workload on the recovered store ends in exactly the
//! reference's final state.
//!
//! A crash image keeps every synced byte of each file and, of the writes since that file's
//! last sync: none; all (what `SIGKILL` leaves); a random subset (the disk reordered them); or
//! a random prefix whose last write is torn at a sector boundary.
//!
//! `cargo test -p reprise --lib power_loss` runs a short version. The long one:
//! `REPRISE_POWER_LOSS_WORKLOADS=200 REPRISE_POWER_LOSS_IMAGES=60 cargo test --release -p
//! reprise --lib power_loss -- --nocapture` prints how many images it checked.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::disk::Disk;
use super::inspect::Dump;
use super::options::StoreOptions;
use super::sim_disk::{Event, Fault, Replayed, SimDisk, Volatile};
use super::store::Store;
use super::workload::Generator;
use crate::journal::Op;
use crate::journal::{StoreError, WriteError};
use crate::storage::Storage;

/// What a workload's first run produced.
struct Reference {
    /// The ops, each with the time it was made.
    ops: Vec<(Op, u64)>,
    /// The state after opening (index 0) and after each op.
    states: Vec<Dump>,
    /// Everything the disk saw.
    events: Vec<Event>,
}

fn submitted(i: usize) -> u64 {
    2 * i as u64
}

fn acked(i: usize) -> u64 {
    2 * i as u64 + 1
}

/// Options that make a short workload exercise the log's wrap-around and checkpoints.
fn options(rng: &mut StdRng) -> StoreOptions {
    StoreOptions {
        log_bytes: 64 * 1024,
        // Mostly checkpoints when the log is full; sometimes also when idle for 2 ms.
        checkpoint_every: if rng.random_bool(0.3) {
            Duration::from_millis(20)
        } else {
            Duration::from_secs(3600)
        },
        max_batch: 64,
        ..StoreOptions::default()
    }
}

fn open(disk: &SimDisk, options: &StoreOptions) -> Result<Store, StoreError> {
    Store::open_on(&Disk::Simulated(disk.clone()), options)
}

/// Whether `err` is a storage failure rather than a refusal.
fn is_failure(err: &StoreError) -> bool {
    matches!(
        err,
        StoreError::Write(WriteError::Storage(_) | WriteError::Halted(_) | WriteError::Closed)
    )
}

/// Runs `ops` ops of workload `seed` on a fresh simulated disk.
async fn reference(seed: u64, ops: usize, options: &StoreOptions) -> Reference {
    let disk = SimDisk::default();
    let store = open(&disk, options).expect("open a fresh store");
    // The same ops one at a time on a store of its own: the state after each op.
    let sequential = open(&SimDisk::default(), options).expect("open a fresh store");
    let mut rng = StdRng::seed_from_u64(seed ^ 0xba7c);
    let mut generator = Generator::new(seed);
    let mut reference = Reference {
        ops: Vec::new(),
        states: vec![sequential.dump()],
        events: Vec::new(),
    };
    while reference.ops.len() < ops {
        // Now and then several ops at once, so that the writer groups them into batches.
        let first = reference.ops.len();
        let round = match rng.random_bool(0.3) {
            true => rng.random_range(2..=8).min(ops - first),
            false => 1,
        };
        let round: Vec<(Op, u64)> = (0..round).map(|_| generator.next(&sequential)).collect();
        let mut pending = Vec::new();
        for (j, (op, at_ms)) in round.iter().enumerate() {
            disk.mark(submitted(first + j));
            pending.push(
                store
                    .writer
                    .send_at(op.clone(), *at_ms)
                    .expect("the writer runs"),
            );
        }
        let mut results = Vec::new();
        for (j, done) in pending.into_iter().enumerate() {
            results.push(done.await);
            disk.mark(acked(first + j));
        }
        for ((op, at_ms), batched) in round.into_iter().zip(results) {
            let i = reference.ops.len();
            if let Err(err) = &batched {
                let err = StoreError::Write(err.clone());
                assert!(!is_failure(&err), "workload {seed} op {i} failed: {err}");
            }
            let alone = sequential.writer.submit_at(op.clone(), at_ms).await;
            assert_eq!(
                format!("{batched:?}"),
                format!("{alone:?}"),
                "workload {seed} op {i}: in a batch and alone, an op has the same result"
            );
            reference.states.push(sequential.dump());
            if let Err(why) = sequential.check_indexes() {
                panic!(
                    "workload {seed} op {i} ({op:?}): the reference disagrees with itself: {why}"
                );
            }
            reference.ops.push((op, at_ms));
        }
        assert!(
            store.dump() == sequential.dump(),
            "workload {seed}: ops applied in batches left another state than one by one"
        );
    }
    drop(store);
    reference.events = disk.events();
    reference
}

/// How many ops were acknowledged right after another, with no disk event between: ops that
/// shared a batch.
fn batched_ops(events: &[Event]) -> usize {
    events
        .windows(2)
        .filter(|w| matches!(w, [Event::Mark(a), Event::Mark(b)] if a % 2 == 1 && b % 2 == 1))
        .count()
}

/// Which ops had been submitted and acknowledged before event `at`.
fn progress(events: &[Event], at: usize) -> (usize, usize) {
    let (mut submitted_ops, mut acked_ops) = (0, 0);
    for event in &events[..at] {
        if let Event::Mark(m) = event {
            if m % 2 == 0 {
                submitted_ops += 1;
            } else {
                acked_ops += 1;
            }
        }
    }
    (submitted_ops, acked_ops)
}

/// A power-loss image of `file`: which of its unsynced writes survive.
fn cut(file: &Volatile, variant: usize, rng: &mut StdRng) -> Option<Vec<u8>> {
    let n = file.unsynced.len();
    match variant {
        0 => file.image(&[], None),
        1 => file.image(&(0..n).collect::<Vec<_>>(), None),
        2 => {
            let kept: Vec<usize> = (0..n).filter(|_| rng.random_bool(0.5)).collect();
            file.image(&kept, None)
        }
        _ => {
            let len = if n == 0 { 0 } else { rng.random_range(1..=n) };
            let kept: Vec<usize> = (0..len).collect();
            let torn = kept
                .last()
                .and_then(|&last| file.sectors(last))
                .filter(|&sectors| sectors > 1)
                .map(|sectors| rng.random_range(1..sectors));
            file.image(&kept, torn)
        }
    }
}

/// Where a failed check stands.
fn describe(dump: &Dump, expected: &Dump) -> String {
    for (table, rows) in expected {
        let got = dump.get(table).cloned().unwrap_or_default();
        if &got != rows {
            let missing: Vec<_> = rows.iter().filter(|r| !got.contains(r)).take(2).collect();
            let extra: Vec<_> = got.iter().filter(|r| !rows.contains(r)).take(2).collect();
            return format!("table {table}: missing {missing:?}, unexpected {extra:?}");
        }
    }
    "no difference".into()
}

/// Checks one crash image; `resume` also runs the rest of the workload on it.
async fn check_image(
    reference: &Reference,
    files: [Option<Vec<u8>>; 2],
    (submitted_ops, acked_ops): (usize, usize),
    options: &StoreOptions,
    resume: bool,
) -> Result<(), String> {
    let [database, log] = files;
    let disk = SimDisk::with_files(database, log);
    let store = open(&disk, options).map_err(|e| format!("the store does not open: {e}"))?;
    store.check_indexes()?;
    let dump = store.dump();
    let Some(k) = (acked_ops..=submitted_ops).find(|&k| reference.states[k] == dump) else {
        return Err(format!(
            "the state is none of those after ops {acked_ops}..={submitted_ops}: against the \
             state after op {acked_ops}, {}",
            describe(&dump, &reference.states[acked_ops])
        ));
    };
    if resume {
        for (op, at_ms) in &reference.ops[k..] {
            let result = store.writer.submit_at(op.clone(), *at_ms).await;
            if let Err(err) = result.map_err(StoreError::Write)
                && is_failure(&err)
            {
                return Err(format!("resuming after op {k}: {err}"));
            }
        }
        let last = reference.states.last().expect("a final state");
        if &store.dump() != last {
            return Err(format!(
                "resumed after op {k}, the final state differs: {}",
                describe(&store.dump(), last)
            ));
        }
    }
    Ok(())
}

/// Builds and checks up to `images` crash images of `events` (what the disk saw while
/// `reference`'s ops ran); returns how many.
async fn check_images(
    seed: u64,
    reference: &Reference,
    events: &[Event],
    options: &StoreOptions,
    images: usize,
    rng: &mut StdRng,
) -> usize {
    // Crash points: just before and just after every sync, and at random points.
    let mut points: Vec<usize> = Vec::new();
    for (i, event) in events.iter().enumerate() {
        if matches!(event, Event::Sync { .. }) {
            points.extend([i, i + 1]);
        }
    }
    for _ in 0..points.len() / 4 + 1 {
        points.push(rng.random_range(0..=events.len()));
    }
    points.sort_unstable();
    points.dedup();
    let per_point = images.div_ceil(points.len()).max(1);
    let chosen: Vec<usize> = if points.len() * per_point > images {
        let mut chosen: Vec<usize> = (0..images.div_ceil(per_point))
            .map(|_| points[rng.random_range(0..points.len())])
            .collect();
        chosen.sort_unstable();
        chosen
    } else {
        points
    };
    let mut replayed = Replayed::new([None, None]);
    let mut at = 0;
    let mut checked = 0;
    for point in chosen {
        while at < point {
            replayed.step(&events[at]);
            at += 1;
        }
        let progress = progress(events, point);
        for _ in 0..per_point {
            // Each file loses its unsynced writes its own way. A database still being created
            // is not there: it was never renamed into place.
            let variant = [rng.random_range(0..4), rng.random_range(0..4)];
            let files = [
                cut(&replayed.files[0], variant[0], rng),
                cut(&replayed.files[1], variant[1], rng),
            ];
            let resume = rng.random_bool(0.2);
            if let Err(why) = check_image(reference, files, progress, options, resume).await {
                panic!(
                    "workload {seed}: a power loss before event {point} of {} (variants {variant:?}, \
                     {} ops submitted, {} acknowledged): {why}",
                    events.len(),
                    progress.0,
                    progress.1
                );
            }
            checked += 1;
        }
    }
    checked
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_power_loss_loses_an_acknowledged_write_or_half_applies_one() {
    let workloads = env_number("REPRISE_POWER_LOSS_WORKLOADS", 6);
    let images = env_number("REPRISE_POWER_LOSS_IMAGES", 25);
    let first_seed = env_number("REPRISE_POWER_LOSS_SEED", 1) as u64;
    let mut total = 0;
    let mut events = 0;
    let mut batched = 0;
    for seed in first_seed..first_seed + workloads as u64 {
        let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
        let options = options(&mut rng);
        let ops = rng.random_range(60..140);
        let reference = reference(seed, ops, &options).await;
        events += reference.events.len();
        batched += batched_ops(&reference.events);
        let events = &reference.events;
        total += check_images(seed, &reference, events, &options, images, &mut rng).await;
    }
    println!(
        "power loss: {total} crash images checked over {workloads} workloads ({events} disk \
         events; {batched} ops acknowledged together with another), no failure"
    );
    assert!(total >= workloads * images / 2);
    assert!(batched > 0, "no batch held more than one op");
}

/// Runs `reference`'s ops on a fresh disk with `fault` injected before op `from`, up to the
/// first that fails; returns the disk's events and that op's index. Checks that the failure
/// is the documented one: a failed sync or a full disk halts the writer (`Halted`), and every
/// later write is refused the same way.
async fn run_with_fault(
    reference: &Reference,
    options: &StoreOptions,
    fault: Fault,
    from: usize,
) -> (Vec<Event>, Option<usize>) {
    let disk = SimDisk::default();
    let store = open(&disk, options).expect("open a fresh store");
    let mut failed = None;
    for (i, (op, at_ms)) in reference.ops.iter().enumerate() {
        if i == from {
            disk.inject(fault);
        }
        if failed.is_none() {
            disk.mark(submitted(i));
        }
        match store.writer.submit_at(op.clone(), *at_ms).await {
            Err(WriteError::Halted(_)) => {
                failed = Some(i);
                // What the server waits on to stop the host.
                let halted = tokio::time::timeout(Duration::from_secs(1), store.halted()).await;
                assert!(halted.is_ok(), "the store does not say it halted");
                // Halted for good: every later write is refused the same way.
                let (op, at_ms) = &reference.ops[(i + 1).min(reference.ops.len() - 1)];
                let again = store.writer.submit_at(op.clone(), *at_ms).await;
                assert!(matches!(again, Err(WriteError::Halted(_))), "{again:?}");
                break;
            }
            Err(err @ (WriteError::Storage(_) | WriteError::Closed)) => {
                panic!("op {i} under {fault:?}: {err}, where the writer should halt")
            }
            Ok(_) | Err(_) => disk.mark(acked(i)),
        }
    }
    drop(store);
    (disk.events(), failed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_sync_or_a_full_disk_halts_the_writer_and_loses_nothing_acknowledged() {
    let workloads = env_number("REPRISE_POWER_LOSS_WORKLOADS", 6);
    let images = env_number("REPRISE_POWER_LOSS_IMAGES", 25);
    let mut total = 0;
    let mut halted = 0;
    let first_seed = 1000 + env_number("REPRISE_POWER_LOSS_SEED", 1) as u64 - 1;
    for seed in first_seed..first_seed + workloads as u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let options = options(&mut rng);
        let reference = reference(seed, rng.random_range(40..100), &options).await;
        let from = rng.random_range(0..reference.ops.len());
        let fault = if seed % 2 == 0 {
            Fault::SyncFails {
                after: rng.random_range(0..6),
            }
        } else {
            // No room to grow: the next commit that needs a larger database fails.
            Fault::DiskFull { limit: 0 }
        };
        let (events, failed) = run_with_fault(&reference, &options, fault, from).await;
        if std::env::var_os("REPRISE_POWER_LOSS_VERBOSE").is_some() {
            println!("workload {seed}: {fault:?} from op {from}, first failure {failed:?}");
        }
        halted += usize::from(failed.is_some());
        total += check_images(seed, &reference, &events, &options, images, &mut rng).await;
    }
    println!(
        "faults: {total} crash images checked over {workloads} workloads, {halted} of which stopped \
         at a failed write, no failure"
    );
    assert!(halted > 0, "no injected fault halted the writer");
}
