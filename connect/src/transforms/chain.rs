//! The transform chain of a connector: `transforms` and `predicates` keys.
//!
//! Minimal stand-in with the chain's public surface; the full chain replaces it.

use crate::config::{ConfigIssue, ConfigMap};
use crate::{ConnectError, Record};

/// The transforms of one connector, applied in order.
#[derive(Debug, Default)]
pub struct TransformChain {}

impl TransformChain {
    /// The chain declared by `transforms` and `predicates` in `props`.
    pub fn from_config(props: &ConfigMap) -> Result<TransformChain, Vec<ConfigIssue>> {
        let _ = props;
        Ok(TransformChain::default())
    }

    /// Applies every transform; `Ok(None)` when one dropped the record.
    pub fn apply(&self, record: Record) -> Result<Option<Record>, ConnectError> {
        Ok(Some(record))
    }

    pub fn is_empty(&self) -> bool {
        true
    }
}

/// Whether `key` belongs to the transform chain.
pub fn owns_key(key: &str) -> bool {
    key == "transforms"
        || key == "predicates"
        || key.starts_with("transforms.")
        || key.starts_with("predicates.")
}
