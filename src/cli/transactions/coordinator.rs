//! What the transaction coordinators know: ListTransactions on every broker and
//! DescribeTransactions at each transactional id's coordinator.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::bail;
use weir_core::protocol::messages::describe_transactions_response::TransactionState;
use weir_core::protocol::messages::list_transactions_response::TransactionState as Listed;
use weir_core::protocol::messages::{DescribeTransactionsRequest, ListTransactionsRequest};
use weir_core::protocol::{ApiKey, ErrorCode};

use crate::cli::wire::{kafka_error, Cluster};

/// What ListTransactions is asked to keep; empty filters keep everything.
#[derive(Debug, Clone, Default)]
pub(super) struct ListFilters {
    pub(super) states: Vec<String>,
    pub(super) producer_ids: Vec<i64>,
    /// Only transactions running longer than this many milliseconds (KIP-994).
    pub(super) min_duration_ms: Option<i64>,
}

/// ListTransactions on every broker: each broker's coordinator answers for the
/// transactional ids it owns. Returns `(coordinator id, listing)` pairs, by broker.
pub(super) async fn list_transactions(
    cluster: &mut Cluster,
    filters: &ListFilters,
) -> anyhow::Result<Vec<(i32, Listed)>> {
    let mut listed = Vec::new();
    for broker in cluster.broker_ids() {
        let connection = cluster.broker(broker).await?;
        let version = connection.version(ApiKey::ListTransactions)?;
        if filters.min_duration_ms.is_some() && version < 1 {
            bail!(
                "broker {broker} ({}) serves ListTransactions v0 only, which cannot filter by \
                 duration (v1, Kafka 3.8 or later); leave out --duration-filter",
                connection.addr()
            );
        }
        let request = ListTransactionsRequest {
            state_filters: filters.states.clone(),
            producer_id_filters: filters.producer_ids.clone(),
            duration_filter: filters.min_duration_ms.unwrap_or(-1),
            ..Default::default()
        };
        let response = connection.send_at(&request, version).await?;
        if response.error_code != 0 {
            bail!(
                "cannot list transactions on broker {broker}: {}",
                kafka_error(response.error_code, None)
            );
        }
        for unknown in &response.unknown_state_filters {
            eprintln!("warning: broker {broker} does not know the transaction state {unknown:?}");
        }
        let mut states = response.transaction_states;
        states.sort_by(|a, b| a.transactional_id.cmp(&b.transactional_id));
        listed.extend(states.into_iter().map(|state| (broker, state)));
    }
    Ok(listed)
}

/// DescribeTransactions for each id at its coordinator: `(coordinator id, state)`,
/// or `None` for an id the coordinator does not know (TRANSACTIONAL_ID_NOT_FOUND).
/// A coordinator that has moved or is loading is looked up and asked again.
pub(super) async fn describe_transactions(
    cluster: &mut Cluster,
    transactional_ids: &[String],
) -> anyhow::Result<BTreeMap<String, Option<(i32, TransactionState)>>> {
    const ATTEMPTS: usize = 10;
    let mut described = BTreeMap::new();
    for id in transactional_ids {
        let mut attempt = 0;
        let answer = loop {
            attempt += 1;
            let (coordinator, connection) = cluster.coordinator(id).await?;
            let request = DescribeTransactionsRequest {
                transactional_ids: vec![id.clone()],
                ..Default::default()
            };
            let response = connection.send(&request).await?;
            let Some(state) = response
                .transaction_states
                .into_iter()
                .find(|s| s.transactional_id == *id)
            else {
                bail!("coordinator {coordinator} did not answer for transactional id {id:?}");
            };
            let code = ErrorCode::from_i16(state.error_code);
            match code {
                Some(ErrorCode::None) => break Some((coordinator, state)),
                Some(ErrorCode::TransactionalIdNotFound) => break None,
                Some(
                    ErrorCode::NotCoordinator
                    | ErrorCode::CoordinatorNotAvailable
                    | ErrorCode::CoordinatorLoadInProgress,
                ) if attempt < ATTEMPTS => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                _ => bail!(
                    "cannot describe transactional id {id:?} at coordinator {coordinator}: {}",
                    kafka_error(state.error_code, None)
                ),
            }
        };
        described.insert(id.clone(), answer);
    }
    Ok(described)
}
