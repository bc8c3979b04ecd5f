//! temporary stand-in
use crate::config::{ConfigIssue, ConfigMap};
use crate::{ConnectError, Record};
#[derive(Debug, Default)]
pub struct TransformChain;
impl TransformChain {
    pub fn from_config(_props: &ConfigMap) -> Result<TransformChain, Vec<ConfigIssue>> {
        Ok(TransformChain)
    }
    pub fn apply(&self, record: Record) -> Result<Option<Record>, ConnectError> {
        Ok(Some(record))
    }
    pub fn is_empty(&self) -> bool {
        true
    }
}
