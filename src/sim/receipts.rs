//! The receipt queue: each receipt waits for its own (possibly random) delay in a task of
//! its own (at most [`IN_FLIGHT`] at once; beyond that the bounded job channel fills and
//! submits are answered `ESME_RMSGQFUL`), then goes to a receiver session of the
//! submitter's system_id through that session's window.

use std::sync::Arc;

use bytes::Bytes;
use smppgate_protocol::pdu::DeliverSm;
use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;

use super::counters::{Counters, bump};
use super::faults::ReceiptBind;
use crate::conn::RequestError;
use crate::smsc::{Registry, SessionHandle};

/// A receipt waiting for its time.
#[derive(Debug)]
pub(crate) struct ReceiptJob {
    pub(crate) due: Instant,
    pub(crate) connection_id: u64,
    pub(crate) system_id: Bytes,
    pub(crate) deliver_sm: DeliverSm,
}

/// Receipts waiting or being delivered at once, at most.
const IN_FLIGHT: usize = 16_384;

/// The session a receipt goes to.
pub(crate) fn receiver(
    registry: &Registry,
    bind: ReceiptBind,
    system_id: &[u8],
    connection_id: u64,
) -> Option<SessionHandle> {
    match bind {
        ReceiptBind::Any => registry.receiver(system_id, Some(connection_id)),
        ReceiptBind::Same => registry
            .receiver(system_id, Some(connection_id))
            .filter(|h| h.info().connection_id == connection_id),
        ReceiptBind::Other => {
            let others: Vec<SessionHandle> = registry
                .sessions(system_id)
                .into_iter()
                .filter(|h| {
                    h.info().connection_id != connection_id
                        && h.info().can_receive()
                        && !h.link().is_closed()
                })
                .collect();
            if others.is_empty() {
                None
            } else {
                Some(others[fastrand::usize(..others.len())].clone())
            }
        }
    }
}

/// Delivers one receipt now and counts the outcome.
pub(crate) async fn deliver(
    job: ReceiptJob,
    registry: &Registry,
    bind: ReceiptBind,
    counters: &Counters,
) {
    let Some(session) = receiver(registry, bind, &job.system_id, job.connection_id) else {
        tracing::debug!(system_id = ?job.system_id, "no receiver session for a receipt");
        bump(&counters.receipts_dropped);
        return;
    };
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
}

pub(crate) async fn run(
    mut jobs: mpsc::Receiver<ReceiptJob>,
    registry: Arc<Registry>,
    bind: ReceiptBind,
    counters: Arc<Counters>,
) {
    let in_flight = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some(job) = jobs.recv().await {
        let Ok(permit) = Arc::clone(&in_flight).acquire_owned().await else {
            return;
        };
        let counters = Arc::clone(&counters);
        let registry = Arc::clone(&registry);
        tokio::spawn(async move {
            tokio::time::sleep_until(job.due).await;
            deliver(job, &registry, bind, &counters).await;
            drop(permit);
        });
    }
}
