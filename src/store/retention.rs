//! Retention: final messages older than the configured period are removed, so the store
//! does not grow without bound.

use std::time::Duration;

use super::{Millis, Store, StoreError};

/// Milliseconds since the Unix epoch now (the system clock; the gateway's stages read
/// their injected [`crate::clock::Clock`]).
#[must_use]
pub fn now_millis() -> Millis {
    crate::clock::system_wall_ms()
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
