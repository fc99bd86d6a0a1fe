//! Backpressure on deliver_sm: a bind hands the next inbound request to
//! `Events::inbound` only once the future returned for the last one has finished.

mod carrier_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use carrier_support::{carrier, config, submission};
use futures::future::BoxFuture;
use smppgate::carrier::{Carriers, Class, Events, Outcome};
use smppgate::conn::InboundRequest;
use smppgate::shutdown::ShutdownSignal;
use smppgate::sim::{Sim, SimConfig};
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::types::RegisteredDelivery;
use tokio::sync::{Notify, Semaphore};

/// Keeps each inbound request only when the test lets it (one permit each).
#[derive(Debug)]
struct Gated {
    gate: Arc<Semaphore>,
    handed: AtomicUsize,
    arrived: Notify,
}

impl Events for Gated {
    fn outcome(&self, _outcome: Outcome) {}

    fn inbound(&self, _carrier: &Arc<str>, request: InboundRequest) -> BoxFuture<'static, ()> {
        self.handed.fetch_add(1, Ordering::SeqCst);
        self.arrived.notify_waiters();
        let gate = Arc::clone(&self.gate);
        Box::pin(async move {
            gate.acquire().await.expect("open").forget();
            request.respond(CommandStatus::ESME_ROK, None).await;
        })
    }
}

impl Gated {
    /// Waits until `n` requests were handed over; false after `limit`.
    async fn handed(&self, n: usize, limit: Duration) -> bool {
        tokio::time::timeout(limit, async {
            loop {
                let arrived = self.arrived.notified();
                if self.handed.load(Ordering::SeqCst) >= n {
                    return;
                }
                arrived.await;
            }
        })
        .await
        .is_ok()
    }
}

#[tokio::test]
async fn the_next_deliver_sm_waits_until_the_last_one_is_kept() {
    let sim = Sim::start(SimConfig {
        listen: "127.0.0.1:0".to_owned(),
        receipt_delay: Duration::from_millis(10),
        ..SimConfig::default()
    })
    .await
    .expect("sim");
    let events = Arc::new(Gated {
        gate: Arc::new(Semaphore::new(0)),
        handed: AtomicUsize::new(0),
        arrived: Notify::new(),
    });
    let pool: Arc<dyn Events> = events.clone();
    let carriers = Carriers::start(
        &config(vec![carrier(
            "one",
            &sim.local_addr().to_string(),
            1_000,
            1,
            16,
        )]),
        pool,
        ShutdownSignal::never(),
    )
    .await
    .expect("start");
    let n = 3;
    for id in 0..n {
        let mut message = submission(id, 0, Class::Notification);
        message.submit_sm.registered_delivery = RegisteredDelivery(1);
        carriers.submit(message).expect("queued");
    }
    assert!(events.handed(1, Duration::from_secs(5)).await, "no receipt");
    // The other receipts follow 10 ms after their submits: without the backpressure
    // they would be handed over well within 300 ms. None is, and none is answered.
    assert!(!events.handed(2, Duration::from_millis(300)).await);
    assert_eq!(sim.counters().receipts_acked.load(Ordering::SeqCst), 0);
    // Each one kept lets exactly the next one in.
    for kept in 1..n {
        events.gate.add_permits(1);
        assert!(
            events
                .handed(kept as usize + 1, Duration::from_secs(5))
                .await
        );
    }
    events.gate.add_permits(1);
    let acked = async {
        while sim.counters().receipts_acked.load(Ordering::SeqCst) < n {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), acked)
        .await
        .expect("every receipt answered");
    assert_eq!(events.handed.load(Ordering::SeqCst), n as usize);
    carriers.drain(Duration::from_secs(5)).await;
}
