//! Interim `Carriers` (replaced by the carrier branch's pool): one bind per carrier, no
//! rate limit, no retry. Only here so the gateway can be built and tested meanwhile.

use std::sync::Arc;
use std::time::Duration;

use smppgate_protocol::command_status::CommandStatus;
use tokio::sync::mpsc;

use super::{Events, FailReason, Outcome, OutcomeResult, Submission, SubmitError};
use crate::config::Config;
use crate::esme::{EsmeClient, EsmeConfig};
use crate::shutdown::ShutdownSignal;

/// Why the pools could not start.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartError(String);

/// The carriers.
#[derive(Debug)]
pub struct Carriers {
    queue: mpsc::Sender<Submission>,
    _sims: Vec<crate::sim::Sim>,
}

impl Carriers {
    /// Starts.
    ///
    /// # Errors
    /// A sim cannot start.
    pub async fn start(
        config: &Config,
        events: Arc<dyn Events>,
        _shutdown: ShutdownSignal,
    ) -> Result<Self, StartError> {
        let carrier = config.carriers[0].clone();
        let mut sims = Vec::new();
        let address = if carrier.address == "sim" {
            let sim = crate::sim::Sim::start(crate::sim::SimConfig {
                listen: "127.0.0.1:0".into(),
                ..crate::sim::SimConfig::default()
            })
            .await
            .map_err(|e| StartError(e.to_string()))?;
            let a = sim.local_addr().to_string();
            sims.push(sim);
            a
        } else {
            carrier.address.clone()
        };
        let (queue, mut rx) = mpsc::channel::<Submission>(10_000);
        let name: Arc<str> = Arc::from(carrier.name.as_str());
        tokio::spawn(async move {
            let mut config = EsmeConfig::new(&carrier.system_id, &carrier.password);
            config.auto_respond = false;
            let (client, mut inbound) = loop {
                match EsmeClient::connect(&address, config.clone()).await {
                    Ok(c) => break c,
                    Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                }
            };
            let ev = Arc::clone(&events);
            let n = Arc::clone(&name);
            tokio::spawn(async move {
                while let Some(request) = inbound.recv().await {
                    ev.inbound(&n, request);
                }
            });
            while let Some(s) = rx.recv().await {
                let client = client.clone();
                let events = Arc::clone(&events);
                let name = Arc::clone(&name);
                tokio::spawn(async move {
                    let result = match client.submit(s.submit_sm).await {
                        Ok(r) if r.is_ok() => OutcomeResult::Accepted {
                            message_id: r.message_id().cloned().unwrap_or_default(),
                        },
                        Ok(r) => OutcomeResult::Failed {
                            status: r.status(),
                            reason: FailReason::Permanent,
                        },
                        Err(_) => OutcomeResult::Failed {
                            status: CommandStatus::ESME_RSYSERR,
                            reason: FailReason::Exhausted,
                        },
                    };
                    events.outcome(Outcome {
                        id: s.id,
                        part: s.part,
                        carrier: name,
                        result,
                        attempts: 1,
                        failovers: 0,
                    });
                });
            }
        });
        Ok(Self { queue, _sims: sims })
    }

    /// Queues.
    ///
    /// # Errors
    /// Full.
    pub fn submit(&self, submission: Submission) -> Result<(), SubmitError> {
        self.queue.try_send(submission).map_err(|e| match e {
            mpsc::error::TrySendError::Full(s) => SubmitError::QueueFull {
                route: Arc::from("interim"),
                submission: Box::new(s),
            },
            mpsc::error::TrySendError::Closed(_) => SubmitError::Stopping,
        })
    }

    /// Drains.
    pub async fn drain(&self, deadline: Duration) {
        tokio::time::sleep(deadline.min(Duration::from_millis(100))).await;
    }
}
