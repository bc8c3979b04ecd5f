//! Kafka-layout segmented log storage.
