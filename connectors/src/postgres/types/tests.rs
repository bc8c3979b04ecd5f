//! The mapping table, type by type: each schema and value against what Debezium's
//! PostgreSQL connector documents ("Data type mappings", cited per test by table) or
//! its own tests assert (`AbstractRecordsProducerTest`), as Kafka's `JsonConverter`
//! writes them.

use serde_json::{json, Value};
use weir_connect::{ConnectError, ErrorDomain};

use super::*;

fn base(oid: u32, name: &str) -> PgType {
    PgType {
        oid,
        name: name.to_owned(),
        kind: TypeKind::Base,
    }
}

fn array_of(element: PgType) -> PgType {
    PgType {
        oid: 99_999,
        name: format!("_{}", element.name),
        kind: TypeKind::Array {
            element: Box::new(element),
        },
    }
}

fn mapping(ty: &PgType, type_modifier: i32) -> ColumnMapping {
    ColumnMapping::new(ty, type_modifier, &TypeOptions::default())
}

fn with(options: impl FnOnce(&mut TypeOptions)) -> TypeOptions {
    let mut o = TypeOptions::default();
    options(&mut o);
    o
}

/// The schema with `"field": "c", "optional": true` merged in.
fn schema_of(m: &ColumnMapping) -> Value {
    let mut s = m.schema("c", true);
    let map = s.as_object_mut().unwrap();
    assert_eq!(map.remove("field"), Some(json!("c")));
    assert_eq!(map.remove("optional"), Some(json!(true)));
    s
}

/// Checks `value`, and that `write_value` writes the same JSON.
fn values(m: &ColumnMapping, cases: &[(&str, Value)]) {
    for (text, expected) in cases {
        assert_eq!(&m.value(text).unwrap(), expected, "value of {text:?}");
        let mut written = Vec::new();
        m.write_value(text, &mut written).unwrap();
        let written: Value = serde_json::from_slice(&written).unwrap();
        assert_eq!(&written, expected, "written value of {text:?}");
    }
}

fn numeric_typmod(precision: i32, scale: i32) -> i32 {
    ((precision << 16) | (scale & 0x7FF)) + 4
}

#[test]
fn schema_carries_field_and_optional_as_json_converter_writes_them() {
    let date = mapping(&base(oid::DATE, "date"), -1);
    assert_eq!(
        date.schema("born", false),
        json!({"type":"int32","optional":false,"name":"io.debezium.time.Date","version":1,"field":"born"})
    );
}

// Basic types table: BOOLEAN, SMALLINT, INTEGER, BIGINT, OID, REAL, DOUBLE PRECISION.
#[test]
fn integers_booleans_and_floats() {
    let b = mapping(&base(oid::BOOL, "bool"), -1);
    assert_eq!(schema_of(&b), json!({"type":"boolean"}));
    values(&b, &[("t", json!(true)), ("f", json!(false))]);

    let cases = [
        (oid::INT2, "int2", "int16", "-32768"),
        (oid::INT4, "int4", "int32", "2147483647"),
        (oid::INT8, "int8", "int64", "-9223372036854775808"),
        (oid::OID, "oid", "int64", "4294967295"),
    ];
    for (id, name, ty, text) in cases {
        let m = mapping(&base(id, name), -1);
        assert_eq!(schema_of(&m), json!({ "type": ty }));
        assert_eq!(m.value(text).unwrap().to_string(), text);
        let mut written = Vec::new();
        m.write_value(text, &mut written).unwrap();
        assert_eq!(written, text.as_bytes());
    }
    let int2 = mapping(&base(oid::INT2, "int2"), -1);
    assert!(int2.value("32768").is_err());
    assert!(int2.write_value("32768", &mut Vec::new()).is_err());
    assert!(b.write_value("true", &mut Vec::new()).is_err());

    let f4 = mapping(&base(oid::FLOAT4, "float4"), -1);
    assert_eq!(schema_of(&f4), json!({"type":"float32"}));
    assert_eq!(f4.value("3.3").unwrap().to_string(), "3.3");
    let f8 = mapping(&base(oid::FLOAT8, "float8"), -1);
    assert_eq!(schema_of(&f8), json!({"type":"float64"}));
    values(
        &f8,
        &[
            ("4.44", json!(4.44)),
            ("1.7976931348623157e+308", json!(f64::MAX)),
            ("-0", json!(-0.0)),
            // Jackson writes non-finite doubles quoted.
            ("NaN", json!("NaN")),
            ("Infinity", json!("Infinity")),
            ("-Infinity", json!("-Infinity")),
        ],
    );
    assert_eq!(f4.value("NaN").unwrap(), json!("NaN"));
}

// Basic types table: CHAR, VARCHAR, BPCHAR, CITEXT, INET, ranges; network address types.
#[test]
fn text_like_types_pass_their_text_through() {
    let cases = [
        (25, "text", "hello"),
        (1043, "varchar", "hi"),
        (1042, "bpchar", "ab   "),
        (19, "name", "pg_class"),
        (18, "char", "x"),
        (869, "inet", "192.168.0.1/24"),
        (650, "cidr", "10.0.0.0/8"),
        (829, "macaddr", "08:00:2b:01:02:03"),
        (774, "macaddr8", "08:00:2b:01:02:03:04:05"),
        (3904, "int4range", "[1000,6000)"),
        (3908, "tsrange", "[\"2019-03-31 15:30:00\",infinity)"),
        (16_400, "citext", "MiXeD"),
    ];
    for (id, name, text) in cases {
        let m = mapping(&base(id, name), -1);
        assert_eq!(schema_of(&m), json!({"type":"string"}), "{name}");
        values(&m, &[(text, json!(text))]);
    }
    let text = mapping(&base(25, "text"), -1);
    values(
        &text,
        &[(
            "quote \" and \\ and \u{1}",
            json!("quote \" and \\ and \u{1}"),
        )],
    );
}

// Basic types table: JSON/JSONB, XML, UUID, LTREE; TSVECTOR types table.
#[test]
fn named_strings() {
    let cases = [
        (
            oid::JSON,
            "json",
            "io.debezium.data.Json",
            r#"{"bar": "baz"}"#,
        ),
        (
            oid::JSONB,
            "jsonb",
            "io.debezium.data.Json",
            r#"{"bar": "baz"}"#,
        ),
        (oid::XML, "xml", "io.debezium.data.Xml", "<foo>bar</foo>"),
        (
            oid::UUID,
            "uuid",
            "io.debezium.data.Uuid",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        ),
        (
            16_401,
            "ltree",
            "io.debezium.data.Ltree",
            "Top.Science.Astronomy",
        ),
        (
            oid::TSVECTOR,
            "tsvector",
            "io.debezium.data.Tsvector",
            "'direct':6 'insert':8",
        ),
    ];
    for (id, name, schema_name, text) in cases {
        let m = mapping(&base(id, name), -1);
        assert_eq!(
            schema_of(&m),
            json!({"type":"string","name":schema_name,"version":1}),
            "{name}"
        );
        assert_eq!(m.value(text).unwrap(), json!(text));
    }
}

// Basic types table: BIT(1), BIT(>1), BIT VARYING[(M)]; values from
// AbstractRecordsProducerTest.schemaAndValuesForBinTypes.
#[test]
fn bits_are_booleans_or_little_endian_bytes() {
    let bit = |m| mapping(&base(oid::BIT, "bit"), m);
    let varbit = |m| mapping(&base(oid::VARBIT, "varbit"), m);
    assert_eq!(schema_of(&bit(1)), json!({"type":"boolean"}));
    values(&bit(1), &[("0", json!(false)), ("1", json!(true))]);
    assert_eq!(schema_of(&varbit(1)), json!({"type":"boolean"}));
    values(&varbit(1), &[("1", json!(true))]);

    let bits = |length: &str| json!({"type":"bytes","name":"io.debezium.data.Bits","version":1,"parameters":{"length":length}});
    assert_eq!(schema_of(&bit(2)), bits("2"));
    values(&bit(2), &[("11", json!("Aw==")), ("00", json!(""))]);
    values(&bit(7), &[("1000000", json!("QA=="))]);
    values(&bit(24), &[("000000110000001000000001", json!("AQID"))]);
    let long_max_plus_one = format!("1{}", "0".repeat(63));
    values(
        &bit(64),
        &[(long_max_plus_one.as_str(), json!("AAAAAAAAAIA="))],
    );
    // No length: 2^31 - 1 in the parameter, bytes sized by the content.
    assert_eq!(schema_of(&varbit(-1)), bits("2147483647"));
    values(
        &varbit(-1),
        &[
            ("101", json!("BQ==")),
            ("111011010001000110000001000000001", json!("AQIj2gE=")),
        ],
    );
    assert!(bit(2).value("12").is_err());
}

// Basic types table: BYTEA, per binary.handling.mode.
#[test]
fn bytea_follows_binary_handling_mode() {
    let ty = base(oid::BYTEA, "bytea");
    let m = mapping(&ty, -1);
    assert_eq!(schema_of(&m), json!({"type":"bytes"}));
    values(&m, &[("\\x010203", json!("AQID")), ("\\x", json!(""))]);
    let mode = |binary| ColumnMapping::new(&ty, -1, &with(|o| o.binary = binary));
    for (binary, text) in [
        (BinaryHandling::Base64, "+/8="),
        (BinaryHandling::Base64UrlSafe, "-_8="),
        (BinaryHandling::Hex, "fbff"),
    ] {
        let m = mode(binary);
        assert_eq!(schema_of(&m), json!({"type":"string"}));
        assert_eq!(m.value("\\xFBff").unwrap(), json!(text));
    }
    assert!(m.value("\\001").is_err());
    assert!(m.value("\\x0").is_err());
}

// Decimal types, precise: NUMERIC[(M[,D])] → org.apache.kafka.connect.data.Decimal.
#[test]
fn constrained_numeric_is_a_decimal_with_precision() {
    let m = mapping(&base(oid::NUMERIC, "numeric"), numeric_typmod(10, 2));
    assert_eq!(
        m.schema("price", true),
        json!({"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal",
               "version":1,"parameters":{"scale":"2","connect.decimal.precision":"10"},"field":"price"})
    );
    values(
        &m,
        &[
            ("1234.56", json!("AeJA")),
            // Unscaled -100 is one byte, 0x9C, as BigInteger.toByteArray() writes it.
            ("-1.00", json!("nA==")),
            ("0.00", json!("AA==")),
            ("1.5", json!("AJY=")),
        ],
    );
    assert!(m.value("1.234").is_err());
    let nan = m.value("NaN").unwrap_err();
    assert!(nan.to_string().contains("decimal.handling.mode"), "{nan}");
    assert_eq!(ConnectError::from(nan).domain(), ErrorDomain::User);

    // numeric(4) has scale 0; PostgreSQL 15's numeric(5,-2) a negative one.
    let whole = mapping(&base(oid::NUMERIC, "numeric"), numeric_typmod(4, 0));
    assert_eq!(
        schema_of(&whole)["parameters"],
        json!({"scale":"0","connect.decimal.precision":"4"})
    );
    let hundreds = mapping(&base(oid::NUMERIC, "numeric"), numeric_typmod(5, -2));
    assert_eq!(schema_of(&hundreds)["parameters"]["scale"], json!("-2"));
    values(&hundreds, &[("12300", json!("ew=="))]);
}

// Decimal types: NUMERIC without scale constraints → io.debezium.data.VariableScaleDecimal.
#[test]
fn unconstrained_numeric_is_a_variable_scale_struct() {
    let m = mapping(&base(oid::NUMERIC, "numeric"), -1);
    assert_eq!(
        schema_of(&m),
        json!({"type":"struct","fields":[{"type":"int32","optional":false,"field":"scale"},
               {"type":"bytes","optional":false,"field":"value"}],
               "name":"io.debezium.data.VariableScaleDecimal","version":1,"doc":"Variable scaled decimal"})
    );
    values(
        &m,
        &[
            ("1.10", json!({"scale":1,"value":"Cw=="})),
            ("100", json!({"scale":0,"value":"ZA=="})),
            ("100.00", json!({"scale":0,"value":"ZA=="})),
            ("-0.0500", json!({"scale":2,"value":"+w=="})),
            ("0", json!({"scale":0,"value":"AA=="})),
        ],
    );
    assert!(m.value("Infinity").is_err());
}

// Decimal types, double and string modes, with NaN (`Double.NaN` / `NAN`).
#[test]
fn numeric_double_and_string_modes_carry_special_values() {
    let ty = base(oid::NUMERIC, "numeric");
    let double = ColumnMapping::new(&ty, -1, &with(|o| o.decimal = DecimalHandling::Double));
    assert_eq!(schema_of(&double), json!({"type":"float64"}));
    values(
        &double,
        &[
            ("1.10", json!(1.1)),
            ("NaN", json!("NaN")),
            ("-Infinity", json!("-Infinity")),
        ],
    );
    let string = ColumnMapping::new(
        &ty,
        numeric_typmod(10, 2),
        &with(|o| o.decimal = DecimalHandling::String),
    );
    assert_eq!(schema_of(&string), json!({"type":"string"}));
    values(
        &string,
        &[
            ("1.10", json!("1.10")),
            ("-0.50", json!("-0.50")),
            ("NaN", json!("NAN")),
            ("Infinity", json!("POSITIVE_INFINITY")),
            ("-Infinity", json!("NEGATIVE_INFINITY")),
        ],
    );
}

// Decimal types: MONEY, scale from money.fraction.digits; AbstractRecordsProducerTest
// cash values.
#[test]
fn money_is_a_decimal_of_the_configured_scale() {
    let ty = base(oid::MONEY, "money");
    let m = mapping(&ty, -1);
    assert_eq!(
        schema_of(&m),
        json!({"type":"bytes","name":"org.apache.kafka.connect.data.Decimal","version":1,
               "parameters":{"scale":"2"}})
    );
    values(
        &m,
        &[
            ("$1,234.11", json!("AeIT")),
            ("($1,234.11)", json!("/h3t")),
            ("-$1,234.11", json!("/h3t")),
            ("-$1.00", json!("nA==")),
        ],
    );
    let whole = ColumnMapping::new(&ty, -1, &with(|o| o.money_fraction_digits = 0));
    assert_eq!(schema_of(&whole)["parameters"], json!({"scale":"0"}));
    values(
        &whole,
        &[("$1.50", json!("Ag==")), ("-$1.50", json!("/g=="))],
    );
    let double = ColumnMapping::new(&ty, -1, &with(|o| o.decimal = DecimalHandling::Double));
    values(&double, &[("-$1,234.11", json!(-1234.11))]);
    let string = ColumnMapping::new(&ty, -1, &with(|o| o.decimal = DecimalHandling::String));
    values(&string, &[("$1,234.11", json!("1234.11"))]);
    assert!(m.value("N/A").is_err());
}

// Temporal types, adaptive: DATE → io.debezium.time.Date; connect → Kafka's Date.
#[test]
fn dates_are_epoch_days() {
    let m = mapping(&base(oid::DATE, "date"), -1);
    values(
        &m,
        &[
            ("1970-01-01", json!(0)),
            ("1969-12-31", json!(-1)),
            ("2016-11-04", json!(17_109)),
            ("0044-03-15 BC", json!(-735_160)),
            ("5874897-12-31", json!(2_145_042_905)),
            ("infinity", json!(-2_147_472_693)),
            ("-infinity", json!(-2_147_472_692)),
        ],
    );
    let connect = ColumnMapping::new(
        &base(oid::DATE, "date"),
        -1,
        &with(|o| o.time_precision = TimePrecision::Connect),
    );
    assert_eq!(
        schema_of(&connect),
        json!({"type":"int32","name":"org.apache.kafka.connect.data.Date","version":1})
    );
    values(&connect, &[("2016-11-04", json!(17_109))]);
}

// Temporal types: TIME(1-3) → Time, TIME(4-6)/TIME → MicroTime; adaptive_time_microseconds
// → MicroTime; connect → Kafka's Time. Values from schemaAndValuesForDateTimeTypes.
#[test]
fn times_follow_precision_and_mode() {
    let ty = base(oid::TIME, "time");
    let micro = mapping(&ty, -1);
    assert_eq!(
        schema_of(&micro),
        json!({"type":"int64","name":"io.debezium.time.MicroTime","version":1})
    );
    values(
        &micro,
        &[
            ("13:51:30", json!(49_890_000_000_i64)),
            ("13:51:30.123456", json!(49_890_123_456_i64)),
            ("24:00:00", json!(86_400_000_000_i64)),
        ],
    );
    assert_eq!(
        schema_of(&mapping(&ty, 4))["name"],
        json!("io.debezium.time.MicroTime")
    );
    for p in [0, 3] {
        let milli = mapping(&ty, p);
        assert_eq!(
            schema_of(&milli),
            json!({"type":"int32","name":"io.debezium.time.Time","version":1})
        );
    }
    values(
        &mapping(&ty, 3),
        &[
            ("13:51:30.123", json!(49_890_123)),
            ("24:00:00", json!(86_400_000)),
        ],
    );

    let adaptive_micro = ColumnMapping::new(
        &ty,
        3,
        &with(|o| o.time_precision = TimePrecision::AdaptiveTimeMicroseconds),
    );
    assert_eq!(
        schema_of(&adaptive_micro)["name"],
        json!("io.debezium.time.MicroTime")
    );
    values(
        &adaptive_micro,
        &[("13:51:30.123", json!(49_890_123_000_i64))],
    );

    let connect = ColumnMapping::new(&ty, 6, &with(|o| o.time_precision = TimePrecision::Connect));
    assert_eq!(
        schema_of(&connect),
        json!({"type":"int32","name":"org.apache.kafka.connect.data.Time","version":1})
    );
    values(&connect, &[("13:51:30.123999", json!(49_890_123))]);
}

// Temporal types: TIMESTAMP(1-3) → Timestamp, TIMESTAMP(4-6)/TIMESTAMP → MicroTimestamp;
// TIMESTAMP type section (its example value and ±infinity); connect → Kafka's Timestamp.
#[test]
fn timestamps_follow_precision_and_mode() {
    let ty = base(oid::TIMESTAMP, "timestamp");
    let micro = mapping(&ty, -1);
    assert_eq!(
        schema_of(&micro),
        json!({"type":"int64","name":"io.debezium.time.MicroTimestamp","version":1})
    );
    values(
        &micro,
        &[
            (
                "2018-06-20 15:13:16.945104",
                json!(1_529_507_596_945_104_i64),
            ),
            ("1970-01-01 00:00:00", json!(0)),
            ("1969-12-31 23:59:59.999999", json!(-1)),
            (
                "4713-12-31 23:59:59.999999 BC",
                json!(-210_831_897_600_000_001_i64),
            ),
            ("infinity", json!(9_223_372_036_825_200_000_i64)),
            ("-infinity", json!(-9_223_372_036_832_400_000_i64)),
        ],
    );
    let out_of_range = micro.value("294276-12-31 23:59:59.999999").unwrap_err();
    assert_eq!(ConnectError::from(out_of_range).domain(), ErrorDomain::User);

    let milli = mapping(&ty, 3);
    assert_eq!(
        schema_of(&milli),
        json!({"type":"int64","name":"io.debezium.time.Timestamp","version":1})
    );
    values(
        &milli,
        &[
            ("2016-11-04 13:51:30.124", json!(1_478_267_490_124_i64)),
            ("infinity", json!(9_223_372_036_825_200_i64)),
            ("-infinity", json!(-9_223_372_036_832_400_i64)),
        ],
    );
    let connect = ColumnMapping::new(
        &ty,
        -1,
        &with(|o| o.time_precision = TimePrecision::Connect),
    );
    assert_eq!(
        schema_of(&connect),
        json!({"type":"int64","name":"org.apache.kafka.connect.data.Timestamp","version":1})
    );
    // Milliseconds floor, as Instant.toEpochMilli() does.
    values(&connect, &[("1969-12-31 23:59:59.9995", json!(-1))]);
}

// Basic types table: TIMESTAMPTZ → ZonedTimestamp, TIMETZ → ZonedTime, in GMT;
// schemaAndValuesForDateTimeTypes for the fraction widths and infinities.
#[test]
fn zoned_types_are_utc_strings() {
    let ty = base(oid::TIMESTAMPTZ, "timestamptz");
    let m = mapping(&ty, -1);
    assert_eq!(
        schema_of(&m),
        json!({"type":"string","name":"io.debezium.time.ZonedTimestamp","version":1})
    );
    values(
        &m,
        &[
            (
                "2016-11-04 13:51:30.123456+02",
                json!("2016-11-04T11:51:30.123456Z"),
            ),
            (
                "2024-01-02 03:04:05.6+02",
                json!("2024-01-02T01:04:05.600000Z"),
            ),
            (
                "21016-11-04 13:51:30+07",
                json!("+21016-11-04T06:51:30.000000Z"),
            ),
            ("infinity", json!("infinity")),
            ("-infinity", json!("-infinity")),
        ],
    );
    values(
        &mapping(&ty, 0),
        &[("2018-06-20 06:37:03+00", json!("2018-06-20T06:37:03Z"))],
    );
    values(
        &mapping(&ty, 3),
        &[(
            "2018-06-20 06:37:03.1+00",
            json!("2018-06-20T06:37:03.100Z"),
        )],
    );

    let tz = mapping(&base(oid::TIMETZ, "timetz"), -1);
    assert_eq!(
        schema_of(&tz),
        json!({"type":"string","name":"io.debezium.time.ZonedTime","version":1})
    );
    values(
        &tz,
        &[
            ("13:51:30.123789+02", json!("11:51:30.123789Z")),
            ("13:51:30.123+02", json!("11:51:30.123Z")),
            ("06:37:03+00", json!("06:37:03Z")),
        ],
    );
}

// Basic types table: INTERVAL → MicroDuration (365.25 / 12 days a month) or, with
// interval.handling.mode=string, io.debezium.time.Interval.
#[test]
fn intervals_as_micro_durations_or_iso_strings() {
    let ty = base(oid::INTERVAL, "interval");
    let m = mapping(&ty, -1);
    assert_eq!(
        schema_of(&m),
        json!({"type":"int64","name":"io.debezium.time.MicroDuration","version":1})
    );
    values(
        &m,
        &[
            ("P1Y2M3DT4H5M6.78S", json!(37_091_106_780_000_i64)),
            ("PT-1H", json!(-3_600_000_000_i64)),
            ("PT0S", json!(0)),
        ],
    );
    let string = ColumnMapping::new(&ty, -1, &with(|o| o.interval = IntervalHandling::String));
    assert_eq!(
        schema_of(&string),
        json!({"type":"string","name":"io.debezium.time.Interval","version":1})
    );
    values(
        &string,
        &[
            ("P1Y2M3DT4H5M6.78S", json!("P1Y2M3DT4H5M6.78S")),
            ("P-1Y-2M3D", json!("P-1Y-2M3DT0H0M0S")),
        ],
    );
    assert!(m.value("1 year 2 mons").is_err());
}

// Basic types table: ENUM → io.debezium.data.Enum with `allowed` in enumsortorder.
#[test]
fn enums_list_their_labels() {
    let mood = PgType {
        oid: 16_500,
        name: "mood".into(),
        kind: TypeKind::Enum {
            labels: vec!["sad".into(), "ok".into(), "happy".into()],
        },
    };
    let m = mapping(&mood, -1);
    assert_eq!(
        schema_of(&m),
        json!({"type":"string","name":"io.debezium.data.Enum","version":1,
               "parameters":{"allowed":"sad,ok,happy"}})
    );
    values(&m, &[("ok", json!("ok"))]);
}

// Domain types: mapped as the base type, inheriting the domain's length or scale.
#[test]
fn domains_map_as_their_base_with_the_domain_typmod() {
    let price = PgType {
        oid: 16_600,
        name: "price".into(),
        kind: TypeKind::Domain {
            base: Box::new(base(oid::NUMERIC, "numeric")),
            type_modifier: numeric_typmod(10, 2),
        },
    };
    let m = mapping(&price, -1);
    assert_eq!(
        schema_of(&m)["parameters"],
        json!({"scale":"2","connect.decimal.precision":"10"})
    );
    values(&m, &[("-1.00", json!("nA=="))]);
    // A domain over that domain keeps the scale.
    let discount = PgType {
        oid: 16_601,
        name: "discount".into(),
        kind: TypeKind::Domain {
            base: Box::new(price),
            type_modifier: -1,
        },
    };
    let m = mapping(&discount, -1);
    assert_eq!(schema_of(&m)["parameters"]["scale"], json!("2"));
    assert_eq!(
        m.value("x").unwrap_err().to_string(),
        "cannot read 'x' as discount: not a decimal number"
    );
}

// Array types, e.g. schemasAndValuesForArrayTypes: arrays of optional elements.
#[test]
fn arrays_hold_optional_elements() {
    let ints = mapping(&array_of(base(oid::INT4, "int4")), -1);
    assert_eq!(
        schema_of(&ints),
        json!({"type":"array","items":{"type":"int32","optional":true}})
    );
    values(
        &ints,
        &[
            ("{1,2,NULL}", json!([1, 2, null])),
            ("{}", json!([])),
            ("{{1,2},{3,4}}", json!([1, 2, 3, 4])),
            ("[0:1]={1,2}", json!([1, 2])),
        ],
    );
    assert_eq!(
        ints.value("{1,x}").unwrap_err().to_string(),
        "cannot read 'x' as int4: not an integer of that width"
    );

    let texts = mapping(&array_of(base(25, "text")), -1);
    values(
        &texts,
        &[(
            r#"{"a b","c\"d",NULL,"NULL"}"#,
            json!(["a b", "c\"d", null, "NULL"]),
        )],
    );

    let decimals = mapping(
        &array_of(base(oid::NUMERIC, "numeric")),
        numeric_typmod(10, 2),
    );
    assert_eq!(
        schema_of(&decimals)["items"],
        json!({"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal",
               "version":1,"parameters":{"scale":"2","connect.decimal.precision":"10"}})
    );
    values(&decimals, &[("{1.10,-1.00}", json!(["bg==", "nA=="]))]);

    let zoned = mapping(&array_of(base(oid::TIMESTAMPTZ, "timestamptz")), -1);
    values(
        &zoned,
        &[(
            r#"{"2020-04-01 11:51:02+00","2020-04-01 12:51:03+00"}"#,
            json!(["2020-04-01T11:51:02.000000Z", "2020-04-01T12:51:03.000000Z"]),
        )],
    );

    let boxes = mapping(&array_of(base(oid::BOX, "box")), -1);
    values(
        &boxes,
        &[(
            "{(1,1),(0,0);(2,2),(1,1)}",
            json!(["(1,1),(0,0)", "(2,2),(1,1)"]),
        )],
    );
}

#[test]
fn arrays_of_enums_and_domains_use_the_element_mapping() {
    let mood = PgType {
        oid: 16_500,
        name: "mood".into(),
        kind: TypeKind::Enum {
            labels: vec!["sad".into(), "happy".into()],
        },
    };
    let moods = mapping(&array_of(mood), -1);
    assert_eq!(
        schema_of(&moods)["items"],
        json!({"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,
               "parameters":{"allowed":"sad,happy"}})
    );
    values(
        &moods,
        &[("{sad,NULL,happy}", json!(["sad", null, "happy"]))],
    );

    let positive = PgType {
        oid: 16_501,
        name: "positive".into(),
        kind: TypeKind::Domain {
            base: Box::new(base(oid::INT8, "int8")),
            type_modifier: -1,
        },
    };
    let m = mapping(&array_of(positive), -1);
    assert_eq!(
        schema_of(&m)["items"],
        json!({"type":"int64","optional":true})
    );
    values(&m, &[("{1,9223372036854775807}", json!([1, i64::MAX]))]);
    assert_eq!(
        m.value("{1,-}").unwrap_err().to_string(),
        "cannot read '-' as positive: not an integer of that width"
    );
}

// HSTORE type table: json (default) → io.debezium.data.Json, map → MAP.
#[test]
fn hstore_as_json_text_or_map() {
    let ty = base(16_700, "hstore");
    let m = mapping(&ty, -1);
    assert_eq!(
        schema_of(&m),
        json!({"type":"string","name":"io.debezium.data.Json","version":1})
    );
    values(
        &m,
        &[
            (r#""key"=>"val""#, json!(r#"{"key":"val"}"#)),
            (r#""b"=>"1", "a"=>NULL"#, json!(r#"{"b":"1","a":null}"#)),
            ("", json!("{}")),
        ],
    );
    let map = ColumnMapping::new(&ty, -1, &with(|o| o.hstore = HstoreHandling::Map));
    assert_eq!(
        schema_of(&map),
        json!({"type":"map","keys":{"type":"string","optional":false},
               "values":{"type":"string","optional":true}})
    );
    values(
        &map,
        &[(r#""key"=>"val", "n"=>NULL"#, json!({"key":"val","n":null}))],
    );
}

#[test]
fn geometric_and_unknown_types_are_their_text() {
    for (id, name, text) in [
        (600, "point", "(1,1)"),
        (718, "circle", "<(0,0),2>"),
        (3615, "tsquery", "'fat' <-> 'cat'"),
        (
            16_800,
            "geometry",
            "0101000000000000000000F03F000000000000F03F",
        ),
        (16_801, "address", "(\"1 Main St\",Springfield)"),
    ] {
        let m = mapping(&base(id, name), -1);
        assert_eq!(schema_of(&m), json!({"type":"string"}), "{name}");
        assert_eq!(m.value(text).unwrap(), json!(text));
    }
}

#[test]
fn errors_name_the_type_and_a_bounded_text() {
    let m = mapping(&base(oid::INT4, "int4"), -1);
    let err = m.value("abc").unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot read 'abc' as int4: not an integer of that width"
    );
    assert_eq!(ConnectError::from(err).domain(), ErrorDomain::Internal);
    let long = "9".repeat(100);
    let shown = m.value(&long).unwrap_err().to_string();
    assert!(shown.contains(&format!("'{}…'", "9".repeat(64))), "{shown}");
    let n = mapping(&base(oid::NUMERIC, "numeric"), numeric_typmod(10, 2));
    assert!(n
        .value("x")
        .unwrap_err()
        .to_string()
        .contains("numeric(10,2)"));
}

#[test]
fn options_parse_debezium_spellings_trimmed_and_case_insensitive() {
    assert_eq!(
        DecimalHandling::parse("precise"),
        Some(DecimalHandling::Precise)
    );
    assert_eq!(
        DecimalHandling::parse(" DOUBLE "),
        Some(DecimalHandling::Double)
    );
    assert_eq!(
        DecimalHandling::parse("string"),
        Some(DecimalHandling::String)
    );
    assert_eq!(
        TimePrecision::parse("adaptive"),
        Some(TimePrecision::Adaptive)
    );
    assert_eq!(
        TimePrecision::parse("adaptive_time_microseconds"),
        Some(TimePrecision::AdaptiveTimeMicroseconds)
    );
    assert_eq!(
        TimePrecision::parse("connect"),
        Some(TimePrecision::Connect)
    );
    assert_eq!(TimePrecision::parse("nanoseconds"), None);
    assert_eq!(BinaryHandling::parse("bytes"), Some(BinaryHandling::Bytes));
    assert_eq!(
        BinaryHandling::parse("base64"),
        Some(BinaryHandling::Base64)
    );
    assert_eq!(
        BinaryHandling::parse("base64-url-safe"),
        Some(BinaryHandling::Base64UrlSafe)
    );
    assert_eq!(BinaryHandling::parse("hex"), Some(BinaryHandling::Hex));
    assert_eq!(
        IntervalHandling::parse("numeric"),
        Some(IntervalHandling::Numeric)
    );
    assert_eq!(
        IntervalHandling::parse("String"),
        Some(IntervalHandling::String)
    );
    assert_eq!(HstoreHandling::parse("json"), Some(HstoreHandling::Json));
    assert_eq!(HstoreHandling::parse("map"), Some(HstoreHandling::Map));
    assert_eq!(HstoreHandling::parse("jsonb"), None);
    let defaults = TypeOptions::default();
    assert_eq!(defaults.decimal, DecimalHandling::Precise);
    assert_eq!(defaults.time_precision, TimePrecision::Adaptive);
    assert_eq!(defaults.binary, BinaryHandling::Bytes);
    assert_eq!(defaults.interval, IntervalHandling::Numeric);
    assert_eq!(defaults.hstore, HstoreHandling::Json);
    assert_eq!(defaults.money_fraction_digits, 2);
}
