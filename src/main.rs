//! `weir`: the broker and the client tools in one binary.
//!
//! This file only parses flags, sets up logging and dispatches; every command lives in
//! `cli/`. Errors are printed as one line (`error: what: why: root cause`) and exit 1.

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

mod cli;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // librdkafka logs every failed connection attempt; client commands report the
    // failure that matters as their one error line, so its logs are opt-in via RUST_LOG.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,librdkafka=off,rdkafka=off"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a terminal; logs piped to files stay plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", cli::error_chain(&err));
            ExitCode::FAILURE
        }
    }
}
