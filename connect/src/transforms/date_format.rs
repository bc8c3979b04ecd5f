//! The part of Java's `SimpleDateFormat` that topic names need, in UTC: `yyyy`, `yy`,
//! `MM`, `dd`, `HH`, `mm`, `ss`, `SSS`, quoted literal text (`'T'`, `''` for a quote)
//! and any other non-letter as itself. A letter outside that set is rejected when the
//! pattern is parsed, so a typo is a config error rather than a wrong topic.

use crate::calendar::civil_from_days;

/// A parsed pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DateFormat {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    /// A field and the number of times its letter was repeated (the zero-padded width;
    /// `yy` alone means the last two digits of the year).
    Field(Field, usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    Millisecond,
}

impl DateFormat {
    pub(super) fn parse(pattern: &str) -> Result<DateFormat, String> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '\'' {
                if chars.get(i + 1) == Some(&'\'') {
                    literal.push('\'');
                    i += 2;
                    continue;
                }
                // Quoted text runs to the next lone quote; `''` inside it is a quote.
                let open = i;
                i += 1;
                loop {
                    match (chars.get(i), chars.get(i + 1)) {
                        (None, _) => {
                            return Err(format!("unterminated quote at position {}", open + 1))
                        }
                        (Some('\''), Some('\'')) => {
                            literal.push('\'');
                            i += 2;
                        }
                        (Some('\''), _) => break,
                        (Some(&c), _) => {
                            literal.push(c);
                            i += 1;
                        }
                    }
                }
                i += 1;
                continue;
            }
            if !c.is_ascii_alphabetic() {
                literal.push(c);
                i += 1;
                continue;
            }
            let field = match c {
                'y' => Field::Year,
                'M' => Field::Month,
                'd' => Field::Day,
                'H' => Field::Hour,
                'm' => Field::Minute,
                's' => Field::Second,
                'S' => Field::Millisecond,
                other => {
                    return Err(format!(
                        "unsupported pattern letter '{other}'; use yyyy, MM, dd, HH, mm, ss, SSS \
                         and quote literal text as 'T'"
                    ))
                }
            };
            let width = chars[i..].iter().take_while(|&&l| l == c).count();
            if !literal.is_empty() {
                parts.push(Part::Literal(std::mem::take(&mut literal)));
            }
            parts.push(Part::Field(field, width));
            i += width;
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(DateFormat { parts })
    }

    /// Formats `millis` since the epoch, in UTC.
    pub(super) fn format(&self, millis: i64) -> String {
        let days = millis.div_euclid(86_400_000);
        let of_day = millis.rem_euclid(86_400_000);
        let (year, month, day) = civil_from_days(days);
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Field(Field::Year, 2) => {
                    out.push_str(&format!("{:02}", year.rem_euclid(100)));
                }
                Part::Field(field, width) => {
                    let n = match field {
                        Field::Year => year,
                        Field::Month => i64::from(month),
                        Field::Day => i64::from(day),
                        Field::Hour => of_day / 3_600_000,
                        Field::Minute => of_day / 60_000 % 60,
                        Field::Second => of_day / 1000 % 60,
                        Field::Millisecond => of_day % 1000,
                    };
                    out.push_str(&format!("{n:0width$}"));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format(pattern: &str, millis: i64) -> String {
        DateFormat::parse(pattern).unwrap().format(millis)
    }

    #[test]
    fn formats_like_simple_date_format_in_utc() {
        // 2024-02-29T13:05:09.007Z
        let millis = 1_709_211_909_007;
        assert_eq!(format("yyyyMMdd", millis), "20240229");
        assert_eq!(
            format("yyyy-MM-dd'T'HH:mm:ss.SSS", millis),
            "2024-02-29T13:05:09.007"
        );
        assert_eq!(format("yy.M.d H", millis), "24.2.29 13");
        assert_eq!(format("'week''s' yyyy", millis), "week's 2024");
        assert_eq!(format("yyyyMMdd", 0), "19700101");
        assert_eq!(format("yyyy-MM-dd HH", -1), "1969-12-31 23");
    }

    #[test]
    fn rejects_letters_it_does_not_format() {
        let err = DateFormat::parse("yyyy-ww").unwrap_err();
        assert!(err.starts_with("unsupported pattern letter 'w'"), "{err}");
        assert!(DateFormat::parse("'open").is_err());
    }
}
