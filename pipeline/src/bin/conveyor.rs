//! The `conveyor` binary: parses the command line, sets up logging and the async runtime,
//! and hands over to [`pipeline::cli::run`]; everything else lives in the library.

use std::process::ExitCode;

use clap::Parser;
use pipeline::cli::{Cli, exit};

/// mimalloc rather than the system allocator: ingest and the query engine allocate from
/// many threads, where glibc's per-thread arenas keep freed memory and grew peak RSS.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
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
