//! `weir connect`: run a YAML pipeline, or a Connect worker that takes connectors over
//! Kafka Connect's REST API. Both talk to the cluster through librdkafka, so they work
//! against Weir or any Kafka cluster.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use weir_connect::config::pipeline::load_pipeline;
use weir_connect::config::ConfigMap;
use weir_connect::herder::Herder;
use weir_connect::runtime::{Runtime, RuntimeSettings};
use weir_connect::worker::{Worker, WorkerSettings};
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
        /// Serve the REST API and `/metrics` on this address.
        #[arg(long, default_value = "127.0.0.1:8083", env = "WEIR_CONNECT_LISTEN")]
        listen: String,
        /// Workers with the same group id share connectors and tasks.
        #[arg(long, default_value = "weir-connect", env = "WEIR_CONNECT_GROUP")]
        group_id: String,
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
            let runtime = start_runtime(&args.client, &worker_id, plugins).await?;
            tracing::info!(pipeline = %pipeline.name, connectors = configs.len(), "running pipeline");
            let shutdown = CancellationToken::new();
            let worker = Worker::standalone(runtime, configs, shutdown.clone())
                .await
                .map_err(|err| {
                    anyhow::anyhow!("cannot start pipeline {}: {}", pipeline.name, err.chain())
                })?;
            serve_until_signal(worker, listener, shutdown).await
        }
        ConnectCommand::Worker { listen, group_id } => {
            let listener = bind(Some(&listen)).await?;
            let worker_id = worker_id(listener.as_ref(), "worker");
            let runtime = start_runtime(&args.client, &worker_id, plugins).await?;
            let shutdown = CancellationToken::new();
            let settings = WorkerSettings {
                group_id,
                ..WorkerSettings::default()
            };
            let worker = Worker::distributed(runtime, settings, shutdown.clone())
                .await
                .map_err(|err| {
                    anyhow::anyhow!("cannot start the Connect worker: {}", err.chain())
                })?;
            serve_until_signal(worker, listener, shutdown).await
        }
    }
}

/// The runtime every connector of this process shares: the cluster from `-b`, and
/// `-X` settings for every librdkafka client.
async fn start_runtime(
    client: &ClientArgs,
    worker_id: &str,
    plugins: Plugins,
) -> anyhow::Result<Runtime> {
    let mut settings = RuntimeSettings::new(&client.bootstrap_server, worker_id);
    settings.client_config = client.config.iter().cloned().collect::<ConfigMap>();
    Runtime::start(settings, plugins)
        .await
        .map_err(|err| anyhow::anyhow!("{}", err.chain()))
        .with_context(|| {
            format!(
                "cannot start the Connect runtime against {}",
                client.bootstrap_server
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
