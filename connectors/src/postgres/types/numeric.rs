//! `numeric` and `money` text as exact decimals, and the encodings Kafka Connect's
//! `Decimal` and Debezium's `VariableScaleDecimal` need: the unscaled value as
//! big-endian two's complement in the fewest bytes (Java's `BigInteger.toByteArray`).
//!
//! No big-integer crate: `numeric` allows 131072 digits before the point, so the
//! unscaled value is kept as its decimal digits and converted to bytes only at the end.

use super::Bad;

/// `unscaled × 10^-scale`, as PostgreSQL wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Decimal {
    negative: bool,
    /// The unscaled magnitude's ASCII digits without leading zeros; empty for zero.
    digits: Vec<u8>,
    scale: i32,
}

/// A `numeric` value: PostgreSQL also stores `NaN` and (since 14) `±Infinity`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Numeric {
    Finite(Decimal),
    NaN,
    Infinity,
    NegInfinity,
}

const MALFORMED: Bad = Bad::Malformed("not a decimal number");

pub(super) fn parse_numeric(text: &str) -> Result<Numeric, Bad> {
    match text {
        "NaN" => Ok(Numeric::NaN),
        "Infinity" => Ok(Numeric::Infinity),
        "-Infinity" => Ok(Numeric::NegInfinity),
        _ => Decimal::parse(text).map(Numeric::Finite),
    }
}

/// `money` text under `lc_monetary` C or an English locale: `$1,234.56`, `-$1.00`,
/// `($1.00)`. As Debezium's `PostgresMoney`: a leading `-` or parentheses make it
/// negative, the currency symbol and the thousands separators go. A locale whose
/// decimal point is `,` cannot be told from one whose separator is `,`, so the
/// session's `lc_monetary` must use `.`.
pub(super) fn parse_money(text: &str) -> Result<Decimal, Bad> {
    let text = text.trim();
    let negative = text.starts_with('-') || text.starts_with('(');
    let body = text.trim_start_matches('-');
    let body = body
        .strip_prefix('(')
        .and_then(|b| b.strip_suffix(')'))
        .unwrap_or(body);
    let body = body.trim_matches(|c: char| !c.is_ascii_digit() && c != '.');
    let plain: String = body.chars().filter(|c| *c != ',').collect();
    let mut value = Decimal::parse(&plain).map_err(|_| Bad::Malformed("not a money amount"))?;
    value.negative = negative && !value.digits.is_empty();
    Ok(value)
}

impl Decimal {
    /// PostgreSQL's plain decimal text: `[+-]digits[.digits]`, never an exponent.
    pub(super) fn parse(text: &str) -> Result<Decimal, Bad> {
        let (negative, body) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if int.len() + frac.len() == 0 || !all_digits(int) || !all_digits(frac) {
            return Err(MALFORMED);
        }
        let scale = i32::try_from(frac.len()).map_err(|_| MALFORMED)?;
        let mut digits: Vec<u8> = int.bytes().chain(frac.bytes()).collect();
        let zeros = digits.iter().take_while(|d| **d == b'0').count();
        digits.drain(..zeros);
        Ok(Decimal {
            negative: negative && !digits.is_empty(),
            digits,
            scale,
        })
    }

    pub(super) fn scale(&self) -> i32 {
        self.scale
    }

    /// The same number at `scale`; `None` if that would drop a non-zero digit (Java's
    /// `setScale` without a rounding mode throws there too).
    pub(super) fn with_scale(&self, scale: i32) -> Option<Decimal> {
        let mut out = self.clone();
        if scale >= self.scale {
            if !out.digits.is_empty() {
                let pad = usize::try_from(i64::from(scale) - i64::from(self.scale)).ok()?;
                out.digits.resize(out.digits.len() + pad, b'0');
            }
        } else {
            let drop = usize::try_from(i64::from(self.scale) - i64::from(scale)).ok()?;
            if drop > out.digits.len() {
                // Every digit goes: only zero survives.
                if !out.digits.is_empty() {
                    return None;
                }
            } else {
                let kept = out.digits.len() - drop;
                if out.digits[kept..].iter().any(|d| *d != b'0') {
                    return None;
                }
                out.digits.truncate(kept);
            }
        }
        out.scale = scale;
        Some(out)
    }

    /// The number rounded to `scale`, half away from zero (Java's `HALF_UP`).
    pub(super) fn round_half_up(&self, scale: i32) -> Decimal {
        if let Some(exact) = self.with_scale(scale) {
            return exact;
        }
        let drop = (i64::from(self.scale) - i64::from(scale)) as usize;
        let mut out = self.clone();
        out.scale = scale;
        if drop > out.digits.len() {
            out.digits.clear();
            out.negative = false;
            return out;
        }
        let kept = out.digits.len() - drop;
        let round_up = out.digits[kept] >= b'5';
        out.digits.truncate(kept);
        if round_up {
            increment(&mut out.digits);
        }
        if out.digits.is_empty() {
            out.negative = false;
        }
        out
    }

    /// Trailing zeros after the point removed, as `VariableScaleDecimal` is built:
    /// Java's `stripTrailingZeros()`, then scale 0 if that went negative.
    pub(super) fn strip_fraction_zeros(&self) -> Decimal {
        let mut out = self.clone();
        if out.digits.is_empty() {
            out.scale = out.scale.min(0);
        }
        while out.scale > 0 && out.digits.last() == Some(&b'0') {
            out.digits.pop();
            out.scale -= 1;
        }
        if out.digits.is_empty() && out.scale > 0 {
            out.scale = 0;
        }
        out
    }

    /// Java's `BigDecimal.toPlainString()`.
    pub(super) fn to_plain_string(&self) -> String {
        let mut out = String::with_capacity(self.digits.len() + 3);
        if self.negative {
            out.push('-');
        }
        let digits = if self.digits.is_empty() {
            "0"
        } else {
            std::str::from_utf8(&self.digits).unwrap_or("0")
        };
        if self.scale <= 0 {
            out.push_str(digits);
            if !self.digits.is_empty() {
                out.extend(std::iter::repeat_n('0', self.scale.unsigned_abs() as usize));
            }
            return out;
        }
        let scale = self.scale as usize;
        if digits.len() > scale {
            let (int, frac) = digits.split_at(digits.len() - scale);
            out.push_str(int);
            out.push('.');
            out.push_str(frac);
        } else {
            out.push_str("0.");
            let zeros = if self.digits.is_empty() {
                scale
            } else {
                scale - digits.len()
            };
            out.extend(std::iter::repeat_n('0', zeros));
            if !self.digits.is_empty() {
                out.push_str(digits);
            }
        }
        out
    }

    /// The nearest `f64`, as Java's `BigDecimal.doubleValue()`.
    pub(super) fn to_f64(&self) -> f64 {
        self.to_plain_string().parse().unwrap_or(f64::NAN)
    }

    /// The unscaled value as Java's `BigInteger.toByteArray()`: big-endian two's
    /// complement with one sign bit at least and no redundant leading byte (zero is one
    /// `0x00` byte).
    pub(super) fn unscaled_twos_complement(&self) -> Vec<u8> {
        let mut bytes = magnitude_be(&self.digits);
        if !self.negative {
            if bytes.first().is_none_or(|b| b & 0x80 != 0) {
                bytes.insert(0, 0);
            }
            return bytes;
        }
        // Negate over the magnitude's width; one more 0xFF byte if the sign bit came
        // out clear (the magnitude used the top bit, as for -129).
        let mut carry = true;
        for byte in bytes.iter_mut().rev() {
            let (sum, overflow) = (!*byte).overflowing_add(u8::from(carry));
            *byte = sum;
            carry = overflow;
        }
        if bytes.first().is_some_and(|b| b & 0x80 == 0) {
            bytes.insert(0, 0xFF);
        }
        bytes
    }
}

/// Adds one to a digit string (`"99"` → `"100"`).
fn increment(digits: &mut Vec<u8>) {
    for d in digits.iter_mut().rev() {
        if *d == b'9' {
            *d = b'0';
        } else {
            *d += 1;
            return;
        }
    }
    digits.insert(0, b'1');
}

/// Decimal digits → big-endian unsigned bytes without leading zeros (empty for zero).
fn magnitude_be(digits: &[u8]) -> Vec<u8> {
    // Little-endian base-2^32 limbs, fed nine digits at a time.
    let mut limbs: Vec<u32> = Vec::with_capacity(digits.len() / 9 + 1);
    for chunk in digits.chunks(9) {
        let mut mul: u64 = 1;
        let mut add: u64 = 0;
        for d in chunk {
            mul *= 10;
            add = add * 10 + u64::from(d - b'0');
        }
        let mut carry = add;
        for limb in limbs.iter_mut() {
            let v = u64::from(*limb) * mul + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            limbs.push(carry as u32);
        }
    }
    let mut bytes: Vec<u8> = limbs.iter().rev().flat_map(|l| l.to_be_bytes()).collect();
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    bytes.drain(..zeros);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(text: &str) -> Decimal {
        Decimal::parse(text).unwrap()
    }

    #[test]
    fn unscaled_bytes_match_java_big_integer() {
        // BigInteger.valueOf(n).toByteArray() for each n.
        let cases: &[(&str, &[u8])] = &[
            ("0", &[0x00]),
            ("1", &[0x01]),
            ("127", &[0x7F]),
            ("128", &[0x00, 0x80]),
            ("255", &[0x00, 0xFF]),
            ("256", &[0x01, 0x00]),
            ("-1", &[0xFF]),
            ("-100", &[0x9C]),
            ("-128", &[0x80]),
            ("-129", &[0xFF, 0x7F]),
            ("-256", &[0xFF, 0x00]),
            ("-32768", &[0x80, 0x00]),
            ("-32769", &[0xFF, 0x7F, 0xFF]),
            ("4294967296", &[0x01, 0x00, 0x00, 0x00, 0x00]),
            (
                "18446744073709551615",
                &[0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
            ),
        ];
        for (text, bytes) in cases {
            assert_eq!(dec(text).unscaled_twos_complement(), *bytes, "{text}");
        }
    }

    #[test]
    fn long_numbers_convert_across_limbs() {
        // 10^30 = 0x0C9F2C9CD04674EDEA40000000
        let v = dec("1000000000000000000000000000000").unscaled_twos_complement();
        assert_eq!(
            v,
            [0x0C, 0x9F, 0x2C, 0x9C, 0xD0, 0x46, 0x74, 0xED, 0xEA, 0x40, 0x00, 0x00, 0x00]
        );
    }

    #[test]
    fn rescaling_pads_or_refuses_to_lose_digits() {
        assert_eq!(dec("1.1").with_scale(3).unwrap().to_plain_string(), "1.100");
        assert_eq!(dec("1.100").with_scale(1).unwrap().to_plain_string(), "1.1");
        assert!(dec("1.15").with_scale(1).is_none());
        assert_eq!(dec("12300").with_scale(-2).unwrap().digits, b"123");
        assert_eq!(dec("0.00").with_scale(-3).unwrap().to_plain_string(), "0");
        assert!(dec("5").with_scale(-3).is_none());
    }

    #[test]
    fn half_up_rounds_away_from_zero() {
        assert_eq!(dec("1.005").round_half_up(2).to_plain_string(), "1.01");
        assert_eq!(dec("-1.005").round_half_up(2).to_plain_string(), "-1.01");
        assert_eq!(dec("9.99").round_half_up(1).to_plain_string(), "10.0");
        assert_eq!(dec("0.004").round_half_up(2).to_plain_string(), "0.00");
        assert_eq!(dec("-0.004").round_half_up(2).to_plain_string(), "0.00");
        assert_eq!(dec("0.5").round_half_up(0).to_plain_string(), "1");
    }

    #[test]
    fn stripping_keeps_integer_zeros() {
        let s = |t: &str| {
            let d = dec(t).strip_fraction_zeros();
            (d.to_plain_string(), d.scale)
        };
        assert_eq!(s("1.10"), ("1.1".into(), 1));
        assert_eq!(s("100"), ("100".into(), 0));
        assert_eq!(s("100.000"), ("100".into(), 0));
        assert_eq!(s("0.000"), ("0".into(), 0));
        assert_eq!(s("-0.0500"), ("-0.05".into(), 2));
    }

    #[test]
    fn plain_strings_match_java() {
        for text in ["0", "0.00", "-1.5", "0.05", "123.456", "-0.001"] {
            assert_eq!(dec(text).to_plain_string(), text);
        }
        assert_eq!(dec("-0.00").to_plain_string(), "0.00");
        assert_eq!(dec("007.50").to_plain_string(), "7.50");
    }

    #[test]
    fn malformed_decimals_are_refused() {
        for text in ["", "-", ".", "1e5", "1.2.3", "abc", " 1", "1,5"] {
            assert!(Decimal::parse(text).is_err(), "{text:?}");
        }
        assert_eq!(dec(".5").to_plain_string(), "0.5");
    }

    #[test]
    fn special_numerics_are_recognised() {
        assert_eq!(parse_numeric("NaN"), Ok(Numeric::NaN));
        assert_eq!(parse_numeric("Infinity"), Ok(Numeric::Infinity));
        assert_eq!(parse_numeric("-Infinity"), Ok(Numeric::NegInfinity));
    }

    #[test]
    fn money_formats_lose_symbol_and_separators() {
        let m = |t: &str| parse_money(t).unwrap().to_plain_string();
        assert_eq!(m("$1,234.56"), "1234.56");
        assert_eq!(m("-$1.00"), "-1.00");
        assert_eq!(m("($1,234.11)"), "-1234.11");
        assert_eq!(m("$0.00"), "0.00");
        assert_eq!(m("-$92,233,720,368,547,758.08"), "-92233720368547758.08");
        assert_eq!(m("1.50 €"), "1.50");
        assert!(parse_money("$").is_err());
        assert!(parse_money("abc").is_err());
    }
}
