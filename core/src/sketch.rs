//! TinyLFU's frequency sketch: a count-min sketch of small saturating counters that estimates
//! how often each key was asked for recently, in a few bytes per key whatever the key. Every
//! `10 × width` increments all counters are halved, so old popularity fades (the "reset" of
//! the TinyLFU paper); the sketch grows with the number of keys it must tell apart.

const ROWS: usize = 4;
/// Counters saturate here (4 bits' worth, as in TinyLFU: enough to rank, cheap to age).
const MAX_COUNT: u8 = 15;
const MIN_WIDTH: usize = 64;
/// Beyond this the sketch stops growing (4 rows x 1 MiB): estimates get coarser, not wrong.
const MAX_WIDTH: usize = 1 << 20;

pub(crate) struct FrequencySketch {
    /// `ROWS` rows of `width` counters, one after the other.
    counters: Vec<u8>,
    width: usize,
    additions: usize,
}

impl FrequencySketch {
    pub fn new(keys: usize) -> FrequencySketch {
        let width = keys.clamp(MIN_WIDTH, MAX_WIDTH).next_power_of_two();
        FrequencySketch {
            counters: vec![0; ROWS * width],
            width,
            additions: 0,
        }
    }

    /// Makes room to tell `keys` keys apart; growing forgets what was counted (rare: the
    /// width doubles at least each time).
    pub fn ensure_capacity(&mut self, keys: usize) {
        if keys > self.width && self.width < MAX_WIDTH {
            *self = FrequencySketch::new(keys.saturating_mul(2));
        }
    }

    fn slots(&self, hash: u64) -> [usize; ROWS] {
        let mask = self.width - 1;
        // Four indexes from one 64-bit hash (double hashing), one per row.
        let (a, b) = (hash as usize, (hash >> 32) as usize | 1);
        std::array::from_fn(|row| row * self.width + (a.wrapping_add(row.wrapping_mul(b)) & mask))
    }

    pub fn increment(&mut self, hash: u64) {
        let mut added = false;
        for at in self.slots(hash) {
            if self.counters[at] < MAX_COUNT {
                self.counters[at] += 1;
                added = true;
            }
        }
        if added {
            self.additions += 1;
            if self.additions >= 10 * self.width {
                self.age();
            }
        }
    }

    pub fn frequency(&self, hash: u64) -> u8 {
        self.slots(hash)
            .into_iter()
            .map(|at| self.counters[at])
            .min()
            .unwrap_or(0)
    }

    fn age(&mut self) {
        for counter in &mut self.counters {
            *counter /= 2;
        }
        self.additions /= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_saturate_and_fade() {
        let mut sketch = FrequencySketch::new(64);
        for _ in 0..20 {
            sketch.increment(42);
        }
        sketch.increment(7);
        assert_eq!(sketch.frequency(42), MAX_COUNT);
        assert_eq!(sketch.frequency(7), 1);
        assert_eq!(sketch.frequency(1234), 0);
        sketch.age();
        assert_eq!(
            (sketch.frequency(42), sketch.frequency(7)),
            (MAX_COUNT / 2, 0)
        );
        // Increments alone age it: every `10 x width` of them.
        let mut busy = FrequencySketch::new(64);
        for _ in 0..20 {
            busy.increment(42);
        }
        for key in 1..=10 * 64u64 {
            busy.increment(key.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        }
        assert!(busy.frequency(42) < MAX_COUNT);
    }
}
