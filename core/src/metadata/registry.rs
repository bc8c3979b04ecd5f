//! The registry of topics: lock-free lookups for the request path, serialized changes.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::store::{self, StoredTopic};
use super::{validate_topic_name, MetadataError, Topic, TopicConfigs, TopicDefaults};
use crate::log::{partition_dir_name, Log};
use crate::partition::{spawn_partition, PartitionHandle};
use crate::protocol::Uuid;

/// An immutable view of every topic. Requests read a snapshot without taking a lock;
/// a change builds a new snapshot and swaps it in.
#[derive(Debug, Default)]
struct Snapshot {
    by_name: HashMap<Arc<str>, Arc<Topic>>,
    by_id: HashMap<Uuid, Arc<Topic>>,
}

/// What the registry needs from the broker to open and run partitions.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    pub data_dir: PathBuf,
    pub defaults: TopicDefaults,
    /// How often each partition runs retention, time-based rolls and time-based flushes.
    pub maintenance_interval: Duration,
}

#[derive(Debug)]
pub struct TopicRegistry {
    snapshot: ArcSwap<Snapshot>,
    /// Serializes create, delete and alter, and with them writes of the metadata file.
    changes: tokio::sync::Mutex<()>,
    options: RegistryOptions,
    tracker: TaskTracker,
    shutdown: CancellationToken,
}

impl TopicRegistry {
    /// Loads the topic metadata file and opens (recovering) every partition's log.
    pub fn open(
        options: RegistryOptions,
        tracker: TaskTracker,
        shutdown: CancellationToken,
    ) -> Result<Self, MetadataError> {
        std::fs::create_dir_all(&options.data_dir).map_err(|source| MetadataError::Io {
            context: format!("creating data directory {}", options.data_dir.display()),
            source,
        })?;
        let registry = TopicRegistry {
            snapshot: ArcSwap::default(),
            changes: tokio::sync::Mutex::new(()),
            options,
            tracker,
            shutdown,
        };
        let mut snapshot = Snapshot::default();
        for stored in store::load(&registry.options.data_dir)? {
            let id = parse_uuid(&stored.id).ok_or_else(|| MetadataError::CorruptMetadata {
                path: store::path(&registry.options.data_dir)
                    .display()
                    .to_string(),
                reason: format!("topic '{}' has a malformed id '{}'", stored.name, stored.id),
            })?;
            let name: Arc<str> = stored.name.as_str().into();
            let partitions = (0..stored.partitions)
                .map(|p| registry.open_partition(&name, p, &stored.configs))
                .collect::<Result<Vec<_>, _>>()?;
            let topic = Arc::new(Topic {
                name: name.clone(),
                id,
                configs: stored.configs,
                partitions,
            });
            snapshot.by_id.insert(id, topic.clone());
            snapshot.by_name.insert(name, topic);
        }
        registry.snapshot.store(Arc::new(snapshot));
        Ok(registry)
    }

    pub fn defaults(&self) -> &TopicDefaults {
        &self.options.defaults
    }

    pub fn data_dir(&self) -> &Path {
        &self.options.data_dir
    }

    pub fn get(&self, name: &str) -> Option<Arc<Topic>> {
        self.snapshot.load().by_name.get(name).cloned()
    }

    pub fn get_by_id(&self, id: Uuid) -> Option<Arc<Topic>> {
        self.snapshot.load().by_id.get(&id).cloned()
    }

    /// Every topic, sorted by name.
    pub fn all(&self) -> Vec<Arc<Topic>> {
        let mut topics: Vec<_> = self.snapshot.load().by_name.values().cloned().collect();
        topics.sort_by(|a, b| a.name.cmp(&b.name));
        topics
    }

    /// Creates a topic. With `validate_only` it checks everything and changes nothing.
    pub async fn create(
        &self,
        name: &str,
        partitions: i32,
        configs: TopicConfigs,
        validate_only: bool,
    ) -> Result<Option<Arc<Topic>>, MetadataError> {
        validate_topic_name(name)?;
        if partitions < 1 {
            return Err(MetadataError::InvalidPartitions(format!(
                "a topic needs at least one partition, {partitions} was asked"
            )));
        }
        let _guard = self.changes.lock().await;
        if self.get(name).is_some() {
            return Err(MetadataError::TopicAlreadyExists(name.to_owned()));
        }
        if validate_only {
            return Ok(None);
        }
        let name: Arc<str> = name.into();
        let handles = (0..partitions)
            .map(|p| self.open_partition(&name, p, &configs))
            .collect::<Result<Vec<_>, _>>()?;
        let topic = Arc::new(Topic {
            name: name.clone(),
            id: new_topic_id(&name),
            configs,
            partitions: handles,
        });
        self.publish(|snapshot| {
            snapshot.by_id.insert(topic.id, topic.clone());
            snapshot.by_name.insert(name.clone(), topic.clone());
        })?;
        tracing::info!(topic = %name, partitions, "created topic");
        Ok(Some(topic))
    }

    /// Deletes a topic and its partitions' files.
    pub async fn delete(&self, name: &str) -> Result<(), MetadataError> {
        let _guard = self.changes.lock().await;
        let topic = self
            .get(name)
            .ok_or_else(|| MetadataError::UnknownTopic(name.to_owned()))?;
        self.publish(|snapshot| {
            snapshot.by_name.remove(name);
            snapshot.by_id.remove(&topic.id);
        })?;
        for partition in &topic.partitions {
            partition.delete().await.map_err(|e| MetadataError::Io {
                context: format!(
                    "deleting partition {} of topic '{name}': {e}",
                    partition.partition()
                ),
                source: std::io::Error::other(e.to_string()),
            })?;
        }
        tracing::info!(topic = %name, "deleted topic");
        Ok(())
    }

    /// Raises a topic's partition count to `total`.
    pub async fn create_partitions(
        &self,
        name: &str,
        total: i32,
        validate_only: bool,
    ) -> Result<(), MetadataError> {
        let _guard = self.changes.lock().await;
        let topic = self
            .get(name)
            .ok_or_else(|| MetadataError::UnknownTopic(name.to_owned()))?;
        let current = topic.partitions.len() as i32;
        if total <= current {
            return Err(MetadataError::InvalidPartitions(format!(
                "topic '{name}' has {current} partitions; the count can only grow, {total} was asked"
            )));
        }
        if validate_only {
            return Ok(());
        }
        let mut partitions = topic.partitions.clone();
        for p in current..total {
            partitions.push(self.open_partition(&topic.name, p, &topic.configs)?);
        }
        self.replace(&topic, topic.configs.clone(), partitions)
    }

    /// Replaces a topic's config overrides and applies them to its partitions.
    pub async fn alter_configs(
        &self,
        name: &str,
        change: impl FnOnce(&mut TopicConfigs) -> Result<(), MetadataError>,
        validate_only: bool,
    ) -> Result<(), MetadataError> {
        let _guard = self.changes.lock().await;
        let topic = self
            .get(name)
            .ok_or_else(|| MetadataError::UnknownTopic(name.to_owned()))?;
        let mut configs = topic.configs.clone();
        change(&mut configs)?;
        if validate_only {
            return Ok(());
        }
        let log_config = configs.log_config(&self.options.defaults);
        for partition in &topic.partitions {
            // A partition whose owner has stopped is being shut down; nothing to apply.
            let _ = partition.update_config(log_config.clone()).await;
        }
        self.replace(&topic, configs, topic.partitions.clone())
    }

    fn replace(
        &self,
        old: &Arc<Topic>,
        configs: TopicConfigs,
        partitions: Vec<PartitionHandle>,
    ) -> Result<(), MetadataError> {
        let topic = Arc::new(Topic {
            name: old.name.clone(),
            id: old.id,
            configs,
            partitions,
        });
        self.publish(|snapshot| {
            snapshot.by_id.insert(topic.id, topic.clone());
            snapshot.by_name.insert(topic.name.clone(), topic.clone());
        })
    }

    /// Applies `change` to a copy of the current snapshot, persists it, then swaps it in.
    /// Callers hold `changes`, so no concurrent change is lost.
    fn publish(&self, change: impl FnOnce(&mut Snapshot)) -> Result<(), MetadataError> {
        let current = self.snapshot.load();
        let mut next = Snapshot {
            by_name: current.by_name.clone(),
            by_id: current.by_id.clone(),
        };
        change(&mut next);
        let mut stored: Vec<StoredTopic> = next
            .by_name
            .values()
            .map(|t| StoredTopic {
                name: t.name.to_string(),
                id: format_uuid(t.id),
                partitions: t.partitions.len() as i32,
                configs: t.configs.clone(),
            })
            .collect();
        stored.sort_by(|a, b| a.name.cmp(&b.name));
        store::save(&self.options.data_dir, stored)?;
        self.snapshot.store(Arc::new(next));
        Ok(())
    }

    fn open_partition(
        &self,
        topic: &Arc<str>,
        partition: i32,
        configs: &TopicConfigs,
    ) -> Result<PartitionHandle, MetadataError> {
        let dir = self
            .options
            .data_dir
            .join(partition_dir_name(topic, partition));
        let log = Log::open(
            &dir,
            configs.log_config(&self.options.defaults),
            crate::partition::now_ms(),
        )
        .map_err(|source| MetadataError::Log {
            topic: topic.to_string(),
            partition,
            source,
        })?;
        Ok(spawn_partition(
            &self.tracker,
            topic.clone(),
            partition,
            log,
            self.options.maintenance_interval,
            self.shutdown.clone(),
        ))
    }
}

/// A fresh random topic id. The std hasher's per-process random keys are the entropy,
/// mixed with the name and the time, so no extra dependency is needed for 128 bits.
fn new_topic_id(name: &str) -> Uuid {
    let mut bytes = [0u8; 16];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write(name.as_bytes());
        hasher.write_usize(i);
        hasher.write_i64(crate::partition::now_ms());
        chunk.copy_from_slice(&hasher.finish().to_be_bytes());
    }
    Uuid(bytes)
}

fn format_uuid(id: Uuid) -> String {
    id.0.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_uuid(text: &str) -> Option<Uuid> {
    if text.len() != 32 || !text.is_ascii() {
        return None;
    }
    let mut bytes = [0u8; 16];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(Uuid(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_ids_round_trip_through_hex_and_differ() {
        let a = new_topic_id("a");
        let b = new_topic_id("a");
        assert_ne!(a, b);
        assert_eq!(parse_uuid(&format_uuid(a)), Some(a));
        assert_eq!(parse_uuid("zz"), None);
    }
}
