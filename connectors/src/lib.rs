//! Weir's connectors, one folder each, and [`plugins`]: the explicit registry a worker
//! offers.

pub mod file;

use std::sync::Arc;

use weir_connect::{ConnectorPlugin, Plugins};

pub mod redis_sink;

/// Every connector this build of Weir offers.
pub fn plugins() -> Plugins {
    let plugins: Vec<Arc<dyn ConnectorPlugin>> = vec![
        Arc::new(file::FileSourceConnector),
        Arc::new(redis_sink::RedisSinkConnector),
    ];
    Plugins::new(plugins)
}
