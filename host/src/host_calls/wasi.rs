//! WASI clocks and randomness served from the journal.
//!
//! `wasmtime-wasi` implements these interfaces with live values. A replayed function must see
//! the same time and the same random numbers as the first run (Rust's `SystemTime::now()`,
//! `Instant::now()`, `HashMap` seeds and `getrandom` all come through here), so after adding
//! WASI to the linker we shadow these functions with journaled ones.

use std::future::Future;
use std::pin::Pin;

use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::WasiView;
use wasmtime_wasi::p2::bindings::clocks::wall_clock::Datetime;
use wasmtime_wasi::p2::{DynPollable, Pollable};

use super::InvocationCtx;
use super::{StepRequest, clock, random, waits};

/// The WASI 0.2 version `wasmtime-wasi` registers; guests importing any 0.2.x resolve to it.
const WASI_VERSION: &str = "0.2.12";

type Ctx<'a> = StoreContextMut<'a, InvocationCtx>;

/// Replaces the live WASI clock and random functions in `linker` with journaled ones.
pub fn shadow_wasi_with_journal(linker: &mut Linker<InvocationCtx>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);

    let mut wall = linker.instance(&format!("wasi:clocks/wall-clock@{WASI_VERSION}"))?;
    wall.func_wrap_async("now", |mut store: Ctx<'_>, (): ()| {
        Box::new(async move {
            let t = clock::now(store.data_mut().steps_mut()).await?;
            Ok((Datetime {
                seconds: t.seconds,
                nanoseconds: t.nanoseconds,
            },))
        })
    })?;

    let mut mono = linker.instance(&format!("wasi:clocks/monotonic-clock@{WASI_VERSION}"))?;
    mono.func_wrap_async("now", |mut store: Ctx<'_>, (): ()| {
        Box::new(async move { Ok((clock::instant(store.data_mut().steps_mut()).await?,)) })
    })?;

    mono.func_wrap_async("subscribe-duration", |mut store: Ctx<'_>, (ns,): (u64,)| {
        Box::new(async move {
            if ns > 0 {
                let steps = store.data_mut().steps_mut();
                let start = clock::instant(steps).await?;
                waits::sleep_until(steps, ns_to_ms(start.saturating_add(ns))).await?;
            }
            Ok((ready(store.data_mut())?,))
        })
    })?;
    mono.func_wrap_async(
        "subscribe-instant",
        |mut store: Ctx<'_>, (when,): (u64,)| {
            Box::new(async move {
                // Instants are ns since the Unix epoch (see `clock::monotonic`).
                waits::sleep_until(store.data_mut().steps_mut(), ns_to_ms(when)).await?;
                Ok((ready(store.data_mut())?,))
            })
        },
    )?;

    let mut secure = linker.instance(&format!("wasi:random/random@{WASI_VERSION}"))?;
    secure.func_wrap_async("get-random-bytes", |mut store: Ctx<'_>, (len,): (u64,)| {
        Box::new(async move {
            let request = StepRequest::RandomBytes { len };
            Ok((random::take_bytes(store.data_mut().steps_mut(), request).await?,))
        })
    })?;
    secure.func_wrap_async("get-random-u64", |mut store: Ctx<'_>, (): ()| {
        Box::new(async move {
            let request = StepRequest::RandomU64;
            Ok((random::take_number(store.data_mut().steps_mut(), request).await?,))
        })
    })?;

    let mut insecure = linker.instance(&format!("wasi:random/insecure@{WASI_VERSION}"))?;
    insecure.func_wrap_async(
        "get-insecure-random-bytes",
        |mut store: Ctx<'_>, (len,): (u64,)| {
            Box::new(async move {
                let request = StepRequest::InsecureRandomBytes { len };
                Ok((random::take_bytes(store.data_mut().steps_mut(), request).await?,))
            })
        },
    )?;
    insecure.func_wrap_async("get-insecure-random-u64", |mut store: Ctx<'_>, (): ()| {
        Box::new(async move {
            let request = StepRequest::InsecureRandomU64;
            Ok((random::take_number(store.data_mut().steps_mut(), request).await?,))
        })
    })?;

    let mut seed = linker.instance(&format!("wasi:random/insecure-seed@{WASI_VERSION}"))?;
    seed.func_wrap_async("insecure-seed", |mut store: Ctx<'_>, (): ()| {
        Box::new(async move { Ok((random::take_seed(store.data_mut().steps_mut()).await?,)) })
    })?;

    linker.allow_shadowing(false);
    Ok(())
}

/// `ns` since the Unix epoch in whole ms, rounded up so a sleep never ends early.
fn ns_to_ms(ns: u64) -> u64 {
    ns.div_ceil(1_000_000)
}

/// A pollable that is always ready: the wait it stands for is over when it is handed out.
struct Ready;

impl Pollable for Ready {
    fn ready<'a, 'b>(&'a mut self) -> Pin<Box<dyn Future<Output = ()> + Send + 'b>>
    where
        'a: 'b,
        Self: 'b,
    {
        Box::pin(std::future::ready(()))
    }
}

fn ready(ctx: &mut InvocationCtx) -> wasmtime::Result<Resource<DynPollable>> {
    let table = ctx.ctx().table;
    let resource = table.push(Ready)?;
    wasmtime_wasi::p2::subscribe(table, resource)
}
