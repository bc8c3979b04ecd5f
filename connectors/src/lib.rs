//! Weir's connectors, one folder each, and [`plugins`]: the explicit registry a worker
//! offers.

pub mod elasticsearch;
pub mod file;
#[doc(hidden)]
pub mod fuzzing;
mod host_port;
mod invalid_config;
pub mod jdbc_sink;
pub mod postgres;
pub mod redis_sink;

use std::sync::Arc;

use weir_connect::{ConnectorPlugin, Plugins};

/// Every connector this build of Weir offers.
pub fn plugins() -> Plugins {
    let plugins: Vec<Arc<dyn ConnectorPlugin>> = vec![
        Arc::new(elasticsearch::ElasticsearchSinkConnector),
        Arc::new(file::FileSourceConnector),
        Arc::new(jdbc_sink::JdbcSinkConnector),
        Arc::new(postgres::PostgresConnector),
        Arc::new(redis_sink::RedisSinkConnector),
    ];
    Plugins::new(plugins)
}
