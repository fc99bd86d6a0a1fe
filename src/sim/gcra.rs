//! A lock-free GCRA (generic cell rate algorithm) limiter: one atomic per limited key.

use std::sync::atomic::{AtomicU64, Ordering};

use tokio::time::Instant;

/// `rate` per second with a burst of about a twentieth of a second's worth.
#[derive(Debug)]
pub(crate) struct Gcra {
    origin: Instant,
    /// Nanoseconds between cells.
    interval: u64,
    /// How far ahead of now the theoretical arrival time may run.
    tolerance: u64,
    /// Theoretical arrival time, ns since `origin`.
    tat: AtomicU64,
}

impl Gcra {
    pub(crate) fn new(rate: u32, origin: Instant) -> Self {
        let interval = 1_000_000_000 / u64::from(rate.max(1));
        let burst = u64::from(rate / 20).max(1);
        Self {
            origin,
            interval,
            tolerance: interval * (burst - 1),
            tat: AtomicU64::new(0),
        }
    }

    /// Whether one more cell conforms now (and takes it if so).
    pub(crate) fn check(&self) -> bool {
        let now = u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let mut tat = self.tat.load(Ordering::Relaxed);
        loop {
            if tat > now + self.tolerance {
                return false;
            }
            let next = tat.max(now) + self.interval;
            match self
                .tat
                .compare_exchange_weak(tat, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(current) => tat = current,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_a_burst() {
        let gcra = Gcra::new(100, Instant::now());
        let passed = (0..1000).filter(|_| gcra.check()).count();
        assert!((1..=6).contains(&passed), "{passed}");
    }
}
