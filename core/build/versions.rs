//! Kafka's version-range strings: "0+", "3-5", "7", "none".

/// An inclusive version range; `min > max` is the empty range ("none").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Versions {
    pub(crate) min: i16,
    pub(crate) max: i16,
}

impl Versions {
    pub(crate) const NONE: Versions = Versions { min: 1, max: 0 };

    pub(crate) fn parse(s: &str) -> Result<Versions, String> {
        let s = s.trim();
        let num = |t: &str| {
            t.trim()
                .parse::<i16>()
                .map_err(|e| format!("version {s:?}: {e}"))
        };
        if s == "none" {
            Ok(Self::NONE)
        } else if let Some(min) = s.strip_suffix('+') {
            Ok(Versions {
                min: num(min)?,
                max: i16::MAX,
            })
        } else if let Some((min, max)) = s.split_once('-') {
            Ok(Versions {
                min: num(min)?,
                max: num(max)?,
            })
        } else {
            let v = num(s)?;
            Ok(Versions { min: v, max: v })
        }
    }

    pub(crate) fn is_empty(self) -> bool {
        self.min > self.max
    }

    pub(crate) fn intersect(self, other: Versions) -> Versions {
        Versions {
            min: self.min.max(other.min),
            max: self.max.min(other.max),
        }
    }

    /// A Rust boolean expression over `version` that is true inside `self`, assuming
    /// `version` lies in `within` (the message's valid versions). Returns `None` when
    /// the condition always holds and `Some("false")` when it never does.
    pub(crate) fn condition(self, within: Versions) -> Option<String> {
        let r = self.intersect(within);
        if r.is_empty() {
            return Some("false".to_owned());
        }
        let low = r.min > within.min;
        let high = r.max < within.max;
        match (low, high) {
            (false, false) => None,
            (true, false) => Some(format!("version >= {}", r.min)),
            (false, true) => Some(format!("version <= {}", r.max)),
            (true, true) if r.min == r.max => Some(format!("version == {}", r.min)),
            (true, true) => Some(format!("({}..={}).contains(&version)", r.min, r.max)),
        }
    }

    /// Like [`Versions::condition`] but always an expression ("true" if it always holds).
    pub(crate) fn condition_expr(self, within: Versions) -> String {
        self.condition(within).unwrap_or_else(|| "true".to_owned())
    }
}
