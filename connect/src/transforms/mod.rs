//! Single message transforms (Kafka Connect's SMTs) and the predicates that gate them.
//!
//! A connector's `transforms` and `predicates` keys are read exactly as Kafka Connect
//! reads them, with the same type names (full class names such as
//! `org.apache.kafka.connect.transforms.InsertField$Value`, or short ones such as
//! `InsertField$Value`) and the same per-type keys; [`TransformChain`] parses them and
//! applies the transforms in order. Keys and values are schemaless here, so field
//! transforms need `Data::Json` objects (`value.converter=json`) and pass tombstones
//! through unchanged. Transforms that write headers from data (`HeaderFrom`,
//! `InsertHeader`) encode them with the connector's `header.converter`, and the one
//! that writes data from headers (`HeaderToValue`) decodes them with it, given to
//! [`TransformChain::from_config_with`] or read by [`TransformChain::from_config`].
//!
//! ```
//! use weir_connect::config::ConfigMap;
//! use weir_connect::transforms::TransformChain;
//! use weir_connect::{Data, Record};
//!
//! let props: ConfigMap = [
//!     ("transforms", "onlyErrors,addHost"),
//!     ("transforms.onlyErrors.type", "ExpressionFilter"),
//!     ("transforms.onlyErrors.condition", r#"value.level == "error""#),
//!     ("transforms.addHost.type", "InsertField$Value"),
//!     ("transforms.addHost.static.field", "host"),
//!     ("transforms.addHost.static.value", "web-1"),
//! ]
//! .into_iter()
//! .map(|(k, v)| (k.to_string(), v.to_string()))
//! .collect();
//! let chain = TransformChain::from_config(&props).unwrap();
//!
//! let error = Record::new("logs", Data::Json(serde_json::json!({"level": "error"})));
//! let out = chain.apply(error).unwrap().unwrap();
//! assert_eq!(out.value, Data::Json(serde_json::json!({"level": "error", "host": "web-1"})));
//!
//! let info = Record::new("logs", Data::Json(serde_json::json!({"level": "info"})));
//! assert!(chain.apply(info).unwrap().is_none());
//! ```

use std::fmt;

use crate::{ConnectError, Record};

mod cast;
mod chain;
mod date_format;
mod drop_headers;
mod expression;
mod extract_field;
mod extract_new_record_state;
mod field;
mod filter;
mod header_from;
mod header_to_value;
mod hoist_field;
mod insert_field;
mod insert_header;
mod mask_field;
mod predicates;
mod regex_router;
mod registry;
mod replace_field;
mod timestamp_router;
mod value_to_key;

pub use chain::{owns_key, TransformChain};
pub use expression::{Condition, ConditionError};
pub use registry::{predicate_types, transform_types};

/// Changes, replaces or drops one record. `Ok(None)` drops it.
pub trait Transform: Send + Sync + fmt::Debug {
    fn apply(&self, record: Record) -> Result<Option<Record>, ConnectError>;

    /// Whether the record's key and value leave this transform as they came (it only
    /// routes, filters or touches headers), so a schema the source gave still
    /// describes them. After any other transform the chain drops the schemas: a
    /// schema that no longer matches its payload is worse than none.
    fn keeps_schemas(&self) -> bool {
        false
    }
}

/// A condition on a record, used with `transforms.<name>.predicate`.
pub trait Predicate: Send + Sync + fmt::Debug {
    fn test(&self, record: &Record) -> bool;
}
