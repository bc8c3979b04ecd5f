//! The PostgreSQL CDC source: a database's committed changes as Debezium change
//! events, read from a logical replication slot with the `pgoutput` plugin.

pub(crate) mod pgoutput;
pub(crate) mod types;
