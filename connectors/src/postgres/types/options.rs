//! The connector options that change how PostgreSQL types map, spelled as Debezium
//! spells them.

/// `decimal.handling.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum DecimalHandling {
    #[default]
    Precise,
    Double,
    String,
}

/// `time.precision.mode`. Debezium's `isostring`, `microseconds`, `nanoseconds` and
/// `structured` are not offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum TimePrecision {
    #[default]
    Adaptive,
    AdaptiveTimeMicroseconds,
    Connect,
}

/// `binary.handling.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum BinaryHandling {
    #[default]
    Bytes,
    Base64,
    Base64UrlSafe,
    Hex,
}

/// `interval.handling.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum IntervalHandling {
    #[default]
    Numeric,
    String,
}

/// `hstore.handling.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum HstoreHandling {
    #[default]
    Json,
    Map,
}

/// Debezium reads these options trimmed and case-insensitively.
fn parse_option<T: Copy>(text: &str, options: &[(&str, T)]) -> Option<T> {
    let text = text.trim();
    options
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(text))
        .map(|(_, value)| *value)
}

impl DecimalHandling {
    pub(crate) fn parse(text: &str) -> Option<Self> {
        use DecimalHandling::*;
        parse_option(
            text,
            &[("precise", Precise), ("double", Double), ("string", String)],
        )
    }
}

impl TimePrecision {
    pub(crate) fn parse(text: &str) -> Option<Self> {
        use TimePrecision::*;
        parse_option(
            text,
            &[
                ("adaptive", Adaptive),
                ("adaptive_time_microseconds", AdaptiveTimeMicroseconds),
                ("connect", Connect),
            ],
        )
    }
}

impl BinaryHandling {
    pub(crate) fn parse(text: &str) -> Option<Self> {
        use BinaryHandling::*;
        parse_option(
            text,
            &[
                ("bytes", Bytes),
                ("base64", Base64),
                ("base64-url-safe", Base64UrlSafe),
                ("hex", Hex),
            ],
        )
    }
}

impl IntervalHandling {
    pub(crate) fn parse(text: &str) -> Option<Self> {
        use IntervalHandling::*;
        parse_option(text, &[("numeric", Numeric), ("string", String)])
    }
}

impl HstoreHandling {
    pub(crate) fn parse(text: &str) -> Option<Self> {
        use HstoreHandling::*;
        parse_option(text, &[("json", Json), ("map", Map)])
    }
}

/// The connector options that change how types map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TypeOptions {
    pub(crate) decimal: DecimalHandling,
    pub(crate) time_precision: TimePrecision,
    pub(crate) binary: BinaryHandling,
    pub(crate) interval: IntervalHandling,
    pub(crate) hstore: HstoreHandling,
    /// `money.fraction.digits`: the Decimal scale of `money` in precise mode.
    pub(crate) money_fraction_digits: u8,
}

impl Default for TypeOptions {
    fn default() -> Self {
        TypeOptions {
            decimal: DecimalHandling::default(),
            time_precision: TimePrecision::default(),
            binary: BinaryHandling::default(),
            interval: IntervalHandling::default(),
            hstore: HstoreHandling::default(),
            money_fraction_digits: 2,
        }
    }
}
