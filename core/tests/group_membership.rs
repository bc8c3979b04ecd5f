//! The classic group protocol over the wire: join, sync, heartbeat, leave, and the
//! error codes that keep stale or confused members out.

mod group_common;

use bytes::Bytes;
use group_common::{join_request, subscription, Broker};
use weir_core::protocol::messages::join_group_request::JoinGroupRequestProtocol;
use weir_core::protocol::messages::leave_group_request::MemberIdentity;
use weir_core::protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use weir_core::protocol::messages::{
    DescribeGroupsRequest, FindCoordinatorRequest, HeartbeatRequest, JoinGroupRequest,
    LeaveGroupRequest, ListGroupsRequest, SyncGroupRequest,
};

const NONE: i16 = 0;
const ILLEGAL_GENERATION: i16 = 22;
const INCONSISTENT_GROUP_PROTOCOL: i16 = 23;
const UNKNOWN_MEMBER_ID: i16 = 25;
const INVALID_SESSION_TIMEOUT: i16 = 26;
const REBALANCE_IN_PROGRESS: i16 = 27;
const INVALID_REQUEST: i16 = 42;
const FENCED_INSTANCE_ID: i16 = 82;

fn heartbeat(group: &str, generation: i32, member: &str) -> HeartbeatRequest {
    HeartbeatRequest {
        group_id: group.into(),
        generation_id: generation,
        member_id: member.into(),
        ..Default::default()
    }
}

fn sync(
    group: &str,
    generation: i32,
    member: &str,
    assignments: &[(&str, &[u8])],
) -> SyncGroupRequest {
    SyncGroupRequest {
        group_id: group.into(),
        generation_id: generation,
        member_id: member.into(),
        protocol_type: Some("consumer".into()),
        protocol_name: Some("range".into()),
        assignments: assignments
            .iter()
            .map(|(m, a)| SyncGroupRequestAssignment {
                member_id: m.to_string(),
                assignment: Bytes::copy_from_slice(a),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

#[tokio::test]
async fn find_coordinator_names_this_broker_for_groups_and_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path()).await;
    let mut client = broker.client().await;
    let v1 = client
        .send(
            &FindCoordinatorRequest {
                key: "g".into(),
                ..Default::default()
            },
            1,
        )
        .await;
    assert_eq!((v1.error_code, v1.port), (NONE, broker.addr.port() as i32));
    let v4 = client
        .send(
            &FindCoordinatorRequest {
                key_type: 0,
                coordinator_keys: vec!["a".into(), "b".into()],
                ..Default::default()
            },
            4,
        )
        .await;
    assert_eq!(v4.coordinators.len(), 2);
    assert!(v4
        .coordinators
        .iter()
        .all(|c| c.error_code == NONE && c.node_id == 1));
    let txn = client
        .send(
            &FindCoordinatorRequest {
                key: "txn".into(),
                key_type: 1,
                ..Default::default()
            },
            3,
        )
        .await;
    assert_eq!((txn.error_code, txn.node_id), (NONE, 1));
    assert_eq!(txn.port, broker.addr.port() as i32);
    let unknown = client
        .send(
            &FindCoordinatorRequest {
                key: "x".into(),
                key_type: 7,
                ..Default::default()
            },
            3,
        )
        .await;
    assert_eq!(unknown.error_code, INVALID_REQUEST);
    broker.stop().await;
}

#[tokio::test]
async fn one_member_joins_syncs_heartbeats_and_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path()).await;
    let mut client = broker.client().await;
    let joined = client.join_new("solo", &["orders"]).await;
    assert_eq!(joined.error_code, NONE);
    assert_eq!(joined.generation_id, 1);
    assert_eq!(joined.leader, joined.member_id);
    assert_eq!(joined.protocol_name.as_deref(), Some("range"));
    assert_eq!(joined.members.len(), 1);
    assert_eq!(joined.members[0].metadata, subscription(&["orders"]));
    let me = joined.member_id.clone();

    let synced = client
        .send(&sync("solo", 1, &me, &[(&me, b"assignment-1")]), 5)
        .await;
    assert_eq!(synced.error_code, NONE);
    assert_eq!(&synced.assignment[..], b"assignment-1");
    assert_eq!(synced.protocol_name.as_deref(), Some("range"));

    let beat = client.send(&heartbeat("solo", 1, &me), 4).await;
    assert_eq!(beat.error_code, NONE);
    let stale = client.send(&heartbeat("solo", 0, &me), 4).await;
    assert_eq!(stale.error_code, ILLEGAL_GENERATION);
    let stranger = client.send(&heartbeat("solo", 1, "who"), 4).await;
    assert_eq!(stranger.error_code, UNKNOWN_MEMBER_ID);

    let described = client
        .send(
            &DescribeGroupsRequest {
                groups: vec!["solo".into(), "nope".into()],
                ..Default::default()
            },
            5,
        )
        .await;
    let group = &described.groups[0];
    assert_eq!(
        (group.group_state.as_str(), group.protocol_data.as_str()),
        ("Stable", "range")
    );
    assert_eq!(group.members[0].member_metadata, subscription(&["orders"]));
    assert_eq!(&group.members[0].member_assignment[..], b"assignment-1");
    assert_eq!(group.members[0].client_id, "group-test");
    assert_eq!(group.members[0].client_host, "/127.0.0.1");
    assert_eq!(described.groups[1].group_state, "Dead");

    let left = client
        .send(
            &LeaveGroupRequest {
                group_id: "solo".into(),
                members: vec![MemberIdentity {
                    member_id: me.clone(),
                    ..Default::default()
                }],
                ..Default::default()
            },
            5,
        )
        .await;
    assert_eq!(left.error_code, NONE);
    assert_eq!(left.members[0].error_code, NONE);
    let listed = client
        .send(
            &ListGroupsRequest {
                states_filter: vec!["empty".into()],
                ..Default::default()
            },
            5,
        )
        .await;
    assert_eq!(listed.groups.len(), 1);
    assert_eq!(listed.groups[0].group_id, "solo");
    assert_eq!(listed.groups[0].protocol_type, "consumer");
    let beat = client.send(&heartbeat("solo", 1, &me), 4).await;
    assert_eq!(beat.error_code, UNKNOWN_MEMBER_ID);
    broker.stop().await;
}

#[tokio::test]
async fn a_second_member_triggers_a_rebalance_and_gets_the_leaders_assignment() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path()).await;
    let mut first = broker.client().await;
    let mut second = broker.client().await;
    let a = first.join_new("pair", &["t"]).await;
    let a_id = a.member_id.clone();
    assert_eq!(
        first
            .send(&sync("pair", 1, &a_id, &[(&a_id, b"all")]), 5)
            .await
            .error_code,
        NONE
    );

    // The second member's join waits for the first to rejoin.
    let b_first = second.join("pair", "", None, &["t"]).await;
    let b_id = b_first.member_id.clone();
    let b_join = tokio::join!(
        async { second.join("pair", &b_id, None, &["t"]).await },
        async {
            // The first member learns of the rebalance from its heartbeat.
            let beat = first.send(&heartbeat("pair", 1, &a_id), 4).await;
            assert_eq!(beat.error_code, REBALANCE_IN_PROGRESS);
            first.join("pair", &a_id, None, &["t"]).await
        }
    );
    let (b, a) = b_join;
    assert_eq!((a.error_code, b.error_code), (NONE, NONE));
    assert_eq!((a.generation_id, b.generation_id), (2, 2));
    assert_eq!(a.leader, a_id, "the first member stays leader");
    assert_eq!(a.members.len(), 2, "the leader sees every member");
    assert!(b.members.is_empty(), "followers see no members");

    // The follower's sync waits for the leader's.
    let (b_sync, a_sync) = tokio::join!(
        async { second.send(&sync("pair", 2, &b_id, &[]), 5).await },
        async {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            first
                .send(&sync("pair", 2, &a_id, &[(&a_id, b"A"), (&b_id, b"B")]), 5)
                .await
        }
    );
    assert_eq!(
        (&a_sync.assignment[..], &b_sync.assignment[..]),
        (&b"A"[..], &b"B"[..])
    );

    // A sync with the old generation is refused.
    let stale = first.send(&sync("pair", 1, &a_id, &[]), 5).await;
    assert_eq!(stale.error_code, ILLEGAL_GENERATION);
    broker.stop().await;
}

#[tokio::test]
async fn joins_with_another_protocol_type_or_no_common_protocol_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path()).await;
    let mut client = broker.client().await;
    let joined = client.join_new("typed", &["t"]).await;
    assert_eq!(joined.error_code, NONE);

    let mut other = broker.client().await;
    let mut connect = join_request("typed", "", None, &["t"]);
    connect.protocol_type = "connect".into();
    assert_eq!(
        other.send(&connect, 9).await.error_code,
        INCONSISTENT_GROUP_PROTOCOL
    );
    let mut no_common = join_request("typed", "", None, &["t"]);
    no_common.protocols = vec![JoinGroupRequestProtocol {
        name: "roundrobin".into(),
        metadata: subscription(&["t"]),
        ..Default::default()
    }];
    assert_eq!(
        other.send(&no_common, 9).await.error_code,
        INCONSISTENT_GROUP_PROTOCOL
    );
    let empty = JoinGroupRequest {
        group_id: "fresh".into(),
        session_timeout_ms: 10_000,
        protocol_type: "consumer".into(),
        ..Default::default()
    };
    assert_eq!(
        other.send(&empty, 9).await.error_code,
        INCONSISTENT_GROUP_PROTOCOL
    );
    let mut too_short = join_request("fresh", "", None, &["t"]);
    too_short.session_timeout_ms = 10;
    assert_eq!(
        other.send(&too_short, 9).await.error_code,
        INVALID_SESSION_TIMEOUT
    );
    // An unknown member id for an unknown group.
    assert_eq!(
        other
            .join("fresh", "made-up", None, &["t"])
            .await
            .error_code,
        UNKNOWN_MEMBER_ID
    );
    broker.stop().await;
}

#[tokio::test]
async fn a_static_member_rejoining_unchanged_keeps_the_generation_and_fences_its_old_id() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path()).await;
    let mut client = broker.client().await;
    // Static members skip MEMBER_ID_REQUIRED.
    let first = client.join("static", "", Some("instance-1"), &["t"]).await;
    assert_eq!(first.error_code, NONE);
    let old = first.member_id.clone();
    assert_eq!(
        client
            .send(&sync("static", 1, &old, &[(&old, b"mine")]), 5)
            .await
            .error_code,
        NONE
    );

    let again = client.join("static", "", Some("instance-1"), &["t"]).await;
    assert_eq!(again.error_code, NONE);
    assert_eq!(again.generation_id, 1, "no rebalance");
    assert_ne!(again.member_id, old);
    assert!(
        again.skip_assignment,
        "the leader keeps the current assignment"
    );
    let new = again.member_id.clone();

    let mut stale = heartbeat("static", 1, &old);
    stale.group_instance_id = Some("instance-1".into());
    assert_eq!(client.send(&stale, 4).await.error_code, FENCED_INSTANCE_ID);
    let mut current = heartbeat("static", 1, &new);
    current.group_instance_id = Some("instance-1".into());
    assert_eq!(client.send(&current, 4).await.error_code, NONE);
    let synced = client.send(&sync("static", 1, &new, &[]), 5).await;
    assert_eq!(&synced.assignment[..], b"mine");

    // Before v9 there is no skip flag: the rejoined leader is given the leader id it
    // had, and no members, so it does not assign.
    let older = client
        .send(&join_request("static", "", Some("instance-1"), &["t"]), 7)
        .await;
    assert_eq!((older.error_code, older.generation_id), (NONE, 1));
    assert_eq!(older.leader, new, "the previous leader id");
    assert_ne!(older.member_id, new);
    assert!(older.members.is_empty() && !older.skip_assignment);
    let new = older.member_id.clone();
    let synced = client.send(&sync("static", 1, &new, &[]), 5).await;
    assert_eq!(&synced.assignment[..], b"mine");

    // Leaving by instance id with the stale member id is fenced too.
    let leave = |member: &str| LeaveGroupRequest {
        group_id: "static".into(),
        members: vec![MemberIdentity {
            member_id: member.into(),
            group_instance_id: Some("instance-1".into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    let fenced = client.send(&leave(&old), 5).await;
    assert_eq!(fenced.members[0].error_code, FENCED_INSTANCE_ID);
    let left = client.send(&leave(&new), 5).await;
    assert_eq!(left.members[0].error_code, NONE);
    broker.stop().await;
}

#[tokio::test]
async fn old_join_versions_get_a_member_id_without_the_extra_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path()).await;
    let mut client = broker.client().await;
    for version in [0, 1, 2, 3] {
        let group = format!("v{version}");
        let joined = client
            .send(&join_request(&group, "", None, &["t"]), version)
            .await;
        assert_eq!(joined.error_code, NONE, "v{version}");
        assert_eq!(joined.generation_id, 1);
        assert!(!joined.member_id.is_empty());
        let left = client
            .send(
                &LeaveGroupRequest {
                    group_id: group,
                    member_id: joined.member_id,
                    ..Default::default()
                },
                0,
            )
            .await;
        assert_eq!(left.error_code, NONE);
    }
    broker.stop().await;
}

/// A consumer's JoinGroup offering two assignors, `range` first, with `user_data`
/// in its metadata (the sticky assignors carry owned partitions there).
fn join_two_protocols(
    group: &str,
    member_id: &str,
    instance_id: Option<&str>,
    user_data: &[u8],
) -> JoinGroupRequest {
    let mut request = join_request(group, member_id, instance_id, &["t"]);
    let mut metadata = subscription(&["t"]).to_vec();
    metadata.extend_from_slice(user_data);
    request.protocols = ["range", "roundrobin"]
        .into_iter()
        .map(|name| JoinGroupRequestProtocol {
            name: name.into(),
            metadata: Bytes::from(metadata.clone()),
            ..Default::default()
        })
        .collect();
    request
}

#[tokio::test]
async fn a_restarted_static_member_keeps_its_place_after_a_coordinator_restart() {
    // The group is loaded back with only the selected protocol's metadata; the
    // instance rejoins offering both its assignors, with other user data. The
    // selected protocol stays `range`, so as in Kafka there is no rebalance.
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path()).await;
    let mut client = broker.client().await;
    let first = client
        .send(&join_two_protocols("kept", "", Some("i-1"), b"one"), 9)
        .await;
    assert_eq!((first.error_code, first.generation_id), (NONE, 1));
    let old = first.member_id.clone();
    let synced = client
        .send(&sync("kept", 1, &old, &[(&old, b"mine")]), 5)
        .await;
    assert_eq!(synced.error_code, NONE);
    drop(client);
    broker.stop().await;

    let broker = Broker::start(dir.path()).await;
    let mut client = broker.client().await;
    let again = client
        .send(&join_two_protocols("kept", "", Some("i-1"), b"two"), 9)
        .await;
    assert_eq!(again.error_code, NONE);
    assert_eq!(again.generation_id, 1, "no rebalance: {again:?}");
    assert_eq!(again.protocol_name.as_deref(), Some("range"));
    let synced = client
        .send(&sync("kept", 1, &again.member_id, &[]), 5)
        .await;
    assert_eq!(&synced.assignment[..], b"mine");
    broker.stop().await;
}

#[tokio::test]
async fn a_static_member_replaced_while_the_leader_assigns_forces_a_rebalance() {
    // Kafka's rule: in CompletingRebalance the leader may be assigning to the old
    // member id, so the restarted instance must not take the current generation (its
    // new id would get no assignment).
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path()).await;
    let mut leader = broker.client().await;
    let mut instance = broker.client().await;
    let l = leader.join_new("swap", &["t"]).await;
    let l_id = l.member_id.clone();
    let synced = leader
        .send(&sync("swap", 1, &l_id, &[(&l_id, b"all")]), 5)
        .await;
    assert_eq!(synced.error_code, NONE);

    // The static member joins; generation 2 waits in CompletingRebalance for the
    // leader's assignment.
    let (s, l) = tokio::join!(
        async { instance.join("swap", "", Some("i-1"), &["t"]).await },
        async {
            let beat = leader.send(&heartbeat("swap", 1, &l_id), 4).await;
            assert_eq!(beat.error_code, REBALANCE_IN_PROGRESS);
            leader.join("swap", &l_id, None, &["t"]).await
        }
    );
    assert_eq!((s.generation_id, l.generation_id), (2, 2));
    let old_s = s.member_id.clone();

    // The instance restarts before the leader syncs.
    let mut restarted = broker.client().await;
    let (s2, (l_sync, l3)) = tokio::join!(
        async { restarted.join("swap", "", Some("i-1"), &["t"]).await },
        async {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            let stale = leader
                .send(&sync("swap", 2, &l_id, &[(&l_id, b"A"), (&old_s, b"B")]), 5)
                .await;
            let rejoined = leader.join("swap", &l_id, None, &["t"]).await;
            (stale, rejoined)
        }
    );
    assert_eq!(l_sync.error_code, REBALANCE_IN_PROGRESS);
    assert_eq!(s2.error_code, NONE);
    assert_eq!((s2.generation_id, l3.generation_id), (3, 3), "{s2:?}");
    let s2_id = s2.member_id.clone();
    let (s2_sync, l3_sync) = tokio::join!(
        async { restarted.send(&sync("swap", 3, &s2_id, &[]), 5).await },
        async {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            leader
                .send(&sync("swap", 3, &l_id, &[(&l_id, b"A"), (&s2_id, b"B")]), 5)
                .await
        }
    );
    assert_eq!(
        (&l3_sync.assignment[..], &s2_sync.assignment[..]),
        (&b"A"[..], &b"B"[..])
    );
    broker.stop().await;
}
