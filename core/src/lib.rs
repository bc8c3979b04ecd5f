//! Weir's broker core: the Kafka wire protocol, the segmented log, partitions and the
//! broker server that ties them together.
//!
//! Layers depend in one direction only:
//! `protocol` (sans-IO codec) → `log` (segments, indexes) → `partition` (single owner)
//! → `metadata` (topics, producer ids) → `group` (consumer groups, committed offsets)
//! → `txn` (transaction coordinator) → `broker` (network, one file per API group).
//! Nothing lower imports anything higher.

pub mod broker;
#[doc(hidden)]
pub mod fuzzing;
pub mod group;
pub mod log;
pub mod metadata;
pub mod partition;
pub mod protocol;
pub mod txn;
