//! A fixed-size, lock-free latency histogram with log-linear buckets.
//!
//! Values (microseconds) below 64 get one bucket each; above, each power of two is cut
//! into 32 equal buckets, so a bucket is at most ~3% wide. Recording is three relaxed
//! atomic adds and a max, with no allocation: it runs once per record in librdkafka's
//! delivery callback, which is the hot path of `weir perf produce`.

use std::sync::atomic::{AtomicU64, Ordering};

const SUB_BITS: u32 = 5;
const SUB: u64 = 1 << SUB_BITS; // buckets per power of two
const LINEAR: u64 = 2 * SUB; // values below this have a bucket each
const MAX_EXPONENT: u32 = 40; // ~12 days in microseconds; larger values are clamped
const BUCKETS: usize = (LINEAR + (MAX_EXPONENT - SUB_BITS - 1) as u64 * SUB) as usize;

/// Latency counts, shared between the recording thread and the reporter.
#[derive(Debug)]
pub(super) struct Histogram {
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    sum: AtomicU64,
    max: AtomicU64,
    /// Max since the last [`Histogram::take_window_max`], for progress lines.
    window_max: AtomicU64,
}

/// A point-in-time copy for computing percentiles.
#[derive(Debug, Clone)]
pub(super) struct Snapshot {
    buckets: Vec<u64>,
    pub(super) count: u64,
    pub(super) sum: u64,
    pub(super) max: u64,
}

impl Histogram {
    pub(super) fn new() -> Histogram {
        Histogram {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum: AtomicU64::new(0),
            max: AtomicU64::new(0),
            window_max: AtomicU64::new(0),
        }
    }

    /// Records one value in microseconds.
    pub(super) fn record(&self, micros: u64) {
        self.buckets[index(micros)].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(micros, Ordering::Relaxed);
        self.max.fetch_max(micros, Ordering::Relaxed);
        self.window_max.fetch_max(micros, Ordering::Relaxed);
    }

    /// The max since the previous call, resetting it.
    pub(super) fn take_window_max(&self) -> u64 {
        self.window_max.swap(0, Ordering::Relaxed)
    }

    /// Count and sum so far (cheap; for progress windows).
    pub(super) fn totals(&self) -> (u64, u64) {
        (
            self.count.load(Ordering::Relaxed),
            self.sum.load(Ordering::Relaxed),
        )
    }

    pub(super) fn snapshot(&self) -> Snapshot {
        Snapshot {
            buckets: self
                .buckets
                .iter()
                .map(|b| b.load(Ordering::Relaxed))
                .collect(),
            count: self.count.load(Ordering::Relaxed),
            sum: self.sum.load(Ordering::Relaxed),
            max: self.max.load(Ordering::Relaxed),
        }
    }
}

impl Snapshot {
    /// The value at quantile `q` (0..=1), in microseconds: the midpoint of its bucket,
    /// never above the recorded max.
    pub(super) fn quantile(&self, q: f64) -> u64 {
        let total: u64 = self.buckets.iter().sum();
        if total == 0 {
            return 0;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (i, &n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                let (low, width) = bounds(i);
                return (low + width / 2).min(self.max);
            }
        }
        self.max
    }
}

fn index(value: u64) -> usize {
    if value < LINEAR {
        return value as usize;
    }
    let exponent = (63 - value.leading_zeros()).min(MAX_EXPONENT - 1);
    let value = value.min((1 << MAX_EXPONENT) - 1);
    let shift = exponent - SUB_BITS;
    let mantissa = (value >> shift) - SUB; // 0..SUB
    (LINEAR + u64::from(exponent - SUB_BITS - 1) * SUB + mantissa) as usize
}

/// Lower bound and width of bucket `i`.
fn bounds(i: usize) -> (u64, u64) {
    let i = i as u64;
    if i < LINEAR {
        return (i, 1);
    }
    let exponent = (i - LINEAR) / SUB + u64::from(SUB_BITS) + 1;
    let mantissa = (i - LINEAR) % SUB + SUB;
    let shift = exponent - u64::from(SUB_BITS);
    (mantissa << shift, 1 << shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_falls_inside_its_bucket() {
        let mut v = 0u64;
        while v < (1 << MAX_EXPONENT) {
            let (low, width) = bounds(index(v));
            assert!(
                low <= v && v < low + width,
                "{v} not in [{low}, {})",
                low + width
            );
            v = v * 9 / 8 + 1;
        }
        assert_eq!(index(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn quantiles_are_within_bucket_precision() {
        let h = Histogram::new();
        for v in 1..=10_000 {
            h.record(v);
        }
        let s = h.snapshot();
        let p50 = s.quantile(0.5) as f64;
        let p99 = s.quantile(0.99) as f64;
        assert!((p50 - 5_000.0).abs() / 5_000.0 < 0.04, "p50 {p50}");
        assert!((p99 - 9_900.0).abs() / 9_900.0 < 0.04, "p99 {p99}");
        assert_eq!(s.quantile(1.0), 10_000);
        assert_eq!(s.count, 10_000);
    }
}
