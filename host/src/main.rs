//! The `reprise` binary: the host (`serve`) and the client commands.

/// The host allocates and frees on every step and invocation from several threads; jemalloc
/// does that with less locking than glibc's allocator (see `MALLOC_CONF` for its settings).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's settings: two arenas (one per core of a small machine; more kept more free
/// memory resident), and freed pages returned to the system by a background thread after
/// about a second, so resident memory follows what is live.
// SAFETY: jemalloc reads this NUL-terminated string when it starts; nothing writes it.
#[allow(unsafe_code)]
#[unsafe(export_name = "_rjem_malloc_conf")]
static MALLOC_CONF: &[u8] =
    b"narenas:2,background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

fn main() -> std::process::ExitCode {
    reprise::cli::main()
}
