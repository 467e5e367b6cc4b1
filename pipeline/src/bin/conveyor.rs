//! The `conveyor` binary: parses the command line, sets up logging and the async runtime,
//! and hands over to [`pipeline::cli::run`]; everything else lives in the library.

use std::process::ExitCode;

use clap::Parser;
use pipeline::cli::{Cli, exit};

/// mimalloc rather than the system allocator: ingest and the query engine allocate from
/// many threads, where glibc's per-thread arenas keep freed memory and grew peak RSS.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc.h (v2): how long freed memory stays with the process
/// before it is returned to the OS. libmimalloc-sys names no constant for it.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> ExitCode {
    // Returned after 1 s instead of 10 ms: the marts' customer pass and the Parquet readers
    // free and allocate large buffers all the time, and memory returned at once had to be
    // faulted in and zeroed again by the kernel (a third of the pass's samples under perf).
    // Measured at 10.4M orders: the eight core marts in 9.8–11.0 s instead of 11.1–13.0 s,
    // the same peak RSS (BENCHMARKS.md). A MIMALLOC_PURGE_DELAY in the environment wins.
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets one of mimalloc's global options, a plain integer store, before any
        // other thread exists.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 1000) };
    }
    let cli = Cli::parse();
    pipeline::cli::init_logging(&cli.log, cli.log_json);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::FAILED);
        }
    };
    match runtime.block_on(pipeline::cli::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit::of_error(&e))
        }
    }
}
