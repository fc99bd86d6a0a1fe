//! The receipt queue: receipts wait for their delay in submit order (one delay for all, so
//! a FIFO is a timer queue), then go to a receiver session of the submitter's system_id
//! through that session's window.

use std::sync::Arc;

use bytes::Bytes;
use smppgate_protocol::pdu::DeliverSm;
use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;

use super::counters::{Counters, bump};
use crate::conn::RequestError;
use crate::smsc::Registry;

/// A receipt waiting for its time.
#[derive(Debug)]
pub(crate) struct ReceiptJob {
    pub(crate) due: Instant,
    pub(crate) connection_id: u64,
    pub(crate) system_id: Bytes,
    pub(crate) deliver_sm: DeliverSm,
}

/// Receipts being delivered at once, at most (each waits for its session's window).
const IN_FLIGHT: usize = 4096;

pub(crate) async fn run(
    mut jobs: mpsc::Receiver<ReceiptJob>,
    registry: Arc<Registry>,
    counters: Arc<Counters>,
) {
    let in_flight = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some(job) = jobs.recv().await {
        tokio::time::sleep_until(job.due).await;
        let Some(session) = registry.receiver(&job.system_id, Some(job.connection_id)) else {
            tracing::debug!(system_id = ?job.system_id, "no receiver session for a receipt");
            bump(&counters.receipts_dropped);
            continue;
        };
        let Ok(permit) = Arc::clone(&in_flight).acquire_owned().await else {
            return;
        };
        let counters = Arc::clone(&counters);
        tokio::spawn(async move {
            match session.deliver(job.deliver_sm).await {
                Ok(response) => {
                    bump(&counters.receipts_sent);
                    if response.is_ok() {
                        bump(&counters.receipts_acked);
                    }
                }
                Err(RequestError::Closed | RequestError::Refused(_) | RequestError::Encode(_)) => {
                    bump(&counters.receipts_dropped);
                }
                Err(_) => bump(&counters.receipts_sent),
            }
            drop(permit);
        });
    }
}
