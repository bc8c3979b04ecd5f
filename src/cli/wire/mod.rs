//! A small Kafka protocol client for the admin RPCs librdkafka has no API for
//! (ListTransactions, DescribeTransactions, DescribeProducers, WriteTxnMarkers),
//! built on weir-core's codec.
//!
//! Bounded like the broker's side: every connect and every response waits at most
//! the request timeout, a response's size is capped before its body is read, and one
//! request is in flight per connection. Versions are agreed per broker through
//! ApiVersions, so it speaks to Weir and to any Kafka broker that serves the API.

mod cluster;
mod connection;
mod error;
mod versions;

pub(crate) use cluster::Cluster;
pub(crate) use connection::Connection;
pub(crate) use error::{kafka_error, WireError};
