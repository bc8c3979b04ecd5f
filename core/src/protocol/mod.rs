//! The Kafka wire protocol, sans-IO. Filled in by the codec generator.
