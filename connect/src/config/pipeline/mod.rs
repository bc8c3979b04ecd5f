//! YAML pipelines.
