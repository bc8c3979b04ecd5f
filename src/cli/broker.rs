//! `weir broker`: run a broker. Settings come, lowest precedence first, from the
//! embedded defaults (`config/broker.properties`), a config file, and the command line.

use std::path::PathBuf;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use weir_core::broker::{self, parse_host_port, BrokerConfig};

/// The embedded default configuration: a broker that runs out of the box.
pub(crate) const DEFAULT_CONFIG: &str = include_str!("../../config/broker.properties");

#[derive(Debug, clap::Args)]
pub(crate) struct BrokerArgs {
    /// A properties file (Kafka's `key=value` format) overriding the embedded defaults.
    #[arg(long, env = "WEIR_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where partitions and metadata are stored (`log.dirs`).
    #[arg(long, env = "WEIR_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Address to listen on, `host:port`; port 0 picks a free port.
    #[arg(long, env = "WEIR_LISTEN", value_name = "HOST:PORT")]
    listen: Option<String>,
    /// Address clients are told to connect to, when it differs from the bound one.
    #[arg(long, env = "WEIR_ADVERTISED_LISTENER", value_name = "HOST:PORT")]
    advertised_listener: Option<String>,
    /// This broker's `node.id`.
    #[arg(long, env = "WEIR_NODE_ID")]
    node_id: Option<i32>,
    /// Any broker setting by its Kafka name, e.g. `--set log.retention.hours=24`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Print the embedded default configuration and exit.
    #[arg(long)]
    print_default_config: bool,
}

pub(crate) async fn run(args: BrokerArgs) -> anyhow::Result<()> {
    if args.print_default_config {
        print!("{DEFAULT_CONFIG}");
        return Ok(());
    }
    let (config, listen) = resolve(&args)?;
    let listener = TcpListener::bind(&listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (is another broker running there? pick another with --listen)"))?;

    let shutdown = CancellationToken::new();
    let broker = async {
        let result = broker::run(listener, config, shutdown.clone()).await;
        shutdown.cancel();
        result
    };
    let signals = async {
        tokio::select! {
            () = wait_for_signal() => shutdown.cancel(),
            () = shutdown.cancelled() => {}
        }
    };
    let (result, ()) = tokio::join!(broker, signals);
    result.context("the broker stopped with an error")
}

/// Layers the embedded defaults, the config file and the flags into one config.
fn resolve(args: &BrokerArgs) -> anyhow::Result<(BrokerConfig, String)> {
    let mut config = BrokerConfig::new("./data");
    let mut listen = String::from("0.0.0.0:9092");
    apply_properties(
        &mut config,
        &mut listen,
        DEFAULT_CONFIG,
        "the embedded defaults",
    )?;
    if let Some(path) = &args.config {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        apply_properties(&mut config, &mut listen, &text, &path.display().to_string())?;
    }
    for setting in &args.set {
        apply_line(&mut config, &mut listen, setting)
            .with_context(|| format!("--set {setting}"))?;
    }
    if let Some(dir) = &args.data_dir {
        config.data_dir = dir.clone();
    }
    if let Some(address) = &args.listen {
        listen = address.clone();
    }
    if let Some(address) = &args.advertised_listener {
        config.advertised = Some(parse_host_port("--advertised-listener", address)?);
    }
    if let Some(node_id) = args.node_id {
        config.node_id = node_id;
    }
    Ok((config, listen))
}

fn apply_properties(
    config: &mut BrokerConfig,
    listen: &mut String,
    text: &str,
    origin: &str,
) -> anyhow::Result<()> {
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        apply_line(config, listen, line)
            .with_context(|| format!("{origin}, line {}", number + 1))?;
    }
    Ok(())
}

fn apply_line(config: &mut BrokerConfig, listen: &mut String, line: &str) -> anyhow::Result<()> {
    let (key, value) = line
        .split_once('=')
        .with_context(|| format!("expected key=value, found '{line}'"))?;
    let (key, value) = (key.trim(), value.trim());
    if key == "listeners" {
        let (host, port) = parse_host_port(key, value)?;
        *listen = format!("{host}:{port}");
        return Ok(());
    }
    config.set(key, value)?;
    Ok(())
}

pub(crate) async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = match signal(SignalKind::terminate()) {
        Ok(terminate) => terminate,
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGTERM; stop the broker with Ctrl-C");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = terminate.recv() => tracing::info!("SIGTERM received"),
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupt received"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        broker: BrokerArgs,
    }

    #[test]
    fn embedded_defaults_run_out_of_the_box() {
        let args = Cli::parse_from(["weir"]).broker;
        let (config, listen) = resolve(&args).unwrap();
        assert_eq!(listen, "0.0.0.0:9092");
        assert_eq!(config.data_dir, PathBuf::from("./data"));
        assert!(config.auto_create_topics);
    }

    #[test]
    fn flags_override_file_settings_and_bad_keys_name_their_origin() {
        let args = Cli::parse_from([
            "weir",
            "--set",
            "num.partitions=4",
            "--listen",
            "127.0.0.1:0",
        ])
        .broker;
        let (config, listen) = resolve(&args).unwrap();
        assert_eq!((config.num_partitions, listen.as_str()), (4, "127.0.0.1:0"));
        let args = Cli::parse_from(["weir", "--set", "num.partitons=4"]).broker;
        let err = format!("{:#}", resolve(&args).unwrap_err());
        assert!(
            err.contains("--set num.partitons=4") && err.contains("unknown"),
            "{err}"
        );
    }
}
