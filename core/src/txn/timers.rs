//! The coordinator's timer task: aborts transactions that outlive
//! `transaction.timeout.ms` (bumping the epoch, so the producer is fenced rather than
//! silently continuing into a transaction that is gone), retries markers of decided
//! transactions, and forgets idle transactional ids after
//! `transactional.id.expiration.ms`.

use tokio_util::sync::CancellationToken;

use super::state::TxnState;
use super::TransactionCoordinator;

pub(super) async fn run(coordinator: TransactionCoordinator, shutdown: CancellationToken) {
    let config = coordinator.inner.config.clone();
    let mut abort = tokio::time::interval(config.abort_timed_out_interval);
    let mut expire = tokio::time::interval(config.remove_expired_interval);
    abort.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    expire.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = abort.tick() => {
                coordinator.abort_timed_out().await;
                coordinator.finish_decided().await;
            }
            _ = expire.tick() => {
                coordinator.remove_expired().await;
            }
        }
    }
}

impl TransactionCoordinator {
    /// Aborts every open transaction past its timeout. Returns how many.
    pub(crate) async fn abort_timed_out(&self) -> usize {
        let now_ms = crate::partition::now_ms();
        let mut aborted = 0;
        for slot in self.all_slots() {
            // An id busy with a request is not idle; look again next time.
            let Ok(mut guard) = slot.try_lock() else {
                continue;
            };
            let Some(meta) = guard.as_mut() else { continue };
            if !meta.timed_out(now_ms) {
                continue;
            }
            tracing::info!(
                transactional_id = %meta.transactional_id,
                producer_id = meta.producer_id,
                timeout_ms = meta.timeout_ms,
                "aborting a transaction past transaction.timeout.ms"
            );
            let before = meta.clone();
            if self.bump_epoch(meta).is_err() {
                *meta = before;
                continue;
            }
            if self.decide(meta, false).await.is_err() {
                *meta = before;
                continue;
            }
            aborted += 1;
        }
        aborted
    }

    /// Forgets transactional ids idle past `transactional.id.expiration.ms`, writing
    /// their tombstones.
    pub(crate) async fn remove_expired(&self) -> usize {
        let now_ms = crate::partition::now_ms();
        let expiration = self.inner.config.transactional_id_expiration_ms;
        let mut removed = 0;
        let slots: Vec<(String, super::Slot)> = {
            let txns = self.inner.txns.lock().unwrap_or_else(|e| e.into_inner());
            txns.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
        };
        for (id, slot) in slots {
            let Ok(mut guard) = slot.try_lock() else {
                continue;
            };
            let expired = guard.as_ref().is_some_and(|meta| {
                meta.state.is_idle() && now_ms.saturating_sub(meta.last_update_ms) >= expiration
            });
            if !expired {
                continue;
            }
            if self.inner.log.write(&id, None, now_ms).await.is_err() {
                continue;
            }
            if let Some(meta) = guard.as_mut() {
                meta.state = TxnState::Dead;
            }
            *guard = None;
            removed += 1;
            tracing::info!(transactional_id = %id, "expired an idle transactional id");
        }
        removed
    }
}
