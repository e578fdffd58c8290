//! The `reprise` binary: the host (`serve`) and the client commands.

fn main() -> std::process::ExitCode {
    limit_heap_arenas();
    reprise::cli::main()
}

/// Caps glibc's heap arenas at two (one per core of a small machine). By default glibc gives
/// every thread that allocates its own arena, up to eight per core, and the host's resident
/// memory grew with the invocations it had run as each arena kept its own free memory.
fn limit_heap_arenas() {
    // SAFETY: `mallopt` only changes allocator settings; it runs before any other thread
    // exists, so no allocation races with it.
    #[allow(unsafe_code)]
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}
