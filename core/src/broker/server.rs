//! The accept loop and the order in which a broker starts and stops.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::limits::ConnectionLimits;
use super::state::BrokerState;
use super::{connection, meta_properties, BrokerConfig, BrokerError};
use crate::group::GroupCoordinator;
use crate::metadata::{FileProducerIdBlocks, ProducerIdManager, RegistryOptions, TopicRegistry};
use crate::txn::TransactionCoordinator;

/// Runs a broker on `listener` until `shutdown` fires.
///
/// Startup opens and recovers every partition before the first connection is
/// accepted. Shutdown stops accepting, lets connections finish the request in hand,
/// then closes every partition (flushing its log) before returning.
pub async fn run(
    listener: TcpListener,
    config: BrokerConfig,
    shutdown: CancellationToken,
) -> Result<(), BrokerError> {
    let local = listener.local_addr().map_err(|source| BrokerError::Io {
        context: "reading the listener's address".into(),
        source,
    })?;
    std::fs::create_dir_all(&config.data_dir).map_err(|source| BrokerError::Io {
        context: format!("creating data directory {}", config.data_dir.display()),
        source,
    })?;
    let cluster_id = meta_properties::load_or_create(&config.data_dir, config.node_id)?;

    let partition_tasks = TaskTracker::new();
    let partitions_shutdown = CancellationToken::new();
    let loading = std::time::Instant::now();
    let topics = TopicRegistry::open(
        RegistryOptions {
            data_dir: config.data_dir.clone(),
            defaults: config.topic_defaults.clone(),
            maintenance_interval: config.retention_check_interval,
        },
        partition_tasks.clone(),
        partitions_shutdown.clone(),
    );
    let topics = match topics {
        Ok(topics) => Arc::new(topics),
        Err(error) => {
            stop_partitions(&partitions_shutdown, &partition_tasks).await;
            return Err(error.into());
        }
    };
    // The coordinator replays `__consumer_offsets` before the first connection, and
    // stops (answering parked joins) as soon as shutdown fires, so connections waiting
    // on a rebalance can finish.
    let group_tasks = TaskTracker::new();
    let groups = GroupCoordinator::start(
        config.group.clone(),
        topics.clone(),
        &group_tasks,
        shutdown.child_token(),
    )
    .await;
    let groups = match groups {
        Ok(groups) => groups,
        Err(error) => {
            group_tasks.close();
            group_tasks.wait().await;
            stop_partitions(&partitions_shutdown, &partition_tasks).await;
            return Err(error.into());
        }
    };
    // The transaction coordinator replays `__transaction_state` and finishes the
    // transactions decided before a crash (their markers reach the group coordinator
    // too) before the first connection.
    let txn_tasks = TaskTracker::new();
    let txns = start_transactions(
        &config,
        &topics,
        &groups,
        &txn_tasks,
        shutdown.child_token(),
    )
    .await;
    let txns = match txns {
        Ok(txns) => txns,
        Err(error) => {
            txn_tasks.close();
            txn_tasks.wait().await;
            group_tasks.close();
            group_tasks.wait().await;
            stop_partitions(&partitions_shutdown, &partition_tasks).await;
            return Err(error);
        }
    };
    tracing::info!(
        topics = topics.all().len(),
        elapsed_ms = loading.elapsed().as_millis() as u64,
        "loaded the partition logs"
    );
    let (advertised_host, advertised_port) = advertised(&config, local);
    let state = Arc::new(BrokerState {
        cluster_id,
        advertised_host,
        advertised_port: i32::from(advertised_port),
        topics,
        groups,
        txns,
        config,
    });
    tracing::info!(
        "weir broker {} listening on {local} (advertised as {}:{}), cluster id {}, data in {}",
        env!("CARGO_PKG_VERSION"),
        state.advertised_host,
        state.advertised_port,
        state.cluster_id,
        state.config.data_dir.display()
    );

    let connections = TaskTracker::new();
    let connections_shutdown = shutdown.child_token();
    let limits = ConnectionLimits::new(
        state.config.max_connections,
        state.config.max_connections_per_ip,
        state.config.max_connections_per_ip_overrides.clone(),
    );
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => match limits.acquire(peer.ip()) {
                    Ok(permit) => {
                        connections.spawn(connection::serve(
                            stream,
                            peer,
                            permit,
                            state.clone(),
                            connections_shutdown.clone(),
                        ));
                    }
                    // Closed at once, unread: Kafka's answer to a connection over a
                    // limit, and the cheapest one.
                    Err(refusal) => {
                        limits.warn_refused(peer.ip(), refusal);
                        drop(stream);
                    }
                },
                // Running out of file descriptors or a connection reset before accept
                // must not stop the broker; back off briefly and keep serving.
                Err(error) => {
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
        }
    }
    tracing::info!("shutting down: closing connections, then flushing partitions");
    drop(listener);
    connections.close();
    connections.wait().await;
    // Coordinator writes still in flight land before the partitions close.
    txn_tasks.close();
    txn_tasks.wait().await;
    group_tasks.close();
    group_tasks.wait().await;
    stop_partitions(&partitions_shutdown, &partition_tasks).await;
    tracing::info!("broker stopped");
    Ok(())
}

async fn start_transactions(
    config: &BrokerConfig,
    topics: &Arc<TopicRegistry>,
    groups: &GroupCoordinator,
    tasks: &TaskTracker,
    shutdown: CancellationToken,
) -> Result<TransactionCoordinator, BrokerError> {
    let blocks = FileProducerIdBlocks::open(&config.data_dir)?;
    let producer_ids = Arc::new(ProducerIdManager::new(Box::new(blocks)));
    Ok(TransactionCoordinator::start(
        config.txn.clone(),
        topics.clone(),
        groups.clone(),
        producer_ids,
        tasks,
        shutdown,
    )
    .await?)
}

async fn stop_partitions(shutdown: &CancellationToken, tasks: &TaskTracker) {
    shutdown.cancel();
    tasks.close();
    tasks.wait().await;
}

/// The address clients are told about: the configured one, else the bound address,
/// with a wildcard bind advertised as `localhost` so the quick start works locally.
fn advertised(config: &BrokerConfig, local: SocketAddr) -> (String, u16) {
    match &config.advertised {
        Some((host, port)) => {
            let port = if *port == 0 { local.port() } else { *port };
            (host.clone(), port)
        }
        None if local.ip().is_unspecified() => ("localhost".to_owned(), local.port()),
        None => (local.ip().to_string(), local.port()),
    }
}
