//! Weir's Connect runtime: the part every connector plugs into.
//!
//! A connector is a [`ConnectorPlugin`] that makes [`Source`] or [`Sink`] tasks. The
//! runtime owns everything around them: Kafka clients (librdkafka, so a pipeline runs
//! against Weir or any Kafka cluster), converters between records and bytes,
//! transforms, the error policy with its dead-letter topic, source offsets stored in a
//! compacted topic, sink offsets committed to a consumer group, and the REST API with
//! Kafka Connect's paths.
//!
//! The ordering rules that make pipelines lossless live here, not in connectors:
//! - a source is told to [`Source::commit`] a position only after the log acknowledged
//!   every record up to it and the position itself is stored in the offsets topic;
//! - a sink's consumer offsets are committed only after [`Sink::flush`] returned, so
//!   the external system has accepted every record before them.

pub mod calendar;
pub mod config;
pub mod converter;
mod data;
mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod herder;
mod kafka;
pub mod logging;
mod plugin;
pub mod rest;
pub mod runtime;
mod sink;
mod source;
pub mod transforms;
pub mod worker;

pub use data::{
    Data, Header, Record, Schema, SinkRecord, SourceOffset, SourcePartition, SourceRecord,
};
pub use error::{ConnectError, ErrorDomain, RetryHint};
pub use plugin::{ConnectorPlugin, ConnectorType, ExactlyOnceSupport, Plugins, Task};
pub use sink::{RecordFailure, Sink, SinkContext};
pub use source::{Source, SourceContext};
