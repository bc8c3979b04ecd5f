//! The `pgoutput` logical decoding messages (protocol version 1), as PostgreSQL's
//! "Logical Replication Message Formats" describes them: a one-byte tag, then integers
//! in network byte order (big-endian) and NUL-terminated strings. [`decode`] reads the
//! payload of one XLogData message; [`encode`] is its inverse.
//!
//! The connector starts replication with `proto_version '1'` and leaves `streaming`
//! and `two_phase` off. So the transaction ID that versions 2 and later put in front of
//! changes of streamed transactions never appears, and the streaming and two-phase
//! messages are refused by name rather than guessed at. What later servers add
//! without changing version 1's layout is accepted: binary column values (the
//! `binary` option) and logical decoding messages (the `messages` option).
//!
//! Column values and message contents are slices of the payload. Names are copied
//! into `String`s: the connector keeps relations for the life of the stream, and a
//! slice would pin each whole payload for that long.

use bytes::Bytes;

mod decode;
mod encode;
mod error;
#[cfg(test)]
mod tests;

pub(crate) use self::decode::decode;
pub(crate) use self::encode::encode;

/// A WAL position (`XLogRecPtr`); `pg_lsn` shows it as its two hex halves, `16/B374D48`.
pub(crate) type Lsn = u64;

/// One `pgoutput` message.
// `Message::Message` is PostgreSQL's own name for a logical decoding message.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Message {
    /// 'B': a transaction starts; its changes follow, then [`Message::Commit`].
    Begin {
        final_lsn: Lsn,
        /// Microseconds since 2000-01-01 00:00 UTC (PostgreSQL's epoch), as sent.
        commit_time_us: i64,
        xid: u32,
    },
    /// 'C': the transaction that the last [`Message::Begin`] started committed.
    Commit {
        /// Unused by PostgreSQL so far (always 0); kept so nothing is lost.
        flags: u8,
        commit_lsn: Lsn,
        end_lsn: Lsn,
        commit_time_us: i64,
    },
    /// 'O': the transaction was replicated into this server from another one.
    Origin { commit_lsn: Lsn, name: String },
    /// 'R': a relation's columns, sent before its first change in the stream and again
    /// whenever it changed.
    Relation(Relation),
    /// 'Y': a type that is not built in (an enum, a domain), sent before the first
    /// relation that uses it.
    Type {
        oid: u32,
        namespace: String,
        name: String,
    },
    /// 'I'
    Insert { relation: u32, new: Tuple },
    /// 'U': `old` is there only when the replica identity asks for it and, for a key,
    /// only when the key changed.
    Update {
        relation: u32,
        old: Option<OldTuple>,
        new: Tuple,
    },
    /// 'D'
    Delete { relation: u32, old: OldTuple },
    /// 'T'
    Truncate {
        /// Bits: 1 for `CASCADE`, 2 for `RESTART IDENTITY`.
        options: u8,
        relations: Vec<u32>,
    },
    /// 'M': a message from `pg_logical_emit_message`.
    Message {
        /// Transactional messages come between Begin and Commit; others on their own.
        transactional: bool,
        lsn: Lsn,
        prefix: String,
        content: Bytes,
    },
}

/// The old row of an update or a delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OldTuple {
    /// 'K': the replica identity's columns; the others are [`ColumnValue::Null`].
    Key(Tuple),
    /// 'O': every column (`REPLICA IDENTITY FULL`).
    Full(Tuple),
}

/// A relation message: how to read the tuples of relation `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Relation {
    pub(crate) id: u32,
    /// Empty for `pg_catalog`.
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) replica_identity: ReplicaIdentity,
    /// In the order of the values of every tuple of the relation.
    pub(crate) columns: Vec<RelationColumn>,
}

/// `pg_class.relreplident`: which old values updates and deletes carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReplicaIdentity {
    /// 'd': the primary key.
    Default,
    /// 'n': none.
    Nothing,
    /// 'f': the whole row.
    Full,
    /// 'i': the columns of a chosen unique index.
    Index,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RelationColumn {
    /// The 1 bit of the column's flags. PostgreSQL defines no other; any other is
    /// ignored, since it could only describe the column, never change the layout.
    pub(crate) part_of_key: bool,
    pub(crate) name: String,
    pub(crate) type_oid: u32,
    /// `atttypmod`: -1 when the type has none.
    pub(crate) type_modifier: i32,
}

/// One value per column of the relation, in the relation message's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tuple(pub(crate) Vec<ColumnValue>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ColumnValue {
    /// 'n'
    Null,
    /// 'u': a TOASTed value the change did not touch, so the server did not send it.
    Unchanged,
    /// 't': the type's text output in the client encoding (UTF-8 for the connector).
    /// Not checked here: the caller parses the text by its type anyway, and checks
    /// UTF-8 where it keeps the text as a string.
    Text(Bytes),
    /// 'b': the type's binary send format (only with the `binary` option).
    Binary(Bytes),
}
