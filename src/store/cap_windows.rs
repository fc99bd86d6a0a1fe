//! Frequency-cap counters as the store keeps them, so that a cap whose window is longer
//! than the send log's retention (4 marketing messages in 30 days, records kept 7) still
//! counts after a restart what the log no longer holds.
//!
//! One entry per (account, number): per cap, the send times it counted (at most the
//! cap's `max`, see `policy/caps.rs`), with the cap's definition so that a changed cap
//! starts afresh rather than reading another cap's times. `dead_after` is when every
//! time has left every window: the entry can go then, whatever the configuration says
//! by that time.

use serde::{Deserialize, Serialize};

use super::{Millis, StoreError, keys};

/// The counters of one (account, number).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapWindow {
    /// The upstream account.
    pub account: String,
    /// The number, as the caps key it (E.164 digits as an integer).
    pub number: u64,
    /// After this, nothing in it counts any more. In a removal: remove what was dead by
    /// then.
    pub dead_after: Millis,
    /// Per cap; empty: remove the entry.
    pub caps: Vec<CapTimes>,
}

/// One cap's counted times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapTimes {
    /// Which cap: its classes (bit 0 OTP, 1 notification, 2 marketing), `max`, window
    /// and gap in ms.
    pub cap: CapSignature,
    /// Send times counted, oldest first.
    pub times: Vec<Millis>,
}

/// What identifies a cap across restarts: its definition, not its place in the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CapSignature {
    /// Classes counted, as bits (0 OTP, 1 notification, 2 marketing).
    pub classes: u8,
    /// Most messages in the window.
    pub max: u32,
    /// The window, ms.
    pub per: u64,
    /// The least gap, ms (0: none).
    pub min_gap: u64,
}

/// `cap_windows`: (account, number).
pub(super) fn key(account: &str, number: u64) -> Result<Vec<u8>, StoreError> {
    let mut key = Vec::with_capacity(10 + account.len());
    keys::push_str(&mut key, account)?;
    key.extend_from_slice(&number.to_be_bytes());
    Ok(key)
}
