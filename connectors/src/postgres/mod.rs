//! The PostgreSQL CDC source: a database's committed changes as Debezium change
//! events, read from a logical replication slot with the `pgoutput` plugin.
//!
//! ```yaml
//! connector.class: io.debezium.connector.postgresql.PostgresConnector
//! database.hostname: 127.0.0.1
//! database.user: cdc
//! database.dbname: shop
//! topic.prefix: shop
//! table.include.list: public.orders
//! ```
//!
//! It takes Debezium's configuration names (`config.rs`) and writes Debezium's
//! events (`events.rs`, `table.rs`): a snapshot of the captured tables at the slot's
//! starting point (`snapshot.rs`), then every committed change in commit order
//! (`capture.rs`), each database transaction with its position in one Kafka
//! transaction when the worker runs exactly-once sources. A signal can ask for an
//! incremental snapshot of chosen tables while streaming goes on (`signal.rs`,
//! `incremental.rs`). The slot is confirmed only
//! up to what the offsets topic holds (`position.rs`), so a crash at any point loses
//! nothing.

mod capture;
mod catalog;
mod config;
mod events;
mod filters;
mod incremental;
mod json_text;
mod metrics;
pub(crate) mod pgoutput;
mod position;
mod registry;
mod replication;
pub(crate) mod signal;
mod snapshot;
mod table;
mod task;
pub(crate) mod types;

use weir_connect::config::{ConfigDef, ConfigIssue, ParsedConfig};
use weir_connect::{ConnectError, ConnectorPlugin, ConnectorType, ExactlyOnceSupport, Task};

use self::config::PostgresConfig;
use self::task::PostgresSourceTask;

/// The PostgreSQL CDC source, under Debezium's class name so its configs run as
/// they are.
#[derive(Debug, Clone, Copy, Default)]
pub struct PostgresConnector;

impl ConnectorPlugin for PostgresConnector {
    fn class(&self) -> &'static str {
        "io.debezium.connector.postgresql.PostgresConnector"
    }

    fn aliases(&self) -> &'static [&'static str] {
        &["postgres-cdc", "io.weir.connect.postgres.PostgresCdcSource"]
    }

    fn connector_type(&self) -> ConnectorType {
        ConnectorType::Source
    }

    fn version(&self) -> &'static str {
        env!("CARGO_PKG_VERSION")
    }

    fn config_def(&self) -> ConfigDef {
        config::config_def()
    }

    fn validate(&self, config: &ParsedConfig) -> Vec<ConfigIssue> {
        config::validate(config)
    }

    /// A position names the end of the last whole transaction and how far into the
    /// next one the log has it, so a restart repeats nothing the log holds.
    fn exactly_once_support(&self) -> ExactlyOnceSupport {
        ExactlyOnceSupport::Supported
    }

    /// Tasks say where each database transaction ends.
    fn can_define_transaction_boundaries(&self) -> bool {
        true
    }

    fn create_task(&self, config: &ParsedConfig) -> Result<Task, ConnectError> {
        let config = PostgresConfig::from_parsed(config)?;
        Ok(Task::Source(Box::new(PostgresSourceTask::new(config))))
    }
}
