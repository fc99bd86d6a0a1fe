//! Time handed to the gateway's stages: a monotonic instant (tokio's, so
//! `tokio::time::pause` and `advance` move it in tests) and a wall clock in milliseconds
//! since the epoch that moves with it.
//!
//! [`Clock::system`] reads the system wall clock; [`Clock::starting_at`] starts the wall
//! clock at a chosen time and lets it advance with tokio's clock, so a test can put the
//! gateway at 21:59 on a given day and step through hours with `tokio::time::advance`.
//!
//! For tests of a whole `serve` process (which cannot share a paused tokio clock),
//! [`TestClock`]: the system clock plus an offset read from a file named by
//! `SMPPGATE_TEST_CLOCK` — a fixed start that moves with real time, and jumps when the
//! test rewrites the file. Test-only: `serve` logs a warning when it is set.

use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use smppgate_protocol::receipt::ReceiptDate;
use tokio::time::Instant;

/// Milliseconds since the Unix epoch.
pub type WallMillis = u64;

/// The stages' clock. Cheap to clone.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// `None`: the system clock; `Some((wall, at))`: `wall` at tokio instant `at`.
    fixed: Option<(WallMillis, Instant)>,
    /// A test's offset to the system clock (ms), which it may change at any time.
    offset: Option<&'static AtomicI64>,
}

impl Default for Clock {
    fn default() -> Self {
        Self::system()
    }
}

impl Clock {
    /// The system clock.
    #[must_use]
    pub const fn system() -> Self {
        Self {
            fixed: None,
            offset: None,
        }
    }

    /// The system clock plus `offset` ms, read at every call (a [`TestClock`]'s).
    #[must_use]
    pub const fn offset_by(offset: &'static AtomicI64) -> Self {
        Self {
            fixed: None,
            offset: Some(offset),
        }
    }

    /// How long a stage may sleep before it looks at the wall clock again, at most: a
    /// test clock may jump, and a wait computed from an earlier reading (a deferral until
    /// 08:00) must notice. `wait` itself otherwise.
    #[must_use]
    pub fn recheck(&self, wait: Duration) -> Duration {
        if self.offset.is_some() {
            wait.min(TEST_CLOCK_POLL)
        } else {
            wait
        }
    }

    /// A wall clock reading `wall_ms` now and advancing with tokio's clock (which a test
    /// may pause and advance). Must be called inside a tokio runtime.
    #[must_use]
    pub fn starting_at(wall_ms: WallMillis) -> Self {
        Self {
            fixed: Some((wall_ms, Instant::now())),
            offset: None,
        }
    }

    /// Monotonic now.
    #[must_use]
    pub fn now(&self) -> Instant {
        Instant::now()
    }

    /// Wall-clock milliseconds since the epoch.
    #[must_use]
    pub fn wall_ms(&self) -> WallMillis {
        match self.fixed {
            None => match self.offset {
                None => system_wall_ms(),
                Some(offset) => {
                    system_wall_ms().saturating_add_signed(offset.load(Ordering::Relaxed))
                }
            },
            Some((wall, at)) => {
                let elapsed = Instant::now().saturating_duration_since(at);
                wall.saturating_add(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
            }
        }
    }

    /// The wall clock as a UTC date (receipt dates).
    #[must_use]
    pub fn utc_date(&self) -> ReceiptDate {
        utc_date(self.wall_ms() / 1000)
    }
}

/// How often a [`TestClock`] reads its file (and the longest a stage sleeps under it).
const TEST_CLOCK_POLL: Duration = Duration::from_millis(100);

/// The environment variable naming a [`TestClock`]'s file.
pub const TEST_CLOCK_ENV: &str = "SMPPGATE_TEST_CLOCK";

/// A clock for end-to-end tests of `serve`: its file holds the offset to the system clock
/// in milliseconds (an integer, may be negative); a test writes `wanted - now` to start
/// the gateway at a chosen time, and writes it again to jump. Never for production: the
/// file is read every 100 ms by [`TestClock::follow`].
#[derive(Debug)]
pub struct TestClock {
    path: PathBuf,
    offset: &'static AtomicI64,
}

impl TestClock {
    /// The test clock of `SMPPGATE_TEST_CLOCK`, when set, with the file's offset read
    /// now.
    ///
    /// # Errors
    /// The file cannot be read or does not hold an integer.
    pub fn from_env() -> Result<Option<Self>, String> {
        let Some(path) = std::env::var_os(TEST_CLOCK_ENV) else {
            return Ok(None);
        };
        let path = PathBuf::from(path);
        let offset = read_offset(&path)?;
        // One per process, for its life: leaked so that `Clock` stays `Copy`.
        let offset: &'static AtomicI64 = Box::leak(Box::new(AtomicI64::new(offset)));
        Ok(Some(Self { path, offset }))
    }

    /// The gateway's clock.
    #[must_use]
    pub const fn clock(&self) -> Clock {
        Clock::offset_by(self.offset)
    }

    /// Reads the file again every 100 ms until the process ends (a file that cannot be
    /// read keeps the last offset).
    pub async fn follow(self) {
        loop {
            tokio::time::sleep(TEST_CLOCK_POLL).await;
            let path = self.path.clone();
            if let Ok(Ok(offset)) = tokio::task::spawn_blocking(move || read_offset(&path)).await {
                self.offset.store(offset, Ordering::Relaxed);
            }
        }
    }
}

fn read_offset(path: &std::path::Path) -> Result<i64, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{TEST_CLOCK_ENV}: reading {}: {e}", path.display()))?;
    text.trim().parse().map_err(|e| {
        format!(
            "{TEST_CLOCK_ENV}: {} holds {:?}, not an offset in ms: {e}",
            path.display(),
            text.trim()
        )
    })
}

/// The system wall clock in milliseconds since the epoch.
#[must_use]
pub fn system_wall_ms() -> WallMillis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The UTC date of `unix_seconds` (Howard Hinnant's `civil_from_days`).
#[must_use]
pub fn utc_date(unix_seconds: u64) -> ReceiptDate {
    let days = i64::try_from(unix_seconds / 86_400).unwrap_or(0);
    let secs = unix_seconds % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // All values are in range by construction.
    ReceiptDate {
        year: u16::try_from(year).unwrap_or(2000),
        month: u8::try_from(month).unwrap_or(1),
        day: u8::try_from(day).unwrap_or(1),
        hour: u8::try_from(secs / 3600).unwrap_or(0),
        minute: u8::try_from(secs % 3600 / 60).unwrap_or(0),
        second: u8::try_from(secs % 60).unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_fixed_clock_moves_with_tokio_time() {
        let clock = Clock::starting_at(1_000_000);
        assert_eq!(clock.wall_ms(), 1_000_000);
        tokio::time::advance(std::time::Duration::from_secs(3600)).await;
        assert_eq!(clock.wall_ms(), 1_000_000 + 3_600_000);
    }

    #[test]
    fn dates() {
        let d = utc_date(1_367_742_360); // 2013-05-05 08:26:00
        assert_eq!(
            (d.year, d.month, d.day, d.hour, d.minute),
            (2013, 5, 5, 8, 26)
        );
    }
}
