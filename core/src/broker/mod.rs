//! The broker: accepts connections, frames requests, and serves each Kafka API from
//! its own file under [`apis`].
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use weir_core::broker::{run, BrokerConfig};
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9092").await?;
//! let shutdown = tokio_util::sync::CancellationToken::new();
//! run(listener, BrokerConfig::new("./data"), shutdown).await?;
//! # Ok(()) }
//! ```

mod apis;
mod config;
mod connection;
mod error;
mod frame;
mod limits;
mod meta_properties;
mod response;
mod server;
mod state;

pub use config::{
    parse_host_port, BrokerConfig, DEFAULT_CONNECTIONS_MAX_IDLE, DEFAULT_DECOMPRESSED_MAX_BYTES,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_IP, DEFAULT_MAX_IN_FLIGHT_PER_CONNECTION,
    DEFAULT_REQUEST_MAX_BYTES,
};
pub use error::BrokerError;
pub use frame::{FrameError, FrameReader};
pub use server::run;
