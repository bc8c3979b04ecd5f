//! Debezium's mapping of PostgreSQL column types to Kafka Connect schemas and values.
