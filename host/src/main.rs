//! The `reprise` binary: the host (`serve`) and the client commands.

fn main() -> std::process::ExitCode {
    reprise::cli::main()
}
