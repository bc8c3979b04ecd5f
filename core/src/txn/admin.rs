//! ListTransactions and DescribeTransactions: the coordinator's view for operators
//! (`weir transactions list|describe`, Kafka's kafka-transactions.sh).

use super::state::TxnState;
use super::TransactionCoordinator;

/// One transactional id as ListTransactions reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedTxn {
    pub transactional_id: String,
    pub producer_id: i64,
    pub state: TxnState,
    /// How long the open transaction has been running, -1 when none is open.
    pub duration_ms: i64,
}

/// One transactional id in full, as DescribeTransactions reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribedTxn {
    pub transactional_id: String,
    pub state: TxnState,
    pub timeout_ms: i32,
    pub start_ms: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub partitions: Vec<(String, i32)>,
}

impl TransactionCoordinator {
    /// Every known transactional id, sorted, with how long its transaction has run.
    pub async fn list_transactions(&self) -> Vec<ListedTxn> {
        let now_ms = crate::partition::now_ms();
        let mut listed = Vec::new();
        for slot in self.all_slots() {
            let guard = slot.lock().await;
            if let Some(meta) = guard.as_ref() {
                listed.push(ListedTxn {
                    transactional_id: meta.transactional_id.clone(),
                    producer_id: meta.producer_id,
                    state: meta.state,
                    duration_ms: if meta.start_ms >= 0 {
                        now_ms.saturating_sub(meta.start_ms)
                    } else {
                        -1
                    },
                });
            }
        }
        listed.sort_by(|a, b| a.transactional_id.cmp(&b.transactional_id));
        listed
    }

    /// The state of one transactional id, `None` if it is not known.
    pub async fn describe_transaction(&self, transactional_id: &str) -> Option<DescribedTxn> {
        let slot = self.existing_slot(transactional_id)?;
        let guard = slot.lock().await;
        let meta = guard.as_ref()?;
        Some(DescribedTxn {
            transactional_id: meta.transactional_id.clone(),
            state: meta.state,
            timeout_ms: meta.timeout_ms,
            start_ms: meta.start_ms,
            producer_id: meta.producer_id,
            producer_epoch: meta.producer_epoch,
            partitions: meta.partitions.iter().cloned().collect(),
        })
    }
}
