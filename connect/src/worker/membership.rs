//! Membership of the worker group and the slots it holds (see [`super::slots`]).
//!
//! A consumer in the worker group subscribed to the slots topic, polled on a blocking
//! thread: polling is the worker's liveness (a worker that stops polling loses its
//! slots), and librdkafka calls the rebalance callbacks from `poll`. The group uses
//! the cooperative protocol (`cooperative-sticky`, KIP-429 as Kafka Connect's KIP-415
//! uses it): a rebalance takes away only the slots that move, in a first round, and
//! hands them to their new owners in a second; the revoke callback blocks until the
//! controller has stopped the tasks of those slots. So a task's new owner starts it
//! only after the old owner stopped it, unless the old owner died, in which case the
//! group waits for its session timeout first; tasks in slots that stay never stop.
//!
//! With each assignment comes the group's live members (their worker ids, from the
//! members' client ids): the controller holds back slots whose tasks were last run by
//! a worker that is no longer a member, for `scheduled.rebalance.max.delay.ms`
//! (KIP-415), so a worker that restarts or comes back from a short outage does not
//! cost the cluster a round of task moves.

use std::collections::BTreeSet;
use std::time::Duration;

use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::TopicPartitionList;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::runtime::RuntimeSettings;
use crate::ConnectError;

use crate::kafka::{client_config, cluster_error};

/// A change of the slots this worker holds.
#[derive(Debug)]
pub(crate) enum MembershipEvent {
    /// The group gave this worker these slots, in addition to those it holds, with
    /// the worker ids of the group's members (`None` when they could not be read).
    Assigned(BTreeSet<i32>, Option<BTreeSet<String>>),
    /// These slots are being taken away; send on `done` once their tasks stopped.
    Revoked(BTreeSet<i32>, oneshot::Sender<()>),
}

struct SlotsContext {
    events: mpsc::UnboundedSender<MembershipEvent>,
    group_id: String,
}

/// How long an assignment waits for the group's member list.
const MEMBERS_TIMEOUT: Duration = Duration::from_secs(5);

/// A worker's client id in the group: the group id, then its worker id.
fn member_client_id(group_id: &str, worker_id: &str) -> String {
    format!("{group_id}-{worker_id}")
}

impl SlotsContext {
    /// The worker ids of the group's members, as the coordinator lists them.
    fn members(&self, consumer: &BaseConsumer<Self>) -> Option<BTreeSet<String>> {
        let groups = consumer
            .fetch_group_list(Some(&self.group_id), MEMBERS_TIMEOUT)
            .map_err(|err| tracing::warn!(error = %err, "cannot list the worker group's members; slots of departed workers are taken over at once"))
            .ok()?;
        let prefix = member_client_id(&self.group_id, "");
        let group = groups.groups().iter().find(|g| g.name() == self.group_id)?;
        Some(
            group
                .members()
                .iter()
                .filter_map(|m| m.client_id().strip_prefix(&prefix).map(str::to_string))
                .collect(),
        )
    }
}

impl ClientContext for SlotsContext {}

impl ConsumerContext for SlotsContext {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(partitions) = rebalance {
            let (done, stopped) = oneshot::channel();
            let event = MembershipEvent::Revoked(slots(partitions), done);
            // Once the controller is gone (shutdown), there is nothing to wait for.
            if self.events.send(event).is_ok() {
                let _ = stopped.blocking_recv();
            }
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(partitions) => {
                let assigned = slots(partitions);
                // An empty assignment needs no member list (every rebalance ends in one).
                let members = (!assigned.is_empty())
                    .then(|| self.members(consumer))
                    .flatten();
                let _ = self
                    .events
                    .send(MembershipEvent::Assigned(assigned, members));
            }
            Rebalance::Revoke(_) => {}
            Rebalance::Error(err) => {
                tracing::warn!(error = %err, "worker group rebalance failed");
            }
        }
    }
}

fn slots(partitions: &TopicPartitionList) -> BTreeSet<i32> {
    partitions
        .elements()
        .iter()
        .map(|e| e.partition())
        .collect()
}

/// The worker's group member, ready to be polled by [`Membership::run`].
pub(crate) struct Membership {
    consumer: BaseConsumer<SlotsContext>,
}

impl std::fmt::Debug for Membership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Membership").finish_non_exhaustive()
    }
}

impl Membership {
    /// Joins `group_id` through the slots topic; events arrive on the returned
    /// channel once [`Membership::run`] polls.
    pub(crate) fn join(
        settings: &RuntimeSettings,
        group_id: &str,
        slots_topic: &str,
        session_timeout: Duration,
    ) -> Result<(Membership, mpsc::UnboundedReceiver<MembershipEvent>), ConnectError> {
        let (events, receiver) = mpsc::unbounded_channel();
        let session_ms = session_timeout.as_millis().max(1000);
        let consumer: BaseConsumer<SlotsContext> = client_config(settings)
            .set("group.id", group_id)
            .set("client.id", member_client_id(group_id, &settings.worker_id))
            // Incremental cooperative rebalancing: a joining or leaving worker moves only
            // the slots that must move, and the tasks in every other slot keep running.
            .set("partition.assignment.strategy", "cooperative-sticky")
            .set("session.timeout.ms", session_ms.to_string())
            .set("heartbeat.interval.ms", (session_ms / 3).to_string())
            .set("enable.auto.commit", "false")
            .create_with_context(SlotsContext {
                events,
                group_id: group_id.to_string(),
            })
            .map_err(|e| {
                cluster_error(&format!("cannot join worker group {group_id}"), settings, e)
            })?;
        consumer.subscribe(&[slots_topic]).map_err(|e| {
            cluster_error(&format!("cannot join worker group {group_id}"), settings, e)
        })?;
        Ok((Membership { consumer }, receiver))
    }

    /// Polls until `leave` fires, then leaves the group (on a blocking thread: the
    /// revoke callback blocks while tasks stop).
    pub(crate) fn run(self, leave: CancellationToken) {
        while !leave.is_cancelled() {
            // Nothing writes to the slots topic; a record there would mean nothing.
            if let Some(Err(err)) = self.consumer.poll(Duration::from_millis(200)) {
                tracing::warn!(error = %err, "worker group member poll failed");
            }
        }
        // Dropping the consumer closes it: it leaves the group, so the slots move at
        // once instead of after the session timeout.
        drop(self.consumer);
    }
}
