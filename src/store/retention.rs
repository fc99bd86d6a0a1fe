//! Retention: final messages older than the configured period are removed, so the store
//! does not grow without bound.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::shutdown::ShutdownSignal;

use super::{Millis, Store, StoreError};

/// Milliseconds since the Unix epoch now.
#[must_use]
pub fn now_millis() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Removes the final messages accepted more than `retention` before `now`; returns how
/// many.
///
/// # Errors
/// The store's.
pub fn expire_once(
    store: &dyn Store,
    retention: Duration,
    now: Millis,
) -> Result<usize, StoreError> {
    let retention = u64::try_from(retention.as_millis()).unwrap_or(u64::MAX);
    store.expire(now.saturating_sub(retention))
}

/// Every `interval` (first at once), removes final messages older than `retention`, until
/// `shutdown`. Errors are logged and retried at the next interval. The work runs on a
/// blocking thread; its commits interleave with the gateway's.
pub async fn run_retention(
    store: Arc<dyn Store>,
    retention: Duration,
    interval: Duration,
    mut shutdown: ShutdownSignal,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.wait() => return,
            _ = ticker.tick() => {}
        }
        let store = Arc::clone(&store);
        let outcome =
            tokio::task::spawn_blocking(move || expire_once(&*store, retention, now_millis()))
                .await;
        match outcome {
            Ok(Ok(0)) => {}
            Ok(Ok(removed)) => tracing::info!(removed, "retention: expired messages removed"),
            Ok(Err(error)) => tracing::warn!(%error, "retention failed; retrying later"),
            Err(error) => tracing::warn!(%error, "retention task failed"),
        }
    }
}
