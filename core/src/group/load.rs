//! Rebuilding groups from a replay of `__consumer_offsets`: the last value of each key
//! wins, and a tombstone removes it.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use super::member::Member;
use super::records::{GroupValue, OffsetValue, RecordKey, RecordValue};
use super::state::{Group, GroupState};

pub(super) fn rebuild(
    records: Vec<(RecordKey, Option<RecordValue>)>,
    now: Instant,
    now_ms: i64,
) -> HashMap<String, Group> {
    let mut metadata: HashMap<String, GroupValue> = HashMap::new();
    let mut offsets: HashMap<String, HashMap<(String, i32), OffsetValue>> = HashMap::new();
    for (key, value) in records {
        match (key, value) {
            (RecordKey::Group { group }, Some(RecordValue::Group(value))) => {
                metadata.insert(group, value);
            }
            (RecordKey::Group { group }, _) => {
                metadata.remove(&group);
            }
            (
                RecordKey::Offset {
                    group,
                    topic,
                    partition,
                },
                Some(RecordValue::Offset(value)),
            ) => {
                offsets
                    .entry(group)
                    .or_default()
                    .insert((topic, partition), value);
            }
            (
                RecordKey::Offset {
                    group,
                    topic,
                    partition,
                },
                _,
            ) => {
                if let Some(group) = offsets.get_mut(&group) {
                    group.remove(&(topic, partition));
                }
            }
        }
    }
    offsets.retain(|_, o| !o.is_empty());
    let mut groups = HashMap::new();
    for (id, value) in metadata {
        groups.insert(id.clone(), restore(id, value, now, now_ms));
    }
    for (id, offsets) in offsets {
        groups
            .entry(id.clone())
            .or_insert_with(|| Group::new(id, now_ms))
            .offsets
            .extend(offsets);
    }
    groups
}

/// A group as persisted after its last rebalance. Members are restored Stable with a
/// fresh session: if they are still alive they keep heartbeating and nothing
/// rebalances; if not, their sessions expire as usual.
fn restore(id: String, value: GroupValue, now: Instant, now_ms: i64) -> Group {
    let mut group = Group::new(id, now_ms);
    group.generation = value.generation;
    group.protocol_type = Some(value.protocol_type).filter(|t| !t.is_empty());
    group.protocol_name = value.protocol.clone();
    group.leader = value.leader;
    if value.current_state_timestamp >= 0 {
        group.state_since_ms = value.current_state_timestamp;
    }
    let protocol = value.protocol.unwrap_or_default();
    for m in value.members {
        let session_timeout = Duration::from_millis(m.session_timeout_ms.max(0) as u64);
        if let Some(instance) = &m.group_instance_id {
            group
                .static_members
                .insert(instance.clone(), m.member_id.clone());
        }
        group.members.insert(
            m.member_id.clone(),
            Member {
                id: m.member_id,
                instance_id: m.group_instance_id,
                client_id: m.client_id,
                client_host: m.client_host,
                session_timeout,
                rebalance_timeout: Duration::from_millis(m.rebalance_timeout_ms.max(0) as u64),
                protocols: vec![(protocol.clone(), m.subscription)],
                assignment: m.assignment,
                awaiting_join: None,
                awaiting_sync: None,
                session_deadline: now + session_timeout,
            },
        );
    }
    group.state = if group.members.is_empty() {
        group.leader = None;
        GroupState::Empty
    } else {
        GroupState::Stable
    };
    group
}

/// The offsets of transactions still open in `__consumer_offsets`, to be applied or
/// dropped when their markers arrive.
pub(super) fn pending_txn_offsets(
    open: HashMap<i64, Vec<(RecordKey, Option<RecordValue>)>>,
) -> HashMap<i64, super::txn_offsets::PendingOffsets> {
    open.into_iter()
        .map(|(producer_id, records)| {
            let offsets = records
                .into_iter()
                .filter_map(|(key, value)| match (key, value) {
                    (
                        RecordKey::Offset {
                            group,
                            topic,
                            partition,
                        },
                        Some(RecordValue::Offset(value)),
                    ) => Some((group, (topic, partition), value)),
                    _ => None,
                })
                .collect();
            (producer_id, offsets)
        })
        .collect()
}
