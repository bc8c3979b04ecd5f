//! Single message transforms (Kafka Connect's SMTs) and the predicates that gate them.

use std::fmt;

use crate::{ConnectError, Record};

/// Changes, replaces or drops one record. `Ok(None)` drops it.
pub trait Transform: Send + Sync + fmt::Debug {
    fn apply(&self, record: Record) -> Result<Option<Record>, ConnectError>;
}

/// A condition on a record, used with `transforms.<name>.predicate`.
pub trait Predicate: Send + Sync + fmt::Debug {
    fn test(&self, record: &Record) -> bool;
}

mod chain;

pub use chain::{owns_key, TransformChain};
