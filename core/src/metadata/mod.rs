//! What topics exist, with which partitions and configs, persisted across restarts.
//!
//! On a single node the registry is this broker's own file; the replicated metadata
//! quorum replaces the file, not the API, when Weir becomes a cluster.

mod error;
pub mod producer_ids;
mod registry;
mod store;
mod topic;
pub mod topic_config;

pub use error::MetadataError;
pub use producer_ids::{FileProducerIdBlocks, ProducerIdBlocks, ProducerIdManager};
pub use registry::{RegistryOptions, TopicRegistry};
pub use topic::{validate_topic_name, Topic};
pub use topic_config::{ConfigError, TopicConfigs, TopicDefaults};
