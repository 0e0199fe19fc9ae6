// SPDX-License-Identifier: GPL-2.0-only
//
// A log-linear histogram of durations (frame times, input-to-frame
// latencies) in a fixed block of memory: recording a value is an index
// computation and an increment, never an allocation. Values below 128 have a
// bucket each; above that, every power of two is split into 64 equal
// buckets, so a bucket is at most 1/64 of its values wide and its midpoint
// is within 0.8 % of any value in it. The range covers ~33.5 s in µs; longer
// values land in the last bucket.
//
// A `Window` keeps one histogram per second and sums the last N of them, so
// the percentiles describe the recent frames rather than the whole session.

/// Linear sub-buckets per power of two, as a power of two.
const SUB_BITS: u32 = 6;
const SUB: usize = 1 << SUB_BITS;
/// The exponent of the largest value with a bucket of its own.
const MAX_EXP: u32 = 24;
/// Buckets: 128 exact ones, then 64 per power of two from 2^7 to 2^MAX_EXP.
pub const BUCKETS: usize = (MAX_EXP as usize - SUB_BITS as usize + 2) * SUB;

fn bucket_of(v: u64) -> usize {
    if v < 2 * SUB as u64 {
        return v as usize;
    }
    let exp = 63 - v.leading_zeros();
    if exp > MAX_EXP {
        return BUCKETS - 1;
    }
    let shift = exp - SUB_BITS;
    (exp - SUB_BITS) as usize * SUB + (v >> shift) as usize
}

/// The smallest and largest value that fall in bucket `idx`.
fn bucket_bounds(idx: usize) -> (u64, u64) {
    if idx < 2 * SUB {
        return (idx as u64, idx as u64);
    }
    let shift = (idx / SUB - 1) as u32;
    let low = ((idx % SUB + SUB) as u64) << shift;
    (low, low + (1u64 << shift) - 1)
}

#[derive(Clone)]
pub struct Histogram {
    counts: Box<[u64; BUCKETS]>,
    n: u64,
    sum: u64,
    min: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("n", &self.n)
            .field("sum", &self.sum)
            .field("min", &self.min)
            .field("max", &self.max)
            .finish()
    }
}

impl Histogram {
    pub fn new() -> Self {
        Histogram {
            counts: Box::new([0; BUCKETS]),
            n: 0,
            sum: 0,
            min: u64::MAX,
            max: 0,
        }
    }

    pub fn record(&mut self, v: u64) {
        self.counts[bucket_of(v)] += 1;
        self.n += 1;
        self.sum = self.sum.saturating_add(v);
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    pub fn clear(&mut self) {
        self.counts.fill(0);
        self.n = 0;
        self.sum = 0;
        self.min = u64::MAX;
        self.max = 0;
    }

    pub fn add(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        self.n += other.n;
        self.sum = self.sum.saturating_add(other.sum);
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// Values recorded.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// Exact sum of the values recorded.
    pub fn sum(&self) -> u64 {
        self.sum
    }

    /// The value that stands for bucket `idx`: its midpoint, kept within
    /// the exact smallest and largest values recorded.
    fn representative(&self, idx: usize) -> u64 {
        let (lo, hi) = bucket_bounds(idx);
        (lo + (hi - lo) / 2).clamp(self.min, self.max)
    }

    /// The `q`-quantile (0 < q ≤ 1) by nearest rank: the smallest recorded
    /// value that at least ⌈q·n⌉ of the values do not exceed, as its
    /// bucket's representative (the largest value is exact). 0 when nothing
    /// was recorded.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.n == 0 {
            return 0;
        }
        let rank = ((q * self.n as f64).ceil() as u64).clamp(1, self.n);
        if rank == self.n {
            return self.max;
        }
        let mut seen = 0;
        for (idx, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return self.representative(idx);
            }
        }
        self.max
    }

    /// The mean of the largest ⌈fraction·n⌉ values (at least one): the
    /// largest exactly, the others as their buckets' representatives. 0.0
    /// when nothing was recorded.
    pub fn mean_of_largest(&self, fraction: f64) -> f64 {
        if self.n == 0 {
            return 0.0;
        }
        let want = ((fraction * self.n as f64).ceil() as u64).clamp(1, self.n);
        // The largest value is known exactly; the rest are representatives.
        let (mut left, mut total) = (want - 1, u128::from(self.max));
        let mut max_taken = false;
        for (idx, &c) in self.counts.iter().enumerate().rev() {
            if left == 0 {
                break;
            }
            let mut c = c;
            if !max_taken && c > 0 {
                max_taken = true;
                c -= 1;
            }
            let take = c.min(left);
            total += u128::from(take) * u128::from(self.representative(idx));
            left -= take;
        }
        total as f64 / want as f64
    }
}

/// The last `slots` histograms, one per `rotate()`, summed on demand.
#[derive(Debug)]
pub struct Window {
    slots: Vec<Histogram>,
    cur: usize,
    merged: Histogram,
}

impl Window {
    pub fn new(slots: usize) -> Self {
        let slots = slots.max(1);
        Window {
            slots: vec![Histogram::new(); slots],
            cur: 0,
            merged: Histogram::new(),
        }
    }

    /// How many slots the window keeps.
    pub fn slots(&self) -> usize {
        self.slots.len()
    }

    pub fn record(&mut self, v: u64) {
        self.slots[self.cur].record(v);
    }

    /// Start a new slot, forgetting the oldest.
    pub fn rotate(&mut self) {
        self.cur = (self.cur + 1) % self.slots.len();
        self.slots[self.cur].clear();
    }

    /// Every value recorded in the window's slots.
    pub fn merged(&mut self) -> &Histogram {
        self.merged.clear();
        for s in &self.slots {
            self.merged.add(s);
        }
        &self.merged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_hold_their_values() {
        let mut expect_low = 0;
        for idx in 0..BUCKETS - 1 {
            let (lo, hi) = bucket_bounds(idx);
            assert_eq!(lo, expect_low, "bucket {idx}");
            assert!(hi >= lo);
            assert_eq!(bucket_of(lo), idx);
            assert_eq!(bucket_of(hi), idx);
            // At most 1/64 of its values wide.
            assert!((hi - lo + 1) * 64 <= lo.max(64), "bucket {idx}: {lo}..{hi}");
            expect_low = hi + 1;
        }
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
        assert_eq!(bucket_of(1 << 40), BUCKETS - 1);
    }

    #[test]
    fn small_values_are_exact() {
        let mut h = Histogram::new();
        for v in 1..=100 {
            h.record(v);
        }
        assert_eq!(h.quantile(0.5), 50);
        assert_eq!(h.quantile(0.95), 95);
        assert_eq!(h.quantile(0.99), 99);
        assert_eq!(h.quantile(0.999), 100);
        assert_eq!(h.quantile(1.0), 100);
        assert_eq!(h.quantile(0.001), 1);
        assert_eq!(h.count(), 100);
        assert_eq!(h.sum(), 5050);
        // The largest 10 %: 91..=100, mean 95.5.
        assert_eq!(h.mean_of_largest(0.10), 95.5);
    }

    #[test]
    fn large_values_are_within_bucket_precision() {
        // 1 ms to 100 ms in 1 ms steps, shuffled by a fixed stride.
        let mut h = Histogram::new();
        for i in 0..100u64 {
            h.record(((i * 37) % 100 + 1) * 1000);
        }
        for (q, exact) in [(0.5, 50_000.0), (0.95, 95_000.0), (0.99, 99_000.0)] {
            let got = h.quantile(q) as f64;
            assert!(
                (got - exact).abs() / exact <= 1.0 / 128.0,
                "q{q}: {got} vs {exact}"
            );
        }
        // The maximum is exact, whatever its bucket.
        assert_eq!(h.quantile(1.0), 100_000);
        assert_eq!(h.quantile(0.999), 100_000);
    }

    #[test]
    fn one_value_is_reported_exactly_at_every_quantile() {
        let mut h = Histogram::new();
        for _ in 0..10 {
            h.record(16_667);
        }
        for q in [0.5, 0.99, 0.999] {
            assert_eq!(h.quantile(q), 16_667);
        }
        assert_eq!(h.mean_of_largest(0.01), 16_667.0);
    }

    #[test]
    fn empty_histogram_reports_zero() {
        let h = Histogram::new();
        assert_eq!(h.quantile(0.5), 0);
        assert_eq!(h.mean_of_largest(0.01), 0.0);
    }

    #[test]
    fn huge_values_clamp_to_the_last_bucket_but_keep_the_max() {
        let mut h = Histogram::new();
        h.record(u64::MAX / 2);
        h.record(10);
        assert_eq!(h.quantile(1.0), u64::MAX / 2);
        assert_eq!(h.quantile(0.5), 10);
    }

    #[test]
    fn window_forgets_slots_older_than_its_length() {
        let mut w = Window::new(3);
        w.record(100);
        w.rotate();
        w.record(200);
        w.rotate();
        w.record(300);
        assert_eq!(w.merged().count(), 3);
        assert_eq!(w.merged().sum(), 600);
        w.rotate();
        // The slot holding 100 is reused.
        assert_eq!(w.merged().count(), 2);
        assert_eq!(w.merged().quantile(0.01), 200);
        w.rotate();
        w.rotate();
        assert_eq!(w.merged().count(), 0);
    }
}
