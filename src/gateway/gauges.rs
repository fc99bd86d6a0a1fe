//! Once a second: the gateway's counters to `/metrics` (the same values the exit JSON
//! reads), and per-account gauges: binds open and TPS in use (submits that passed the
//! account's rate check in the last second), beside the counters the hot path records.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::accounts::Accounts;
use super::backlog::Backlog;

pub(crate) async fn run(
    accounts: Arc<Accounts>,
    backlog: Arc<Backlog>,
    stats: Arc<super::stats::Stats>,
    cancel: CancellationToken,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut last: HashMap<Arc<str>, u64> = HashMap::new();
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        stats.publish();
        #[allow(clippy::cast_precision_loss)] // counts far below 2^52
        metrics::gauge!("smppgate_backlog_messages").set(backlog.total() as f64);
        for account in accounts.iter() {
            let name = account.name.to_string();
            let submits = account.submits.load(Ordering::Relaxed);
            let previous = last
                .insert(Arc::clone(&account.name), submits)
                .unwrap_or(submits);
            #[allow(clippy::cast_precision_loss)] // counts far below 2^52
            let tps = submits.saturating_sub(previous) as f64;
            #[allow(clippy::cast_precision_loss)]
            let binds = account.binds.load(Ordering::Relaxed) as f64;
            metrics::gauge!("smppgate_account_submits_per_second", "account" => name.clone())
                .set(tps);
            #[allow(clippy::cast_precision_loss)]
            let pending = backlog.pending(&account.name) as f64;
            metrics::gauge!("smppgate_account_backlog_messages", "account" => name.clone())
                .set(pending);
            metrics::gauge!("smppgate_account_binds", "account" => name).set(binds);
        }
    }
}
