//! The authorized-operation bit sets Metadata, DescribeCluster and DescribeGroups
//! report (KIP-430). Weir has no authorizer, so every client may do everything.

/// Kafka's marker for "the client did not ask".
const NOT_REQUESTED: i32 = i32::MIN;

/// READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS
/// (Kafka's `AclOperation` codes 3–8, 10, 11).
const TOPIC: i32 =
    (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11);

/// CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS,
/// IDEMPOTENT_WRITE (codes 5, 7–12).
const CLUSTER: i32 = (1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12);

/// READ, DELETE, DESCRIBE (codes 3, 6, 8).
const GROUP: i32 = (1 << 3) | (1 << 6) | (1 << 8);

fn if_requested(requested: bool, operations: i32) -> i32 {
    if requested {
        operations
    } else {
        NOT_REQUESTED
    }
}

pub(super) fn topic(requested: bool) -> i32 {
    if_requested(requested, TOPIC)
}

pub(super) fn cluster(requested: bool) -> i32 {
    if_requested(requested, CLUSTER)
}

pub(super) fn group(requested: bool) -> i32 {
    if_requested(requested, GROUP)
}
