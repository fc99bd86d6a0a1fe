//! The carrier side of an SGIP report listener ([`crate::conn::china::sgip_report`]):
//! what the SMG sends back (receipts and MO, already deliver_sm) goes to the gateway
//! through [`super::Events::inbound`], as a bind slot's deliver_sm do. At most
//! [`IN_FLIGHT`] are being kept at once; the listener's bounded channel and each
//! connection's window hold the rest back.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;

use super::pool::Carrier;
use crate::esme::Inbound;
use crate::shutdown::ShutdownSignal;

/// Inbound requests being kept by the gateway at once.
const IN_FLIGHT: usize = 64;
/// How long a stopping carrier waits for what the gateway is keeping.
const KEEP_GRACE: Duration = Duration::from_secs(5);

/// Hands the listener's requests to the gateway until `stop` (or the listener ends).
pub(crate) async fn run(carrier: Arc<Carrier>, mut inbound: Inbound, mut stop: ShutdownSignal) {
    let mut keeping = FuturesUnordered::new();
    loop {
        tokio::select! {
            Some(()) = keeping.next(), if !keeping.is_empty() => {}
            request = inbound.recv(), if keeping.len() < IN_FLIGHT => match request {
                Some(request) => keeping.push(carrier.events.inbound(&carrier.name, request)),
                None => break,
            },
            () = stop.wait() => break,
        }
    }
    let drained = async { while keeping.next().await.is_some() {} };
    if tokio::time::timeout(KEEP_GRACE, drained).await.is_err() {
        tracing::warn!(carrier = %carrier.name, "SGIP reports were not kept within {KEEP_GRACE:?} of the stop");
    }
}
