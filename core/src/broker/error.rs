/// Why the broker could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("opening the broker's topics failed")]
    Metadata(#[from] crate::metadata::MetadataError),
    #[error("loading consumer groups failed")]
    Groups(#[from] crate::group::StoreError),
    #[error("loading transactions failed")]
    Transactions(#[from] crate::txn::TxnStoreError),
    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}
