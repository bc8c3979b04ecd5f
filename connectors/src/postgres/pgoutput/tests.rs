use super::error::{DecodeError, Problem};
use super::*;

fn payload(parts: &[&[u8]]) -> Bytes {
    Bytes::from(parts.concat())
}

fn hex(text: &str) -> Bytes {
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&text[at..at + 2], 16).expect("hex"))
        .collect::<Vec<u8>>()
        .into()
}

fn text(value: &'static str) -> ColumnValue {
    ColumnValue::Text(Bytes::from_static(value.as_bytes()))
}

fn error(data: &[u8]) -> DecodeError {
    decode(&Bytes::copy_from_slice(data)).expect_err("malformed")
}

/// 2024-01-01 00:00 UTC in PostgreSQL's epoch.
const NEW_YEAR_2024_US: i64 = 757_382_400_000_000;

#[test]
fn begin_carries_final_lsn_commit_time_and_xid() {
    let data = payload(&[
        b"B",
        &0x0000_0001_6B37_4D48u64.to_be_bytes(),
        &NEW_YEAR_2024_US.to_be_bytes(),
        &742u32.to_be_bytes(),
    ]);
    assert_eq!(
        decode(&data),
        Ok(Message::Begin {
            final_lsn: 0x1_6B37_4D48,
            commit_time_us: NEW_YEAR_2024_US,
            xid: 742,
        })
    );
}

#[test]
fn commit_carries_flags_both_lsns_and_commit_time() {
    let data = payload(&[
        b"C\0",
        &0x10u64.to_be_bytes(),
        &0x38u64.to_be_bytes(),
        &(-1i64).to_be_bytes(),
    ]);
    assert_eq!(
        decode(&data),
        Ok(Message::Commit {
            flags: 0,
            commit_lsn: 0x10,
            end_lsn: 0x38,
            commit_time_us: -1,
        })
    );
}

#[test]
fn origin_carries_the_origin_commit_lsn_and_name() {
    let data = payload(&[b"O", &0xABCDEFu64.to_be_bytes(), "ünterwegs\0".as_bytes()]);
    assert_eq!(
        decode(&data),
        Ok(Message::Origin {
            commit_lsn: 0xABCDEF,
            name: "ünterwegs".into(),
        })
    );
}

#[test]
fn relation_carries_replica_identity_and_columns_with_key_flags() {
    let data = payload(&[
        b"R",
        &16391u32.to_be_bytes(),
        b"public\0accounts\0i",
        &2u16.to_be_bytes(),
        b"\x01id\0",
        &20u32.to_be_bytes(),
        &(-1i32).to_be_bytes(),
        // A flag bit PostgreSQL does not define yet does not make a key.
        b"\x02name\0",
        &1043u32.to_be_bytes(),
        &24i32.to_be_bytes(),
    ]);
    assert_eq!(
        decode(&data),
        Ok(Message::Relation(Relation {
            id: 16391,
            namespace: "public".into(),
            name: "accounts".into(),
            replica_identity: ReplicaIdentity::Index,
            columns: vec![
                RelationColumn {
                    part_of_key: true,
                    name: "id".into(),
                    type_oid: 20,
                    type_modifier: -1,
                },
                RelationColumn {
                    part_of_key: false,
                    name: "name".into(),
                    type_oid: 1043,
                    type_modifier: 24,
                },
            ],
        }))
    );
    for (byte, identity) in [
        (b'd', ReplicaIdentity::Default),
        (b'n', ReplicaIdentity::Nothing),
        (b'f', ReplicaIdentity::Full),
    ] {
        let data = payload(&[b"R\0\0\0\x01\0t\0", &[byte], b"\0\0"]);
        let Ok(Message::Relation(relation)) = decode(&data) else {
            panic!("{byte} does not decode");
        };
        assert_eq!(relation.replica_identity, identity);
        assert_eq!(relation.namespace, "", "pg_catalog's namespace is empty");
    }
}

#[test]
fn type_carries_oid_namespace_and_name() {
    let data = payload(&[b"Y", &16385u32.to_be_bytes(), b"public\0mood\0"]);
    assert_eq!(
        decode(&data),
        Ok(Message::Type {
            oid: 16385,
            namespace: "public".into(),
            name: "mood".into(),
        })
    );
}

#[test]
fn insert_carries_every_kind_of_column_value() {
    let data = payload(&[
        b"I",
        &7u32.to_be_bytes(),
        b"N",
        &4u16.to_be_bytes(),
        b"t\0\0\0\x03ada",
        b"n",
        b"u",
        b"b\0\0\0\x02\x00\xff",
    ]);
    assert_eq!(
        decode(&data),
        Ok(Message::Insert {
            relation: 7,
            new: Tuple(vec![
                text("ada"),
                ColumnValue::Null,
                ColumnValue::Unchanged,
                ColumnValue::Binary(Bytes::from_static(b"\x00\xff")),
            ]),
        })
    );
}

#[test]
fn column_values_are_slices_of_the_payload() {
    let data = payload(&[b"I\0\0\0\x07N\0\x01t\0\0\0\x05hello"]);
    let Ok(Message::Insert { new, .. }) = decode(&data) else {
        panic!("does not decode");
    };
    let ColumnValue::Text(value) = &new.0[0] else {
        panic!("not text");
    };
    let range = data.as_ptr_range();
    assert!(range.contains(&value.as_ptr()), "the value was copied");
    assert_eq!(&value[..], b"hello");
}

#[test]
fn update_carries_no_old_tuple_a_key_or_a_full_old_row() {
    let new = Tuple(vec![text("2"), text("bob")]);
    let tuple = |marker: &[u8], first: &[u8]| {
        [marker, b"\0\x02t\0\0\0\x01", first, b"t\0\0\0\x03bob"].concat()
    };
    let relation = 9u32.to_be_bytes();
    assert_eq!(
        decode(&payload(&[b"U", &relation, &tuple(b"N", b"2")])),
        Ok(Message::Update {
            relation: 9,
            old: None,
            new: new.clone(),
        })
    );
    assert_eq!(
        decode(&payload(&[
            b"U",
            &relation,
            b"K\0\x02t\0\0\0\x011n",
            &tuple(b"N", b"2")
        ])),
        Ok(Message::Update {
            relation: 9,
            old: Some(OldTuple::Key(Tuple(vec![text("1"), ColumnValue::Null]))),
            new: new.clone(),
        })
    );
    assert_eq!(
        decode(&payload(&[
            b"U",
            &relation,
            &tuple(b"O", b"1"),
            &tuple(b"N", b"2")
        ])),
        Ok(Message::Update {
            relation: 9,
            old: Some(OldTuple::Full(Tuple(vec![text("1"), text("bob")]))),
            new,
        })
    );
}

#[test]
fn update_with_an_old_tuple_needs_the_new_one() {
    let data = b"U\0\0\0\x09K\0\x01nO\0\x01n";
    assert_eq!(
        error(data).to_string(),
        "pgoutput Update message: unexpected new tuple marker 'O' (0x4f) at byte 9 \
         (expected 'N')"
    );
}

#[test]
fn delete_carries_a_key_or_a_full_old_row() {
    assert_eq!(
        decode(&payload(&[
            b"D",
            &9u32.to_be_bytes(),
            b"K\0\x02t\0\0\0\x013n"
        ])),
        Ok(Message::Delete {
            relation: 9,
            old: OldTuple::Key(Tuple(vec![text("3"), ColumnValue::Null])),
        })
    );
    assert_eq!(
        decode(&payload(&[
            b"D",
            &9u32.to_be_bytes(),
            b"O\0\x01t\0\0\0\x013"
        ])),
        Ok(Message::Delete {
            relation: 9,
            old: OldTuple::Full(Tuple(vec![text("3")])),
        })
    );
    assert_eq!(
        error(b"D\0\0\0\x09N\0\0").to_string(),
        "pgoutput Delete message: unexpected tuple marker 'N' (0x4e) at byte 5 \
         (expected 'K' or 'O')"
    );
}

#[test]
fn truncate_carries_options_and_relations() {
    let data = payload(&[
        b"T",
        &2u32.to_be_bytes(),
        &[3],
        &16404u32.to_be_bytes(),
        &16410u32.to_be_bytes(),
    ]);
    assert_eq!(
        decode(&data),
        Ok(Message::Truncate {
            options: 3,
            relations: vec![16404, 16410],
        })
    );
}

#[test]
fn logical_decoding_message_carries_flags_lsn_prefix_and_content() {
    let data = payload(&[
        b"M\x01",
        &0x154_D4F0u64.to_be_bytes(),
        b"weir.test\0",
        &3u32.to_be_bytes(),
        b"\x00\xff\x01",
    ]);
    assert_eq!(
        decode(&data),
        Ok(Message::Message {
            transactional: true,
            lsn: 0x154_D4F0,
            prefix: "weir.test".into(),
            content: Bytes::from_static(b"\x00\xff\x01"),
        })
    );
    let mut flags = data.to_vec();
    flags[1] = 2;
    assert_eq!(
        error(&flags).to_string(),
        "pgoutput logical decoding message: unexpected flags 0x02 at byte 1 (expected 0 or 1)"
    );
}

/// Payloads that PostgreSQL 15 sent for `proto_version '1'` (with `messages`, and
/// one with `binary`), read with `pg_logical_slot_peek_binary_changes`.
const CAPTURED: [&str; 16] = [
    "42000000000154b460000304b94e753cc2000002db",
    "59000040017075626c6963006d6f6f6400",
    "52000040077075626c6963006163636f756e7473006400050169640000000014ffffffff006e616d65\
     0000000413000000180062616c616e636500000006a4000c0006006665656c696e670000004001ffff\
     ffff006e6f7465730000000019ffffffff",
    "49000040074e00057400000001317400000003616461740000000531322e3530740000000568617070796e",
    "4300000000000154b460000000000154b490000304b94e753cc2",
    "55000040074e00057400000001327400000003626f62740000000539392e393974000000026f6b75",
    "55000040074b00057400000001316e6e6e6e4e00057400000001337400000003616461740000000531\
     322e3530740000000568617070796e",
    "44000040074b00057400000001336e6e6e6e",
    "520000400e7075626c69630061756469740066000201617400000004a0ffffffff0177686174000000\
     0019ffffffff",
    "550000400e4f00027400000016323032342d30312d30312030303a30303a30302b303074000000066f\
     70656e65644e00027400000016323032342d30312d30312030303a30303a30302b3030740000000663\
     6c6f736564",
    "440000400e4f00027400000016323032342d30312d30312030303a30303a30302b3030740000000663\
     6c6f736564",
    "4d01000000000154d4f0776569722e7465737400000000137472616e73616374696f6e616c2068656c6c6f",
    "4d00000000000154d6a8776569722e6e6f6e7478000000000300ff01",
    "540000000203000040140000401a",
    "4f0000000000abcdef757073747265616d00",
    "49000040074e0005620000000800000000000000016200000003616461620000000c00020000000000\
     02000c1388620000000568617070796e",
];

#[test]
fn payloads_postgresql_sent_decode_and_encode_to_the_same_bytes() {
    for captured in CAPTURED {
        let data = hex(captured);
        let message = decode(&data).unwrap_or_else(|err| panic!("{captured}: {err}"));
        assert_eq!(encode(&message), data, "{message:?}");
    }
    // An update that left the TOASTed `notes` column alone.
    let Ok(Message::Update { old: None, new, .. }) = decode(&hex(CAPTURED[5])) else {
        panic!("not an update without an old tuple");
    };
    assert_eq!(new.0[4], ColumnValue::Unchanged);
    // An update of the key: the old key, with the other columns null.
    let Ok(Message::Update {
        old: Some(OldTuple::Key(key)),
        ..
    }) = decode(&hex(CAPTURED[6]))
    else {
        panic!("not an update of the key");
    };
    assert_eq!(key.0[0], text("1"));
    assert!(key.0[1..].iter().all(|value| *value == ColumnValue::Null));
}

#[test]
fn a_change_of_a_streamed_transaction_is_refused_not_misread() {
    // A Relation message of a streamed transaction (protocol 2): the xid comes first.
    let streamed = hex(
        "52000002f30000400e7075626c69630061756469740066000201617400000004a0ffffffff01776861\
         740000000019ffffffff",
    );
    assert!(decode(&streamed).is_err());
    let start = error(&hex("53000002f301"));
    assert_eq!(
        start.to_string(),
        "pgoutput Stream Start message: unsupported message type 'S' (0x53) at byte 0: the \
         connector decodes protocol version 1 only, so replication must be started with \
         `streaming` off"
    );
    for tag in [b'E', b'c', b'A', b'p'] {
        let err = error(&[tag, 0, 0, 0, 1]).to_string();
        assert!(
            err.contains("unsupported") && err.contains("`streaming` off"),
            "{err}"
        );
    }
    for tag in [b'b', b'P', b'K', b'r'] {
        let err = error(&[tag, 0, 0, 0, 1]).to_string();
        assert!(
            err.contains("unsupported") && err.contains("`two_phase` off"),
            "{err}"
        );
    }
}

#[test]
fn an_unknown_tag_is_named_in_the_error() {
    assert_eq!(
        error(b"Z\0\0").to_string(),
        "pgoutput message: unknown message type 'Z' (0x5a) at byte 0"
    );
    assert_eq!(
        error(b"\x00").to_string(),
        "pgoutput message: unknown message type 0x00 at byte 0"
    );
    assert_eq!(
        error(b"").to_string(),
        "pgoutput message: truncated message type at byte 0 (needs 1 byte, 0 left)"
    );
}

#[test]
fn a_truncated_value_names_its_column_and_offset() {
    let data = b"I\0\0\0\x07N\0\x03nt\0\0\0\x04abcdt\0\0\0\x0cshort";
    assert_eq!(
        error(data).to_string(),
        "pgoutput Insert message: truncated column 3 value at byte 23 (needs 12 bytes, 5 left)"
    );
}

fn samples() -> Vec<Message> {
    let tuple = Tuple(vec![
        text("42"),
        ColumnValue::Null,
        ColumnValue::Unchanged,
        ColumnValue::Binary(Bytes::from_static(&[0, 0, 0, 42])),
        text(""),
    ]);
    vec![
        Message::Begin {
            final_lsn: u64::MAX,
            commit_time_us: i64::MIN,
            xid: u32::MAX,
        },
        Message::Commit {
            flags: 0,
            commit_lsn: 1,
            end_lsn: 2,
            commit_time_us: NEW_YEAR_2024_US,
        },
        Message::Origin {
            commit_lsn: 3,
            name: String::new(),
        },
        Message::Relation(Relation {
            id: 1,
            namespace: "ns".into(),
            name: "t".into(),
            replica_identity: ReplicaIdentity::Full,
            columns: vec![RelationColumn {
                part_of_key: true,
                name: "c".into(),
                type_oid: 25,
                type_modifier: -1,
            }],
        }),
        Message::Relation(Relation {
            id: 2,
            namespace: String::new(),
            name: "empty".into(),
            replica_identity: ReplicaIdentity::Nothing,
            columns: Vec::new(),
        }),
        Message::Type {
            oid: 16385,
            namespace: "public".into(),
            name: "mood".into(),
        },
        Message::Insert {
            relation: 1,
            new: tuple.clone(),
        },
        Message::Insert {
            relation: 1,
            new: Tuple(Vec::new()),
        },
        Message::Update {
            relation: 1,
            old: None,
            new: tuple.clone(),
        },
        Message::Update {
            relation: 1,
            old: Some(OldTuple::Key(tuple.clone())),
            new: tuple.clone(),
        },
        Message::Update {
            relation: 1,
            old: Some(OldTuple::Full(tuple.clone())),
            new: tuple.clone(),
        },
        Message::Delete {
            relation: 1,
            old: OldTuple::Key(tuple.clone()),
        },
        Message::Delete {
            relation: 1,
            old: OldTuple::Full(tuple),
        },
        Message::Truncate {
            options: 0,
            relations: Vec::new(),
        },
        Message::Truncate {
            options: 1,
            relations: vec![1, 2, 3],
        },
        Message::Message {
            transactional: false,
            lsn: 4,
            prefix: "p".into(),
            content: Bytes::new(),
        },
    ]
}

#[test]
fn every_message_decodes_from_its_encoding() {
    for message in samples() {
        let data = Bytes::from(encode(&message));
        assert_eq!(decode(&data), Ok(message));
    }
}

#[test]
fn a_message_cut_short_anywhere_is_an_error() {
    let encodings = samples()
        .into_iter()
        .map(|message| Bytes::from(encode(&message)))
        .chain(CAPTURED.into_iter().map(hex));
    for data in encodings {
        for len in 0..data.len() {
            let err = decode(&data.slice(..len)).expect_err("a prefix decoded");
            assert!(err.offset() <= len, "{err}");
        }
    }
}

#[test]
fn bytes_after_a_complete_message_are_an_error() {
    let mut data = encode(&samples()[0]);
    data.extend_from_slice(b"xy");
    assert_eq!(
        error(&data).to_string(),
        "pgoutput Begin message: 2 bytes left over at byte 21 after a complete message"
    );
}

#[test]
fn a_count_larger_than_the_bytes_left_fails_before_allocating() {
    let relation = error(b"R\0\0\0\x01public\0t\0d\xff\xffabc");
    assert_eq!(
        relation.to_string(),
        "pgoutput Relation message: column count 65535 at byte 15 cannot fit (needs at \
         least 655350 bytes, 3 left)"
    );
    let insert = error(b"I\0\0\0\x01N\xff\xffnnn");
    assert!(matches!(
        insert.problem,
        Problem::CountTooLarge { count: 65535, .. }
    ));
    let truncate = error(b"T\xff\xff\xff\xff\x00\0\0\0\x01");
    assert!(matches!(
        truncate.problem,
        Problem::CountTooLarge {
            count: u32::MAX,
            ..
        }
    ));
}

#[test]
fn a_count_the_bytes_left_can_just_hold_is_read() {
    // Three null columns take three bytes, the least a column can take.
    assert!(decode(&Bytes::from_static(b"I\0\0\0\x01N\0\x03nnn")).is_ok());
    assert!(matches!(
        error(b"I\0\0\0\x01N\0\x04nnn").problem,
        Problem::CountTooLarge { count: 4, .. }
    ));
    // A column with an empty name takes ten.
    let column = b"\0\0\0\0\0\x19\xff\xff\xff\xff";
    assert!(decode(&payload(&[b"R\0\0\0\x01\0t\0d\0\x01", column])).is_ok());
    assert!(matches!(
        error(&payload(&[b"R\0\0\0\x01\0t\0d\0\x02", column])).problem,
        Problem::CountTooLarge { count: 2, .. }
    ));
}

#[test]
fn names_must_be_terminated_utf8() {
    assert_eq!(
        error(b"Y\0\0\0\x01public\0mo\xffd\0").to_string(),
        "pgoutput Type message: type name is not UTF-8 at byte 14"
    );
    assert_eq!(
        error(b"O\0\0\0\0\0\0\0\x01upstream").to_string(),
        "pgoutput Origin message: unterminated origin name at byte 9 (no NUL in the 8 \
         bytes left)"
    );
}

#[test]
fn malformed_fields_are_named() {
    assert_eq!(
        error(b"I\0\0\0\x01N\0\x01t\xff\xff\xff\xff").to_string(),
        "pgoutput Insert message: negative column 1 length -1 at byte 9"
    );
    assert_eq!(
        error(b"I\0\0\0\x01N\0\x02nx").to_string(),
        "pgoutput Insert message: unexpected column 2 kind 'x' (0x78) at byte 9 \
         (expected 'n', 'u', 't' or 'b')"
    );
    assert_eq!(
        error(b"R\0\0\0\x01\0t\0x\0\0").to_string(),
        "pgoutput Relation message: unexpected replica identity 'x' (0x78) at byte 8 \
         (expected 'd', 'n', 'f' or 'i')"
    );
    assert_eq!(
        error(b"M\x01\0\0\0\0\0\0\0\x01p\0\xff\xff\xff\xfe").to_string(),
        "pgoutput logical decoding message: negative content length -2 at byte 12"
    );
}
