//! Writing a [`Message`] as the server would.

use bytes::BufMut;

use super::*;

/// The inverse of [`decode`](super::decode), for tests and the fuzz target's round trip.
///
/// Panics when a list or a value is longer than its count or length field can say
/// (65535 columns, 2 GiB), and writes a name with a NUL in it that no decode gives
/// back: neither comes out of [`decode`](super::decode).
pub(crate) fn encode(message: &Message) -> Vec<u8> {
    // BufMut's put_* write big-endian, pgoutput's byte order.
    let mut out = Vec::new();
    match message {
        Message::Begin {
            final_lsn,
            commit_time_us,
            xid,
        } => {
            out.put_u8(b'B');
            out.put_u64(*final_lsn);
            out.put_i64(*commit_time_us);
            out.put_u32(*xid);
        }
        Message::Commit {
            flags,
            commit_lsn,
            end_lsn,
            commit_time_us,
        } => {
            out.put_u8(b'C');
            out.put_u8(*flags);
            out.put_u64(*commit_lsn);
            out.put_u64(*end_lsn);
            out.put_i64(*commit_time_us);
        }
        Message::Origin { commit_lsn, name } => {
            out.put_u8(b'O');
            out.put_u64(*commit_lsn);
            put_string(&mut out, name);
        }
        Message::Relation(relation) => {
            out.put_u8(b'R');
            out.put_u32(relation.id);
            put_string(&mut out, &relation.namespace);
            put_string(&mut out, &relation.name);
            out.put_u8(match relation.replica_identity {
                ReplicaIdentity::Default => b'd',
                ReplicaIdentity::Nothing => b'n',
                ReplicaIdentity::Full => b'f',
                ReplicaIdentity::Index => b'i',
            });
            out.put_u16(u16::try_from(relation.columns.len()).expect("at most 65535 columns"));
            for column in &relation.columns {
                out.put_u8(u8::from(column.part_of_key));
                put_string(&mut out, &column.name);
                out.put_u32(column.type_oid);
                out.put_i32(column.type_modifier);
            }
        }
        Message::Type {
            oid,
            namespace,
            name,
        } => {
            out.put_u8(b'Y');
            out.put_u32(*oid);
            put_string(&mut out, namespace);
            put_string(&mut out, name);
        }
        Message::Insert { relation, new } => {
            out.put_u8(b'I');
            out.put_u32(*relation);
            put_tuple(&mut out, b'N', new);
        }
        Message::Update { relation, old, new } => {
            out.put_u8(b'U');
            out.put_u32(*relation);
            if let Some(old) = old {
                put_old_tuple(&mut out, old);
            }
            put_tuple(&mut out, b'N', new);
        }
        Message::Delete { relation, old } => {
            out.put_u8(b'D');
            out.put_u32(*relation);
            put_old_tuple(&mut out, old);
        }
        Message::Truncate { options, relations } => {
            out.put_u8(b'T');
            out.put_u32(u32::try_from(relations.len()).expect("at most 2^32-1 relations"));
            out.put_u8(*options);
            for relation in relations {
                out.put_u32(*relation);
            }
        }
        Message::Message {
            transactional,
            lsn,
            prefix,
            content,
        } => {
            out.put_u8(b'M');
            out.put_u8(u8::from(*transactional));
            out.put_u64(*lsn);
            put_string(&mut out, prefix);
            put_sized(&mut out, content);
        }
    }
    out
}

fn put_string(out: &mut Vec<u8>, text: &str) {
    out.put_slice(text.as_bytes());
    out.put_u8(0);
}

fn put_sized(out: &mut Vec<u8>, bytes: &[u8]) {
    out.put_i32(i32::try_from(bytes.len()).expect("at most 2 GiB"));
    out.put_slice(bytes);
}

fn put_old_tuple(out: &mut Vec<u8>, old: &OldTuple) {
    match old {
        OldTuple::Key(tuple) => put_tuple(out, b'K', tuple),
        OldTuple::Full(tuple) => put_tuple(out, b'O', tuple),
    }
}

fn put_tuple(out: &mut Vec<u8>, marker: u8, tuple: &Tuple) {
    out.put_u8(marker);
    out.put_u16(u16::try_from(tuple.0.len()).expect("at most 65535 columns"));
    for value in &tuple.0 {
        match value {
            ColumnValue::Null => out.put_u8(b'n'),
            ColumnValue::Unchanged => out.put_u8(b'u'),
            ColumnValue::Text(text) => {
                out.put_u8(b't');
                put_sized(out, text);
            }
            ColumnValue::Binary(binary) => {
                out.put_u8(b'b');
                put_sized(out, binary);
            }
        }
    }
}
