//! The keys and values of `__consumer_offsets` records, in the byte layouts of Kafka's
//! `group-coordinator` schemas, so a Kafka tool reading the topic (or a broker
//! migrating from Kafka) sees what it expects.
//!
//! Every key and value starts with a big-endian `int16` schema version; then the fields
//! follow in the non-flexible encoding: `string` is an `int16` length and UTF-8 bytes
//! (`-1` for a null nullable string), `bytes` an `int32` length, arrays an `int32` count,
//! integers big-endian.
//!
//! | record              | version | fields                                                  |
//! |---------------------|--------:|---------------------------------------------------------|
//! | OffsetCommitKey     | 0, 1    | group, topic, partition:int32                           |
//! | GroupMetadataKey    | 2       | group                                                   |
//! | OffsetCommitValue   | 3       | offset:int64, leaderEpoch:int32, metadata, commitTimestamp:int64 |
//! | GroupMetadataValue  | 3       | protocolType, generation:int32, protocol?, leader?, currentStateTimestamp:int64, members[] |
//! | MemberMetadata (v3) |         | memberId, groupInstanceId?, clientId, clientHost, rebalanceTimeout:int32, sessionTimeout:int32, subscription:bytes, assignment:bytes |
//!
//! Writes use the versions above; reads also accept OffsetCommitValue v0–v2 and
//! GroupMetadataValue v0–v2 (older Kafka), whose fields are subsets. A null value is a
//! tombstone: the offset or group is gone.

use bytes::Bytes;

/// Kafka writes OffsetCommitKey as version 1 (0 is the same layout, from ZooKeeper days).
const OFFSET_KEY_VERSION: i16 = 1;
const GROUP_KEY_VERSION: i16 = 2;
const OFFSET_VALUE_VERSION: i16 = 3;
const GROUP_VALUE_VERSION: i16 = 3;

/// Which record a key names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum RecordKey {
    Offset {
        group: String,
        topic: String,
        partition: i32,
    },
    Group {
        group: String,
    },
}

impl RecordKey {
    pub(crate) fn group(&self) -> &str {
        match self {
            RecordKey::Offset { group, .. } | RecordKey::Group { group } => group,
        }
    }
}

/// A committed offset as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OffsetValue {
    pub(crate) offset: i64,
    pub(crate) leader_epoch: i32,
    pub(crate) metadata: String,
    pub(crate) commit_timestamp: i64,
    /// Only OffsetCommitValue v1 carries an explicit expiry.
    pub(crate) expire_timestamp: Option<i64>,
}

/// A group's membership as of its last completed rebalance.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct GroupValue {
    pub(crate) protocol_type: String,
    pub(crate) generation: i32,
    pub(crate) protocol: Option<String>,
    pub(crate) leader: Option<String>,
    pub(crate) current_state_timestamp: i64,
    pub(crate) members: Vec<MemberValue>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct MemberValue {
    pub(crate) member_id: String,
    pub(crate) group_instance_id: Option<String>,
    pub(crate) client_id: String,
    pub(crate) client_host: String,
    pub(crate) rebalance_timeout_ms: i32,
    pub(crate) session_timeout_ms: i32,
    /// The member's metadata for the selected protocol, byte for byte.
    pub(crate) subscription: Bytes,
    pub(crate) assignment: Bytes,
}

/// A value of a known key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RecordValue {
    Offset(OffsetValue),
    Group(GroupValue),
}

/// Why a stored record could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RecordError {
    #[error("the record ends early")]
    Truncated,
    #[error("unknown {what} schema version {version}")]
    UnknownVersion { what: &'static str, version: i16 },
    #[error("a string is not UTF-8")]
    NotUtf8,
    #[error("a non-nullable field is null")]
    UnexpectedNull,
}

/// `Utils.abs(group.hashCode()) % partitions`: the `__consumer_offsets` partition that
/// holds a group, the same one Kafka picks so both agree on where a group lives.
pub(crate) fn partition_for(group: &str, partitions: i32) -> i32 {
    let hash = java_string_hash(group);
    // Kafka's Utils.abs maps i32::MIN to 0 rather than overflowing.
    let abs = if hash == i32::MIN { 0 } else { hash.abs() };
    abs % partitions.max(1)
}

/// Java's `String.hashCode`: `s[0]*31^(n-1) + … + s[n-1]` over UTF-16 code units,
/// wrapping at 32 bits.
fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

pub(crate) fn encode_key(key: &RecordKey) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    match key {
        RecordKey::Offset {
            group,
            topic,
            partition,
        } => {
            put_i16(&mut out, OFFSET_KEY_VERSION);
            put_string(&mut out, group);
            put_string(&mut out, topic);
            put_i32(&mut out, *partition);
        }
        RecordKey::Group { group } => {
            put_i16(&mut out, GROUP_KEY_VERSION);
            put_string(&mut out, group);
        }
    }
    out
}

pub(crate) fn encode_offset_value(value: &OffsetValue) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + value.metadata.len());
    put_i16(&mut out, OFFSET_VALUE_VERSION);
    put_i64(&mut out, value.offset);
    put_i32(&mut out, value.leader_epoch);
    put_string(&mut out, &value.metadata);
    put_i64(&mut out, value.commit_timestamp);
    out
}

pub(crate) fn encode_group_value(value: &GroupValue) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    put_i16(&mut out, GROUP_VALUE_VERSION);
    put_string(&mut out, &value.protocol_type);
    put_i32(&mut out, value.generation);
    put_nullable_string(&mut out, value.protocol.as_deref());
    put_nullable_string(&mut out, value.leader.as_deref());
    put_i64(&mut out, value.current_state_timestamp);
    put_i32(&mut out, value.members.len() as i32);
    for m in &value.members {
        put_string(&mut out, &m.member_id);
        put_nullable_string(&mut out, m.group_instance_id.as_deref());
        put_string(&mut out, &m.client_id);
        put_string(&mut out, &m.client_host);
        put_i32(&mut out, m.rebalance_timeout_ms);
        put_i32(&mut out, m.session_timeout_ms);
        put_i32(&mut out, m.subscription.len() as i32);
        out.extend_from_slice(&m.subscription);
        put_i32(&mut out, m.assignment.len() as i32);
        out.extend_from_slice(&m.assignment);
    }
    out
}

pub(crate) fn decode_key(buf: &[u8]) -> Result<RecordKey, RecordError> {
    let mut r = Reader { buf, pos: 0 };
    match r.i16()? {
        0 | 1 => Ok(RecordKey::Offset {
            group: r.string()?,
            topic: r.string()?,
            partition: r.i32()?,
        }),
        2 => Ok(RecordKey::Group { group: r.string()? }),
        version => Err(RecordError::UnknownVersion {
            what: "key",
            version,
        }),
    }
}

/// Decodes the value stored under `key`.
pub(crate) fn decode_value(key: &RecordKey, buf: &[u8]) -> Result<RecordValue, RecordError> {
    let mut r = Reader { buf, pos: 0 };
    let version = r.i16()?;
    match key {
        RecordKey::Offset { .. } => {
            if !(0..=3).contains(&version) {
                return Err(RecordError::UnknownVersion {
                    what: "OffsetCommitValue",
                    version,
                });
            }
            let offset = r.i64()?;
            let leader_epoch = if version >= 3 { r.i32()? } else { -1 };
            let metadata = r.string()?;
            let commit_timestamp = r.i64()?;
            let expire_timestamp = if version == 1 { Some(r.i64()?) } else { None };
            Ok(RecordValue::Offset(OffsetValue {
                offset,
                leader_epoch,
                metadata,
                commit_timestamp,
                expire_timestamp: expire_timestamp.filter(|&t| t >= 0),
            }))
        }
        RecordKey::Group { .. } => {
            if !(0..=3).contains(&version) {
                return Err(RecordError::UnknownVersion {
                    what: "GroupMetadataValue",
                    version,
                });
            }
            let protocol_type = r.string()?;
            let generation = r.i32()?;
            let protocol = r.nullable_string()?;
            let leader = r.nullable_string()?;
            let current_state_timestamp = if version >= 2 { r.i64()? } else { -1 };
            let count = r.i32()?.max(0) as usize;
            // Each member takes at least 20 bytes, so a hostile count cannot make this
            // allocate more than the record holds.
            let mut members = Vec::with_capacity(count.min(r.remaining() / 20));
            for _ in 0..count {
                let member_id = r.string()?;
                let group_instance_id = if version >= 3 {
                    r.nullable_string()?
                } else {
                    None
                };
                let client_id = r.string()?;
                let client_host = r.string()?;
                let session_first = version == 0;
                let (rebalance_timeout_ms, session_timeout_ms) = if session_first {
                    let session = r.i32()?;
                    (session, session)
                } else {
                    (r.i32()?, r.i32()?)
                };
                members.push(MemberValue {
                    member_id,
                    group_instance_id,
                    client_id,
                    client_host,
                    rebalance_timeout_ms,
                    session_timeout_ms,
                    subscription: r.bytes()?,
                    assignment: r.bytes()?,
                });
            }
            Ok(RecordValue::Group(GroupValue {
                protocol_type,
                generation,
                protocol,
                leader,
                current_state_timestamp,
                members,
            }))
        }
    }
}

fn put_i16(out: &mut Vec<u8>, v: i16) {
    out.extend_from_slice(&v.to_be_bytes());
}
fn put_i32(out: &mut Vec<u8>, v: i32) {
    out.extend_from_slice(&v.to_be_bytes());
}
fn put_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(&v.to_be_bytes());
}
fn put_string(out: &mut Vec<u8>, s: &str) {
    // Group ids, topics and metadata are capped well below 32 KiB by the protocol
    // (strings there are int16-prefixed too), so the length always fits.
    put_i16(out, s.len() as i16);
    out.extend_from_slice(s.as_bytes());
}
fn put_nullable_string(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => put_string(out, s),
        None => put_i16(out, -1),
    }
}

/// A bounds-checked cursor: every read checks what remains first.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    fn take(&mut self, n: usize) -> Result<&[u8], RecordError> {
        if self.remaining() < n {
            return Err(RecordError::Truncated);
        }
        let slice = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(slice)
    }
    fn i16(&mut self) -> Result<i16, RecordError> {
        Ok(i16::from_be_bytes(self.take(2)?.try_into().expect("2")))
    }
    fn i32(&mut self) -> Result<i32, RecordError> {
        Ok(i32::from_be_bytes(self.take(4)?.try_into().expect("4")))
    }
    fn i64(&mut self) -> Result<i64, RecordError> {
        Ok(i64::from_be_bytes(self.take(8)?.try_into().expect("8")))
    }
    fn nullable_string(&mut self) -> Result<Option<String>, RecordError> {
        let len = self.i16()?;
        if len < 0 {
            return Ok(None);
        }
        let bytes = self.take(len as usize)?;
        String::from_utf8(bytes.to_vec())
            .map(Some)
            .map_err(|_| RecordError::NotUtf8)
    }
    fn string(&mut self) -> Result<String, RecordError> {
        self.nullable_string()?.ok_or(RecordError::UnexpectedNull)
    }
    fn bytes(&mut self) -> Result<Bytes, RecordError> {
        let len = self.i32()?;
        if len < 0 {
            return Ok(Bytes::new());
        }
        Ok(Bytes::copy_from_slice(self.take(len as usize)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_matches_kafkas_java_hash() {
        // "abc".hashCode() == 96354 in Java.
        assert_eq!(java_string_hash("abc"), 96354);
        assert_eq!(partition_for("abc", 50), 96354 % 50);
        // Negative hashes take the absolute value: "polygenelubricants" hashes to
        // i32::MIN in Java, which Kafka's Utils.abs maps to 0.
        assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
        assert_eq!(partition_for("polygenelubricants", 50), 0);
        let negative = java_string_hash("consumer-group-x");
        assert_eq!(
            partition_for("consumer-group-x", 50),
            negative.abs() % 50,
            "hash {negative}"
        );
    }

    #[test]
    fn offset_key_and_value_have_kafkas_bytes() {
        let key = encode_key(&RecordKey::Offset {
            group: "g".into(),
            topic: "t".into(),
            partition: 3,
        });
        assert_eq!(key, [0, 1, 0, 1, b'g', 0, 1, b't', 0, 0, 0, 3]);
        let value = OffsetValue {
            offset: 42,
            leader_epoch: -1,
            metadata: "m".into(),
            commit_timestamp: 7,
            expire_timestamp: None,
        };
        let bytes = encode_offset_value(&value);
        let mut want = vec![0, 3];
        want.extend_from_slice(&42i64.to_be_bytes());
        want.extend_from_slice(&(-1i32).to_be_bytes());
        want.extend_from_slice(&[0, 1, b'm']);
        want.extend_from_slice(&7i64.to_be_bytes());
        assert_eq!(bytes, want);
        let key = decode_key(&key).unwrap();
        assert_eq!(
            decode_value(&key, &bytes).unwrap(),
            RecordValue::Offset(value)
        );
    }

    #[test]
    fn group_value_round_trips_and_rejects_truncation() {
        let key = RecordKey::Group { group: "g".into() };
        assert_eq!(encode_key(&key), [0, 2, 0, 1, b'g']);
        let value = GroupValue {
            protocol_type: "consumer".into(),
            generation: 5,
            protocol: Some("range".into()),
            leader: Some("m-1".into()),
            current_state_timestamp: 99,
            members: vec![MemberValue {
                member_id: "m-1".into(),
                group_instance_id: Some("i-1".into()),
                client_id: "c".into(),
                client_host: "/127.0.0.1".into(),
                rebalance_timeout_ms: 300_000,
                session_timeout_ms: 10_000,
                subscription: Bytes::from_static(b"\x00\x01sub"),
                assignment: Bytes::from_static(b"asg"),
            }],
        };
        let bytes = encode_group_value(&value);
        assert_eq!(
            decode_value(&key, &bytes).unwrap(),
            RecordValue::Group(value)
        );
        for len in 0..bytes.len() {
            assert!(decode_value(&key, &bytes[..len]).is_err(), "{len}");
        }
    }

    #[test]
    fn older_offset_values_decode() {
        let key = RecordKey::Offset {
            group: "g".into(),
            topic: "t".into(),
            partition: 0,
        };
        let mut v1 = vec![0, 1];
        v1.extend_from_slice(&10i64.to_be_bytes());
        v1.extend_from_slice(&[0, 0]);
        v1.extend_from_slice(&1i64.to_be_bytes());
        v1.extend_from_slice(&2i64.to_be_bytes());
        let RecordValue::Offset(value) = decode_value(&key, &v1).unwrap() else {
            panic!("not an offset");
        };
        assert_eq!(
            (value.offset, value.expire_timestamp, value.leader_epoch),
            (10, Some(2), -1)
        );
        assert!(matches!(
            decode_key(&[0, 9]),
            Err(RecordError::UnknownVersion { .. })
        ));
    }
}
