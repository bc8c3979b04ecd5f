//! `weir connect`: run a YAML pipeline, or a Connect worker that takes connectors over
//! Kafka Connect's REST API. Both talk to the cluster through librdkafka, so they work
//! against Weir or any Kafka cluster.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use weir_connect::config::pipeline::load_pipeline;
use weir_connect::config::{parse_properties, ConfigMap};
use weir_connect::herder::Herder;
use weir_connect::runtime::{Runtime, RuntimeSettings};
use weir_connect::worker::{Worker, WorkerConfig};
use weir_connect::Plugins;

use super::broker::wait_for_signal;
use super::client::ClientArgs;

#[derive(Debug, clap::Args)]
pub(crate) struct ConnectArgs {
    #[command(subcommand)]
    command: ConnectCommand,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(Debug, clap::Subcommand)]
enum ConnectCommand {
    /// Run the connectors of one YAML pipeline until interrupted.
    Run {
        /// The pipeline file.
        pipeline: PathBuf,
        /// Serve the REST API and `/metrics` on this address, e.g. 127.0.0.1:8083.
        #[arg(long)]
        listen: Option<String>,
    },
    /// Check a YAML pipeline and print its connector configs, without running it.
    Validate { pipeline: PathBuf },
    /// Run a distributed worker: connectors created over the REST API are stored in
    /// the cluster, and workers in the same group share their tasks.
    Worker {
        /// A worker properties file with Kafka Connect's worker keys (group.id, the
        /// storage topics, listeners, converters, producer.*/consumer.*, ...).
        #[arg(long = "config", id = "worker_config", value_name = "FILE")]
        properties: Option<PathBuf>,
        /// Serve the REST API and `/metrics` on this address (overrides `listeners`;
        /// 127.0.0.1:8083 when neither is given).
        #[arg(long, env = "WEIR_CONNECT_LISTEN")]
        listen: Option<String>,
        /// Workers with the same group id share connectors and tasks (overrides
        /// `group.id`; the storage topics not named in the file follow it).
        #[arg(long, env = "WEIR_CONNECT_GROUP")]
        group_id: Option<String>,
        /// Any worker setting by its Kafka Connect name, over the properties file,
        /// e.g. `--set scheduled.rebalance.max.delay.ms=0`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
    },
}

pub(crate) async fn run(args: ConnectArgs) -> anyhow::Result<()> {
    let plugins = weir_connectors::plugins();
    match args.command {
        ConnectCommand::Validate { pipeline } => {
            let (pipeline, configs) =
                load_pipeline(&pipeline, &plugins).map_err(|err| anyhow::anyhow!("{err}"))?;
            println!("pipeline {} is valid", pipeline.name);
            for config in configs {
                println!(
                    "connector {} ({}, {} task(s) at most)",
                    config.name, config.connector_type, config.tasks_max
                );
                for (key, value) in weir_connect::config::mask_secrets(&plugins, &config.raw) {
                    println!("  {key} = {value}");
                }
            }
            Ok(())
        }
        ConnectCommand::Run { pipeline, listen } => {
            let (pipeline, configs) =
                load_pipeline(&pipeline, &plugins).map_err(|err| anyhow::anyhow!("{err}"))?;
            let listener = bind(listen.as_deref()).await?;
            let worker_id = worker_id(listener.as_ref(), "standalone");
            let runtime = start_runtime(&args.client, &worker_id, plugins, None).await?;
            tracing::info!(pipeline = %pipeline.name, connectors = configs.len(), "running pipeline");
            let shutdown = CancellationToken::new();
            let worker = Worker::standalone(runtime, configs, shutdown.clone())
                .await
                .map_err(|err| {
                    anyhow::anyhow!("cannot start pipeline {}: {}", pipeline.name, err.chain())
                })?;
            serve_until_signal(worker, listener, shutdown).await
        }
        ConnectCommand::Worker {
            properties,
            listen,
            group_id,
            set,
        } => {
            let config = worker_config(properties.as_deref(), &set, group_id)?;
            let listen = listen
                .or_else(|| config.listen.clone())
                .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
            let listener = bind(Some(&listen)).await?;
            let worker_id = advertised_id(&config, listener.as_ref());
            let mut client = args.client.clone();
            if client.bootstrap_server.is_none() {
                client.bootstrap_server = config.bootstrap_servers.clone();
            }
            let runtime = start_runtime(&client, &worker_id, plugins, Some(&config)).await?;
            let shutdown = CancellationToken::new();
            let worker = Worker::distributed(runtime, config.worker.clone(), shutdown.clone())
                .await
                .map_err(|err| {
                    anyhow::anyhow!("cannot start the Connect worker: {}", err.chain())
                })?;
            serve_until_signal(worker, listener, shutdown).await
        }
    }
}

/// Where a worker serves its REST API when neither `--listen` nor `listeners` says.
const DEFAULT_LISTEN: &str = "127.0.0.1:8083";

/// The worker's properties file (if any), with the `--set` settings and then
/// `--group-id` over it.
fn worker_config(
    path: Option<&Path>,
    set: &[String],
    group_id: Option<String>,
) -> anyhow::Result<WorkerConfig> {
    let mut props = match path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read worker config {}", path.display()))?;
            parse_properties(&text).map_err(|err| anyhow::anyhow!("{}: {err}", path.display()))?
        }
        None => ConfigMap::new(),
    };
    for setting in set {
        let (key, value) = setting
            .split_once('=')
            .with_context(|| format!("--set expects KEY=VALUE, found '{setting}'"))?;
        props.insert(key.trim().to_string(), value.trim().to_string());
    }
    if let Some(group_id) = group_id {
        props.insert("group.id".to_string(), group_id);
    }
    let config = WorkerConfig::parse(&props).map_err(|issues| {
        let source = path.map_or("the worker settings".to_string(), |p| {
            p.display().to_string()
        });
        let lines: Vec<String> = issues.iter().map(|i| format!("  {i}")).collect();
        anyhow::anyhow!("{source} is invalid:\n{}", lines.join("\n"))
    })?;
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    Ok(config)
}

/// The id other workers and users know this worker by: its advertised `host:port`,
/// else the listener's address.
fn advertised_id(config: &WorkerConfig, listener: Option<&TcpListener>) -> String {
    let bound = listener.and_then(|l| l.local_addr().ok());
    match (&config.advertised_host, config.advertised_port, bound) {
        (None, None, _) => worker_id(listener, "worker"),
        (host, port, bound) => {
            let host = host
                .clone()
                .or_else(|| bound.map(|a| a.ip().to_string()))
                .unwrap_or_else(|| "localhost".to_string());
            let port = port.or_else(|| bound.map(|a| a.port())).unwrap_or(8083);
            format!("{host}:{port}")
        }
    }
}

/// The runtime every connector of this process shares: the cluster from `-b`, and
/// `-X` settings for every librdkafka client.
async fn start_runtime(
    client: &ClientArgs,
    worker_id: &str,
    plugins: Plugins,
    worker: Option<&WorkerConfig>,
) -> anyhow::Result<Runtime> {
    let mut settings = RuntimeSettings::new(client.bootstrap(), worker_id);
    settings.client_config = client.config.iter().cloned().collect::<ConfigMap>();
    if let Some(worker) = worker {
        worker.apply(&mut settings);
    }
    Runtime::start(settings, plugins)
        .await
        .map_err(|err| anyhow::anyhow!("{}", err.chain()))
        .with_context(|| {
            format!(
                "cannot start the Connect runtime against {}",
                client.bootstrap()
            )
        })
}

async fn bind(listen: Option<&str>) -> anyhow::Result<Option<TcpListener>> {
    let Some(listen) = listen else {
        return Ok(None);
    };
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (is another worker running there? pick another with --listen)"))?;
    Ok(Some(listener))
}

fn worker_id(listener: Option<&TcpListener>, fallback: &str) -> String {
    match listener.and_then(|l| l.local_addr().ok()) {
        Some(address) => address.to_string(),
        None => format!("{fallback}-{}", std::process::id()),
    }
}

/// Serves the REST API (if listening) until SIGTERM or Ctrl-C, then stops every task:
/// sources store the positions of what the log acknowledged, sinks commit what was
/// written.
async fn serve_until_signal(
    worker: Arc<Worker>,
    listener: Option<TcpListener>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut tasks = JoinSet::new();
    if let Some(listener) = listener {
        let address = listener
            .local_addr()
            .context("cannot read the REST listener's address")?;
        tracing::info!("weir connect listening on {address}");
        let herder: Arc<dyn Herder> = worker.clone();
        tasks.spawn(weir_connect::rest::serve(
            listener,
            herder,
            shutdown.clone(),
        ));
    }
    tokio::select! {
        () = wait_for_signal() => {}
        () = shutdown.cancelled() => {}
    }
    shutdown.cancel();
    // Tasks get a bounded time to settle; a task stuck on an unreachable cluster must
    // not keep the process alive forever.
    if tokio::time::timeout(Duration::from_secs(30), worker.join())
        .await
        .is_err()
    {
        tracing::warn!("tasks did not stop within 30 s; exiting anyway");
    }
    while let Some(result) = tasks.join_next().await {
        if let Ok(Err(err)) = result {
            tracing::warn!(%err, "the REST server stopped with an error");
        }
    }
    Ok(())
}
