//! `weir`: the broker and the client tools in one binary.
//!
//! This file only parses flags, sets up logging and dispatches; every command lives in
//! `cli/`. Errors are printed as one line (`error: what: why: root cause`) and exit 1.

use std::process::ExitCode;

use std::sync::Arc;

use clap::Parser;
use tracing_subscriber::EnvFilter;

mod cli;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The log filter unless `RUST_LOG` sets one.
const DEFAULT_LOG: &str = "info,librdkafka=off,rdkafka=off";

/// Lets a Connect worker's `/admin/loggers` change the levels of this process.
struct ReloadFilter<S>(tracing_subscriber::reload::Handle<EnvFilter, S>);

impl<S> std::fmt::Debug for ReloadFilter<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReloadFilter")
    }
}

impl<S: 'static> weir_connect::logging::LevelControl for ReloadFilter<S> {
    fn set_filter(&self, directives: &str) -> Result<(), String> {
        let filter = EnvFilter::try_new(directives).map_err(|err| err.to_string())?;
        self.0.reload(filter).map_err(|err| err.to_string())
    }
}

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // librdkafka logs every failed connection attempt; client commands report the
    // failure that matters as their one error line, so its logs are opt-in via RUST_LOG.
    let directives = std::env::var("RUST_LOG")
        .ok()
        .filter(|d| EnvFilter::try_new(d).is_ok())
        .unwrap_or_else(|| DEFAULT_LOG.to_string());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(&directives))
        .with_writer(std::io::stderr)
        // Colour codes only for a terminal; logs piped to files stay plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_filter_reloading();
    let reload = builder.reload_handle();
    builder.init();
    weir_connect::logging::install(&directives, Arc::new(ReloadFilter(reload)));
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", cli::error_chain(&err));
            ExitCode::FAILURE
        }
    }
}
