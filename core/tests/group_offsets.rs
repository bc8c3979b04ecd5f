//! Committed offsets over the wire: commit rules, fetch forms, deletion, and offsets
//! surviving a broker restart through `__consumer_offsets`.

mod group_common;

use group_common::Broker;
use weir_core::protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use weir_core::protocol::messages::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use weir_core::protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use weir_core::protocol::messages::{
    DeleteGroupsRequest, OffsetCommitRequest, OffsetCommitResponse, OffsetDeleteRequest,
    OffsetFetchRequest, OffsetFetchResponse,
};

const NONE: i16 = 0;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const OFFSET_METADATA_TOO_LARGE: i16 = 12;
const ILLEGAL_GENERATION: i16 = 22;
const UNKNOWN_MEMBER_ID: i16 = 25;
const NON_EMPTY_GROUP: i16 = 68;
const GROUP_ID_NOT_FOUND: i16 = 69;
const GROUP_SUBSCRIBED_TO_TOPIC: i16 = 86;

fn commit(
    group: &str,
    generation: i32,
    member: &str,
    offsets: &[(&str, i32, i64)],
) -> OffsetCommitRequest {
    let mut topics: Vec<OffsetCommitRequestTopic> = Vec::new();
    for &(topic, partition, offset) in offsets {
        if topics.last().is_none_or(|t| t.name != topic) {
            topics.push(OffsetCommitRequestTopic {
                name: topic.into(),
                ..Default::default()
            });
        }
        topics
            .last_mut()
            .unwrap()
            .partitions
            .push(OffsetCommitRequestPartition {
                partition_index: partition,
                committed_offset: offset,
                committed_leader_epoch: 0,
                committed_metadata: Some(format!("meta-{offset}")),
                ..Default::default()
            });
    }
    OffsetCommitRequest {
        group_id: group.into(),
        generation_id_or_member_epoch: generation,
        member_id: member.into(),
        topics,
        ..Default::default()
    }
}

fn codes(response: &OffsetCommitResponse) -> Vec<i16> {
    response
        .topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
        .collect()
}

fn fetch_all(group: &str) -> OffsetFetchRequest {
    OffsetFetchRequest {
        group_id: group.into(),
        topics: None,
        ..Default::default()
    }
}

fn offsets(response: &OffsetFetchResponse) -> Vec<(String, i32, i64)> {
    response
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(|p| (t.name.clone(), p.partition_index, p.committed_offset))
        })
        .collect()
}

#[tokio::test]
async fn simple_commits_to_unknown_groups_create_them_and_stale_generations_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path()).await;
    let mut client = broker.client().await;
    client.create_topic("orders", 2).await;

    let simple = client
        .send(
            &commit("simple", -1, "", &[("orders", 0, 5), ("orders", 1, 7)]),
            8,
        )
        .await;
    assert_eq!(codes(&simple), [NONE, NONE]);
    let generation = client
        .send(&commit("nobody", 3, "m", &[("orders", 0, 1)]), 8)
        .await;
    assert_eq!(codes(&generation), [ILLEGAL_GENERATION]);
    let unknown = client
        .send(
            &commit("simple", -1, "", &[("missing", 0, 1), ("orders", 9, 1)]),
            8,
        )
        .await;
    assert_eq!(
        codes(&unknown),
        [UNKNOWN_TOPIC_OR_PARTITION, UNKNOWN_TOPIC_OR_PARTITION]
    );
    let mut too_large = commit("simple", -1, "", &[("orders", 0, 6)]);
    too_large.topics[0].partitions[0].committed_metadata = Some("x".repeat(5000));
    assert_eq!(
        codes(&client.send(&too_large, 8).await),
        [OFFSET_METADATA_TOO_LARGE]
    );

    let fetched = client.send(&fetch_all("simple"), 7).await;
    assert_eq!(
        offsets(&fetched),
        [("orders".into(), 0, 5), ("orders".into(), 1, 7)]
    );
    assert_eq!(
        fetched.topics[0].partitions[0].metadata.as_deref(),
        Some("meta-5")
    );
    assert_eq!(fetched.topics[0].partitions[0].committed_leader_epoch, 0);

    // Asked-for partitions without a commit answer -1; unknown groups answer -1.
    for group in ["simple", "never-seen"] {
        let listed = client
            .send(
                &OffsetFetchRequest {
                    group_id: group.into(),
                    topics: Some(vec![OffsetFetchRequestTopic {
                        name: "orders".into(),
                        partition_indexes: vec![1, 3],
                        ..Default::default()
                    }]),
                    require_stable: true,
                    ..Default::default()
                },
                7,
            )
            .await;
        let want_first = if group == "simple" { 7 } else { -1 };
        assert_eq!(
            offsets(&listed),
            [("orders".into(), 1, want_first), ("orders".into(), 3, -1)]
        );
    }

    // v8+: several groups at once.
    let multi = client
        .send(
            &OffsetFetchRequest {
                groups: vec![
                    OffsetFetchRequestGroup {
                        group_id: "simple".into(),
                        topics: None,
                        ..Default::default()
                    },
                    OffsetFetchRequestGroup {
                        group_id: "never-seen".into(),
                        topics: Some(vec![OffsetFetchRequestTopics {
                            name: "orders".into(),
                            partition_indexes: vec![0],
                            ..Default::default()
                        }]),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            },
            9,
        )
        .await;
    assert_eq!(multi.groups.len(), 2);
    assert_eq!(multi.groups[0].topics[0].partitions.len(), 2);
    assert_eq!(multi.groups[1].topics[0].partitions[0].committed_offset, -1);
    broker.stop().await;
}

#[tokio::test]
async fn members_commit_with_their_generation_and_strangers_cannot() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path()).await;
    let mut client = broker.client().await;
    client.create_topic("events", 1).await;
    let joined = client.join_new("consumers", &["events"]).await;
    let me = joined.member_id.clone();
    let generation = joined.generation_id;

    // Between join and sync the assignment is being handed out.
    let early = client
        .send(
            &commit("consumers", generation, &me, &[("events", 0, 1)]),
            8,
        )
        .await;
    assert_eq!(codes(&early), [27], "REBALANCE_IN_PROGRESS");
    let synced = client
        .send(
            &weir_core::protocol::messages::SyncGroupRequest {
                group_id: "consumers".into(),
                generation_id: generation,
                member_id: me.clone(),
                ..Default::default()
            },
            3,
        )
        .await;
    assert_eq!(synced.error_code, NONE);

    let ok = client
        .send(
            &commit("consumers", generation, &me, &[("events", 0, 10)]),
            8,
        )
        .await;
    assert_eq!(codes(&ok), [NONE]);
    let stale = client
        .send(
            &commit("consumers", generation - 1, &me, &[("events", 0, 11)]),
            8,
        )
        .await;
    assert_eq!(codes(&stale), [ILLEGAL_GENERATION]);
    let stranger = client
        .send(
            &commit("consumers", generation, "stranger", &[("events", 0, 11)]),
            8,
        )
        .await;
    assert_eq!(codes(&stranger), [UNKNOWN_MEMBER_ID]);
    let simple = client
        .send(&commit("consumers", -1, "", &[("events", 0, 11)]), 8)
        .await;
    assert_eq!(codes(&simple), [UNKNOWN_MEMBER_ID], "the group has members");
    // v2 (the oldest client still in use) commits the same way.
    let v2 = client
        .send(
            &commit("consumers", generation, &me, &[("events", 0, 12)]),
            2,
        )
        .await;
    assert_eq!(codes(&v2), [NONE]);

    // The group consumes "events": its offsets cannot be deleted, nor the group.
    let delete = OffsetDeleteRequest {
        group_id: "consumers".into(),
        topics: vec![OffsetDeleteRequestTopic {
            name: "events".into(),
            partitions: vec![OffsetDeleteRequestPartition { partition_index: 0 }],
        }],
    };
    let refused = client.send(&delete, 0).await;
    assert_eq!(refused.error_code, NONE);
    assert_eq!(
        refused.topics[0].partitions[0].error_code,
        GROUP_SUBSCRIBED_TO_TOPIC
    );
    let delete_groups = DeleteGroupsRequest {
        groups_names: vec!["consumers".into(), "ghost".into()],
        ..Default::default()
    };
    let results = client.send(&delete_groups, 2).await.results;
    assert_eq!(
        (results[0].error_code, results[1].error_code),
        (NON_EMPTY_GROUP, GROUP_ID_NOT_FOUND)
    );

    // Once empty, both work.
    let left = client
        .send(
            &weir_core::protocol::messages::LeaveGroupRequest {
                group_id: "consumers".into(),
                member_id: me,
                ..Default::default()
            },
            1,
        )
        .await;
    assert_eq!(left.error_code, NONE);
    let deleted = client.send(&delete, 0).await;
    assert_eq!(deleted.topics[0].partitions[0].error_code, NONE);
    assert!(offsets(&client.send(&fetch_all("consumers"), 7).await).is_empty());
    let results = client.send(&delete_groups, 2).await.results;
    assert_eq!(results[0].error_code, NONE);
    broker.stop().await;
}

#[tokio::test]
async fn committed_offsets_and_groups_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path()).await;
    let mut client = broker.client().await;
    client.create_topic("ledger", 3).await;
    for (group, offset) in [("g1", 100), ("g2", 200), ("g3", 300)] {
        let first = client
            .send(&commit(group, -1, "", &[("ledger", 0, offset - 1)]), 8)
            .await;
        assert_eq!(codes(&first), [NONE]);
        let second = client
            .send(
                &commit(
                    group,
                    -1,
                    "",
                    &[("ledger", 0, offset), ("ledger", 2, offset + 2)],
                ),
                8,
            )
            .await;
        assert_eq!(codes(&second), [NONE, NONE]);
    }
    // A deleted offset stays deleted after the restart (its tombstone is replayed).
    let delete = OffsetDeleteRequest {
        group_id: "g3".into(),
        topics: vec![OffsetDeleteRequestTopic {
            name: "ledger".into(),
            partitions: vec![OffsetDeleteRequestPartition { partition_index: 2 }],
        }],
    };
    assert_eq!(
        client.send(&delete, 0).await.topics[0].partitions[0].error_code,
        NONE
    );
    // A group with a completed rebalance is remembered with its members.
    let joined = client.join_new("member-group", &["ledger"]).await;
    let sync = weir_core::protocol::messages::SyncGroupRequest {
        group_id: "member-group".into(),
        generation_id: joined.generation_id,
        member_id: joined.member_id.clone(),
        assignments: vec![
            weir_core::protocol::messages::sync_group_request::SyncGroupRequestAssignment {
                member_id: joined.member_id.clone(),
                assignment: bytes::Bytes::from_static(b"persisted"),
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    assert_eq!(client.send(&sync, 3).await.error_code, NONE);
    drop(client);
    broker.stop().await;

    let broker = Broker::start(dir.path()).await;
    let mut client = broker.client().await;
    for (group, offset) in [("g1", 100), ("g2", 200)] {
        assert_eq!(
            offsets(&client.send(&fetch_all(group), 7).await),
            [
                ("ledger".into(), 0, offset),
                ("ledger".into(), 2, offset + 2)
            ],
            "{group}"
        );
    }
    assert_eq!(
        offsets(&client.send(&fetch_all("g3"), 7).await),
        [("ledger".into(), 0, 300)]
    );
    let listed = client
        .send(
            &weir_core::protocol::messages::ListGroupsRequest::default(),
            4,
        )
        .await;
    let mut names: Vec<_> = listed.groups.iter().map(|g| g.group_id.as_str()).collect();
    names.sort();
    assert_eq!(names, ["g1", "g2", "g3", "member-group"]);
    let described = client
        .send(
            &weir_core::protocol::messages::DescribeGroupsRequest {
                groups: vec!["member-group".into()],
                ..Default::default()
            },
            5,
        )
        .await;
    let group = &described.groups[0];
    assert_eq!(group.group_state, "Stable");
    assert_eq!(group.members[0].member_id, joined.member_id);
    assert_eq!(&group.members[0].member_assignment[..], b"persisted");
    // The member carries on where it was, without rejoining.
    let beat = client
        .send(
            &weir_core::protocol::messages::HeartbeatRequest {
                group_id: "member-group".into(),
                generation_id: joined.generation_id,
                member_id: joined.member_id.clone(),
                ..Default::default()
            },
            4,
        )
        .await;
    assert_eq!(beat.error_code, NONE);
    broker.stop().await;
}
