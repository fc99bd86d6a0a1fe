//! Latency over time: one small histogram per time slot, for the report's "latency
//! percentiles over time" chart.
//!
//! Bounded whatever the run's length: slots start one second wide and there are at most
//! [`MAX_SLOTS`]; a run that outgrows them doubles the slot width and merges neighbours.
//! Each slot's histogram keeps two significant figures (1 % precision, a few KiB), enough
//! for a chart; the run's totals keep the full-precision histograms of `engine`.

use std::time::Duration;

use hdrhistogram::Histogram;

/// Most slots kept (a 10-minute run stays at one-second slots).
pub const MAX_SLOTS: usize = 600;

/// Latencies by slot of the run.
#[derive(Debug, Clone)]
pub struct Timeline {
    slot: Duration,
    slots: Vec<Histogram<u32>>,
}

impl Default for Timeline {
    fn default() -> Self {
        Self::new()
    }
}

fn slot_histogram() -> Histogram<u32> {
    // 1 µs .. 1 h, 2 significant figures.
    Histogram::new_with_bounds(1, 3_600_000_000, 2).expect("valid histogram bounds")
}

impl Timeline {
    /// Empty, with one-second slots.
    #[must_use]
    pub fn new() -> Self {
        Self {
            slot: Duration::from_secs(1),
            slots: Vec::new(),
        }
    }

    /// The width of a slot.
    #[must_use]
    pub fn slot(&self) -> Duration {
        self.slot
    }

    /// The slots, oldest first (empty slots have no values).
    #[must_use]
    pub fn slots(&self) -> &[Histogram<u32>] {
        &self.slots
    }

    /// Records `latency` for a response that came `at` after the run's start.
    pub fn record(&mut self, at: Duration, latency: Duration) {
        let index = self.index(at);
        let micros = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        self.slots[index].saturating_record(micros);
    }

    /// Adds `other` (another sender's timeline of the same run).
    pub fn merge(&mut self, other: &Self) {
        while self.slot < other.slot {
            self.coarsen();
        }
        for (i, histogram) in other.slots.iter().enumerate() {
            if histogram.is_empty() {
                continue;
            }
            let index = self.index(other.slot * u32::try_from(i).unwrap_or(u32::MAX));
            // Same bounds and precision: `add` cannot fail.
            let _ = self.slots[index].add(histogram);
        }
    }

    /// The slot for `at`, growing (and coarsening) the slots as needed.
    fn index(&mut self, at: Duration) -> usize {
        loop {
            let index = usize::try_from(at.as_nanos() / self.slot.as_nanos()).unwrap_or(usize::MAX);
            if index < MAX_SLOTS {
                if self.slots.len() <= index {
                    self.slots.resize_with(index + 1, slot_histogram);
                }
                return index;
            }
            self.coarsen();
        }
    }

    /// Doubles the slot width, merging neighbours.
    fn coarsen(&mut self) {
        let old = std::mem::take(&mut self.slots);
        self.slots = old
            .chunks(2)
            .map(|pair| {
                let mut merged = pair[0].clone();
                if let Some(second) = pair.get(1) {
                    let _ = merged.add(second);
                }
                merged
            })
            .collect();
        self.slot *= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_second_slots_hold_their_latencies() {
        let mut timeline = Timeline::new();
        timeline.record(Duration::from_millis(100), Duration::from_millis(2));
        timeline.record(Duration::from_millis(2_500), Duration::from_millis(40));
        assert_eq!(timeline.slot(), Duration::from_secs(1));
        assert_eq!(timeline.slots().len(), 3);
        assert_eq!(timeline.slots()[0].len(), 1);
        assert!(timeline.slots()[1].is_empty());
        let p50 = timeline.slots()[2].value_at_quantile(0.5);
        assert!((39_600..=40_400).contains(&p50), "{p50}");
    }

    #[test]
    fn a_long_run_coarsens_instead_of_growing() {
        let mut timeline = Timeline::new();
        for second in 0..(3 * MAX_SLOTS as u64) {
            timeline.record(Duration::from_secs(second), Duration::from_millis(1));
        }
        assert!(timeline.slots().len() <= MAX_SLOTS);
        assert_eq!(timeline.slot(), Duration::from_secs(4));
        let total: u64 = timeline.slots().iter().map(Histogram::len).sum();
        assert_eq!(total, 3 * MAX_SLOTS as u64, "nothing lost when merging");
    }

    #[test]
    fn merging_aligns_slot_widths() {
        let mut short = Timeline::new();
        short.record(Duration::from_secs(3), Duration::from_millis(1));
        let mut long = Timeline::new();
        for second in 0..(MAX_SLOTS as u64 + 10) {
            long.record(Duration::from_secs(second), Duration::from_millis(1));
        }
        short.merge(&long);
        assert_eq!(short.slot(), Duration::from_secs(2));
        assert_eq!(short.slots()[1].len(), 3, "second 3 plus seconds 2 and 3");
        let total: u64 = short.slots().iter().map(Histogram::len).sum();
        assert_eq!(total, MAX_SLOTS as u64 + 11);
    }
}
